// Host tests for lib/acpi/dmar: DMAR tables built in memory (QEMU's q35 table,
// a platform's with RMRRs and devices behind bridges, one of every structure
// type), each rule of the parser broken on its own (lengths, alignment,
// ranges, path values, checksums, every truncation), device scope paths
// resolved through a table of bridges, and random tables and bridge trees
// checked against a simple model of what they hold.
#include "lib/acpi/dmar.h"
#include "tests/host/acpi_test_util.h"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace capos::acpi {

namespace {

using namespace testing;

// The error Dmar::parse gives for a table of `structures`, or nullopt.
std::optional<AcpiError> parse_error(const Bytes& structures, uint8_t width_field = 38) {
    Bytes table = exact(make_dmar(width_field, 0, structures));
    return error_of(Dmar::parse(table));
}

std::vector<DmarEntry> walk(Dmar& dmar) {
    std::vector<DmarEntry> entries;
    for (;;) {
        auto next = dmar.next();
        if (next.is_error()) {
            EXPECT_EQ(next.error(), AcpiError::NotFound);
            return entries;
        }
        entries.push_back(next.value());
    }
}

std::vector<DeviceScope> walk(DeviceScopes scopes) {
    std::vector<DeviceScope> result;
    for (;;) {
        auto next = scopes.next();
        if (next.is_error()) {
            EXPECT_EQ(next.error(), AcpiError::NotFound);
            return result;
        }
        result.push_back(next.value());
    }
}

// The entries of `table`, which must parse. They point into the table, so a
// temporary one is refused.
std::vector<DmarEntry> entries_of(Bytes&& table) = delete;
std::vector<DmarEntry> entries_of(const Bytes& table) {
    auto parsed = Dmar::parse(table);
    EXPECT_TRUE(parsed.is_ok());
    if (parsed.is_error())
        return {};
    return walk(parsed.value());
}

// Bridges by (bus, device, function), answering their secondary bus and
// recording every read; a read of anything else answers `absent`.
class Bridges final : public SecondaryBusReader {
public:
    std::map<std::tuple<uint8_t, uint8_t, uint8_t>, uint8_t> secondary;
    std::vector<std::tuple<uint8_t, uint8_t, uint8_t>> reads;
    uint8_t absent = 0xff;

    uint8_t secondary_bus(uint8_t bus, uint8_t device, uint8_t function) override {
        reads.emplace_back(bus, device, function);
        auto found = secondary.find({bus, device, function});
        return found == secondary.end() ? absent : found->second;
    }
};

Bytes path(std::initializer_list<PathStep> steps) {
    Bytes bytes;
    for (PathStep step : steps)
        bytes = bytes + Bytes{step.device, step.function};
    return bytes;
}

TEST(AcpiDmar, QemuQ35IntelIommu) {
    Bytes table = exact(qemu_q35_dmar());
    auto parsed = Dmar::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Dmar dmar = parsed.value();
    EXPECT_EQ(dmar.host_address_width(), 39u);
    EXPECT_EQ(dmar.flags(), dmar_interrupt_remapping);

    auto unit = dmar.next();
    ASSERT_TRUE(unit.is_ok());
    EXPECT_EQ(unit.value().type, DmarEntry::Type::Drhd);
    EXPECT_EQ(unit.value().raw_type, 0);
    EXPECT_EQ(unit.value().length, 24);
    EXPECT_EQ(unit.value().flags, drhd_include_pci_all);
    EXPECT_EQ(unit.value().segment, 0);
    EXPECT_EQ(unit.value().address, 0xfed90000u);
    EXPECT_EQ(unit.value().register_size, 0);
    EXPECT_EQ(unit.value().register_bytes(), 4096u);

    DeviceScopes scopes = unit.value().scopes;
    auto ioapic = scopes.next();
    ASSERT_TRUE(ioapic.is_ok());
    EXPECT_EQ(ioapic.value().type, DeviceScope::Type::IoApic);
    EXPECT_EQ(ioapic.value().raw_type, 3);
    EXPECT_EQ(ioapic.value().length, 8);
    EXPECT_EQ(ioapic.value().enumeration_id, 0);
    EXPECT_EQ(ioapic.value().start_bus, 0xff);
    ASSERT_EQ(ioapic.value().steps(), 1u);
    EXPECT_EQ(ioapic.value().step(0).device, 0);
    EXPECT_EQ(ioapic.value().step(0).function, 0);
    // One step: the location is the start bus and the step, nothing read.
    Bridges bridges;
    auto location = ioapic.value().resolve(bridges);
    ASSERT_TRUE(location.is_ok());
    EXPECT_EQ(location.value(), (PciLocation{0xff, 0, 0}));
    EXPECT_TRUE(bridges.reads.empty());
    EXPECT_EQ(error_of(scopes.next()), AcpiError::NotFound);
    EXPECT_EQ(error_of(dmar.next()), AcpiError::NotFound);
    EXPECT_EQ(error_of(dmar.next()), AcpiError::NotFound); // ended stays ended
}

TEST(AcpiDmar, QemuQ35WithDeviceIotlb) {
    Bytes table = exact(qemu_q35_dmar(true));
    std::vector<DmarEntry> entries = entries_of(table);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].type, DmarEntry::Type::Drhd);
    EXPECT_EQ(entries[1].type, DmarEntry::Type::Atsr);
    EXPECT_EQ(entries[1].length, 8);
    EXPECT_EQ(entries[1].flags, atsr_all_ports);
    EXPECT_EQ(entries[1].segment, 0);
    EXPECT_TRUE(entries[1].scopes.empty());
    EXPECT_TRUE(walk(entries[1].scopes).empty());
}

TEST(AcpiDmar, HostAddressWidthAndFlags) {
    struct Case {
        uint8_t field;
        unsigned width;
    };
    for (Case c : {Case{0, 1}, Case{38, 39}, Case{47, 48}, Case{51, 52}, Case{63, 64}}) {
        Bytes table = exact(make_dmar(c.field, 0x07, {}));
        auto parsed = Dmar::parse(table);
        ASSERT_TRUE(parsed.is_ok());
        EXPECT_EQ(parsed.value().host_address_width(), c.width);
        EXPECT_EQ(parsed.value().flags(),
                  dmar_interrupt_remapping | dmar_x2apic_opt_out | dmar_dma_control_opt_in);
    }
    // Wider than 64 bits: no x86 platform, so no table to trust.
    EXPECT_EQ(parse_error({}, 64), AcpiError::BadValue);
    EXPECT_EQ(parse_error({}, 0xff), AcpiError::BadValue);
}

