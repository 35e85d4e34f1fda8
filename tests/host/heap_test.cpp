// Host tests for lib/heap: argument checks, accounting, random allocation against
// a shadow model, detection of bad and double frees, and growth by adjacent regions.
#include "lib/heap/heap.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace capos {
namespace {

constexpr size_t header = HeapAllocator::chunk_header_size;
constexpr size_t region_overhead = HeapAllocator::region_header_size + header;

// The kernel keeps its heap in a global; it must need no constructor.
constinit HeapAllocator g_constant_initialised;

// Page-aligned memory for the allocator to manage.
class Arena {
public:
    explicit Arena(size_t size)
        : m_size(size), m_bytes(new (std::align_val_t{4096}) std::byte[size]) {
        std::memset(m_bytes, 0xa5, size);
    }
    ~Arena() { operator delete[](m_bytes, std::align_val_t{4096}); }
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    std::byte* at(size_t offset) { return m_bytes + offset; }
    size_t size() const { return m_size; }
    bool contains(const void* pointer, size_t length) const {
        auto address = reinterpret_cast<uintptr_t>(pointer);
        auto base = reinterpret_cast<uintptr_t>(m_bytes);
        return address >= base && address + length <= base + m_size;
    }

private:
    size_t m_size;
    std::byte* m_bytes;
};

TEST(Heap, DefaultIsEmpty) {
    EXPECT_EQ(g_constant_initialised.bytes_free(), 0u);
    EXPECT_EQ(g_constant_initialised.bytes_in_use(), 0u);
    EXPECT_EQ(g_constant_initialised.allocation_count(), 0u);
    EXPECT_TRUE(g_constant_initialised.verify());
    HeapAllocator heap;
    EXPECT_EQ(heap.allocate(16).error(), HeapError::OutOfMemory);
    int local = 0;
    EXPECT_EQ(heap.deallocate(&local).error(), HeapError::InvalidPointer);
}

TEST(Heap, AddRegionChecksArguments) {
    Arena arena(8192);
    HeapAllocator heap;
    EXPECT_EQ(heap.add_region(nullptr, 4096).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.add_region(arena.at(8), 4096).error(), HeapError::InvalidAlignment);
    EXPECT_EQ(heap.add_region(arena.at(0), HeapAllocator::min_region_size - 1).error(),
              HeapError::InvalidSize);
    EXPECT_EQ(heap.add_region(arena.at(0), SIZE_MAX).error(), HeapError::InvalidSize);
    ASSERT_TRUE(heap.add_region(arena.at(1024), 1024).is_ok());
    // Overlaps, from below, from above, and covering.
    EXPECT_EQ(heap.add_region(arena.at(512), 528).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.add_region(arena.at(2032), 512).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.add_region(arena.at(0), 4096).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.bytes_free(), 1024 - region_overhead);
    EXPECT_TRUE(heap.verify());
    // Touching from below is not an overlap (and does not merge).
    ASSERT_TRUE(heap.add_region(arena.at(512), 512).is_ok());
    EXPECT_EQ(heap.bytes_free(), 2 * (512 - region_overhead) + 512);
    EXPECT_TRUE(heap.verify());
}

TEST(Heap, SmallestRegionHoldsOneSmallAllocation) {
    Arena arena(4096);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), HeapAllocator::min_region_size).is_ok());
    EXPECT_EQ(heap.bytes_free(), HeapAllocator::min_chunk_size);
    auto allocated = heap.allocate(16);
    ASSERT_TRUE(allocated.is_ok());
    EXPECT_EQ(heap.allocate(1).error(), HeapError::OutOfMemory);
    ASSERT_TRUE(heap.deallocate(allocated.value()).is_ok());
    EXPECT_EQ(heap.allocate(17).error(), HeapError::OutOfMemory);
    EXPECT_TRUE(heap.verify());
}

TEST(Heap, AllocateChecksArguments) {
    Arena arena(65536);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), arena.size()).is_ok());
    EXPECT_EQ(heap.allocate(0).error(), HeapError::InvalidSize);
    EXPECT_EQ(heap.allocate(16, 0).error(), HeapError::InvalidAlignment);
    EXPECT_EQ(heap.allocate(16, 24).error(), HeapError::InvalidAlignment);
    EXPECT_EQ(heap.allocate(16, 8192).error(), HeapError::InvalidAlignment);
    EXPECT_EQ(heap.allocate(SIZE_MAX).error(), HeapError::OutOfMemory);
    EXPECT_EQ(heap.allocate(SIZE_MAX - 8).error(), HeapError::OutOfMemory);
    EXPECT_EQ(heap.allocate(arena.size()).error(), HeapError::OutOfMemory);
    EXPECT_EQ(heap.allocation_count(), 0u);
    EXPECT_TRUE(heap.verify());
    // Small alignments mean the minimum.
    for (size_t align : {1, 2, 4, 8}) {
        void* pointer = heap.allocate(3, align).value();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(pointer) % HeapAllocator::min_alignment, 0u);
        ASSERT_TRUE(heap.deallocate(pointer).is_ok());
    }
}

