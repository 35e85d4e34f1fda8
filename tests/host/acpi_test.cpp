// Host tests for lib/acpi: tables built in memory by a small builder that
// computes lengths and checksums, each parser on good input and on every kind
// of bad input, the MADT walk with every entry type and malformed entries, the
// FADT at ACPI 1.0 length and at full length, \_S5 in the encodings firmware
// uses, and every parser (lib/acpi/dmar.h's too, whose own tests are in
// acpi_dmar_test.cpp) over every truncation of every good table and over
// random corruption (errors, never crashes or reads outside the bytes).
#include "lib/acpi/acpi.h"
#include "lib/acpi/dmar.h"
#include "tests/host/acpi_test_util.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace capos::acpi {

namespace {

using namespace testing;

// A table in storage of exactly its size.
Bytes make_table(std::string_view signature, const Bytes& body, uint8_t revision = 1) {
    return exact(testing::make_table(signature, body, revision));
}

// An RSDP of `revision`: 20 bytes before revision 2, 36 from it on.
Bytes make_rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt = 0) {
    Bytes rsdp = chars("RSD PTR ") + Bytes{0} + chars("CAPOS ") + Bytes{revision} + le(rsdt, 4);
    if (revision >= 2)
        rsdp = rsdp + le(36, 4) + le(xsdt, 8) + Bytes{0, 0, 0, 0};
    fix_checksum(rsdp, 8, 20);
    if (revision >= 2)
        fix_checksum(rsdp, 32, 36);
    return exact(rsdp);
}

std::span<const uint8_t> first(const Bytes& bytes, size_t count) {
    return std::span<const uint8_t>(bytes).first(count);
}

// MADT entries, each with its type and length in front.
Bytes entry(uint8_t type, const Bytes& body) {
    return Bytes{type, static_cast<uint8_t>(body.size() + 2)} + body;
}
Bytes local_apic(uint8_t uid, uint8_t id, uint32_t flags) {
    return entry(0, Bytes{uid, id} + le(flags, 4));
}
Bytes io_apic(uint8_t id, uint32_t address, uint32_t gsi_base) {
    return entry(1, Bytes{id, 0} + le(address, 4) + le(gsi_base, 4));
}
Bytes interrupt_override(uint8_t bus, uint8_t source, uint32_t gsi, uint16_t flags) {
    return entry(2, Bytes{bus, source} + le(gsi, 4) + le(flags, 2));
}
Bytes nmi_source(uint16_t flags, uint32_t gsi) {
    return entry(3, le(flags, 2) + le(gsi, 4));
}
Bytes local_apic_nmi(uint8_t uid, uint16_t flags, uint8_t lint) {
    return entry(4, Bytes{uid} + le(flags, 2) + Bytes{lint});
}
Bytes local_apic_address(uint64_t address) {
    return entry(5, le(0, 2) + le(address, 8));
}
Bytes local_x2apic(uint32_t id, uint32_t flags, uint32_t uid) {
    return entry(9, le(0, 2) + le(id, 4) + le(flags, 4) + le(uid, 4));
}
Bytes local_x2apic_nmi(uint16_t flags, uint32_t uid, uint8_t lint) {
    return entry(10, le(flags, 2) + le(uid, 4) + Bytes{lint, 0, 0, 0});
}

Bytes make_madt(const Bytes& entries, uint32_t local_apic_address = 0xfee00000,
                uint32_t flags = madt_pcat_compat) {
    return make_table("APIC", le(local_apic_address, 4) + le(flags, 4) + entries, 5);
}

