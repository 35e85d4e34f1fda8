// Reading ACPI's tables (ACPI 6.5, chapter 5): the RSDP, the root table
// (RSDT or XSDT), the MADT, the FADT, the MCFG, the HPET table and, from the
// DSDT's AML, the \_S5 package (the sleep type values for a power-off). The
// DMAR table (Intel VT-d) is read by lib/acpi/dmar.h with these errors and
// check_table.
//
// Firmware tables are input the kernel does not trust: every parser takes the
// bytes it may read as a span and checks each length, checksum and offset
// against it before it reads; nothing here reads outside the span, allocates
// or has side effects. The kernel maps or finds the bytes (a table's length is
// its header's, checked against what could be mapped) and passes them in.
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::acpi {

enum class AcpiError : uint8_t {
    TooShort,     // fewer bytes than the structure (or its stated length) needs
    BadSignature, // not the signature asked for
    BadChecksum,  // the bytes do not sum to 0 (mod 256)
    BadLength,    // a length field smaller than its structure's fixed part
    BadEntry,     // a table entry whose length is too small or runs past the table
    BadValue,     // a field outside what its specification allows (an unaligned
                  // address, a reversed range, a PCI device number past 31)
    NotFound,     // no such thing (an RSDP in a scanned area, \_S5 in the AML)
};

const char* to_string(AcpiError error);

// The Root System Description Pointer (5.2.5). `bytes` starts at the
// candidate: 20 bytes for revision 0 (ACPI 1.0), the stated length (at least
// 36) for revision 2 and later, whose extended checksum is checked too.
struct Rsdp {
    uint8_t revision = 0;
    char oem_id[6] = {};
    uint32_t rsdt_address = 0;
    uint64_t xsdt_address = 0; // 0 before revision 2
};
Result<Rsdp, AcpiError> parse_rsdp(std::span<const uint8_t> bytes);

// The offset of the first valid RSDP on a 16-byte boundary in `area` (the
// first KiB of the EBDA, or 0xE0000-0xFFFFF), or NotFound.
Result<size_t, AcpiError> find_rsdp(std::span<const uint8_t> area);

// The common header of a system description table (5.2.6).
inline constexpr size_t sdt_header_size = 36;
struct SdtHeader {
    char signature[4] = {};
    uint32_t length = 0;
    uint8_t revision = 0;
    char oem_id[6] = {};
    char oem_table_id[8] = {};
    std::string_view signature_view() const { return {signature, 4}; }
};

// The header of the table at the start of `bytes`: at least the header's 36
// bytes, nothing more read. For learning a table's length before mapping it
// whole; check_table checks it whole.
Result<SdtHeader, AcpiError> peek_header(std::span<const uint8_t> bytes);

// Checks the table at the start of `bytes`: its length is at least the header
// and at most bytes.size(), its `length` bytes sum to 0, and its signature is
// `signature` (any when empty). Only the first `length` bytes are the table.
Result<SdtHeader, AcpiError> check_table(std::span<const uint8_t> bytes,
                                         std::string_view signature = {});

// The root table: an RSDT (32-bit entries) or an XSDT (64-bit entries),
// checked whole by check_table. Entries are physical addresses of tables.
class RootTable {
public:
    static Result<RootTable, AcpiError> parse(std::span<const uint8_t> bytes);
    bool is_xsdt() const { return m_entry_size == 8; }
    size_t count() const { return m_count; }
    uint64_t entry(size_t index) const; // index < count()

private:
    const uint8_t* m_entries = nullptr;
    size_t m_count = 0;
    uint8_t m_entry_size = 4;
};

// The Multiple APIC Description Table (5.2.12), checked whole. Its entries are
// read one at a time by next(): each entry's length is checked against its
// type's fixed part and the table's end; an entry of a type not listed comes
// as Other (skipped by its length); a malformed one ends the walk with
// BadEntry.
struct MadtEntry {
    enum class Type : uint8_t {
        LocalApic = 0,         // processor_uid, apic_id, flags
        IoApic = 1,            // ioapic_id, address, gsi_base
        InterruptOverride = 2, // bus, source, gsi, flags
        NmiSource = 3,         // flags, gsi
        LocalApicNmi = 4,      // processor_uid (0xff: all), flags, lint
        LocalApicAddress = 5,  // address (64-bit override of the header's)
        LocalX2Apic = 9,       // apic_id (x2APIC id), flags, processor_uid
        LocalX2ApicNmi = 10,   // processor_uid (0xffffffff: all), flags, lint
        Other = 0xff,          // raw_type holds the type
    };
    Type type = Type::Other;
    uint8_t raw_type = 0;
    uint32_t processor_uid = 0;
    uint32_t apic_id = 0; // LocalApic, LocalX2Apic; IoApic: the I/O APIC id
    uint32_t flags = 0;   // LocalApic/X2Apic: bit 0 enabled, bit 1 online capable;
                          // overrides and NMIs: MPS INTI flags (polarity, trigger)
    uint64_t address = 0; // IoApic, LocalApicAddress
    uint32_t gsi = 0;     // IoApic: GSI base; InterruptOverride, NmiSource: the GSI
    uint8_t bus = 0;      // InterruptOverride
    uint8_t source = 0;   // InterruptOverride: the ISA IRQ
    uint8_t lint = 0;     // LocalApicNmi, LocalX2ApicNmi
};
inline constexpr uint32_t madt_pcat_compat = 1; // flags: dual 8259s present

class Madt {
public:
    static Result<Madt, AcpiError> parse(std::span<const uint8_t> bytes);
    uint32_t local_apic_address() const { return m_local_apic_address; }
    uint32_t flags() const { return m_flags; }
    // The next entry, nullopt-like NotFound at the end, BadEntry on a bad one
    // (and every call after it).
    Result<MadtEntry, AcpiError> next();
    void rewind() { m_offset = m_first; }

private:
    const uint8_t* m_table = nullptr;
    size_t m_length = 0;
    size_t m_first = 0;
    size_t m_offset = 0;
    bool m_broken = false;
    uint32_t m_local_apic_address = 0;
    uint32_t m_flags = 0;
};

// A Generic Address Structure (5.2.3.2).
struct GenericAddress {
    uint8_t space = 0; // 0 system memory, 1 system I/O, 2 PCI configuration
    uint8_t bit_width = 0;
    uint8_t bit_offset = 0;
    uint8_t access_size = 0;
    uint64_t address = 0;
};
inline constexpr uint8_t address_space_memory = 0;
inline constexpr uint8_t address_space_io = 1;

// The Fixed ACPI Description Table (5.2.9, signature "FACP"), checked whole.
// Fields past a short (older) table's end read as 0; the 64-bit X_ fields win
// over the 32-bit ones when nonzero.
struct Fadt {
    uint8_t revision = 0;
    uint64_t dsdt = 0;                             // X_DSDT, else DSDT
    uint64_t pm1a_control = 0;                     // X_PM1a_CNT_BLK's address, else PM1a_CNT_BLK
    uint64_t pm1b_control = 0;                     // likewise; 0: none
    uint8_t pm1a_control_space = address_space_io; // of the X_ block when used
    uint8_t pm1b_control_space = address_space_io;
    uint8_t pm1_control_length = 0; // PM1_CNT_LEN
    uint32_t flags = 0;
    uint16_t boot_architecture = 0; // IAPC_BOOT_ARCH (revision 3 and later)
    bool reset_supported = false;   // flags bit 10 (RESET_REG_SUP) and a table that has it
    GenericAddress reset_register;
    uint8_t reset_value = 0;
    uint16_t sci_interrupt = 0;
    uint32_t smi_command = 0;
    uint8_t acpi_enable = 0;
};
inline constexpr uint32_t fadt_hardware_reduced = 1u << 20; // flags: HW_REDUCED_ACPI
inline constexpr uint16_t boot_arch_8042 = 1u << 1;         // IAPC_BOOT_ARCH: 8042 present
Result<Fadt, AcpiError> parse_fadt(std::span<const uint8_t> bytes);

// The MCFG (PCI Firmware Specification 3.2, 4.1.2), checked whole: the ECAM
// windows, one per PCI segment group and bus range.
struct McfgEntry {
    uint64_t base = 0; // of bus 0 of the segment, even when start_bus is not 0
    uint16_t segment = 0;
    uint8_t start_bus = 0;
    uint8_t end_bus = 0;
};
class Mcfg {
public:
    static Result<Mcfg, AcpiError> parse(std::span<const uint8_t> bytes);
    size_t count() const { return m_count; }
    McfgEntry entry(size_t index) const; // index < count()

private:
    const uint8_t* m_entries = nullptr;
    size_t m_count = 0;
};

// The HPET description table (IA-PC HPET specification 1.0a, 3.2.4), checked
// whole.
struct Hpet {
    uint32_t event_timer_block_id = 0;
    GenericAddress base;
    uint8_t number = 0;
    uint16_t minimum_tick = 0;
};
Result<Hpet, AcpiError> parse_hpet(std::span<const uint8_t> bytes);

// The \_S5 object of a DSDT (or SSDT) body, the AML after its 36-byte header:
// Name(_S5_, Package() {SLP_TYPa, SLP_TYPb, ...}). The values may be encoded
// as ZeroOp, OneOp, OnesOp or BytePrefix constants; anything else (or no
// such object, or a package that runs past the bytes) is NotFound. A scan, not
// an AML interpreter: it looks for the NameOp and the name, as firmware
// writes them.
struct SleepType {
    uint8_t a = 0; // SLP_TYPa: for PM1a_CNT
    uint8_t b = 0; // SLP_TYPb: for PM1b_CNT
};
Result<SleepType, AcpiError> find_s5(std::span<const uint8_t> aml);

// PM1x_CNT bits (4.8.3.2.1): a sleep state is entered by writing SLP_TYPx
// shifted into place with SLP_EN.
inline constexpr uint16_t pm1_sleep_type_shift = 10;
inline constexpr uint16_t pm1_sleep_enable = 1u << 13;

} // namespace capos::acpi
