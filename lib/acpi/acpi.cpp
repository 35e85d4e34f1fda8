#include "lib/acpi/acpi.h"
#include "lib/base/bytes.h"

namespace capos::acpi {

namespace {

using bytes::fits;
using bytes::load_u16;
using bytes::load_u32;
using bytes::load_u64;

bool sums_to_zero(const uint8_t* bytes, size_t length) {
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i)
        sum = static_cast<uint8_t>(sum + bytes[i]);
    return sum == 0;
}

bool same_chars(const uint8_t* bytes, const char* chars, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (bytes[i] != static_cast<uint8_t>(chars[i]))
            return false;
    }
    return true;
}

void copy_chars(char* out, const uint8_t* bytes, size_t count) {
    for (size_t i = 0; i < count; ++i)
        out[i] = static_cast<char>(bytes[i]);
}

// RSDP layout (5.2.5.3).
constexpr size_t rsdp_v1_size = 20;
constexpr size_t rsdp_v2_size = 36;
constexpr size_t rsdp_oem_id = 9;
constexpr size_t rsdp_revision = 15;
constexpr size_t rsdp_rsdt_address = 16;
constexpr size_t rsdp_length = 20;
constexpr size_t rsdp_xsdt_address = 24;
constexpr size_t rsdp_alignment = 16;

// SDT header layout (5.2.6).
constexpr size_t sdt_length = 4;
constexpr size_t sdt_revision = 8;
constexpr size_t sdt_oem_id = 10;
constexpr size_t sdt_oem_table_id = 16;

// MADT layout (5.2.12).
constexpr size_t madt_local_apic_address = 36;
constexpr size_t madt_flags = 40;
constexpr size_t madt_entries = 44;

// FADT layout (5.2.9, table 5.9).
constexpr size_t fadt_v1_size = 116; // ACPI 1.0's whole FADT, the shortest there is
constexpr size_t fadt_dsdt = 40;
constexpr size_t fadt_sci_int = 46;
constexpr size_t fadt_smi_cmd = 48;
constexpr size_t fadt_acpi_enable = 52;
constexpr size_t fadt_pm1a_cnt_blk = 64;
constexpr size_t fadt_pm1b_cnt_blk = 68;
constexpr size_t fadt_pm1_cnt_len = 89;
constexpr size_t fadt_iapc_boot_arch = 109;
constexpr size_t fadt_flags = 112;
constexpr size_t fadt_reset_reg = 116;
constexpr size_t fadt_reset_value = 128;
constexpr size_t fadt_x_dsdt = 140;
constexpr size_t fadt_x_pm1a_cnt_blk = 172;
constexpr size_t fadt_x_pm1b_cnt_blk = 184;
constexpr uint32_t fadt_reset_reg_sup = 1u << 10;
constexpr uint8_t fadt_boot_arch_revision = 3; // IAPC_BOOT_ARCH is reserved before ACPI 2.0

// A Generic Address Structure's size (5.2.3.2).
constexpr size_t gas_size = 12;

// MCFG layout: 8 reserved bytes after the header, then 16-byte entries.
constexpr size_t mcfg_entries = 44;
constexpr size_t mcfg_entry_size = 16;

// HPET table layout: the fixed part ends with the page protection byte at 55.
constexpr size_t hpet_block_id = 36;
constexpr size_t hpet_base = 40;
constexpr size_t hpet_number = 52;
constexpr size_t hpet_minimum_tick = 53;
constexpr size_t hpet_size = 56;

// AML opcodes and prefixes (20.2).
constexpr uint8_t aml_name_op = 0x08;
constexpr uint8_t aml_root_prefix = 0x5c;
constexpr uint8_t aml_package_op = 0x12;
constexpr uint8_t aml_zero_op = 0x00;
constexpr uint8_t aml_one_op = 0x01;
constexpr uint8_t aml_ones_op = 0xff;
constexpr uint8_t aml_byte_prefix = 0x0a;

GenericAddress read_gas(const uint8_t* at) {
    GenericAddress gas;
    gas.space = at[0];
    gas.bit_width = at[1];
    gas.bit_offset = at[2];
    gas.access_size = at[3];
    gas.address = load_u64(at + 4);
    return gas;
}

