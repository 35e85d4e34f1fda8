// The kernel heap: lib/heap/heap.h's allocator over a virtual region that grows
// on demand by mapping fresh frames. Allocation failure is a value, never an
// exception; operator new(nothrow) returns null on it.
#pragma once

#include "lib/base/result.h"
#include "lib/heap/heap.h"
#include <cstddef>

namespace capos::kernel {

void heap_init();

Result<void*, HeapError> heap_allocate(size_t size, size_t alignment = 16);
// Frees a heap block; a pointer the heap never gave out is a kernel bug and panics.
void heap_free(void* pointer);

struct HeapStats {
    size_t bytes_in_use;
    size_t bytes_free;
    size_t allocation_count;
    size_t mapped_bytes;
    // Frames the heap holds: its pages and the page tables that map them. The
    // heap never shrinks, so these stay with it once it has grown.
    size_t footprint_frames;
};
HeapStats heap_stats();

// Typed allocation without exceptions: heap_create<T>(args...) constructs a T
// in heap memory, or returns the heap's error.
template <typename T, typename... Args>
Result<T*, HeapError> heap_create(Args&&... args) {
    void* memory = TRY(heap_allocate(sizeof(T), alignof(T) < 16 ? 16 : alignof(T)));
    return new (memory) T(static_cast<Args&&>(args)...);
}

template <typename T>
void heap_destroy(T* object) {
    object->~T();
    heap_free(object);
}

} // namespace capos::kernel
