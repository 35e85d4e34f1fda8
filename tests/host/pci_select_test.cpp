// lib/pci/select: which function a manifest's DeviceSelector names, and
// which functions a driver may hold.
#include "lib/pci/select.h"

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

} // namespace
