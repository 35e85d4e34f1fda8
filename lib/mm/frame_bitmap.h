// Physical frame bookkeeping: one bit per 4 KiB frame, set while the frame is used
// or reserved. The bitmap owns no memory; the kernel hands it storage sized with
// storage_words_for() and fills it from the firmware memory map with mark_free() and
// mark_used(). Not thread-safe: the caller serialises every call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lib/base/result.h"

namespace capos {

enum class FrameError : uint8_t {
    OutOfFrames,     // no free frame (or no free run of the requested shape)
    OutOfRange,      // the address or range lies outside the covered frames
    NotAllocated,    // freeing a frame that is already free (double free)
    Misaligned,      // the address is not frame-aligned
    InvalidArgument, // zero count, or an alignment that is not a power of two
};

const char* to_string(FrameError error);

class FrameBitmap {
public:
    static constexpr uint64_t frame_size = 4096;

    // Number of uint64_t words init() needs to cover frame_count frames.
    static constexpr size_t storage_words_for(uint64_t frame_count) {
        return static_cast<size_t>(frame_count / 64 + (frame_count % 64 != 0 ? 1 : 0));
    }

    // Covers physical frames [0, frame_count), backed by storage, which the bitmap
    // borrows for its lifetime. Every frame starts used (reserved). If storage is
    // shorter than storage_words_for(frame_count), only the frames it can describe
    // are covered; frame_count() tells how many.
    void init(std::span<uint64_t> storage, uint64_t frame_count);

    // Byte ranges [phys_base, phys_base + length). mark_free() rounds inward to whole
    // frames (a partly usable frame stays reserved), mark_used() rounds outward. Both
    // clamp to the covered frames and are idempotent, so overlapping firmware map
    // entries are harmless: apply every usable range, then every reserved one.
    void mark_free(uint64_t phys_base, uint64_t length);
    void mark_used(uint64_t phys_base, uint64_t length);

    // Physical address of the lowest free frame, now used, from the preferred
    // start up (prefer_from) while any is free there, else below it.
    // OutOfFrames when none is free. Amortised fast: full words below the
    // search hints are never rescanned.
    Result<uint64_t, FrameError> allocate();
    // Frames below `phys` (rounded down to 64 frames) are handed out by
    // allocate() only when every frame from there up is used. For frames that
    // cost more to reach (capOS: those the kernel's direct map must map with
    // small pages). allocate_contiguous() still takes the lowest fitting run.
    void prefer_from(uint64_t phys);

    // Physical address of count consecutive frames, now used, whose first frame
    // number is a multiple of align_frames (a power of two; 1 for no alignment).
    // InvalidArgument for a zero count or a bad alignment; OutOfFrames when no such
    // run is free. The lowest fitting run is chosen.
    Result<uint64_t, FrameError> allocate_contiguous(uint64_t count, uint64_t align_frames);

    // Returns one used frame. Misaligned, OutOfRange, or NotAllocated (already free);
    // on error nothing changes.
    Result<void, FrameError> free(uint64_t phys);

    // Returns count consecutive used frames starting at phys. Checks the whole run
    // first (InvalidArgument for count 0, then as free()); on error nothing changes.
    Result<void, FrameError> free_contiguous(uint64_t phys, uint64_t count);

    // Whether the frame holding phys is free; false outside the covered range.
    bool is_free(uint64_t phys) const;

    uint64_t free_count() const { return m_free_count; }
    uint64_t frame_count() const { return m_frame_count; }

private:
    bool test(uint64_t frame) const { return (m_words[frame / 64] >> (frame % 64)) & 1; }
    // Set or clear the bits of frames [first, end); return how many changed.
    uint64_t set_range(uint64_t first, uint64_t end);
    uint64_t clear_range(uint64_t first, uint64_t end);
    // First frame >= from and < end whose bit is clear (free) / set (used); end if none.
    uint64_t find_free(uint64_t from, uint64_t end) const;
    uint64_t find_used(uint64_t from, uint64_t end) const;

    std::span<uint64_t> m_words;
    uint64_t m_frame_count = 0;
    uint64_t m_free_count = 0;
    // Every word below m_hint is full; allocate_contiguous() starts there.
    size_t m_hint = 0;
    // The word prefer_from() named, and where allocate() starts looking from
    // it up: every word in [m_preferred, m_upper_hint) is full.
    size_t m_preferred = 0;
    size_t m_upper_hint = 0;
    // Frames in words [first, last] became free.
    void freed_in(size_t first, size_t last) {
        if (first < m_hint)
            m_hint = first;
        size_t upper = first > m_preferred ? first : m_preferred;
        if (last >= m_preferred && upper < m_upper_hint)
            m_upper_hint = upper;
    }
};

} // namespace capos
