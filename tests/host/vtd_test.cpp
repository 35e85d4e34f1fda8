// lib/iommu/vtd: the capability registers of a VT-d unit, field by field
// against the specification's bit positions, and the offsets the unit
// reports checked against its register page; the commands, table entries
// and fault records the kernel writes and reads, and the second-level tables
// walked as the unit walks them.
#include "lib/iommu/vtd.h"

#include <array>
#include <map>

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

namespace {

using namespace capos::vtd;

TEST(Vtd, GlobalCommandKeepsPersistentBitsOnly) {
    // Translation on, a root table just set, the write buffer flushed:
    // only translation survives into the next command.
    uint32_t status = status_translation_enabled | status_root_table_set |
                      status_write_buffer_flushed | status_queued_invalidation;
    EXPECT_EQ(global_command(status, status_root_table_set, true),
              status_translation_enabled | status_queued_invalidation | status_root_table_set);
    EXPECT_EQ(global_command(status, status_translation_enabled, false),
              status_queued_invalidation);
    EXPECT_EQ(global_command(0, status_translation_enabled, true), status_translation_enabled);
    // Bits 29 (fault log) and 24 (interrupt table) are one-shot too.
    EXPECT_EQ(global_command(1u << 29 | 1u << 24 | 1u << 23, 0, true), 1u << 23);
}

TEST(Vtd, InvalidationCommands) {
    EXPECT_EQ(context_invalidate_global, 0xA000'0000'0000'0000ull);
    EXPECT_EQ(iotlb_invalidate_global, 0x9003'0000'0000'0000ull);
    EXPECT_EQ(iotlb_invalidate_domain(0x1234), 0xA003'1234'0000'0000ull);
}

TEST(Vtd, RootAndContextEntries) {
    Entry root = root_entry(0x12345000);
    EXPECT_EQ(root.low, 0x12345001u);
    EXPECT_EQ(root.high, 0u);
    Entry context = context_entry(0xABCDE000, 3, 7);
    EXPECT_EQ(context.low, 0xABCDE001u); // present, translation type 00
    EXPECT_EQ(context.high, 0x701u);     // domain 7 at bit 8, AW 1: 39 bits
    EXPECT_EQ(context_entry(0x1000, 4, 0xFFFF).high, 0xFFFF02u);
    EXPECT_EQ(context_entry(0x1000, 5, 1).high, 0x103u);
}

TEST(Vtd, FaultRecord) {
    // A write by 00:04.0 to 0x1234567000, reason 5 (a write to a page
    // without write permission).
    Fault fault = decode_fault(0x12'3456'7abcull, uint64_t{1} << 63 | uint64_t{5} << 32 | 0x0020);
    EXPECT_TRUE(fault.valid);
    EXPECT_FALSE(fault.read);
    EXPECT_EQ(fault.source, 0x20);
    EXPECT_EQ(fault.reason, 5);
    EXPECT_EQ(fault.address, 0x12'3456'7000ull);
    EXPECT_TRUE(decode_fault(0, uint64_t{3} << 62).read);
    EXPECT_FALSE(decode_fault(0, 0).valid);
    EXPECT_EQ(fault_record_index(0x0502), 5u);
}

// Tables in a map of frames, as the unit would read them.
class FakeTables final : public TableMemory {
public:
    std::map<uint64_t, std::array<uint64_t, 512>> frames;
    uint64_t next = 0x10000;
    size_t freed = 0;
    size_t writes = 0;
    size_t budget = SIZE_MAX;

    std::optional<uint64_t> allocate_table() override {
        if (budget == 0)
            return std::nullopt;
        --budget;
        uint64_t at = next;
        next += 0x1000;
        frames[at] = {};
        return at;
    }
    void free_table(uint64_t physical) override {
        EXPECT_EQ(frames.erase(physical), 1u);
        ++freed;
    }
    uint64_t* table(uint64_t physical) override {
        EXPECT_TRUE(frames.count(physical)) << physical;
        return frames[physical].data();
    }
    void written(const uint64_t*) override { ++writes; }

    // The unit's walk, written from the specification's layout alone.
    std::optional<uint64_t> walk(uint64_t root, uint8_t levels, uint64_t address, bool write) {
        uint64_t table = root;
        for (int level = levels; level >= 1; --level) {
            uint64_t entry = frames.at(table)[(address >> (12 + 9 * (level - 1))) & 511];
            if (level == 1) {
                if (!(entry & (write ? 2 : 1)))
                    return std::nullopt;
                return (entry & 0x000F'FFFF'FFFF'F000) | (address & 0xFFF);
            }
            if (!(entry & 3))
                return std::nullopt;
            table = entry & 0x000F'FFFF'FFFF'F000;
        }
        return std::nullopt;
    }
};

TEST(Vtd, SecondLevelTablesMapWhatTheUnitWalks) {
    for (uint8_t levels : {3, 4, 5}) {
        FakeTables memory;
        auto tables = SecondLevelTables::create(memory, levels);
        ASSERT_TRUE(tables);
        EXPECT_EQ(tables->limit(), uint64_t{1} << (12 + 9 * levels));
        ASSERT_TRUE(tables->map(0x100000, 0x7654000, true).is_ok());
        ASSERT_TRUE(tables->map(0x101000, 0x1234000, false).is_ok());
        ASSERT_TRUE(tables->map(tables->limit() - 0x1000, 0x5000, true).is_ok());
        EXPECT_EQ(memory.walk(tables->root(), levels, 0x100abc, true), 0x7654abcu);
        EXPECT_EQ(memory.walk(tables->root(), levels, 0x101010, false), 0x1234010u);
        EXPECT_EQ(memory.walk(tables->root(), levels, 0x101010, true), std::nullopt);
        EXPECT_EQ(memory.walk(tables->root(), levels, 0x102000, false), std::nullopt);
        EXPECT_EQ(memory.walk(tables->root(), levels, tables->limit() - 1, true), 0x5fffu);
        EXPECT_EQ(tables->translate(0x100abc, true), 0x7654abcu);
        EXPECT_EQ(tables->translate(0x101000, true), std::nullopt);
        EXPECT_GT(memory.writes, 0u);

        EXPECT_EQ(tables->map(0x100000, 0x9000, true).error(), TableError::AlreadyMapped);
        EXPECT_EQ(tables->map(tables->limit(), 0x9000, true).error(), TableError::OutOfRange);
        EXPECT_EQ(tables->map(0x100800, 0x9000, true).error(), TableError::Misaligned);
        EXPECT_EQ(tables->map(0x200000, 0x9800, true).error(), TableError::Misaligned);
        EXPECT_EQ(tables->map(0x200000, uint64_t{1} << 52, true).error(), TableError::Misaligned);

        EXPECT_TRUE(tables->unmap(0x100000));
        EXPECT_FALSE(tables->unmap(0x100000));
        EXPECT_FALSE(tables->unmap(0x40000000));
        EXPECT_EQ(memory.walk(tables->root(), levels, 0x100000, false), std::nullopt);
        EXPECT_EQ(memory.walk(tables->root(), levels, 0x101000, false), 0x1234000u);

        size_t held = memory.frames.size();
        tables->destroy();
        EXPECT_EQ(memory.freed, held);
        EXPECT_TRUE(memory.frames.empty());
    }
}

TEST(Vtd, SecondLevelTablesOutOfMemoryLeaveWhatWasMapped) {
    FakeTables memory;
    memory.budget = 3; // the root and the two tables below it of the first page
    auto tables = SecondLevelTables::create(memory, 3);
    ASSERT_TRUE(tables);
    ASSERT_TRUE(tables->map(0x1000, 0x2000, true).is_ok());
    // A page 1 GiB on needs two more tables.
    EXPECT_EQ(tables->map(uint64_t{1} << 30, 0x3000, true).error(), TableError::OutOfMemory);
    memory.budget = 1;
    EXPECT_EQ(tables->map(uint64_t{1} << 30, 0x3000, true).error(), TableError::OutOfMemory);
    EXPECT_EQ(tables->translate(0x1000, true), 0x2000u);
    EXPECT_EQ(tables->translate(uint64_t{1} << 30, false), std::nullopt);
    memory.budget = 1; // the table made on the way is used, not made again
    EXPECT_TRUE(tables->map(uint64_t{1} << 30, 0x3000, true).is_ok());
    EXPECT_EQ(memory.walk(tables->root(), 3, uint64_t{1} << 30, true), 0x3000u);
    EXPECT_FALSE(SecondLevelTables::create(memory, 3));
    EXPECT_FALSE(SecondLevelTables::create(memory, 2));
    tables->destroy();
    EXPECT_TRUE(memory.frames.empty());
}

} // namespace