// Fields of a table of `length` bytes that read as 0 when the table ends
// before the field does.
struct ShortTable {
    const uint8_t* bytes;
    size_t length;

    bool has(size_t offset, size_t size) const { return fits(offset, size, length); }
    uint8_t u8(size_t offset) const { return has(offset, 1) ? bytes[offset] : 0; }
    uint16_t u16(size_t offset) const { return has(offset, 2) ? load_u16(bytes + offset) : 0; }
    uint32_t u32(size_t offset) const { return has(offset, 4) ? load_u32(bytes + offset) : 0; }
    uint64_t u64(size_t offset) const { return has(offset, 8) ? load_u64(bytes + offset) : 0; }
    GenericAddress gas(size_t offset) const {
        return has(offset, gas_size) ? read_gas(bytes + offset) : GenericAddress{};
    }
};

// The fixed part of each MADT entry type this reader decodes; 0 for others.
size_t madt_entry_minimum(uint8_t type) {
    switch (type) {
    case 0:
        return 8;
    case 1:
        return 12;
    case 2:
        return 10;
    case 3:
        return 8;
    case 4:
        return 6;
    case 5:
        return 12;
    case 9:
        return 16;
    case 10:
        return 12;
    default:
        return 0;
    }
}

// One data object of an _Sx package at aml[at], an element below `end`; the
// offset after it in `at`. False for anything but the constant encodings.
bool read_sleep_value(std::span<const uint8_t> aml, size_t end, size_t& at, uint8_t& value) {
    if (at >= end)
        return false;
    uint8_t op = aml[at];
    switch (op) {
    case aml_zero_op:
        value = 0;
        break;
    case aml_one_op:
        value = 1;
        break;
    case aml_ones_op:
        value = 0xff;
        break;
    case aml_byte_prefix:
        if (end - at < 2)
            return false;
        value = aml[at + 1];
        at += 2;
        return true;
    default:
        return false;
    }
    at += 1;
    return true;
}

// The sleep type of a package that starts (at its PackageOp) at aml[at].
Result<SleepType, AcpiError> parse_s5_package(std::span<const uint8_t> aml, size_t at) {
    if (at >= aml.size() || aml[at] != aml_package_op)
        return Err{AcpiError::NotFound};
    size_t length_start = at + 1;
    if (length_start >= aml.size())
        return Err{AcpiError::NotFound};
    uint8_t lead = aml[length_start];
    size_t follow = lead >> 6;
    // The lead byte and its followers, then NumElements.
    if (!fits(length_start, follow + 2, aml.size()))
        return Err{AcpiError::NotFound};
    size_t package_length;
    if (follow == 0) {
        package_length = lead & 0x3f;
    } else {
        package_length = lead & 0x0f;
        for (size_t i = 0; i < follow; ++i)
            package_length |= static_cast<size_t>(aml[length_start + 1 + i]) << (4 + 8 * i);
    }
    // The package length counts from its own first byte; it must cover itself
    // and NumElements.
    if (package_length < follow + 2)
        return Err{AcpiError::NotFound};
    size_t end = aml.size();
    if (package_length < aml.size() - length_start)
        end = length_start + package_length;
    size_t count_at = length_start + 1 + follow;
    if (aml[count_at] < 2)
        return Err{AcpiError::NotFound};
    size_t element = count_at + 1;
    SleepType sleep;
    if (!read_sleep_value(aml, end, element, sleep.a) ||
        !read_sleep_value(aml, end, element, sleep.b))
        return Err{AcpiError::NotFound};
    return sleep;
}

} // namespace

const char* to_string(AcpiError error) {
    switch (error) {
    case AcpiError::TooShort:
        return "ACPI structure truncated";
    case AcpiError::BadSignature:
        return "wrong ACPI signature";
    case AcpiError::BadChecksum:
        return "bad ACPI checksum";
    case AcpiError::BadLength:
        return "bad ACPI length field";
    case AcpiError::BadEntry:
        return "malformed ACPI table entry";
    case AcpiError::BadValue:
        return "ACPI field out of range";
    case AcpiError::NotFound:
        return "ACPI object not found";
    }
    return "unknown ACPI error";
}

