// A driver's view of one PCI function: QEMU's edu device (1234:11e8, `-device
// edu`), claimed by init from the manifest's device grant and moved to this
// service as "edu". Its registers through DeviceMmio (identification,
// liveness, factorial), its MSI through Interrupt, DMA both ways between
// DMABuffers and the device's own buffer, a DMAPool's budget; claims the
// DeviceManager refuses (the function claimed already, by identity and by
// address, functions that do not exist, the host bridge); and the end of
// the claim: once the Device is released the other capabilities of the
// claim are disconnected, and the function is claimed again only once its
// register window is gone (unmapped, and the DeviceMmio released).
//
// edu's registers (QEMU's edu specification), in BAR 0: 0x00 identification
// (0xRRrr00ed: major, minor), 0x04 liveness (reads back the inverse of what
// was written), 0x08 factorial (write n; the result is there once status bit
// 0 is clear), 0x20 status, 0x24 interrupt status, 0x60 raise (the value is
// ORed into the interrupt status and the interrupt raised), 0x64 acknowledge
// (those bits cleared), DMA at 0x80 source, 0x88 destination, 0x90 count and
// 0x98 command (bit 0 start, bit 1 device to memory, bit 2 interrupt when
// done). Its own DMA buffer is 4 KiB at device address 0x40000; it reaches
// memory below 256 MiB only (a 28-bit mask: the scenario runs with 128 MiB).
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::ExceptionType;

namespace {

test::Suite suite("device");

constexpr uint16_t edu_vendor = 0x1234;
constexpr uint16_t edu_device = 0x11e8;
constexpr uint64_t page = 4096;

// Register offsets in BAR 0, and their bits.
constexpr uint64_t identification = 0x00;
constexpr uint64_t liveness = 0x04;
constexpr uint64_t factorial = 0x08;
constexpr uint64_t status = 0x20;
constexpr uint64_t interrupt_status = 0x24;
constexpr uint64_t interrupt_raise = 0x60;
constexpr uint64_t interrupt_acknowledge = 0x64;
constexpr uint64_t dma_source = 0x80;
constexpr uint64_t dma_destination = 0x88;
constexpr uint64_t dma_count = 0x90;
constexpr uint64_t dma_command = 0x98;

constexpr uint32_t edu_identification = 0x010000ed; // version 1.0
constexpr uint32_t status_computing = 0x1;
constexpr uint64_t dma_start = 0x1;
constexpr uint64_t dma_to_memory = 0x2;
constexpr uint64_t dma_interrupt = 0x4;
constexpr uint32_t dma_done = 0x100; // the interrupt status a finished DMA raises
constexpr uint64_t edu_buffer = 0x40000;
// What each transfer moves: half of edu's buffer. QEMU 7.2's edu stops the
// machine on a transfer that runs to its buffer's last byte (its range check
// takes that end for one past the buffer).
constexpr uint64_t transfer_bytes = 2048;
constexpr uint64_t edu_dma_limit = uint64_t{1} << 28;

using Device = rt::Capability<schema::Device>;
using Mmio = rt::Capability<schema::DeviceMmio>;
using Interrupt = rt::Capability<schema::Interrupt>;
using Pool = rt::Capability<schema::DMAPool>;
using Buffer = rt::Capability<schema::DMABuffer>;
using Manager = rt::Capability<schema::DeviceManager>;
using Timer = rt::Capability<schema::Timer>;

// BAR 0 as mapped here: edu takes 32-bit accesses below 0x80 and 64-bit
// ones at its DMA registers.
struct Registers {
    uint64_t base;

