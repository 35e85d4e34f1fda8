// ring_client_test: the runtime's RingClient keeps at most
// abi::ring_cq_entries submissions outstanding (the completion queue's size),
// finds each ticket's completion in any order, drops the completions of
// posted submissions (freeing their places), and panics, with a message, on
// misuse that would otherwise wait forever: one outstanding submission more,
// a wait for a ticket it never gave out. Each misuse runs in a child of its own (the same program,
// told what to do by the name of an extra grant).
#include "user/rt/rt.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;

namespace {

abi::Sqe nop() {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Nop);
    return sqe;
}

int child(std::string_view mode) {
    rt::RingClient& ring = rt::ring();
    if (mode == "too-many") {
        for (uint32_t i = 0; i <= abi::ring_cq_entries; ++i)
            (void)ring.submit(nop());
        return 0; // not reached: the last panics
    }
    if (mode == "unknown-ticket") {
        (void)ring.wait(12345);
        return 0; // not reached
    }
    return 3;
}

} // namespace

int main() {
    for (std::string_view mode : {"too-many", "unknown-ticket"}) {
        if (rt::find_capability(mode).is_ok())
            return child(mode);
    }
    test::Suite suite("ring-client");
    uint32_t spawner = test::cap_id("spawner");
    uint32_t console = test::cap_id("console");
    if (spawner == 0 || console == 0)
        return 2;

    // As many outstanding as the completion queue holds, collected in
    // reverse order: every one is found. (The checks print through the ring,
    // so they come after.)
    rt::RingClient& ring = rt::ring();
    uint64_t tickets[abi::ring_cq_entries];
    for (uint64_t& ticket : tickets)
        ticket = ring.submit(nop());
    uint32_t outstanding = ring.outstanding();
    bool all = true;
    for (uint32_t i = abi::ring_cq_entries; i-- > 0;)
        all = ring.wait(tickets[i]).user_data == tickets[i] && all;
    suite.check("a completion queue's worth of submissions outstanding",
                outstanding == abi::ring_cq_entries);
    suite.check("each completion found, collected in reverse order",
                all && ring.outstanding() == 0);

    // Posted submissions between waited ones, a completion queue's worth
    // twice over: their completions are dropped as they are read, and
    // their places come back (else the second round would panic).
    bool waited_found = true;
    for (int round = 0; round < 2; ++round) {
        uint64_t waited[abi::ring_cq_entries / 2];
        for (uint64_t& ticket : waited) {
            ring.post(nop());
            ticket = ring.submit(nop());
        }
        for (uint64_t ticket : waited)
            waited_found = ring.wait(ticket).user_data == ticket && waited_found;
    }
    suite.check("posted submissions' completions are dropped and their places freed",
                waited_found && ring.outstanding() == 0);

    for (std::string_view mode : {"too-many", "unknown-ticket"}) {
        const test::GrantSpec grants[] = {test::copy_grant("console", console),
                                          test::copy_grant(mode, console)};
        auto spawned = test::spawn(spawner, "ring-client-child", "ring-client-test", grants);
        if (!suite.check_ok("a child that misuses the ring client starts", spawned))
            continue;
        auto ended = test::wait(spawned.value().handle.raw);
        suite.check("it panics (exit code -1) instead of waiting forever",
                    ended.is_ok() && ended.value().exited && ended.value().code == -1);
    }
    return suite.finish();
}
