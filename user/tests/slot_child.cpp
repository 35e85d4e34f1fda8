// slot_child: started by spawn_errors_test with 5 capability slots, holding
// the spawner and the console (3 free). It fills its table with handles of
// trivial children until one slot is free, then asks for a child with a new
// endpoint: the handle and the endpoint's client side need two slots, so the
// spawn must be refused as a whole (a regression test: it succeeded and
// returned the client side as id 0, the capability silently dropped). The
// last slot is still free afterwards: a plain spawn takes it.
#include "user/rt/rt.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;

int main() {
    test::Suite suite("slot-child");
    uint32_t spawner = test::cap_id("spawner");
    if (spawner == 0)
        return 2;
    std::span<const test::GrantSpec> none;
    uint32_t filled = 0;
    for (; filled < 2; ++filled) {
        auto child = test::spawn(spawner, "trivial-child", "trivial-child", none);
        if (child.is_error() || test::wait(child.value().handle.raw).is_error())
            break;
    }
    suite.check("two handles leave one free slot", filled == 2);
    const test::GrantSpec endpoint[] = {test::endpoint_grant("work")};
    auto refused = test::spawn(spawner, "trivial-child", "trivial-child", endpoint);
    suite.check_exception("a spawn with a new endpoint and one free slot is overloaded", refused,
                          schema::ExceptionType::Overloaded);
    auto last = test::spawn(spawner, "trivial-child", "trivial-child", none);
    suite.check_ok("the free slot is still free: a plain spawn takes it", last);
    if (last.is_ok())
        (void)test::wait(last.value().handle.raw);
    auto full = test::spawn(spawner, "trivial-child", "trivial-child", none);
    suite.check_exception("and then the table is full", full, schema::ExceptionType::Overloaded);
    return suite.finish();
}
