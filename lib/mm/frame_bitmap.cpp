#include "lib/mm/frame_bitmap.h"

#include <algorithm>
#include <bit>

namespace capos {

namespace {

constexpr uint64_t all_ones = ~uint64_t{0};

// Bits [bit, bit + count) of a word; count in 1..64 and bit + count <= 64.
constexpr uint64_t bit_mask(unsigned bit, unsigned count) {
    return count == 64 ? all_ones : ((uint64_t{1} << count) - 1) << bit;
}

// a + b, or the largest uint64_t when that overflows.
constexpr uint64_t saturating_add(uint64_t a, uint64_t b) {
    return b > all_ones - a ? all_ones : a + b;
}

} // namespace

const char* to_string(FrameError error) {
    switch (error) {
    case FrameError::OutOfFrames:
        return "out of frames";
    case FrameError::OutOfRange:
        return "frame out of range";
    case FrameError::NotAllocated:
        return "frame not allocated";
    case FrameError::Misaligned:
        return "address not frame-aligned";
    case FrameError::InvalidArgument:
        return "invalid argument";
    }
    return "unknown frame error";
}

void FrameBitmap::init(std::span<uint64_t> storage, uint64_t frame_count) {
    size_t words = storage_words_for(frame_count);
    if (storage.size() < words) {
        words = storage.size();
        frame_count = static_cast<uint64_t>(words) * 64;
    }
    m_words = storage.first(words);
    m_frame_count = frame_count;
    m_free_count = 0;
    m_hint = 0;
    m_preferred = 0;
    m_upper_hint = 0;
    // Bits past frame_count in the last word stay set forever, so whole-word scans
    // never see them as free.
    for (uint64_t& word : m_words)
        word = all_ones;
}

uint64_t FrameBitmap::set_range(uint64_t first, uint64_t end) {
    uint64_t changed = 0;
    while (first < end) {
        size_t word = first / 64;
        unsigned bit = first % 64;
        unsigned count = static_cast<unsigned>(end - first < 64 - bit ? end - first : 64 - bit);
        uint64_t mask = bit_mask(bit, count);
        changed += std::popcount(mask & ~m_words[word]);
        m_words[word] |= mask;
        first += count;
    }
    return changed;
}

uint64_t FrameBitmap::clear_range(uint64_t first, uint64_t end) {
    uint64_t changed = 0;
    while (first < end) {
        size_t word = first / 64;
        unsigned bit = first % 64;
        unsigned count = static_cast<unsigned>(end - first < 64 - bit ? end - first : 64 - bit);
        uint64_t mask = bit_mask(bit, count);
        changed += std::popcount(mask & m_words[word]);
        m_words[word] &= ~mask;
        first += count;
    }
    return changed;
}

uint64_t FrameBitmap::find_free(uint64_t from, uint64_t end) const {
    while (from < end) {
        size_t word = from / 64;
        uint64_t free_bits = ~m_words[word] & (all_ones << (from % 64));
        if (free_bits != 0) {
            uint64_t frame = static_cast<uint64_t>(word) * 64 + std::countr_zero(free_bits);
            return frame < end ? frame : end;
        }
        from = (static_cast<uint64_t>(word) + 1) * 64;
    }
    return end;
}

uint64_t FrameBitmap::find_used(uint64_t from, uint64_t end) const {
    while (from < end) {
        size_t word = from / 64;
        uint64_t used_bits = m_words[word] & (all_ones << (from % 64));
        if (used_bits != 0) {
            uint64_t frame = static_cast<uint64_t>(word) * 64 + std::countr_zero(used_bits);
            return frame < end ? frame : end;
        }
        from = (static_cast<uint64_t>(word) + 1) * 64;
    }
    return end;
}

void FrameBitmap::mark_free(uint64_t phys_base, uint64_t length) {
    uint64_t first = phys_base / frame_size + (phys_base % frame_size != 0 ? 1 : 0);
    uint64_t end = saturating_add(phys_base, length) / frame_size;
    if (end > m_frame_count)
        end = m_frame_count;
    if (first >= end)
        return;
    m_free_count += clear_range(first, end);
    freed_in(static_cast<size_t>(first / 64), static_cast<size_t>((end - 1) / 64));
}

void FrameBitmap::mark_used(uint64_t phys_base, uint64_t length) {
    if (length == 0)
        return;
    uint64_t first = phys_base / frame_size;
    uint64_t end_byte = saturating_add(phys_base, length);
    uint64_t end = end_byte / frame_size + (end_byte % frame_size != 0 ? 1 : 0);
    if (end > m_frame_count)
        end = m_frame_count;
    if (first >= end)
        return;
    m_free_count -= set_range(first, end);
}

Result<uint64_t, FrameError> FrameBitmap::allocate() {
    if (m_free_count == 0)
        return Err{FrameError::OutOfFrames};
    auto take = [&](size_t word) {
        unsigned bit = static_cast<unsigned>(std::countr_one(m_words[word]));
        m_words[word] |= uint64_t{1} << bit;
        --m_free_count;
        return (static_cast<uint64_t>(word) * 64 + bit) * frame_size;
    };
    for (size_t word = std::max(m_upper_hint, m_preferred); word < m_words.size(); ++word) {
        if (m_words[word] == all_ones)
            continue;
        // Every word below it is full too when m_hint is at or above the
        // preferred start (the words between are of the upper part).
        if (m_hint >= m_preferred)
            m_hint = word;
        m_upper_hint = word;
        return take(word);
    }
    // Nothing free from the preferred start up: below it.
    for (size_t word = m_hint; word < std::min(m_preferred, m_words.size()); ++word) {
        if (m_words[word] == all_ones)
            continue;
        m_hint = word;
        return take(word);
    }
    // Unreachable while m_free_count matches the bits.
    return Err{FrameError::OutOfFrames};
}

void FrameBitmap::prefer_from(uint64_t phys) {
    m_preferred = static_cast<size_t>(std::min<uint64_t>(phys / frame_size / 64, m_words.size()));
    m_upper_hint = m_preferred;
}

Result<uint64_t, FrameError> FrameBitmap::allocate_contiguous(uint64_t count,
                                                              uint64_t align_frames) {
    if (count == 0 || !std::has_single_bit(align_frames))
        return Err{FrameError::InvalidArgument};
    if (count > m_free_count)
        return Err{FrameError::OutOfFrames};
    // Every frame below the hint word is used, so start there. Each round either
    // finds the run or moves the candidate past a used frame.
    uint64_t candidate = find_free(static_cast<uint64_t>(m_hint) * 64, m_frame_count);
    for (;;) {
        if (candidate >= m_frame_count)
            return Err{FrameError::OutOfFrames};
        uint64_t misalignment = candidate & (align_frames - 1);
        if (misalignment != 0) {
            if (align_frames - misalignment >= m_frame_count - candidate)
                return Err{FrameError::OutOfFrames};
            candidate += align_frames - misalignment;
        }
        if (count > m_frame_count - candidate)
            return Err{FrameError::OutOfFrames};
        uint64_t used = find_used(candidate, candidate + count);
        if (used == candidate + count)
            break;
        candidate = find_free(used + 1, m_frame_count);
    }
    set_range(candidate, candidate + count);
    m_free_count -= count;
    return candidate * frame_size;
}

Result<void, FrameError> FrameBitmap::free(uint64_t phys) {
    if (phys % frame_size != 0)
        return Err{FrameError::Misaligned};
    uint64_t frame = phys / frame_size;
    if (frame >= m_frame_count)
        return Err{FrameError::OutOfRange};
    if (!test(frame))
        return Err{FrameError::NotAllocated};
    m_words[frame / 64] &= ~(uint64_t{1} << (frame % 64));
    ++m_free_count;
    freed_in(static_cast<size_t>(frame / 64), static_cast<size_t>(frame / 64));
    return {};
}

Result<void, FrameError> FrameBitmap::free_contiguous(uint64_t phys, uint64_t count) {
    if (count == 0)
        return Err{FrameError::InvalidArgument};
    if (phys % frame_size != 0)
        return Err{FrameError::Misaligned};
    uint64_t frame = phys / frame_size;
    if (frame >= m_frame_count || count > m_frame_count - frame)
        return Err{FrameError::OutOfRange};
    if (find_free(frame, frame + count) != frame + count)
        return Err{FrameError::NotAllocated};
    clear_range(frame, frame + count);
    m_free_count += count;
    freed_in(static_cast<size_t>(frame / 64), static_cast<size_t>((frame + count - 1) / 64));
    return {};
}

bool FrameBitmap::is_free(uint64_t phys) const {
    uint64_t frame = phys / frame_size;
    return frame < m_frame_count && !test(frame);
}

} // namespace capos
