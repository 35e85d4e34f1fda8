// lib/pci/select: which function a manifest's DeviceSelector names, and
// which functions a driver may hold.
#include "lib/pci/select.h"

#include <map>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace capos::pci;

Function function_at(uint8_t bus, uint8_t device, uint8_t fn, uint16_t vendor, uint16_t id) {
    Function function;
    function.address = {0, bus, device, fn};
    function.header.vendor = vendor;
    function.header.device = id;
    return function;
}

// In address order, as the scan records them: two virtio-blk disks with a
// NIC between them, and an NVMe controller behind a bridge.
std::vector<Function> machine() {
    std::vector<Function> functions = {
        function_at(0, 0, 0, 0x8086, 0x29c0), function_at(0, 3, 0, 0x1af4, 0x1042),
        function_at(0, 4, 0, 0x8086, 0x10d3), function_at(0, 5, 0, 0x1af4, 0x1042),
        function_at(0, 6, 0, 0x1b36, 0x000c), function_at(1, 0, 0, 0x1b36, 0x0010),
    };
    functions[0].header.class_code = 0x06;
    functions[0].header.subclass = 0x00;
    functions[4].header.header_type = 1;
    return functions;
}

Selector identity(uint16_t vendor, uint16_t device, uint16_t index) {
    return {.kind = Selector::Kind::Identity, .vendor = vendor, .device = device, .index = index};
}

Selector address(uint16_t segment, uint8_t bus, uint8_t device, uint8_t fn) {
    return {.kind = Selector::Kind::Address, .address = {segment, bus, device, fn}};
}

TEST(PciSelect, IdentityCountsMatchesInAddressOrder) {
    auto functions = machine();
    EXPECT_EQ(select(functions, identity(0x1af4, 0x1042, 0)), 1u);
    EXPECT_EQ(select(functions, identity(0x1af4, 0x1042, 1)), 3u);
    EXPECT_EQ(select(functions, identity(0x1af4, 0x1042, 2)), std::nullopt);
    EXPECT_EQ(select(functions, identity(0x1b36, 0x0010, 0)), 5u);
}

TEST(PciSelect, IdentityNeedsBothIds) {
    auto functions = machine();
    EXPECT_EQ(select(functions, identity(0x1af4, 0x1000, 0)), std::nullopt);
    EXPECT_EQ(select(functions, identity(0x1b36, 0x1042, 0)), std::nullopt);
    EXPECT_EQ(select(functions, identity(0xffff, 0xffff, 0)), std::nullopt);
}

TEST(PciSelect, AddressNeedsEveryPart) {
    auto functions = machine();
    EXPECT_EQ(select(functions, address(0, 0, 4, 0)), 2u);
    EXPECT_EQ(select(functions, address(0, 1, 0, 0)), 5u);
    EXPECT_EQ(select(functions, address(1, 0, 4, 0)), std::nullopt);
    EXPECT_EQ(select(functions, address(0, 0, 4, 1)), std::nullopt);
    EXPECT_EQ(select(functions, address(0, 2, 0, 0)), std::nullopt);
    EXPECT_EQ(select(functions, address(0, 0, 7, 0)), std::nullopt);
}

TEST(PciSelect, NothingRecordedSelectsNothing) {
    EXPECT_EQ(select({}, identity(0x1af4, 0x1042, 0)), std::nullopt);
    EXPECT_EQ(select({}, address(0, 0, 0, 0)), std::nullopt);
}

TEST(PciSelect, BridgesAndHostBridgesAreNotForDrivers) {
    auto functions = machine();
    EXPECT_EQ(claimable(functions[0]), Unclaimable::HostBridge);
    EXPECT_EQ(claimable(functions[1]), Unclaimable::None);
    EXPECT_EQ(claimable(functions[4]), Unclaimable::Bridge);
    functions[4].header.header_type = 2; // CardBus
    EXPECT_EQ(claimable(functions[4]), Unclaimable::Bridge);
    // Another class 06 function (an ISA bridge) is a device like any other.
    functions[2].header.class_code = 0x06;
    functions[2].header.subclass = 0x01;
    EXPECT_EQ(claimable(functions[2]), Unclaimable::None);
    EXPECT_STREQ(to_string(Unclaimable::HostBridge), "a host bridge");
}

// Each function's command and status register; every write recorded.
class CommandRegisters final : public ConfigAccess {
public:
    std::map<uint32_t, uint32_t> registers; // by bus, device, function
    std::vector<FunctionAddress> written;

    static uint32_t key(FunctionAddress at) {
        return uint32_t(at.bus) << 8 | uint32_t(at.device) << 3 | at.function;
    }
    uint32_t read32(FunctionAddress at, uint16_t offset) override {
        EXPECT_EQ(offset, 0x04);
        return registers[key(at)];
    }
    void write32(FunctionAddress at, uint16_t offset, uint32_t value) override {
        EXPECT_EQ(offset, 0x04);
        written.push_back(at);
        registers[key(at)] = value;
    }
};

