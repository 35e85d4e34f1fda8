// Physical Region Page entries (section 4.3): how a command names the memory
// of its data transfer. The transfer starts at a byte offset inside its first
// memory page (the page size chosen in CC.MPS) and runs over whole pages
// after it:
//   one page:     PRP1 = first page + offset, PRP2 unused (0);
//   two pages:    PRP2 = the second page;
//   more:         PRP2 points at a PRP list, a page of 8-byte entries naming
//                 the second page onwards. When the entries do not fit one
//                 list page, the last entry of each full list page points at
//                 the next list page instead of at data.
// Every entry after PRP1 is page aligned (offset 0); PRP1's offset is dword
// aligned. The list pages are the caller's (with their device addresses),
// whole, page-aligned pages: the lists then always start at offset 0.
//
// build_prps checks everything before writing any list entry: a failed call
// leaves the list pages untouched.
#pragma once

#include "lib/base/result.h"
#include "lib/nvme/nvme.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::nvme {

enum class PrpError : uint8_t {
    PageSize,      // not a power of two from 4 KiB to 128 MiB (CC.MPS 0..15)
    EmptyTransfer, // a length of 0: a command without data has no PRPs
    Offset,        // first offset not below the page size, or not dword aligned
    PageCount,     // the pages do not cover offset + length exactly
    BadPage,       // a data page 0 or not page aligned
    TooLarge,      // more bytes than the controller's MDTS allows
    ListPages,     // fewer list pages than the transfer needs
    BadListPage,   // a list page without memory, 0 or not page aligned
};
const char* to_string(PrpError error);

inline constexpr uint32_t max_page_size = 1u << 27;
inline constexpr uint32_t prp_entry_size = 8;

struct PrpLimits {
    uint32_t page_size = min_page_size; // CC.MPS
    uint64_t max_transfer = 0;          // bytes; 0: no limit
};

// Identify Controller's MDTS as bytes: 2^mdts units of the minimum page size
// (CAP.MPSMIN, as Capabilities::min_page_shift). MDTS 0, and limits beyond
// 64 bits, are 0: no limit.
constexpr uint64_t max_transfer_bytes(uint8_t mdts, uint8_t min_page_shift) {
    if (mdts == 0)
        return 0;
    uint32_t shift = uint32_t(mdts) + min_page_shift;
    return shift >= 64 ? 0 : uint64_t(1) << shift;
}

// One page for a PRP list: `entries` is its memory as the driver sees it
// (page_size / 8 of them), `device_address` as the controller sees it.
struct PrpListPage {
    volatile uint64_t* entries = nullptr;
    uint64_t device_address = 0;
};

// How many list pages a transfer over `page_count` pages needs (0 for one or
// two pages).
size_t prp_list_pages_needed(uint64_t page_count, uint32_t page_size);

struct Prps {
    DataPointer pointer;
    size_t list_pages_used = 0;
};

// PRP1/PRP2 for `length` bytes starting `first_offset` bytes into pages[0],
// filling list pages from `list_pages` in order when more than two pages are
// involved. `pages` holds every page of the transfer, and only those.
Result<Prps, PrpError> build_prps(uint32_t first_offset, uint64_t length,
                                  std::span<const uint64_t> pages,
                                  std::span<const PrpListPage> list_pages, const PrpLimits& limits);

// The pages of `length` bytes contiguous from device address `address`
// (memory the device reaches as one range: a DMABuffer's), for build_prps:
// the offset into the first page, and the pages in order into `pages`.
// EmptyTransfer for no bytes, PageSize for a bad page size, BadPage for a
// range starting at 0 or running past 2^64, PageCount when `pages` is too
// short.
struct ContiguousPages {
    uint32_t first_offset = 0;
    size_t count = 0;
};
Result<ContiguousPages, PrpError> contiguous_pages(uint64_t address, uint64_t length,
                                                   uint32_t page_size, std::span<uint64_t> pages);

} // namespace capos::nvme
