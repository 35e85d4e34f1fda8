// User FPU state: init (this program) starts three fpu_childs (seeds 1-3) at
// once, which fill every x87, SSE and AVX register with patterns of their own
// and check them after being preempted, switched away from and (on several
// CPUs) moved; then, once they have ended, one more (seed 0) that only checks
// that it starts clean although the registers last held its siblings'
// patterns. Each child's exit code says when it ran: on one CPU the three ran
// side by side only if the timer preempted them inside their rounds.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;

int main() {
    test::Suite suite("fpu");
    uint32_t spawner = test::cap_id("spawner");
    uint32_t console = test::cap_id("console");
    uint32_t timer = test::cap_id("timer");
    if (!spawner || !console || !timer)
        return 2;
    const GrantSpec grants[] = {copy_grant("console", console), copy_grant("timer", timer)};

    constexpr int children = 3;
    const std::string_view seeds[children + 1] = {"1", "2", "3", "0"};
    test::Spawned spawned[children];
    for (int i = 0; i < children; ++i) {
        auto child = test::spawn(spawner, "fpu_child", "fpu_child", grants, {}, {&seeds[i], 1});
        if (!suite.check_ok("an fpu_child spawned", child))
            return suite.finish();
        spawned[i] = child.value();
    }
    test::Span spans[children];
    bool all_ok = true;
    for (int i = 0; i < children; ++i) {
        spans[i] = test::span_of(test::wait(spawned[i].handle.raw));
        all_ok = all_ok && spans[i].ok;
    }
    suite.check("the three fpu_childs kept their registers and exited", all_ok);
    int64_t least = INT64_MAX;
    for (int i = 0; i < children; ++i)
        for (int j = i + 1; j < children; ++j) {
            int64_t overlap = test::overlap(spans[i], spans[j]);
            least = overlap < least ? overlap : least;
        }
    Line ran("each pair overlapped at least ");
    ran.dec(least).add(" ms");
    suite.note(ran.view());
    suite.check("they ran side by side (each pair overlapping at least 100 ms)", least >= 100, ran);

    auto clean = test::spawn(spawner, "fpu_child", "fpu_child", grants, {}, {&seeds[children], 1});
    if (suite.check_ok("the last fpu_child spawned", clean))
        suite.check("it started clean", test::span_of(test::wait(clean.value().handle.raw)).ok);
    return suite.finish();
}
