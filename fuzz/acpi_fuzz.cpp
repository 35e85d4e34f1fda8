// libFuzzer target for lib/acpi: every parser on the input, which must give an
// error or a result that keeps its documented guarantees: an RSDP whose stated
// length fits the bytes, a found RSDP at the first valid 16-byte boundary, tables
// whose length fits the bytes and sums to 0, root table and MCFG entries inside
// the table (each read back and compared with a plain little-endian read), a
// MADT walk that ends within the table's length, ends the same way after
// rewind() and stays ended, and a DMAR (lib/acpi/dmar.h) whose structures tile
// the table, each field and device scope read back, each scope's path resolved
// through bridges made from the input and compared with a plain walk. The
// parsers then run again on a copy whose checksums are made right, so that
// mutations reach past the checksum checks into the table bodies. Any
// violation traps, which libFuzzer reports as a crash.
#include "fuzz/fuzz_checks.h"
#include "lib/acpi/acpi.h"
#include "lib/acpi/dmar.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

namespace acpi = capos::acpi;
using acpi::AcpiError;

using capos::fuzz::read_le;
using capos::fuzz::require;

bool sums_to_zero(std::span<const uint8_t> bytes, size_t length) {
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i)
        sum = static_cast<uint8_t>(sum + bytes[i]);
    return sum == 0;
}

void check_rsdp(std::span<const uint8_t> bytes) {
    auto rsdp = acpi::parse_rsdp(bytes);
    if (rsdp.is_error())
        return;
    require(bytes.size() >= 20 && sums_to_zero(bytes, 20));
    require(rsdp.value().rsdt_address == read_le(bytes, 16, 4));
    if (rsdp.value().revision < 2) {
        require(rsdp.value().xsdt_address == 0);
        return;
    }
    require(bytes.size() >= 36);
    uint64_t length = read_le(bytes, 20, 4);
    require(length >= 36 && length <= bytes.size() && sums_to_zero(bytes, length));
    require(rsdp.value().xsdt_address == read_le(bytes, 24, 8));
}

void check_find_rsdp(std::span<const uint8_t> bytes) {
    auto found = acpi::find_rsdp(bytes);
    size_t end = found.is_ok() ? found.value() : bytes.size();
    if (found.is_ok()) {
        require(end % 16 == 0 && end + 20 <= bytes.size());
        require(acpi::parse_rsdp(bytes.subspan(end)).is_ok());
    }
    // No valid RSDP at an earlier boundary.
    for (size_t at = 0; at < end && at + 20 <= bytes.size(); at += 16)
        require(acpi::parse_rsdp(bytes.subspan(at)).is_error());
}

// The table's length when check_table accepts it, else 0.
size_t check_header(std::span<const uint8_t> bytes) {
    auto peeked = acpi::peek_header(bytes);
    if (peeked.is_ok()) {
        require(bytes.size() >= acpi::sdt_header_size);
        require(peeked.value().length >= acpi::sdt_header_size);
        require(peeked.value().length == read_le(bytes, 4, 4));
        for (size_t i = 0; i < 4; ++i)
            require(static_cast<uint8_t>(peeked.value().signature[i]) == bytes[i]);
    }
    auto checked = acpi::check_table(bytes);
    if (checked.is_error())
        return 0;
    require(peeked.is_ok());
    size_t length = checked.value().length;
    require(length >= acpi::sdt_header_size && length <= bytes.size());
    require(sums_to_zero(bytes, length));
    return length;
}

void check_root_table(std::span<const uint8_t> bytes, size_t length) {
    auto root = acpi::RootTable::parse(bytes);
    if (root.is_error())
        return;
    require(length != 0);
    size_t size = root.value().is_xsdt() ? 8 : 4;
    require(root.value().count() * size + acpi::sdt_header_size == length);
    require(length <= bytes.size());
    for (size_t i = 0; i < root.value().count(); ++i)
        require(root.value().entry(i) == read_le(bytes, acpi::sdt_header_size + i * size, size));
}

bool known_madt_type(uint8_t type) {
    return type <= 5 || type == 9 || type == 10;
}

// Walks to the end: the number of entries, and whether it ended with NotFound.
struct Walk {
    size_t count = 0;
    bool clean = false;
    uint64_t digest = 0;
};

