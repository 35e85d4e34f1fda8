// Host tests for lib/elf: ELF files built in memory by a small builder, one per
// refusal reason, page sharing between segments, bss and TLS, truncation and random
// corruption (errors, never crashes; any accepted plan keeps its guarantees), and
// real static binaries linked by lld at build time (tests/host/elf_sample.c).
#include "lib/elf/elf.h"
#include "lib/elf/tls_layout.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace capos {
namespace {

constexpr uint64_t page = elf::page_size;

struct Phdr {
    uint32_t type = elf::pt_load;
    uint32_t flags = elf::pf_r;
    uint64_t offset = 0;
    uint64_t vaddr = 0;
    uint64_t file_size = 0;
    uint64_t memory_size = 0;
    uint64_t align = page;
};

Phdr load(uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t file_size,
          uint64_t memory_size) {
    return Phdr{elf::pt_load, flags, offset, vaddr, file_size, memory_size, page};
}

Phdr other(uint32_t type, uint32_t flags = elf::pf_r) {
    return Phdr{type, flags, 0, 0, 0, 0, 0};
}

constexpr uint32_t r = elf::pf_r;
constexpr uint32_t rw = elf::pf_r | elf::pf_w;
constexpr uint32_t rx = elf::pf_r | elf::pf_x;

// An ELF file described field by field; every field can be made wrong.
struct ElfImage {
    std::array<uint8_t, 4> magic = {0x7f, 'E', 'L', 'F'};
    uint8_t ident_class = elf::class_64;
    uint8_t ident_data = elf::data_little_endian;
    uint8_t ident_version = elf::version_current;
    uint16_t type = elf::type_exec;
    uint16_t machine = elf::machine_x86_64;
    uint32_t version = elf::version_current;
    uint64_t entry = 0;
    uint64_t phoff = elf::header_size;
    uint16_t ehsize = elf::header_size;
    uint16_t phentsize = elf::program_header_size;
    std::optional<uint16_t> phnum; // default: headers.size()
    std::vector<Phdr> headers;
    // Default: just long enough for the header table and every segment's bytes.
    std::optional<size_t> file_size;

    std::vector<uint8_t> build() const {
        size_t size = elf::header_size;
        if (phoff < (1u << 24))
            size = std::max<size_t>(size, phoff + headers.size() * elf::program_header_size);
        for (const Phdr& header : headers) {
            if (header.offset < (1u << 24) && header.file_size < (1u << 24))
                size = std::max<size_t>(size, header.offset + header.file_size);
        }
        if (file_size)
            size = *file_size;
        std::vector<uint8_t> bytes(size);
        for (size_t i = 0; i < size; ++i)
            bytes[i] = static_cast<uint8_t>(i * 131 + 7); // recognisable segment contents
        std::vector<uint8_t> header(elf::header_size, 0);
        std::copy(magic.begin(), magic.end(), header.begin());
        header[4] = ident_class;
        header[5] = ident_data;
        header[6] = ident_version;
        put(header, 16, type, 2);
        put(header, 18, machine, 2);
        put(header, 20, version, 4);
        put(header, 24, entry, 8);
        put(header, 32, phoff, 8);
        put(header, 52, ehsize, 2);
        put(header, 54, phentsize, 2);
        put(header, 56, phnum ? *phnum : headers.size(), 2);
        std::copy(header.begin(), header.begin() + std::min(size, header.size()), bytes.begin());
        for (size_t i = 0; i < headers.size() && phoff < size; ++i) {
            const Phdr& h = headers[i];
            std::vector<uint8_t> entry_bytes(elf::program_header_size, 0);
            put(entry_bytes, 0, h.type, 4);
            put(entry_bytes, 4, h.flags, 4);
            put(entry_bytes, 8, h.offset, 8);
            put(entry_bytes, 16, h.vaddr, 8);
            put(entry_bytes, 24, h.vaddr, 8); // p_paddr
            put(entry_bytes, 32, h.file_size, 8);
            put(entry_bytes, 40, h.memory_size, 8);
            put(entry_bytes, 48, h.align, 8);
            // Only what fits in the file (phoff < size here, so nothing wraps).
            size_t at = static_cast<size_t>(phoff) + i * elf::program_header_size;
            for (size_t j = 0; j < entry_bytes.size() && at + j < size; ++j)
                bytes[at + j] = entry_bytes[j];
        }
        return bytes;
    }

private:
    static void put(std::vector<uint8_t>& bytes, size_t at, uint64_t value, size_t width) {
        for (size_t i = 0; i < width; ++i)
            bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
    }
};

// A typical static program: text, read-only data, data with bss, a stack note.
ElfImage standard_image() {
    ElfImage image;
    image.entry = 0x401010;
    image.headers = {
        load(rx, 0x1000, 0x401000, 0x1800, 0x1800),
        load(r, 0x3000, 0x403000, 0x234, 0x234),
        load(rw, 0x4000, 0x404000, 0x300, 0x2100),
        other(elf::pt_gnu_stack, rw),
    };
    return image;
}

Result<ElfLoadPlan, ElfError> plan(const std::vector<uint8_t>& bytes, ElfAddressRange range = {}) {
    return ElfLoadPlan::create(bytes, range);
}

Result<ElfLoadPlan, ElfError> plan(const ElfImage& image, ElfAddressRange range = {}) {
    return plan(image.build(), range);
}

void expect_error(const ElfImage& image, ElfError expected, ElfAddressRange range = {}) {
    auto planned = plan(image, range);
    ASSERT_TRUE(planned.is_error()) << "expected " << to_string(expected);
    EXPECT_EQ(planned.error(), expected)
        << "got " << to_string(planned.error()) << ", expected " << to_string(expected);
}

// Every guarantee ElfLoadPlan documents, checked against the file and range.
void expect_plan_guarantees(const ElfLoadPlan& result, size_t file_size, ElfAddressRange range) {
    auto runs = result.page_runs();
    ASSERT_FALSE(runs.empty());
    uint64_t pages = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
        const ElfPageRun& run = runs[i];
        EXPECT_EQ(run.first_page % page, 0u);
        EXPECT_GT(run.page_count, 0u);
        EXPECT_GE(run.first_page, range.lowest);
        EXPECT_LE(run.page_count, (range.end - run.first_page) / page);
        if (i > 0) {
            EXPECT_LE(runs[i - 1].end(), run.first_page);
            if (runs[i - 1].end() == run.first_page)
                EXPECT_NE(runs[i - 1].access, run.access);
        }
        pages += run.page_count;
    }
    EXPECT_EQ(result.page_count(), pages);