Result<Rsdp, AcpiError> parse_rsdp(std::span<const uint8_t> bytes) {
    if (bytes.size() < rsdp_v1_size)
        return Err{AcpiError::TooShort};
    const uint8_t* base = bytes.data();
    if (!same_chars(base, "RSD PTR ", 8))
        return Err{AcpiError::BadSignature};
    if (!sums_to_zero(base, rsdp_v1_size))
        return Err{AcpiError::BadChecksum};
    Rsdp rsdp;
    rsdp.revision = base[rsdp_revision];
    copy_chars(rsdp.oem_id, base + rsdp_oem_id, sizeof rsdp.oem_id);
    rsdp.rsdt_address = load_u32(base + rsdp_rsdt_address);
    if (rsdp.revision < 2)
        return rsdp;
    if (bytes.size() < rsdp_length + 4)
        return Err{AcpiError::TooShort};
    uint32_t length = load_u32(base + rsdp_length);
    if (length < rsdp_v2_size)
        return Err{AcpiError::BadLength};
    if (length > bytes.size())
        return Err{AcpiError::TooShort};
    if (!sums_to_zero(base, length))
        return Err{AcpiError::BadChecksum};
    rsdp.xsdt_address = load_u64(base + rsdp_xsdt_address);
    return rsdp;
}

Result<size_t, AcpiError> find_rsdp(std::span<const uint8_t> area) {
    for (size_t offset = 0; fits(offset, rsdp_v1_size, area.size()); offset += rsdp_alignment) {
        if (parse_rsdp(area.subspan(offset)).is_ok())
            return offset;
    }
    return Err{AcpiError::NotFound};
}

Result<SdtHeader, AcpiError> peek_header(std::span<const uint8_t> bytes) {
    if (bytes.size() < sdt_header_size)
        return Err{AcpiError::TooShort};
    const uint8_t* base = bytes.data();
    SdtHeader header;
    copy_chars(header.signature, base, sizeof header.signature);
    header.length = load_u32(base + sdt_length);
    header.revision = base[sdt_revision];
    copy_chars(header.oem_id, base + sdt_oem_id, sizeof header.oem_id);
    copy_chars(header.oem_table_id, base + sdt_oem_table_id, sizeof header.oem_table_id);
    if (header.length < sdt_header_size)
        return Err{AcpiError::BadLength};
    return header;
}

// Checked in this order: a whole header, the signature, the length against
// the header and the span, the checksum.
Result<SdtHeader, AcpiError> check_table(std::span<const uint8_t> bytes,
                                         std::string_view signature) {
    if (bytes.size() < sdt_header_size)
        return Err{AcpiError::TooShort};
    if (!signature.empty() &&
        (signature.size() != 4 || !same_chars(bytes.data(), signature.data(), 4)))
        return Err{AcpiError::BadSignature};
    SdtHeader header = TRY(peek_header(bytes));
    if (header.length > bytes.size())
        return Err{AcpiError::TooShort};
    if (!sums_to_zero(bytes.data(), header.length))
        return Err{AcpiError::BadChecksum};
    return header;
}

// The entries must fill the table exactly: trailing bytes that are not a
// whole entry make the length wrong (BadLength) rather than being ignored.
Result<RootTable, AcpiError> RootTable::parse(std::span<const uint8_t> bytes) {
    if (bytes.size() < sdt_header_size)
        return Err{AcpiError::TooShort};
    uint8_t entry_size;
    if (same_chars(bytes.data(), "RSDT", 4))
        entry_size = 4;
    else if (same_chars(bytes.data(), "XSDT", 4))
        entry_size = 8;
    else
        return Err{AcpiError::BadSignature};
    SdtHeader header = TRY(check_table(bytes));
    size_t entries_length = header.length - sdt_header_size;
    if (entries_length % entry_size != 0)
        return Err{AcpiError::BadLength};
    RootTable table;
    table.m_entries = bytes.data() + sdt_header_size;
    table.m_count = entries_length / entry_size;
    table.m_entry_size = entry_size;
    return table;
}