// One of each entry type, and two of types this reader does not decode.
Bytes every_madt_entry() {
    return local_apic(1, 2, 1) + io_apic(3, 0xfec00000, 24) + interrupt_override(0, 9, 20, 0x000d) +
           nmi_source(0x0005, 23) + local_apic_nmi(0xff, 0x0005, 1) +
           local_apic_address(0x00000001'fee00000) + local_x2apic(0x00012345, 3, 0x00abcdef) +
           local_x2apic_nmi(0x000f, 0xffffffff, 1) + entry(0x0b, Bytes{7, 8, 9}) + entry(0x7f, {});
}

// A full-length (ACPI 6.5, revision 6) FADT whose 64-bit fields override the
// 32-bit ones.
Bytes make_full_fadt() {
    Bytes fadt = make_table("FACP", Bytes(276 - 36), 6);
    put(fadt, 36, 0x7fff0000, 4);    // FIRMWARE_CTRL
    put(fadt, 40, 0x7ffe0000, 4);    // DSDT
    put(fadt, 46, 9, 2);             // SCI_INT
    put(fadt, 48, 0xb2, 4);          // SMI_CMD
    put(fadt, 52, 0xf1, 1);          // ACPI_ENABLE
    put(fadt, 64, 0x604, 4);         // PM1a_CNT_BLK
    put(fadt, 68, 0x608, 4);         // PM1b_CNT_BLK
    put(fadt, 89, 2, 1);             // PM1_CNT_LEN
    put(fadt, 109, 0x0003, 2);       // IAPC_BOOT_ARCH: legacy devices, 8042
    put(fadt, 112, 0x000004a5, 4);   // Flags, RESET_REG_SUP among them
    put(fadt, 116, 1, 1);            // RESET_REG: system I/O,
    put(fadt, 117, 8, 1);            //   8 bits,
    put(fadt, 118, 0, 1);            //   offset 0,
    put(fadt, 119, 1, 1);            //   byte access,
    put(fadt, 120, 0xcf9, 8);        //   at port 0xcf9
    put(fadt, 128, 0x06, 1);         // RESET_VALUE
    put(fadt, 140, 0x1'7ffe0000, 8); // X_DSDT
    put(fadt, 172, 0, 1);            // X_PM1a_CNT_BLK: system memory,
    put(fadt, 173, 16, 1);           //   16 bits,
    put(fadt, 175, 2, 1);            //   word access,
    put(fadt, 176, 0xfed80004, 8);   //   at 0xfed80004
    reseal(fadt);
    return fadt;
}

// An ACPI 1.0 FADT: revision 1, 116 bytes, no reset register or X_ fields.
Bytes make_v1_fadt() {
    Bytes fadt = make_table("FACP", Bytes(116 - 36), 1);
    put(fadt, 40, 0x0fff1000, 4);
    put(fadt, 46, 11, 2);
    put(fadt, 48, 0xb2, 4);
    put(fadt, 52, 0xe1, 1);
    put(fadt, 64, 0x404, 4);
    put(fadt, 68, 0, 4);
    put(fadt, 89, 2, 1);
    put(fadt, 109, 0x0003, 2);   // reserved at revision 1
    put(fadt, 112, 1u << 10, 4); // RESET_REG_SUP, with no register to go with it
    reseal(fadt);
    return fadt;
}

Bytes mcfg_entry(uint64_t base, uint16_t segment, uint8_t start_bus, uint8_t end_bus) {
    return le(base, 8) + le(segment, 2) + Bytes{start_bus, end_bus} + le(0, 4);
}

Bytes make_mcfg(const Bytes& entries) {
    return make_table("MCFG", le(0, 8) + entries);
}

Bytes make_hpet() {
    return make_table("HPET", le(0x8086a201, 4) + Bytes{0, 64, 0, 0} + le(0xfed00000, 8) +
                                  Bytes{0} + le(0x37ee, 2) + Bytes{0});
}

// AML: Name (_S5_, Package (count) {elements}), with a one-byte PkgLength.
Bytes s5_name(bool root = false) {
    return Bytes{0x08} + (root ? Bytes{0x5c} : Bytes{}) + chars("_S5_");
}
Bytes s5_package(uint8_t count, const Bytes& elements) {
    return Bytes{0x12, static_cast<uint8_t>(2 + elements.size()), count} + elements;
}

// The AML of a small DSDT: a scope with a device, then \_S5 as QEMU writes it.
Bytes sample_aml() {
    Bytes scope =
        Bytes{0x10, 0x0d} + chars("\\_SB_") + Bytes{0x5b, 0x82, 0x07} + chars("PCI0") + Bytes{0xa3};
    return scope + s5_name() + s5_package(4, Bytes{0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00});
}

// Walks a MADT to its end: the number of entries before NotFound, or -1 when
// the walk ends with BadEntry.
int walk(Madt& madt) {
    int count = 0;
    for (;;) {
        auto next = madt.next();
        if (next.is_error())
            return next.error() == AcpiError::NotFound ? count : -1;
        ++count;
    }
}

TEST(AcpiErrors, ToString) {
    EXPECT_STREQ(to_string(AcpiError::TooShort), "ACPI structure truncated");
    EXPECT_STREQ(to_string(AcpiError::BadSignature), "wrong ACPI signature");
    EXPECT_STREQ(to_string(AcpiError::BadChecksum), "bad ACPI checksum");
    EXPECT_STREQ(to_string(AcpiError::BadLength), "bad ACPI length field");
    EXPECT_STREQ(to_string(AcpiError::BadEntry), "malformed ACPI table entry");
    EXPECT_STREQ(to_string(AcpiError::BadValue), "ACPI field out of range");
    EXPECT_STREQ(to_string(AcpiError::NotFound), "ACPI object not found");
    EXPECT_STREQ(to_string(static_cast<AcpiError>(200)), "unknown ACPI error");
}

TEST(AcpiRsdp, Revision0) {
    Bytes bytes = make_rsdp(0, 0x7fe14ab0);
    ASSERT_EQ(bytes.size(), 20u);
    auto rsdp = parse_rsdp(bytes);
    ASSERT_TRUE(rsdp.is_ok());
    EXPECT_EQ(rsdp.value().revision, 0);
    EXPECT_EQ(std::string_view(rsdp.value().oem_id, 6), "CAPOS ");
    EXPECT_EQ(rsdp.value().rsdt_address, 0x7fe14ab0u);
    EXPECT_EQ(rsdp.value().xsdt_address, 0u);
}

TEST(AcpiRsdp, Revision0IgnoresWhatFollows) {
    // Bytes after a revision 0 RSDP are not part of it: no length, no XSDT.
    Bytes bytes = make_rsdp(0, 0x1000) + le(36, 4) + le(0x2000, 8) + Bytes{0x55, 1, 2, 3};
    auto rsdp = parse_rsdp(bytes);
    ASSERT_TRUE(rsdp.is_ok());
    EXPECT_EQ(rsdp.value().rsdt_address, 0x1000u);
    EXPECT_EQ(rsdp.value().xsdt_address, 0u);
}

TEST(AcpiRsdp, Revision2) {
    Bytes bytes = make_rsdp(2, 0x7fe14ab0, 0x00000001'7fe14b00);
    ASSERT_EQ(bytes.size(), 36u);
    auto rsdp = parse_rsdp(bytes);
    ASSERT_TRUE(rsdp.is_ok());
    EXPECT_EQ(rsdp.value().revision, 2);
    EXPECT_EQ(std::string_view(rsdp.value().oem_id, 6), "CAPOS ");
    EXPECT_EQ(rsdp.value().rsdt_address, 0x7fe14ab0u);
    EXPECT_EQ(rsdp.value().xsdt_address, 0x00000001'7fe14b00u);
}

TEST(AcpiRsdp, Revision2LongerLength) {
    Bytes bytes = make_rsdp(2, 0x1000, 0x2000) + Bytes{0x10, 0x20, 0x30, 0x40};
    put(bytes, 20, 40, 4);
    fix_checksum(bytes, 8, 20);
    fix_checksum(bytes, 32, 40);
    auto rsdp = parse_rsdp(bytes);
    ASSERT_TRUE(rsdp.is_ok());
    EXPECT_EQ(rsdp.value().xsdt_address, 0x2000u);
    // The stated length is checked against the span.
    EXPECT_EQ(error_of(parse_rsdp(first(bytes, 39))), AcpiError::TooShort);
}

TEST(AcpiRsdp, Errors) {
    Bytes good = make_rsdp(0, 0x1000);
    EXPECT_EQ(error_of(parse_rsdp({})), AcpiError::TooShort);
    EXPECT_EQ(error_of(parse_rsdp(first(good, 19))), AcpiError::TooShort);

    Bytes bad_signature = good;
    bad_signature[7] = '_';
    fix_checksum(bad_signature, 8, 20);
    EXPECT_EQ(error_of(parse_rsdp(bad_signature)), AcpiError::BadSignature);

    Bytes bad_checksum = good;
    bad_checksum[8] ^= 1;
    EXPECT_EQ(error_of(parse_rsdp(bad_checksum)), AcpiError::BadChecksum);
    Bytes bad_field = good;
    bad_field[16] ^= 0x80; // the RSDT address, covered by the checksum
    EXPECT_EQ(error_of(parse_rsdp(bad_field)), AcpiError::BadChecksum);
}

TEST(AcpiRsdp, Revision2Errors) {
    Bytes good = make_rsdp(2, 0x1000, 0x2000);
    // The first 20 bytes are right, but revision 2 needs its length and more.
    EXPECT_EQ(error_of(parse_rsdp(first(good, 20))), AcpiError::TooShort);
    EXPECT_EQ(error_of(parse_rsdp(first(good, 23))), AcpiError::TooShort);
    EXPECT_EQ(error_of(parse_rsdp(first(good, 35))), AcpiError::TooShort);

    Bytes short_length = good;
    put(short_length, 20, 35, 4);
    fix_checksum(short_length, 32, 36);
    EXPECT_EQ(error_of(parse_rsdp(short_length)), AcpiError::BadLength);

    Bytes long_length = good;
    put(long_length, 20, 37, 4);
    fix_checksum(long_length, 32, 36);
    EXPECT_EQ(error_of(parse_rsdp(long_length)), AcpiError::TooShort);

    Bytes huge_length = good;
    put(huge_length, 20, 0xffffffff, 4);
    EXPECT_EQ(error_of(parse_rsdp(huge_length)), AcpiError::TooShort);

    // The first checksum right, the extended one wrong.
    Bytes bad_extended = good;
    bad_extended[32] ^= 1;
    EXPECT_EQ(error_of(parse_rsdp(bad_extended)), AcpiError::BadChecksum);
    Bytes bad_xsdt = good;
    bad_xsdt[30] ^= 1;
    EXPECT_EQ(error_of(parse_rsdp(bad_xsdt)), AcpiError::BadChecksum);

    // The same bytes read as revision 0 do not look at the extended part.
    Bytes as_v0 = bad_extended;
    as_v0[15] = 0;
    fix_checksum(as_v0, 8, 20);
    auto rsdp = parse_rsdp(as_v0);
    ASSERT_TRUE(rsdp.is_ok());
    EXPECT_EQ(rsdp.value().revision, 0);
    EXPECT_EQ(rsdp.value().xsdt_address, 0u);
}

TEST(AcpiRsdp, FindAligned) {
    Bytes area(1024, 0);
    Bytes rsdp = make_rsdp(2, 0x1000, 0x2000);
    std::copy(rsdp.begin(), rsdp.end(), area.begin() + 48);
    auto found = find_rsdp(area);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value(), 48u);
}

TEST(AcpiRsdp, FindSkipsUnaligned) {
    Bytes area(1024, 0);
    Bytes rsdp = make_rsdp(2, 0x1000, 0x2000);
    std::copy(rsdp.begin(), rsdp.end(), area.begin() + 40);
    EXPECT_EQ(error_of(find_rsdp(area)), AcpiError::NotFound);
}

TEST(AcpiRsdp, FindSkipsBadCandidates) {
    Bytes area(512, 0);
    Bytes bad = make_rsdp(0, 0x1000);
    bad[8] ^= 1;
    std::copy(bad.begin(), bad.end(), area.begin() + 16);
    Bytes good = make_rsdp(0, 0x3000);
    std::copy(good.begin(), good.end(), area.begin() + 96);
    Bytes later = make_rsdp(0, 0x4000);
    std::copy(later.begin(), later.end(), area.begin() + 160);
    auto found = find_rsdp(area);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value(), 96u);
}

TEST(AcpiRsdp, FindAtTheEnd) {
    Bytes area(52, 0);
    Bytes rsdp = make_rsdp(0, 0x1000);
    std::copy(rsdp.begin(), rsdp.end(), area.begin() + 32);
    auto found = find_rsdp(area);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value(), 32u);
    // One byte less and the candidate is cut short.
    EXPECT_EQ(error_of(find_rsdp(first(area, 51))), AcpiError::NotFound);
    // A revision 2 RSDP whose length runs past the area is no RSDP.
    Bytes area2(48, 0);
    Bytes rsdp2 = make_rsdp(2, 0x1000, 0x2000);
    std::copy(rsdp2.begin(), rsdp2.begin() + 32, area2.begin() + 16);
    EXPECT_EQ(error_of(find_rsdp(area2)), AcpiError::NotFound);
}

TEST(AcpiRsdp, FindNothing) {
    EXPECT_EQ(error_of(find_rsdp({})), AcpiError::NotFound);
    Bytes zeros(1024, 0);
    EXPECT_EQ(error_of(find_rsdp(zeros)), AcpiError::NotFound);
}

TEST(AcpiHeader, Peek) {
    Bytes table = make_table("SSDT", Bytes(64, 0xaa), 2);
    // Only the header is needed: the length is what a caller learns from it.
    auto header = peek_header(first(table, 36));
    ASSERT_TRUE(header.is_ok());
    EXPECT_EQ(header.value().signature_view(), "SSDT");
    EXPECT_EQ(header.value().length, 100u);
    EXPECT_EQ(header.value().revision, 2);
    EXPECT_EQ(std::string_view(header.value().oem_id, 6), "CAPOS ");
    EXPECT_EQ(std::string_view(header.value().oem_table_id, 8), "CAPOSTBL");
    EXPECT_EQ(error_of(peek_header(first(table, 35))), AcpiError::TooShort);
    Bytes short_length = table;
    put(short_length, 4, 35, 4);
    EXPECT_EQ(error_of(peek_header(short_length)), AcpiError::BadLength);
}

TEST(AcpiHeader, CheckTable) {
    Bytes table = make_table("SSDT", Bytes{1, 2, 3, 4, 5});
    auto any = check_table(table);
    ASSERT_TRUE(any.is_ok());
    EXPECT_EQ(any.value().signature_view(), "SSDT");
    EXPECT_EQ(any.value().length, 41u);
    auto named = check_table(table, "SSDT");
    ASSERT_TRUE(named.is_ok());
    EXPECT_EQ(named.value().length, 41u);

    EXPECT_EQ(error_of(check_table(table, "DSDT")), AcpiError::BadSignature);
    EXPECT_EQ(error_of(check_table(table, "SSD")), AcpiError::BadSignature);
    EXPECT_EQ(error_of(check_table(table, "SSDTX")), AcpiError::BadSignature);
    EXPECT_EQ(error_of(check_table(first(table, 35))), AcpiError::TooShort);
    EXPECT_EQ(error_of(check_table(first(table, 40))), AcpiError::TooShort);

    Bytes short_length = table;
    put(short_length, 4, 35, 4);
    reseal(short_length);
    EXPECT_EQ(error_of(check_table(short_length)), AcpiError::BadLength);

    Bytes bad_checksum = table;
    bad_checksum[40] ^= 1; // the last byte of the table
    EXPECT_EQ(error_of(check_table(bad_checksum)), AcpiError::BadChecksum);

    // Bytes past the stated length are not the table's: not summed.
    Bytes longer = table + Bytes{0x77, 0x01};
    auto trailing = check_table(longer, "SSDT");
    ASSERT_TRUE(trailing.is_ok());
    EXPECT_EQ(trailing.value().length, 41u);
}

TEST(AcpiRootTable, Rsdt) {
    Bytes rsdt = make_table("RSDT", le(0x7fe10000, 4) + le(0x7fe20000, 4) + le(0xfffffff0, 4));
    auto root = RootTable::parse(rsdt);
    ASSERT_TRUE(root.is_ok());
    EXPECT_FALSE(root.value().is_xsdt());
    ASSERT_EQ(root.value().count(), 3u);
    EXPECT_EQ(root.value().entry(0), 0x7fe10000u);
    EXPECT_EQ(root.value().entry(1), 0x7fe20000u);
    EXPECT_EQ(root.value().entry(2), 0xfffffff0u);
    EXPECT_EQ(root.value().entry(3), 0u); // out of range: 0, no read
}

TEST(AcpiRootTable, Xsdt) {
    Bytes xsdt = make_table("XSDT", le(0x00000001'00000000, 8) + le(0xfedcba98'76543210, 8));
    auto root = RootTable::parse(xsdt);
    ASSERT_TRUE(root.is_ok());
    EXPECT_TRUE(root.value().is_xsdt());
    ASSERT_EQ(root.value().count(), 2u);
    EXPECT_EQ(root.value().entry(0), 0x00000001'00000000u);
    EXPECT_EQ(root.value().entry(1), 0xfedcba98'76543210u);
}

TEST(AcpiRootTable, Empty) {
    Bytes xsdt = make_table("XSDT", {});
    auto root = RootTable::parse(xsdt);
    ASSERT_TRUE(root.is_ok());
    EXPECT_TRUE(root.value().is_xsdt());
    EXPECT_EQ(root.value().count(), 0u);
}

TEST(AcpiRootTable, Errors) {
    EXPECT_EQ(error_of(RootTable::parse(make_table("FACP", le(1, 4)))), AcpiError::BadSignature);
    EXPECT_EQ(error_of(RootTable::parse(make_table("rsdt", le(1, 4)))), AcpiError::BadSignature);
    // Trailing bytes that are not a whole entry.
    EXPECT_EQ(error_of(RootTable::parse(make_table("RSDT", le(1, 4) + Bytes{1, 2}))),
              AcpiError::BadLength);
    EXPECT_EQ(error_of(RootTable::parse(make_table("XSDT", le(1, 8) + le(2, 4)))),
              AcpiError::BadLength);
    Bytes rsdt = make_table("RSDT", le(0x1000, 4) + le(0x2000, 4));
    EXPECT_EQ(error_of(RootTable::parse(first(rsdt, 43))), AcpiError::TooShort);
    EXPECT_EQ(error_of(RootTable::parse(first(rsdt, 20))), AcpiError::TooShort);
    Bytes bad_checksum = rsdt;
    bad_checksum[40] ^= 1;
    EXPECT_EQ(error_of(RootTable::parse(bad_checksum)), AcpiError::BadChecksum);
    Bytes short_length = rsdt;
    put(short_length, 4, 8, 4);
    reseal(short_length);
    EXPECT_EQ(error_of(RootTable::parse(short_length)), AcpiError::BadLength);
}

TEST(AcpiMadt, EveryEntryType) {
    Bytes table = make_madt(every_madt_entry(), 0xfee00000, madt_pcat_compat);
    auto parsed = Madt::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Madt madt = parsed.value();
    EXPECT_EQ(madt.local_apic_address(), 0xfee00000u);
    EXPECT_EQ(madt.flags(), madt_pcat_compat);

    auto e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::LocalApic);
    EXPECT_EQ(e.value().raw_type, 0);
    EXPECT_EQ(e.value().processor_uid, 1u);
    EXPECT_EQ(e.value().apic_id, 2u);
    EXPECT_EQ(e.value().flags, 1u);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::IoApic);
    EXPECT_EQ(e.value().apic_id, 3u);
    EXPECT_EQ(e.value().address, 0xfec00000u);
    EXPECT_EQ(e.value().gsi, 24u);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::InterruptOverride);
    EXPECT_EQ(e.value().bus, 0);
    EXPECT_EQ(e.value().source, 9);
    EXPECT_EQ(e.value().gsi, 20u);
    EXPECT_EQ(e.value().flags, 0x000du);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::NmiSource);
    EXPECT_EQ(e.value().flags, 0x0005u);
    EXPECT_EQ(e.value().gsi, 23u);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::LocalApicNmi);
    EXPECT_EQ(e.value().processor_uid, 0xffu); // "all", widened as is
    EXPECT_EQ(e.value().flags, 0x0005u);
    EXPECT_EQ(e.value().lint, 1);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::LocalApicAddress);
    EXPECT_EQ(e.value().address, 0x00000001'fee00000u);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::LocalX2Apic);
    EXPECT_EQ(e.value().raw_type, 9);
    EXPECT_EQ(e.value().apic_id, 0x00012345u);
    EXPECT_EQ(e.value().flags, 3u);
    EXPECT_EQ(e.value().processor_uid, 0x00abcdefu);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::LocalX2ApicNmi);
    EXPECT_EQ(e.value().flags, 0x000fu);
    EXPECT_EQ(e.value().processor_uid, 0xffffffffu);
    EXPECT_EQ(e.value().lint, 1);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::Other);
    EXPECT_EQ(e.value().raw_type, 0x0b);

    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::Other);
    EXPECT_EQ(e.value().raw_type, 0x7f);

    EXPECT_EQ(error_of(madt.next()), AcpiError::NotFound);
    EXPECT_EQ(error_of(madt.next()), AcpiError::NotFound);

    madt.rewind();
    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().type, MadtEntry::Type::LocalApic);
    EXPECT_EQ(e.value().apic_id, 2u);
    EXPECT_EQ(walk(madt), 9);
    madt.rewind();
    EXPECT_EQ(walk(madt), 10);
}