    auto in_runs = [&](uint64_t start, uint64_t length) {
        uint64_t at = start;
        for (const ElfPageRun& run : runs) {
            if (at >= run.first_page && at < run.end())
                at = std::min(run.end(), start + length);
        }
        return at == start + length;
    };
    uint64_t previous_end = 0;
    for (const ElfCopy& copy : result.copies()) {
        EXPECT_GT(copy.length, 0u);
        EXPECT_LE(copy.file_offset, file_size);
        EXPECT_LE(copy.length, file_size - copy.file_offset);
        EXPECT_GE(copy.destination, previous_end);
        EXPECT_TRUE(in_runs(copy.destination, copy.length));
        previous_end = copy.destination + copy.length;
    }
    bool entry_executable = false;
    for (const ElfPageRun& run : runs)
        entry_executable |= run.access == ElfPageAccess::ReadExecute &&
                            result.entry() >= run.first_page && result.entry() < run.end();
    EXPECT_TRUE(entry_executable);
    if (result.tls()) {
        const ElfTlsTemplate& tls = *result.tls();
        EXPECT_LE(tls.file_size, tls.memory_size);
        EXPECT_GE(tls.alignment, 1u);
        EXPECT_EQ(tls.alignment & (tls.alignment - 1), 0u);
        EXPECT_LE(tls.alignment, elf::max_tls_alignment);
        if (tls.file_size > 0)
            EXPECT_TRUE(in_runs(tls.vaddr, tls.file_size));
    }
}

TEST(Elf, StandardProgram) {
    ElfImage image = standard_image();
    std::vector<uint8_t> bytes = image.build();
    auto planned = plan(bytes);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    const ElfLoadPlan& result = planned.value();
    EXPECT_EQ(result.entry(), 0x401010u);
    EXPECT_FALSE(result.tls().has_value());

    auto runs = result.page_runs();
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[0].first_page, 0x401000u);
    EXPECT_EQ(runs[0].page_count, 2u);
    EXPECT_EQ(runs[0].access, ElfPageAccess::ReadExecute);
    EXPECT_EQ(runs[1].first_page, 0x403000u);
    EXPECT_EQ(runs[1].page_count, 1u);
    EXPECT_EQ(runs[1].access, ElfPageAccess::Read);
    EXPECT_EQ(runs[2].first_page, 0x404000u);
    EXPECT_EQ(runs[2].page_count, 3u); // 0x300 bytes of data, bss up to 0x406100
    EXPECT_EQ(runs[2].access, ElfPageAccess::ReadWrite);
    EXPECT_EQ(result.page_count(), 6u);

    auto copies = result.copies();
    ASSERT_EQ(copies.size(), 3u);
    EXPECT_EQ(copies[0].destination, 0x401000u);
    EXPECT_EQ(copies[0].file_offset, 0x1000u);
    EXPECT_EQ(copies[0].length, 0x1800u);
    EXPECT_EQ(copies[1].destination, 0x403000u);
    EXPECT_EQ(copies[1].file_offset, 0x3000u);
    EXPECT_EQ(copies[1].length, 0x234u);
    EXPECT_EQ(copies[2].destination, 0x404000u);
    EXPECT_EQ(copies[2].file_offset, 0x4000u);
    EXPECT_EQ(copies[2].length, 0x300u); // the bss is left to the zeroed pages
    expect_plan_guarantees(result, bytes.size(), {});
}

TEST(Elf, ErrorsHaveDistinctDescriptions) {
    std::set<std::string> seen;
    for (uint8_t value = 0; value <= static_cast<uint8_t>(ElfError::BadAddressRange); ++value) {
        std::string text = to_string(static_cast<ElfError>(value));
        EXPECT_NE(text, "unknown ELF error");
        EXPECT_TRUE(seen.insert(text).second) << text;
    }
    EXPECT_STREQ(to_string(static_cast<ElfError>(200)), "unknown ELF error");
}

TEST(Elf, Truncated) {
    EXPECT_EQ(plan(std::vector<uint8_t>{}).error(), ElfError::Truncated);
    ElfImage image = standard_image();
    image.file_size = elf::header_size - 1;
    expect_error(image, ElfError::Truncated);
}

