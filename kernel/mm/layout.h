// The kernel's half of every address space (x86_64, 4-level paging).
//
//   0xFFFF800000000000  direct map of physical memory (PML4 slot 256)
//   0xFFFFFF4000000000  device registers (uncached), mapped on request
//   0xFFFFFFFF80000000  kernel image (text, rodata, data, bss) at physical + this
//   0xFFFFFFFF88000000  kernel heap, grown a few pages at a time
//   0xFFFFFFFFB0000000  kernel stacks, each between unmapped guard pages
//
// The image, the heap and the stacks share one gigabyte, so one page-table
// page of each upper level maps all three: what a kernel entry touches needs
// fewer table pages walked after an address-space switch (under QEMU each
// costs a refill, docs/performance.md).
//
// The lower half (below 0x0000800000000000) belongs to user processes.
#pragma once

#include <cstdint>

namespace capos::kernel {

inline constexpr uint64_t page_size = 4096;
inline constexpr uint64_t large_page_size = 2 * 1024 * 1024;

inline constexpr uint64_t direct_map_base = 0xFFFF800000000000;
inline constexpr uint64_t direct_map_limit = 0xFFFFC00000000000; // 64 TiB of physical memory
inline constexpr uint64_t kernel_mmio_base = 0xFFFFFF4000000000;
inline constexpr uint64_t kernel_mmio_limit = 0xFFFFFF8000000000;
inline constexpr uint64_t kernel_image_base = 0xFFFFFFFF80000000;
inline constexpr uint64_t kernel_image_limit = 0xFFFFFFFF88000000; // 128 MiB
inline constexpr uint64_t kernel_heap_base = kernel_image_limit;
inline constexpr uint64_t kernel_heap_limit = 0xFFFFFFFFB0000000; // 640 MiB
inline constexpr uint64_t kernel_stacks_base = kernel_heap_limit;
inline constexpr uint64_t kernel_stacks_limit = 0xFFFFFFFFC0000000; // 256 MiB
// The gigabyte the image, the heap and the stacks share.
static_assert(kernel_image_base >> 30 == (kernel_stacks_limit - 1) >> 30);

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
