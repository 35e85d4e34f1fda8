// The registers of an Intel VT-d DMA remapping unit (the Intel Virtualization
// Technology for Directed I/O specification, chapter "Register Descriptions"),
// decoded from the values read: what the kernel learns of a unit before it
// uses it. Pure: no MMIO here.
//
// A unit's register page is as long as its DRHD says (lib/acpi's Dmar); the
// fault-recording and IOTLB registers sit at offsets the capability registers
// give. Those offsets are checked against the page before anything is read
// there: a unit reporting registers past its page is refused, not trusted.
#pragma once

#include "lib/base/result.h"
#include <cstdint>

namespace capos::vtd {

// Register offsets in the unit's page.
inline constexpr uint32_t register_version = 0x00;
inline constexpr uint32_t register_capability = 0x08;
inline constexpr uint32_t register_extended_capability = 0x10;
inline constexpr uint32_t register_global_command = 0x18;
inline constexpr uint32_t register_global_status = 0x1C;
inline constexpr uint32_t register_root_table_address = 0x20;
inline constexpr uint32_t register_context_command = 0x28;
inline constexpr uint32_t register_fault_status = 0x34;
inline constexpr uint32_t register_fault_event_control = 0x38;

// Global status bits (the global command register's are at the same places).
inline constexpr uint32_t status_translation_enabled = 1u << 31;
inline constexpr uint32_t status_root_table_set = 1u << 30;
inline constexpr uint32_t status_write_buffer_flushed = 1u << 27;
inline constexpr uint32_t status_queued_invalidation = 1u << 26;
inline constexpr uint32_t status_interrupt_remapping = 1u << 25;

struct Version {
    uint8_t major = 0;
    uint8_t minor = 0;
};

constexpr Version decode_version(uint32_t value) {
    return {uint8_t((value >> 4) & 0xF), uint8_t(value & 0xF)};
}

// What the capability register says (only the fields the kernel uses).
struct Capabilities {
    uint32_t domains = 0;            // domain ids the unit has: 2^(4 + 2 * ND)
    bool write_buffer_flush = false; // RWBF: the write buffer is flushed by software
    bool caching_mode = false; // CM: not-present entries may be cached (invalidate after adding)
    // SAGAW: the second-level table depths it walks, as bits: 1 << 3 for 3
    // levels (39-bit addresses), 1 << 4 for 4 (48-bit), 1 << 5 for 5 (57-bit).
    uint8_t table_levels = 0;
    uint8_t guest_address_width = 0;          // MGAW + 1: the widest device address, in bits
    uint32_t fault_recording_offset = 0;      // FRO * 16
    uint16_t fault_records = 0;               // NFR + 1, 16 bytes each
    bool page_selective_invalidation = false; // PSI
};

struct ExtendedCapabilities {
    bool coherent = false;            // C: table walks snoop the CPU caches
    bool queued_invalidation = false; // QI
    bool interrupt_remapping = false; // IR
    bool pass_through = false;        // PT
    uint32_t iotlb_offset = 0;        // IRO * 16: the IOTLB registers (two of 8 bytes)
};

enum class VtdError : uint8_t {
    NoTableDepth,            // SAGAW names none of 3, 4 or 5 levels
    NarrowAddresses,         // MGAW below 21 bits (less than one large page)
    FaultRecordsOutsidePage, // the fault-recording registers pass the register page
    IotlbOutsidePage,        // the IOTLB registers pass the register page
    PageTooSmall,            // a page shorter than the fixed registers
};
const char* to_string(VtdError error);

// The fixed registers end here (the fault event registers included).
inline constexpr uint64_t fixed_registers_end = 0x50;

// Decodes and checks the capability registers against a register page of
// `page_bytes`.
Result<Capabilities, VtdError> decode_capabilities(uint64_t capability, uint64_t page_bytes);
Result<ExtendedCapabilities, VtdError> decode_extended_capabilities(uint64_t extended,
                                                                    uint64_t page_bytes);

// The fewest table levels the unit walks whose addresses cover
// `address_bits`, or 0 when none does (3, 4 or 5; each level resolves 9
// bits above the 12 of a page).
uint8_t levels_for(const Capabilities& capabilities, uint8_t address_bits);

} // namespace capos::vtd