TEST(Heap, AccountingAndMaximumAllocation) {
    Arena arena(65536);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), arena.size()).is_ok());
    const size_t initial_free = arena.size() - region_overhead;
    EXPECT_EQ(heap.bytes_free(), initial_free);

    void* a = heap.allocate(100).value();
    EXPECT_EQ(heap.bytes_in_use(), 112 + header);
    EXPECT_EQ(heap.bytes_in_use() + heap.bytes_free(), initial_free);
    EXPECT_EQ(heap.allocation_count(), 1u);
    ASSERT_TRUE(heap.deallocate(a).is_ok());
    EXPECT_EQ(heap.bytes_in_use(), 0u);
    EXPECT_EQ(heap.bytes_free(), initial_free);

    void* all = heap.allocate(initial_free - header).value();
    EXPECT_EQ(heap.bytes_free(), 0u);
    EXPECT_EQ(heap.allocate(1).error(), HeapError::OutOfMemory);
    std::memset(all, 0x5a, initial_free - header);
    ASSERT_TRUE(heap.deallocate(all).is_ok());
    EXPECT_EQ(heap.allocate(initial_free - header + 1).error(), HeapError::OutOfMemory);
    EXPECT_TRUE(heap.verify());
}

// A bin holding many chunks too small for a request, and the one that fits
// last in it, with nothing free in any higher bin: the allocation still finds
// it (the allocator tries a few of the bin's chunks, then the higher bins,
// then the rest of the bin).
TEST(Heap, FindsTheFittingChunkBehindManyTooSmallOnesOfItsBin) {
    Arena arena(65536);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), arena.size()).is_ok());
    constexpr size_t small_chunk = 128, fitting_chunk = 240; // both in bin [128, 256)
    std::vector<void*> small, separators;
    for (int i = 0; i < 20; ++i) {
        small.push_back(heap.allocate(small_chunk - header).value());
        separators.push_back(heap.allocate(16).value());
    }
    void* fitting = heap.allocate(fitting_chunk - header).value();
    separators.push_back(heap.allocate(16).value());
    void* rest = heap.allocate(heap.bytes_free() - header).value();
    EXPECT_EQ(heap.bytes_free(), 0u);
    // Freed first, it ends behind the small ones in the bin's list.
    ASSERT_TRUE(heap.deallocate(fitting).is_ok());
    for (void* chunk : small)
        ASSERT_TRUE(heap.deallocate(chunk).is_ok());
    auto found = heap.allocate(fitting_chunk - header);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value(), fitting);
    EXPECT_EQ(heap.allocate(fitting_chunk - header).error(), HeapError::OutOfMemory);
    EXPECT_TRUE(heap.verify());
    for (void* chunk : separators)
        ASSERT_TRUE(heap.deallocate(chunk).is_ok());
    ASSERT_TRUE(heap.deallocate(found.value()).is_ok());
    ASSERT_TRUE(heap.deallocate(rest).is_ok());
    EXPECT_EQ(heap.bytes_in_use(), 0u);
    EXPECT_TRUE(heap.verify());
}

TEST(Heap, LargeAlignmentsAreHonoured) {
    Arena arena(1 << 20);
    HeapAllocator heap;
    // Start just off a page boundary so every alignment costs a gap.
    ASSERT_TRUE(heap.add_region(arena.at(16), arena.size() - 16).is_ok());
    std::vector<void*> pointers;
    for (size_t align = 16; align <= HeapAllocator::max_alignment; align *= 2) {
        for (size_t size : {1, 48, 4096}) {
            void* pointer = heap.allocate(size, align).value();
            EXPECT_EQ(reinterpret_cast<uintptr_t>(pointer) % align, 0u);
            std::memset(pointer, 1, size);
            pointers.push_back(pointer);
            ASSERT_TRUE(heap.verify());
        }
    }
    for (void* pointer : pointers)
        ASSERT_TRUE(heap.deallocate(pointer).is_ok());
    EXPECT_EQ(heap.bytes_in_use(), 0u);
    EXPECT_EQ(heap.bytes_free(), arena.size() - 16 - region_overhead);
    EXPECT_TRUE(heap.verify());
}