TEST(AcpiDmar, EmptyAndShortTables) {
    Bytes empty = exact(make_dmar(38, 0, {}));
    ASSERT_EQ(empty.size(), 48u);
    EXPECT_TRUE(entries_of(empty).empty());
    // A length that ends inside the DMAR header's reserved bytes.
    Bytes short_table(empty.begin(), empty.begin() + 47);
    put(short_table, 4, 47, 4);
    reseal(short_table);
    EXPECT_EQ(error_of(Dmar::parse(exact(short_table))), AcpiError::BadLength);
    // The header alone.
    Bytes header_only(empty.begin(), empty.begin() + 36);
    put(header_only, 4, 36, 4);
    reseal(header_only);
    EXPECT_EQ(error_of(Dmar::parse(exact(header_only))), AcpiError::BadLength);
}

TEST(AcpiDmar, ChecksumAndSignature) {
    Bytes table = exact(qemu_q35_dmar());
    Bytes bad_checksum = table;
    bad_checksum[60] ^= 0x10; // the DRHD's base, covered by the checksum
    EXPECT_EQ(error_of(Dmar::parse(bad_checksum)), AcpiError::BadChecksum);
    Bytes bad_signature = table;
    bad_signature[3] = 'X';
    reseal(bad_signature);
    EXPECT_EQ(error_of(Dmar::parse(bad_signature)), AcpiError::BadSignature);
    // Another table's bytes are not a DMAR.
    EXPECT_EQ(error_of(Dmar::parse(exact(make_table("APIC", Bytes(12, 0))))),
              AcpiError::BadSignature);
    EXPECT_EQ(error_of(Dmar::parse({})), AcpiError::TooShort);
}

// A platform's table: a unit for the integrated graphics alone, a unit for
// everything else with the I/O APIC and the HPET, RMRRs for the USB
// controllers and for a device behind two bridges, an ATSR for one root port.
Bytes platform_dmar() {
    Bytes graphics_unit = drhd(0, 0, 0xfed90000, device_scope(1, 0, 0, path({{2, 0}})), 0);
    Bytes rest_unit = drhd(
        drhd_include_pci_all, 0, 0xfed91000,
        device_scope(3, 2, 0xf0, path({{31, 0}})) + device_scope(4, 0, 0x00, path({{31, 7}})), 1);
    Bytes usb =
        rmrr(0, 0x7b800000, 0x7b80ffff,
             device_scope(1, 0, 0, path({{0x14, 0}})) + device_scope(1, 0, 0, path({{0x1a, 0}})));
    // Root port 00:1c.0, then a switch's downstream port 00.0 on its
    // secondary bus, then function 1 of device 3 below that.
    Bytes behind_bridges =
        rmrr(0, 0x7c000000, 0x7c3fffff, device_scope(1, 0, 0, path({{0x1c, 0}, {0, 0}, {3, 1}})));
    Bytes root_port_ats = atsr(0, 0, device_scope(2, 0, 0, path({{0x1c, 0}})));
    return make_dmar(45, dmar_interrupt_remapping | dmar_dma_control_opt_in,
                     graphics_unit + rest_unit + usb + behind_bridges + root_port_ats);
}

TEST(AcpiDmar, PlatformWithRmrrsAndBridges) {
    Bytes table = exact(platform_dmar());
    auto parsed = Dmar::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().host_address_width(), 46u);
    EXPECT_EQ(parsed.value().flags(), dmar_interrupt_remapping | dmar_dma_control_opt_in);
    std::vector<DmarEntry> entries = walk(parsed.value());
    ASSERT_EQ(entries.size(), 5u);

    EXPECT_EQ(entries[0].type, DmarEntry::Type::Drhd);
    EXPECT_EQ(entries[0].flags, 0);
    EXPECT_EQ(entries[0].address, 0xfed90000u);
    std::vector<DeviceScope> graphics = walk(entries[0].scopes);
    ASSERT_EQ(graphics.size(), 1u);
    EXPECT_EQ(graphics[0].type, DeviceScope::Type::PciEndpoint);
    Bridges none;
    EXPECT_EQ(graphics[0].resolve(none).value(), (PciLocation{0, 2, 0}));

    EXPECT_EQ(entries[1].flags, drhd_include_pci_all);
    EXPECT_EQ(entries[1].address, 0xfed91000u);
    EXPECT_EQ(entries[1].register_size, 1);
    EXPECT_EQ(entries[1].register_bytes(), 8192u);
    std::vector<DeviceScope> rest = walk(entries[1].scopes);
    ASSERT_EQ(rest.size(), 2u);
    EXPECT_EQ(rest[0].type, DeviceScope::Type::IoApic);
    EXPECT_EQ(rest[0].enumeration_id, 2);
    EXPECT_EQ(rest[0].resolve(none).value(), (PciLocation{0xf0, 31, 0}));
    EXPECT_EQ(rest[1].type, DeviceScope::Type::MsiHpet);
    EXPECT_EQ(rest[1].resolve(none).value(), (PciLocation{0, 31, 7}));
    EXPECT_TRUE(none.reads.empty());

    EXPECT_EQ(entries[2].type, DmarEntry::Type::Rmrr);
    EXPECT_EQ(entries[2].address, 0x7b800000u);
    EXPECT_EQ(entries[2].limit, 0x7b80ffffu);
    std::vector<DeviceScope> usb = walk(entries[2].scopes);
    ASSERT_EQ(usb.size(), 2u);
    EXPECT_EQ(usb[0].resolve(none).value(), (PciLocation{0, 0x14, 0}));
    EXPECT_EQ(usb[1].resolve(none).value(), (PciLocation{0, 0x1a, 0}));

    EXPECT_EQ(entries[3].type, DmarEntry::Type::Rmrr);
    EXPECT_EQ(entries[3].address, 0x7c000000u);
    EXPECT_EQ(entries[3].limit, 0x7c3fffffu);
    std::vector<DeviceScope> deep = walk(entries[3].scopes);
    ASSERT_EQ(deep.size(), 1u);
    ASSERT_EQ(deep[0].steps(), 3u);
    Bridges bridges;
    bridges.secondary[{0, 0x1c, 0}] = 2;
    bridges.secondary[{2, 0, 0}] = 5;
    auto location = deep[0].resolve(bridges);
    ASSERT_TRUE(location.is_ok());
    EXPECT_EQ(location.value(), (PciLocation{5, 3, 1}));
    // The root port on the start bus, then the switch port on its bus; the
    // device itself is not read.
    ASSERT_EQ(bridges.reads.size(), 2u);
    EXPECT_EQ(bridges.reads[0], std::make_tuple(uint8_t{0}, uint8_t{0x1c}, uint8_t{0}));
    EXPECT_EQ(bridges.reads[1], std::make_tuple(uint8_t{2}, uint8_t{0}, uint8_t{0}));
    // Renumbered buses move the device with them.
    bridges.secondary[{0, 0x1c, 0}] = 7;
    bridges.secondary[{7, 0, 0}] = 9;
    EXPECT_EQ(deep[0].resolve(bridges).value(), (PciLocation{9, 3, 1}));

    EXPECT_EQ(entries[4].type, DmarEntry::Type::Atsr);
    std::vector<DeviceScope> ports = walk(entries[4].scopes);
    ASSERT_EQ(ports.size(), 1u);
    EXPECT_EQ(ports[0].type, DeviceScope::Type::PciSubHierarchy);
}