// Out of range (a broken precondition): 0, never a read past the table.
uint64_t RootTable::entry(size_t index) const {
    if (index >= m_count)
        return 0;
    const uint8_t* at = m_entries + index * m_entry_size;
    return m_entry_size == 8 ? load_u64(at) : load_u32(at);
}

Result<Madt, AcpiError> Madt::parse(std::span<const uint8_t> bytes) {
    SdtHeader header = TRY(check_table(bytes, "APIC"));
    if (header.length < madt_entries)
        return Err{AcpiError::BadLength};
    Madt madt;
    madt.m_table = bytes.data();
    madt.m_length = header.length;
    madt.m_first = madt_entries;
    madt.m_offset = madt_entries;
    madt.m_local_apic_address = load_u32(bytes.data() + madt_local_apic_address);
    madt.m_flags = load_u32(bytes.data() + madt_flags);
    return madt;
}

// Entries are longer than their fixed part in later revisions of the
// specification; the extra bytes are skipped.
Result<MadtEntry, AcpiError> Madt::next() {
    if (m_broken)
        return Err{AcpiError::BadEntry};
    if (m_offset >= m_length)
        return Err{AcpiError::NotFound};
    size_t remaining = m_length - m_offset;
    const uint8_t* at = m_table + m_offset;
    if (remaining < 2 || at[1] < 2 || at[1] > remaining || at[1] < madt_entry_minimum(at[0])) {
        m_broken = true;
        return Err{AcpiError::BadEntry};
    }
    MadtEntry entry;
    entry.raw_type = at[0];
    switch (at[0]) {
    case 0:
        entry.type = MadtEntry::Type::LocalApic;
        entry.processor_uid = at[2];
        entry.apic_id = at[3];
        entry.flags = load_u32(at + 4);
        break;
    case 1:
        entry.type = MadtEntry::Type::IoApic;
        entry.apic_id = at[2];
        entry.address = load_u32(at + 4);
        entry.gsi = load_u32(at + 8);
        break;
    case 2:
        entry.type = MadtEntry::Type::InterruptOverride;
        entry.bus = at[2];
        entry.source = at[3];
        entry.gsi = load_u32(at + 4);
        entry.flags = load_u16(at + 8);
        break;
    case 3:
        entry.type = MadtEntry::Type::NmiSource;
        entry.flags = load_u16(at + 2);
        entry.gsi = load_u32(at + 4);
        break;
    case 4:
        entry.type = MadtEntry::Type::LocalApicNmi;
        entry.processor_uid = at[2];
        entry.flags = load_u16(at + 3);
        entry.lint = at[5];
        break;
    case 5:
        entry.type = MadtEntry::Type::LocalApicAddress;
        entry.address = load_u64(at + 4);
        break;
    case 9:
        entry.type = MadtEntry::Type::LocalX2Apic;
        entry.apic_id = load_u32(at + 4);
        entry.flags = load_u32(at + 8);
        entry.processor_uid = load_u32(at + 12);
        break;
    case 10:
        entry.type = MadtEntry::Type::LocalX2ApicNmi;
        entry.flags = load_u16(at + 2);
        entry.processor_uid = load_u32(at + 4);
        entry.lint = at[8];
        break;
    default:
        entry.type = MadtEntry::Type::Other;
        break;
    }
    m_offset += at[1];
    return entry;
}