TEST(Heap, DetectsPointersItNeverHandedOut) {
    Arena arena(65536);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), arena.size()).is_ok());
    auto* block = static_cast<std::byte*>(heap.allocate(256).value());
    std::memset(block, 0, 256);
    size_t in_use = heap.bytes_in_use();
    size_t free = heap.bytes_free();

    int local = 0;
    EXPECT_EQ(heap.deallocate(nullptr).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(&local).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(block + 1).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(block + 16).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(block + 32).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(block + 128).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(arena.at(0)).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(arena.at(16)).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(arena.at(arena.size() - 16)).error(), HeapError::InvalidPointer);
    EXPECT_EQ(heap.deallocate(arena.at(arena.size())).error(), HeapError::InvalidPointer);
    // A pointer into free space: the magic there belongs to nothing live.
    EXPECT_EQ(heap.deallocate(block + 1024).error(), HeapError::InvalidPointer);

    // A forged header copied from a real one: the magic is keyed by address.
    std::memcpy(block + 64, block - header, header);
    EXPECT_EQ(heap.deallocate(block + 64 + header).error(), HeapError::InvalidPointer);

    EXPECT_EQ(heap.bytes_in_use(), in_use);
    EXPECT_EQ(heap.bytes_free(), free);
    EXPECT_EQ(heap.allocation_count(), 1u);
    EXPECT_TRUE(heap.verify());
    ASSERT_TRUE(heap.deallocate(block).is_ok());
}

TEST(Heap, DetectsDoubleFrees) {
    Arena arena(65536);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), arena.size()).is_ok());
    void* a = heap.allocate(64).value();
    void* b = heap.allocate(64).value();
    void* c = heap.allocate(64).value();
    void* d = heap.allocate(64).value();

    // b alone: its header stays, marked free.
    ASSERT_TRUE(heap.deallocate(b).is_ok());
    EXPECT_EQ(heap.deallocate(b).error(), HeapError::DoubleFree);
    // a swallows b: b's header is left behind marked dead.
    ASSERT_TRUE(heap.deallocate(a).is_ok());
    EXPECT_EQ(heap.deallocate(a).error(), HeapError::DoubleFree);
    EXPECT_EQ(heap.deallocate(b).error(), HeapError::DoubleFree);
    // c is swallowed by the free chunk below it.
    ASSERT_TRUE(heap.deallocate(c).is_ok());
    EXPECT_EQ(heap.deallocate(c).error(), HeapError::DoubleFree);
    // d merges with both sides, leaving one free chunk.
    ASSERT_TRUE(heap.deallocate(d).is_ok());
    EXPECT_EQ(heap.deallocate(d).error(), HeapError::DoubleFree);
    EXPECT_EQ(heap.allocation_count(), 0u);
    EXPECT_EQ(heap.bytes_free(), arena.size() - region_overhead);
    EXPECT_TRUE(heap.verify());
}

TEST(Heap, GrowsByMergingAnAdjacentRegion) {
    constexpr size_t piece = 16384;
    Arena arena(4 * piece);
    HeapAllocator heap;
    ASSERT_TRUE(heap.add_region(arena.at(0), piece).is_ok());
    const size_t first_free = piece - region_overhead;

    // The free chunk at the end absorbs the new range, old sentinel included.
    void* low = heap.allocate(1000).value();
    size_t free_before = heap.bytes_free();
    ASSERT_TRUE(heap.add_region(arena.at(piece), piece).is_ok());
    EXPECT_EQ(heap.bytes_free(), free_before + piece);
    EXPECT_TRUE(heap.verify());

    // With the end allocated, growth starts a new free chunk; freeing the end
    // allocation then merges across the seam.
    void* rest = heap.allocate(heap.bytes_free() - header).value();
    EXPECT_EQ(heap.bytes_free(), 0u);
    ASSERT_TRUE(heap.add_region(arena.at(2 * piece), piece).is_ok());
    EXPECT_EQ(heap.bytes_free(), piece);
    ASSERT_TRUE(heap.deallocate(rest).is_ok());
    ASSERT_TRUE(heap.deallocate(low).is_ok());
    EXPECT_TRUE(heap.verify());
    EXPECT_EQ(heap.bytes_free(), first_free + 2 * piece);

    // Everything is one chunk now: an allocation spanning all three pieces fits.
    void* all = heap.allocate(first_free + 2 * piece - header).value();
    std::memset(all, 0x11, first_free + 2 * piece - header);
    ASSERT_TRUE(heap.deallocate(all).is_ok());

    // A region elsewhere stays separate: no allocation spans the gap.
    Arena other(piece);
    ASSERT_TRUE(heap.add_region(other.at(0), piece).is_ok());
    EXPECT_EQ(heap.allocate(first_free + 2 * piece).error(), HeapError::OutOfMemory);
    void* in_other = heap.allocate(piece - region_overhead - header).value();
    EXPECT_TRUE(other.contains(in_other, piece - region_overhead - header));
    ASSERT_TRUE(heap.deallocate(in_other).is_ok());
    EXPECT_TRUE(heap.verify());
}

