// ipc_caller: started by ipc_attack_test with ResourceLimits of 12
// capability slots, 2 outstanding calls and 64 queued bytes, holding clients
// of ipc_peer's "work" and "idle" endpoints (user/tests/ipc_peer.h).
//   - Return-side transfer rollback: the peer answers with capabilities until
//     this process's table is full; the Return that does not fit is refused
//     with the peer still holding the capability (copy and move), and this
//     call is still answered; with a slot free again the move goes through.
//   - queuedBytes and outstandingCalls from the spawn's limits, on calls that
//     queue at "idle" (never received).
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/tests/common/test.h"
#include "user/tests/ipc_peer.h"

using namespace capos;
namespace peer = capos::test::peer;
using abi::TransportError;
using peer::Command;
using test::Line;

namespace {

test::Suite suite("ipc-caller");
alignas(8) capnp::Word g_result[64];
alignas(8) capnp::Word g_idle_results[4][8];

struct Given {
    int32_t result;
    uint64_t verdict; // when no capability came
    uint32_t cap = 0; // the capability that came, if one did
};

Given give(uint32_t work, Command command) {
    abi::Cqe cqe = test::raw::run(peer::call(work, command, {}, g_result, sizeof g_result, 0x10));
    Given given{cqe.result, 0};
    if (cqe.result != 0)
        return given;
    std::span<const capnp::Word> message(g_result, cqe.result_len / 8);
    if (cqe.cap_count == 1) {
        auto* records = reinterpret_cast<const abi::CapRecord*>(g_result + cqe.result_len / 8);
        peer::DagCaps caps = peer::read_dag(message);
        if (caps.ok && caps.via_first == records[0].cap)
            given.cap = records[0].cap;
    } else {
        given.verdict = peer::read_value(message);
    }
    return given;
}

void transfer_rollback(uint32_t work) {
    // 12 slots, 3 granted: 9 copies fit.
    uint32_t held[16];
    uint32_t count = 0;
    Given last{};
    while (count < 16) {
        last = give(work, Command::GiveCopy);
        if (last.cap == 0)
            break;
        held[count++] = last.cap;
    }
    suite.check("copies from a Return fill exactly the 9 free slots", count == 9,
                Line("received ").udec(count));
    suite.check("the Return that does not fit is refused, the server still holds the capability, "
                "and this call is answered",
                last.result == 0 && last.cap == 0 && last.verdict == peer::RefusedStillHeld,
                Line("result ").dec(last.result).add(" verdict ").udec(last.verdict));

    Given moved = give(work, Command::GiveMove);
    suite.check("a moved capability into the full table: refused, the server keeps it",
                moved.result == 0 && moved.cap == 0 && moved.verdict == peer::RefusedStillHeld,
                Line("result ").dec(moved.result).add(" verdict ").udec(moved.verdict));

    suite.check_result("RELEASE of one received capability", rt::release(abi::CapId{held[0]}), 0);
    moved = give(work, Command::GiveMove);
    suite.check("with a free slot the move goes through", moved.result == 0 && moved.cap != 0,
                Line("result ").dec(moved.result).add(" verdict ").udec(moved.verdict));
    abi::Cqe pinged =
        test::raw::run(peer::call(work, Command::PingNull, {}, g_result, sizeof g_result, 0x11));
    int64_t peer_ping = int64_t(peer::read_value(std::span<const capnp::Word>(g_result, 2)));
    suite.check("... and the server no longer holds it",
                pinged.result == 0 && (peer_ping == int64_t(TransportError::StaleCap) ||
                                       peer_ping == int64_t(TransportError::InvalidCap)),
                Line("its ping: ").dec(peer_ping));
}

void limits(uint32_t idle) {
    // A 48-byte message (root pointer and 5 data words) queues: 48 <= 64.
    alignas(8) capnp::Word big[6] = {capnp::Word{5} << 32, 1, 2, 3, 4, 5};
    alignas(8) capnp::Word small[3] = {capnp::Word{2} << 32, 1, 2};
    test::raw::push(peer::call(idle, Command::Empty, big, g_idle_results[0], 64, 0x20));
    int64_t entered = test::raw::enter(0, 0);
    suite.check("a call with 48 bytes of params queues (64 allowed)",
                entered == 0 && test::raw::unread() == 0, Line("unread ").dec(entered));
    abi::Cqe refused =
        test::raw::run(peer::call(idle, Command::Empty, small, g_idle_results[1], 64, 0x21));
    suite.check_result("24 more bytes are beyond queuedBytes: QuotaExceeded", refused.result,
                       TransportError::QuotaExceeded);
    test::raw::push(peer::call(idle, Command::Empty, {}, g_idle_results[2], 64, 0x22));
    entered = test::raw::enter(0, 0);
    suite.check("an empty call queues as the second outstanding one",
                entered == 0 && test::raw::unread() == 0, Line("unread ").dec(entered));
    refused = test::raw::run(peer::call(idle, Command::Empty, {}, g_idle_results[3], 64, 0x23));
    suite.check_result("a third is beyond outstandingCalls: QuotaExceeded", refused.result,
                       TransportError::QuotaExceeded);
    // The two queued calls are cancelled when this process ends.
}

} // namespace

int main() {
    uint32_t work = test::cap_id("work");
    uint32_t idle = test::cap_id("idle");
    if (work == 0 || idle == 0)
        return 2;
    transfer_rollback(work);
    limits(idle);
    return suite.finish();
}
