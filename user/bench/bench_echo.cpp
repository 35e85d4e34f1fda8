// Server for ring_bench's endpoint round trips. Granted its endpoint as "echo",
// it serves Echo through the runtime (rt::Server and the generated dispatch);
// granted it as "echo-raw", it answers every call with an empty struct straight
// from the ring: the Return of a message encoded once and the next Recv in one
// cap_enter, as rt::Server does, without Cap'n Proto or the runtime's
// bookkeeping. Either way it runs until its last client is gone (Recv reports
// Disconnected), then exits 0.
#include "abi/ring.h"
#include "abi/syscall.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/rt/syscall.h"
#include <initializer_list>

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

// The SQEs, one cap_enter that returns when all their completions have come,
// and those completions, in the order they came (the only ones outstanding).
bool run(std::initializer_list<Sqe> sqes, Cqe* out) {
    capos::abi::RingPage& page = *capos::rt::ring().page();
    uint32_t tail = page.header.sq_tail;
    for (const Sqe& sqe : sqes)
        page.sqes[tail++ % capos::abi::ring_sq_entries] = sqe;
    __atomic_store_n(&page.header.sq_tail, tail, __ATOMIC_RELEASE);
    if (capos::rt::cap_enter(sqes.size(), capos::abi::no_timeout) < int64_t(sqes.size()))
        return false;
    uint32_t head = page.header.cq_head;
    for (size_t i = 0; i < sqes.size(); ++i)
        out[i] = page.cqes[head++ % capos::abi::ring_cq_entries];
    __atomic_store_n(&page.header.cq_head, head, __ATOMIC_RELEASE);
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
    Cqe done[2];
    if (!run({recv}, &done[1]))
        return 2;
    for (;;) {
        const Cqe& call = done[1];
        if (call.result == int32_t(capos::abi::TransportError::Disconnected))
            return 0;
        if (call.result < 0)
            return 3;
        ret.call_id = call.call_id;
        // The answer (completed at once) and the next call (when it comes).
        if (!run({ret, recv}, done))
            return 2;
        if (done[0].result < 0)
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
