// CPU weights: init (this program) starts two spinners that never leave user
// mode (spin_child), one of weight 100 (spawned at 50, then set through
// ProcessHandle.setCpuWeight) and one of 300, lets them compete for
// the one CPU for 1.5 s, kills them and reads from each ExitStatus the CPU
// time it used: the heavier must have had three times the lighter's (within a
// quarter), and the two together nearly all of the time. A spawn asking for
// a weight beyond the maximum is refused.
#include "abi/limits.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;

int main() {
    test::Suite suite("weights");
    uint32_t spawner = test::cap_id("spawner");
    uint32_t timer = test::cap_id("timer");
    if (!spawner || !timer)
        return 2;
    const GrantSpec none[] = {copy_grant("timer", timer)};

    auto refused = test::spawn(spawner, "too-heavy", "spin_child", none,
                               {.cpu_weight = abi::max_cpu_weight + 1});
    suite.check_exception("a weight beyond the maximum is refused", refused,
                          schema::ExceptionType::InvalidArgument);

    // The light one is spawned at 50 and set to 100 through its handle (at 50
    // the ratio would be 6); the heavy one is spawned at 300.
    auto light = test::spawn(spawner, "light", "spin_child", none, {.cpu_weight = 50});
    auto heavy = test::spawn(spawner, "heavy", "spin_child", none, {.cpu_weight = 300});
    if (!suite.check_ok("the spinner of weight 50 spawned", light) ||
        !suite.check_ok("the spinner of weight 300 spawned", heavy))
        return suite.finish();
    schema::ProcessHandle::Client<rt::RingTransport> handle(rt::transport(),
                                                            light.value().handle.raw);
    suite.check_ok("its weight set to 100 through its handle", handle.set_cpu_weight(100));
    suite.check_exception("a weight of 0 is refused", handle.set_cpu_weight(0),
                          schema::ExceptionType::InvalidArgument);
    suite.check_exception("a weight beyond the maximum is refused by the handle",
                          handle.set_cpu_weight(abi::max_cpu_weight + 1),
                          schema::ExceptionType::InvalidArgument);
    constexpr uint64_t ms = 1000 * 1000;
    uint64_t start = test::now_ns(timer);
    (void)test::sleep_ns(timer, 1500 * ms);
    (void)test::kill(light.value().handle.raw);
    (void)test::kill(heavy.value().handle.raw);
    auto light_end = test::wait(light.value().handle.raw);
    auto heavy_end = test::wait(heavy.value().handle.raw);
    uint64_t elapsed = test::now_ns(timer) - start;
    if (!suite.check("both were killed", light_end.is_ok() && light_end.value().killed &&
                                             heavy_end.is_ok() && heavy_end.value().killed))
        return suite.finish();
    uint64_t a = light_end.value().cpu_time_ns, b = heavy_end.value().cpu_time_ns;
    Line times("weight 100 ran ");
    times.udec(a / ms).add(" ms, weight 300 ").udec(b / ms).add(" ms, of ");
    times.udec(elapsed / ms).add(" ms");
    suite.note(times.view());
    // 3 within a quarter: 2.25 <= b / a <= 3.75.
    suite.check("the spinner of weight 300 had three times the CPU of the one of 100",
                a != 0 && b * 4 >= a * 9 && b * 4 <= a * 15, times);
    suite.check("between them they had at least 90% of the time", (a + b) * 10 >= elapsed * 9,
                times);
    return suite.finish();
}
