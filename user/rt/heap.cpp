#include "user/rt/heap.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/sync.h"
#include <new>

namespace capos::rt {

namespace {

constexpr size_t page = 4096;
constexpr size_t growth = 64 * 1024;

constinit HeapAllocator g_heap;
size_t g_mapped = 0;
bool g_looked_up = false;
uint32_t g_vm = 0; // the "vm" capability, 0 when the process has none

// Maps at least `bytes` more and gives them to the allocator.
bool grow(size_t bytes) {
    if (!g_looked_up) {
        g_looked_up = true;
        auto found = find_capability("vm");
        if (found.is_ok() && (found.value().interface_id == schema::VirtualMemory::interface_id))
            g_vm = found.value().id.raw;
    }
    if (g_vm == 0)
        return false;
    size_t length = bytes < growth ? growth : (bytes + page - 1) / page * page;
    schema::VirtualMemory::Client<RingTransport> vm(transport(), g_vm);
    auto mapped = vm.map(0, length, schema::Access::ReadWrite);
    if (mapped.is_error())
        return false;
    if (g_heap.add_region(reinterpret_cast<void*>(mapped.value().address()), length).is_error())
        return false;
    g_mapped += length;
    return true;
}

// The heap is the process's, shared by its threads: one at a time.
constinit Mutex g_heap_mutex;

} // namespace

Result<void*, HeapError> allocate(size_t size, size_t alignment) {
    MutexLock lock(g_heap_mutex);
    auto first = g_heap.allocate(size, alignment);
    if (first.is_ok() || first.error() != HeapError::OutOfMemory)
        return first;
    // Room for the block, its alignment slack and the allocator's headers.
    if (size > (size_t(1) << 40) || !grow(size + alignment + 2 * HeapAllocator::min_region_size))
        return Err{HeapError::OutOfMemory};
    return g_heap.allocate(size, alignment);
}

void free(void* pointer) {
    MutexLock lock(g_heap_mutex);
    if (g_heap.deallocate(pointer).is_error())
        panic("heap: free of a pointer the heap did not give out");
}

HeapStats heap_stats() {
    MutexLock lock(g_heap_mutex);
    return {g_heap.bytes_in_use(), g_heap.allocation_count(), g_mapped};
}

} // namespace capos::rt

void* operator new(size_t size, const std::nothrow_t&) noexcept {
    auto memory = capos::rt::allocate(size);
    return memory.is_ok() ? memory.value() : nullptr;
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    auto memory = capos::rt::allocate(size);
    return memory.is_ok() ? memory.value() : nullptr;
}
void operator delete(void* pointer) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete(void* pointer, size_t) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete[](void* pointer) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete[](void* pointer, size_t) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete(void* pointer, const std::nothrow_t&) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
// Over-aligned types (alignas above 16): the heap aligns up to a page.
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    auto memory = capos::rt::allocate(size, static_cast<size_t>(alignment));
    return memory.is_ok() ? memory.value() : nullptr;
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    auto memory = capos::rt::allocate(size, static_cast<size_t>(alignment));
    return memory.is_ok() ? memory.value() : nullptr;
}
void operator delete(void* pointer, std::align_val_t) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete(void* pointer, size_t, std::align_val_t) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete[](void* pointer, std::align_val_t) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
void operator delete[](void* pointer, size_t, std::align_val_t) noexcept {
    if (pointer)
        capos::rt::free(pointer);
}
