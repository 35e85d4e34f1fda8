#include "lib/acpi/dmar.h"
#include "lib/base/bytes.h"

namespace capos::acpi {

namespace {

using bytes::load_u16;
using bytes::load_u32;
using bytes::load_u64;

// DMAR header layout (8.1): the host address width's field holds the width
// minus 1; ten reserved bytes follow the flags.
constexpr size_t dmar_host_address_width = 36;
constexpr size_t dmar_flags = 37;
constexpr size_t dmar_structures = 48;
constexpr uint8_t dmar_widest_field = 63; // 64 bits

// Every remapping structure starts with its type and length, 16 bits each
// (8.2).
constexpr size_t structure_type = 0;
constexpr size_t structure_length = 2;
constexpr size_t structure_header_size = 4;

// DRHD layout (8.3).
constexpr size_t drhd_flags = 4;
constexpr size_t drhd_size = 5;
constexpr size_t drhd_segment = 6;
constexpr size_t drhd_base = 8;
constexpr size_t drhd_scopes = 16;
constexpr uint8_t drhd_size_mask = 0x0f; // bits 7:4 are reserved

// RMRR layout (8.4): two reserved bytes before the segment.
constexpr size_t rmrr_segment = 6;
constexpr size_t rmrr_base = 8;
constexpr size_t rmrr_limit = 16;
constexpr size_t rmrr_scopes = 24;

// ATSR (8.5) and SATC (8.8) share a layout: flags, a reserved byte, the
// segment, the scopes.
constexpr size_t atsr_flags = 4;
constexpr size_t atsr_segment = 6;
constexpr size_t atsr_scopes = 8;

// RHSA layout (8.6): four reserved bytes, the unit's register base, the
// proximity domain.
constexpr size_t rhsa_base = 8;
constexpr size_t rhsa_proximity_domain = 16;
constexpr size_t rhsa_size = 20;

// ANDD layout (8.7): three reserved bytes, the device number, the name.
constexpr size_t andd_device_number = 7;
constexpr size_t andd_name = 8;

// Device scope layout (8.3.1): the path's (device, function) pairs follow a
// 6-byte header; a scope names at least one step.
constexpr size_t scope_type = 0;
constexpr size_t scope_length = 1;
constexpr size_t scope_flags = 2;
constexpr size_t scope_enumeration_id = 4;
constexpr size_t scope_start_bus = 5;
constexpr size_t scope_path = 6;
constexpr size_t scope_minimum = scope_path + 2;
constexpr uint8_t max_device = 31;
constexpr uint8_t max_function = 7;

constexpr uint64_t page_mask = dmar_page_size - 1;

// The fixed part of each structure type this reader decodes; the common
// header for the others.
size_t structure_minimum(uint16_t type) {
    switch (type) {
    case 0:
        return drhd_scopes;
    case 1:
        return rmrr_scopes;
    case 2:
    case 5:
        return atsr_scopes;
    case 3:
        return rhsa_size;
    case 4:
        return andd_name;
    default:
        return structure_header_size;
    }
}

DeviceScope::Type scope_type_of(uint8_t type) {
    if (type >= 1 && type <= 5)
        return static_cast<DeviceScope::Type>(type);
    return DeviceScope::Type::Other;
}

// The scope at area[offset], offset < area.size(): its length first (it
// must hold the header and whole steps and end inside the area), then its
// path's values.
Result<DeviceScope, AcpiError> decode_scope(std::span<const uint8_t> area, size_t offset) {
    size_t remaining = area.size() - offset;
    const uint8_t* at = area.data() + offset;
    if (remaining < scope_minimum)
        return Err{AcpiError::BadEntry};
    uint8_t length = at[scope_length];
    if (length < scope_minimum || length > remaining || (length - scope_path) % 2 != 0)
        return Err{AcpiError::BadEntry};
    DeviceScope scope;
    scope.raw_type = at[scope_type];
    scope.type = scope_type_of(scope.raw_type);
    scope.length = length;
    scope.flags = at[scope_flags];
    scope.enumeration_id = at[scope_enumeration_id];
    scope.start_bus = at[scope_start_bus];
    scope.path = area.subspan(offset + scope_path, length - scope_path);
    for (size_t i = 0; i < scope.steps(); ++i) {
        PathStep step = scope.step(i);
        if (step.device > max_device || step.function > max_function)
            return Err{AcpiError::BadValue};
    }
    return scope;
}

// Every scope of a structure, to its end.
Result<void, AcpiError> check_scopes(DeviceScopes scopes) {
    for (;;) {
        auto scope = scopes.next();
        if (scope.is_ok())
            continue;
        if (scope.error() == AcpiError::NotFound)
            return {};
        return Err{scope.error()};
    }
}

bool page_aligned(uint64_t address) {
    return (address & page_mask) == 0;
}

// The structure at table[offset], offset < length: its length against the
// table and its type's fixed part, its fields, then its scopes.
Result<DmarEntry, AcpiError> decode_structure(const uint8_t* table, size_t length, size_t offset) {
    size_t remaining = length - offset;
    const uint8_t* at = table + offset;
    if (remaining < structure_header_size)
        return Err{AcpiError::BadEntry};
    uint16_t type = load_u16(at + structure_type);
    uint16_t size = load_u16(at + structure_length);
    // Every minimum covers the header, so a zero length cannot stall a walk.
    if (size < structure_minimum(type) || size > remaining)
        return Err{AcpiError::BadEntry};
    DmarEntry entry;
    entry.raw_type = type;
    entry.length = size;
    switch (type) {
    case 0:
        entry.type = DmarEntry::Type::Drhd;
        entry.flags = at[drhd_flags];
        entry.register_size = at[drhd_size] & drhd_size_mask;
        entry.segment = load_u16(at + drhd_segment);
        entry.address = load_u64(at + drhd_base);
        // Page aligned, and the register set must not wrap past the top of
        // the address space.
        if (!page_aligned(entry.address) ||
            entry.address > ~uint64_t{0} - entry.register_bytes() + 1)
            return Err{AcpiError::BadValue};
        entry.scopes = DeviceScopes({at + drhd_scopes, size - drhd_scopes});
        break;
    case 1:
        entry.type = DmarEntry::Type::Rmrr;
        entry.segment = load_u16(at + rmrr_segment);
        entry.address = load_u64(at + rmrr_base);
        entry.limit = load_u64(at + rmrr_limit);
        // Whole pages: the base aligned, the limit the last byte of a page.
        if (!page_aligned(entry.address) || (entry.limit & page_mask) != page_mask ||
            entry.address > entry.limit)
            return Err{AcpiError::BadValue};
        entry.scopes = DeviceScopes({at + rmrr_scopes, size - rmrr_scopes});
        break;
    case 2:
    case 5:
        entry.type = type == 2 ? DmarEntry::Type::Atsr : DmarEntry::Type::Satc;
        entry.flags = at[atsr_flags];
        entry.segment = load_u16(at + atsr_segment);
        entry.scopes = DeviceScopes({at + atsr_scopes, size - atsr_scopes});
        break;
    case 3:
        entry.type = DmarEntry::Type::Rhsa;
        entry.address = load_u64(at + rhsa_base);
        entry.proximity_domain = load_u32(at + rhsa_proximity_domain);
        if (!page_aligned(entry.address))
            return Err{AcpiError::BadValue};
        break;
    case 4: {
        entry.type = DmarEntry::Type::Andd;
        entry.acpi_device_number = at[andd_device_number];
        size_t name_length = 0;
        while (andd_name + name_length < size && at[andd_name + name_length] != 0)
            ++name_length;
        entry.name = {reinterpret_cast<const char*>(at + andd_name), name_length};
        break;
    }
    default:
        entry.type = DmarEntry::Type::Other;
        break;
    }
    TRY(check_scopes(entry.scopes));
    return entry;
}

} // namespace

PathStep DeviceScope::step(size_t index) const {
    if (index >= steps())
        return PathStep{};
    return PathStep{path[2 * index], path[2 * index + 1]};
}

// The bound is checked before any read, so a refused path costs nothing.
Result<PciLocation, AcpiError> DeviceScope::resolve(SecondaryBusReader& reader) const {
    size_t count = steps();
    if (count == 0)
        return Err{AcpiError::BadEntry};
    if (count > max_path_steps)
        return Err{AcpiError::BadValue};
    uint8_t bus = start_bus;
    for (size_t i = 0; i + 1 < count; ++i) {
        PathStep bridge = step(i);
        uint8_t secondary = reader.secondary_bus(bus, bridge.device, bridge.function);
        if (secondary <= bus)
            return Err{AcpiError::BadValue};
        bus = secondary;
    }
    PathStep last = step(count - 1);
    return PciLocation{bus, last.device, last.function};
}

// A malformed scope is returned again by every later call (the offset does
// not move past it); after Dmar::parse none is.
Result<DeviceScope, AcpiError> DeviceScopes::next() {
    if (m_offset >= m_bytes.size())
        return Err{AcpiError::NotFound};
    DeviceScope scope = TRY(decode_scope(m_bytes, m_offset));
    m_offset += scope.length;
    return scope;
}

// Structures of one type are meant to come together and in type order; the
// order is not checked, since nothing here depends on it.
Result<Dmar, AcpiError> Dmar::parse(std::span<const uint8_t> bytes) {
    SdtHeader header = TRY(check_table(bytes, "DMAR"));
    if (header.length < dmar_structures)
        return Err{AcpiError::BadLength};
    const uint8_t* table = bytes.data();
    if (table[dmar_host_address_width] > dmar_widest_field)
        return Err{AcpiError::BadValue};
    // A structure is at least 4 bytes long, so the walk ends.
    for (size_t offset = dmar_structures; offset < header.length;) {
        DmarEntry entry = TRY(decode_structure(table, header.length, offset));
        offset += entry.length;
    }
    Dmar dmar;
    dmar.m_table = table;
    dmar.m_length = header.length;
    dmar.m_first = dmar_structures;
    dmar.m_offset = dmar_structures;
    dmar.m_host_address_width = table[dmar_host_address_width] + 1u;
    dmar.m_flags = table[dmar_flags];
    return dmar;
}

Result<DmarEntry, AcpiError> Dmar::next() {
    if (m_offset >= m_length)
        return Err{AcpiError::NotFound};
    DmarEntry entry = TRY(decode_structure(m_table, m_length, m_offset));
    m_offset += entry.length;
    return entry;
}

} // namespace capos::acpi
