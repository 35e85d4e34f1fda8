// ipc_peer: a server for the IPC regression tests, driven raw through its
// ring (user/tests/ipc_peer.h has the protocol). It serves the endpoint
// granted as "work" and never receives on the one granted as "idle" (calls
// there stay queued); it holds a Null ("null") to give away, and may hold a
// MemoryObject ("log", one page shared with other peers) and a Timer for
// Command::Mark.
//
// It answers each call and asks for the next one in the same cap_enter
// (Return, then Recv), so that by the time its caller runs again it already
// waits in Recv: a call to it is then delivered at once, with the direct
// handoff. Ends when the endpoint has no clients left (Recv: Disconnected).
#include "user/tests/ipc_peer.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/tests/common/shared_levels.h"
#include "user/tests/common/test.h"

using namespace capos;
namespace peer = capos::test::peer;
using peer::Command;

namespace {

constexpr uint64_t recv_tag = 1;
constexpr uint64_t return_tag = 2;
constexpr uint64_t call_tag = 3;

uint32_t g_work, g_null, g_timer;
peer::MarkLog* g_log = nullptr;
alignas(8) capnp::Word g_receive[1024];
alignas(8) capnp::Word g_reply[8];
alignas(8) capnp::Word g_shared[test::shared_levels_words];
uint64_t g_received = 0; // calls received so far
alignas(8) capnp::Word g_scratch[8];
// A Recv completion that came while the peer was waiting for another one.
bool g_have_next = false;
abi::Cqe g_next;

abi::Sqe recv_sqe() {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Recv);
    sqe.cap = g_work;
    sqe.user_data = recv_tag;
    sqe.result_addr = reinterpret_cast<uint64_t>(g_receive);
    sqe.result_len = sizeof g_receive;
    return sqe;
}

// Waits for the completion tagged `tag`, keeping a Recv completion that comes
// first for later.
abi::Cqe wait_for(uint64_t tag) {
    if (tag == recv_tag && g_have_next) {
        g_have_next = false;
        return g_next;
    }
    for (;;) {
        abi::Cqe cqe{};
        while (test::raw::pop(cqe)) {
            if (cqe.user_data == tag)
                return cqe;
            if (cqe.user_data == recv_tag) {
                g_next = cqe;
                g_have_next = true;
            }
        }
        if (test::raw::enter(1, abi::no_timeout) < 0)
            rt::panic("ipc-peer: cap_enter failed");
    }
}

int32_t raw_call(uint32_t cap, uint64_t interface_id, uint16_t method, capnp::Word* result,
                 uint32_t result_bytes) {
    test::raw::push(peer::kernel_call(cap, interface_id, method, result, result_bytes, call_tag));
    return wait_for(call_tag).result;
}

int32_t ping_null() {
    return raw_call(g_null, schema::Null::interface_id, uint16_t(schema::Null::Method::Ping),
                    g_scratch, sizeof g_scratch);
}

uint64_t now_ns() {
    if (raw_call(g_timer, schema::Timer::interface_id, uint16_t(schema::Timer::Method::Now),
                 g_scratch, sizeof g_scratch) != 0)
        return 0;
    return peer::read_value(std::span<const capnp::Word>(g_scratch, 2));
}

struct Answer {
    size_t words = 0;
    uint32_t give = 0; // the Null, sent with the answer
    abi::TransferMode mode = abi::TransferMode::Copy;
    bool shared_first = false; // ReturnShared
};

Answer handle(Command command, std::span<const capnp::Word> params,
              std::span<const abi::CapRecord> records) {
    Answer answer;
    switch (command) {
    case Command::Empty:
        return answer;
    case Command::CheckDag: {
        peer::DagCaps caps = peer::read_dag(params);
        uint64_t verdict = peer::BadMessage;
        if (caps.ok && !records.empty()) {
            bool renamed = caps.via_first == records[0].cap && caps.via_second == records[0].cap;
            if (caps.second != capnp::PointerReader::no_capability)
                renamed = renamed && records.size() >= 2 && caps.second == records[1].cap;
            verdict = renamed ? peer::Renamed : peer::Misrenamed;
        }
        peer::value_message(g_reply, verdict);
        answer.words = peer::value_words;
        return answer;
    }
    case Command::GiveCopy:
    case Command::GiveMove:
        peer::dag_message(g_reply, 0, g_null, 0);
        answer.words = peer::dag_words;
        answer.give = g_null;
        answer.mode =
            command == Command::GiveMove ? abi::TransferMode::Move : abi::TransferMode::Copy;
        return answer;
    case Command::PingNull:
        peer::value_message(g_reply, uint64_t(int64_t(ping_null())));
        answer.words = peer::value_words;
        return answer;
    case Command::Received:
        peer::value_message(g_reply, g_received - 1);
        answer.words = peer::value_words;
        return answer;
    case Command::Reflect:
        peer::value_message(g_reply, peer::read_value(params));
        answer.words = peer::value_words;
        return answer;
    case Command::ReturnShared:
        answer.shared_first = true;
        return answer;
    case Command::Mark:
        if (g_log) {
            // Peers on other CPUs mark at the same time: each takes its
            // entry with one atomic step (a read, then a write, let two
            // take the same one and the log count one mark).
            uint64_t ns = now_ns();
            uint32_t cpu = peer::cpu_now();
            uint32_t at = __atomic_fetch_add(&g_log->count, 1, __ATOMIC_ACQ_REL);
            if (at < peer::MarkLog::capacity)
                g_log->entries[at] = {peer::read_value(params), ns, cpu, 0};
        }
        return answer;
    }
    peer::value_message(g_reply, peer::BadMessage);
    answer.words = peer::value_words;
    return answer;
}

