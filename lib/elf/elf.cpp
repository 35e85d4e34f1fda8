#include "lib/elf/elf.h"

namespace capos {

namespace {

using elf::page_size;

// Little-endian fields at a byte offset the caller has bounds-checked.
uint16_t read_u16(std::span<const uint8_t> bytes, size_t at) {
    return static_cast<uint16_t>(bytes[at] | bytes[at + 1] << 8);
}

uint32_t read_u32(std::span<const uint8_t> bytes, size_t at) {
    return static_cast<uint32_t>(read_u16(bytes, at)) |
           static_cast<uint32_t>(read_u16(bytes, at + 2)) << 16;
}

uint64_t read_u64(std::span<const uint8_t> bytes, size_t at) {
    return static_cast<uint64_t>(read_u32(bytes, at)) |
           static_cast<uint64_t>(read_u32(bytes, at + 4)) << 32;
}

// Field offsets in Elf64_Ehdr.
constexpr size_t ident_class = 4;
constexpr size_t ident_data = 5;
constexpr size_t ident_version = 6;
constexpr size_t e_type = 16;
constexpr size_t e_machine = 18;
constexpr size_t e_version = 20;
constexpr size_t e_entry = 24;
constexpr size_t e_phoff = 32;
constexpr size_t e_ehsize = 52;
constexpr size_t e_phentsize = 54;
constexpr size_t e_phnum = 56;

struct ProgramHeader {
    uint32_t type;
    uint32_t flags;
    uint64_t offset;
    uint64_t vaddr;
    uint64_t file_size;
    uint64_t memory_size;
    uint64_t align;
};

// The header at file[at], whose 56 bytes the caller has bounds-checked.
ProgramHeader read_program_header(std::span<const uint8_t> file, size_t at) {
    return ProgramHeader{read_u32(file, at),      read_u32(file, at + 4),  read_u64(file, at + 8),
                         read_u64(file, at + 16), read_u64(file, at + 32), read_u64(file, at + 40),
                         read_u64(file, at + 48)};
}

// Where a non-empty PT_LOAD lies, kept for the entry and TLS checks.
struct LoadedSegment {
    uint64_t start;
    uint64_t end;
    bool executable;
};

constexpr uint64_t page_down(uint64_t address) {
    return address & ~(page_size - 1);
}

// Only for addresses at most a page-aligned limit below 2^64, so it cannot wrap.
constexpr uint64_t page_up(uint64_t address) {
    return page_down(address + page_size - 1);
}

constexpr bool is_power_of_two(uint64_t value) {
    return value != 0 && (value & (value - 1)) == 0;
}

// Whether [offset, offset + size) lies inside a file of file_size bytes.
constexpr bool within_file(uint64_t offset, uint64_t size, size_t file_size) {
    return offset <= file_size && size <= file_size - offset;
}

ElfPageAccess access_for(uint32_t flags) {
    if (flags & elf::pf_w)
        return ElfPageAccess::ReadWrite;
    if (flags & elf::pf_x)
        return ElfPageAccess::ReadExecute;
    return ElfPageAccess::Read;
}

// The access of a page two segments share; none when it would be writable and
// executable. With only three kinds, the union is always one of the two.
std::optional<ElfPageAccess> unite(ElfPageAccess a, ElfPageAccess b) {
    if (a == b || b == ElfPageAccess::Read)
        return a;
    if (a == ElfPageAccess::Read)
        return b;
    return std::nullopt;
}

Result<void, ElfError> check_address_range(ElfAddressRange range) {
    if (range.lowest == 0 || range.lowest >= range.end || range.lowest % page_size != 0 ||
        range.end % page_size != 0)
        return Err{ElfError::BadAddressRange};
    return {};
}

Result<void, ElfError> check_file_header(std::span<const uint8_t> file) {
    if (file.size() < elf::header_size)
        return Err{ElfError::Truncated};
    if (file[0] != 0x7f || file[1] != 'E' || file[2] != 'L' || file[3] != 'F')
        return Err{ElfError::BadMagic};
    if (file[ident_class] != elf::class_64)
        return Err{ElfError::NotElf64};
    if (file[ident_data] != elf::data_little_endian)
        return Err{ElfError::NotLittleEndian};
    if (file[ident_version] != elf::version_current ||
        read_u32(file, e_version) != elf::version_current)
        return Err{ElfError::BadVersion};
    uint16_t type = read_u16(file, e_type);
    if (type == elf::type_dyn)
        return Err{ElfError::PositionIndependent};
    if (type != elf::type_exec)
        return Err{ElfError::NotExecutable};
    if (read_u16(file, e_machine) != elf::machine_x86_64)
        return Err{ElfError::WrongMachine};
    if (read_u16(file, e_ehsize) != elf::header_size)
        return Err{ElfError::BadHeaderSize};
    if (read_u16(file, e_phentsize) != elf::program_header_size)
        return Err{ElfError::BadProgramHeaderSize};
    uint16_t count = read_u16(file, e_phnum);
    if (count > elf::max_program_headers)
        return Err{ElfError::TooManyProgramHeaders};
    // count <= 64, so the table's size cannot overflow.
    if (!within_file(read_u64(file, e_phoff), count * elf::program_header_size, file.size()))
        return Err{ElfError::ProgramHeadersOutOfBounds};
    return {};
}

// The PT_TLS checks that need no other header.
Result<void, ElfError> check_tls(const ProgramHeader& tls, size_t file_size,
                                 ElfAddressRange range) {
    if (tls.file_size > tls.memory_size || !within_file(tls.offset, tls.file_size, file_size))
        return Err{ElfError::BadTls};
    // 0 and 1 both mean "no alignment".
    if (tls.align > 1 && (!is_power_of_two(tls.align) || tls.align > elf::max_tls_alignment))
        return Err{ElfError::BadTls};
    // A block larger than the whole address range could never be allocated; refusing
    // it here keeps the runtime's size arithmetic far from overflow.
    if (tls.memory_size > range.end - range.lowest || tls.vaddr > UINT64_MAX - tls.file_size)
        return Err{ElfError::BadTls};
    return {};
}

} // namespace

const char* to_string(ElfError error) {
    switch (error) {
    case ElfError::Truncated:
        return "file shorter than the ELF header";
    case ElfError::BadMagic:
        return "not an ELF file (bad magic)";
    case ElfError::NotElf64:
        return "not a 64-bit ELF file";
    case ElfError::NotLittleEndian:
        return "not a little-endian ELF file";
    case ElfError::BadVersion:
        return "unsupported ELF version";
    case ElfError::PositionIndependent:
        return "position-independent executable (ET_DYN) not supported";
    case ElfError::NotExecutable:
        return "ELF file is not an executable";
    case ElfError::WrongMachine:
        return "ELF file is not for x86_64";
    case ElfError::BadHeaderSize:
        return "bad ELF header size";
    case ElfError::BadProgramHeaderSize:
        return "bad program header entry size";
    case ElfError::TooManyProgramHeaders:
        return "too many program headers";
    case ElfError::ProgramHeadersOutOfBounds:
        return "program header table out of bounds";
    case ElfError::InterpreterRequested:
        return "program requests an interpreter (dynamic linking)";
    case ElfError::SegmentOutOfBounds:
        return "segment data out of bounds";
    case ElfError::FileSizeExceedsMemorySize:
        return "segment file size exceeds its memory size";
    case ElfError::WritableAndExecutable:
        return "segment is writable and executable";
    case ElfError::AddressOverflow:
        return "segment address range wraps around";
    case ElfError::SegmentBelowMinimum:
        return "segment below the lowest user address";
    case ElfError::SegmentAboveLimit:
        return "segment above the user address limit";
    case ElfError::MisalignedSegment:
        return "segment address and file offset disagree within a page";
    case ElfError::OverlappingSegments:
        return "segments overlap or are out of order";
    case ElfError::SharedPageWritableAndExecutable:
        return "segments sharing a page make it writable and executable";
    case ElfError::TooManyLoadSegments:
        return "too many loadable segments";
    case ElfError::NoLoadSegments:
        return "no loadable segment";
    case ElfError::EntryNotExecutable:
        return "entry point not in an executable segment";
    case ElfError::DuplicateTls:
        return "more than one TLS segment";
    case ElfError::BadTls:
        return "malformed TLS segment";
    case ElfError::TlsOutsideSegment:
        return "TLS image outside the loaded segments";
    case ElfError::ExecutableStack:
        return "program requests an executable stack";
    case ElfError::BadAddressRange:
        return "invalid user address range";
    }
    return "unknown ELF error";
}

uint64_t ElfLoadPlan::page_count() const {
    uint64_t pages = 0;
    for (const ElfPageRun& run : page_runs())
        pages += run.page_count;
    return pages;
}

Result<void, ElfError> ElfLoadPlan::add_pages(uint64_t first_page, uint64_t end_page,
                                              ElfPageAccess access) {
    // The last run always ends at the previous segment's last page, and segments
    // ascend without overlapping, so at most that one page is shared.
    if (m_run_count > 0 && first_page < m_runs[m_run_count - 1].end()) {
        ElfPageRun& last = m_runs[m_run_count - 1];
        std::optional<ElfPageAccess> shared = unite(last.access, access);
        if (!shared)
            return Err{ElfError::SharedPageWritableAndExecutable};
        if (*shared == last.access) {
            first_page += page_size; // the page stays in the last run
        } else if (--last.page_count == 0) {
            --m_run_count; // the page moves to the new run, which takes it all
        }
    }
    if (first_page == end_page)
        return {};
    uint64_t pages = (end_page - first_page) / page_size;
    if (m_run_count > 0) {
        ElfPageRun& last = m_runs[m_run_count - 1];
        if (last.end() == first_page && last.access == access) {
            last.page_count += pages;
            return {};
        }
    }
    // Each segment adds at most one run, and create() limits the segments, so
    // this only guards the invariant.
    if (m_run_count == m_runs.size())
        return Err{ElfError::TooManyLoadSegments};
    m_runs[m_run_count++] = ElfPageRun{first_page, pages, access};
    return {};
}

Result<ElfLoadPlan, ElfError> ElfLoadPlan::create(std::span<const uint8_t> file,
                                                  ElfAddressRange range) {
    TRY(check_address_range(range));
    TRY(check_file_header(file));
    uint64_t entry = read_u64(file, e_entry);
    size_t header_count = read_u16(file, e_phnum);
    size_t table = static_cast<size_t>(read_u64(file, e_phoff));

    ElfLoadPlan plan;
    std::array<LoadedSegment, elf::max_load_segments> segments{};
    size_t segment_count = 0;
    std::optional<ProgramHeader> tls;

    for (size_t i = 0; i < header_count; ++i) {
        ProgramHeader header = read_program_header(file, table + i * elf::program_header_size);
        switch (header.type) {
        case elf::pt_interp:
            return Err{ElfError::InterpreterRequested};
        case elf::pt_gnu_stack:
            if (header.flags & elf::pf_x)
                return Err{ElfError::ExecutableStack};
            continue;
        case elf::pt_tls:
            if (tls)
                return Err{ElfError::DuplicateTls};
            TRY(check_tls(header, file.size(), range));
            tls = header;
            continue;
        case elf::pt_load:
            break;
        default:
            continue;
        }

        if (!within_file(header.offset, header.file_size, file.size()))
            return Err{ElfError::SegmentOutOfBounds};
        if (header.file_size > header.memory_size)
            return Err{ElfError::FileSizeExceedsMemorySize};
        if ((header.flags & (elf::pf_w | elf::pf_x)) == (elf::pf_w | elf::pf_x))
            return Err{ElfError::WritableAndExecutable};
        if (header.memory_size == 0)
            continue; // occupies no memory
        if (header.vaddr > UINT64_MAX - header.memory_size)
            return Err{ElfError::AddressOverflow};
        uint64_t end = header.vaddr + header.memory_size;
        if (header.vaddr < range.lowest)
            return Err{ElfError::SegmentBelowMinimum};
        if (end > range.end)
            return Err{ElfError::SegmentAboveLimit};
        if ((header.vaddr - header.offset) % page_size != 0)
            return Err{ElfError::MisalignedSegment};
        if (segment_count > 0 && header.vaddr < segments[segment_count - 1].end)
            return Err{ElfError::OverlappingSegments};
        if (segment_count == elf::max_load_segments)
            return Err{ElfError::TooManyLoadSegments};

        // end <= range.end, a page-aligned limit, so rounding up cannot wrap.
        TRY(plan.add_pages(page_down(header.vaddr), page_up(end), access_for(header.flags)));
        if (header.file_size > 0)
            plan.m_copies[plan.m_copy_count++] =
                ElfCopy{header.vaddr, header.offset, header.file_size};
        segments[segment_count++] =
            LoadedSegment{header.vaddr, end, (header.flags & elf::pf_x) != 0};
    }

    if (segment_count == 0)
        return Err{ElfError::NoLoadSegments};

    bool entry_found = false;
    for (size_t i = 0; i < segment_count; ++i) {
        const LoadedSegment& segment = segments[i];
        if (segment.executable && entry >= segment.start && entry < segment.end)
            entry_found = true;
    }
    if (!entry_found)
        return Err{ElfError::EntryNotExecutable};

    // An empty PT_TLS (a linker script names the header, the program has no
    // thread-local variables) is no template: it may lie anywhere.
    if (tls && tls->memory_size == 0)
        tls.reset();
    if (tls) {
        // check_tls() ruled out wrapping. An empty image needs only its address to
        // lie within (or at the end of) a segment.
        uint64_t image_end = tls->vaddr + tls->file_size;
        bool inside = false;
        for (size_t i = 0; i < segment_count; ++i) {
            const LoadedSegment& segment = segments[i];
            if (tls->vaddr >= segment.start && image_end <= segment.end)
                inside = true;
        }
        if (!inside)
            return Err{ElfError::TlsOutsideSegment};
        plan.m_tls = ElfTlsTemplate{tls->vaddr, tls->file_size, tls->memory_size,
                                    tls->align > 1 ? tls->align : 1};
    }

    plan.m_entry = entry;
    return plan;
}

} // namespace capos
