// Preemption: init (this program) starts two spinners (spinner.cpp), each
// holding a copy of its console and timer, and waits for both. A spinner only
// makes system calls between stretches of 40 ms of pure user code, so without
// a preempting timer the first would run all its 300 ms before the second
// printed anything, and the second would start only when the first had ended.
// Each spinner's exit code says when it ran; this side checks that the two
// spans overlap by most of their length, and the scenario that both printed
// their first progress line before either printed "done".
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
    test::Span sa = test::span_of(ended_a), sb = test::span_of(ended_b);
    suite.check("both spinners ran their 300 ms and exited", sa.ok && sb.ok);
    int64_t overlap = test::overlap(sa, sb);
    Line spans;
    spans.add("A ran ")
        .dec(sa.start)
        .add("-")
        .dec(sa.end)
        .add(" ms, B ")
        .dec(sb.start)
        .add("-")
        .dec(sb.end);
    spans.add(" ms since boot, overlapping ").dec(overlap).add(" ms");
    suite.note(spans.view());
    suite.check("they ran side by side (overlapping at least 200 ms)", overlap >= 200, spans);
    suite.note(Line("both spinners had ended ")
                   .udec(elapsed / 1000000)
                   .add(" ms after they were started")
                   .view());
    return suite.finish();
}