TEST(Elf, BadIdentification) {
    ElfImage image = standard_image();
    image.magic[3] = 'G';
    expect_error(image, ElfError::BadMagic);
    image = standard_image();
    image.magic[0] = 0;
    expect_error(image, ElfError::BadMagic);

    image = standard_image();
    image.ident_class = 1; // ELFCLASS32
    expect_error(image, ElfError::NotElf64);
    image.ident_class = 0;
    expect_error(image, ElfError::NotElf64);

    image = standard_image();
    image.ident_data = 2; // big-endian
    expect_error(image, ElfError::NotLittleEndian);

    image = standard_image();
    image.ident_version = 0;
    expect_error(image, ElfError::BadVersion);
    image = standard_image();
    image.version = 2;
    expect_error(image, ElfError::BadVersion);
}

TEST(Elf, OnlyStaticExecutables) {
    ElfImage image = standard_image();
    image.type = elf::type_dyn;
    expect_error(image, ElfError::PositionIndependent);
    for (uint16_t type : {0, 1, 4, 0xfe00, 0xffff}) {
        image.type = type;
        expect_error(image, ElfError::NotExecutable);
    }
}

TEST(Elf, WrongMachine) {
    ElfImage image = standard_image();
    for (uint16_t machine : {0, 3 /* i386 */, 183 /* aarch64 */, 243 /* riscv */}) {
        image.machine = machine;
        expect_error(image, ElfError::WrongMachine);
    }
}

TEST(Elf, HeaderSizes) {
    ElfImage image = standard_image();
    image.ehsize = 52;
    expect_error(image, ElfError::BadHeaderSize);
    image.ehsize = 0;
    expect_error(image, ElfError::BadHeaderSize);

    image = standard_image();
    image.phentsize = 32;
    expect_error(image, ElfError::BadProgramHeaderSize);
    image.phentsize = 64;
    expect_error(image, ElfError::BadProgramHeaderSize);
}

TEST(Elf, ProgramHeaderCount) {
    ElfImage image = standard_image();
    while (image.headers.size() < elf::max_program_headers)
        image.headers.push_back(other(elf::pt_note));
    EXPECT_TRUE(plan(image).is_ok());
    image.headers.push_back(other(elf::pt_note));
    expect_error(image, ElfError::TooManyProgramHeaders);
    image.headers.resize(3);
    image.phnum = 0xffff; // PN_XNUM
    expect_error(image, ElfError::TooManyProgramHeaders);
}

TEST(Elf, ProgramHeadersOutOfBounds) {
    ElfImage image = standard_image();
    size_t size = image.build().size();
    image.file_size = size;
    image.phoff = size - elf::program_header_size; // the table has four entries
    expect_error(image, ElfError::ProgramHeadersOutOfBounds);
    image.phoff = size + 1;
    expect_error(image, ElfError::ProgramHeadersOutOfBounds);
    image.phoff = UINT64_MAX - 8; // offset + size wraps
    expect_error(image, ElfError::ProgramHeadersOutOfBounds);

    // The table read through a valid offset whose end is exactly the file's end.
    image = standard_image();
    std::vector<uint8_t> bytes = image.build();
    image.phoff = bytes.size();
    image.file_size = bytes.size() + 4 * elf::program_header_size;
    ASSERT_TRUE(plan(image).is_ok());
    image.file_size = *image.file_size - 1;
    expect_error(image, ElfError::ProgramHeadersOutOfBounds);
}

TEST(Elf, NoProgramHeaders) {
    ElfImage image = standard_image();
    image.headers.clear();
    expect_error(image, ElfError::NoLoadSegments);
    image.headers = {other(elf::pt_note), other(elf::pt_gnu_stack, rw)};
    expect_error(image, ElfError::NoLoadSegments);
    image.headers = {load(rx, 0, 0x401000, 0, 0)}; // empty: maps nothing
    expect_error(image, ElfError::NoLoadSegments);
}

TEST(Elf, InterpreterRequested) {
    ElfImage image = standard_image();
    image.headers.insert(image.headers.begin(), other(elf::pt_interp));
    expect_error(image, ElfError::InterpreterRequested);
}

TEST(Elf, SegmentOutOfBounds) {
    ElfImage image = standard_image();
    size_t size = image.build().size();
    image.headers[2].file_size += 1; // one byte past the end
    image.file_size = size;
    expect_error(image, ElfError::SegmentOutOfBounds);

    image = standard_image();
    image.headers[1].offset = UINT64_MAX - 0x10; // offset + file_size wraps
    image.headers[1].vaddr = 0x403000 + ((UINT64_MAX - 0x10) % page);
    expect_error(image, ElfError::SegmentOutOfBounds);

    image = standard_image();
    image.file_size = size;
    image.headers[2].offset = size + page; // past the end, even with no file bytes
    image.headers[2].file_size = 0;
    expect_error(image, ElfError::SegmentOutOfBounds);
}

TEST(Elf, FileSizeExceedsMemorySize) {
    ElfImage image = standard_image();
    image.headers[1].memory_size = image.headers[1].file_size - 1;
    expect_error(image, ElfError::FileSizeExceedsMemorySize);
}

TEST(Elf, WritableAndExecutableSegment) {
    ElfImage image = standard_image();
    image.headers[0].flags = elf::pf_r | elf::pf_w | elf::pf_x;
    expect_error(image, ElfError::WritableAndExecutable);
    image.headers[0].flags = elf::pf_w | elf::pf_x;
    expect_error(image, ElfError::WritableAndExecutable);
    // Even an empty one.
    image = standard_image();
    image.headers.push_back(load(elf::pf_w | elf::pf_x, 0, 0x500000, 0, 0));
    expect_error(image, ElfError::WritableAndExecutable);
}

