// The kernel heap's allocator logic, kept apart from where its memory comes from:
// the allocator owns no memory and only manages the regions handed to it with
// add_region(). It is a boundary-tag allocator: every chunk starts with a header
// carrying its size, its neighbour's size and an address-keyed magic, free chunks
// sit in power-of-two size bins, and freeing coalesces with both neighbours, so a
// heap with nothing allocated is one free chunk per region again.
//
// Frees are checked, not trusted: a pointer that is not the start of a live
// allocation is reported (InvalidPointer, DoubleFree) and the heap is left as it was.
// The check is strong but not perfect: a stale pointer whose memory was handed out
// again at the same address cannot be told apart from the new owner's.
//
// Not thread-safe: the caller serialises every call (the kernel holds the heap lock).
// Constant-initialisable, so a global instance needs no constructor to run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/base/result.h"

namespace capos {

namespace detail {
struct HeapChunk;
struct HeapRegion;
} // namespace detail

enum class HeapError : uint8_t {
    OutOfMemory,      // no free chunk is large enough
    InvalidSize,      // zero-byte allocation, or a region too small or wrapping around
    InvalidAlignment, // alignment not a power of two or above max_alignment; misaligned base
    InvalidPointer,   // not an allocation this heap handed out, or a region overlapping one
    DoubleFree,       // the allocation was already freed
};

const char* to_string(HeapError error);

class HeapAllocator {
public:
    // Bytes of bookkeeping in front of every allocation.
    static constexpr size_t chunk_header_size = 32;
    // Bytes of bookkeeping at the start of a region (plus one chunk header at its end).
    static constexpr size_t region_header_size = 32;
    // Smallest chunk: a header plus the free-list links a free chunk keeps in its payload.
    static constexpr size_t min_chunk_size = 48;
    // The smallest region add_region() accepts.
    static constexpr size_t min_region_size =
        region_header_size + min_chunk_size + chunk_header_size;
    // Every allocation is aligned to at least this, and at most to max_alignment.
    static constexpr size_t min_alignment = 16;
    static constexpr size_t max_alignment = 4096;

    // Gives [base, base + size) to the allocator, which uses it until the allocator
    // is discarded. base must be 16-aligned (InvalidAlignment); size is rounded down
    // to a multiple of 16 and must be at least min_region_size (InvalidSize); the
    // range must not wrap or overlap a region already given (InvalidSize,
    // InvalidPointer). A range starting exactly where an earlier region ends extends
    // that region, so memory freed at its end coalesces across the seam: the kernel
    // grows the heap this way.
    Result<void, HeapError> add_region(void* base, size_t size);

    // size bytes aligned to align (a power of two <= max_alignment; smaller values
    // mean min_alignment). InvalidSize for size 0, InvalidAlignment for a bad align,
    // OutOfMemory when no free chunk fits.
    Result<void*, HeapError> allocate(size_t size, size_t align = min_alignment);

    // Returns an allocation. InvalidPointer for anything that is not a live
    // allocation of this heap, DoubleFree for one already returned; either way the
    // heap is unchanged.
    Result<void, HeapError> deallocate(void* ptr);

    // Bytes held by live allocations, counting each one's chunk (header, padding).
    size_t bytes_in_use() const { return m_bytes_in_use; }
    // Bytes in free chunks, headers included. With one region and nothing
    // allocated, the largest possible allocation is bytes_free() - chunk_header_size.
    size_t bytes_free() const { return m_bytes_free; }
    size_t allocation_count() const { return m_allocation_count; }

    // Walks every region and free list and checks the heap's invariants: chunk
    // chains tile each region, neighbour sizes agree, no two free chunks touch, the
    // bins hold exactly the free chunks, and the counters match. O(heap size); for
    // tests and debug self-checks.
    bool verify() const;

private:
    using Chunk = detail::HeapChunk;
    using Region = detail::HeapRegion;
    static constexpr size_t bin_count = 64;

    void insert_free(Chunk* chunk);
    void remove_free(Chunk* chunk);
    // Marks chunk free, merges it with free neighbours, and bins the result.
    void release(Chunk* chunk);
    // The region whose chunks contain address, or null.
    const Region* region_containing(uintptr_t address) const;
    // The live allocation whose payload starts at ptr, or why there is none.
    Result<Chunk*, HeapError> validate(void* ptr) const;

    Region* m_regions = nullptr;
    Chunk* m_bins[bin_count] = {};
    uint64_t m_nonempty_bins = 0; // bit b set iff m_bins[b] is non-empty
    size_t m_bytes_in_use = 0;
    size_t m_bytes_free = 0;
    size_t m_allocation_count = 0;
};

} // namespace capos