TEST(Heap, ErrorsHaveNames) {
    for (HeapError error :
         {HeapError::OutOfMemory, HeapError::InvalidSize, HeapError::InvalidAlignment,
          HeapError::InvalidPointer, HeapError::DoubleFree})
        EXPECT_STRNE(to_string(error), "unknown heap error");
}

// Random allocations and frees checked against a model of live blocks: blocks
// never overlap, stay inside the arena, honour their alignment and keep their
// contents; when everything is freed the heap is one chunk per region again.
void run_random_model(uint64_t seed, size_t regions) {
    constexpr size_t piece = 256 * 1024;
    Arena arena(regions * piece);
    HeapAllocator heap;
    // Adjacent pieces merge into one region as they are added.
    for (size_t i = 0; i < regions; ++i)
        ASSERT_TRUE(heap.add_region(arena.at(i * piece), piece).is_ok());
    const size_t initial_free = heap.bytes_free();
    ASSERT_EQ(initial_free, regions * piece - region_overhead);

    struct Block {
        size_t size;
        uint8_t fill;
    };
    std::map<uintptr_t, Block> live;
    std::mt19937_64 random(seed);
    auto check_contents = [](uintptr_t address, const Block& block) {
        auto* bytes = reinterpret_cast<const uint8_t*>(address);
        for (size_t i = 0; i < block.size; i += 7)
            if (bytes[i] != block.fill)
                return false;
        return bytes[block.size - 1] == block.fill;
    };
    auto free_one = [&](std::map<uintptr_t, Block>::iterator it) {
        ASSERT_TRUE(check_contents(it->first, it->second)) << "block corrupted";
        ASSERT_TRUE(heap.deallocate(reinterpret_cast<void*>(it->first)).is_ok());
        live.erase(it);
    };

    for (int step = 0; step < 20000; ++step) {
        // Drift towards a half-full heap, so both plenty and exhaustion occur.
        unsigned allocate_percent = heap.bytes_in_use() < initial_free / 2 ? 60 : 40;
        bool allocate = live.empty() || random() % 100 < allocate_percent;
        if (allocate) {
            size_t size;
            switch (random() % 10) {
            case 0:
                size = random() % 32768 + 1;
                break;
            case 1:
                size = random() % 16 + 1;
                break;
            default:
                size = random() % 512 + 1;
                break;
            }
            size_t align = random() % 4 == 0 ? size_t{1} << (random() % 13) : 16;
            auto result = heap.allocate(size, align);
            if (result.is_error()) {
                ASSERT_EQ(result.error(), HeapError::OutOfMemory);
                continue;
            }
            auto address = reinterpret_cast<uintptr_t>(result.value());
            ASSERT_EQ(address % align, 0u);
            ASSERT_EQ(address % HeapAllocator::min_alignment, 0u);
            ASSERT_TRUE(arena.contains(result.value(), size));
            auto next = live.lower_bound(address);
            if (next != live.end())
                ASSERT_LE(address + size + header, next->first) << "overlaps the next block";
            if (next != live.begin()) {
                auto prev = std::prev(next);
                ASSERT_LE(prev->first + prev->second.size + header, address)
                    << "overlaps the previous block";
            }
            auto fill = static_cast<uint8_t>(random());
            std::memset(result.value(), fill, size);
            live.emplace(address, Block{size, fill});
        } else {
            auto it = live.begin();
            std::advance(it, static_cast<long>(random() % live.size()));
            free_one(it);
        }
        ASSERT_EQ(heap.allocation_count(), live.size());
        ASSERT_EQ(heap.bytes_in_use() + heap.bytes_free(), initial_free);
        if (step % 500 == 0)
            ASSERT_TRUE(heap.verify()) << "step " << step;
    }

    while (!live.empty()) {
        auto it = live.begin();
        std::advance(it, static_cast<long>(random() % live.size()));
        free_one(it);
    }
    EXPECT_EQ(heap.bytes_in_use(), 0u);
    EXPECT_EQ(heap.allocation_count(), 0u);
    EXPECT_EQ(heap.bytes_free(), initial_free);
    ASSERT_TRUE(heap.verify());
    // Full coalescing: the largest possible block fits again.
    auto all = heap.allocate(initial_free - header);
    ASSERT_TRUE(all.is_ok());
    ASSERT_TRUE(heap.deallocate(all.value()).is_ok());
}

TEST(Heap, RandomAgainstModelOneRegion) {
    run_random_model(1, 1);
}
TEST(Heap, RandomAgainstModelGrownRegion) {
    run_random_model(2, 4);
}
TEST(Heap, RandomAgainstModelOtherSeed) {
    run_random_model(3, 2);
}

} // namespace
} // namespace capos