TEST(Elf, AddressOverflow) {
    ElfImage image = standard_image();
    image.headers.push_back(load(rw, 0x4000, 0xfffffffffffff000, 0, 0x2000));
    expect_error(image, ElfError::AddressOverflow);
    image.headers.back() = load(rw, 0x4000, 0xfffffffffffff000, 0, 0x1000); // ends at 2^64
    expect_error(image, ElfError::AddressOverflow);
    image.headers.back() = load(rw, 0x4000, 0xfffffffffffff000, 0, 0xfff); // ends at 2^64 - 1
    expect_error(image, ElfError::SegmentAboveLimit);
}

TEST(Elf, SegmentBelowMinimum) {
    ElfImage image = standard_image();
    image.headers.insert(image.headers.begin(), load(r, 0, 0, 0x40, 0x40));
    expect_error(image, ElfError::SegmentBelowMinimum);
    image.headers[0].vaddr = elf::default_lowest_address - page;
    expect_error(image, ElfError::SegmentBelowMinimum);
    image.headers[0].vaddr = elf::default_lowest_address;
    EXPECT_TRUE(plan(image).is_ok());
    // A caller's own, lower bound.
    image.headers[0].vaddr = page;
    expect_error(image, ElfError::SegmentBelowMinimum);
    EXPECT_TRUE(plan(image, ElfAddressRange{page, elf::default_address_end}).is_ok());
}

TEST(Elf, SegmentAboveLimit) {
    ElfImage image = standard_image();
    uint64_t end = elf::default_address_end;
    image.headers.push_back(load(rw, 0x4000, end - page, 0, page + 1));
    expect_error(image, ElfError::SegmentAboveLimit);
    image.headers.back().memory_size = page; // ends exactly at the limit
    ASSERT_TRUE(plan(image).is_ok());
    EXPECT_EQ(plan(image).value().page_runs().back().end(), end);
    image.headers.back().vaddr = end;
    image.headers.back().memory_size = 1;
    expect_error(image, ElfError::SegmentAboveLimit);
    // A caller's own, lower limit.
    expect_error(standard_image(), ElfError::SegmentAboveLimit, ElfAddressRange{0x10000, 0x405000});
    EXPECT_TRUE(plan(standard_image(), ElfAddressRange{0x10000, 0x407000}).is_ok());
}

TEST(Elf, MisalignedSegment) {
    ElfImage image = standard_image();
    image.headers[1].vaddr += 0x10;
    expect_error(image, ElfError::MisalignedSegment);
    image = standard_image();
    image.headers[1].offset += 8;
    expect_error(image, ElfError::MisalignedSegment);
    // Congruent but not page-aligned is fine.
    image = standard_image();
    image.headers[1].offset += 0x10;
    image.headers[1].vaddr += 0x10;
    EXPECT_TRUE(plan(image).is_ok());
}

TEST(Elf, OverlappingSegments) {
    ElfImage image = standard_image();
    image.headers[1].vaddr = 0x402000; // inside text, which ends at 0x402800
    image.headers[1].offset = 0x2000;
    expect_error(image, ElfError::OverlappingSegments);
    // Out of order but disjoint.
    image = standard_image();
    std::swap(image.headers[1], image.headers[2]);
    expect_error(image, ElfError::OverlappingSegments);
    // The same segment twice.
    image = standard_image();
    image.headers.insert(image.headers.begin(), image.headers[0]);
    expect_error(image, ElfError::OverlappingSegments);
    // Touching at a byte boundary is not overlapping.
    image = standard_image();
    image.headers[1].vaddr = 0x402800;
    image.headers[1].offset = 0x2800;
    image.file_size = 0x4300;
    EXPECT_TRUE(plan(image).is_ok());
}

// Two segments with one page in common: the page gets the union of their access.
TEST(Elf, SharedPageReadThenExecute) {
    ElfImage image;
    image.entry = 0x400900;
    image.headers = {load(r, 0, 0x400000, 0x800, 0x800), load(rx, 0x800, 0x400800, 0x1000, 0x1000)};
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    auto runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].first_page, 0x400000u);
    EXPECT_EQ(runs[0].page_count, 2u);
    EXPECT_EQ(runs[0].access, ElfPageAccess::ReadExecute);
    ASSERT_EQ(planned.value().copies().size(), 2u);
    EXPECT_EQ(planned.value().copies()[1].destination, 0x400800u);
}

TEST(Elf, SharedPageExecuteThenRead) {
    ElfImage image;
    image.entry = 0x401000;
    image.headers = {load(rx, 0x1000, 0x401000, 0x1800, 0x1800),
                     load(r, 0x2800, 0x402800, 0x1000, 0x1000)};
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    auto runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].first_page, 0x401000u);
    EXPECT_EQ(runs[0].page_count, 2u);
    EXPECT_EQ(runs[0].access, ElfPageAccess::ReadExecute);
    EXPECT_EQ(runs[1].first_page, 0x403000u);
    EXPECT_EQ(runs[1].page_count, 1u);
    EXPECT_EQ(runs[1].access, ElfPageAccess::Read);
}

