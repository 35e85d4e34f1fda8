// The encodings of x86's interrupt controllers, as pure functions: the local
// APIC's registers in both of its modes (xAPIC through memory, x2APIC through
// MSRs), interprocessor interrupts, the I/O APIC's redirection entries, the
// routing of an ISA IRQ through the MADT's interrupt source overrides, and
// MSI messages. The kernel does the register accesses; what it writes is
// computed here and host-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace capos::apic {

// Local APIC registers by their xAPIC memory offset; the x2APIC MSR of each is
// 0x800 + offset / 16.
enum class Register : uint32_t {
    Id = 0x20,
    Version = 0x30,
    TaskPriority = 0x80,
    EndOfInterrupt = 0xB0,
    SpuriousVector = 0xF0,
    ErrorStatus = 0x280,
    InterruptCommand = 0x300,
    InterruptCommandHigh = 0x310, // xAPIC only: x2APIC's ICR is one 64-bit MSR
    LvtTimer = 0x320,
    LvtLint0 = 0x350,
    LvtLint1 = 0x360,
    LvtError = 0x370,
    TimerInitialCount = 0x380,
    TimerCurrentCount = 0x390,
    TimerDivide = 0x3E0,
};
constexpr uint32_t x2apic_msr(Register reg) {
    return 0x800 + uint32_t(reg) / 16;
}

// The local APIC's ID from its ID register: bits 24-31 in xAPIC mode, the
// whole register in x2APIC mode.
constexpr uint32_t local_apic_id(uint32_t id_register, bool x2apic) {
    return x2apic ? id_register : id_register >> 24;
}

// Bits of IA32_APIC_BASE (MSR 0x1B).
constexpr uint32_t msr_apic_base = 0x1B;
constexpr uint64_t apic_base_bsp = 1ull << 8;
constexpr uint64_t apic_base_x2apic = 1ull << 10;
constexpr uint64_t apic_base_enable = 1ull << 11;
constexpr uint64_t apic_base_address_mask = 0xFFFFFF000ull;

enum class DeliveryMode : uint8_t {
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Nmi = 4,
    Init = 5,
    Startup = 6,
    ExtInt = 7,
};

enum class Shorthand : uint8_t {
    None = 0, // to `destination`
    Self = 1,
    AllIncludingSelf = 2,
    AllExcludingSelf = 3,
};

// One interprocessor interrupt. For Startup, `vector` is the page number of
// the start-up code (its physical address / 4096).
struct Ipi {
    uint8_t vector = 0;
    DeliveryMode mode = DeliveryMode::Fixed;
    Shorthand shorthand = Shorthand::None;
    uint32_t destination = 0; // a physical APIC id
    bool assert_level = true; // INIT de-assert: false (with level trigger)
    bool level_trigger = false;
};

// Bit 12 of the ICR's low half: the xAPIC has not yet sent the last IPI.
constexpr uint32_t icr_delivery_pending = 1u << 12;

// The ICR's low 32 bits (the same in both modes).
constexpr uint32_t icr_low(const Ipi& ipi) {
    return uint32_t(ipi.vector) | uint32_t(ipi.mode) << 8 | uint32_t(ipi.assert_level) << 14 |
           uint32_t(ipi.level_trigger) << 15 | uint32_t(ipi.shorthand) << 18;
}
// The xAPIC ICR's high half: an 8-bit destination in bits 24-31. Returns
// nothing for a destination an xAPIC cannot name.
constexpr std::optional<uint32_t> xapic_icr_high(uint32_t destination) {
    if (destination > 0xFF)
        return std::nullopt;
    return destination << 24;
}
// The whole x2APIC ICR: a 32-bit destination in the high half.
constexpr uint64_t x2apic_icr(const Ipi& ipi) {
    return uint64_t(ipi.destination) << 32 | icr_low(ipi);
}

// ---------------------------------------------------------------------------
// Routing ISA IRQs

enum class Polarity : uint8_t { ActiveHigh, ActiveLow };
enum class Trigger : uint8_t { Edge, Level };

// A MADT interrupt source override (ISA bus): IRQ `source` is GSI `gsi`, with
// the MPS INTI `flags` (bits 0-1 polarity, bits 2-3 trigger mode).
struct SourceOverride {
    uint8_t source = 0;
    uint32_t gsi = 0;
    uint16_t flags = 0;
};

struct IsaRoute {
    uint32_t gsi;
    Polarity polarity;
    Trigger trigger;
};

// Where ISA IRQ `irq` arrives: its override's GSI and flags, where "conforms
// to the bus" (0) means the ISA bus's active-high, edge-triggered; without an
// override, GSI `irq`, active high, edge. Flags with the reserved value (2)
// in either field are read as the ISA default.
IsaRoute route_isa_irq(uint8_t irq, std::span<const SourceOverride> overrides);

// ---------------------------------------------------------------------------
// The I/O APIC: an index register at +0x00 and a data window at +0x10.

constexpr uint32_t ioapic_select_offset = 0x00;
constexpr uint32_t ioapic_window_offset = 0x10;
constexpr uint8_t ioapic_id_register = 0x00;
constexpr uint8_t ioapic_version_register = 0x01;
// The low and high halves of pin `pin`'s redirection entry.
constexpr uint8_t ioapic_redirection_low(uint32_t pin) {
    return uint8_t(0x10 + 2 * pin);
}
constexpr uint8_t ioapic_redirection_high(uint32_t pin) {
    return uint8_t(0x11 + 2 * pin);
}
// The number of pins (redirection entries) from the version register.
constexpr uint32_t ioapic_pin_count(uint32_t version_register) {
    return ((version_register >> 16) & 0xFF) + 1;
}

struct Redirection {
    uint8_t vector = 0;
    DeliveryMode mode = DeliveryMode::Fixed;
    Polarity polarity = Polarity::ActiveHigh;
    Trigger trigger = Trigger::Edge;
    bool masked = true;
    uint8_t destination = 0; // physical APIC id
};
uint64_t encode_redirection(const Redirection& entry);
Redirection decode_redirection(uint64_t value);

// The I/O APIC among `gsi_bases`/`pin_counts` (one per I/O APIC) whose pins
// cover `gsi`, and the pin; nothing when none does.
struct IoApicPin {
    size_t io_apic;
    uint32_t pin;
};
std::optional<IoApicPin> find_io_apic_pin(uint32_t gsi, std::span<const uint32_t> gsi_bases,
                                          std::span<const uint32_t> pin_counts);

// ---------------------------------------------------------------------------
// MSI: the address and data a device writes to raise `vector` on the CPU with
// APIC id `apic_id` (physical destination, fixed delivery, edge). Without
// interrupt remapping the address holds 8 bits of destination: nothing for a
// larger id.
struct MsiMessage {
    uint64_t address;
    uint32_t data;
};
std::optional<MsiMessage> msi_message(uint32_t apic_id, uint8_t vector);

} // namespace capos::apic
