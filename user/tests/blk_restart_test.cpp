// A client of a driver that crashes (scenario.blk_restart): "disk", a
// BlockDevice served by virtio_blk_faulty (the virtio-blk driver built to
// fault at its third request of the device), which init starts again once
// (restarts = 1); "supervisor", init's Supervisor for this process.
//
// Checked: an import that is not one is refused, and so is a call of
// another interface; a write flushed before the crash; the call the driver
// dies in answered Disconnected; reconnect hands a new capability once init
// has started the driver again (the device claimed again and brought up
// anew), through which the flushed write reads back and the rest of the
// disk holds its pattern, while the old capability stays disconnected;
// after the second crash reconnect answers disconnected, init having no
// restart left.
#include "schema/capos.capnp.capos.h"
#include "tools/mkdisk/disk_pattern.h"
#include "user/tests/common/disk_check.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::BlockDevice;
using schema::ExceptionType;
using schema::Supervisor;
namespace pattern = capos::disk_pattern;

namespace {

constexpr uint32_t block = 512;
constexpr uint64_t written_lba = 100;
constexpr uint16_t written_generation = 7;

test::Suite suite("blk-restart");

} // namespace

int main() {
    auto disk = rt::lookup<BlockDevice>("disk");
    auto supervisor = rt::lookup<Supervisor>("supervisor");
    if (!suite.check("the disk and the supervisor are granted", disk.is_ok() && supervisor.is_ok()))
        return suite.finish();

    suite.check_exception("reconnect of a name that is no import is refused",
                          supervisor.value()->reconnect("nothing"), ExceptionType::InvalidArgument);
    BlockDevice::Client<rt::RingTransport> impostor(rt::transport(), supervisor.value().id().raw);
    suite.check_exception("another interface's call to the supervisor is unimplemented",
                          impostor.info(), ExceptionType::Unimplemented);

    // Info (no request of the device), then requests 1 and 2 of the first
    // driver: a write and a flush.
    auto info = disk.value()->info();
    suite.check("info: 8192 blocks of 512 bytes", info.is_ok() && info.value().blocks() == 8192 &&
                                                      info.value().block_size() == block);
    uint8_t data[block];
    pattern::fill_sector(data, written_lba, written_generation);
    suite.check_ok("write block 100",
                   disk.value()->write_blocks(written_lba, 1, 0, 0, std::span(data, block)));
    suite.check_ok("flush", disk.value()->flush());
    // The third: the driver faults while it holds the call.
    suite.check_transport("the call the driver crashes in is disconnected",
                          disk.value()->read_blocks(1, 1, 0, 0), abi::TransportError::Disconnected);

    auto again = supervisor.value()->reconnect("disk");
    if (!suite.check_ok("reconnect once init has started the driver again", again))
        return suite.finish();
    rt::Capability<BlockDevice> second(abi::CapId{again.value().cap()});
    suite.check_transport("the old capability stays disconnected", disk.value()->flush(),
                          abi::TransportError::Disconnected);
    // Requests 1 and 2 of the second driver, then its third.
    test::block_reads(suite, second, "the flushed write reads back through the new driver",
                      written_lba, written_generation);
    test::block_reads(suite, second, "the rest of the disk holds its pattern", 5, 0);
    suite.check_transport("the second driver crashes at its third request too",
                          second->read_blocks(8191, 1, 0, 0), abi::TransportError::Disconnected);
    suite.check_exception("reconnect answers disconnected: init has no restart left",
                          supervisor.value()->reconnect("disk"), ExceptionType::Disconnected);
    return suite.finish();
}