TEST(AcpiMadt, NoEntries) {
    Bytes table = make_madt({}, 0xfee00000, 0);
    auto parsed = Madt::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Madt madt = parsed.value();
    EXPECT_EQ(madt.flags(), 0u);
    EXPECT_EQ(error_of(madt.next()), AcpiError::NotFound);
}

TEST(AcpiMadt, LongerEntriesAreSkippedByTheirLength) {
    // A local APIC entry with two extra bytes (a later revision's), then another.
    Bytes longer = Bytes{0, 10, 4, 5} + le(1, 4) + Bytes{0xee, 0xee};
    Bytes table = make_madt(longer + local_apic(6, 7, 0));
    auto parsed = Madt::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Madt madt = parsed.value();
    auto e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().apic_id, 5u);
    e = madt.next();
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value().processor_uid, 6u);
    EXPECT_EQ(e.value().apic_id, 7u);
    EXPECT_EQ(e.value().flags, 0u);
    EXPECT_EQ(error_of(madt.next()), AcpiError::NotFound);
}

// The walk over `entries`: `good` entries, then BadEntry, every time after.
void expect_broken_after(const Bytes& entries, int good) {
    Bytes table = make_madt(entries);
    auto parsed = Madt::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Madt madt = parsed.value();
    for (int i = 0; i < good; ++i)
        ASSERT_TRUE(madt.next().is_ok()) << "entry " << i;
    EXPECT_EQ(error_of(madt.next()), AcpiError::BadEntry);
    EXPECT_EQ(error_of(madt.next()), AcpiError::BadEntry);
    madt.rewind();
    EXPECT_EQ(error_of(madt.next()), AcpiError::BadEntry);
}

