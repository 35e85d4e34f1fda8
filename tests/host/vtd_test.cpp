// lib/iommu/vtd: the capability registers of a VT-d unit, field by field
// against the specification's bit positions, and the offsets the unit
// reports checked against its register page.
#include "lib/iommu/vtd.h"

#include <gtest/gtest.h>

using namespace capos;

namespace {

// A capability register value from its fields (the specification's
// positions: ND 2:0, RWBF 4, CM 7, SAGAW 12:8, MGAW 21:16, FRO 33:24,
// PSI 39, NFR 47:40).
uint64_t capability(uint64_t nd, uint64_t sagaw, uint64_t mgaw, uint64_t fro, uint64_t nfr,
                    bool rwbf = false, bool cm = false, bool psi = false) {
    return nd | (uint64_t(rwbf) << 4) | (uint64_t(cm) << 7) | (sagaw << 8) | (mgaw << 16) |
           (fro << 24) | (uint64_t(psi) << 39) | (nfr << 40);
}

// Extended capability: C 0, QI 1, IR 3, PT 6, IRO 17:8.
uint64_t extended(uint64_t iro, bool c = false, bool qi = false, bool ir = false, bool pt = false) {
    return uint64_t(c) | (uint64_t(qi) << 1) | (uint64_t(ir) << 3) | (uint64_t(pt) << 6) |
           (iro << 8);
}

} // namespace

TEST(Vtd, Version) {
    vtd::Version v = vtd::decode_version(0x10);
    EXPECT_EQ(v.major, 1);
    EXPECT_EQ(v.minor, 0);
    v = vtd::decode_version(0xFFFFFF63);
    EXPECT_EQ(v.major, 6);
    EXPECT_EQ(v.minor, 3);
}

TEST(Vtd, CapabilityFields) {
    // 2^16 domains, 3- and 4-level tables, 48-bit addresses, fault records at
    // 0x220 (4 of them), write-buffer flushing, caching mode, PSI.
    auto decoded =
        vtd::decode_capabilities(capability(6, 0b00110, 47, 0x22, 3, true, true, true), 4096);
    ASSERT_TRUE(decoded.is_ok());
    const vtd::Capabilities& c = decoded.value();
    EXPECT_EQ(c.domains, 65536u);
    EXPECT_TRUE(c.write_buffer_flush);
    EXPECT_TRUE(c.caching_mode);
    EXPECT_TRUE(c.page_selective_invalidation);
    EXPECT_EQ(c.table_levels, (1u << 3) | (1u << 4));
    EXPECT_EQ(c.guest_address_width, 48);
    EXPECT_EQ(c.fault_recording_offset, 0x220u);
    EXPECT_EQ(c.fault_records, 4);

    // Each field alone: nothing leaks into its neighbours.
    auto plain = vtd::decode_capabilities(capability(0, 0b00010, 38, 0x10, 0), 4096);
    ASSERT_TRUE(plain.is_ok());
    EXPECT_EQ(plain.value().domains, 16u);
    EXPECT_FALSE(plain.value().write_buffer_flush);
    EXPECT_FALSE(plain.value().caching_mode);
    EXPECT_FALSE(plain.value().page_selective_invalidation);
    EXPECT_EQ(plain.value().table_levels, 1u << 3);
    EXPECT_EQ(plain.value().guest_address_width, 39);
    EXPECT_EQ(plain.value().fault_records, 1);
    for (uint64_t nd = 0; nd <= 6; ++nd) {
        auto d = vtd::decode_capabilities(capability(nd, 0b00010, 38, 0x10, 0), 4096);
        ASSERT_TRUE(d.is_ok());
        EXPECT_EQ(d.value().domains, 1u << (4 + 2 * nd));
    }
    // ND 7 is reserved: no more than the largest defined.
    EXPECT_EQ(vtd::decode_capabilities(capability(7, 0b00010, 38, 0x10, 0), 4096).value().domains,
              65536u);
}

TEST(Vtd, CapabilityRefusals) {
    // SAGAW with only reserved bits (0 and 4), or none.
    for (uint64_t sagaw : {0b00000ull, 0b00001ull, 0b10000ull, 0b10001ull}) {
        auto d = vtd::decode_capabilities(capability(2, sagaw, 38, 0x10, 0), 4096);
        ASSERT_TRUE(d.is_error());
        EXPECT_EQ(d.error(), vtd::VtdError::NoTableDepth);
    }
    auto narrow = vtd::decode_capabilities(capability(2, 0b00010, 19, 0x10, 0), 4096);
    ASSERT_TRUE(narrow.is_error());
    EXPECT_EQ(narrow.error(), vtd::VtdError::NarrowAddresses);
    EXPECT_TRUE(vtd::decode_capabilities(capability(2, 0b00010, 20, 0x10, 0), 4096).is_ok());
}

