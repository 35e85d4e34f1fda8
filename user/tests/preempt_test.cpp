// Preemption: init (this program) starts two spinners (spinner.cpp), each
// holding a copy of its console and timer, and waits for both. A spinner only
// makes system calls between stretches of 40 ms of pure user code, so without
// a preempting timer the first would run all its 300 ms before the second
// printed anything; the scenario pins the second's first progress line before
// the first's "done", and each spinner exits 0 only if it saw itself
// preempted inside a stretch.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;

int main() {
    test::Suite suite("preempt");
    uint32_t spawner = test::cap_id("spawner");
    uint32_t console = test::cap_id("console");
    uint32_t timer = test::cap_id("timer");
    if (!spawner || !console || !timer)
        return 2;
    const GrantSpec grants[] = {copy_grant("console", console), copy_grant("timer", timer)};
    uint64_t start = test::now_ns(timer);
    auto a = test::spawn(spawner, "spinner-a", "spinner", grants);
    auto b = test::spawn(spawner, "spinner-b", "spinner", grants);
    if (!suite.check_ok("spinner A spawned", a) || !suite.check_ok("spinner B spawned", b))
        return suite.finish();
    auto ended_a = test::wait(a.value().handle.raw);
    auto ended_b = test::wait(b.value().handle.raw);
    uint64_t elapsed = test::now_ns(timer) - start;
    auto describe = [](const Result<test::Ended, gen::CallError>& ended) {
        if (ended.is_error())
            return test::describe(ended.error());
        return ended.value().exited ? Line("exited with ").dec(ended.value().code)
                                    : Line("faulted with vector ").udec(ended.value().vector);
    };
    suite.check("spinner A was preempted inside its loop (exited with 0)",
                ended_a.is_ok() && ended_a.value().exited && ended_a.value().code == 0,
                describe(ended_a));
    suite.check("spinner B was preempted inside its loop (exited with 0)",
                ended_b.is_ok() && ended_b.value().exited && ended_b.value().code == 0,
                describe(ended_b));
    suite.note(Line("both spinners had ended ")
                   .udec(elapsed / 1000000)
                   .add(" ms after they were started")
                   .view());
    return suite.finish();
}
