#include "kernel/mm/heap.h"
#include "kernel/lib/log.h"
#include "kernel/lib/spinlock.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"

namespace capos::kernel {

namespace {

constexpr size_t initial_pages = 16;
constexpr size_t growth_pages = 16;

constinit SpinLock g_heap_lock;
constinit HeapAllocator g_heap;
// The heap region starts at the kernel image's end (page-aligned), so its
// first pages share the image's page table (kernel/mm/layout.h).
uint64_t g_heap_base = 0;
uint64_t g_heap_end = 0; // first unmapped byte of the heap region

// Maps at least `bytes` more at the end of the heap and hands them over.
Result<void, HeapError> grow_locked(size_t bytes) {
    size_t pages = align_up(bytes, page_size) / page_size;
    if (pages < growth_pages)
        pages = growth_pages;
    if (pages > (kernel_heap_limit - g_heap_end) / page_size)
        return Err{HeapError::OutOfMemory};
    if (map_fresh_pages(g_heap_end, pages, Access::ReadWrite).is_error())
        return Err{HeapError::OutOfMemory};
    auto added = g_heap.add_region(reinterpret_cast<void*>(g_heap_end), pages * page_size);
    if (added.is_error()) {
        unmap_and_free_pages(g_heap_end, pages);
        return added;
    }
    g_heap_end += pages * page_size;
    return {};
}

} // namespace

void heap_init() {
    SpinLockGuard guard(g_heap_lock);
    g_heap_base = g_heap_end = kernel_sections().data_end;
    VERIFY(g_heap_base % page_size == 0 && g_heap_base <= kernel_image_limit);
    if (grow_locked(initial_pages * page_size).is_error())
        panic("heap: cannot map the initial heap");
}

Result<void*, HeapError> heap_allocate(size_t size, size_t alignment) {
    SpinLockGuard guard(g_heap_lock);
    auto first = g_heap.allocate(size, alignment);
    if (first.is_ok() || first.error() != HeapError::OutOfMemory)
        return first;
    // Room for the block, its alignment slack and the allocator's headers.
    if (size > kernel_heap_limit - g_heap_base)
        return Err{HeapError::OutOfMemory};
    TRY(grow_locked(size + alignment + 2 * page_size));
    return g_heap.allocate(size, alignment);
}

void heap_free(void* pointer) {
    SpinLockGuard guard(g_heap_lock);
    auto result = g_heap.deallocate(pointer);
    if (result.is_error())
        panic("heap: bad free of {}: {}", pointer, to_string(result.error()));
}

HeapStats heap_stats() {
    SpinLockGuard guard(g_heap_lock);
    uint64_t pages = (g_heap_end - g_heap_base) / page_size;
    // The heap lies in the gigabyte of the kernel image, whose tables of the
    // levels above exist from boot, and starts under the image's page table:
    // one page table of its own per 2 MiB it reaches past that.
    uint64_t tables =
        (align_up(g_heap_end, large_page_size) - align_up(g_heap_base, large_page_size)) /
        large_page_size;
    return {g_heap.bytes_in_use(), g_heap.bytes_free(), g_heap.allocation_count(),
            g_heap_end - g_heap_base, pages + tables};
}

} // namespace capos::kernel
