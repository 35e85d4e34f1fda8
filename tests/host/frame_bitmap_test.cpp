// Host tests for lib/mm/frame_bitmap: range marking, allocation order, error
// reporting, contiguous runs, and a randomised comparison against a plain model.
#include "lib/mm/frame_bitmap.h"

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace capos {
namespace {

constexpr uint64_t page = FrameBitmap::frame_size;

// The kernel keeps its bitmap in a global; it must need no constructor.
constinit FrameBitmap g_constant_initialised;

// A bitmap with its own storage.
class Frames {
public:
    explicit Frames(uint64_t frame_count)
        : m_storage(FrameBitmap::storage_words_for(frame_count) + 1, 0xdeadbeef) {
        m_bitmap.init(std::span(m_storage).first(FrameBitmap::storage_words_for(frame_count)),
                      frame_count);
    }
    FrameBitmap* operator->() { return &m_bitmap; }
    FrameBitmap& operator*() { return m_bitmap; }
    // The word past the bitmap's storage, which it must never touch.
    uint64_t guard() const { return m_storage.back(); }

private:
    std::vector<uint64_t> m_storage;
    FrameBitmap m_bitmap;
};

uint64_t count_free(FrameBitmap& bitmap) {
    uint64_t count = 0;
    for (uint64_t frame = 0; frame < bitmap.frame_count(); ++frame)
        count += bitmap.is_free(frame * page) ? 1 : 0;
    return count;
}

TEST(FrameBitmap, StorageWordsFor) {
    EXPECT_EQ(FrameBitmap::storage_words_for(0), 0u);
    EXPECT_EQ(FrameBitmap::storage_words_for(1), 1u);
    EXPECT_EQ(FrameBitmap::storage_words_for(64), 1u);
    EXPECT_EQ(FrameBitmap::storage_words_for(65), 2u);
    EXPECT_EQ(FrameBitmap::storage_words_for(std::numeric_limits<uint64_t>::max()),
              uint64_t{1} << 58);
    static_assert(FrameBitmap::storage_words_for(128) == 2);
}

TEST(FrameBitmap, DefaultIsEmpty) {
    EXPECT_EQ(g_constant_initialised.frame_count(), 0u);
    EXPECT_EQ(g_constant_initialised.free_count(), 0u);
    EXPECT_FALSE(g_constant_initialised.is_free(0));
}

TEST(FrameBitmap, InitReservesEverything) {
    Frames frames(1000);
    EXPECT_EQ(frames->frame_count(), 1000u);
    EXPECT_EQ(frames->free_count(), 0u);
    EXPECT_EQ(count_free(*frames), 0u);
    auto allocated = frames->allocate();
    ASSERT_TRUE(allocated.is_error());
    EXPECT_EQ(allocated.error(), FrameError::OutOfFrames);
}

TEST(FrameBitmap, ShortStorageCoversWhatItCan) {
    std::vector<uint64_t> storage(2);
    FrameBitmap bitmap;
    bitmap.init(storage, 1000);
    EXPECT_EQ(bitmap.frame_count(), 128u);
    bitmap.mark_free(0, 1000 * page);
    EXPECT_EQ(bitmap.free_count(), 128u);
}

TEST(FrameBitmap, MarkFreeRoundsInward) {
    Frames frames(16);
    // Bytes [0x1800, 0x4800): only frames 2 and 3 lie wholly inside.
    frames->mark_free(0x1800, 0x3000);
    EXPECT_EQ(frames->free_count(), 2u);
    EXPECT_FALSE(frames->is_free(0x1000));
    EXPECT_TRUE(frames->is_free(0x2000));
    EXPECT_TRUE(frames->is_free(0x3fff));
    EXPECT_FALSE(frames->is_free(0x4000));
    // A range inside one frame frees nothing.
    frames->mark_free(0x5001, 0xffe);
    EXPECT_EQ(frames->free_count(), 2u);
    frames->mark_free(0x5000, 0);
    EXPECT_EQ(frames->free_count(), 2u);
}

TEST(FrameBitmap, MarkUsedRoundsOutward) {
    Frames frames(16);
    frames->mark_free(0, 10 * page);
    EXPECT_EQ(frames->free_count(), 10u);
    // Bytes [0x1800, 0x2800) touch frames 1 and 2.
    frames->mark_used(0x1800, 0x1000);
    EXPECT_EQ(frames->free_count(), 8u);
    EXPECT_TRUE(frames->is_free(0));
    EXPECT_FALSE(frames->is_free(0x1000));
    EXPECT_FALSE(frames->is_free(0x2000));
    EXPECT_TRUE(frames->is_free(0x3000));
    // One byte reserves its whole frame; zero bytes reserve nothing.
    frames->mark_used(0x5fff, 1);
    EXPECT_FALSE(frames->is_free(0x5000));
    frames->mark_used(0x7800, 0);
    EXPECT_TRUE(frames->is_free(0x7000));
    EXPECT_EQ(frames->free_count(), 7u);
    EXPECT_EQ(count_free(*frames), 7u);
}

TEST(FrameBitmap, MarkingIsIdempotent) {
    Frames frames(300);
    frames->mark_free(0, 200 * page);
    frames->mark_free(100 * page, 150 * page);
    EXPECT_EQ(frames->free_count(), 250u);
    frames->mark_used(50 * page, 10 * page);
    frames->mark_used(55 * page, 10 * page);
    EXPECT_EQ(frames->free_count(), 235u);
    EXPECT_EQ(count_free(*frames), 235u);
}

TEST(FrameBitmap, RangesBeyondTheEndAreClamped) {
    Frames frames(100);
    constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
    frames->mark_free(0, max);
    EXPECT_EQ(frames->free_count(), 100u);
    frames->mark_used(50 * page, max);
    EXPECT_EQ(frames->free_count(), 50u);
    frames->mark_free(max - page, max);
    frames->mark_free(1000 * page, 10 * page);
    EXPECT_EQ(frames->free_count(), 50u);
    frames->mark_used(max - 10, 100);
    EXPECT_EQ(frames->free_count(), 50u);
    EXPECT_FALSE(frames->is_free(100 * page));
    EXPECT_FALSE(frames->is_free(max));
    EXPECT_EQ(count_free(*frames), 50u);
    EXPECT_EQ(frames.guard(), 0xdeadbeefu);
}

TEST(FrameBitmap, AllocatesLowestFirstUntilExhausted) {
    // 130 frames: two full words and a partial one.
    Frames frames(130);
    frames->mark_free(0, 130 * page);
    for (uint64_t frame = 0; frame < 130; ++frame) {
        auto allocated = frames->allocate();
        ASSERT_TRUE(allocated.is_ok()) << frame;
        EXPECT_EQ(allocated.value(), frame * page);
        EXPECT_FALSE(frames->is_free(frame * page));
    }
    EXPECT_EQ(frames->free_count(), 0u);
    auto exhausted = frames->allocate();
    ASSERT_TRUE(exhausted.is_error());
    EXPECT_EQ(exhausted.error(), FrameError::OutOfFrames);
    EXPECT_EQ(frames.guard(), 0xdeadbeefu);

    // A freed frame is the next one handed out, even below the search hint.
    ASSERT_TRUE(frames->free(5 * page).is_ok());
    ASSERT_TRUE(frames->free(129 * page).is_ok());
    EXPECT_EQ(frames->free_count(), 2u);
    EXPECT_EQ(frames->allocate().value(), 5 * page);
    EXPECT_EQ(frames->allocate().value(), 129 * page);
    EXPECT_TRUE(frames->allocate().is_error());
}

TEST(FrameBitmap, SkipsReservedFrames) {
    Frames frames(256);
    frames->mark_free(200 * page, 10 * page);
    EXPECT_EQ(frames->allocate().value(), 200 * page);
    frames->mark_free(3 * page, page);
    EXPECT_EQ(frames->allocate().value(), 3 * page);
    EXPECT_EQ(frames->allocate().value(), 201 * page);
}

TEST(FrameBitmap, FreeReportsErrors) {
    Frames frames(64);
    frames->mark_free(0, 64 * page);
    uint64_t phys = frames->allocate().value();
    EXPECT_EQ(frames->free(phys + 1).error(), FrameError::Misaligned);
    EXPECT_EQ(frames->free(64 * page).error(), FrameError::OutOfRange);
    EXPECT_EQ(frames->free(1u << 30).error(), FrameError::OutOfRange);
    ASSERT_TRUE(frames->free(phys).is_ok());
    uint64_t before = frames->free_count();
    EXPECT_EQ(frames->free(phys).error(), FrameError::NotAllocated); // double free
    EXPECT_EQ(frames->free(10 * page).error(), FrameError::NotAllocated);
    EXPECT_EQ(frames->free_count(), before);
}

TEST(FrameBitmap, FreeingReservedFrameIsNotAllowedTwice) {
    Frames frames(8);
    // Reserved frames count as used; the kernel may release them once.
    ASSERT_TRUE(frames->free(2 * page).is_ok());
    EXPECT_EQ(frames->free_count(), 1u);
    EXPECT_EQ(frames->free(2 * page).error(), FrameError::NotAllocated);
}

TEST(FrameBitmap, ContiguousHonoursAlignment) {
    Frames frames(256);
    frames->mark_free(0, 256 * page);
    EXPECT_EQ(frames->allocate().value(), 0u);
    auto four = frames->allocate_contiguous(4, 4);
    ASSERT_TRUE(four.is_ok());
    EXPECT_EQ(four.value(), 4 * page);
    auto sixteen = frames->allocate_contiguous(16, 16);
    ASSERT_TRUE(sixteen.is_ok());
    EXPECT_EQ(sixteen.value(), 16 * page);
    auto unaligned = frames->allocate_contiguous(3, 1);
    ASSERT_TRUE(unaligned.is_ok());
    EXPECT_EQ(unaligned.value(), 1 * page);
    auto big = frames->allocate_contiguous(100, 64);
    ASSERT_TRUE(big.is_ok());
    EXPECT_EQ(big.value(), 64 * page);
    EXPECT_EQ(frames->free_count(), 256u - 1 - 4 - 16 - 3 - 100);
    for (uint64_t frame = 64; frame < 164; ++frame)
        EXPECT_FALSE(frames->is_free(frame * page));
    EXPECT_TRUE(frames->is_free(164 * page));
    EXPECT_EQ(count_free(*frames), frames->free_count());

    // Free: [8, 16), [32, 64), [164, 256). No 128-aligned run of 64 exists.
    EXPECT_EQ(frames->allocate_contiguous(64, 128).error(), FrameError::OutOfFrames);
    EXPECT_EQ(frames->allocate_contiguous(92, 1).value(), 164 * page);
    EXPECT_EQ(frames->allocate_contiguous(1, 1).value(), 8 * page);
}

TEST(FrameBitmap, ContiguousRejectsBadArguments) {
    Frames frames(128);
    frames->mark_free(page, 127 * page);
    EXPECT_EQ(frames->allocate_contiguous(0, 1).error(), FrameError::InvalidArgument);
    EXPECT_EQ(frames->allocate_contiguous(1, 0).error(), FrameError::InvalidArgument);
    EXPECT_EQ(frames->allocate_contiguous(1, 3).error(), FrameError::InvalidArgument);
    EXPECT_EQ(frames->allocate_contiguous(128, 1).error(), FrameError::OutOfFrames);
    // Frame 0 is reserved, and no other multiple of 256 is covered.
    EXPECT_EQ(frames->allocate_contiguous(1, 256).error(), FrameError::OutOfFrames);
    EXPECT_EQ(frames->allocate_contiguous(1, uint64_t{1} << 63).error(), FrameError::OutOfFrames);
    EXPECT_EQ(frames->allocate_contiguous(127, 1).value(), page);
    EXPECT_EQ(frames->free_count(), 0u);
}

TEST(FrameBitmap, FreeContiguousChecksTheWholeRunFirst) {
    Frames frames(64);
    frames->mark_free(0, 64 * page);
    uint64_t run = frames->allocate_contiguous(8, 8).value();
    EXPECT_EQ(run, 0u);
    EXPECT_EQ(frames->free_contiguous(run, 0).error(), FrameError::InvalidArgument);
    EXPECT_EQ(frames->free_contiguous(run + 8, 8).error(), FrameError::Misaligned);
    EXPECT_EQ(frames->free_contiguous(60 * page, 8).error(), FrameError::OutOfRange);
    EXPECT_EQ(frames->free_contiguous(run, std::numeric_limits<uint64_t>::max()).error(),
              FrameError::OutOfRange);
    // One frame of the run already free: nothing changes.
    ASSERT_TRUE(frames->free(3 * page).is_ok());
    uint64_t before = frames->free_count();
    EXPECT_EQ(frames->free_contiguous(run, 8).error(), FrameError::NotAllocated);
    EXPECT_EQ(frames->free_count(), before);
    EXPECT_FALSE(frames->is_free(0));
    ASSERT_TRUE(frames->free_contiguous(run, 3).is_ok());
    ASSERT_TRUE(frames->free_contiguous(4 * page, 4).is_ok());
    EXPECT_EQ(frames->free_count(), 64u);
    EXPECT_EQ(frames->free_contiguous(run, 8).error(), FrameError::NotAllocated);
}

TEST(FrameBitmap, ErrorsHaveNames) {
    for (FrameError error :
         {FrameError::OutOfFrames, FrameError::OutOfRange, FrameError::NotAllocated,
          FrameError::Misaligned, FrameError::InvalidArgument})
        EXPECT_STRNE(to_string(error), "unknown frame error");
}

// Random operations against a vector<bool> model, including the lowest-fit rule
// for contiguous runs: allocate() takes the lowest free frame from `preferred`
// (a multiple of 64) up, else the lowest below it.
void check_against_model(uint64_t preferred) {
    constexpr uint64_t frame_count = 1000;
    Frames frames(frame_count);
    if (preferred != 0)
        frames->prefer_from(preferred * page);
    std::vector<bool> used(frame_count, true);
    std::mt19937_64 random(12345);
    auto model_free_count = [&] {
        uint64_t count = 0;
        for (bool u : used)
            count += u ? 0 : 1;
        return count;
    };
    for (int step = 0; step < 20000; ++step) {
        uint64_t frame = random() % frame_count;
        uint64_t length = random() % 40 + 1;
        switch (random() % 6) {
        case 0: // free a range of whole frames
            frames->mark_free(frame * page, length * page);
            for (uint64_t f = frame; f < frame + length && f < frame_count; ++f)
                used[f] = false;
            break;
        case 1: // reserve a range
            frames->mark_used(frame * page, length * page);
            for (uint64_t f = frame; f < frame + length && f < frame_count; ++f)
                used[f] = true;
            break;
        case 2: { // single allocation: lowest free frame, from `preferred` first
            auto allocated = frames->allocate();
            uint64_t expected = preferred;
            while (expected < frame_count && used[expected])
                ++expected;
            if (expected >= frame_count) {
                expected = 0;
                while (expected < frame_count && used[expected])
                    ++expected;
            }
            if (expected == frame_count) {
                ASSERT_TRUE(allocated.is_error());
            } else {
                ASSERT_TRUE(allocated.is_ok());
                ASSERT_EQ(allocated.value(), expected * page);
                used[expected] = true;
            }
            break;
        }
        case 3: { // contiguous allocation: lowest aligned fitting run
            uint64_t align = uint64_t{1} << (random() % 5);
            uint64_t count = random() % 8 + 1;
            uint64_t expected = frame_count;
            for (uint64_t start = 0; start + count <= frame_count; start += align) {
                bool fits = true;
                for (uint64_t f = start; f < start + count; ++f)
                    fits = fits && !used[f];
                if (fits) {
                    expected = start;
                    break;
                }
            }
            auto allocated = frames->allocate_contiguous(count, align);
            if (expected == frame_count) {
                ASSERT_TRUE(allocated.is_error());
                ASSERT_EQ(allocated.error(), FrameError::OutOfFrames);
            } else {
                ASSERT_TRUE(allocated.is_ok());
                ASSERT_EQ(allocated.value(), expected * page);
                for (uint64_t f = expected; f < expected + count; ++f)
                    used[f] = true;
            }
            break;
        }
        case 4: { // single free
            auto freed = frames->free(frame * page);
            if (used[frame]) {
                ASSERT_TRUE(freed.is_ok());
                used[frame] = false;
            } else {
                ASSERT_EQ(freed.error(), FrameError::NotAllocated);
            }
            break;
        }
        case 5: { // contiguous free
            auto freed = frames->free_contiguous(frame * page, length);
            bool in_range = frame + length <= frame_count;
            bool all_used = in_range;
            for (uint64_t f = frame; in_range && f < frame + length; ++f)
                all_used = all_used && used[f];
            if (!in_range) {
                ASSERT_EQ(freed.error(), FrameError::OutOfRange);
            } else if (!all_used) {
                ASSERT_EQ(freed.error(), FrameError::NotAllocated);
            } else {
                ASSERT_TRUE(freed.is_ok());
                for (uint64_t f = frame; f < frame + length; ++f)
                    used[f] = false;
            }
            break;
        }
        }
        ASSERT_EQ(frames->free_count(), model_free_count()) << "step " << step;
        if (step % 1000 == 0) {
            for (uint64_t f = 0; f < frame_count; ++f)
                ASSERT_EQ(frames->is_free(f * page), !used[f]) << "frame " << f;
        }
    }
    EXPECT_EQ(frames.guard(), 0xdeadbeefu);
}

TEST(FrameBitmap, MatchesModelUnderRandomOperations) {
    check_against_model(0);
}

TEST(FrameBitmap, MatchesModelWithAPreferredStart) {
    check_against_model(320);
}

TEST(FrameBitmap, PrefersFramesFromItsStart) {
    Frames frames(256);
    frames->mark_free(0, 256 * page);
    frames->prefer_from(128 * page);
    for (uint64_t f = 128; f < 256; ++f)
        ASSERT_EQ(frames->allocate().value(), f * page);
    // The preferred part used up: below it, lowest first.
    EXPECT_EQ(frames->allocate().value(), 0u);
    EXPECT_EQ(frames->allocate().value(), 1u * page);
    // A frame freed from the preferred part up goes out before the rest below.
    ASSERT_TRUE(frames->free(200 * page).is_ok());
    EXPECT_EQ(frames->allocate().value(), 200u * page);
    EXPECT_EQ(frames->allocate().value(), 2u * page);
    // Contiguous runs are still the lowest that fit.
    EXPECT_EQ(frames->allocate_contiguous(2, 1).value(), 3u * page);
}

} // namespace
} // namespace capos
