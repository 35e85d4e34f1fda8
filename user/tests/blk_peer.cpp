// A second client of a disk driver's "disk" (scenario.blk, scenario.nvme), started
// once blk-test has ended: transfer buffer 1, which blk-test asked for, is
// not this process's to name; the buffer it asks for itself works for it.
#include "schema/capos.capnp.capos.h"
#include "tools/mkdisk/disk_pattern.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::BlockDevice;
using schema::ExceptionType;

namespace {

test::Suite suite("blk-peer");

} // namespace

int main() {
    auto disk = rt::lookup<BlockDevice>("disk");
    if (!suite.check("the CapSet has 'disk'", disk.is_ok()))
        return suite.finish();
    suite.check_exception("blk-test's transfer buffer (1) is invalidArgument here",
                          disk.value()->read_blocks(3, 1, 1, 0), ExceptionType::InvalidArgument);
    auto made = disk.value()->transfer_buffer(1);
    if (!suite.check_ok("transferBuffer(1)", made))
        return suite.finish();
    uint32_t id = made.value().buffer();
    rt::Capability<schema::MemoryObject> memory(abi::CapId{made.value().memory()});
    suite.check("its id is the next one, 2", id == 2, Line().udec(id));
    auto mapped = memory->map(0, 0, 1, schema::Access::Read);
    if (!suite.check_ok("it maps", mapped))
        return suite.finish();
    // (Taken before the next call: the reply lies in the transport's buffer.)
    auto* data = reinterpret_cast<const uint8_t*>(mapped.value().address());
    suite.check_ok("read block 3 into it", disk.value()->read_blocks(3, 1, id, 0));
    suite.check("it holds block 3",
                disk_pattern::first_difference(data, 3, 0) == disk_pattern::sector_bytes);
    return suite.finish();
}