TEST(Elf, SharedPageReadThenWrite) {
    ElfImage image = standard_image();
    image.headers[2] = load(rw, 0x3400, 0x403400, 0x100, 0x2000);
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    auto runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[1].first_page, 0x403000u);
    EXPECT_EQ(runs[1].page_count, 3u); // 0x403000 .. 0x405400
    EXPECT_EQ(runs[1].access, ElfPageAccess::ReadWrite);
}

TEST(Elf, SharedPageWriteAndExecuteRefused) {
    ElfImage image;
    image.entry = 0x401000;
    image.headers = {load(rx, 0x1000, 0x401000, 0x800, 0x800),
                     load(rw, 0x1800, 0x401800, 0x100, 0x100)};
    expect_error(image, ElfError::SharedPageWritableAndExecutable);

    image.entry = 0x401900;
    image.headers = {load(rw, 0x1000, 0x401000, 0x800, 0x800),
                     load(rx, 0x1800, 0x401800, 0x800, 0x800)};
    expect_error(image, ElfError::SharedPageWritableAndExecutable);

    // Through a read-only segment between them, all three in one page.
    image.entry = 0x401000;
    image.headers = {load(rx, 0x1000, 0x401000, 0x400, 0x400),
                     load(r, 0x1400, 0x401400, 0x400, 0x400),
                     load(rw, 0x1800, 0x401800, 0x400, 0x400)};
    expect_error(image, ElfError::SharedPageWritableAndExecutable);

    // Separated by a page boundary they are fine.
    image.headers = {load(rx, 0x1000, 0x401000, 0x1000, 0x1000),
                     load(rw, 0x2000, 0x402000, 0x400, 0x400)};
    EXPECT_TRUE(plan(image).is_ok());
}

TEST(Elf, SharedPageManySegments) {
    // R (two pages) | R inside the second page | RX from the second page on: the
    // second page becomes executable and the small segment adds no run.
    ElfImage image;
    image.entry = 0x401f00;
    image.headers = {load(r, 0x0, 0x400000, 0x1100, 0x1100),
                     load(r, 0x1200, 0x401200, 0x100, 0x100),
                     load(rx, 0x1400, 0x401400, 0x1000, 0x1000)};
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    auto runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].first_page, 0x400000u);
    EXPECT_EQ(runs[0].page_count, 1u);
    EXPECT_EQ(runs[0].access, ElfPageAccess::Read);
    EXPECT_EQ(runs[1].first_page, 0x401000u);
    EXPECT_EQ(runs[1].page_count, 2u);
    EXPECT_EQ(runs[1].access, ElfPageAccess::ReadExecute);
    EXPECT_EQ(planned.value().copies().size(), 3u);

    // RX | R sharing the RX's last page and one of its own | RX sharing that: the
    // R page is dropped into the first run and the runs merge.
    image.entry = 0x400000;
    image.headers = {load(rx, 0x0, 0x400000, 0x800, 0x800),
                     load(r, 0x800, 0x400800, 0x1000, 0x1000),
                     load(rx, 0x1800, 0x401800, 0x1000, 0x1000)};
    planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].page_count, 3u);
    EXPECT_EQ(runs[0].access, ElfPageAccess::ReadExecute);
}

TEST(Elf, AdjacentSegmentsWithEqualAccessMerge) {
    ElfImage image = standard_image();
    image.headers.insert(image.headers.begin() + 2, load(r, 0x3400, 0x403400, 0x10, 0xc00));
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    auto runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[1].first_page, 0x403000u);
    EXPECT_EQ(runs[1].page_count, 1u);
    EXPECT_EQ(planned.value().copies().size(), 4u);

    image = standard_image();
    image.headers.insert(image.headers.begin() + 2, load(r, 0x3000, 0x404000, 0x10, 0x10));
    image.headers[3].vaddr += page;
    planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    runs = planned.value().page_runs();
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[1].page_count, 2u); // 0x403000 and 0x404000, both read-only
}

TEST(Elf, BssOnlySegments) {
    ElfImage image = standard_image();
    image.headers.insert(image.headers.begin() + 3, load(rw, 0x4000, 0x410000, 0, 0x10 * page));
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    EXPECT_EQ(planned.value().copies().size(), 3u); // nothing to copy for the bss
    EXPECT_EQ(planned.value().page_runs().back().first_page, 0x410000u);
    EXPECT_EQ(planned.value().page_runs().back().page_count, 0x10u);
    EXPECT_EQ(planned.value().page_count(), 6u + 0x10u);

    // A huge bss is a plan like any other; the kernel charges page_count().
    image.headers[3].memory_size = uint64_t{1} << 40;
    planned = plan(image);
    ASSERT_TRUE(planned.is_ok());
    EXPECT_EQ(planned.value().page_count(), 6u + (uint64_t{1} << 28));
}

TEST(Elf, EmptyLoadSegmentsAreSkipped) {
    ElfImage image = standard_image();
    image.headers.insert(image.headers.begin(), load(r, 0, 0, 0, 0)); // at address 0
    image.headers.push_back(load(rx, 0, 0x401000, 0, 0));             // inside text
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    EXPECT_EQ(planned.value().page_runs().size(), 3u);
}

TEST(Elf, TooManyLoadSegments) {
    ElfImage image;
    image.entry = 0x400000;
    for (size_t i = 0; i < elf::max_load_segments; ++i) {
        // Alternating access so that no runs merge: one run per segment.
        uint32_t flags = i % 2 == 0 ? rx : r;
        image.headers.push_back(load(flags, i * page, 0x400000 + 2 * i * page, 0x10, 0x10));
    }
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    EXPECT_EQ(planned.value().page_runs().size(), elf::max_load_segments);
    EXPECT_EQ(planned.value().copies().size(), elf::max_load_segments);
    expect_plan_guarantees(planned.value(), image.build().size(), {});
    image.headers.push_back(load(r, 0, 0x500000, 0x10, 0x10));
    expect_error(image, ElfError::TooManyLoadSegments);
}

