// Processes with several threads, seen from their parent
// (scenario.user_threads_procs): init (this program) starts children and
// checks how each ended.
// - TLB shootdown from user mode: shootdown_child's second thread reads a
//   page its main thread unmaps; the reader must fault (three times).
// - threads_child spin: four threads spinning (on every CPU there is) are
//   killed, at once after the spawn and once they run.
// - threads_child main-exits: the main thread ends first; the process ends
//   with its last thread's code.
// - threads_child exit-busy: exit while three threads spin and one is
//   parked ends them all with the code.
// - echo-server, killed while it waits in RECV, ends as killed.
// - threads_child recv-behind: a RECV of a thread that ended waits before
//   the main thread's on the child's endpoint: a call passes over it to the
//   main thread's (lost, or never answered, it would hang the scenario).
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;

namespace {

Line describe(const Result<test::Ended, gen::CallError>& ended) {
    Line detail;
    if (ended.is_error())
        detail.add("wait failed");
    else if (ended.value().killed)
        detail.add("killed");
    else if (ended.value().exited)
        detail.add("exited with ").dec(ended.value().code);
    else
        detail.add("faulted with vector ").dec(ended.value().vector);
    return detail;
}

} // namespace

int main() {
    test::Suite suite("threads_procs");
    uint32_t spawner = test::cap_id("spawner");
    uint32_t timer = test::cap_id("timer");
    const GrantSpec grants[] = {copy_grant("timer", timer),
                                copy_grant("vm", test::cap_id("vm")),
                                copy_grant("threads", test::cap_id("threads")),
                                copy_grant("thread", test::cap_id("thread")),
                                copy_grant("park", test::cap_id("park")),
                                copy_grant("console", test::cap_id("console"))};

    for (int round = 0; round < 3; ++round) {
        auto child = test::spawn(spawner, "shootdown_child", "shootdown_child", grants, {}, {});
        if (!suite.check_ok("shootdown_child started", child))
            return suite.finish();
        auto ended = test::wait(child.value().handle.raw);
        suite.check("the reader of the unmapped page faulted (#PF), reading only what was written",
                    ended.is_ok() && !ended.value().exited && !ended.value().killed &&
                        ended.value().vector == 14,
                    describe(ended));
        (void)rt::release(child.value().handle);
    }

    for (int round = 0; round < 2; ++round) {
        const std::string_view spin[] = {"spin"};
        auto child = test::spawn(spawner, "threads_child", "threads_child", grants, {}, spin);
        if (!suite.check_ok("four spinning threads started", child))
            return suite.finish();
        if (round == 1)
            (void)test::sleep_ns(timer, 200'000'000); // running by now, whatever the CPUs
        bool killed = test::kill(child.value().handle.raw);
        auto ended = test::wait(child.value().handle.raw);
        suite.check(round == 0 ? "killed at once, the process ends as killed"
                               : "killed while they spin, the process ends as killed",
                    killed && ended.is_ok() && ended.value().killed, describe(ended));
        (void)rt::release(child.value().handle);
    }

    // A threads_child in `mode` must exit with `code`.
    auto exits_with = [&](std::string_view mode, std::string_view started, std::string_view what,
                          int64_t code) {
        const std::string_view args[] = {mode};
        auto child = test::spawn(spawner, "threads_child", "threads_child", grants, {}, args);
        if (!suite.check_ok(started, child))
            return false;
        auto ended = test::wait(child.value().handle.raw);
        suite.check(what, ended.is_ok() && ended.value().exited && ended.value().code == code,
                    describe(ended));
        (void)rt::release(child.value().handle);
        return true;
    };
    if (!exits_with("main-exits", "a child whose main thread ends first started",
                    "it ends with its last thread's code (7)", 7) ||
        !exits_with("exit-busy", "a child that exits beside busy threads started",
                    "exit ends every thread, spinning or parked, with the code (5)", 5))
        return suite.finish();

    // Two calls on an endpoint whose waiting RECVs are, in order, the main
    // thread's (it answers the first once its other thread has ended) and
    // that other thread's: the second must pass over the ended thread's.
    {
        const GrantSpec work_grants[] = {grants[0],
                                         grants[1],
                                         grants[2],
                                         grants[3],
                                         grants[4],
                                         grants[5],
                                         test::endpoint_grant("work")};
        const std::string_view args[] = {"recv-behind"};
        auto child = test::spawn(spawner, "threads_child", "threads_child", work_grants, {}, args);
        if (!suite.check("a child with RECVs of two threads started",
                         child.is_ok() && child.value().endpoint_count == 1))
            return suite.finish();
        uint32_t work = child.value().endpoints[0];
        alignas(8) static capnp::Word result[64];
        bool first =
            rt::ring()
                .run(rt::call_sqe(work, schema::Echo::interface_id, 0, rt::no_params(), result))
                .result == 0;
        bool second =
            rt::ring()
                .run(rt::call_sqe(work, schema::Echo::interface_id, 0, rt::no_params(), result))
                .result == 0;
        if (!first || !second)
            (void)test::kill(child.value().handle.raw); // it would wait for them
        auto ended = test::wait(child.value().handle.raw);
        suite.check("a call passes over the RECV of a thread that ended to the next one",
                    first && second && ended.is_ok() && ended.value().exited &&
                        ended.value().code == 0,
                    describe(ended));
        (void)rt::release(child.value().handle);
        (void)rt::release(abi::CapId{work});
    }

    // A server waiting in its RECV is killed: it leaves the wait (on one
    // CPU the wait under the kernel lock held shared, entered as its answer
    // hands this process the CPU) and ends as killed.
    const GrantSpec server_grants[] = {test::endpoint_grant("echo")};
    auto server = test::spawn(spawner, "echo-server", "echo-server", server_grants);
    if (!suite.check("an Echo server started",
                     server.is_ok() && server.value().endpoint_count == 1))
        return suite.finish();
    schema::Echo::Client<rt::RingTransport> echo(rt::transport(), server.value().endpoints[0]);
    bool answered = echo.echo("wait").is_ok();
    bool killed = test::kill(server.value().handle.raw);
    auto ended = test::wait(server.value().handle.raw);
    suite.check("a server killed while it waits in RECV ends as killed",
                answered && killed && ended.is_ok() && ended.value().killed, describe(ended));
    (void)rt::release(server.value().handle);
    (void)rt::release(abi::CapId{server.value().endpoints[0]});
    return suite.finish();
}
