// Reading the DMA Remapping Reporting table (signature "DMAR", Intel
// Virtualization Technology for Directed I/O, chapter 8): where each
// remapping hardware unit's registers are and which devices it translates
// for, the memory regions devices keep using across the hand-over from
// firmware (RMRR), and the rest of its structures.
//
// The table is firmware input the kernel does not trust, read as the other
// tables of lib/acpi are: Dmar::parse checks the header with check_table and
// then every remapping structure and every device scope in it, so that a
// table it accepts can be walked with next() to its end without an error and
// an IOMMU is never programmed from half a table. Nothing here reads outside
// the span, allocates or has side effects; the caller keeps the bytes alive
// while it walks.
//
// The order of checks, each refusal ending the parse:
//   1. check_table: a whole header, "DMAR", the length, the checksum;
//   2. the 48-byte DMAR header, its host address width at most 64 bits;
//   3. each structure: a length of at least 4 that fits in the table and
//      covers its type's fixed part (BadEntry), its fields' rules (BadValue);
//   4. each device scope in it: a length of at least 8 (one path step) with
//      whole steps, inside its structure (BadEntry), each step's device at
//      most 31 and function at most 7 (BadValue).
// Structure types reserved for future use are checked for their length alone
// and come out of next() as Other; so do reserved device scope types.
#pragma once

#include "lib/acpi/acpi.h"
#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::acpi {

// The DMAR header's flags (8.1).
inline constexpr uint8_t dmar_interrupt_remapping = 1u << 0; // INTR_REMAP
inline constexpr uint8_t dmar_x2apic_opt_out = 1u << 1;      // valid only with INTR_REMAP
inline constexpr uint8_t dmar_dma_control_opt_in = 1u << 2;  // DMA_CTRL_PLATFORM_OPT_IN_FLAG

// Structure flags: a DRHD's INCLUDE_PCI_ALL (the unit translates for every
// device of its segment not in another unit's scope), an ATSR's ALL_PORTS
// (every root port of the segment supports ATS), a SATC's ATC_REQUIRED.
inline constexpr uint8_t drhd_include_pci_all = 1u << 0;
inline constexpr uint8_t atsr_all_ports = 1u << 0;
inline constexpr uint8_t satc_atc_required = 1u << 0;

// VT-d's page: register sets and reserved regions are whole ones.
inline constexpr uint64_t dmar_page_size = 4096;

// The longest path resolve() follows: firmware names the devices it knows at
// boot (integrated ones, root ports, the few behind them), so a deeper path is
// more likely garbage than a device, and the bound caps the configuration
// reads one resolution makes at max_path_steps - 1.
inline constexpr size_t max_path_steps = 8;

// One step of a device scope's path: a device and function on the bus the
// previous step's bridge leads to (the start bus for the first).
struct PathStep {
    uint8_t device = 0;   // at most 31
    uint8_t function = 0; // at most 7
};

// A PCI requester's bus, device and function within its segment.
struct PciLocation {
    uint8_t bus = 0;
    uint8_t device = 0;
    uint8_t function = 0;
    friend bool operator==(const PciLocation&, const PciLocation&) = default;
};

// What resolve() asks of the machine: the secondary bus number register (byte
// 0x19 of a type 1 header) of the bridge at bus:device.function in the scope's
// segment. The kernel reads configuration space; the host tests answer from a
// table.
class SecondaryBusReader {
public:
    virtual uint8_t secondary_bus(uint8_t bus, uint8_t device, uint8_t function) = 0;

protected:
    ~SecondaryBusReader() = default;
};

// A Device Scope structure (8.3.1), checked: its path has 1 to 124 steps, each
// in range.
struct DeviceScope {
    enum class Type : uint8_t {
        PciEndpoint = 1,     // the device itself
        PciSubHierarchy = 2, // the bridge and every device below it
        IoApic = 3,          // enumeration_id: the I/O APIC id of the MADT
        MsiHpet = 4,         // enumeration_id: the HPET number
        AcpiNamespace = 5,   // enumeration_id: an ANDD's ACPI device number
        Other = 0xff,        // reserved: raw_type holds the type
    };
    Type type = Type::Other;
    uint8_t raw_type = 0;
    uint8_t length = 0;
    uint8_t flags = 0; // reserved in earlier revisions of the specification
    uint8_t enumeration_id = 0;
    uint8_t start_bus = 0;
    std::span<const uint8_t> path; // (device, function) byte pairs, in the table

