// Parsing and planning for the static ELF64 loader. A user program arrives as the
// bytes of an ELF file (from the boot archive or another process: hostile), and the
// kernel turns it into an address space. This file does everything that needs no
// kernel: it checks the file completely and returns an ElfLoadPlan saying which pages
// to map with which access, which file bytes to copy where, where to start, and the
// TLS template. The kernel then allocates zeroed frames for the page runs, copies,
// and maps; nothing it reads from the plan can be out of bounds or overlap.
//
// What is accepted: ELF64, little-endian, version 1, x86_64, ET_EXEC (static,
// linked at fixed addresses). ET_DYN is refused (PositionIndependent): a PIE or
// static-PIE needs relocation, which this loader does not do; link user programs
// with -no-pie. PT_INTERP is refused (the program wants a dynamic linker we do not
// have). PT_LOAD, PT_TLS (one of size 0 counts as none) and PT_GNU_STACK are interpreted; every
// other program header type (PT_NOTE, PT_GNU_RELRO, PT_PHDR, ...) is ignored. Section headers are
// never read.
//
// Page access: a PT_LOAD with PF_W is ReadWrite, with PF_X ReadExecute, otherwise
// Read (x86_64 pages are always readable, so PF_R is implied). A segment with both
// PF_W and PF_X is refused. When consecutive segments share a page (the first ends
// and the second starts inside it), the page gets the union of their access, and a
// union that would be writable and executable is refused. p_align of a PT_LOAD is not
// interpreted; p_vaddr and p_offset must agree modulo the page size.
//
// No allocation, no side effects; the plan owns no memory and does not refer to the
// file bytes (copies name file offsets).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "lib/base/result.h"

namespace capos {

// ELF constants used by the loader (and by tests that build ELF files).
namespace elf {
inline constexpr uint64_t page_size = 4096;

inline constexpr size_t header_size = 64;         // Elf64_Ehdr
inline constexpr size_t program_header_size = 56; // Elf64_Phdr

inline constexpr uint8_t class_64 = 2;           // EI_CLASS: ELFCLASS64
inline constexpr uint8_t data_little_endian = 1; // EI_DATA: ELFDATA2LSB
inline constexpr uint8_t version_current = 1;    // EI_VERSION and e_version: EV_CURRENT

inline constexpr uint16_t type_exec = 2;       // ET_EXEC
inline constexpr uint16_t type_dyn = 3;        // ET_DYN
inline constexpr uint16_t machine_x86_64 = 62; // EM_X86_64

inline constexpr uint32_t pt_load = 1;
inline constexpr uint32_t pt_dynamic = 2;
inline constexpr uint32_t pt_interp = 3;
inline constexpr uint32_t pt_note = 4;
inline constexpr uint32_t pt_phdr = 6;
inline constexpr uint32_t pt_tls = 7;
inline constexpr uint32_t pt_gnu_stack = 0x6474e551;

inline constexpr uint32_t pf_x = 1;
inline constexpr uint32_t pf_w = 2;
inline constexpr uint32_t pf_r = 4;

// More program headers than this is refused outright (TooManyProgramHeaders).
inline constexpr size_t max_program_headers = 64;
// Non-empty PT_LOAD segments a plan can hold (TooManyLoadSegments beyond).
inline constexpr size_t max_load_segments = 16;
// The largest PT_TLS alignment accepted.
inline constexpr uint64_t max_tls_alignment = page_size;

// Default bounds of user programs: never the lowest 64 KiB (null-pointer
// dereferences must fault), never at or above the canonical-address hole.
inline constexpr uint64_t default_lowest_address = 0x10000;
inline constexpr uint64_t default_address_end = 0x0000800000000000;
} // namespace elf

// Each reason a file is refused; to_string() gives a short description.
enum class ElfError : uint8_t {
    Truncated,                       // shorter than the 64-byte ELF header
    BadMagic,                        // does not start with "\x7fELF"
    NotElf64,                        // EI_CLASS is not ELFCLASS64
    NotLittleEndian,                 // EI_DATA is not ELFDATA2LSB
    BadVersion,                      // EI_VERSION or e_version is not 1
    PositionIndependent,             // ET_DYN: a PIE needs relocation (refused)
    NotExecutable,                   // e_type is neither ET_EXEC nor ET_DYN
    WrongMachine,                    // e_machine is not EM_X86_64
    BadHeaderSize,                   // e_ehsize is not 64
    BadProgramHeaderSize,            // e_phentsize is not 56
    TooManyProgramHeaders,           // e_phnum above elf::max_program_headers
    ProgramHeadersOutOfBounds,       // the program header table runs past the file
    InterpreterRequested,            // a PT_INTERP header: dynamic linking
    SegmentOutOfBounds,              // p_offset + p_filesz runs past the file (or wraps)
    FileSizeExceedsMemorySize,       // p_filesz > p_memsz
    WritableAndExecutable,           // a PT_LOAD with both PF_W and PF_X
    AddressOverflow,                 // p_vaddr + p_memsz wraps around
    SegmentBelowMinimum,             // a PT_LOAD starts below the range's lowest address
    SegmentAboveLimit,               // a PT_LOAD ends past the range's end
    MisalignedSegment,               // p_vaddr and p_offset differ modulo the page size
    OverlappingSegments,             // PT_LOADs overlap or are not in ascending order
    SharedPageWritableAndExecutable, // two segments share a page, one W, the other X
    TooManyLoadSegments,             // more than elf::max_load_segments non-empty PT_LOADs
    NoLoadSegments,                  // no non-empty PT_LOAD
    EntryNotExecutable,              // e_entry is not inside an executable PT_LOAD
    DuplicateTls,                    // more than one PT_TLS
    BadTls,                          // PT_TLS: filesz > memsz, bad align, out of file, too big
    TlsOutsideSegment,               // PT_TLS image not inside one PT_LOAD
    ExecutableStack,                 // PT_GNU_STACK asks for an executable stack
    BadAddressRange,                 // the caller's ElfAddressRange breaks its contract
};

const char* to_string(ElfError error);

// Where user programs may live: [lowest, end). Contract: both are multiples of the
// page size and 0 < lowest < end; otherwise create() fails with BadAddressRange.
// The defaults are the whole lower half minus the null guard; the kernel passes the
// part of its user layout set aside for program segments, so that no segment can
// collide with the stack, the CapSet page or the ring page.
struct ElfAddressRange {
    uint64_t lowest = elf::default_lowest_address;
    uint64_t end = elf::default_address_end;
};

// Mirrors the kernel's page access kinds; there is no writable-executable kind.
enum class ElfPageAccess : uint8_t { Read, ReadWrite, ReadExecute };

// page_count pages starting at the page-aligned address first_page.
struct ElfPageRun {
    uint64_t first_page;
    uint64_t page_count;
    ElfPageAccess access;

