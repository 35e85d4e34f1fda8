// libFuzzer target for lib/elf: any bytes give either an error or a plan that keeps
// every guarantee ElfLoadPlan documents (runs ordered, disjoint, page-aligned and in
// range; copies inside the file and the runs; entry executable; TLS sane). An
// accepted file's PT_LOADs are then read again here, plainly, and the plan compared
// with them: one copy per segment with file bytes, every segment page covered, no
// other page, and each page a segment starts or ends in has exactly the union of
// the access of the segments touching it. Plans are also checked against narrower
// address ranges: the tightest range around the plan must accept it, and one page
// less at either end must refuse it. Any violation traps, which libFuzzer reports
// as a crash.
#include "lib/elf/elf.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace {

using capos::ElfAddressRange;
using capos::ElfError;
using capos::ElfLoadPlan;
using capos::ElfPageAccess;
using capos::ElfPageRun;
namespace elf = capos::elf;

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

// Whether [start, start + length) is covered by the runs.
bool in_runs(const ElfLoadPlan& plan, uint64_t start, uint64_t length) {
    uint64_t at = start;
    for (const ElfPageRun& run : plan.page_runs()) {
        if (at >= run.first_page && at < run.end())
            at = start + length < run.end() ? start + length : run.end();
    }
    return at == start + length;
}

void check_plan(const ElfLoadPlan& plan, size_t file_size, ElfAddressRange range) {
    auto runs = plan.page_runs();
    require(!runs.empty() && runs.size() <= elf::max_load_segments);
    uint64_t pages = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
        const ElfPageRun& run = runs[i];
        require(run.first_page % elf::page_size == 0 && run.page_count > 0);
        require(run.first_page >= range.lowest);
        require(run.page_count <= (range.end - run.first_page) / elf::page_size);
        require(run.access == ElfPageAccess::Read || run.access == ElfPageAccess::ReadWrite ||
                run.access == ElfPageAccess::ReadExecute);
        if (i > 0) {
            require(runs[i - 1].end() <= run.first_page);
            require(runs[i - 1].end() != run.first_page || runs[i - 1].access != run.access);
        }
        pages += run.page_count;
    }
    require(plan.page_count() == pages);

    auto copies = plan.copies();
    require(copies.size() <= elf::max_load_segments);
    uint64_t previous_end = 0;
    for (const capos::ElfCopy& copy : copies) {
        require(copy.length > 0);
        require(copy.file_offset <= file_size && copy.length <= file_size - copy.file_offset);
        require(copy.destination >= previous_end);
        require(in_runs(plan, copy.destination, copy.length));
        previous_end = copy.destination + copy.length;
    }

    bool entry_executable = false;
    for (const ElfPageRun& run : runs)
        entry_executable |= run.access == ElfPageAccess::ReadExecute &&
                            plan.entry() >= run.first_page && plan.entry() < run.end();
    require(entry_executable);

    if (plan.tls()) {
        const capos::ElfTlsTemplate& tls = *plan.tls();
        require(tls.file_size <= tls.memory_size);
        require(tls.memory_size <= range.end - range.lowest);
        require(tls.alignment >= 1 && tls.alignment <= elf::max_tls_alignment &&
                (tls.alignment & (tls.alignment - 1)) == 0);
        require(tls.file_size == 0 || in_runs(plan, tls.vaddr, tls.file_size));
    }
}

uint64_t read_le(std::span<const uint8_t> bytes, size_t at, size_t width) {
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i)
        value |= static_cast<uint64_t>(bytes[at + i]) << (8 * i);
    return value;
}

struct Segment {
    uint64_t vaddr;
    uint64_t offset;
    uint64_t file_size;
    uint64_t end;
    uint32_t flags;

    uint64_t first_page() const { return vaddr & ~(elf::page_size - 1); }
    uint64_t last_page() const { return (end - 1) & ~(elf::page_size - 1); }
};

// What a page touched by segments with these flags must be mapped as.
ElfPageAccess access_of(uint32_t flags) {
    if (flags & elf::pf_w)
        return ElfPageAccess::ReadWrite;
    if (flags & elf::pf_x)
        return ElfPageAccess::ReadExecute;
    return ElfPageAccess::Read;
}

std::optional<ElfPageAccess> access_at(const ElfLoadPlan& plan, uint64_t address) {
    for (const ElfPageRun& run : plan.page_runs()) {
        if (address >= run.first_page && address < run.end())
            return run.access;
    }
    return std::nullopt;
}

