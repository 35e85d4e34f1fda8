// Lines typed earlier, kept whole: the store behind the line editor's Up and
// Down and the shell's `history`. A line is never cut: one that fits is kept
// as it was given, byte for byte, and one longer than the whole ring is
// refused (push() returns false, nothing changes), so what comes back is
// always a line that was given, or nothing.
//
// Bounded both ways: the text of the lines lives back to back in a ring of
// Bytes bytes, and at most Entries lines are held. To make room, the oldest
// lines are evicted first, as many as it takes; evicted() counts them since
// the start, so that a caller numbering the lines in the order given numbers
// the oldest held evicted() + 1.
//
// A line read back may wrap around the end of the ring: it comes as a Text of
// two pieces, `first` then `second`. Storage is fixed and inside the object;
// nothing allocates. Not thread-safe: the owner serialises every call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::term {

template <size_t Bytes, size_t Entries>
class HistoryRing {
public:
    static_assert(Bytes > 0 && Bytes < 65536, "a line's start and length are 16-bit");
    static_assert(Entries > 0);
    static constexpr size_t capacity_bytes = Bytes;
    static constexpr size_t max_entries = Entries;

    // A line as the ring holds it: `first`, then `second` (empty unless the
    // line wraps around the end of the ring).
    struct Text {
        std::string_view first;
        std::string_view second;

        size_t size() const { return first.size() + second.size(); }
        bool operator==(std::string_view text) const {
            return text.size() == size() && text.substr(0, first.size()) == first &&
                   text.substr(first.size()) == second;
        }
    };

    // Keeps `text` whole as the newest line, evicting the oldest lines until
    // it fits. False, and nothing changes, when `text` is longer than Bytes.
    [[nodiscard]] bool push(std::string_view text) {
        if (text.size() > Bytes)
            return false;
        while (m_count == Entries || m_used + text.size() > Bytes)
            evict_oldest();
        size_t start = m_count == 0 ? 0 : (m_entries[m_first].start + m_used) % Bytes;
        size_t first = text.size();
        if (start + first > Bytes)
            first = Bytes - start;
        __builtin_memcpy(m_text + start, text.data(), first);
        __builtin_memcpy(m_text, text.data() + first, text.size() - first);
        m_entries[(m_first + m_count) % Entries] = {uint16_t(start), uint16_t(text.size())};
        ++m_count;
        m_used += text.size();
        return true;
    }

    // Lines held, the bytes of text they hold, lines evicted since the start.
    size_t count() const { return m_count; }
    size_t bytes_used() const { return m_used; }
    uint64_t evicted() const { return m_evicted; }

    // The `index`-th oldest line held (0: the oldest); index < count().
    Text oldest(size_t index) const { return text(m_entries[(m_first + index) % Entries]); }
    // The `index`-th newest line held (0: the newest); index < count().
    Text newest(size_t index) const { return oldest(m_count - 1 - index); }

private:
    struct Entry {
        uint16_t start;
        uint16_t length;
    };

    Text text(const Entry& entry) const {
        size_t first = entry.length;
        if (entry.start + first > Bytes)
            first = Bytes - entry.start;
        return {{m_text + entry.start, first}, {m_text, size_t(entry.length) - first}};
    }

    void evict_oldest() {
        m_used -= m_entries[m_first].length;
        m_first = (m_first + 1) % Entries;
        --m_count;
        ++m_evicted;
    }

    char m_text[Bytes];
    Entry m_entries[Entries];
    size_t m_first = 0; // the oldest line's entry
    size_t m_count = 0;
    size_t m_used = 0;
    uint64_t m_evicted = 0;
};

} // namespace capos::term
