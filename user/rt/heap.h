// The process heap: lib/heap's allocator over memory the process maps through
// its VirtualMemory capability (the CapSet entry "vm", looked up on first
// use). A process without one has no heap: every allocation fails with
// OutOfMemory. Allocation failure is a value; operator new(std::nothrow)
// returns null on it (plain `new` does not link, as in the kernel).
#pragma once

#include "lib/base/result.h"
#include "lib/heap/heap.h"
#include <cstddef>

namespace capos::rt {

Result<void*, HeapError> allocate(size_t size, size_t alignment = 16);
// Frees a block from allocate; a pointer the heap never gave out panics.
void free(void* pointer);

struct HeapStats {
    size_t bytes_in_use;
    size_t allocation_count;
    size_t mapped_bytes; // memory the heap has mapped so far
};
HeapStats heap_stats();

} // namespace capos::rt