// What firmware left mastering the bus stops, but for the bridges (the path
// of the DMA of the functions behind them) and the host bridge; what was
// not a bus master is not written.
TEST(PciSelect, StopBusMastersStopsTheFunctionsDriversMayHold) {
    auto functions = machine();
    CommandRegisters config;
    // Memory decoding and bus mastering on, and a status bit (write one to
    // clear) that must not be written back as one.
    constexpr uint32_t on = uint32_t(0x0010) << 16 | command_memory | command_bus_master;
    for (size_t i : {0, 1, 4, 5}) {
        config.registers[CommandRegisters::key(functions[i].address)] = on;
        functions[i].header.command = uint16_t(on);
    }
    functions[2].header.command = command_memory; // the NIC: not a bus master
    config.registers[CommandRegisters::key(functions[2].address)] = command_memory;

    EXPECT_EQ(stop_bus_masters(config, functions), 2u);
    ASSERT_EQ(config.written.size(), 2u);
    EXPECT_EQ(CommandRegisters::key(config.written[0]),
              CommandRegisters::key(functions[1].address));
    EXPECT_EQ(CommandRegisters::key(config.written[1]),
              CommandRegisters::key(functions[5].address));
    for (size_t i : {1, 5}) {
        EXPECT_EQ(config.registers[CommandRegisters::key(functions[i].address)], command_memory);
        EXPECT_EQ(functions[i].header.command, command_memory);
    }
    for (size_t i : {0, 4})
        EXPECT_EQ(functions[i].header.command, uint16_t(on));
    EXPECT_EQ(functions[2].header.command, command_memory);
    // Once stopped, nothing is left to stop.
    EXPECT_EQ(stop_bus_masters(config, functions), 0u);
    EXPECT_EQ(config.written.size(), 2u);
}

// QEMU's virtio-pci: the table and the PBA in BAR 1 (4 KiB), the registers
// in BAR 4; its NVMe: both in BAR 0 past the doorbells.
TEST(PciSelect, KernelPagesAreTheMsixTableAndPba) {
    Function function;
    EXPECT_TRUE(kernel_pages(function, 0, 0x4000)[0].empty());
    EXPECT_TRUE(kernel_pages(function, 0, 0x4000)[1].empty());
    function.has_msix = true;
    function.msix = {
        .table_size = 3, .table_bar = 1, .table_offset = 0, .pba_bar = 1, .pba_offset = 0x800};
    auto bar1 = kernel_pages(function, 1, 0x1000);
    EXPECT_EQ(bar1[0].first, 0u);
    EXPECT_EQ(bar1[0].end, 1u);
    EXPECT_EQ(bar1[1].first, 0u);
    EXPECT_EQ(bar1[1].end, 1u);
    auto bar4 = kernel_pages(function, 4, 0x4000);
    EXPECT_TRUE(bar4[0].empty());
    EXPECT_TRUE(bar4[1].empty());

    function.msix = {.table_size = 65,
                     .table_bar = 0,
                     .table_offset = 0x2000,
                     .pba_bar = 0,
                     .pba_offset = 0x3000};
    auto bar0 = kernel_pages(function, 0, 0x4000);
    EXPECT_EQ(bar0[0].first, 2u);
    EXPECT_EQ(bar0[0].end, 3u);
    EXPECT_EQ(bar0[1].first, 3u);
    EXPECT_EQ(bar0[1].end, 4u);
    // A table that runs over a page boundary takes both pages.
    function.msix.table_offset = 0x1ff0;
    bar0 = kernel_pages(function, 0, 0x4000);
    EXPECT_EQ(bar0[0].first, 1u);
    EXPECT_EQ(bar0[0].end, 3u);
    // 2048 entries: 32 KiB of table; the PBA's 256 bytes.
    function.msix = {.table_size = 2048,
                     .table_bar = 2,
                     .table_offset = 0x10000,
                     .pba_bar = 2,
                     .pba_offset = 0x18000};
    auto bar2 = kernel_pages(function, 2, 0x20000);
    EXPECT_EQ(bar2[0].first, 16u);
    EXPECT_EQ(bar2[0].end, 24u);
    EXPECT_EQ(bar2[1].first, 24u);
    EXPECT_EQ(bar2[1].end, 25u);
    // Past the window (a device's garbage): clipped, or nothing.
    auto small = kernel_pages(function, 2, 0x11000);
    EXPECT_EQ(small[0].first, 16u);
    EXPECT_EQ(small[0].end, 17u);
    EXPECT_TRUE(small[1].empty());
}

} // namespace
