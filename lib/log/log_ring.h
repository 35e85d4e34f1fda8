// The kernel log kept for reading back (LogReader): every entry logged, with
// its sequence number, time, level, source and message, in a ring of words
// the owner provides, the oldest overwritten to make room; and the one form of
// a log line on a screen (format_line), which the kernel's console and the
// shell's `log` share.
//
// Pure logic: nothing allocates and nothing locks (the owner serialises every
// call; the kernel holds its log lock). Each operation takes time bounded by
// the storage's size: an append overwrites at most the records its own size
// needs, a read walks at most every record kept.
//
// Sequence numbers count every entry ever appended, from 0, consecutively. The
// ring keeps those from first_sequence() to next_sequence() - 1. A reader
// holds a cursor (the sequence it wants next); entries overwritten before it
// read them are counted as dropped, and it continues from the oldest kept.
//
// Layout. An entry is a record of whole words, never split at the storage's
// end:
//   word 0: message length (bits 0-15), source length (16-23), level (24-39)
//   word 1: time in nanoseconds
//   then the source's bytes and the message's, back to back, to a whole word.
// A record that would not fit before the end leaves a skip word (all ones)
// there and starts again at word 0. Positions are free-running word counters;
// the word of position p is p % capacity.
#pragma once

#include "schema/capos.capnp.capos.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::log {

using Level = schema::LogLevel;

// The source of the kernel's own entries (a process's are "name[id]").
inline constexpr std::string_view kernel_source = "kernel";

struct Entry {
    uint64_t sequence;
    uint64_t time_ns; // since boot
    Level level;
    std::string_view source;
    std::string_view message;
};

// Whether an entry at `level` passes a filter at `min_level`: it is that level
// or more severe (the schema lists the levels most severe first).
constexpr bool passes(Level level, Level min_level) {
    return static_cast<uint16_t>(level) <= static_cast<uint16_t>(min_level);
}

struct ReadOutcome {
    uint64_t next_cursor; // the sequence after the last entry examined
    uint64_t dropped;     // entries from the cursor on that were overwritten
};

class LogRing {
public:
    // Longer sources and messages are cut (at a whole UTF-8 character). The
    // longest message is LogSink's (schema maxMessage); a source is a process
    // name (maxProcessName) and its id.
    static constexpr size_t max_source_bytes = 48;
    static constexpr size_t max_message_bytes = schema::LogSink::max_message;
    static constexpr size_t header_words = 2;
    static constexpr size_t max_record_words =
        header_words + (max_source_bytes + max_message_bytes + 7) / 8;
    // A storage smaller than this keeps nothing (every entry is dropped at
    // once); one smaller than max_record_words cuts messages to fit it.
    static constexpr size_t min_storage_words = header_words + 1;

    constexpr explicit LogRing(std::span<uint64_t> storage)
        : m_words(storage.data()),
          m_capacity(storage.size() >= min_storage_words ? storage.size() : 0) {}
    LogRing(const LogRing&) = delete;
    LogRing& operator=(const LogRing&) = delete;

    // Appends one entry, overwriting the oldest ones as needed. Its sequence is
    // what next_sequence() said before.
    void append(uint64_t time_ns, Level level, std::string_view source, std::string_view message);

    uint64_t first_sequence() const { return m_first_sequence; }
    uint64_t next_sequence() const { return m_next_sequence; }

    // Reads from `cursor` on: `visit(const Entry&)` is called on each entry at
    // `min_level` or more severe, oldest first, until it returns false (the
    // entry was not taken: the next read starts with it), `max_entries` were
    // taken, or the newest entry was examined. Entries below the level are
    // examined and skipped. A cursor before the oldest entry kept reads from
    // that entry and counts the ones in between as dropped; a cursor past the
    // newest reads nothing and moves to next_sequence(). The entry's texts
    // point into the storage: valid until the next append.
    template <typename Visit>
    ReadOutcome read(uint64_t cursor, uint32_t max_entries, Level min_level, Visit&& visit) const {
        ReadOutcome outcome{cursor, 0};
        if (cursor < m_first_sequence) {
            outcome.dropped = m_first_sequence - cursor;
            outcome.next_cursor = m_first_sequence;
        } else if (cursor > m_next_sequence) {
            outcome.next_cursor = m_next_sequence;
        }
        uint64_t position = position_of(outcome.next_cursor);
        for (uint32_t taken = 0; taken < max_entries && outcome.next_cursor < m_next_sequence;) {
            const Entry entry = entry_at(position, outcome.next_cursor);
            if (passes(entry.level, min_level)) {
                if (!visit(entry))
                    break;
                ++taken;
            }
            ++outcome.next_cursor;
        }
        return outcome;
    }

private:
    static constexpr uint64_t skip_word = ~uint64_t{0};

    // The position of the record of `sequence` (first to next; next gives
    // the tail).
    uint64_t position_of(uint64_t sequence) const;
    // The entry of the record at or after `position` (past a skip word),
    // which has sequence `sequence`; `position` moves past it.
    Entry entry_at(uint64_t& position, uint64_t sequence) const;
    // Overwrites the oldest records until `words` are free.
    void make_room(uint64_t words);
    void drop_oldest();
    uint64_t offset(uint64_t position) const { return position % m_capacity; }

    uint64_t* m_words;
    uint64_t m_capacity; // in words; 0 when the storage is too small
    uint64_t m_head = 0; // position of the oldest record (or skip word)
    uint64_t m_tail = 0; // position of the next record
    uint64_t m_first_sequence = 0;
    uint64_t m_next_sequence = 0;
};

// Writes the console's form of an entry, "[00012.345678] I message" (seconds
// and microseconds since boot, the level's letter E/W/I/D), with "source: "
// before the message unless the kernel wrote it, into `out`, cut at its end.
// Returns the length written (no newline).
size_t format_line(uint64_t time_ns, Level level, std::string_view source, std::string_view message,
                   std::span<char> out);

// The level's letter in a line: E, W, I, D, or ? for one the schema does not name.
char level_letter(Level level);

// `text` cut to at most `limit` bytes without splitting a UTF-8 character
// (how the ring cuts texts).
std::string_view cut_text(std::string_view text, size_t limit);

} // namespace capos::log