    uint64_t end() const { return first_page + page_count * elf::page_size; }
};

// Copy length bytes from file offset file_offset to user address destination.
// Everything a copy does not cover (bss, padding) stays as the zeroed page left it.
struct ElfCopy {
    uint64_t destination;
    uint64_t file_offset;
    uint64_t length;
};

// The PT_TLS initialisation image: memory_size bytes per thread, aligned to
// alignment (a power of two, at most elf::max_tls_alignment), whose first file_size
// bytes are a copy of [vaddr, vaddr + file_size) in the loaded program and the rest
// zero. The image lies inside one PT_LOAD; the zero tail (.tbss) need not.
struct ElfTlsTemplate {
    uint64_t vaddr;
    uint64_t file_size;
    uint64_t memory_size;
    uint64_t alignment;
};

class ElfLoadPlan {
public:
    // Checks the whole file against range and plans its loading; see the file
    // comment and ElfError for what is refused. Reads nothing outside file.
    static Result<ElfLoadPlan, ElfError> create(std::span<const uint8_t> file,
                                                ElfAddressRange range = {});

    uint64_t entry() const { return m_entry; }
    const std::optional<ElfTlsTemplate>& tls() const { return m_tls; }

    // Guarantees once create() succeeds:
    // - page_runs(): at least one; in ascending address order, disjoint, never
    //   adjacent with equal access; every page inside the address range; every page
    //   of every non-empty PT_LOAD covered by exactly one run, and no other page.
    // - copies(): one per PT_LOAD with file bytes, in ascending destination order;
    //   each inside the file and inside the page runs, none overlapping another.
    // - entry(): inside a ReadExecute run.
    std::span<const ElfPageRun> page_runs() const { return {m_runs.data(), m_run_count}; }
    std::span<const ElfCopy> copies() const { return {m_copies.data(), m_copy_count}; }

    // Sum of the page runs' page counts: the frames the program needs, to be
    // charged to the process before anything is allocated.
    uint64_t page_count() const;

private:
    ElfLoadPlan() = default;
    // Adds the pages [first_page, end_page) of the next segment in ascending order,
    // merging a page shared with the previous segment.
    Result<void, ElfError> add_pages(uint64_t first_page, uint64_t end_page, ElfPageAccess access);

    uint64_t m_entry = 0;
    std::optional<ElfTlsTemplate> m_tls;
    std::array<ElfPageRun, elf::max_load_segments> m_runs{};
    size_t m_run_count = 0;
    std::array<ElfCopy, elf::max_load_segments> m_copies{};
    size_t m_copy_count = 0;
};

} // namespace capos