TEST(AcpiDmar, EveryStructureType) {
    Bytes structures = drhd(drhd_include_pci_all, 3, 0x00000004'00000000,
                            device_scope(5, 9, 0, path({{0x15, 2}}), 0x03), 0xf2) +
                       rmrr(3, 0x1000, 0x1fff, device_scope(2, 0, 0x40, path({{1, 0}}))) +
                       atsr(atsr_all_ports, 3, {}) + rhsa(0x00000004'00000000, 0x01020304) +
                       andd(9, "\\_SB.PCI0.I2C0") +
                       satc(satc_atc_required, 3, device_scope(1, 0, 0, path({{8, 0}})));
    Bytes table = exact(make_dmar(38, 0, structures));
    std::vector<DmarEntry> entries = entries_of(table);
    ASSERT_EQ(entries.size(), 6u);

    EXPECT_EQ(entries[0].type, DmarEntry::Type::Drhd);
    EXPECT_EQ(entries[0].segment, 3);
    EXPECT_EQ(entries[0].address, 0x00000004'00000000u);
    EXPECT_EQ(entries[0].register_size, 2); // bits 7:4 are reserved
    EXPECT_EQ(entries[0].register_bytes(), 16384u);
    std::vector<DeviceScope> scopes = walk(entries[0].scopes);
    ASSERT_EQ(scopes.size(), 1u);
    EXPECT_EQ(scopes[0].type, DeviceScope::Type::AcpiNamespace);
    EXPECT_EQ(scopes[0].enumeration_id, 9);
    EXPECT_EQ(scopes[0].flags, 0x03);
    EXPECT_EQ(scopes[0].step(0).device, 0x15);
    EXPECT_EQ(scopes[0].step(0).function, 2);
    EXPECT_EQ(scopes[0].step(1).device, 0); // out of range: empty, no read
    EXPECT_EQ(scopes[0].step(1).function, 0);

    EXPECT_EQ(entries[1].type, DmarEntry::Type::Rmrr);
    EXPECT_EQ(entries[1].raw_type, 1);
    EXPECT_EQ(entries[1].length, 32);
    EXPECT_EQ(entries[1].segment, 3);
    EXPECT_EQ(entries[1].address, 0x1000u);
    EXPECT_EQ(entries[1].limit, 0x1fffu);
    EXPECT_EQ(walk(entries[1].scopes).size(), 1u);

    EXPECT_EQ(entries[2].type, DmarEntry::Type::Atsr);
    EXPECT_EQ(entries[2].flags, atsr_all_ports);
    EXPECT_EQ(entries[2].segment, 3);

    EXPECT_EQ(entries[3].type, DmarEntry::Type::Rhsa);
    EXPECT_EQ(entries[3].length, 20);
    EXPECT_EQ(entries[3].address, 0x00000004'00000000u);
    EXPECT_EQ(entries[3].proximity_domain, 0x01020304u);
    EXPECT_TRUE(entries[3].scopes.empty());

    EXPECT_EQ(entries[4].type, DmarEntry::Type::Andd);
    EXPECT_EQ(entries[4].acpi_device_number, 9);
    EXPECT_EQ(entries[4].name, "\\_SB.PCI0.I2C0");
    EXPECT_TRUE(entries[4].scopes.empty());

    EXPECT_EQ(entries[5].type, DmarEntry::Type::Satc);
    EXPECT_EQ(entries[5].raw_type, 5);
    EXPECT_EQ(entries[5].flags, satc_atc_required);
    EXPECT_EQ(entries[5].segment, 3);
    std::vector<DeviceScope> satc_scopes = walk(entries[5].scopes);
    ASSERT_EQ(satc_scopes.size(), 1u);
    EXPECT_EQ(satc_scopes[0].step(0).device, 8);
}

TEST(AcpiDmar, AnddNames) {
    // The name ends at its NUL, or at the structure's end without one.
    Bytes padded = dmar_structure(4, Bytes{0, 0, 0, 1} + chars("\\_SB.UAR0") + Bytes{0, 'x', 0});
    Bytes unterminated = dmar_structure(4, Bytes{0, 0, 0, 2} + chars("\\_SB.UAR1"));
    Bytes nameless = dmar_structure(4, Bytes{0, 0, 0, 3});
    Bytes table = exact(make_dmar(38, 0, padded + unterminated + nameless));
    std::vector<DmarEntry> entries = entries_of(table);
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].name, "\\_SB.UAR0");
    EXPECT_EQ(entries[0].length, 4 + 4 + 9 + 3);
    EXPECT_EQ(entries[1].name, "\\_SB.UAR1");
    EXPECT_EQ(entries[2].acpi_device_number, 3);
    EXPECT_TRUE(entries[2].name.empty());
}

TEST(AcpiDmar, UnknownStructureTypesAreSkipped) {
    // SIDP (6) and types no specification has used yet, between and after
    // known ones, with bodies that would be malformed as any known type.
    Bytes structures = dmar_structure(6, device_scope(1, 0, 0, path({{1, 0}}))) +
                       drhd(0, 0, 0xfed90000, {}) + dmar_structure(0x00ff, {}) +
                       dmar_structure(0xffff, Bytes{0xff, 0xff, 0xff}) +
                       rmrr(0, 0x2000, 0x2fff, {}) + dmar_structure(7, Bytes(40, 0xee));
    Bytes table = exact(make_dmar(38, 0, structures));
    std::vector<DmarEntry> entries = entries_of(table);
    ASSERT_EQ(entries.size(), 6u);
    EXPECT_EQ(entries[0].type, DmarEntry::Type::Other);
    EXPECT_EQ(entries[0].raw_type, 6);
    EXPECT_EQ(entries[0].length, 12);
    EXPECT_TRUE(entries[0].scopes.empty());
    EXPECT_EQ(entries[1].type, DmarEntry::Type::Drhd);
    EXPECT_EQ(entries[1].address, 0xfed90000u);
    EXPECT_EQ(entries[2].type, DmarEntry::Type::Other);
    EXPECT_EQ(entries[2].raw_type, 0x00ff);
    EXPECT_EQ(entries[2].length, 4);
    EXPECT_EQ(entries[3].raw_type, 0xffff);
    EXPECT_EQ(entries[3].address, 0u);
    EXPECT_EQ(entries[4].type, DmarEntry::Type::Rmrr);
    EXPECT_EQ(entries[4].address, 0x2000u);
    EXPECT_EQ(entries[5].raw_type, 7);
    EXPECT_EQ(entries[5].length, 44);
}

TEST(AcpiDmar, ReservedScopeTypesComeAsOther) {
    Bytes scopes = device_scope(0, 1, 2, path({{3, 4}})) + device_scope(6, 0, 0, path({{0, 0}})) +
                   device_scope(0xff, 0, 0, path({{31, 7}, {0, 0}}));
    Bytes table = exact(make_dmar(38, 0, drhd(0, 0, 0x1000, scopes)));
    std::vector<DmarEntry> entries = entries_of(table);
    ASSERT_EQ(entries.size(), 1u);
    std::vector<DeviceScope> found = walk(entries[0].scopes);
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].type, DeviceScope::Type::Other);
    EXPECT_EQ(found[0].raw_type, 0);
    EXPECT_EQ(found[0].start_bus, 2);
    EXPECT_EQ(found[1].raw_type, 6);
    EXPECT_EQ(found[2].type, DeviceScope::Type::Other);
    EXPECT_EQ(found[2].raw_type, 0xff);
    EXPECT_EQ(found[2].steps(), 2u);
    // Their paths are checked like any other's.
    EXPECT_EQ(parse_error(drhd(0, 0, 0x1000, device_scope(9, 0, 0, path({{32, 0}})))),
              AcpiError::BadValue);
}

