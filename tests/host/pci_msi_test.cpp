// lib/pci/msi: what MSI and MSI-X programming writes, and where, against a
// function's configuration space in memory (PCI Local Bus 3.0, 6.8).
#include "lib/pci/msi.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace capos::pci;

// One function's 256 bytes; the status half of the command register is
// write-one-to-clear, as on a real function.
class FakeConfig final : public ConfigAccess {
public:
    std::array<uint8_t, 256> space{};
    std::vector<uint16_t> written; // offsets, in order

    uint32_t load(uint16_t offset) const {
        uint32_t value;
        std::memcpy(&value, space.data() + offset, 4);
        return value;
    }
    void store(uint16_t offset, uint32_t value) { std::memcpy(space.data() + offset, &value, 4); }
    uint16_t load16(uint16_t offset) const {
        return uint16_t(load(offset & ~3u) >> ((offset & 2) * 8));
    }

    uint32_t read32(FunctionAddress, uint16_t offset) override {
        EXPECT_EQ(offset % 4, 0);
        return load(offset);
    }
    void write32(FunctionAddress, uint16_t offset, uint32_t value) override {
        EXPECT_EQ(offset % 4, 0);
        written.push_back(offset);
        if (offset == 0x04) {
            uint16_t status = uint16_t(load(0x04) >> 16);
            status = uint16_t(status & ~uint16_t(value >> 16));
            store(0x04, uint32_t(status) << 16 | (value & 0xffff));
            return;
        }
        store(offset, value);
    }
};

constexpr FunctionAddress at{};
constexpr uint8_t cap = 0x50;

// An MSI capability at 0x50 with `control`, parsed as the scan would.
MsiCapability msi_at(FakeConfig& config, uint16_t control) {
    config.space[cap] = capability_msi;
    config.space[cap + 1] = 0;
    config.space[cap + 2] = uint8_t(control);
    config.space[cap + 3] = uint8_t(control >> 8);
    auto parsed = parse_msi(config.space, cap);
    EXPECT_TRUE(parsed.is_ok());
    return parsed.value();
}

TEST(PciMsi, LayoutFollowsTheCapabilityKind) {
    FakeConfig config;
    MsiLayout plain = msi_layout(msi_at(config, 0x0000));
    EXPECT_EQ(plain.address_low, cap + 4);
    EXPECT_EQ(plain.address_high, 0);
    EXPECT_EQ(plain.data, cap + 8);
    EXPECT_EQ(plain.mask, 0);
    MsiLayout wide = msi_layout(msi_at(config, 0x0080));
    EXPECT_EQ(wide.address_high, cap + 8);
    EXPECT_EQ(wide.data, cap + 12);
    EXPECT_EQ(wide.mask, 0);
    MsiLayout masked = msi_layout(msi_at(config, 0x0180));
    EXPECT_EQ(masked.mask, cap + 16);
    MsiLayout masked_plain = msi_layout(msi_at(config, 0x0100));
    EXPECT_EQ(masked_plain.data, cap + 8);
    EXPECT_EQ(masked_plain.mask, cap + 12);
}

TEST(PciMsi, EnableWritesTheMessageThenTurnsMsiOnAndIntxOff) {
    FakeConfig config;
    // 64-bit, per-vector masking, four vectors capable, two enabled, mask bit 0 set.
    MsiCapability msi = msi_at(config, 0x0180 | (2 << 1) | (1 << 4));
    config.store(cap + 16, 0x3);
    config.store(0x04, 0x0002 | (uint32_t(0x8000) << 16)); // a status bit set
    ASSERT_TRUE(msi_enable(config, at, msi, 0x1'FEE0'0000ull, 0x4041));
    EXPECT_EQ(config.load(cap + 4), 0xFEE00000u);
    EXPECT_EQ(config.load(cap + 8), 0x1u);
    EXPECT_EQ(config.load16(cap + 12), 0x4041);
    EXPECT_EQ(config.load(cap + 16), 0x2u); // vector 0 unmasked, the others left
    uint16_t control = config.load16(cap + 2);
    EXPECT_EQ(control & 1, 1);                      // enabled
    EXPECT_EQ((control >> 4) & 7, 0);               // one vector
    EXPECT_EQ((control >> 1) & 7, 2);               // capability bits untouched
    EXPECT_EQ(config.load(0x04) & 0xffff, 0x0406u); // bus master, INTx off, decoding kept
    EXPECT_EQ(config.load(0x04) >> 16, 0x8000u);    // no status bit written back
    // Enabled last: the control register's final write comes after the message's.
    ASSERT_FALSE(config.written.empty());
    EXPECT_EQ(config.written.back(), cap);
    size_t first_control = 0;
    while (config.written[first_control] != cap)
        ++first_control;
    size_t address_write = 0;
    while (config.written[address_write] != cap + 4)
        ++address_write;
    EXPECT_LT(first_control, address_write); // turned off before the message changed
}