TEST(Elf, EntryNotExecutable) {
    ElfImage image = standard_image();
    image.entry = 0x403000; // read-only data
    expect_error(image, ElfError::EntryNotExecutable);
    image.entry = 0x404010; // data
    expect_error(image, ElfError::EntryNotExecutable);
    image.entry = 0;
    expect_error(image, ElfError::EntryNotExecutable);
    image.entry = 0x402800; // one past the end of text
    expect_error(image, ElfError::EntryNotExecutable);
    image.entry = 0x402fff; // same page as text's end, but outside the segment
    expect_error(image, ElfError::EntryNotExecutable);
    image.entry = 0x4027ff;
    EXPECT_TRUE(plan(image).is_ok());
    image.entry = 0x401000;
    EXPECT_TRUE(plan(image).is_ok());
}

TEST(Elf, ExecutableStack) {
    ElfImage image = standard_image();
    image.headers.back().flags = elf::pf_r | elf::pf_w | elf::pf_x;
    expect_error(image, ElfError::ExecutableStack);
    image.headers.back().flags = elf::pf_r | elf::pf_w;
    EXPECT_TRUE(plan(image).is_ok());
    image.headers.pop_back(); // no PT_GNU_STACK at all: the stack is never executable
    EXPECT_TRUE(plan(image).is_ok());
}

// A PT_TLS for the standard image. Its p_offset only has to lie in the file (the
// runtime copies the image from memory), so it is the data segment's.
Phdr tls(uint64_t vaddr, uint64_t file_size, uint64_t memory_size, uint64_t align) {
    return Phdr{elf::pt_tls, r, 0x4000, vaddr, file_size, memory_size, align};
}

TEST(Elf, TlsTemplate) {
    ElfImage image = standard_image();
    image.headers.push_back(tls(0x404100, 0x20, 0x80, 16));
    auto planned = plan(image);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    ASSERT_TRUE(planned.value().tls().has_value());
    const ElfTlsTemplate& result = *planned.value().tls();
    EXPECT_EQ(result.vaddr, 0x404100u);
    EXPECT_EQ(result.file_size, 0x20u);
    EXPECT_EQ(result.memory_size, 0x80u);
    EXPECT_EQ(result.alignment, 16u);

    // Alignment 0 and 1 both mean none.
    image.headers.back().align = 0;
    EXPECT_EQ(plan(image).value().tls()->alignment, 1u);
    image.headers.back().align = 1;
    EXPECT_EQ(plan(image).value().tls()->alignment, 1u);
    image.headers.back().align = elf::max_tls_alignment;
    EXPECT_EQ(plan(image).value().tls()->alignment, elf::max_tls_alignment);

    // The image may end exactly at the end of its segment; the zero tail may reach
    // past the segment (.tbss takes no address space).
    image.headers.back() = tls(0x406100 - 0x20, 0x20, 0x10000, 8);
    EXPECT_TRUE(plan(image).is_ok());
    // Only .tbss: the image is empty and may sit at the very end of a segment.
    image.headers.back() = tls(0x406100, 0, 0x40, 8);
    EXPECT_EQ(plan(image).value().tls()->file_size, 0u);
    // An empty PT_TLS (at address 0, as lld writes one a linker script names
    // for a program without thread-local variables) is no template.
    image.headers.back() = tls(0, 0, 0, 0);
    ASSERT_TRUE(plan(image).is_ok());
    EXPECT_FALSE(plan(image).value().tls().has_value());
}

TEST(Elf, BadTls) {
    ElfImage image = standard_image();
    image.headers.push_back(tls(0x404100, 0x20, 0x10, 8)); // file size > memory size
    expect_error(image, ElfError::BadTls);
    image.headers.back() = tls(0x404100, 0x20, 0x20, 24); // not a power of two
    expect_error(image, ElfError::BadTls);
    image.headers.back() = tls(0x404100, 0x20, 0x20, 2 * elf::max_tls_alignment);
    expect_error(image, ElfError::BadTls);
    image.headers.back() = tls(0x404100, 0x20, 0x20, 8);
    image.file_size = 0x4300;
    image.headers.back().offset = 0x4300 - 0x10; // image runs past the file
    expect_error(image, ElfError::BadTls);
    image.headers.back().offset = UINT64_MAX - 0x10; // offset + size wraps
    expect_error(image, ElfError::BadTls);
    image.headers.back() = tls(0x404100, 0x20, uint64_t{1} << 62, 8); // absurd block
    expect_error(image, ElfError::BadTls);
    image.headers.back() = tls(0x404100, 0x20, 0x20, 8);
    image.headers.back().vaddr = UINT64_MAX - 0x10; // image wraps
    expect_error(image, ElfError::BadTls);
}