Walk walk_madt(acpi::Madt& madt, size_t length) {
    Walk walk;
    // Every entry is at least 2 bytes long, so a table of `length` bytes has
    // fewer than length / 2 of them after its 44-byte start.
    for (;;) {
        auto next = madt.next();
        if (next.is_error()) {
            require(next.error() == AcpiError::NotFound || next.error() == AcpiError::BadEntry);
            walk.clean = next.error() == AcpiError::NotFound;
            return walk;
        }
        const acpi::MadtEntry& entry = next.value();
        ++walk.count;
        require(walk.count <= (length - 44) / 2);
        if (entry.type == acpi::MadtEntry::Type::Other)
            require(!known_madt_type(entry.raw_type));
        else
            require(static_cast<uint8_t>(entry.type) == entry.raw_type);
        walk.digest = walk.digest * 31 + entry.raw_type + entry.apic_id + entry.processor_uid +
                      entry.flags + entry.address + entry.gsi + entry.bus + entry.source +
                      entry.lint;
    }
}

void check_madt(std::span<const uint8_t> bytes, size_t length) {
    auto parsed = acpi::Madt::parse(bytes);
    if (parsed.is_error())
        return;
    require(length >= 44);
    acpi::Madt madt = parsed.value();
    require(madt.local_apic_address() == read_le(bytes, 36, 4));
    require(madt.flags() == read_le(bytes, 40, 4));
    Walk first = walk_madt(madt, length);
    // Ended stays ended.
    auto after = madt.next();
    require(after.is_error() &&
            after.error() == (first.clean ? AcpiError::NotFound : AcpiError::BadEntry));
    madt.rewind();
    Walk second = walk_madt(madt, length);
    if (first.clean)
        require(second.clean && second.count == first.count && second.digest == first.digest);
    else
        require(!second.clean && second.count == 0); // BadEntry is sticky
}

void check_fadt(std::span<const uint8_t> bytes, size_t length) {
    auto fadt = acpi::parse_fadt(bytes);
    if (fadt.is_error())
        return;
    require(length >= 116);
    require(fadt.value().flags == read_le(bytes, 112, 4));
    if (fadt.value().reset_supported)
        require(length >= 129 && (fadt.value().flags & (1u << 10)) != 0);
    if (length < 148)
        require(fadt.value().dsdt == read_le(bytes, 40, 4));
    if (fadt.value().pm1a_control_space != acpi::address_space_io)
        require(length >= 184 && fadt.value().pm1a_control != 0);
    if (fadt.value().pm1b_control_space != acpi::address_space_io)
        require(length >= 196 && fadt.value().pm1b_control != 0);
}

void check_mcfg(std::span<const uint8_t> bytes, size_t length) {
    auto mcfg = acpi::Mcfg::parse(bytes);
    if (mcfg.is_error())
        return;
    require(length >= 44 && mcfg.value().count() * 16 + 44 == length);
    for (size_t i = 0; i < mcfg.value().count(); ++i) {
        acpi::McfgEntry entry = mcfg.value().entry(i);
        size_t at = 44 + i * 16;
        require(entry.base == read_le(bytes, at, 8) && entry.segment == read_le(bytes, at + 8, 2) &&
                entry.start_bus == bytes[at + 10] && entry.end_bus == bytes[at + 11]);
    }
}

void check_hpet(std::span<const uint8_t> bytes, size_t length) {
    auto hpet = acpi::parse_hpet(bytes);
    if (hpet.is_error())
        return;
    require(length >= 56);
    require(hpet.value().base.address == read_le(bytes, 44, 8));
    require(hpet.value().minimum_tick == read_le(bytes, 53, 2));
}

// Bridges whose secondary bus is a function of where they are and of a byte
// of the input; some answers are not above the bridge's bus, which resolve()
// must refuse.
class InputBridges final : public acpi::SecondaryBusReader {
public:
    explicit InputBridges(uint8_t salt) : m_salt(salt) {}
    uint8_t secondary_bus(uint8_t bus, uint8_t device, uint8_t function) override {
        ++reads;
        return answer(bus, device, function);
    }
    uint8_t answer(uint8_t bus, uint8_t device, uint8_t function) const {
        return static_cast<uint8_t>(bus + (device * 8u + function + m_salt) % 7u);
    }
    size_t reads = 0;

private:
    uint8_t m_salt;
};