    uint32_t read(uint64_t offset) const {
        return *reinterpret_cast<volatile uint32_t*>(base + offset);
    }
    void write(uint64_t offset, uint32_t value) const {
        *reinterpret_cast<volatile uint32_t*>(base + offset) = value;
    }
    uint64_t read64(uint64_t offset) const {
        return *reinterpret_cast<volatile uint64_t*>(base + offset);
    }
    void write64(uint64_t offset, uint64_t value) const {
        *reinterpret_cast<volatile uint64_t*>(base + offset) = value;
    }
};

// Polls `done` every millisecond for up to two seconds; whether it held.
template <typename Done>
bool within_two_seconds(Timer& timer, Done&& done) {
    for (int i = 0; i < 2000; ++i) {
        if (done())
            return true;
        (void)timer->sleep(1000 * 1000);
    }
    return done();
}

// Claims the function with these ids through the DeviceManager; a Device it
// gives is released at once (the checks want the refusals).
Result<void, gen::CallError> claim_identity(Manager& manager, uint16_t vendor, uint16_t device,
                                            uint16_t index) {
    auto claimed = manager->claim([&](schema::DeviceManager::ClaimParams::Builder params) {
        auto identity = params.init_selector().init_identity();
        identity.set_vendor_id(vendor);
        identity.set_device_id(device);
        identity.set_index(index);
    });
    if (claimed.is_error())
        return Err{claimed.error()};
    (void)rt::release(abi::CapId{claimed.value().device()});
    return {};
}

// The same by the function's address.
Result<void, gen::CallError> claim_address(Manager& manager, schema::PciFunction::Reader function) {
    uint16_t segment = function.segment();
    uint8_t bus = function.bus(), device = function.device(), number = function.function();
    auto claimed = manager->claim([&](schema::DeviceManager::ClaimParams::Builder params) {
        auto address = params.init_selector().init_address();
        address.set_segment(segment);
        address.set_bus(bus);
        address.set_device(device);
        address.set_function(number);
    });
    if (claimed.is_error())
        return Err{claimed.error()};
    (void)rt::release(abi::CapId{claimed.value().device()});
    return {};
}

// "<what>: <rest>", a check's text.
Line titled(std::string_view what, std::string_view rest) {
    Line line(what);
    line.add(": ").add(rest);
    return line;
}

// The byte at `i` of the pattern DMA carries.
uint8_t pattern(uint64_t i) {
    return uint8_t(i * 31 + (i >> 8) + 0x5a);
}

// Waits for the interrupt a finished DMA raises and handles it: acknowledged
// to the kernel, its status bit cleared in the device. The count it ended
// at, 0 when it did not come.
uint64_t dma_finished(std::string_view what, Interrupt& interrupt, const Registers& edu,
                      Timer& timer, uint64_t seen) {
    // The device says so first (its DMA runs on a timer of its own), so a
    // transfer that never ends fails here instead of waiting forever below.
    bool done =
        within_two_seconds(timer, [&] { return (edu.read(interrupt_status) & dma_done) != 0; });
    if (!suite.check(titled(what, "the device reports it done").view(), done,
                     Line("interrupt status ").hex(edu.read(interrupt_status))))
        return 0;
    auto waited = interrupt->wait();
    uint64_t count = waited.is_ok() ? waited.value().count() : 0;
    if (!suite.check(titled(what, "its interrupt arrives").view(), waited.is_ok() && count > seen,
                     waited.is_ok() ? Line("count ").udec(count).add(" after ").udec(seen)
                                    : test::describe(waited.error())))
        return 0;
    suite.check(titled(what, "the command's start bit is clear").view(),
                (edu.read64(dma_command) & dma_start) == 0,
                Line("command ").hex(edu.read64(dma_command)));
    (void)interrupt->acknowledge(count);
    edu.write(interrupt_acknowledge, dma_done);
    return count;
}

// A 1-page DMABuffer's address for the device and its mapping here (0: not
// mapped), with checks of both.
struct Mapped {
    uint64_t device_address = 0;
    uint64_t address = 0;
};
// The lowest device address a buffer may have: with an IOMMU the kernel
// hands them out from 1 MiB.
constexpr uint64_t iommu_first_address = 0x100000;
uint64_t g_first_address = page;

Mapped map_buffer(std::string_view what, Buffer& buffer) {
    Mapped out;
    auto info = buffer->info();
    if (info.is_ok())
        out.device_address = info.value().device_address();
    suite.check(titled(what, "1 page, page aligned, in reach of edu").view(),
                info.is_ok() && info.value().pages() == 1 &&
                    out.device_address >= g_first_address && out.device_address % page == 0 &&
                    out.device_address + page <= edu_dma_limit,
                info.is_ok() ? Line("device address ").hex(out.device_address)
                             : test::describe(info.error()));
    auto mapped = buffer->map(0);
    if (suite.check_ok(titled(what, "maps here").view(), mapped))
        out.address = mapped.value().address();
    return out;
}

bool zeroed(uint64_t address) {
    auto* bytes = reinterpret_cast<volatile uint8_t*>(address);
    for (uint64_t i = 0; i < page; ++i)
        if (bytes[i] != 0)
            return false;
    return true;
}

// A driver turned hostile, under an IOMMU: it programs edu to write into
// memory it does not hold (`released`: a buffer whose DMABuffer it let go,
// whose memory it still maps and fills with a canary; else an address never
// given). The unit faults the write, the fault ends the claim (the Device
// answers disconnected), and the canary is intact. The registers and the
// claim are let go after, so that edu can be claimed again.
void hostile_dma(std::string_view what, Device& device, Timer& timer, bool released) {
    auto region = device->mmio(0);
    if (!suite.check_ok(titled(what, "mmio(0)").view(), region))
        return;
    Mmio mmio(abi::CapId{region.value().region()});
    auto mapped = mmio->map(0);
    if (!suite.check_ok(titled(what, "the window maps").view(), mapped))
        return;
    uint64_t window = mapped.value().address();
    Registers edu{window};
    auto made = device->dma_pool(1);
    if (!suite.check_ok(titled(what, "dmaPool(1)").view(), made))
        return;
    Pool pool(abi::CapId{made.value().pool()});
    auto allocated = pool->allocate(1);
    if (!suite.check_ok(titled(what, "a canary buffer").view(), allocated))
        return;
    Buffer canary(abi::CapId{allocated.value().buffer()});
    Mapped at = map_buffer(titled(what, "the canary buffer").view(), canary);
    if (at.address == 0)
        return;
    auto* bytes = reinterpret_cast<volatile uint8_t*>(at.address);
    for (uint64_t i = 0; i < page; ++i)
        bytes[i] = 0xa5;
    // edu's buffer holds the pattern from the transfers before; what it
    // would write is not the canary.
    uint64_t target = 0x1000;
    if (released) {
        target = at.device_address;
        suite.check_result(titled(what, "release the DMABuffer (its memory stays mapped)").view(),
                           rt::release(canary.leak()), 0);
    }
    edu.write64(dma_source, edu_buffer);
    edu.write64(dma_destination, target);
    edu.write64(dma_count, transfer_bytes);
    edu.write64(dma_command, dma_start | dma_to_memory);
    bool done =
        within_two_seconds(timer, [&] { return (edu.read64(dma_command) & dma_start) == 0; });
    suite.check(titled(what, "the device ran its transfer").view(), done);
    uint64_t changed = page;
    for (uint64_t i = 0; i < page && changed == page; ++i) {
        if (bytes[i] != 0xa5)
            changed = i;
    }
    suite.check(titled(what, "the canary is intact").view(), changed == page,
                Line("byte ").udec(changed).add(" changed"));
    // The fault interrupt comes on its own; a bounded wait for its effect.
    (void)within_two_seconds(timer, [&] {
        auto probe = device->dma_pool(1);
        if (probe.is_error())
            return true;
        (void)rt::release(abi::CapId{probe.value().pool()});
        return false;
    });
    suite.check_exception(
        titled(what, "the fault ended the claim: the Device is disconnected").view(),
        device->dma_pool(1), ExceptionType::Disconnected);
    (void)mmio->unmap(window);
    if (!released)
        (void)canary->unmap(at.address);
    (void)rt::release(mmio.leak());
    (void)rt::release(device.leak());
}

} // namespace