TEST(Elf, TlsOutsideSegment) {
    ElfImage image = standard_image();
    image.headers.push_back(tls(0x402900, 0x20, 0x20, 8)); // between text and rodata
    expect_error(image, ElfError::TlsOutsideSegment);
    image.headers.back() = tls(0x406100 - 0x10, 0x20, 0x20, 8); // straddles the end
    expect_error(image, ElfError::TlsOutsideSegment);
    image.headers.back() = tls(0x402800 - 0x10, 0x20, 0x20, 8); // across two segments' gap
    expect_error(image, ElfError::TlsOutsideSegment);
    // The containment check comes after the segments, wherever PT_TLS appears.
    image.headers.back() = tls(0x404100, 0x20, 0x20, 8);
    image.headers.insert(image.headers.begin(), image.headers.back());
    image.headers.pop_back();
    EXPECT_TRUE(plan(image).is_ok());
}

TEST(Elf, DuplicateTls) {
    ElfImage image = standard_image();
    image.headers.push_back(tls(0x404100, 0x20, 0x20, 8));
    image.headers.push_back(tls(0x404200, 0x20, 0x20, 8));
    expect_error(image, ElfError::DuplicateTls);
}

TEST(Elf, OtherProgramHeadersIgnored) {
    ElfImage image = standard_image();
    image.headers.push_back(other(elf::pt_note));
    image.headers.push_back(other(elf::pt_phdr));
    image.headers.push_back(other(elf::pt_dynamic));
    image.headers.push_back(other(0x6474e552)); // PT_GNU_RELRO
    image.headers.push_back(other(0x6474e550)); // PT_GNU_EH_FRAME
    image.headers.push_back(other(0xffffffff));
    image.headers.back().offset = UINT64_MAX; // never looked at
    EXPECT_TRUE(plan(image).is_ok());
}

TEST(Elf, BadAddressRange) {
    ElfImage image = standard_image();
    expect_error(image, ElfError::BadAddressRange, {0, elf::default_address_end});
    expect_error(image, ElfError::BadAddressRange, {0x10001, elf::default_address_end});
    expect_error(image, ElfError::BadAddressRange, {0x10000, elf::default_address_end - 1});
    expect_error(image, ElfError::BadAddressRange, {0x10000, 0x10000});
    expect_error(image, ElfError::BadAddressRange, {0x20000, 0x10000});
    // Checked first, even for garbage.
    EXPECT_EQ(plan(std::vector<uint8_t>{}, {0, 0}).error(), ElfError::BadAddressRange);
}

TEST(Elf, EveryTruncationIsRefused) {
    std::vector<uint8_t> bytes = standard_image().build();
    for (size_t size = 0; size < bytes.size(); ++size) {
        auto planned = ElfLoadPlan::create(std::span(bytes).first(size));
        EXPECT_TRUE(planned.is_error()) << size;
    }
    EXPECT_TRUE(plan(bytes).is_ok());
}

TEST(Elf, RandomCorruption) {
    ElfImage image = standard_image();
    image.headers.push_back(tls(0x404100, 0x20, 0x80, 16));
    std::vector<uint8_t> original = image.build();
    std::mt19937_64 random(12345);
    size_t accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::vector<uint8_t> bytes = original;
        int flips = 1 + static_cast<int>(random() % 4);
        for (int i = 0; i < flips; ++i) {
            // Mostly the headers, where the decisions are made.
            size_t at = random() % 4 == 0 ? random() % bytes.size()
                                          : random() % (elf::header_size + 5 * 56);
            bytes[at] = random() % 2 ? static_cast<uint8_t>(random()) : bytes[at] ^ 0x80;
        }
        auto planned = plan(bytes);
        if (planned.is_ok()) {
            ++accepted;
            expect_plan_guarantees(planned.value(), bytes.size(), {});
        }
    }
    EXPECT_GT(accepted, 0u);
}

// The real binaries, linked at build time.

std::vector<uint8_t> read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

uint64_t read_u64(const std::vector<uint8_t>& bytes, size_t at) {
    uint64_t value = 0;
    std::memcpy(&value, bytes.data() + at, sizeof value);
    return value;
}

// The file offset of the anchor named magic (offset of its self pointer).
size_t find_anchor(const std::vector<uint8_t>& bytes, std::string_view magic) {
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    size_t at = text.find(magic);
    EXPECT_NE(at, std::string_view::npos) << magic;
    EXPECT_EQ(text.find(magic, at + 1), std::string_view::npos) << magic;
    return at - 24;
}

// Where the plan puts the byte at file offset, if a copy covers it.
std::optional<uint64_t> address_of(const ElfLoadPlan& result, size_t offset) {
    for (const ElfCopy& copy : result.copies()) {
        if (offset >= copy.file_offset && offset < copy.file_offset + copy.length)
            return copy.destination + (offset - copy.file_offset);
    }
    return std::nullopt;
}

// The file offset a copy fills address from, if any.
std::optional<uint64_t> offset_of(const ElfLoadPlan& result, uint64_t address) {
    for (const ElfCopy& copy : result.copies()) {
        if (address >= copy.destination && address < copy.destination + copy.length)
            return copy.file_offset + (address - copy.destination);
    }
    return std::nullopt;
}

std::optional<ElfPageAccess> access_at(const ElfLoadPlan& result, uint64_t address) {
    for (const ElfPageRun& run : result.page_runs()) {
        if (address >= run.first_page && address < run.end())
            return run.access;
    }
    return std::nullopt;
}