TEST(AcpiMadt, BadEntries) {
    Bytes lapic = local_apic(0, 0, 1);
    {
        SCOPED_TRACE("length 0");
        expect_broken_after(lapic + Bytes{0, 0} + lapic, 1);
    }
    {
        SCOPED_TRACE("length 1");
        expect_broken_after(lapic + Bytes{0x7f, 1} + lapic, 1);
    }
    {
        SCOPED_TRACE("running past the end");
        expect_broken_after(lapic + lapic + Bytes{1, 12, 0, 0, 0, 0, 0xc0, 0xfe}, 2);
    }
    {
        SCOPED_TRACE("other type running past the end");
        expect_broken_after(lapic + Bytes{0x20, 5, 0, 0}, 1);
    }
    {
        SCOPED_TRACE("a lone type byte at the end");
        expect_broken_after(lapic + Bytes{0}, 1);
    }
    {
        SCOPED_TRACE("below the type's fixed part");
        expect_broken_after(lapic + Bytes{0, 7, 0, 0, 1, 0, 0}, 1);
        expect_broken_after(Bytes{1, 11} + Bytes(9, 0), 0);
        expect_broken_after(Bytes{2, 9} + Bytes(7, 0), 0);
        expect_broken_after(Bytes{3, 7} + Bytes(5, 0), 0);
        expect_broken_after(Bytes{4, 5} + Bytes(3, 0), 0);
        expect_broken_after(Bytes{5, 11} + Bytes(9, 0), 0);
        expect_broken_after(Bytes{9, 15} + Bytes(13, 0), 0);
        expect_broken_after(Bytes{10, 11} + Bytes(9, 0), 0);
    }
}

