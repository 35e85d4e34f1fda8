// The kernel's half of every address space (x86_64, 4-level paging).
//
//   0xFFFFFF4000000000  device registers (uncached), mapped on request
//   0xFFFFFF8000000000  direct map of physical memory (the first 510 GiB)
//   0xFFFFFFFF80000000  kernel image (text, rodata, data, bss) at physical + this
//   (the image's end)   kernel heap, grown a few pages at a time
//   0xFFFFFFFFB0000000  kernel stacks, each between unmapped guard pages
//
// Everything a kernel entry touches lies under the last top-level entry
// (PML4 slot 511), and the image, the heap and the stacks in one gigabyte of
// it, the heap's first pages under the image's page table, so few page-table
// pages map them all: an entry's page walks touch fewer table pages after an
// address-space switch (under QEMU each costs a refill, docs/performance.md).
//
// The lower half (below 0x0000800000000000) belongs to user processes.
#pragma once

#include <cstdint>

namespace capos::kernel {

inline constexpr uint64_t page_size = 4096;
inline constexpr uint64_t large_page_size = 2 * 1024 * 1024;

inline constexpr uint64_t direct_map_base = 0xFFFFFF8000000000;
// The kernel's half starts here (the first address above user space's hole).
inline constexpr uint64_t kernel_half_base = 0xFFFF800000000000;
inline constexpr uint64_t kernel_mmio_base = 0xFFFFFF4000000000;
inline constexpr uint64_t kernel_mmio_limit = 0xFFFFFF8000000000;
inline constexpr uint64_t kernel_image_base = 0xFFFFFFFF80000000;
// Physical memory above the direct map's reach is not used.
inline constexpr uint64_t direct_map_limit = kernel_image_base;
inline constexpr uint64_t max_physical_memory = direct_map_limit - direct_map_base; // 510 GiB
// The image takes at most 128 MiB; the heap starts at its end
// (kernel_sections().data_end) and reaches up to the stacks.
inline constexpr uint64_t kernel_image_limit = 0xFFFFFFFF88000000;
inline constexpr uint64_t kernel_heap_limit = 0xFFFFFFFFB0000000;
inline constexpr uint64_t kernel_stacks_base = kernel_heap_limit;
inline constexpr uint64_t kernel_stacks_limit = 0xFFFFFFFFC0000000; // 256 MiB
// The gigabyte the image, the heap and the stacks share.
static_assert(kernel_image_base >> 30 == (kernel_stacks_limit - 1) >> 30);
// One top-level entry for the direct map and the image's gigabyte.
static_assert(direct_map_base >> 39 == (kernel_stacks_limit - 1) >> 39);
static_assert(kernel_mmio_limit <= direct_map_base);

inline uint64_t phys_to_virt(uint64_t phys) {
    return direct_map_base + phys;
}
template <typename T>
T* phys_to_ptr(uint64_t phys) {
    return reinterpret_cast<T*>(phys_to_virt(phys));
}

constexpr uint64_t align_down(uint64_t value, uint64_t alignment) {
    return value & ~(alignment - 1);
}
constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

} // namespace capos::kernel
