#include "lib/iommu/vtd.h"

namespace capos::vtd {

const char* to_string(VtdError error) {
    switch (error) {
    case VtdError::NoTableDepth:
        return "no supported table depth";
    case VtdError::NarrowAddresses:
        return "device addresses narrower than 21 bits";
    case VtdError::FaultRecordsOutsidePage:
        return "fault-recording registers outside the register page";
    case VtdError::IotlbOutsidePage:
        return "IOTLB registers outside the register page";
    case VtdError::PageTooSmall:
        return "register page too small";
    }
    return "unknown error";
}

namespace {

constexpr uint64_t bits(uint64_t value, unsigned low, unsigned count) {
    return (value >> low) & ((uint64_t{1} << count) - 1);
}

// Whether `length` bytes at `offset` lie inside a page of `page_bytes`.
constexpr bool inside(uint64_t offset, uint64_t length, uint64_t page_bytes) {
    return offset <= page_bytes && length <= page_bytes - offset;
}

} // namespace

Result<Capabilities, VtdError> decode_capabilities(uint64_t capability, uint64_t page_bytes) {
    if (page_bytes < fixed_registers_end)
        return Err{VtdError::PageTooSmall};
    Capabilities c;
    uint64_t nd = bits(capability, 0, 3);
    // ND 7 is reserved; 6 (2^16 domains) is the most there is.
    c.domains = uint32_t(1) << (4 + 2 * (nd > 6 ? 6 : nd));
    c.write_buffer_flush = bits(capability, 4, 1) != 0;
    c.caching_mode = bits(capability, 7, 1) != 0;
    uint64_t sagaw = bits(capability, 8, 5);
    // Bit 1: 3 levels, bit 2: 4 levels, bit 3: 5 levels (bits 0 and 4 reserved).
    c.table_levels = uint8_t(((sagaw >> 1) & 0x7) << 3);
    if (c.table_levels == 0)
        return Err{VtdError::NoTableDepth};
    c.guest_address_width = uint8_t(bits(capability, 16, 6) + 1);
    if (c.guest_address_width < 21)
        return Err{VtdError::NarrowAddresses};
    c.fault_recording_offset = uint32_t(bits(capability, 24, 10) * 16);
    c.fault_records = uint16_t(bits(capability, 40, 8) + 1);
    if (!inside(c.fault_recording_offset, uint64_t(c.fault_records) * 16, page_bytes))
        return Err{VtdError::FaultRecordsOutsidePage};
    c.page_selective_invalidation = bits(capability, 39, 1) != 0;
    return c;
}

Result<ExtendedCapabilities, VtdError> decode_extended_capabilities(uint64_t extended,
                                                                    uint64_t page_bytes) {
    if (page_bytes < fixed_registers_end)
        return Err{VtdError::PageTooSmall};
    ExtendedCapabilities e;
    e.coherent = bits(extended, 0, 1) != 0;
    e.queued_invalidation = bits(extended, 1, 1) != 0;
    e.interrupt_remapping = bits(extended, 3, 1) != 0;
    e.pass_through = bits(extended, 6, 1) != 0;
    e.iotlb_offset = uint32_t(bits(extended, 8, 10) * 16);
    if (!inside(e.iotlb_offset, 16, page_bytes))
        return Err{VtdError::IotlbOutsidePage};
    return e;
}

uint8_t levels_for(const Capabilities& capabilities, uint8_t address_bits) {
    for (uint8_t levels = 3; levels <= 5; ++levels) {
        bool supported = (capabilities.table_levels & (1u << levels)) != 0;
        if (supported && 12 + 9 * levels >= address_bits)
            return levels;
    }
    return 0;
}

} // namespace capos::vtd