TEST(AcpiDmar, ZeroAndShortStructureLengths) {
    Bytes good = drhd(0, 0, 0xfed90000, {});
    // A zero length would never move the walk on; lengths below the common
    // header cannot be a structure.
    for (uint16_t length : {0, 1, 2, 3}) {
        SCOPED_TRACE(length);
        Bytes bad = le(0x1234, 2) + le(length, 2) + Bytes(8, 0);
        EXPECT_EQ(parse_error(good + bad), AcpiError::BadEntry);
        EXPECT_EQ(parse_error(bad + good), AcpiError::BadEntry);
        Bytes bad_drhd = good;
        put(bad_drhd, 2, length, 2);
        EXPECT_EQ(parse_error(bad_drhd + Bytes(16, 0)), AcpiError::BadEntry);
    }
    // Each type's fixed part, one byte short and exact.
    struct Fixed {
        uint16_t type;
        size_t size;
    };
    for (Fixed f : {Fixed{0, 16}, Fixed{1, 24}, Fixed{2, 8}, Fixed{3, 20}, Fixed{4, 8}, Fixed{5, 8},
                    Fixed{6, 4}}) {
        SCOPED_TRACE(f.type);
        Bytes body(f.size - 4, 0);
        if (f.type == 1)
            put(body, 12, 0xfff, 8); // an RMRR's limit: the end of page 0
        EXPECT_FALSE(parse_error(dmar_structure(f.type, body)));
        if (f.size > 4) {
            Bytes short_body(f.size - 5, 0);
            EXPECT_EQ(parse_error(dmar_structure(f.type, short_body)), AcpiError::BadEntry);
        }
    }
    // 1 to 3 bytes after the last structure: not even a header.
    for (size_t extra = 1; extra < 4; ++extra) {
        SCOPED_TRACE(extra);
        EXPECT_EQ(parse_error(good + Bytes(extra, 0)), AcpiError::BadEntry);
    }
}

TEST(AcpiDmar, OverlongStructures) {
    Bytes unit = drhd(0, 0, 0xfed90000, device_scope(3, 0, 0xff, path({{0, 0}})));
    for (uint16_t length : {25, 26, 40, 0xffff}) {
        SCOPED_TRACE(length);
        Bytes bad = unit;
        put(bad, 2, length, 2);
        EXPECT_EQ(parse_error(bad), AcpiError::BadEntry);
        // A structure after it does not make it right: the DRHD then reads
        // the RHSA's bytes as its scopes, which they are not.
        EXPECT_EQ(parse_error(bad + rhsa(0x1000, 0)), AcpiError::BadEntry);
    }
    // The last structure running one byte past the table's stated length,
    // with the byte there in the span.
    Bytes table = make_dmar(38, 0, unit);
    put(table, 4, table.size() - 1, 4);
    reseal(table);
    EXPECT_EQ(error_of(Dmar::parse(exact(table))), AcpiError::BadEntry);
}