// A FADT shorter than ACPI 1.0's 116 bytes is BadLength. IAPC_BOOT_ARCH is
// read from revision 3 (ACPI 2.0) on: before, its bytes are reserved.
Result<Fadt, AcpiError> parse_fadt(std::span<const uint8_t> bytes) {
    SdtHeader header = TRY(check_table(bytes, "FACP"));
    if (header.length < fadt_v1_size)
        return Err{AcpiError::BadLength};
    ShortTable table{bytes.data(), header.length};
    Fadt fadt;
    fadt.revision = header.revision;
    uint64_t x_dsdt = table.u64(fadt_x_dsdt);
    fadt.dsdt = x_dsdt != 0 ? x_dsdt : table.u32(fadt_dsdt);
    GenericAddress x_pm1a = table.gas(fadt_x_pm1a_cnt_blk);
    if (x_pm1a.address != 0) {
        fadt.pm1a_control = x_pm1a.address;
        fadt.pm1a_control_space = x_pm1a.space;
    } else {
        fadt.pm1a_control = table.u32(fadt_pm1a_cnt_blk);
    }
    GenericAddress x_pm1b = table.gas(fadt_x_pm1b_cnt_blk);
    if (x_pm1b.address != 0) {
        fadt.pm1b_control = x_pm1b.address;
        fadt.pm1b_control_space = x_pm1b.space;
    } else {
        fadt.pm1b_control = table.u32(fadt_pm1b_cnt_blk);
    }
    fadt.pm1_control_length = table.u8(fadt_pm1_cnt_len);
    fadt.flags = table.u32(fadt_flags);
    if (header.revision >= fadt_boot_arch_revision)
        fadt.boot_architecture = table.u16(fadt_iapc_boot_arch);
    fadt.reset_register = table.gas(fadt_reset_reg);
    fadt.reset_value = table.u8(fadt_reset_value);
    fadt.reset_supported = (fadt.flags & fadt_reset_reg_sup) != 0 && table.has(fadt_reset_value, 1);
    fadt.sci_interrupt = table.u16(fadt_sci_int);
    fadt.smi_command = table.u32(fadt_smi_cmd);
    fadt.acpi_enable = table.u8(fadt_acpi_enable);
    return fadt;
}

// As for the root table, bytes after the last whole entry are BadLength.
Result<Mcfg, AcpiError> Mcfg::parse(std::span<const uint8_t> bytes) {
    SdtHeader header = TRY(check_table(bytes, "MCFG"));
    if (header.length < mcfg_entries)
        return Err{AcpiError::BadLength};
    size_t entries_length = header.length - mcfg_entries;
    if (entries_length % mcfg_entry_size != 0)
        return Err{AcpiError::BadLength};
    Mcfg mcfg;
    mcfg.m_entries = bytes.data() + mcfg_entries;
    mcfg.m_count = entries_length / mcfg_entry_size;
    return mcfg;
}

// Out of range (a broken precondition): an empty entry, never a read past the
// table.
McfgEntry Mcfg::entry(size_t index) const {
    if (index >= m_count)
        return McfgEntry{};
    const uint8_t* at = m_entries + index * mcfg_entry_size;
    McfgEntry entry;
    entry.base = load_u64(at);
    entry.segment = load_u16(at + 8);
    entry.start_bus = at[10];
    entry.end_bus = at[11];
    return entry;
}

Result<Hpet, AcpiError> parse_hpet(std::span<const uint8_t> bytes) {
    SdtHeader header = TRY(check_table(bytes, "HPET"));
    if (header.length < hpet_size)
        return Err{AcpiError::BadLength};
    const uint8_t* base = bytes.data();
    Hpet hpet;
    hpet.event_timer_block_id = load_u32(base + hpet_block_id);
    hpet.base = read_gas(base + hpet_base);
    hpet.number = base[hpet_number];
    hpet.minimum_tick = load_u16(base + hpet_minimum_tick);
    return hpet;
}

// Every NameOp followed by "_S5_" (or "\_S5_") is a candidate; the first whose
// package parses wins.
Result<SleepType, AcpiError> find_s5(std::span<const uint8_t> aml) {
    for (size_t i = 0; i < aml.size(); ++i) {
        if (aml[i] != aml_name_op)
            continue;
        size_t name = i + 1;
        if (name < aml.size() && aml[name] == aml_root_prefix)
            ++name;
        if (!fits(name, 4, aml.size()) || !same_chars(aml.data() + name, "_S5_", 4))
            continue;
        auto sleep = parse_s5_package(aml, name + 4);
        if (sleep.is_ok())
            return sleep;
    }
    return Err{AcpiError::NotFound};
}

} // namespace capos::acpi
