// The kernel's own mappings: the direct map of physical memory, the image with
// per-section permissions, and the heap and stack regions.
#pragma once

#include "kernel/mm/page_tables.h"
#include <cstddef>

namespace capos::kernel {

// Builds the kernel page tables and switches to them. The boot tables' identity
// map disappears: from here on, null and low addresses fault.
void kernel_map_init();

PageTables& kernel_page_tables();

// True when every byte of [virt, virt+length) is mapped in the active tables
// at a kernel (upper-half) address. Safe before kernel_map_init.
bool kernel_range_is_mapped(uint64_t virt, size_t length);

// Backs [virt, virt + pages * page_size) with fresh zeroed frames. On failure
// nothing stays mapped and every frame taken is returned.
Result<void, MapError> map_fresh_pages(uint64_t virt, size_t pages, Access access);

// Unmaps pages mapped by map_fresh_pages and frees their frames, and the
// page tables that mapped nothing else.
void unmap_and_free_pages(uint64_t virt, size_t pages);

// Maps `length` bytes of device registers at physical `phys` (uncached,
// read-write, never executable) and returns their kernel address.
Result<uint64_t, MapError> map_mmio(uint64_t phys, size_t length);

// Section bounds of the kernel image (virtual addresses).
struct KernelSections {
    uint64_t text_start, text_end;
    uint64_t rodata_start, rodata_end;
    uint64_t data_start, data_end;
};
KernelSections kernel_sections();

} // namespace capos::kernel