TEST(AcpiDmar, EveryTruncation) {
    Bytes whole = exact(platform_dmar());
    // Where each structure ends: a table cut there is a smaller good one.
    std::vector<size_t> ends;
    {
        auto parsed = Dmar::parse(whole);
        ASSERT_TRUE(parsed.is_ok());
        size_t at = 48;
        for (const DmarEntry& entry : walk(parsed.value())) {
            at += entry.length;
            ends.push_back(at);
        }
        ASSERT_EQ(at, whole.size());
    }
    for (size_t length = 0; length < whole.size(); ++length) {
        SCOPED_TRACE(length);
        // The bytes cut short under the whole table's header.
        Bytes prefix(whole.begin(), whole.begin() + length);
        EXPECT_EQ(error_of(Dmar::parse(prefix)), AcpiError::TooShort);
        if (length < sdt_header_size)
            continue;
        // The table cut with its length and checksum made right.
        Bytes cut = prefix;
        put(cut, 4, length, 4);
        reseal(cut);
        auto parsed = Dmar::parse(cut);
        if (length < 48) {
            EXPECT_EQ(error_of(parsed), AcpiError::BadLength);
            continue;
        }
        size_t whole_structures = 0;
        bool at_end = length == 48;
        for (size_t end : ends) {
            if (end <= length)
                ++whole_structures;
            at_end = at_end || end == length;
        }
        if (at_end) {
            ASSERT_TRUE(parsed.is_ok());
            EXPECT_EQ(walk(parsed.value()).size(), whole_structures);
        } else {
            EXPECT_EQ(error_of(parsed), AcpiError::BadEntry);
        }
    }
}

TEST(AcpiDmar, MisalignedAddresses) {
    for (uint64_t offset : {1, 0x7ff, 0x800, 0xfff}) {
        SCOPED_TRACE(offset);
        EXPECT_EQ(parse_error(drhd(0, 0, 0xfed90000 + offset, {})), AcpiError::BadValue);
        EXPECT_EQ(parse_error(rmrr(0, 0x7b800000 + offset, 0x7b80ffff, {})), AcpiError::BadValue);
        EXPECT_EQ(parse_error(rmrr(0, 0x7b800000, 0x7b80ffff - offset, {})), AcpiError::BadValue);
        EXPECT_EQ(parse_error(rhsa(0xfed90000 + offset, 0)), AcpiError::BadValue);
    }
    // A base of 0 is aligned.
    EXPECT_FALSE(parse_error(drhd(0, 0, 0, {})));
}

