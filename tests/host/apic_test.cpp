// Host tests for lib/apic: interprocessor interrupt encodings in both local
// APIC modes (checked against the bit positions of the Intel SDM, vol. 3,
// 11.6.1 and 11.12.9), x2APIC MSR numbers, ISA routing through interrupt
// source overrides (QEMU's MADT and odd flags), I/O APIC redirection entries
// and pin lookup across several I/O APICs, and MSI messages.
#include "lib/apic/apic.h"

#include <array>
#include <cstdint>

#include <gtest/gtest.h>

namespace capos::apic {
namespace {

TEST(ApicRegisters, X2apicMsrs) {
    EXPECT_EQ(x2apic_msr(Register::Id), 0x802u);
    EXPECT_EQ(x2apic_msr(Register::EndOfInterrupt), 0x80Bu);
    EXPECT_EQ(x2apic_msr(Register::SpuriousVector), 0x80Fu);
    EXPECT_EQ(x2apic_msr(Register::InterruptCommand), 0x830u);
    EXPECT_EQ(x2apic_msr(Register::LvtTimer), 0x832u);
    EXPECT_EQ(x2apic_msr(Register::TimerInitialCount), 0x838u);
    EXPECT_EQ(x2apic_msr(Register::TimerCurrentCount), 0x839u);
    EXPECT_EQ(x2apic_msr(Register::TimerDivide), 0x83Eu);
}

TEST(ApicRegisters, LocalApicId) {
    EXPECT_EQ(local_apic_id(0x03000000, false), 3u);
    EXPECT_EQ(local_apic_id(0xFF000000, false), 255u);
    EXPECT_EQ(local_apic_id(0x00000103, true), 0x103u);
}

TEST(Ipi, FixedToDestination) {
    Ipi ipi{.vector = 0xF1, .destination = 3};
    EXPECT_EQ(icr_low(ipi), 0x000040F1u); // vector, fixed, assert, edge
    EXPECT_EQ(xapic_icr_high(3), 0x03000000u);
    EXPECT_EQ(x2apic_icr(ipi), 0x00000003000040F1ull);
}

TEST(Ipi, Shorthands) {
    EXPECT_EQ(icr_low({.vector = 0x40, .shorthand = Shorthand::Self}), 0x00044040u);
    EXPECT_EQ(icr_low({.vector = 0x40, .shorthand = Shorthand::AllIncludingSelf}), 0x00084040u);
    EXPECT_EQ(icr_low({.vector = 0x40, .shorthand = Shorthand::AllExcludingSelf}), 0x000C4040u);
}

TEST(Ipi, InitAndStartup) {
    // INIT assert (level), INIT de-assert, then SIPI with the start page.
    EXPECT_EQ(icr_low({.mode = DeliveryMode::Init, .level_trigger = true}), 0x0000C500u);
    EXPECT_EQ(icr_low({.mode = DeliveryMode::Init, .assert_level = false, .level_trigger = true}),
              0x00008500u);
    EXPECT_EQ(icr_low({.vector = 0x08, .mode = DeliveryMode::Startup}), 0x00004608u);
    EXPECT_EQ(icr_low({.mode = DeliveryMode::Nmi}), 0x00004400u);
}

TEST(Ipi, XapicCannotNameLargeIds) {
    EXPECT_EQ(xapic_icr_high(255), 0xFF000000u);
    EXPECT_FALSE(xapic_icr_high(256).has_value());
    Ipi ipi{.vector = 0x30, .destination = 0x1234};
    EXPECT_EQ(x2apic_icr(ipi) >> 32, 0x1234u);
}

// QEMU's MADT: IRQ 0 to GSI 2, and IRQs 5, 9, 10, 11 level, active high.
constexpr std::array<SourceOverride, 5> qemu_overrides{{
    {0, 2, 0x0},
    {5, 5, 0xD},
    {9, 9, 0xD},
    {10, 10, 0xD},
    {11, 11, 0xD},
}};

TEST(IsaRoute, QemuOverrides) {
    IsaRoute timer = route_isa_irq(0, qemu_overrides);
    EXPECT_EQ(timer.gsi, 2u);
    EXPECT_EQ(timer.polarity, Polarity::ActiveHigh);
    EXPECT_EQ(timer.trigger, Trigger::Edge);

    IsaRoute com1 = route_isa_irq(4, qemu_overrides); // no override
    EXPECT_EQ(com1.gsi, 4u);
    EXPECT_EQ(com1.polarity, Polarity::ActiveHigh);
    EXPECT_EQ(com1.trigger, Trigger::Edge);

    IsaRoute sci = route_isa_irq(9, qemu_overrides);
    EXPECT_EQ(sci.gsi, 9u);
    EXPECT_EQ(sci.polarity, Polarity::ActiveHigh);
    EXPECT_EQ(sci.trigger, Trigger::Level);
}

TEST(IsaRoute, FlagsOfEveryKind) {
    // Active low (3), level (3 << 2), and the reserved value 2 read as ISA's.
    std::array<SourceOverride, 3> overrides{{{4, 20, 0xF}, {3, 19, 0x3}, {7, 7, 0xA}}};
    IsaRoute low_level = route_isa_irq(4, overrides);
    EXPECT_EQ(low_level.gsi, 20u);
    EXPECT_EQ(low_level.polarity, Polarity::ActiveLow);
    EXPECT_EQ(low_level.trigger, Trigger::Level);
    IsaRoute low_edge = route_isa_irq(3, overrides);
    EXPECT_EQ(low_edge.polarity, Polarity::ActiveLow);
    EXPECT_EQ(low_edge.trigger, Trigger::Edge);
    IsaRoute reserved = route_isa_irq(7, overrides);
    EXPECT_EQ(reserved.polarity, Polarity::ActiveHigh);
    EXPECT_EQ(reserved.trigger, Trigger::Edge);
    // The first override of a source wins; none at all is the identity.
    EXPECT_EQ(route_isa_irq(1, {}).gsi, 1u);
}

TEST(IoApic, Registers) {
    EXPECT_EQ(ioapic_redirection_low(0), 0x10);
    EXPECT_EQ(ioapic_redirection_high(0), 0x11);
    EXPECT_EQ(ioapic_redirection_low(23), 0x3E);
    EXPECT_EQ(ioapic_redirection_high(23), 0x3F);
    EXPECT_EQ(ioapic_pin_count(0x00170020), 24u); // QEMU's I/O APIC
}

TEST(IoApic, RedirectionEntries) {
    Redirection entry{.vector = 0x34,
                      .polarity = Polarity::ActiveLow,
                      .trigger = Trigger::Level,
                      .masked = false,
                      .destination = 2};
    uint64_t value = encode_redirection(entry);
    EXPECT_EQ(value, 0x020000000000A034ull);
    Redirection back = decode_redirection(value);
    EXPECT_EQ(back.vector, 0x34);
    EXPECT_EQ(back.mode, DeliveryMode::Fixed);
    EXPECT_EQ(back.polarity, Polarity::ActiveLow);
    EXPECT_EQ(back.trigger, Trigger::Level);
    EXPECT_FALSE(back.masked);
    EXPECT_EQ(back.destination, 2);

    EXPECT_EQ(encode_redirection({}), 0x10000ull); // masked by default
    EXPECT_EQ(encode_redirection({.vector = 0x21, .masked = false}), 0x21ull);
    EXPECT_EQ(decode_redirection(0x700).mode, DeliveryMode::ExtInt);
}

TEST(IoApic, PinLookup) {
    std::array<uint32_t, 2> bases{0, 24};
    std::array<uint32_t, 2> counts{24, 32};
    auto first = find_io_apic_pin(4, bases, counts);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->io_apic, 0u);
    EXPECT_EQ(first->pin, 4u);
    auto second = find_io_apic_pin(30, bases, counts);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->io_apic, 1u);
    EXPECT_EQ(second->pin, 6u);
    EXPECT_FALSE(find_io_apic_pin(56, bases, counts).has_value());
    EXPECT_FALSE(find_io_apic_pin(4, {}, {}).has_value());
    // A base above the GSI does not wrap around.
    std::array<uint32_t, 1> high{100};
    std::array<uint32_t, 1> one{24};
    EXPECT_FALSE(find_io_apic_pin(4, high, one).has_value());
}

TEST(Msi, Messages) {
    auto message = msi_message(3, 0x41);
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->address, 0xFEE03000ull);
    EXPECT_EQ(message->data, 0x41u); // fixed, edge
    EXPECT_FALSE(msi_message(256, 0x41).has_value());
    EXPECT_FALSE(msi_message(0, 0x0F).has_value()); // reserved vectors
}

} // namespace
} // namespace capos::apic
