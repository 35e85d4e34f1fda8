#include "lib/nvme/prp.h"

namespace capos::nvme {

const char* to_string(PrpError error) {
    switch (error) {
    case PrpError::PageSize:
        return "memory page size out of range";
    case PrpError::EmptyTransfer:
        return "empty transfer";
    case PrpError::Offset:
        return "first offset out of range or not dword aligned";
    case PrpError::PageCount:
        return "pages do not cover the transfer exactly";
    case PrpError::BadPage:
        return "data page null or not page aligned";
    case PrpError::TooLarge:
        return "transfer above the controller's limit";
    case PrpError::ListPages:
        return "too few PRP list pages";
    case PrpError::BadListPage:
        return "PRP list page null or not page aligned";
    }
    return "unknown PRP error";
}

namespace {

bool valid_page_size(uint32_t page_size) {
    return page_size >= min_page_size && page_size <= max_page_size &&
           (page_size & (page_size - 1)) == 0;
}

} // namespace

size_t prp_list_pages_needed(uint64_t page_count, uint32_t page_size) {
    if (page_count <= 2 || !valid_page_size(page_size))
        return 0;
    uint64_t entries = page_count - 1; // PRP1 names the first page
    uint64_t per_page = page_size / prp_entry_size;
    if (entries <= per_page)
        return 1;
    // Every list page but the last gives its final entry to the chain.
    uint64_t rest = entries - per_page;
    return size_t(1 + (rest + per_page - 2) / (per_page - 1));
}

Result<Prps, PrpError> build_prps(uint32_t first_offset, uint64_t length,
                                  std::span<const uint64_t> pages,
                                  std::span<const PrpListPage> list_pages,
                                  const PrpLimits& limits) {
    uint32_t page_size = limits.page_size;
    if (!valid_page_size(page_size))
        return Err{PrpError::PageSize};
    uint64_t page_mask = page_size - 1;
    if (length == 0)
        return Err{PrpError::EmptyTransfer};
    if (first_offset >= page_size || (first_offset & 3) != 0)
        return Err{PrpError::Offset};
    if (limits.max_transfer != 0 && length > limits.max_transfer)
        return Err{PrpError::TooLarge};
    if (length > ~uint64_t(0) - first_offset)
        return Err{PrpError::PageCount};
    uint64_t end = first_offset + length;
    uint64_t page_count = end / page_size + ((end & page_mask) != 0 ? 1 : 0);
    if (pages.size() != page_count)
        return Err{PrpError::PageCount};
    for (uint64_t page : pages)
        if (page == 0 || (page & page_mask) != 0)
            return Err{PrpError::BadPage};

    Prps prps;
    prps.pointer.prp1 = pages[0] + first_offset;
    if (page_count == 1)
        return prps;
    if (page_count == 2) {
        prps.pointer.prp2 = pages[1];
        return prps;
    }

    size_t needed = prp_list_pages_needed(page_count, page_size);
    if (list_pages.size() < needed)
        return Err{PrpError::ListPages};
    for (size_t i = 0; i < needed; ++i) {
        const PrpListPage& list = list_pages[i];
        if (list.entries == nullptr || list.device_address == 0 ||
            (list.device_address & page_mask) != 0)
            return Err{PrpError::BadListPage};
    }

    // Nothing below can fail.
    size_t per_page = page_size / prp_entry_size;
    size_t list = 0;
    size_t slot = 0;
    for (size_t i = 1; i < page_count; ++i) {
        bool more_after_this = i + 1 < page_count;
        if (slot == per_page - 1 && more_after_this) {
            list_pages[list].entries[slot] = list_pages[list + 1].device_address;
            ++list;
            slot = 0;
        }
        list_pages[list].entries[slot++] = pages[i];
    }
    prps.pointer.prp2 = list_pages[0].device_address;
    prps.list_pages_used = needed;
    return prps;
}

Result<ContiguousPages, PrpError> contiguous_pages(uint64_t address, uint64_t length,
                                                   uint32_t page_size, std::span<uint64_t> pages) {
    if (!valid_page_size(page_size))
        return Err{PrpError::PageSize};
    if (length == 0)
        return Err{PrpError::EmptyTransfer};
    if (address == 0 || length - 1 > ~uint64_t(0) - address)
        return Err{PrpError::BadPage};
    uint64_t first_page = address & ~uint64_t(page_size - 1);
    uint64_t last_page = (address + (length - 1)) & ~uint64_t(page_size - 1);
    uint64_t count = (last_page - first_page) / page_size + 1;
    if (count > pages.size())
        return Err{PrpError::PageCount};
    for (uint64_t i = 0; i < count; ++i)
        pages[i] = first_page + i * page_size;
    return ContiguousPages{uint32_t(address - first_page), size_t(count)};
}

} // namespace capos::nvme