TEST(AcpiMadt, Errors) {
    Bytes madt = make_madt(local_apic(0, 0, 1));
    EXPECT_EQ(error_of(Madt::parse(make_table("APIX", le(0xfee00000, 4) + le(0, 4)))),
              AcpiError::BadSignature);
    EXPECT_EQ(error_of(Madt::parse(make_table("APIC", le(0xfee00000, 4) + le(0, 3)))),
              AcpiError::BadLength);
    EXPECT_EQ(error_of(Madt::parse(first(madt, madt.size() - 1))), AcpiError::TooShort);
    Bytes bad_checksum = madt;
    bad_checksum[45] ^= 1;
    EXPECT_EQ(error_of(Madt::parse(bad_checksum)), AcpiError::BadChecksum);
}

TEST(AcpiMadt, OnlyTheStatedLengthIsWalked) {
    // An entry past the stated length is not the table's, even when the span
    // holds it.
    Bytes table = make_madt(local_apic(0, 1, 1)) + local_apic(0, 2, 1);
    auto parsed = Madt::parse(table);
    ASSERT_TRUE(parsed.is_ok());
    Madt madt = parsed.value();
    EXPECT_EQ(walk(madt), 1);
}

TEST(AcpiFadt, Revision1) {
    Bytes table = make_v1_fadt();
    auto parsed = parse_fadt(table);
    ASSERT_TRUE(parsed.is_ok());
    const Fadt& fadt = parsed.value();
    EXPECT_EQ(fadt.revision, 1);
    EXPECT_EQ(fadt.dsdt, 0x0fff1000u);
    EXPECT_EQ(fadt.pm1a_control, 0x404u);
    EXPECT_EQ(fadt.pm1a_control_space, address_space_io);
    EXPECT_EQ(fadt.pm1b_control, 0u);
    EXPECT_EQ(fadt.pm1b_control_space, address_space_io);
    EXPECT_EQ(fadt.pm1_control_length, 2);
    EXPECT_EQ(fadt.flags, 1u << 10);
    EXPECT_EQ(fadt.boot_architecture, 0); // reserved bytes before revision 3
    EXPECT_FALSE(fadt.reset_supported);   // RESET_REG_SUP, but no RESET_REG in 116 bytes
    EXPECT_EQ(fadt.reset_register.space, 0);
    EXPECT_EQ(fadt.reset_register.bit_width, 0);
    EXPECT_EQ(fadt.reset_register.address, 0u);
    EXPECT_EQ(fadt.reset_value, 0);
    EXPECT_EQ(fadt.sci_interrupt, 11);
    EXPECT_EQ(fadt.smi_command, 0xb2u);
    EXPECT_EQ(fadt.acpi_enable, 0xe1);
}

TEST(AcpiFadt, BytesPastTheLengthAreNotRead) {
    // A 116-byte FADT followed, in the span, by what would be X_DSDT and a
    // reset value in a longer one.
    Bytes span = make_v1_fadt() + Bytes(276 - 116, 0);
    put(span, 128, 0x06, 1);
    put(span, 140, 0x1'00000000, 8);
    put(span, 176, 0xfed80004, 8);
    auto parsed = parse_fadt(span);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().dsdt, 0x0fff1000u);
    EXPECT_EQ(parsed.value().pm1a_control, 0x404u);
    EXPECT_EQ(parsed.value().reset_value, 0);
    EXPECT_FALSE(parsed.value().reset_supported);
}

TEST(AcpiFadt, FullLength) {
    Bytes table = make_full_fadt();
    auto parsed = parse_fadt(table);
    ASSERT_TRUE(parsed.is_ok());
    const Fadt& fadt = parsed.value();
    EXPECT_EQ(fadt.revision, 6);
    EXPECT_EQ(fadt.dsdt, 0x1'7ffe0000u);       // X_DSDT over DSDT
    EXPECT_EQ(fadt.pm1a_control, 0xfed80004u); // X_PM1a_CNT_BLK over PM1a_CNT_BLK
    EXPECT_EQ(fadt.pm1a_control_space, address_space_memory);
    EXPECT_EQ(fadt.pm1b_control, 0x608u); // X_PM1b_CNT_BLK is 0
    EXPECT_EQ(fadt.pm1b_control_space, address_space_io);
    EXPECT_EQ(fadt.pm1_control_length, 2);
    EXPECT_EQ(fadt.flags, 0x000004a5u);
    EXPECT_EQ(fadt.boot_architecture, 0x0003);
    EXPECT_TRUE(fadt.boot_architecture & boot_arch_8042);
    EXPECT_TRUE(fadt.reset_supported);
    EXPECT_EQ(fadt.reset_register.space, address_space_io);
    EXPECT_EQ(fadt.reset_register.bit_width, 8);
    EXPECT_EQ(fadt.reset_register.bit_offset, 0);
    EXPECT_EQ(fadt.reset_register.access_size, 1);
    EXPECT_EQ(fadt.reset_register.address, 0xcf9u);
    EXPECT_EQ(fadt.reset_value, 0x06);
    EXPECT_EQ(fadt.sci_interrupt, 9);
    EXPECT_EQ(fadt.smi_command, 0xb2u);
    EXPECT_EQ(fadt.acpi_enable, 0xf1);
}

TEST(AcpiFadt, ThirtyTwoBitFieldsWhenXFieldsAreZero) {
    Bytes table = make_full_fadt();
    put(table, 140, 0, 8);
    put(table, 176, 0, 8);
    put(table, 184, 1, 1);          // X_PM1b_CNT_BLK: I/O
    put(table, 188, 0x1608, 8);     //   at 0x1608, over PM1b_CNT_BLK
    put(table, 112, 0x000000a5, 4); // no RESET_REG_SUP
    reseal(table);
    auto parsed = parse_fadt(table);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().dsdt, 0x7ffe0000u);
    EXPECT_EQ(parsed.value().pm1a_control, 0x604u);
    EXPECT_EQ(parsed.value().pm1a_control_space, address_space_io);
    EXPECT_EQ(parsed.value().pm1b_control, 0x1608u);
    EXPECT_EQ(parsed.value().pm1b_control_space, address_space_io);
    EXPECT_FALSE(parsed.value().reset_supported);
    EXPECT_EQ(parsed.value().reset_value, 0x06);
}