int main() {
    auto timer_cap = rt::lookup<schema::Timer>("timer");
    auto manager_cap = rt::lookup<schema::DeviceManager>("devices");
    auto device_cap = rt::lookup<schema::Device>("edu");
    suite.check("the CapSet has the Device granted as edu", device_cap.is_ok());
    if (timer_cap.is_error() || manager_cap.is_error() || device_cap.is_error())
        return suite.finish();
    Timer& timer = timer_cap.value();
    Manager& manager = manager_cap.value();
    Device& device = device_cap.value();

    // The function as the kernel read it at boot (`function` is read before
    // the next call on the Device, which overwrites the reply).
    auto info = device->info();
    bool is_edu = info.is_ok() && info.value().function().vendor_id() == edu_vendor &&
                  info.value().function().device_id() == edu_device;
    suite.check("info: vendor 0x1234, device 0x11e8", is_edu,
                info.is_ok() ? Line("ids ")
                                   .hex(info.value().function().vendor_id())
                                   .add(':')
                                   .hex(info.value().function().device_id())
                             : test::describe(info.error()));
    if (!is_edu)
        return suite.finish();
    // With an IOMMU (the scenario's intel-iommu) the claim has a domain of
    // its own and its device addresses are the kernel's, from 1 MiB up.
    bool isolated = info.value().dma_isolated();
    suite.check(isolated ? "info: its DMA is isolated (an IOMMU domain)"
                         : "info: its DMA is not isolated (no IOMMU here)",
                true);
    g_first_address = isolated ? iommu_first_address : page;
    auto function = info.value().function();

    // Claims the DeviceManager refuses while this one lasts.
    suite.check_exception("claiming edu again by identity fails (claimed already)",
                          claim_identity(manager, edu_vendor, edu_device, 0),
                          ExceptionType::Failed);
    suite.check_exception("claiming edu again by address fails (claimed already)",
                          claim_address(manager, function), ExceptionType::Failed);
    suite.check_exception("claiming a second edu (index 1, there is none) fails",
                          claim_identity(manager, edu_vendor, edu_device, 1),
                          ExceptionType::Failed);
    suite.check_exception("claiming ids no function has fails",
                          claim_identity(manager, 0xdead, 0xbeef, 0), ExceptionType::Failed);
    suite.check_exception("claiming the host bridge 8086:29c0 fails",
                          claim_identity(manager, 0x8086, 0x29c0, 0), ExceptionType::Failed);

    // Registers.
    auto region = device->mmio(0);
    if (!suite.check_ok("mmio(0): BAR 0's window", region))
        return suite.finish();
    Mmio mmio(abi::CapId{region.value().region()});
    auto window = mmio->info();
    suite.check(
        "its info: BAR 0, 1 MiB",
        window.is_ok() && window.value().bar() == 0 && window.value().bytes() == 1024 * 1024,
        window.is_ok()
            ? Line("bar ").udec(window.value().bar()).add(", bytes ").hex(window.value().bytes())
            : test::describe(window.error()));
    auto mapped = mmio->map(0);
    if (!suite.check_ok("the window maps here", mapped))
        return suite.finish();
    uint64_t window_address = mapped.value().address();
    Registers edu{window_address};
    uint32_t id = edu.read(identification);
    suite.check("the identification register reads 0x010000ed", id == edu_identification,
                Line("read ").hex(id));
    edu.write(liveness, 0x12345678);
    uint32_t inverted = edu.read(liveness);
    suite.check("the liveness register gives back the inverse", inverted == ~0x12345678u,
                Line("read ").hex(inverted));
    edu.write(factorial, 5);
    bool computed =
        within_two_seconds(timer, [&] { return (edu.read(status) & status_computing) == 0; });
    uint32_t product = edu.read(factorial);
    suite.check("the factorial of 5 is 120", computed && product == 120,
                Line(computed ? "read " : "still computing, read ").udec(product));
    for (uint8_t bar : {uint8_t{1}, uint8_t{5}, uint8_t{6}}) {
        Line what;
        what.add("mmio(").udec(bar).add("): no such BAR, invalidArgument");
        auto absent = device->mmio(bar);
        if (absent.is_ok())
            (void)rt::release(abi::CapId{absent.value().region()});
        suite.check_exception(what.view(), absent, ExceptionType::InvalidArgument);
    }

    // The MSI: raised by a write to 0x60, lowered by one to 0x64.
    auto routed = device->interrupt(0);
    if (!suite.check_ok("interrupt(0): its MSI", routed))
        return suite.finish();
    Interrupt interrupt(abi::CapId{routed.value().interrupt()});
    auto again = device->interrupt(0);
    if (again.is_ok())
        (void)rt::release(abi::CapId{again.value().interrupt()});
    suite.check("a second Interrupt for entry 0 is refused", again.is_error());
    auto beyond = device->interrupt(1);
    if (beyond.is_ok())
        (void)rt::release(abi::CapId{beyond.value().interrupt()});
    suite.check_exception("interrupt(1): an MSI has entry 0 only, invalidArgument", beyond,
                          ExceptionType::InvalidArgument);
    suite.check_exception("mask of an MSI is unimplemented", interrupt->mask(),
                          ExceptionType::Unimplemented);
    edu.write(interrupt_raise, 0x1);
    auto waited = interrupt->wait();
    uint64_t count = waited.is_ok() ? waited.value().count() : 0;
    suite.check("raised through 0x60, wait answers with a count of at least 1",
                waited.is_ok() && count >= 1,
                waited.is_ok() ? Line("count ").udec(count) : test::describe(waited.error()));
    uint32_t raised = edu.read(interrupt_status);
    suite.check("the interrupt status says why", raised == 0x1, Line("read ").hex(raised));
    edu.write(interrupt_acknowledge, 0x1);
    suite.check("0x64 lowers it", edu.read(interrupt_status) == 0);
    suite.check_exception("acknowledge past the count is invalidArgument",
                          interrupt->acknowledge(count + 1), ExceptionType::InvalidArgument);
    suite.check_ok("acknowledge the count", interrupt->acknowledge(count));

    // DMA: memory to the device, then the device to other memory.
    auto made = device->dma_pool(4);
    if (!suite.check_ok("dmaPool(4)", made))
        return suite.finish();
    Pool pool(abi::CapId{made.value().pool()});
    auto first = pool->allocate(1);
    if (!suite.check_ok("allocate a 1-page buffer", first))
        return suite.finish();
    Buffer source(abi::CapId{first.value().buffer()});
    Mapped from = map_buffer("the first buffer", source);
    if (from.address == 0)
        return suite.finish();
    suite.check("it is zeroed", zeroed(from.address));
    auto* out = reinterpret_cast<volatile uint8_t*>(from.address);
    for (uint64_t i = 0; i < page; ++i)
        out[i] = pattern(i);
    edu.write64(dma_source, from.device_address);
    edu.write64(dma_destination, edu_buffer);
    edu.write64(dma_count, transfer_bytes);
    edu.write64(dma_command, dma_start | dma_interrupt);
    count = dma_finished("memory to device", interrupt, edu, timer, count);

    auto second = pool->allocate(1);
    if (!suite.check_ok("allocate a second 1-page buffer", second))
        return suite.finish();
    Buffer destination(abi::CapId{second.value().buffer()});
    Mapped to = map_buffer("the second buffer", destination);
    if (to.address == 0)
        return suite.finish();
    edu.write64(dma_source, edu_buffer);
    edu.write64(dma_destination, to.device_address);
    edu.write64(dma_count, transfer_bytes);
    edu.write64(dma_command, dma_start | dma_to_memory | dma_interrupt);
    if (count != 0)
        count = dma_finished("device to memory", interrupt, edu, timer, count);
    auto* in = reinterpret_cast<volatile uint8_t*>(to.address);
    uint64_t differ = transfer_bytes;
    for (uint64_t i = 0; i < transfer_bytes && differ == transfer_bytes; ++i) {
        if (in[i] != pattern(i))
            differ = i;
    }
    suite.check("the second buffer holds the pattern, byte for byte", differ == transfer_bytes,
                Line("first difference at byte ").udec(differ));
    uint64_t written = page;
    for (uint64_t i = page; i > transfer_bytes && written == page; --i) {
        if (in[i - 1] != 0)
            written = i - 1;
    }
    suite.check("and nothing past the bytes moved", written == page,
                Line("byte ").udec(written).add(" written"));

    // The pool's budget: 2 of 4 pages taken.
    suite.check_exception("allocate 3 pages (2 are left) is invalidArgument", pool->allocate(3),
                          ExceptionType::InvalidArgument);
    auto rest = pool->allocate(2);
    if (suite.check_ok("allocate the 2 pages left", rest))
        (void)rt::release(abi::CapId{rest.value().buffer()});
    auto used = pool->info();
    suite.check("the pool's info: 4 pages, 4 used",
                used.is_ok() && used.value().pages() == 4 && used.value().used() == 4);
    suite.check_exception("allocate 1 more page is invalidArgument", pool->allocate(1),
                          ExceptionType::InvalidArgument);
    suite.check_ok("unmap the first buffer", source->unmap(from.address));
    suite.check_ok("unmap the second buffer", destination->unmap(to.address));

    // A reset: every handle made before is stale (a wait too); the Device
    // goes on, and gives new ones.
    suite.check_ok("reset the device", device->reset());
    suite.check_exception("after the reset, Interrupt.wait is disconnected", interrupt->wait(),
                          ExceptionType::Disconnected);
    suite.check_exception("after the reset, DMAPool.allocate is disconnected", pool->allocate(1),
                          ExceptionType::Disconnected);
    suite.check_exception("after the reset, DMABuffer.info is disconnected", source->info(),
                          ExceptionType::Disconnected);
    suite.check_exception("after the reset, DeviceMmio.map is disconnected", mmio->map(0),
                          ExceptionType::Disconnected);
    suite.check("the register window mapped before still reaches edu",
                edu.read(identification) == edu_identification);
    auto rerouted = device->interrupt(0);
    if (!suite.check_ok("interrupt(0) again after the reset", rerouted))
        return suite.finish();
    Interrupt interrupt2(abi::CapId{rerouted.value().interrupt()});
    edu.write(interrupt_raise, 0x1);
    waited = interrupt2->wait();
    suite.check("raised again, the new Interrupt's wait answers", waited.is_ok(),
                waited.is_ok() ? Line("count ").udec(waited.value().count())
                               : test::describe(waited.error()));
    count = waited.is_ok() ? waited.value().count() : 0;
    edu.write(interrupt_acknowledge, 0x1);
    auto remade = device->dma_pool(1);
    if (!suite.check_ok("dmaPool(1) again after the reset", remade))
        return suite.finish();
    Pool pool2(abi::CapId{remade.value().pool()});
    auto fresh = pool2->allocate(1);
    if (!suite.check_ok("allocate from it", fresh))
        return suite.finish();
    Buffer source2(abi::CapId{fresh.value().buffer()});

    // The end of the claim: the Device released (the register window stays
    // mapped), everything else of the claim is disconnected.
    suite.check_result("release the Device", rt::release(device.leak()), 0);
    suite.check_exception("then DeviceMmio.map is disconnected", mmio->map(0),
                          ExceptionType::Disconnected);
    suite.check_exception("Interrupt.acknowledge is disconnected", interrupt2->acknowledge(count),
                          ExceptionType::Disconnected);
    suite.check_exception("DMAPool.allocate is disconnected", pool2->allocate(1),
                          ExceptionType::Disconnected);
    suite.check_exception("DMABuffer.info is disconnected", source2->info(),
                          ExceptionType::Disconnected);
    suite.check_exception("DMABuffer.map is disconnected", destination->map(0),
                          ExceptionType::Disconnected);
    suite.check_exception("claiming edu while its registers are still mapped fails",
                          claim_identity(manager, edu_vendor, edu_device, 0),
                          ExceptionType::Failed);
    suite.check_ok("unmap the register window", mmio->unmap(window_address));
    suite.check_exception("claiming edu while its DeviceMmio is still held fails",
                          claim_identity(manager, edu_vendor, edu_device, 0),
                          ExceptionType::Failed);
    suite.check_result("release the DeviceMmio", rt::release(mmio.leak()), 0);
    auto reclaimed = manager->claim([&](schema::DeviceManager::ClaimParams::Builder params) {
        auto identity = params.init_selector().init_identity();
        identity.set_vendor_id(edu_vendor);
        identity.set_device_id(edu_device);
        identity.set_index(0);
    });
    if (suite.check_ok("then edu is claimed again", reclaimed)) {
        Device edu_again(abi::CapId{reclaimed.value().device()});
        auto again_info = edu_again->info();
        suite.check("and the new Device is edu",
                    again_info.is_ok() && again_info.value().function().vendor_id() == edu_vendor &&
                        again_info.value().function().device_id() == edu_device);
        // Its DMA aimed where the claim was never given memory: low memory
        // (a page of the kernel's, were the address physical).
        if (isolated)
            hostile_dma("DMA to memory never given", edu_again, timer, false);
    }
    // A buffer used after its release (its memory still mapped here).
    if (isolated) {
        auto third = manager->claim([&](schema::DeviceManager::ClaimParams::Builder params) {
            auto identity = params.init_selector().init_identity();
            identity.set_vendor_id(edu_vendor);
            identity.set_device_id(edu_device);
            identity.set_index(0);
        });
        if (suite.check_ok("edu is claimed a third time", third)) {
            Device edu_third(abi::CapId{third.value().device()});
            hostile_dma("DMA to a released buffer", edu_third, timer, true);
        }
    }
    return suite.finish();
}
