// TLB shootdown seen from user mode (scenario.user_shootdown): init (this
// program) starts shootdown_child, whose second thread reads a page the
// main thread unmaps; the child must end by the reader's page fault.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;

int main() {
    test::Suite suite("shootdown");
    uint32_t spawner = test::cap_id("spawner");
    const GrantSpec grants[] = {copy_grant("timer", test::cap_id("timer")),
                                copy_grant("vm", test::cap_id("vm")),
                                copy_grant("threads", test::cap_id("threads")),
                                copy_grant("thread", test::cap_id("thread")),
                                copy_grant("console", test::cap_id("console"))};
    for (int round = 0; round < 3; ++round) {
        auto child = test::spawn(spawner, "shootdown_child", "shootdown_child", grants, {}, {});
        if (!suite.check_ok("the child started", child))
            return suite.finish();
        auto ended = test::wait(child.value().handle.raw);
        Line detail;
        if (ended.is_ok() && ended.value().exited)
            detail.add("exited with ").dec(ended.value().code);
        else if (ended.is_ok())
            detail.add("faulted with vector ").dec(ended.value().vector);
        suite.check("the reader of the unmapped page faulted (#PF), reading only what was written",
                    ended.is_ok() && !ended.value().exited && !ended.value().killed &&
                        ended.value().vector == 14,
                    detail);
        (void)rt::release(child.value().handle);
    }
    return suite.finish();
}