// The scope at bytes[at], as next() gave it; returns a digest of it.
uint64_t check_scope(const acpi::DeviceScope& scope, std::span<const uint8_t> bytes, size_t at) {
    require(scope.raw_type == bytes[at] && scope.length == bytes[at + 1] &&
            scope.flags == bytes[at + 2] && scope.enumeration_id == bytes[at + 4] &&
            scope.start_bus == bytes[at + 5]);
    if (scope.raw_type >= 1 && scope.raw_type <= 5)
        require(static_cast<uint8_t>(scope.type) == scope.raw_type);
    else
        require(scope.type == acpi::DeviceScope::Type::Other);
    require(scope.length >= 8 && scope.length % 2 == 0);
    require(scope.path.data() == bytes.data() + at + 6 && scope.steps() == (scope.length - 6u) / 2);
    for (size_t i = 0; i < scope.steps(); ++i) {
        acpi::PathStep step = scope.step(i);
        require(step.device == bytes[at + 6 + 2 * i] && step.function == bytes[at + 7 + 2 * i]);
        require(step.device <= 31 && step.function <= 7);
    }
    // resolve() against a plain walk of the same bridges.
    InputBridges bridges(bytes[at + 4]);
    auto location = scope.resolve(bridges);
    if (scope.steps() > acpi::max_path_steps) {
        require(location.is_error() && location.error() == AcpiError::BadValue);
        require(bridges.reads == 0);
        return scope.length;
    }
    uint8_t bus = scope.start_bus;
    size_t reads = 0;
    for (size_t i = 0; i + 1 < scope.steps(); ++i) {
        uint8_t next = bridges.answer(bus, scope.step(i).device, scope.step(i).function);
        ++reads;
        if (next <= bus) {
            require(location.is_error() && location.error() == AcpiError::BadValue);
            require(bridges.reads == reads);
            return scope.length;
        }
        bus = next;
    }
    acpi::PathStep last = scope.step(scope.steps() - 1);
    require(location.is_ok() && bridges.reads == reads);
    require(location.value() == (acpi::PciLocation{bus, last.device, last.function}));
    return uint64_t{bus} << 16 | last.device << 8 | last.function;
}

// Where a structure type's scopes start; 0 for types without them.
size_t scopes_offset(acpi::DmarEntry::Type type) {
    switch (type) {
    case acpi::DmarEntry::Type::Drhd:
        return 16;
    case acpi::DmarEntry::Type::Rmrr:
        return 24;
    case acpi::DmarEntry::Type::Atsr:
    case acpi::DmarEntry::Type::Satc:
        return 8;
    default:
        return 0;
    }
}

// Walks to the end: the structures must tile the table exactly, each read
// back from the bytes, and no walk may fail after parse() accepted the table.
Walk walk_dmar(acpi::Dmar& dmar, std::span<const uint8_t> bytes, size_t length) {
    Walk walk;
    size_t at = 48;
    for (;;) {
        auto next = dmar.next();
        if (next.is_error()) {
            require(next.error() == AcpiError::NotFound && at == length);
            walk.clean = true;
            return walk;
        }
        const acpi::DmarEntry& entry = next.value();
        ++walk.count;
        require(walk.count <= (length - 48) / 4);
        require(at + 4 <= length && entry.raw_type == read_le(bytes, at, 2) &&
                entry.length == read_le(bytes, at + 2, 2));
        require(entry.length >= 4 && at + entry.length <= length);
        const uint64_t page = 0xfff;
        switch (entry.type) {
        case acpi::DmarEntry::Type::Drhd:
            require(entry.raw_type == 0 && entry.flags == bytes[at + 4] &&
                    entry.register_size == (bytes[at + 5] & 0x0f) &&
                    entry.segment == read_le(bytes, at + 6, 2) &&
                    entry.address == read_le(bytes, at + 8, 8));
            require((entry.address & page) == 0 &&
                    entry.address + (entry.register_bytes() - 1) >= entry.address);
            break;
        case acpi::DmarEntry::Type::Rmrr:
            require(entry.raw_type == 1 && entry.segment == read_le(bytes, at + 6, 2) &&
                    entry.address == read_le(bytes, at + 8, 8) &&
                    entry.limit == read_le(bytes, at + 16, 8));
            require((entry.address & page) == 0 && (entry.limit & page) == page &&
                    entry.address <= entry.limit);
            break;
        case acpi::DmarEntry::Type::Atsr:
        case acpi::DmarEntry::Type::Satc:
            require(entry.raw_type == (entry.type == acpi::DmarEntry::Type::Atsr ? 2 : 5));
            require(entry.flags == bytes[at + 4] && entry.segment == read_le(bytes, at + 6, 2));
            break;
        case acpi::DmarEntry::Type::Rhsa:
            require(entry.raw_type == 3 && entry.length >= 20 &&
                    entry.address == read_le(bytes, at + 8, 8) && (entry.address & page) == 0 &&
                    entry.proximity_domain == read_le(bytes, at + 16, 4));
            break;
        case acpi::DmarEntry::Type::Andd: {
            require(entry.raw_type == 4 && entry.length >= 8 &&
                    entry.acpi_device_number == bytes[at + 7]);
            size_t room = entry.length - 8u;
            require(reinterpret_cast<const uint8_t*>(entry.name.data()) == bytes.data() + at + 8 &&
                    entry.name.size() <= room);
            for (char c : entry.name)
                require(c != 0);
            if (entry.name.size() < room)
                require(bytes[at + 8 + entry.name.size()] == 0);
            break;
        }
        case acpi::DmarEntry::Type::Other:
            require(entry.raw_type >= 6);
            break;
        }
        size_t first_scope = scopes_offset(entry.type);
        if (first_scope == 0) {
            require(entry.scopes.empty());
        } else {
            acpi::DeviceScopes scopes = entry.scopes;
            size_t scope_at = at + first_scope;
            for (auto scope = scopes.next(); scope.is_ok(); scope = scopes.next()) {
                walk.digest = walk.digest * 31 + check_scope(scope.value(), bytes, scope_at);
                scope_at += scope.value().length;
            }
            auto end = scopes.next();
            require(end.is_error() && end.error() == AcpiError::NotFound);
            require(scope_at == at + entry.length);
        }
        walk.digest = walk.digest * 31 + entry.raw_type + entry.address + entry.limit;
        at += entry.length;
    }
}