TEST(AcpiFadt, FieldsPastAShortTableReadAsZero) {
    Bytes full = make_full_fadt();
    // Lengths at which RESET_VALUE, X_DSDT and X_PM1a_CNT_BLK just fit or not.
    struct Case {
        size_t length;
        bool reset_supported;
        uint64_t dsdt;
        uint64_t pm1a;
    };
    for (Case c :
         {Case{128, false, 0x7ffe0000, 0x604}, Case{129, true, 0x7ffe0000, 0x604},
          Case{147, true, 0x7ffe0000, 0x604}, Case{148, true, 0x1'7ffe0000, 0x604},
          Case{183, true, 0x1'7ffe0000, 0x604}, Case{184, true, 0x1'7ffe0000, 0xfed80004}}) {
        SCOPED_TRACE(c.length);
        Bytes table(full.begin(), full.begin() + c.length);
        put(table, 4, c.length, 4);
        reseal(table);
        auto parsed = parse_fadt(table);
        ASSERT_TRUE(parsed.is_ok());
        EXPECT_EQ(parsed.value().reset_supported, c.reset_supported);
        EXPECT_EQ(parsed.value().reset_value, c.reset_supported ? 0x06 : 0);
        EXPECT_EQ(parsed.value().reset_register.address, 0xcf9u);
        EXPECT_EQ(parsed.value().dsdt, c.dsdt);
        EXPECT_EQ(parsed.value().pm1a_control, c.pm1a);
    }
}

TEST(AcpiFadt, Errors) {
    Bytes v1 = make_v1_fadt();
    Bytes short_table(v1.begin(), v1.begin() + 115);
    put(short_table, 4, 115, 4);
    reseal(short_table);
    EXPECT_EQ(error_of(parse_fadt(short_table)), AcpiError::BadLength);
    Bytes bad_signature = v1;
    bad_signature[0] = 'X';
    reseal(bad_signature);
    EXPECT_EQ(error_of(parse_fadt(bad_signature)), AcpiError::BadSignature);
    Bytes bad_checksum = v1;
    bad_checksum[100] ^= 4;
    EXPECT_EQ(error_of(parse_fadt(bad_checksum)), AcpiError::BadChecksum);
    EXPECT_EQ(error_of(parse_fadt(first(v1, 115))), AcpiError::TooShort);
}

TEST(AcpiMcfg, Entries) {
    // The tables outlive the parsed views of them.
    Bytes empty = make_mcfg({});
    auto none = Mcfg::parse(empty);
    ASSERT_TRUE(none.is_ok());
    EXPECT_EQ(none.value().count(), 0u);

    Bytes single = make_mcfg(mcfg_entry(0xb0000000, 0, 0, 0xff));
    auto one = Mcfg::parse(single);
    ASSERT_TRUE(one.is_ok());
    ASSERT_EQ(one.value().count(), 1u);
    McfgEntry e = one.value().entry(0);
    EXPECT_EQ(e.base, 0xb0000000u);
    EXPECT_EQ(e.segment, 0);
    EXPECT_EQ(e.start_bus, 0);
    EXPECT_EQ(e.end_bus, 0xff);

    Bytes pair =
        make_mcfg(mcfg_entry(0xb0000000, 0, 0, 0x7f) + mcfg_entry(0x4'00000000, 1, 0x10, 0x3f));
    auto two = Mcfg::parse(pair);
    ASSERT_TRUE(two.is_ok());
    ASSERT_EQ(two.value().count(), 2u);
    e = two.value().entry(0);
    EXPECT_EQ(e.base, 0xb0000000u);
    EXPECT_EQ(e.end_bus, 0x7f);
    e = two.value().entry(1);
    EXPECT_EQ(e.base, 0x4'00000000u);
    EXPECT_EQ(e.segment, 1);
    EXPECT_EQ(e.start_bus, 0x10);
    EXPECT_EQ(e.end_bus, 0x3f);
    e = two.value().entry(2); // out of range: empty, no read
    EXPECT_EQ(e.base, 0u);
    EXPECT_EQ(e.end_bus, 0);
}

TEST(AcpiMcfg, Errors) {
    EXPECT_EQ(error_of(Mcfg::parse(make_table("MCFG", le(0, 7)))), AcpiError::BadLength);
    EXPECT_EQ(error_of(Mcfg::parse(make_mcfg(mcfg_entry(1, 0, 0, 0) + Bytes(15, 0)))),
              AcpiError::BadLength);
    EXPECT_EQ(error_of(Mcfg::parse(make_mcfg(Bytes(17, 0)))), AcpiError::BadLength);
    EXPECT_EQ(error_of(Mcfg::parse(make_table("MCFH", le(0, 8)))), AcpiError::BadSignature);
    Bytes table = make_mcfg(mcfg_entry(0xb0000000, 0, 0, 0xff));
    EXPECT_EQ(error_of(Mcfg::parse(first(table, table.size() - 1))), AcpiError::TooShort);
    table[50] ^= 1;
    EXPECT_EQ(error_of(Mcfg::parse(table)), AcpiError::BadChecksum);
}

TEST(AcpiHpet, Parse) {
    Bytes table = make_hpet();
    ASSERT_EQ(table.size(), 56u);
    auto parsed = parse_hpet(table);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().event_timer_block_id, 0x8086a201u);
    EXPECT_EQ(parsed.value().base.space, address_space_memory);
    EXPECT_EQ(parsed.value().base.bit_width, 64);
    EXPECT_EQ(parsed.value().base.address, 0xfed00000u);
    EXPECT_EQ(parsed.value().number, 0);
    EXPECT_EQ(parsed.value().minimum_tick, 0x37ee);
}

TEST(AcpiHpet, Errors) {
    Bytes table = make_hpet();
    Bytes short_table(table.begin(), table.begin() + 55);
    put(short_table, 4, 55, 4);
    reseal(short_table);
    EXPECT_EQ(error_of(parse_hpet(short_table)), AcpiError::BadLength);
    EXPECT_EQ(error_of(parse_hpet(first(table, 55))), AcpiError::TooShort);
    Bytes bad_signature = table;
    bad_signature[3] = 'X';
    reseal(bad_signature);
    EXPECT_EQ(error_of(parse_hpet(bad_signature)), AcpiError::BadSignature);
    Bytes bad_checksum = table;
    bad_checksum[53] ^= 1;
    EXPECT_EQ(error_of(parse_hpet(bad_checksum)), AcpiError::BadChecksum);
}

std::optional<SleepType> s5(const Bytes& aml) {
    auto found = find_s5(exact(aml));
    if (found.is_error()) {
        EXPECT_EQ(found.error(), AcpiError::NotFound);
        return std::nullopt;
    }
    return found.value();
}

TEST(AcpiS5, SampleDsdt) {
    auto found = s5(sample_aml());
    ASSERT_TRUE(found);
    EXPECT_EQ(found->a, 5);
    EXPECT_EQ(found->b, 5);
}

TEST(AcpiS5, EachConstantEncoding) {
    struct Case {
        Bytes elements;
        uint8_t a;
        uint8_t b;
    };
    for (const Case& c :
         {Case{{0x00, 0x00}, 0, 0}, Case{{0x01, 0x00}, 1, 0}, Case{{0x00, 0x01}, 0, 1},
          Case{{0xff, 0x01}, 0xff, 1}, Case{{0x0a, 0x07, 0xff}, 7, 0xff},
          Case{{0x01, 0x0a, 0x06}, 1, 6}, Case{{0x0a, 0x00, 0x0a, 0xff}, 0, 0xff}}) {
        auto found = s5(s5_name() + s5_package(2, c.elements));
        ASSERT_TRUE(found);
        EXPECT_EQ(found->a, c.a);
        EXPECT_EQ(found->b, c.b);
    }
}

TEST(AcpiS5, RootPrefix) {
    auto found = s5(Bytes{0xa3} + s5_name(true) + s5_package(4, {0x0a, 0x03, 0x0a, 0x04, 0, 0}));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->a, 3);
    EXPECT_EQ(found->b, 4);
}

TEST(AcpiS5, TwoBytePackageLength) {
    // 2 bytes of PkgLength, NumElements, then 70 bytes of elements: 73.
    Bytes elements = Bytes{0x0a, 0x07, 0x0a, 0x03} + Bytes(66, 0x00);
    Bytes aml = s5_name() + Bytes{0x12, 0x40 | (73 & 0x0f), 73 >> 4, 68} + elements;
    auto found = s5(aml);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->a, 7);
    EXPECT_EQ(found->b, 3);
    // A two-byte length of 5 holds the first element alone.
    Bytes short_package = s5_name() + Bytes{0x12, 0x45, 0x00, 2, 0x0a, 0x07, 0x0a, 0x03};
    EXPECT_FALSE(s5(short_package));
    Bytes just_enough = s5_name() + Bytes{0x12, 0x47, 0x00, 2, 0x0a, 0x07, 0x0a, 0x03};
    found = s5(just_enough);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->a, 7);
    EXPECT_EQ(found->b, 3);
}