    size_t steps() const { return path.size() / 2; }
    // Out of range (a broken precondition): {0, 0}, never a read past the path.
    PathStep step(size_t index) const;

    // The device the path names (8.3.1): the first step is on start_bus; each
    // step but the last is a bridge whose secondary bus holds the next step.
    // One step is a root-complex integrated device, whose location no bus
    // numbering changes; with more, the location follows the bridges' current
    // bus numbers, read through `reader` (steps() - 1 reads, in path order).
    // BadValue for a path longer than max_path_steps (nothing read) or a
    // bridge whose secondary bus is not above its own bus (a bridge not
    // configured, or no bridge: PCI numbers a bridge's buses above it);
    // BadEntry for an empty path, which no scope from next() has.
    Result<PciLocation, AcpiError> resolve(SecondaryBusReader& reader) const;
};

// The device scopes of one structure, read one at a time by next() (NotFound
// at the end). Empty for structures that have none. Each next() checks the
// scope it reads as parse does, so the scopes of bytes no parse has checked
// end at the first bad one with its error, every call after.
class DeviceScopes {
public:
    DeviceScopes() = default;
    explicit DeviceScopes(std::span<const uint8_t> bytes) : m_bytes(bytes) {}
    Result<DeviceScope, AcpiError> next();
    void rewind() { m_offset = 0; }
    bool empty() const { return m_bytes.empty(); }

private:
    std::span<const uint8_t> m_bytes;
    size_t m_offset = 0;
};

// A remapping structure (8.2). The fields a type does not have stay 0.
struct DmarEntry {
    enum class Type : uint16_t {
        Drhd = 0,       // hardware unit: flags, register_size, segment, address, scopes
        Rmrr = 1,       // reserved memory region: segment, address (base), limit, scopes
        Atsr = 2,       // root port ATS capability: flags, segment, scopes (root ports)
        Rhsa = 3,       // hardware unit static affinity: address (the unit's), proximity_domain
        Andd = 4,       // ACPI namespace device: acpi_device_number, name
        Satc = 5,       // SoC integrated address translation cache: flags, segment, scopes
        Other = 0xffff, // reserved for future use: raw_type holds the type
    };
    Type type = Type::Other;
    uint16_t raw_type = 0;
    uint16_t length = 0; // the whole structure's, scopes included
    uint8_t flags = 0;
    uint8_t register_size = 0; // DRHD: the register set is 2^register_size pages (bits 3:0)
    uint16_t segment = 0;
    uint64_t address = 0; // DRHD, RHSA: register base (page aligned); RMRR: region base
    uint64_t limit = 0;   // RMRR: the region's last byte (limit + 1 page aligned, >= address)
    uint32_t proximity_domain = 0;
    uint8_t acpi_device_number = 0;
    std::string_view name; // ANDD: the object's ACPI name, up to its NUL
    DeviceScopes scopes;

    // DRHD: the bytes of its register set.
    uint64_t register_bytes() const { return dmar_page_size << (register_size & 0x0f); }
};

// The DMAR table, checked whole (the numbered list above).
class Dmar {
public:
    static Result<Dmar, AcpiError> parse(std::span<const uint8_t> bytes);
    // The platform's DMA address width in bits (the field's value + 1), 1..64.
    unsigned host_address_width() const { return m_host_address_width; }
    uint8_t flags() const { return m_flags; }
    // The next structure in table order, NotFound at the end.
    Result<DmarEntry, AcpiError> next();
    void rewind() { m_offset = m_first; }

private:
    const uint8_t* m_table = nullptr;
    size_t m_length = 0;
    size_t m_first = 0;
    size_t m_offset = 0;
    unsigned m_host_address_width = 0;
    uint8_t m_flags = 0;
};

} // namespace capos::acpi
