#include "lib/apic/apic.h"

namespace capos::apic {

namespace {

Polarity polarity_of(uint16_t flags) {
    return (flags & 0x3) == 0x3 ? Polarity::ActiveLow : Polarity::ActiveHigh;
}
Trigger trigger_of(uint16_t flags) {
    return ((flags >> 2) & 0x3) == 0x3 ? Trigger::Level : Trigger::Edge;
}

} // namespace

IsaRoute route_isa_irq(uint8_t irq, std::span<const SourceOverride> overrides) {
    for (const SourceOverride& o : overrides) {
        if (o.source == irq)
            return {o.gsi, polarity_of(o.flags), trigger_of(o.flags)};
    }
    return {irq, Polarity::ActiveHigh, Trigger::Edge};
}

uint64_t encode_redirection(const Redirection& entry) {
    return uint64_t(entry.vector) | uint64_t(entry.mode) << 8 |
           uint64_t(entry.polarity == Polarity::ActiveLow) << 13 |
           uint64_t(entry.trigger == Trigger::Level) << 15 | uint64_t(entry.masked) << 16 |
           uint64_t(entry.destination) << 56;
}

Redirection decode_redirection(uint64_t value) {
    return {
        .vector = uint8_t(value & 0xFF),
        .mode = DeliveryMode((value >> 8) & 0x7),
        .polarity = (value >> 13) & 1 ? Polarity::ActiveLow : Polarity::ActiveHigh,
        .trigger = (value >> 15) & 1 ? Trigger::Level : Trigger::Edge,
        .masked = ((value >> 16) & 1) != 0,
        .destination = uint8_t(value >> 56),
    };
}

std::optional<IoApicPin> find_io_apic_pin(uint32_t gsi, std::span<const uint32_t> gsi_bases,
                                          std::span<const uint32_t> pin_counts) {
    for (size_t i = 0; i < gsi_bases.size() && i < pin_counts.size(); ++i) {
        if (gsi >= gsi_bases[i] && gsi - gsi_bases[i] < pin_counts[i])
            return IoApicPin{i, gsi - gsi_bases[i]};
    }
    return std::nullopt;
}

std::optional<MsiMessage> msi_message(uint32_t apic_id, uint8_t vector) {
    if (apic_id > 0xFF || vector < 0x10)
        return std::nullopt;
    return MsiMessage{0xFEE00000ull | uint64_t(apic_id) << 12, vector};
}

} // namespace capos::apic
