// Server for ring_bench's endpoint round trips. Granted its endpoint as "echo",
// it serves Echo through the runtime (rt::Server and the generated dispatch);
// granted it as "echo-raw", it answers every call with an empty struct straight
// from the ring: Recv, then Return of a message encoded once, each in its own
// cap_enter as rt::Server does, without Cap'n Proto or the runtime's
// bookkeeping. Either way it runs until its last client is gone (Recv reports
// Disconnected), then exits 0.
#include "abi/ring.h"
#include "abi/syscall.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/rt/syscall.h"

namespace {

using capos::abi::Cqe;
using capos::abi::Opcode;
using capos::abi::Sqe;

struct EchoHandler {
    capos::Result<void, capos::gen::Exception>
    echo(capos::schema::Echo::EchoParams::Reader params,
         capos::schema::Echo::EchoResults::Builder results) {
        results.set_text(params.text());
        return {};
    }
};

// One SQE, one cap_enter, its completion (the only one outstanding).
bool run(const Sqe& sqe, Cqe& out) {
    capos::abi::RingPage& page = *capos::rt::ring().page();
    uint32_t tail = page.header.sq_tail;
    page.sqes[tail % capos::abi::ring_sq_entries] = sqe;
    __atomic_store_n(&page.header.sq_tail, tail + 1, __ATOMIC_RELEASE);
    if (capos::rt::cap_enter(1, capos::abi::no_timeout) < 0)
        return false;
    uint32_t head = page.header.cq_head;
    if (head == __atomic_load_n(&page.header.cq_tail, __ATOMIC_ACQUIRE))
        return false;
    out = page.cqes[head % capos::abi::ring_cq_entries];
    __atomic_store_n(&page.header.cq_head, head + 1, __ATOMIC_RELEASE);
    return true;
}

int serve_raw(uint32_t owner) {
    // An empty struct: a root pointer with no data and no pointers.
    alignas(8) static capos::capnp::Word reply[1];
    capos::capnp::MessageBuilder builder(reply);
    (void)builder.init_root(0, 0);
    std::span<const capos::capnp::Word> message = builder.words();
    alignas(8) static capos::capnp::Word received[64];

    Sqe recv{};
    recv.opcode = uint8_t(Opcode::Recv);
    recv.cap = owner;
    recv.result_addr = reinterpret_cast<uint64_t>(received);
    recv.result_len = sizeof received;
    Sqe ret{};
    ret.opcode = uint8_t(Opcode::Return);
    ret.cap = owner;
    ret.params_addr = reinterpret_cast<uint64_t>(message.data());
    ret.params_len = uint32_t(message.size() * 8);
    for (;;) {
        Cqe cqe;
        if (!run(recv, cqe))
            return 2;
        if (cqe.result == int32_t(capos::abi::TransportError::Disconnected))
            return 0;
        if (cqe.result < 0)
            return 3;
        ret.call_id = cqe.call_id;
        if (!run(ret, cqe) || cqe.result < 0)
            return 4;
    }
}

} // namespace

int main() {
    if (auto raw = capos::rt::find_capability("echo-raw"); raw.is_ok())
        return serve_raw(raw.value().id.raw);
    auto found = capos::rt::find_capability("echo");
    if (found.is_error())
        return 1;
    capos::rt::Server server(found.value().id);
    EchoHandler handler;
    int32_t ended = server.serve<capos::schema::Echo>(handler);
    return ended == int32_t(capos::abi::TransportError::Disconnected) ? 0 : 2;
}