TEST(PciMsi, ThirtyTwoBitFunctionRefusesAHighAddress) {
    FakeConfig config;
    MsiCapability msi = msi_at(config, 0x0000);
    EXPECT_FALSE(msi_enable(config, at, msi, 0x1'0000'0000ull, 1));
    EXPECT_TRUE(config.written.empty());
    ASSERT_TRUE(msi_enable(config, at, msi, 0xFEE01000, 0x55));
    EXPECT_EQ(config.load(cap + 4), 0xFEE01000u);
    EXPECT_EQ(config.load16(cap + 8), 0x55);
    msi_disable(config, at, msi);
    EXPECT_EQ(config.load16(cap + 2) & 1, 0);
}

TEST(PciMsi, IntxDisableTouchesOnlyItsBit) {
    FakeConfig config;
    config.store(0x04, 0x0406 | (uint32_t(0x0010) << 16));
    set_intx_disabled(config, at, false);
    EXPECT_EQ(config.load(0x04), 0x0006u | (uint32_t(0x0010) << 16));
    set_intx_disabled(config, at, true);
    EXPECT_EQ(config.load(0x04), 0x0406u | (uint32_t(0x0010) << 16));
}

TEST(PciMsix, EntriesAreWrittenMaskedAndUnmaskedLast) {
    std::array<uint32_t, 4 * 4> table{};
    for (uint32_t& word : table)
        word = 0xdeadbeef;
    table[3] = 1; // masked, as after reset
    msix_write_entry(table.data(), 2, 0xFEE0'3000, 0x77, true);
    EXPECT_EQ(table[8], 0xFEE03000u);
    EXPECT_EQ(table[9], 0u);
    EXPECT_EQ(table[10], 0x77u);
    EXPECT_TRUE(msix_masked(table.data(), 2));
    EXPECT_EQ(table[0], 0xdeadbeefu); // the neighbours untouched
    EXPECT_EQ(table[12], 0xdeadbeefu);
    msix_set_masked(table.data(), 2, false);
    EXPECT_FALSE(msix_masked(table.data(), 2));
    EXPECT_EQ(table[11], 0xdeadbeeeu); // only bit 0 changed
    msix_write_entry(table.data(), 0, 0x1'FEE0'0000ull, 0x41, false);
    EXPECT_EQ(table[1], 1u);
    EXPECT_FALSE(msix_masked(table.data(), 0));
}

TEST(PciMsix, ControlSetsEnableAndFunctionMask) {
    FakeConfig config;
    config.space[cap] = capability_msix;
    config.space[cap + 2] = 0x07; // 8 entries
    config.store(cap + 4, 0x2000 | 1);
    config.store(cap + 8, 0x3000 | 1);
    auto msix = parse_msix(config.space, cap);
    ASSERT_TRUE(msix.is_ok());
    msix_set_control(config, at, msix.value(), true, true);
    EXPECT_EQ(config.load16(cap + 2), 0xC007);
    EXPECT_EQ(config.load(0x04) & 0x0404, 0x0404u); // bus master, INTx off
    msix_set_control(config, at, msix.value(), true, false);
    EXPECT_EQ(config.load16(cap + 2), 0x8007);
    msix_set_control(config, at, msix.value(), false, false);
    EXPECT_EQ(config.load16(cap + 2), 0x0007);
}

} // namespace
