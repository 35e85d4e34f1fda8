#include "lib/heap/heap.h"

#include <bit>
#include <cstddef>
#include <new>

namespace capos {

// Layout of a region of size S at address R:
//   [R, R+32)               Region header
//   [R+32, R+S-32)          chunks, each 16-aligned, tiling the range exactly
//   [R+S-32, R+S)           end sentinel: a header of kind End, never free
// A chunk's tag is its kind's magic xor its own address, so a header copied or left
// behind elsewhere does not validate. Headers swallowed by coalescing get the Dead
// magic, which makes a second free of them a reported DoubleFree.
namespace detail {

struct HeapChunk {
    uint64_t tag;
    uint64_t size;      // bytes of the whole chunk, header included; multiple of 16
    uint64_t prev_size; // size of the chunk just below; 0 for a region's first chunk
    uint64_t reserved;
    // Only while the chunk is free; they live in what is otherwise the payload.
    HeapChunk* next_free;
    HeapChunk* prev_free;
};

struct HeapRegion {
    HeapRegion* next;
    uintptr_t end; // one past the end sentinel
    uint64_t reserved[2];
};

} // namespace detail

static_assert(sizeof(detail::HeapChunk) == HeapAllocator::min_chunk_size);
static_assert(offsetof(detail::HeapChunk, next_free) == HeapAllocator::chunk_header_size);
static_assert(sizeof(detail::HeapRegion) == HeapAllocator::region_header_size);
static_assert(HeapAllocator::chunk_header_size % HeapAllocator::min_alignment == 0);
static_assert(HeapAllocator::min_chunk_size % HeapAllocator::min_alignment == 0);

namespace {

using Chunk = detail::HeapChunk;

constexpr uint64_t magic_in_use = 0xc4a7'05a1'10ca'7ed0;
constexpr uint64_t magic_free = 0xc4a7'05f4'eec4'a7f0;
constexpr uint64_t magic_dead = 0xc4a7'05de'adc4'a7d0;
constexpr uint64_t magic_end = 0xc4a7'05e2'd0f4'ea70;

// Requests above this cannot be satisfied and would overflow the size arithmetic.
constexpr size_t max_request = ~size_t{0} / 4;

constexpr uintptr_t align_up(uintptr_t value, uintptr_t align) {
    return (value + align - 1) & ~(align - 1);
}

// Free chunks of sizes [2^b, 2^(b+1)) live in bin b.
constexpr size_t bin_for(size_t size) {
    return static_cast<size_t>(std::bit_width(size)) - 1;
}

uintptr_t address_of(const void* pointer) {
    return reinterpret_cast<uintptr_t>(pointer);
}

Chunk* chunk_at(uintptr_t address) {
    return reinterpret_cast<Chunk*>(address);
}

uint64_t tag_for(uint64_t magic, const Chunk* chunk) {
    return magic ^ address_of(chunk);
}

bool has_kind(const Chunk* chunk, uint64_t magic) {
    return chunk->tag == tag_for(magic, chunk);
}

bool is_live_header(const Chunk* chunk) {
    return has_kind(chunk, magic_in_use) || has_kind(chunk, magic_free) ||
           has_kind(chunk, magic_end);
}

Chunk* next_chunk(const Chunk* chunk) {
    return chunk_at(address_of(chunk) + chunk->size);
}

Chunk* prev_chunk(const Chunk* chunk) {
    return chunk_at(address_of(chunk) - chunk->prev_size);
}

Chunk* make_chunk(uintptr_t address, uint64_t magic, uint64_t size, uint64_t prev_size) {
    Chunk* chunk = new (reinterpret_cast<void*>(address)) Chunk;
    chunk->tag = tag_for(magic, chunk);
    chunk->size = size;
    chunk->prev_size = prev_size;
    chunk->reserved = 0;
    return chunk;
}

} // namespace

const char* to_string(HeapError error) {
    switch (error) {
    case HeapError::OutOfMemory:
        return "out of memory";
    case HeapError::InvalidSize:
        return "invalid size";
    case HeapError::InvalidAlignment:
        return "invalid alignment";
    case HeapError::InvalidPointer:
        return "invalid pointer";
    case HeapError::DoubleFree:
        return "double free";
    }
    return "unknown heap error";
}

void HeapAllocator::insert_free(Chunk* chunk) {
    chunk->tag = tag_for(magic_free, chunk);
    size_t bin = bin_for(chunk->size);
    chunk->prev_free = nullptr;
    chunk->next_free = m_bins[bin];
    if (chunk->next_free != nullptr)
        chunk->next_free->prev_free = chunk;
    m_bins[bin] = chunk;
    m_nonempty_bins |= uint64_t{1} << bin;
    m_bytes_free += chunk->size;
}

void HeapAllocator::remove_free(Chunk* chunk) {
    size_t bin = bin_for(chunk->size);
    if (chunk->prev_free != nullptr)
        chunk->prev_free->next_free = chunk->next_free;
    else
        m_bins[bin] = chunk->next_free;
    if (chunk->next_free != nullptr)
        chunk->next_free->prev_free = chunk->prev_free;
    if (m_bins[bin] == nullptr)
        m_nonempty_bins &= ~(uint64_t{1} << bin);
    m_bytes_free -= chunk->size;
}

void HeapAllocator::release(Chunk* chunk) {
    Chunk* next = next_chunk(chunk);
    if (has_kind(next, magic_free)) {
        remove_free(next);
        chunk->size += next->size;
        next->tag = tag_for(magic_dead, next);
    }
    if (chunk->prev_size != 0) {
        Chunk* prev = prev_chunk(chunk);
        if (has_kind(prev, magic_free)) {
            remove_free(prev);
            prev->size += chunk->size;
            chunk->tag = tag_for(magic_dead, chunk);
            chunk = prev;
        }
    }
    next_chunk(chunk)->prev_size = chunk->size;
    insert_free(chunk);
}

Result<void, HeapError> HeapAllocator::add_region(void* base, size_t size) {
    uintptr_t start = address_of(base);
    if (base == nullptr)
        return Err{HeapError::InvalidPointer};
    if (start % min_alignment != 0)
        return Err{HeapError::InvalidAlignment};
    size &= ~(min_alignment - 1);
    if (size < min_region_size || size > ~uintptr_t{0} - start)
        return Err{HeapError::InvalidSize};
    uintptr_t end = start + size;
    for (const Region* region = m_regions; region != nullptr; region = region->next) {
        if (start < region->end && address_of(region) < end)
            return Err{HeapError::InvalidPointer};
    }

    for (Region* region = m_regions; region != nullptr; region = region->next) {
        if (region->end != start)
            continue;
        // Growth: the old end sentinel becomes the header of a chunk spanning the
        // new range, and a new sentinel closes the region.
        Chunk* old_end = chunk_at(region->end - chunk_header_size);
        Chunk* grown = make_chunk(address_of(old_end), magic_in_use, size, old_end->prev_size);
        make_chunk(end - chunk_header_size, magic_end, chunk_header_size, size);
        region->end = end;
        release(grown);
        return {};
    }

    Region* region = new (base) Region;
    region->next = m_regions;
    region->end = end;
    region->reserved[0] = region->reserved[1] = 0;
    size_t first_size = size - region_header_size - chunk_header_size;
    Chunk* first = make_chunk(start + region_header_size, magic_free, first_size, 0);
    make_chunk(end - chunk_header_size, magic_end, chunk_header_size, first_size);
    m_regions = region;
    insert_free(first);
    return {};
}

Result<void*, HeapError> HeapAllocator::allocate(size_t size, size_t align) {
    if (size == 0)
        return Err{HeapError::InvalidSize};
    if (!std::has_single_bit(align) || align > max_alignment)
        return Err{HeapError::InvalidAlignment};
    if (align < min_alignment)
        align = min_alignment;
    if (size > max_request)
        return Err{HeapError::OutOfMemory};
    size_t needed = align_up(size, min_alignment) + chunk_header_size;
    if (needed < min_chunk_size)
        needed = min_chunk_size;

    // First fit, searching bins from the needed size class upwards. In a higher
    // bin every chunk is large enough unless the alignment costs extra, so the
    // first chunk there almost always fits. The needed size's own bin may hold
    // many chunks too small for it (a bin spans sizes up to twice its
    // smallest): a few of them are tried first, then the higher bins, and
    // only when those have nothing the rest of the own bin, so that a
    // fragmented bin does not make every allocation walk it.
    Chunk* found = nullptr;
    uintptr_t payload = 0;
    auto fits = [&](Chunk* chunk) {
        uintptr_t unaligned = address_of(chunk) + chunk_header_size;
        uintptr_t aligned = align_up(unaligned, align);
        // A gap below the payload must be large enough to become a free chunk.
        if (aligned != unaligned && aligned - unaligned < min_chunk_size)
            aligned = align_up(unaligned + min_chunk_size, align);
        if (aligned - unaligned + needed > chunk->size)
            return false;
        found = chunk;
        payload = aligned;
        return true;
    };
    constexpr size_t own_bin_tries = 8;
    size_t own = bin_for(needed);
    Chunk* rest_of_own = m_bins[own];
    for (size_t tried = 0; rest_of_own != nullptr && tried < own_bin_tries; ++tried) {
        if (fits(rest_of_own))
            break;
        rest_of_own = rest_of_own->next_free;
    }
    uint64_t candidates = m_nonempty_bins & (~uint64_t{0} << own) & ~(uint64_t{1} << own);
    while (found == nullptr && candidates != 0) {
        size_t bin = static_cast<size_t>(std::countr_zero(candidates));
        candidates &= candidates - 1;
        for (Chunk* chunk = m_bins[bin]; chunk != nullptr; chunk = chunk->next_free)
            if (fits(chunk))
                break;
    }
    for (; found == nullptr && rest_of_own != nullptr; rest_of_own = rest_of_own->next_free)
        if (fits(rest_of_own))
            break;
    if (found == nullptr)
        return Err{HeapError::OutOfMemory};

    remove_free(found);
    Chunk* chunk = found;
    uintptr_t start = payload - chunk_header_size;
    if (start != address_of(chunk)) {
        // Split off the alignment gap as a free chunk of its own. Its lower
        // neighbour is not free (free chunks never touch), so no merge is needed.
        size_t gap = start - address_of(chunk);
        chunk = make_chunk(start, magic_in_use, found->size - gap, gap);
        found->size = gap;
        insert_free(found);
    }
    size_t rest = chunk->size - needed;
    if (rest >= min_chunk_size) {
        // Split off the tail; its upper neighbour is not free either.
        chunk->size = needed;
        Chunk* tail = make_chunk(address_of(chunk) + needed, magic_free, rest, needed);
        next_chunk(tail)->prev_size = rest;
        insert_free(tail);
    } else {
        next_chunk(chunk)->prev_size = chunk->size;
    }
    chunk->tag = tag_for(magic_in_use, chunk);
    m_bytes_in_use += chunk->size;
    ++m_allocation_count;
    return reinterpret_cast<void*>(payload);
}

const HeapAllocator::Region* HeapAllocator::region_containing(uintptr_t address) const {
    for (const Region* region = m_regions; region != nullptr; region = region->next) {
        if (address >= address_of(region) + region_header_size && address < region->end)
            return region;
    }
    return nullptr;
}

Result<HeapAllocator::Chunk*, HeapError> HeapAllocator::validate(void* ptr) const {
    uintptr_t payload = address_of(ptr);
    if (payload % min_alignment != 0 || payload < chunk_header_size)
        return Err{HeapError::InvalidPointer};
    uintptr_t start = payload - chunk_header_size;
    const Region* region = region_containing(start);
    if (region == nullptr)
        return Err{HeapError::InvalidPointer};
    uintptr_t first = address_of(region) + region_header_size;
    uintptr_t sentinel = region->end - chunk_header_size;
    if (start >= sentinel)
        return Err{HeapError::InvalidPointer};

    Chunk* chunk = chunk_at(start);
    if (has_kind(chunk, magic_free) || has_kind(chunk, magic_dead))
        return Err{HeapError::DoubleFree};
    if (!has_kind(chunk, magic_in_use))
        return Err{HeapError::InvalidPointer};

    // The magic matched; also require the neighbours to agree before trusting the
    // sizes, so a forged or corrupted header is never followed outside the region.
    if (chunk->size % min_alignment != 0 || chunk->size < min_chunk_size ||
        chunk->size > sentinel - start)
        return Err{HeapError::InvalidPointer};
    Chunk* next = next_chunk(chunk);
    if (!is_live_header(next) || next->prev_size != chunk->size)
        return Err{HeapError::InvalidPointer};
    if (chunk->prev_size == 0) {
        if (start != first)
            return Err{HeapError::InvalidPointer};
    } else {
        if (chunk->prev_size % min_alignment != 0 || chunk->prev_size > start - first)
            return Err{HeapError::InvalidPointer};
        Chunk* prev = prev_chunk(chunk);
        if (!is_live_header(prev) || has_kind(prev, magic_end) || prev->size != chunk->prev_size)
            return Err{HeapError::InvalidPointer};
    }
    return chunk;
}

Result<void, HeapError> HeapAllocator::deallocate(void* ptr) {
    Chunk* chunk = TRY(validate(ptr));
    m_bytes_in_use -= chunk->size;
    --m_allocation_count;
    release(chunk);
    return {};
}

bool HeapAllocator::verify() const {
    size_t in_use = 0;
    size_t free = 0;
    size_t allocations = 0;
    size_t free_chunks = 0;
    for (const Region* region = m_regions; region != nullptr; region = region->next) {
        uintptr_t sentinel = region->end - chunk_header_size;
        uintptr_t address = address_of(region) + region_header_size;
        uint64_t prev_size = 0;
        bool prev_free = false;
        while (address < sentinel) {
            const Chunk* chunk = chunk_at(address);
            if (chunk->prev_size != prev_size || chunk->size < min_chunk_size ||
                chunk->size % min_alignment != 0 || chunk->size > sentinel - address)
                return false;
            if (has_kind(chunk, magic_free)) {
                if (prev_free)
                    return false;
                free += chunk->size;
                ++free_chunks;
                prev_free = true;
            } else if (has_kind(chunk, magic_in_use)) {
                in_use += chunk->size;
                ++allocations;
                prev_free = false;
            } else {
                return false;
            }
            prev_size = chunk->size;
            address += chunk->size;
        }
        const Chunk* end = chunk_at(sentinel);
        if (address != sentinel || !has_kind(end, magic_end) || end->prev_size != prev_size ||
            end->size != chunk_header_size)
            return false;
    }

    size_t binned = 0;
    for (size_t bin = 0; bin < bin_count; ++bin) {
        bool nonempty = (m_nonempty_bins >> bin) & 1;
        if (nonempty != (m_bins[bin] != nullptr))
            return false;
        const Chunk* prev = nullptr;
        for (const Chunk* chunk = m_bins[bin]; chunk != nullptr; chunk = chunk->next_free) {
            if (!has_kind(chunk, magic_free) || bin_for(chunk->size) != bin ||
                chunk->prev_free != prev || ++binned > free_chunks)
                return false;
            prev = chunk;
        }
    }
    return binned == free_chunks && in_use == m_bytes_in_use && free == m_bytes_free &&
           allocations == m_allocation_count;
}

} // namespace capos