TEST(ElfRealBinary, StaticProgram) {
    std::vector<uint8_t> bytes = read_file(CAPOS_ELF_SAMPLE);
    ASSERT_GT(bytes.size(), elf::header_size);
    auto planned = plan(bytes);
    ASSERT_TRUE(planned.is_ok()) << to_string(planned.error());
    const ElfLoadPlan& result = planned.value();
    expect_plan_guarantees(result, bytes.size(), {});

    // The read-only anchor: where the plan puts it is the address it was linked at,
    // read-only; it names the entry point.
    size_t rodata = find_anchor(bytes, "capOS-rodata");
    std::optional<uint64_t> rodata_address = address_of(result, rodata);
    ASSERT_TRUE(rodata_address.has_value());
    EXPECT_EQ(*rodata_address, read_u64(bytes, rodata));
    EXPECT_EQ(access_at(result, *rodata_address), ElfPageAccess::Read);
    EXPECT_EQ(result.entry(), read_u64(bytes, rodata + 8));
    EXPECT_EQ(access_at(result, result.entry()), ElfPageAccess::ReadExecute);

    // The data anchor is writable and names the bss array, which is writable and
    // left to the zeroed pages.
    size_t data = find_anchor(bytes, "capOS-data");
    std::optional<uint64_t> data_address = address_of(result, data);
    ASSERT_TRUE(data_address.has_value());
    EXPECT_EQ(*data_address, read_u64(bytes, data));
    EXPECT_EQ(access_at(result, *data_address), ElfPageAccess::ReadWrite);
    uint64_t bss = read_u64(bytes, data + 8);
    uint64_t bss_size = read_u64(bytes, data + 16);
    EXPECT_EQ(bss_size, 3 * page);
    for (uint64_t at = bss; at < bss + bss_size; at += 64) {
        EXPECT_EQ(access_at(result, at), ElfPageAccess::ReadWrite);
        EXPECT_FALSE(offset_of(result, at).has_value());
    }

    // The TLS template: an initialised unsigned, then 64 zero bytes.
    ASSERT_TRUE(result.tls().has_value());
    const ElfTlsTemplate& tls = *result.tls();
    EXPECT_EQ(tls.file_size, 4u);
    EXPECT_GE(tls.memory_size, 4u + 64u);
    EXPECT_GE(tls.alignment, 4u);
    std::optional<uint64_t> image = offset_of(result, tls.vaddr);
    ASSERT_TRUE(image.has_value());
    EXPECT_EQ(read_u64(bytes, *image) & 0xffffffff, 0xC0FFEE42u);

    // The same file against ranges that exclude it.
    uint64_t first = result.page_runs().front().first_page;
    uint64_t end = result.page_runs().back().end();
    auto below = plan(bytes, ElfAddressRange{first + page, elf::default_address_end});
    EXPECT_EQ(below.error(), ElfError::SegmentBelowMinimum);
    auto above = plan(bytes, ElfAddressRange{elf::default_lowest_address, end - page});
    EXPECT_EQ(above.error(), ElfError::SegmentAboveLimit);
    EXPECT_TRUE(plan(bytes, ElfAddressRange{first, end}).is_ok());
}

TEST(ElfRealBinary, WritableAndExecutableImageRefused) {
    // Linked with --omagic: one RWX segment.
    std::vector<uint8_t> bytes = read_file(CAPOS_ELF_SAMPLE_RWX);
    EXPECT_EQ(plan(bytes).error(), ElfError::WritableAndExecutable);
}

TEST(ElfRealBinary, PositionIndependentRefused) {
    std::vector<uint8_t> bytes = read_file(CAPOS_ELF_SAMPLE_PIE);
    EXPECT_EQ(plan(bytes).error(), ElfError::PositionIndependent);
}

} // namespace
} // namespace capos

// Where a thread's TLS block goes on its stack (lib/elf/tls_layout.h).
TEST(TlsLayout, VariantTwo) {
    // 0x118 bytes aligned to 128 below a thread pointer aligned to 128.
    auto layout = capos::elf::tls_layout(0x100000, 0x110000, 0x118, 128);
    ASSERT_TRUE(layout.has_value());
    EXPECT_EQ(layout->thread_pointer % 128, 0u);
    EXPECT_LE(layout->thread_pointer + capos::elf::tls_tcb_size, 0x110000u);
    EXPECT_GT(layout->thread_pointer + 128 + capos::elf::tls_tcb_size, 0x110000u);
    EXPECT_EQ(layout->block, layout->thread_pointer - 0x180); // the size rounded up to 128
    EXPECT_EQ(layout->stack_pointer % 16, 0u);
    EXPECT_LE(layout->stack_pointer, layout->block);
    // No template: the control block alone, aligned to 64.
    layout = capos::elf::tls_layout(0x100000, 0x110000, 0, 0);
    ASSERT_TRUE(layout.has_value());
    EXPECT_EQ(layout->thread_pointer, 0x110000u - 64);
    EXPECT_EQ(layout->block, layout->thread_pointer);
    // Refused: too big, a bad alignment, a stack that keeps less than 4 KiB.
    EXPECT_FALSE(capos::elf::tls_layout(0, 0x100000, capos::elf::max_tls_size + 1, 8));
    EXPECT_FALSE(capos::elf::tls_layout(0x100000, 0x110000, 0x10, 24));
    EXPECT_FALSE(capos::elf::tls_layout(0x100000, 0x110000, 0x10, 8192));
    EXPECT_FALSE(capos::elf::tls_layout(0x100000, 0x101000, 0x10, 8));
    EXPECT_FALSE(capos::elf::tls_layout(0x110000, 0x100000, 0, 1));
    EXPECT_TRUE(capos::elf::tls_layout(0x100000, 0x102000, 0x100, 8));
}