TEST(AcpiS5, PackageTooShort) {
    // One element only.
    EXPECT_FALSE(s5(s5_name() + s5_package(1, {0x0a, 0x05})));
    EXPECT_FALSE(s5(s5_name() + s5_package(1, {0x0a, 0x05, 0x0a, 0x05})));
    // Two elements counted, but the package length covers only the first.
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x04, 0x02, 0x0a, 0x05, 0x0a, 0x05}));
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x05, 0x02, 0x0a, 0x05, 0x0a, 0x05}));
    // A package length that does not even cover NumElements.
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x01, 0x02, 0x00, 0x00}));
    // The bytes end inside the package.
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a}));
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x06, 0x02, 0x0a, 0x05}));
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x06, 0x02}));
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12, 0x46}));
    EXPECT_FALSE(s5(s5_name() + Bytes{0x12}));
    EXPECT_FALSE(s5(s5_name()));
}

TEST(AcpiS5, OtherEncodingsAreNotFound) {
    // WordPrefix, a method call (a name), and a package that is not one.
    EXPECT_FALSE(s5(s5_name() + s5_package(2, {0x0b, 0x05, 0x00, 0x0b, 0x05, 0x00})));
    EXPECT_FALSE(s5(s5_name() + s5_package(2, {0x0a, 0x05, 'A', 'B', 'C', 'D'})));
    EXPECT_FALSE(s5(s5_name() + Bytes{0x13, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05}));
}

TEST(AcpiS5, DecoyBeforeTheRealOne) {
    // "_S5_" as a string and after a ScopeOp, each followed by a package, then
    // the real Name.
    Bytes decoys = Bytes{0x0d} + chars("_S5_") + s5_package(2, {0x0a, 0x09, 0x0a, 0x09}) +
                   Bytes{0x10} + chars("_S5_") + s5_package(2, {0x0a, 0x07, 0x0a, 0x07});
    auto found = s5(decoys + s5_name() + s5_package(2, {0x0a, 0x05, 0x0a, 0x06}));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->a, 5);
    EXPECT_EQ(found->b, 6);
    EXPECT_FALSE(s5(decoys));
}

TEST(AcpiS5, KeepsScanningAfterABadCandidate) {
    Bytes bad = s5_name() + s5_package(2, {0x0b, 0x05, 0x00, 0x0b, 0x05, 0x00});
    Bytes name_only = s5_name(true) + Bytes{0x0a, 0x02};
    auto found = s5(bad + name_only + s5_name() + s5_package(2, {0x01, 0x0a, 0x02}));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->a, 1);
    EXPECT_EQ(found->b, 2);
}

TEST(AcpiS5, Absent) {
    EXPECT_FALSE(s5({}));
    EXPECT_FALSE(s5(Bytes{0x08}));
    EXPECT_FALSE(s5(Bytes{0x08, 0x5c}));
    EXPECT_FALSE(s5(Bytes{0x08, 0x5c, '_', 'S', '5'}));
    EXPECT_FALSE(s5(Bytes{0x08} + chars("_S4_") + s5_package(2, {0x0a, 0x05, 0x0a, 0x05})));
    EXPECT_FALSE(s5(Bytes{0x08, 0x5c, 0x5c} + chars("_S5_") + s5_package(2, {0x00, 0x00})));
}

// Every good table in the tests, for the truncation and corruption sweeps.
struct Sample {
    const char* name;
    Bytes bytes;
};