// The plan against the accepted file's non-empty PT_LOADs, read independently.
void check_against_segments(const ElfLoadPlan& plan, std::span<const uint8_t> file) {
    size_t table = read_le(file, 32, 8);
    size_t count = read_le(file, 56, 2);
    Segment segments[elf::max_program_headers];
    size_t segment_count = 0;
    for (size_t i = 0; i < count; ++i) {
        size_t at = table + i * elf::program_header_size;
        if (read_le(file, at, 4) != elf::pt_load || read_le(file, at + 40, 8) == 0)
            continue;
        uint64_t vaddr = read_le(file, at + 16, 8);
        segments[segment_count++] = Segment{
            vaddr, read_le(file, at + 8, 8), read_le(file, at + 32, 8),
            vaddr + read_le(file, at + 40, 8), static_cast<uint32_t>(read_le(file, at + 4, 4))};
    }
    require(segment_count > 0);

    size_t copy = 0;
    uint64_t distinct_pages = 0;
    for (size_t i = 0; i < segment_count; ++i) {
        const Segment& segment = segments[i];
        if (segment.file_size > 0) {
            require(copy < plan.copies().size());
            const capos::ElfCopy& expected = plan.copies()[copy++];
            require(expected.destination == segment.vaddr &&
                    expected.file_offset == segment.offset && expected.length == segment.file_size);
        }
        require(in_runs(plan, segment.first_page(),
                        segment.last_page() + elf::page_size - segment.first_page()));
        distinct_pages += (segment.last_page() - segment.first_page()) / elf::page_size + 1;
        if (i > 0 && segments[i - 1].last_page() == segment.first_page())
            --distinct_pages; // counted already
        // The pages where this segment starts and ends: the union of every segment
        // touching them.
        for (uint64_t page : {segment.first_page(), segment.last_page()}) {
            uint32_t flags = 0;
            for (size_t j = 0; j < segment_count; ++j) {
                if (segments[j].first_page() <= page && page <= segments[j].last_page())
                    flags |= segments[j].flags;
            }
            require(access_at(plan, page) == access_of(flags));
        }
    }
    require(copy == plan.copies().size());
    require(distinct_pages == plan.page_count());
}

bool same_plan(const ElfLoadPlan& a, const ElfLoadPlan& b) {
    if (a.entry() != b.entry() || a.page_runs().size() != b.page_runs().size() ||
        a.copies().size() != b.copies().size() || a.tls().has_value() != b.tls().has_value())
        return false;
    for (size_t i = 0; i < a.page_runs().size(); ++i) {
        const ElfPageRun& x = a.page_runs()[i];
        const ElfPageRun& y = b.page_runs()[i];
        if (x.first_page != y.first_page || x.page_count != y.page_count || x.access != y.access)
            return false;
    }
    for (size_t i = 0; i < a.copies().size(); ++i) {
        if (std::memcmp(&a.copies()[i], &b.copies()[i], sizeof(capos::ElfCopy)) != 0)
            return false;
    }
    return !a.tls() || std::memcmp(&*a.tls(), &*b.tls(), sizeof(capos::ElfTlsTemplate)) == 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> file(data, size);
    ElfAddressRange range;
    auto planned = ElfLoadPlan::create(file, range);
    if (planned.is_error()) {
        require(std::strcmp(to_string(planned.error()), "unknown ELF error") != 0);
        return 0;
    }
    const ElfLoadPlan& plan = planned.value();
    check_plan(plan, size, range);
    check_against_segments(plan, file);

    // The tightest range around the plan gives the same plan, and one page less at
    // either end refuses it, unless the TLS block no longer fits in the range (which
    // create() checks when it reaches PT_TLS, possibly first).
    ElfAddressRange tight{plan.page_runs().front().first_page, plan.page_runs().back().end()};
    uint64_t tight_size = tight.end - tight.lowest;
    auto tls_fits = [&](uint64_t range_size) {
        return !plan.tls() || plan.tls()->memory_size <= range_size;
    };
    auto again = ElfLoadPlan::create(file, tight);
    if (tls_fits(tight_size))
        require(again.is_ok() && same_plan(plan, again.value()));
    else
        require(again.is_error() && again.error() == ElfError::BadTls);
    if (tight_size > elf::page_size && tls_fits(tight_size - elf::page_size)) {
        auto below = ElfLoadPlan::create(file, {tight.lowest + elf::page_size, tight.end});
        require(below.is_error() && below.error() == ElfError::SegmentBelowMinimum);
        auto above = ElfLoadPlan::create(file, {tight.lowest, tight.end - elf::page_size});
        require(above.is_error() && above.error() == ElfError::SegmentAboveLimit);
    }
    return 0;
}
