#include "user/rt/sync.h"
#include "abi/ring.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

namespace capos::rt {

namespace {

// The "park" capability's id, looked up once (0: none; UINT32_MAX: not yet).
uint32_t park_space() {
    static uint32_t id = UINT32_MAX;
    uint32_t known = __atomic_load_n(&id, __ATOMIC_RELAXED);
    if (known == UINT32_MAX) {
        auto found = find_capability("park");
        known = found.is_ok() && found.value().interface_id == schema::ParkSpace::interface_id
                    ? found.value().id.raw
                    : 0;
        __atomic_store_n(&id, known, __ATOMIC_RELAXED);
    }
    return known;
}

abi::Cqe run(abi::Opcode opcode, const uint32_t* word, uint32_t value, uint64_t timeout_ns) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(opcode);
    sqe.cap = park_space();
    sqe.params_addr = reinterpret_cast<uint64_t>(word);
    sqe.params_len = value;
    sqe.result_addr = timeout_ns;
    return ring().run(sqe);
}

} // namespace

ParkOutcome park(const uint32_t* word, uint32_t expected, uint64_t timeout_ns) {
    if (park_space() == 0)
        return ParkOutcome::Failed;
    abi::Cqe cqe = run(abi::Opcode::Park, word, expected, timeout_ns);
    switch (cqe.result) {
    case int32_t(abi::ParkResult::Woken):
        return ParkOutcome::Woken;
    case int32_t(abi::ParkResult::NotExpected):
        return ParkOutcome::NotExpected;
    case int32_t(abi::ParkResult::TimedOut):
        return ParkOutcome::TimedOut;
    }
    return ParkOutcome::Failed;
}

int32_t unpark(const uint32_t* word, uint32_t count) {
    if (park_space() == 0)
        return -1;
    abi::Cqe cqe = run(abi::Opcode::Unpark, word, count, 0);
    return cqe.result >= 0 ? cqe.result : -1;
}

bool Mutex::try_lock() {
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(&m_state, &expected, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

void Mutex::lock() {
    uint32_t state = 0;
    if (__atomic_compare_exchange_n(&m_state, &state, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    // Held: say that someone waits, and sleep while it stays so. Whoever
    // unlocks a mutex in state 2 unparks one sleeper.
    if (state != 2)
        state = __atomic_exchange_n(&m_state, 2, __ATOMIC_ACQUIRE);
    while (state != 0) {
        if (park(&m_state, 2) == ParkOutcome::Failed)
            __builtin_ia32_pause();
        state = __atomic_exchange_n(&m_state, 2, __ATOMIC_ACQUIRE);
    }
}

void Mutex::unlock() {
    if (__atomic_exchange_n(&m_state, 0, __ATOMIC_RELEASE) == 2)
        (void)unpark(&m_state, 1);
}

void CondVar::wait(Mutex& mutex) {
    uint32_t sequence = __atomic_load_n(&m_sequence, __ATOMIC_ACQUIRE);
    mutex.unlock();
    (void)park(&m_sequence, sequence);
    mutex.lock();
}

void CondVar::notify_one() {
    __atomic_fetch_add(&m_sequence, 1, __ATOMIC_RELEASE);
    (void)unpark(&m_sequence, 1);
}

void CondVar::notify_all() {
    __atomic_fetch_add(&m_sequence, 1, __ATOMIC_RELEASE);
    (void)unpark(&m_sequence, UINT32_MAX);
}

} // namespace capos::rt
