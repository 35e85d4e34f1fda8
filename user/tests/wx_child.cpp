// wx_child: started by memory_object_test with a copy of one MemoryObject
// (user/tests/wx_child.h). W^X holds for the object across address spaces:
// while the parent has it mapped writable, this process cannot map it
// executable, and the other way round. Exit code: the failed checks.
#include "user/tests/wx_child.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using schema::Access;
using schema::ExceptionType;
namespace wx = capos::test::wx;

namespace {

test::Suite suite("wx-child");

using Memory = rt::Capability<schema::MemoryObject>;

} // namespace

int main() {
    if (auto found = rt::lookup<schema::MemoryObject>(wx::while_writable); found.is_ok()) {
        Memory& object = found.value();
        suite.check_ok("the object granted while the parent maps it read-write maps read-only here",
                       object->map(0, 0, 1, Access::Read));
        suite.check_exception("mapping it read-execute here is permissionDenied",
                              object->map(0, 0, 1, Access::ReadExecute),
                              ExceptionType::PermissionDenied);
        return suite.finish();
    }
    if (auto found = rt::lookup<schema::MemoryObject>(wx::while_executable); found.is_ok()) {
        Memory& object = found.value();
        suite.check_ok("the object granted while the parent maps it read-execute maps read-only "
                       "here",
                       object->map(0, 0, 1, Access::Read));
        suite.check_exception("mapping it read-write here is permissionDenied",
                              object->map(0, 0, 1, Access::ReadWrite),
                              ExceptionType::PermissionDenied);
        return suite.finish();
    }
    if (auto found = rt::lookup<schema::MemoryObject>(wx::to_write); found.is_ok()) {
        auto mapped = found.value()->map(0, 0, 1, Access::ReadWrite);
        suite.check_ok("the object mapped nowhere else maps read-write here", mapped);
        if (mapped.is_ok())
            *reinterpret_cast<volatile uint64_t*>(mapped.value().address()) = wx::written;
        // Exits with the mapping in place: teardown must drop it.
        return suite.finish();
    }
    return 100;
}