TEST(Vtd, FaultRecordsInsideThePage) {
    // The last record ends exactly at the page's end: fine; one more record,
    // or one more 16-byte step of the offset, passes it.
    uint64_t fro = (4096 - 16 * 4) / 16;
    EXPECT_TRUE(vtd::decode_capabilities(capability(2, 0b00010, 38, fro, 3), 4096).is_ok());
    auto records = vtd::decode_capabilities(capability(2, 0b00010, 38, fro, 4), 4096);
    ASSERT_TRUE(records.is_error());
    EXPECT_EQ(records.error(), vtd::VtdError::FaultRecordsOutsidePage);
    auto offset = vtd::decode_capabilities(capability(2, 0b00010, 38, fro + 1, 3), 4096);
    ASSERT_TRUE(offset.is_error());
    EXPECT_EQ(offset.error(), vtd::VtdError::FaultRecordsOutsidePage);
    // The largest the fields can say (offset 0x3FF0, 256 records) fits only a
    // larger page.
    EXPECT_TRUE(vtd::decode_capabilities(capability(2, 0b00010, 38, 0x3FF, 255), 4096).is_error());
    EXPECT_TRUE(vtd::decode_capabilities(capability(2, 0b00010, 38, 0x3FF, 255), 0x3FF0 + 256 * 16)
                    .is_ok());
    auto tiny = vtd::decode_capabilities(capability(2, 0b00010, 38, 0, 0), 0x40);
    ASSERT_TRUE(tiny.is_error());
    EXPECT_EQ(tiny.error(), vtd::VtdError::PageTooSmall);
}

TEST(Vtd, ExtendedCapabilities) {
    auto e = vtd::decode_extended_capabilities(extended(0xF, true, true, true, true), 4096);
    ASSERT_TRUE(e.is_ok());
    EXPECT_TRUE(e.value().coherent);
    EXPECT_TRUE(e.value().queued_invalidation);
    EXPECT_TRUE(e.value().interrupt_remapping);
    EXPECT_TRUE(e.value().pass_through);
    EXPECT_EQ(e.value().iotlb_offset, 0xF0u);
    auto none = vtd::decode_extended_capabilities(extended(0xF), 4096);
    ASSERT_TRUE(none.is_ok());
    EXPECT_FALSE(none.value().coherent);
    EXPECT_FALSE(none.value().queued_invalidation);
    EXPECT_FALSE(none.value().interrupt_remapping);
    EXPECT_FALSE(none.value().pass_through);
    // The two IOTLB registers (16 bytes) must fit in the page.
    EXPECT_TRUE(vtd::decode_extended_capabilities(extended((4096 - 16) / 16), 4096).is_ok());
    auto outside = vtd::decode_extended_capabilities(extended((4096 - 16) / 16 + 1), 4096);
    ASSERT_TRUE(outside.is_error());
    EXPECT_EQ(outside.error(), vtd::VtdError::IotlbOutsidePage);
    EXPECT_TRUE(vtd::decode_extended_capabilities(extended(0x3FF), 4096).is_error());
}

TEST(Vtd, LevelsForAnAddressWidth) {
    auto three_four = vtd::decode_capabilities(capability(2, 0b00110, 47, 0x10, 0), 4096).value();
    EXPECT_EQ(vtd::levels_for(three_four, 39), 3);
    EXPECT_EQ(vtd::levels_for(three_four, 40), 4);
    EXPECT_EQ(vtd::levels_for(three_four, 48), 4);
    EXPECT_EQ(vtd::levels_for(three_four, 49), 0);
    auto four_only = vtd::decode_capabilities(capability(2, 0b00100, 47, 0x10, 0), 4096).value();
    EXPECT_EQ(vtd::levels_for(four_only, 30), 4);
    auto five = vtd::decode_capabilities(capability(2, 0b01000, 56, 0x10, 0), 4096).value();
    EXPECT_EQ(vtd::levels_for(five, 57), 5);
    EXPECT_EQ(vtd::levels_for(five, 58), 0);
}