void check_dmar(std::span<const uint8_t> bytes, size_t length) {
    auto parsed = acpi::Dmar::parse(bytes);
    if (parsed.is_error())
        return;
    require(length >= 48 && bytes[36] <= 63);
    acpi::Dmar dmar = parsed.value();
    require(dmar.host_address_width() == bytes[36] + 1u && dmar.flags() == bytes[37]);
    Walk first = walk_dmar(dmar, bytes, length);
    auto after = dmar.next();
    require(after.is_error() && after.error() == AcpiError::NotFound);
    dmar.rewind();
    Walk second = walk_dmar(dmar, bytes, length);
    require(second.count == first.count && second.digest == first.digest);
}

void check_s5(std::span<const uint8_t> aml) {
    auto found = acpi::find_s5(aml);
    require(found.is_ok() || found.error() == AcpiError::NotFound);
}

void check_all(std::span<const uint8_t> bytes) {
    check_rsdp(bytes);
    check_find_rsdp(bytes);
    size_t length = check_header(bytes);
    check_root_table(bytes, length);
    check_madt(bytes, length);
    check_fadt(bytes, length);
    check_mcfg(bytes, length);
    check_hpet(bytes, length);
    check_dmar(bytes, length);
    check_s5(bytes);
    if (bytes.size() > acpi::sdt_header_size)
        check_s5(bytes.subspan(acpi::sdt_header_size));
}

// Sets bytes[at] so that the first `length` bytes sum to 0.
void fix_checksum(std::vector<uint8_t>& bytes, size_t at, size_t length) {
    bytes[at] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i)
        sum = static_cast<uint8_t>(sum + bytes[i]);
    bytes[at] = static_cast<uint8_t>(-sum);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    check_all(bytes);

    // Again with the checksums right: an SDT's over its stated length (or the
    // bytes there are), or an RSDP's two.
    if (size < 20)
        return 0;
    std::vector<uint8_t> fixed(data, data + size);
    if (read_le(bytes, 0, 8) == 0x2052545020445352) { // "RSD PTR "
        fix_checksum(fixed, 8, 20);
        if (size >= 36) {
            size_t length = read_le(bytes, 20, 4);
            fix_checksum(fixed, 32, length < size ? (length < 33 ? 33 : length) : size);
        }
    } else if (size >= acpi::sdt_header_size) {
        size_t length = read_le(bytes, 4, 4);
        fix_checksum(fixed, 9, length < size ? (length < 10 ? 10 : length) : size);
    } else {
        return 0;
    }
    check_all(fixed);
    return 0;
}
