// DevicePorts: the I/O BAR of a claimed function, reached one call per
// access. The function is QEMU's virtio-rng with its modern interface off
// (`-device virtio-rng-pci,disable-modern=on`, 1af4:1005), whose legacy
// registers are in I/O BAR 0 and whose MSI-X table is in memory BAR 1;
// init claims it from the manifest's device grant and moves it here as
// "rng". No driver runs it: this program touches only registers that
// answer plainly (Virtio 1.2, 4.1.4.8): queue select (16 bits) and the
// selected queue's size (16 bits, 0 for a queue the device lacks), the
// device status (8 bits) and the driver's features (32 bits), which read
// back what was written.
//
// Checked: each width reaches the device's own ports (the queue sizes, the
// values read back); accesses of another width, misaligned, past the range
// or at an offset that would wrap are invalidArgument; ports of a memory or
// absent BAR and the window of the I/O BAR are refused; after Device.reset
// the DevicePorts made before is disconnected and a new one works; once
// the Device is released, every DevicePorts of the claim is.
#include "lib/virtio/legacy.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::ExceptionType;
namespace legacy = capos::virtio::legacy;

namespace {

test::Suite suite("ports");

using Device = rt::Capability<schema::Device>;
using Ports = rt::Capability<schema::DevicePorts>;

// What the register at `offset` of `width` bytes reads, or UINT64_MAX when
// the read fails.
uint64_t read(Ports& ports, uint32_t offset, uint8_t width) {
    auto value = ports->read(offset, width);
    return value.is_ok() ? value.value().value() : UINT64_MAX;
}

bool write(Ports& ports, uint32_t offset, uint8_t width, uint32_t value) {
    return ports->write(offset, width, value).is_ok();
}

void registers(Ports& ports) {
    // 16 bits: queue 0 (the request queue) has a size, queue 5 none.
    bool selected = write(ports, legacy::queue_select, 2, 0);
    uint64_t size = read(ports, legacy::queue_size, 2);
    suite.check("select queue 0 (16-bit write): its size (16-bit read) is a power of two",
                selected && size != 0 && size <= 32768 && (size & (size - 1)) == 0,
                Line("size ").udec(size));
    selected = write(ports, legacy::queue_select, 2, 5);
    suite.check("select queue 5: the device has none, size 0",
                selected && read(ports, legacy::queue_select, 2) == 5 &&
                    read(ports, legacy::queue_size, 2) == 0);
    // 8 bits: the status reads back; 0 resets the device.
    bool written = write(ports, legacy::device_status, 1, 0x01);
    uint64_t status = read(ports, legacy::device_status, 1);
    suite.check("the device status (8 bits) reads back ACKNOWLEDGE", written && status == 0x01,
                Line("status ").hex(status));
    written = write(ports, legacy::device_status, 1, 0);
    suite.check("... and 0 after a reset", written && read(ports, legacy::device_status, 1) == 0);
    // 32 bits: the driver's features read back those written of the
    // device's.
    uint64_t offered = read(ports, legacy::device_features, 4);
    uint32_t chosen = uint32_t(offered) & (uint32_t(1) << 24); // NOTIFY_ON_EMPTY, if offered
    written = write(ports, legacy::driver_features, 4, chosen);
    suite.check("the driver's features (32 bits) read back",
                offered != UINT64_MAX && written &&
                    read(ports, legacy::driver_features, 4) == chosen,
                Line("offered ").hex(offered));
}

void bad_accesses(Ports& ports, uint32_t count) {
    auto refused = [&](std::string_view what, uint32_t offset, uint8_t width) {
        suite.check_exception(Line(what).add(", read").view(), ports->read(offset, width),
                              ExceptionType::InvalidArgument);
        suite.check_exception(Line(what).add(", write").view(), ports->write(offset, width, 0),
                              ExceptionType::InvalidArgument);
    };
    refused("width 3", 0, 3);
    refused("width 8", 0, 8);
    refused("width 0", 0, 0);
    refused("a 2-byte register at an odd offset", 1, 2);
    refused("a 4-byte register at offset 2", 2, 4);
    refused("a 4-byte register at the range's end", count, 4);
    refused("a byte past the range", count, 1);
    refused("an offset that would wrap", UINT32_MAX, 1);
    suite.check("the last byte of the range reads", read(ports, count - 1, 1) != UINT64_MAX);
}

} // namespace

int main() {
    auto device_cap = rt::lookup<schema::Device>("rng");
    suite.check("the CapSet has the Device granted as rng", device_cap.is_ok());
    if (device_cap.is_error())
        return suite.finish();
    Device& device = device_cap.value();

    auto info = device->info();
    bool io_bar = false;
    if (info.is_ok()) {
        for (auto bar : info.value().function().bars())
            io_bar |= bar.index() == 0 && bar.kind() == schema::PciFunction::BarKind::Io;
    }
    suite.check("info: 1af4:1005 with an I/O BAR 0",
                info.is_ok() && info.value().function().device_id() == 0x1005 && io_bar);

    suite.check_exception("mmio(0): BAR 0 is I/O, invalidArgument", device->mmio(0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("ports(1): BAR 1 is memory, invalidArgument", device->ports(1),
                          ExceptionType::InvalidArgument);
    suite.check_exception("ports(3): no such BAR, invalidArgument", device->ports(3),
                          ExceptionType::InvalidArgument);
    suite.check_exception("ports(6): no such BAR, invalidArgument", device->ports(6),
                          ExceptionType::InvalidArgument);

    auto given = device->ports(0);
    if (!suite.check_ok("ports(0)", given))
        return suite.finish();
    Ports ports(abi::CapId{given.value().ports()});
    auto ports_info = ports->info();
    uint32_t count = ports_info.is_ok() ? ports_info.value().count() : 0;
    suite.check("its info: BAR 0, a power of two of at least 24 ports",
                ports_info.is_ok() && ports_info.value().bar() == 0 && count >= 24 &&
                    (count & (count - 1)) == 0,
                Line("count ").udec(count));
    registers(ports);
    bad_accesses(ports, count);

    suite.check_ok("reset the device", device->reset());
    suite.check_exception("after the reset, DevicePorts.read is disconnected",
                          ports->read(legacy::device_status, 1), ExceptionType::Disconnected);
    auto again = device->ports(0);
    if (suite.check_ok("ports(0) again after the reset", again)) {
        Ports fresh(abi::CapId{again.value().ports()});
        suite.check("the new one reaches the device", write(fresh, legacy::queue_select, 2, 0) &&
                                                          read(fresh, legacy::queue_size, 2) != 0);
        suite.check_result("release the Device", rt::release(device.leak()), 0);
        suite.check_exception("then DevicePorts.read is disconnected",
                              fresh->read(legacy::queue_size, 2), ExceptionType::Disconnected);
        suite.check_exception("... and DevicePorts.write", fresh->write(legacy::queue_select, 2, 0),
                              ExceptionType::Disconnected);
    }
    return suite.finish();
}
