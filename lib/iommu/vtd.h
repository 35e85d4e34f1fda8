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
#include <optional>

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
inline constexpr uint32_t register_fault_event_data = 0x3C;
inline constexpr uint32_t register_fault_event_address = 0x40;
inline constexpr uint32_t register_fault_event_upper_address = 0x44;
// The IOTLB invalidate register, past the extended capability's offset.
inline constexpr uint32_t iotlb_invalidate_offset = 8;

// Global status bits (the global command register's are at the same places).
inline constexpr uint32_t status_translation_enabled = 1u << 31;
inline constexpr uint32_t status_root_table_set = 1u << 30;
inline constexpr uint32_t status_write_buffer_flushed = 1u << 27;
inline constexpr uint32_t status_queued_invalidation = 1u << 26;
inline constexpr uint32_t status_interrupt_remapping = 1u << 25;

// The global command register's value that changes one bit: the status's
// persistent bits (translation, queued invalidation, ...) kept, its one-shot
// ones (root table, fault log, write buffer, interrupt table) cleared.
constexpr uint32_t global_command(uint32_t status, uint32_t bit, bool on) {
    uint32_t command = status & 0x96FF'FFFFu;
    return on ? command | bit : command & ~bit;
}

// Fault status: an overflow, a fault pending in the recording registers,
// and the index of the first.
inline constexpr uint32_t fault_status_overflow = 1u << 0;
inline constexpr uint32_t fault_status_pending = 1u << 1;
constexpr uint32_t fault_record_index(uint32_t status) {
    return (status >> 8) & 0xFF;
}
// Fault event control: the interrupt is masked.
inline constexpr uint32_t fault_event_masked = 1u << 31;

// The context command register: a global invalidation of the context cache
// (ICC, CIRG 01); done when the unit clears ICC.
inline constexpr uint64_t context_invalidate = uint64_t{1} << 63;
inline constexpr uint64_t context_invalidate_global = context_invalidate | uint64_t{1} << 61;

// The IOTLB invalidate register: a global or a domain's invalidation (IVT,
// IIRG 01 or 10), draining the unit's reads and writes first; done when the
// unit clears IVT.
inline constexpr uint64_t iotlb_invalidate = uint64_t{1} << 63;
inline constexpr uint64_t iotlb_drain = uint64_t{1} << 49 | uint64_t{1} << 48;
inline constexpr uint64_t iotlb_invalidate_global =
    iotlb_invalidate | iotlb_drain | uint64_t{1} << 60;
constexpr uint64_t iotlb_invalidate_domain(uint16_t domain) {
    return iotlb_invalidate | iotlb_drain | uint64_t{2} << 60 | uint64_t{domain} << 32;
}

// A root or context table entry: 128 bits, the low half first.
struct Entry {
    uint64_t low = 0;
    uint64_t high = 0;
};
inline constexpr uint64_t table_entries = 256; // in a root or context table

// The root entry of a bus whose context table is at `context_table`.
constexpr Entry root_entry(uint64_t context_table) {
    return {(context_table & ~uint64_t{0xFFF}) | 1, 0};
}
// A function's context entry: its requests without PASID translated by the
// second-level tables at `tables` (`levels` deep) in domain `domain`.
constexpr Entry context_entry(uint64_t tables, uint8_t levels, uint16_t domain) {
    // Translation type 00: untranslated requests through the second level.
    return {(tables & ~uint64_t{0xFFF}) | 1, uint64_t(levels - 2) | uint64_t{domain} << 8};
}

// A second-level table entry: read and write permission, a page's or the
// next table's address.
inline constexpr uint64_t second_level_read = 1u << 0;
inline constexpr uint64_t second_level_write = 1u << 1;
inline constexpr uint64_t second_level_address_mask = 0x000F'FFFF'FFFF'F000;

// One fault-recording register pair, decoded.
struct Fault {
    bool valid = false;   // F: the record holds a fault (cleared by writing 1 to it)
    bool read = false;    // the request was a read (else a write)
    uint16_t source = 0;  // the requester: bus << 8 | device << 3 | function
    uint8_t reason = 0;   // the specification's fault reason
    uint64_t address = 0; // the page the request was for
};
constexpr Fault decode_fault(uint64_t low, uint64_t high) {
    return {
        .valid = (high >> 63) != 0,
        .read = ((high >> 62) & 1) != 0,
        .source = uint16_t(high & 0xFFFF),
        .reason = uint8_t((high >> 32) & 0xFF),
        .address = low & ~uint64_t{0xFFF},
    };
}
// The high half's F bit, written back to clear a record.
inline constexpr uint64_t fault_record_clear = uint64_t{1} << 63;

// A device's second-level page tables: 4 KiB pages only, `levels` deep
// (3: 39-bit device addresses, 4: 48-bit), in frames the caller's
// TableMemory gives. Each table is 512 entries of 8 bytes.
class TableMemory {
public:
    // A zeroed table's physical address, or nullopt when memory is out.
    virtual std::optional<uint64_t> allocate_table() = 0;
    virtual void free_table(uint64_t physical) = 0;
    // The table at `physical`, to read and write.
    virtual uint64_t* table(uint64_t physical) = 0;
    // Entries were written at `entry` (a unit that does not snoop the CPU's
    // caches needs them flushed to memory).
    virtual void written(const uint64_t* entry) = 0;

protected:
    ~TableMemory() = default;
};

enum class TableError : uint8_t { OutOfRange, Misaligned, AlreadyMapped, OutOfMemory };
const char* to_string(TableError error);

class SecondLevelTables {
public:
    // Tables with an empty root table (nullopt: no memory for it).
    static std::optional<SecondLevelTables> create(TableMemory& memory, uint8_t levels);

    uint64_t root() const { return m_root; }
    uint8_t levels() const { return m_levels; }
    // The device addresses the tables reach: below 2^(12 + 9 * levels).
    uint64_t limit() const { return uint64_t{1} << (12 + 9 * m_levels); }

    // Maps the page at device address `address` to `physical`, readable
    // and, with `writable`, writable.
    Result<void, TableError> map(uint64_t address, uint64_t physical, bool writable);
    // Unmaps it; false when it was not mapped. (Tables emptied stay, until
    // destroy.)
    bool unmap(uint64_t address);
    // What a device's access to `address` reaches: the physical address, or
    // nullopt when it would fault (not mapped, or a write to a read-only
    // page).
    std::optional<uint64_t> translate(uint64_t address, bool write) const;
    // Frees every table, the root included.
    void destroy();

private:
    SecondLevelTables(TableMemory& memory, uint64_t root, uint8_t levels)
        : m_memory(&memory), m_root(root), m_levels(levels) {}
    void free_below(uint64_t table, uint8_t level);

    TableMemory* m_memory;
    uint64_t m_root;
    uint8_t m_levels;
};

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