TEST(AcpiDmar, RmrrRanges) {
    // One page; the top page of the address space (limit + 1 wraps to 0).
    EXPECT_FALSE(parse_error(rmrr(0, 0x2000, 0x2fff, {})));
    EXPECT_FALSE(parse_error(rmrr(0, 0xffffffff'fffff000, 0xffffffff'ffffffff, {})));
    EXPECT_FALSE(parse_error(rmrr(0, 0, 0xffffffff'ffffffff, {})));
    // Reversed: the limit a page below the base, or far below it.
    EXPECT_EQ(parse_error(rmrr(0, 0x3000, 0x2fff, {})), AcpiError::BadValue);
    EXPECT_EQ(parse_error(rmrr(0, 0x7c000000, 0x0fff, {})), AcpiError::BadValue);
    // A good RMRR then a bad one: the whole table is refused.
    EXPECT_EQ(parse_error(rmrr(0, 0x2000, 0x2fff, {}) + rmrr(0, 0x3000, 0x2fff, {})),
              AcpiError::BadValue);
}

TEST(AcpiDmar, DrhdRegisterSetMustNotWrap) {
    uint64_t top_page = 0xffffffff'fffff000;
    EXPECT_FALSE(parse_error(drhd(0, 0, top_page, {}, 0)));
    EXPECT_EQ(parse_error(drhd(0, 0, top_page, {}, 1)), AcpiError::BadValue);
    // 2^15 pages (128 MiB) ending at the top.
    uint64_t largest = 0xffffffff'f8000000;
    EXPECT_FALSE(parse_error(drhd(0, 0, largest, {}, 15)));
    EXPECT_EQ(parse_error(drhd(0, 0, largest + 0x1000, {}, 15)), AcpiError::BadValue);
    // The reserved bits of the size do not count.
    EXPECT_FALSE(parse_error(drhd(0, 0, top_page, {}, 0xf0)));
}

TEST(AcpiDmar, ScopePathValues) {
    auto unit_with = [](const Bytes& scope_path) {
        return drhd(0, 0, 0x1000, device_scope(1, 0, 0, scope_path));
    };
    EXPECT_FALSE(parse_error(unit_with(path({{31, 7}}))));
    EXPECT_FALSE(parse_error(unit_with(path({{0, 0}, {31, 7}}))));
    EXPECT_EQ(parse_error(unit_with(path({{32, 0}}))), AcpiError::BadValue);
    EXPECT_EQ(parse_error(unit_with(path({{0xff, 0}}))), AcpiError::BadValue);
    EXPECT_EQ(parse_error(unit_with(path({{0, 8}}))), AcpiError::BadValue);
    EXPECT_EQ(parse_error(unit_with(path({{0, 0xff}}))), AcpiError::BadValue);
    // In a later step, and in a later scope.
    EXPECT_EQ(parse_error(unit_with(path({{1, 0}, {2, 0}, {40, 0}}))), AcpiError::BadValue);
    EXPECT_EQ(parse_error(drhd(0, 0, 0x1000,
                               device_scope(1, 0, 0, path({{1, 0}})) +
                                   device_scope(1, 0, 0, path({{1, 9}})))),
              AcpiError::BadValue);
}

TEST(AcpiDmar, ScopeLengths) {
    Bytes good = device_scope(1, 0, 0, path({{1, 0}}));
    EXPECT_FALSE(parse_error(drhd(0, 0, 0x1000, good)));
    // Lengths 0 to 7 (no whole step), 9 and 11 (an odd path).
    for (uint8_t length : {0, 1, 5, 6, 7, 9, 11}) {
        SCOPED_TRACE(length);
        Bytes bad = device_scope(1, 0, 0, path({{1, 0}, {2, 0}, {3, 0}}));
        bad[1] = length;
        // Padded so that the structure could hold the stated length.
        Bytes padded = bad + Bytes(length > bad.size() ? length - bad.size() : 0, 0);
        EXPECT_EQ(parse_error(drhd(0, 0, 0x1000, padded)), AcpiError::BadEntry);
        EXPECT_EQ(parse_error(drhd(0, 0, 0x1000, good + padded)), AcpiError::BadEntry);
    }
    // A scope running past its structure, into the next structure's bytes.
    Bytes past = good;
    past[1] = 10;
    EXPECT_EQ(parse_error(drhd(0, 0, 0x1000, past) + rhsa(0, 0)), AcpiError::BadEntry);
    // Bytes after the last scope that are not a whole one.
    for (size_t extra = 1; extra < 8; ++extra) {
        SCOPED_TRACE(extra);
        EXPECT_EQ(parse_error(drhd(0, 0, 0x1000, good + Bytes(extra, 0))), AcpiError::BadEntry);
    }
}

TEST(AcpiDmar, ScopesOfEveryScopedType) {
    Bytes bad_scope = device_scope(1, 0, 0, path({{1, 0}}));
    bad_scope[1] = 9;
    Bytes bad_path = device_scope(1, 0, 0, path({{1, 8}}));
    Bytes good = device_scope(1, 0, 0, path({{1, 0}}));
    auto each = [](const Bytes& scopes) {
        return std::vector<Bytes>{drhd(0, 0, 0x1000, scopes), rmrr(0, 0x1000, 0x1fff, scopes),
                                  atsr(0, 0, scopes), satc(0, 0, scopes)};
    };
    for (const Bytes& structure : each(good))
        EXPECT_FALSE(parse_error(structure));
    for (const Bytes& structure : each(good + bad_scope + Bytes{0}))
        EXPECT_EQ(parse_error(structure), AcpiError::BadEntry);
    for (const Bytes& structure : each(good + bad_path))
        EXPECT_EQ(parse_error(structure), AcpiError::BadValue);
}

TEST(AcpiDmar, RewindWalksAgain) {
    Bytes table = exact(platform_dmar());
    auto parsed = Dmar::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Dmar dmar = parsed.value();
    std::vector<DmarEntry> first = walk(dmar);
    dmar.rewind();
    std::vector<DmarEntry> second = walk(dmar);
    ASSERT_EQ(first.size(), second.size());
    for (size_t i = 0; i < first.size(); ++i) {
        EXPECT_EQ(first[i].raw_type, second[i].raw_type);
        EXPECT_EQ(first[i].address, second[i].address);
    }
    DeviceScopes scopes = first[1].scopes;
    EXPECT_EQ(walk(scopes).size(), 2u);
    ASSERT_TRUE(scopes.next().is_ok());
    ASSERT_TRUE(scopes.next().is_ok());
    EXPECT_EQ(error_of(scopes.next()), AcpiError::NotFound);
    scopes.rewind();
    auto again = scopes.next();
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again.value().type, DeviceScope::Type::IoApic);
}

TEST(AcpiDmar, UncheckedScopesStopAtTheFirstBadOne) {
    // DeviceScopes over bytes no parse has checked: a bad scope is an error
    // every time, never a read past the bytes.
    Bytes bytes = exact(device_scope(1, 0, 0, path({{1, 0}})) + Bytes{1, 10, 0, 0, 0, 0, 1, 0});
    DeviceScopes scopes(bytes);
    EXPECT_TRUE(scopes.next().is_ok());
    EXPECT_EQ(error_of(scopes.next()), AcpiError::BadEntry);
    EXPECT_EQ(error_of(scopes.next()), AcpiError::BadEntry);
}

TEST(AcpiDmar, ResolveBoundsThePath) {
    // Eight steps: seven bridge reads; nine: refused before any read.
    Bytes eight = path({{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0}, {8, 1}});
    Bytes nine = eight + path({{9, 2}});
    Bytes scopes = device_scope(1, 0, 0x10, eight) + device_scope(1, 0, 0x10, nine);
    Bytes table = exact(make_dmar(38, 0, drhd(0, 0, 0x1000, scopes)));
    std::vector<DmarEntry> entries = entries_of(table);
    ASSERT_EQ(entries.size(), 1u);
    std::vector<DeviceScope> found = walk(entries[0].scopes);
    ASSERT_EQ(found.size(), 2u);
    Bridges bridges;
    for (uint8_t i = 0; i < 8; ++i)
        bridges.secondary[{uint8_t(0x10 + i), uint8_t(i + 1), 0}] = uint8_t(0x11 + i);
    auto eight_steps = found[0].resolve(bridges);
    ASSERT_TRUE(eight_steps.is_ok());
    EXPECT_EQ(eight_steps.value(), (PciLocation{0x17, 8, 1}));
    EXPECT_EQ(bridges.reads.size(), 7u);
    bridges.reads.clear();
    EXPECT_EQ(error_of(found[1].resolve(bridges)), AcpiError::BadValue);
    EXPECT_TRUE(bridges.reads.empty());
}

TEST(AcpiDmar, ResolveRefusesBridgesThatDoNotLeadDown) {
    DeviceScope scope;
    Bytes steps = path({{0x1c, 0}, {0, 0}, {0, 0}});
    scope.type = DeviceScope::Type::PciEndpoint;
    scope.start_bus = 4;
    scope.path = steps;
    for (uint8_t secondary : {0, 3, 4}) {
        SCOPED_TRACE(secondary);
        Bridges bridges;
        bridges.secondary[{4, 0x1c, 0}] = secondary;
        EXPECT_EQ(error_of(scope.resolve(bridges)), AcpiError::BadValue);
        EXPECT_EQ(bridges.reads.size(), 1u); // nothing read past the bad bridge
    }
    // The second bridge pointing back up.
    Bridges bridges;
    bridges.secondary[{4, 0x1c, 0}] = 5;
    bridges.secondary[{5, 0, 0}] = 5;
    EXPECT_EQ(error_of(scope.resolve(bridges)), AcpiError::BadValue);
    EXPECT_EQ(bridges.reads.size(), 2u);
    // A scope with no path names no device.
    DeviceScope empty;
    EXPECT_EQ(error_of(empty.resolve(bridges)), AcpiError::BadEntry);
}

// A simple model of a DMAR table: what each structure holds, written out by
// the builders; the parser must give back exactly this.
struct ScopeModel {
    uint8_t type = 1;
    uint8_t flags = 0;
    uint8_t enumeration_id = 0;
    uint8_t start_bus = 0;
    std::vector<PathStep> path;
};
struct StructureModel {
    uint16_t type = 0;
    uint8_t flags = 0;
    uint8_t size = 0;
    uint16_t segment = 0;
    uint64_t address = 0;
    uint64_t limit = 0;
    uint32_t proximity_domain = 0;
    uint8_t acpi_device_number = 0;
    std::string name;
    std::vector<ScopeModel> scopes;
    size_t other_length = 0; // an unknown type's body

    bool has_scopes() const { return type == 0 || type == 1 || type == 2 || type == 5; }
};

Bytes encode(const ScopeModel& scope) {
    Bytes steps;
    for (PathStep step : scope.path)
        steps = steps + Bytes{step.device, step.function};
    return device_scope(scope.type, scope.enumeration_id, scope.start_bus, steps, scope.flags);
}

Bytes encode(const StructureModel& s) {
    Bytes scopes;
    for (const ScopeModel& scope : s.scopes)
        scopes = scopes + encode(scope);
    switch (s.type) {
    case 0:
        return drhd(s.flags, s.segment, s.address, scopes, s.size);
    case 1:
        return rmrr(s.segment, s.address, s.limit, scopes);
    case 2:
        return atsr(s.flags, s.segment, scopes);
    case 3:
        return rhsa(s.address, s.proximity_domain);
    case 4:
        return andd(s.acpi_device_number, s.name);
    case 5:
        return satc(s.flags, s.segment, scopes);
    default:
        return dmar_structure(s.type, Bytes(s.other_length, 0x5a));
    }
}

class ModelGenerator {
public:
    explicit ModelGenerator(uint32_t seed) : m_random(seed) {}

    uint64_t below(uint64_t bound) { return m_random() % bound; }
    uint64_t page_address() { return (uint64_t(m_random()) << 32 | m_random()) & ~uint64_t{0xfff}; }

    ScopeModel scope() {
        ScopeModel scope;
        scope.type = uint8_t(below(8)); // 0, 6 and 7 are reserved
        scope.flags = uint8_t(below(4));
        scope.enumeration_id = uint8_t(below(256));
        scope.start_bus = uint8_t(below(256));
        size_t steps = 1 + below(below(4) == 0 ? 12 : 3);
        for (size_t i = 0; i < steps; ++i)
            scope.path.push_back({uint8_t(below(32)), uint8_t(below(8))});
        return scope;
    }

    StructureModel structure() {
        StructureModel s;
        uint64_t kind = below(8);
        s.type = kind < 6 ? uint16_t(kind) : uint16_t(6 + below(0xfffa));
        s.flags = uint8_t(below(2));
        s.segment = uint16_t(below(4));
        switch (s.type) {
        case 0:
            s.size = uint8_t(below(4));
            s.address = page_address() & 0x0000ffff'fffff000;
            break;
        case 1: {
            s.address = page_address() & 0x0000000f'fffff000;
            s.limit = s.address + (below(64) + 1) * 0x1000 - 1;
            break;
        }
        case 3:
            s.address = page_address();
            s.proximity_domain = uint32_t(m_random());
            break;
        case 4:
            s.acpi_device_number = uint8_t(below(256));
            for (size_t i = below(20); i > 0; --i)
                s.name.push_back(char('A' + below(26)));
            break;
        default:
            s.other_length = below(24);
            break;
        }
        if (s.has_scopes()) {
            for (size_t i = below(4); i > 0; --i)
                s.scopes.push_back(scope());
        }
        return s;
    }

private:
    std::mt19937 m_random;
};

void expect_matches(const StructureModel& model, const DmarEntry& entry) {
    EXPECT_EQ(entry.raw_type, model.type);
    EXPECT_EQ(entry.length, encode(model).size());
    if (model.type <= 5)
        EXPECT_EQ(static_cast<uint16_t>(entry.type), model.type);
    else
        EXPECT_EQ(entry.type, DmarEntry::Type::Other);
    bool flagged = model.type == 0 || model.type == 2 || model.type == 5;
    EXPECT_EQ(entry.flags, flagged ? model.flags : 0);
    bool segmented = flagged || model.type == 1;
    EXPECT_EQ(entry.segment, segmented ? model.segment : 0);
    EXPECT_EQ(entry.register_size, model.type == 0 ? model.size : 0);
    bool addressed = model.type == 0 || model.type == 1 || model.type == 3;
    EXPECT_EQ(entry.address, addressed ? model.address : 0);
    EXPECT_EQ(entry.limit, model.type == 1 ? model.limit : 0);
    EXPECT_EQ(entry.proximity_domain, model.type == 3 ? model.proximity_domain : 0);
    EXPECT_EQ(entry.acpi_device_number, model.type == 4 ? model.acpi_device_number : 0);
    EXPECT_EQ(entry.name, model.type == 4 ? model.name : "");
    std::vector<DeviceScope> scopes = walk(entry.scopes);
    ASSERT_EQ(scopes.size(), model.scopes.size());
    for (size_t i = 0; i < scopes.size(); ++i) {
        const ScopeModel& expected = model.scopes[i];
        EXPECT_EQ(scopes[i].raw_type, expected.type);
        EXPECT_EQ(scopes[i].type, expected.type >= 1 && expected.type <= 5
                                      ? static_cast<DeviceScope::Type>(expected.type)
                                      : DeviceScope::Type::Other);
        EXPECT_EQ(scopes[i].flags, expected.flags);
        EXPECT_EQ(scopes[i].enumeration_id, expected.enumeration_id);
        EXPECT_EQ(scopes[i].start_bus, expected.start_bus);
        ASSERT_EQ(scopes[i].steps(), expected.path.size());
        for (size_t j = 0; j < expected.path.size(); ++j) {
            EXPECT_EQ(scopes[i].step(j).device, expected.path[j].device);
            EXPECT_EQ(scopes[i].step(j).function, expected.path[j].function);
        }
    }
}

// One rule broken in a good model, and the error the parser must give.
enum class Defect {
    None,
    DeviceTooLarge,
    FunctionTooLarge,
    UnalignedUnit,
    UnalignedLimit,
    ReversedRegion,
    ZeroLength,
    PastTheEnd,
    OddScope,
    BelowFixedPart,
    Count,
};

TEST(AcpiDmar, RandomTablesAgainstAModel) {
    ModelGenerator generate(20260611);
    int checked[static_cast<int>(Defect::Count)] = {};
    for (int round = 0; round < 3000; ++round) {
        SCOPED_TRACE(round);
        std::vector<StructureModel> model;
        for (size_t i = generate.below(8); i > 0; --i)
            model.push_back(generate.structure());
        Defect defect = static_cast<Defect>(generate.below(static_cast<int>(Defect::Count)));
        std::optional<AcpiError> expected;
        // Value defects go into the model; byte defects into its bytes.
        std::vector<size_t> scoped, units, regions;
        for (size_t i = 0; i < model.size(); ++i) {
            if (model[i].has_scopes() && !model[i].scopes.empty())
                scoped.push_back(i);
            if (model[i].type == 0)
                units.push_back(i);
            if (model[i].type == 1)
                regions.push_back(i);
        }
        auto pick = [&](const std::vector<size_t>& from) {
            return from[generate.below(from.size())];
        };
        if (defect == Defect::DeviceTooLarge && !scoped.empty()) {
            StructureModel& s = model[pick(scoped)];
            ScopeModel& scope = s.scopes[generate.below(s.scopes.size())];
            scope.path[generate.below(scope.path.size())].device =
                uint8_t(32 + generate.below(224));
            expected = AcpiError::BadValue;
        } else if (defect == Defect::FunctionTooLarge && !scoped.empty()) {
            StructureModel& s = model[pick(scoped)];
            ScopeModel& scope = s.scopes[generate.below(s.scopes.size())];
            scope.path[generate.below(scope.path.size())].function =
                uint8_t(8 + generate.below(248));
            expected = AcpiError::BadValue;
        } else if (defect == Defect::UnalignedUnit && !units.empty()) {
            model[pick(units)].address |= 1 + generate.below(0xfff);
            expected = AcpiError::BadValue;
        } else if (defect == Defect::UnalignedLimit && !regions.empty()) {
            model[pick(regions)].limit -= 1 + generate.below(0xfff);
            expected = AcpiError::BadValue;
        } else if (defect == Defect::ReversedRegion && !regions.empty()) {
            StructureModel& region = model[pick(regions)];
            region.address |= 0x10000; // room below it for the limit
            region.limit = region.address - 1 - generate.below(4) * 0x1000;
            expected = AcpiError::BadValue;
        } else {
            defect = model.empty() ? Defect::None : defect;
        }

        Bytes structures;
        std::vector<size_t> starts;
        for (const StructureModel& s : model) {
            starts.push_back(48 + structures.size());
            structures = structures + encode(s);
        }
        Bytes table = make_dmar(38, uint8_t(generate.below(8)), structures);
        size_t victim = model.empty() ? 0 : generate.below(model.size());
        if (!expected && defect == Defect::ZeroLength) {
            put(table, starts[victim] + 2, 0, 2);
            expected = AcpiError::BadEntry;
        } else if (!expected && defect == Defect::PastTheEnd) {
            size_t last = model.size() - 1;
            size_t length = table.size() - starts[last] + 1 + generate.below(8);
            put(table, starts[last] + 2, length, 2);
            expected = AcpiError::BadEntry;
        } else if (!expected && defect == Defect::OddScope && !scoped.empty()) {
            size_t index = pick(scoped);
            size_t fixed = model[index].type == 0 ? 16 : model[index].type == 1 ? 24 : 8;
            // The first scope's length one byte short of whole steps.
            table[starts[index] + fixed + 1] -= 1;
            expected = AcpiError::BadEntry;
        } else if (!expected && defect == Defect::BelowFixedPart && model[victim].type <= 5) {
            size_t fixed = std::vector<size_t>{16, 24, 8, 20, 8, 8}[model[victim].type];
            put(table, starts[victim] + 2, 4 + generate.below(fixed - 4), 2);
            expected = AcpiError::BadEntry;
        } else if (!expected) {
            defect = Defect::None;
        }
        reseal(table);
        checked[static_cast<int>(defect)]++;

        table = exact(table);
        auto parsed = Dmar::parse(table);
        if (expected) {
            EXPECT_EQ(error_of(parsed), expected);
            continue;
        }
        ASSERT_TRUE(parsed.is_ok());
        std::vector<DmarEntry> entries = walk(parsed.value());
        ASSERT_EQ(entries.size(), model.size());
        for (size_t i = 0; i < model.size(); ++i) {
            SCOPED_TRACE(i);
            expect_matches(model[i], entries[i]);
        }
    }
    // Every defect was tried, and good tables too.
    for (int count : checked)
        EXPECT_GT(count, 20);
}

// Random bridge trees: a path's location as the model walks it, or the step
// at which a bridge does not lead down.
TEST(AcpiDmar, RandomResolveAgainstAModel) {
    std::mt19937 random(77);
    for (int round = 0; round < 5000; ++round) {
        SCOPED_TRACE(round);
        size_t count = 1 + random() % 10;
        std::vector<PathStep> steps;
        for (size_t i = 0; i < count; ++i)
            steps.push_back({uint8_t(random() % 32), uint8_t(random() % 8)});
        Bytes bytes;
        for (PathStep step : steps)
            bytes = bytes + Bytes{step.device, step.function};
        bytes = exact(bytes);
        DeviceScope scope;
        scope.start_bus = uint8_t(random() % 256);
        scope.path = bytes;

        Bridges bridges;
        bridges.absent = uint8_t(random());
        // The model: follow each bridge; most lead down, a few do not.
        uint8_t bus = scope.start_bus;
        size_t reads = 0;
        std::optional<PciLocation> expected;
        bool refused = count > max_path_steps;
        for (size_t i = 0; i + 1 < count && !refused; ++i) {
            uint8_t secondary;
            if (random() % 16 == 0) {
                secondary = uint8_t(random() % (bus + 1));
            } else if (bus == 0xff) {
                secondary = 0xff; // no bus above: refused
            } else {
                secondary = uint8_t(bus + 1 + random() % (0xff - bus));
            }
            if (!bridges.secondary.count({bus, steps[i].device, steps[i].function}))
                bridges.secondary[{bus, steps[i].device, steps[i].function}] = secondary;
            secondary = bridges.secondary[{bus, steps[i].device, steps[i].function}];
            ++reads;
            if (secondary <= bus)
                refused = true;
            bus = secondary;
        }
        if (!refused)
            expected = PciLocation{bus, steps.back().device, steps.back().function};

        auto location = scope.resolve(bridges);
        EXPECT_EQ(bridges.reads.size(), reads);
        if (expected) {
            ASSERT_TRUE(location.is_ok());
            EXPECT_EQ(location.value(), *expected);
        } else {
            EXPECT_EQ(error_of(location), AcpiError::BadValue);
        }
    }
}

} // namespace
} // namespace capos::acpi