std::vector<Sample> samples() {
    return {
        {"rsdp v0", make_rsdp(0, 0x1000)},
        {"rsdp v2", make_rsdp(2, 0x1000, 0x2000)},
        {"rsdt", make_table("RSDT", le(0x1000, 4) + le(0x2000, 4))},
        {"xsdt", make_table("XSDT", le(0x1000, 8) + le(0x2000, 8))},
        {"madt", make_madt(every_madt_entry())},
        {"fadt v1", make_v1_fadt()},
        {"fadt", make_full_fadt()},
        {"mcfg", make_mcfg(mcfg_entry(0xb0000000, 0, 0, 0xff) + mcfg_entry(0xc0000000, 1, 0, 7))},
        {"hpet", make_hpet()},
        {"aml", sample_aml()},
        {"dmar", exact(make_dmar(
                     38, 1,
                     drhd(0, 0, 0xfed90000, device_scope(1, 0, 0, Bytes{2, 0})) +
                         drhd(1, 0, 0xfed91000, device_scope(3, 2, 0xf0, Bytes{31, 0}), 1) +
                         rmrr(0, 0x7c000000, 0x7c3fffff,
                              device_scope(1, 0, 0, Bytes{0x1c, 0, 0, 0, 3, 1})) +
                         atsr(0, 0, device_scope(2, 0, 0, Bytes{0x1c, 0})) + rhsa(0xfed90000, 1) +
                         andd(1, "\\_SB.UAR0") + satc(1, 0, device_scope(1, 0, 0, Bytes{8, 0})) +
                         dmar_structure(6, Bytes{1, 2, 3})))},
    };
}

// Bridges whose secondary bus is the next one up, for resolving DMAR paths.
class NextBus final : public SecondaryBusReader {
public:
    uint8_t secondary_bus(uint8_t bus, uint8_t, uint8_t) override {
        return static_cast<uint8_t>(bus + 1);
    }
};

// Every parser on `bytes`. The results are read so that a bad read would show
// under the sanitizers. Returns which parsers succeeded, one bit each.
unsigned run_all(std::span<const uint8_t> bytes) {
    unsigned ok = 0;
    if (auto rsdp = parse_rsdp(bytes); rsdp.is_ok()) {
        ok |= 1u << 0;
        EXPECT_TRUE(rsdp.value().revision >= 2 || rsdp.value().xsdt_address == 0);
    }
    if (find_rsdp(bytes).is_ok())
        ok |= 1u << 1;
    if (auto header = peek_header(bytes); header.is_ok()) {
        ok |= 1u << 2;
        EXPECT_GE(header.value().length, sdt_header_size);
    }
    if (auto header = check_table(bytes); header.is_ok()) {
        ok |= 1u << 3;
        EXPECT_LE(header.value().length, bytes.size());
    }
    if (auto root = RootTable::parse(bytes); root.is_ok()) {
        ok |= 1u << 4;
        size_t size = root.value().is_xsdt() ? 8 : 4;
        EXPECT_LE(sdt_header_size + root.value().count() * size, bytes.size());
        uint64_t sum = 0;
        for (size_t i = 0; i < root.value().count(); ++i)
            sum += root.value().entry(i);
        (void)sum;
    }
    if (auto parsed = Madt::parse(bytes); parsed.is_ok()) {
        ok |= 1u << 5;
        Madt madt = parsed.value();
        int count = walk(madt);
        EXPECT_LE(count, static_cast<int>(bytes.size() / 2));
        EXPECT_TRUE(madt.next().is_error());
    }
    if (parse_fadt(bytes).is_ok())
        ok |= 1u << 6;
    if (auto mcfg = Mcfg::parse(bytes); mcfg.is_ok()) {
        ok |= 1u << 7;
        EXPECT_LE(44 + mcfg.value().count() * 16, bytes.size());
        for (size_t i = 0; i < mcfg.value().count(); ++i)
            (void)mcfg.value().entry(i);
    }
    if (parse_hpet(bytes).is_ok())
        ok |= 1u << 8;
    if (find_s5(bytes).is_ok())
        ok |= 1u << 9;
    if (auto parsed = Dmar::parse(bytes); parsed.is_ok()) {
        ok |= 1u << 10;
        // Every structure, every scope, every path, and the end.
        Dmar dmar = parsed.value();
        size_t total = 48;
        for (auto entry = dmar.next(); entry.is_ok(); entry = dmar.next()) {
            total += entry.value().length;
            DeviceScopes scopes = entry.value().scopes;
            for (auto scope = scopes.next(); scope.is_ok(); scope = scopes.next()) {
                NextBus bridges;
                (void)scope.value().resolve(bridges);
            }
        }
        EXPECT_LE(total, bytes.size());
        EXPECT_EQ(error_of(dmar.next()), AcpiError::NotFound);
    }
    return ok;
}

TEST(AcpiRobustness, EveryTruncation) {
    for (const Sample& sample : samples()) {
        SCOPED_TRACE(sample.name);
        const Bytes& bytes = sample.bytes;
        unsigned whole = run_all(bytes);
        EXPECT_NE(whole, 0u);
        for (size_t length = 0; length < bytes.size(); ++length) {
            SCOPED_TRACE(length);
            // A copy of exactly `length` bytes: any read past it is a heap
            // overflow the sanitizers catch.
            Bytes prefix(bytes.begin(), bytes.begin() + length);
            unsigned ok = run_all(prefix);
            // A table cut short is refused by the parser for its kind.
            std::string_view name = sample.name;
            if (name == "rsdp v0" || name == "rsdp v2")
                EXPECT_EQ(error_of(parse_rsdp(prefix)), AcpiError::TooShort);
            else if (name == "rsdt" || name == "xsdt")
                EXPECT_EQ(error_of(RootTable::parse(prefix)), AcpiError::TooShort);
            else if (name == "madt")
                EXPECT_EQ(error_of(Madt::parse(prefix)), AcpiError::TooShort);
            else if (name == "fadt v1" || name == "fadt")
                EXPECT_EQ(error_of(parse_fadt(prefix)), AcpiError::TooShort);
            else if (name == "mcfg")
                EXPECT_EQ(error_of(Mcfg::parse(prefix)), AcpiError::TooShort);
            else if (name == "hpet")
                EXPECT_EQ(error_of(parse_hpet(prefix)), AcpiError::TooShort);
            else if (name == "dmar")
                EXPECT_EQ(error_of(Dmar::parse(prefix)), AcpiError::TooShort);
            else if (name == "aml" && length < bytes.size() - 2)
                EXPECT_EQ(error_of(find_s5(prefix)), AcpiError::NotFound);
            else if (name == "aml") // the last two elements (ZeroOps) are not needed
                EXPECT_TRUE(find_s5(prefix).is_ok());
            // Nothing succeeds on a prefix that did not on the whole, except
            // peek_header, which reads the header alone.
            EXPECT_EQ(ok & ~whole & ~(1u << 2), 0u);
        }
    }
}

TEST(AcpiRobustness, RandomCorruption) {
    std::mt19937 random(20240611);
    for (const Sample& sample : samples()) {
        SCOPED_TRACE(sample.name);
        for (int round = 0; round < 300; ++round) {
            Bytes bytes = sample.bytes;
            int flips = 1 + static_cast<int>(random() % 4);
            for (int i = 0; i < flips; ++i)
                bytes[random() % bytes.size()] = static_cast<uint8_t>(random());
            // Mostly with a right checksum, so that the parsers look further.
            if (bytes.size() >= sdt_header_size && round % 4 != 0)
                reseal(bytes);
            run_all(bytes);
        }
    }
}

} // namespace
} // namespace capos::acpi
