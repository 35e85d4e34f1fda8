#include "kernel/ipc/timed_answer.h"
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

// Earliest deadline first; equal deadlines in the order they were armed.
constinit IntrusiveList<Deadline, Deadline> g_pending CAPOS_GUARDED_BY(g_kernel_lock);
Thread* g_thread = nullptr;
uint64_t g_thread_deadline = no_deadline; // what the thread sleeps until

} // namespace

void Deadline::arm(uint64_t deadline_us) {
    m_deadline_us = deadline_us;
    g_pending.insert_sorted(*this, [](const Deadline& a, const Deadline& b) {
        return a.m_deadline_us < b.m_deadline_us;
    });
    // The thread sleeps until the earliest deadline it knew of: wake it to
    // look again when this one falls earlier.
    if (g_thread && deadline_us < g_thread_deadline)
        Scheduler::wake(g_thread);
}

void Deadline::disarm() {
    if (g_pending.contains(*this))
        g_pending.remove(*this);
}

bool Deadline::armed() const {
    return g_pending.contains(*this);
}

void Deadline::run(void*) {
    g_kernel_lock.assert_held(); // a kernel thread: it has the CPU's lock whenever it runs
    for (;;) {
        while (Deadline* first = g_pending.front()) {
            if (first->m_deadline_us > uptime_microseconds())
                break;
            g_pending.remove(*first);
            first->expire();
            Scheduler::preemption_point();
        }
        Deadline* first = g_pending.front();
        g_thread_deadline = first ? first->m_deadline_us : no_deadline;
        Scheduler::block(g_thread_deadline);
        g_thread_deadline = no_deadline;
    }
}

void Deadline::start() {
    auto thread = Thread::create(nullptr, run, nullptr);
    if (thread.is_error())
        panic("deadlines: no memory for the thread");
    g_thread = thread.value().get();
    Scheduler::make_ready(thread.release_value());
}

TimedAnswer::Slot::~Slot() {
    if (m_answer)
        TimedAnswer::destroy(m_answer);
}

Result<TimedAnswer::Slot, abi::TransportError> TimedAnswer::allocate() {
    auto created = heap_create<TimedAnswer>();
    if (created.is_error())
        return Err{abi::TransportError::NoMemory};
    return Slot(created.value());
}

void TimedAnswer::destroy(TimedAnswer* answer) {
    heap_destroy(answer);
}

void TimedAnswer::post_at(Slot slot, uint64_t deadline_us, PendingReply reply,
                          abi::CallStatus status, std::span<const capnp::Word> message) {
    VERIFY(message.size() <= max_message_words && reply);
    TimedAnswer* answer = std::exchange(slot.m_answer, nullptr);
    answer->m_reply = std::move(reply);
    answer->m_status = status;
    answer->m_message_words = uint32_t(message.size());
    __builtin_memcpy(answer->m_message, message.data(), message.size_bytes());
    answer->arm(deadline_us);
}

void TimedAnswer::expire() {
    g_kernel_lock.assert_held(); // see Deadline::expire
    m_reply.complete_with_message(m_status, std::span(m_message, m_message_words));
    destroy(this);
}

void TimedAnswer::cancel_all_of(const Thread& thread) {
    while (Deadline* answer =
               g_pending.find_if([&](const Deadline& d) { return d.owed_to() == &thread; })) {
        g_pending.remove(*answer);
        auto* timed = static_cast<TimedAnswer*>(answer); // only they are owed to a thread
        timed->m_reply.reset();
        destroy(timed);
    }
}

} // namespace capos::kernel