abi::Sqe return_sqe(uint32_t call_id, size_t words, const abi::TransferDescriptor* transfer,
                    const capnp::Word* message = g_reply) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Return);
    sqe.cap = g_work;
    sqe.call_id = call_id;
    sqe.user_data = return_tag;
    if (words > 0) {
        sqe.params_addr = reinterpret_cast<uint64_t>(message);
        sqe.params_len = uint32_t(words * 8);
    }
    if (transfer) {
        sqe.transfer_addr = reinterpret_cast<uint64_t>(transfer);
        sqe.transfer_count = 1;
    }
    return sqe;
}

} // namespace

int main() {
    g_work = test::cap_id("work");
    g_null = test::cap_id("null");
    g_timer = test::cap_id("timer");
    if (g_work == 0)
        return 2;
    if (uint32_t log = test::cap_id("log")) {
        schema::MemoryObject::Client<rt::RingTransport> object(rt::transport(), log);
        auto mapped = object.map(0, 0, 1, schema::Access::ReadWrite);
        if (mapped.is_error())
            return 3;
        g_log = reinterpret_cast<peer::MarkLog*>(mapped.value().address());
    }

    test::raw::push(recv_sqe());
    if (test::raw::enter(0, 0) < 0)
        return 4;
    for (;;) {
        abi::Cqe received = wait_for(recv_tag);
        if (received.result == int32_t(abi::TransportError::Disconnected))
            return 0;
        if (received.result != 0)
            return 5;
        ++g_received;
        abi::RecvHeader header;
        __builtin_memcpy(&header, g_receive, sizeof header);
        const capnp::Word* params = g_receive + sizeof header / 8;
        std::span<const abi::CapRecord> records(
            reinterpret_cast<const abi::CapRecord*>(params + header.params_len / 8),
            header.cap_count);
        Answer answer =
            handle(Command(header.method),
                   std::span<const capnp::Word>(params, header.params_len / 8), records);
        if (answer.shared_first) {
            // A Return the kernel must refuse; the call stays in flight and
            // is answered below with the refusal.
            test::shared_levels_message(g_shared);
            test::raw::push(
                return_sqe(header.call_id, test::shared_levels_words, nullptr, g_shared));
            if (test::raw::enter(0, 0) < 0)
                return 8;
            peer::value_message(g_reply, uint64_t(int64_t(wait_for(return_tag).result)));
            answer.words = peer::value_words;
        }

        abi::TransferDescriptor transfer{answer.give, uint8_t(answer.mode), {0, 0, 0}};
        test::raw::push(
            return_sqe(header.call_id, answer.words, answer.give ? &transfer : nullptr));
        test::raw::push(recv_sqe());
        if (test::raw::enter(0, 0) < 0)
            return 6;
        abi::Cqe returned = wait_for(return_tag);
        if (returned.result == 0 || answer.give == 0)
            continue;
        // The capability could not go with the answer. The call is still in
        // flight: answer it without one, saying whether the Null stayed here.
        uint64_t verdict = returned.result != int32_t(abi::TransportError::QuotaExceeded)
                               ? peer::Refused
                           : ping_null() == 0 ? peer::RefusedStillHeld
                                              : peer::RefusedLost;
        peer::value_message(g_reply, verdict);
        test::raw::push(return_sqe(header.call_id, peer::value_words, nullptr));
        if (test::raw::enter(0, 0) < 0 || wait_for(return_tag).result != 0)
            return 7;
    }
}
