// lib/log/log_ring.h: entries read back whole, the level filter, the cursor
// before, at, inside and past what is kept, overwriting with dropped counts,
// records never split at the storage's end, texts cut (at the limits, at a
// whole UTF-8 character, to a small storage), and a randomized run against a
// model that also checks no entry is overwritten before it has to be; and the
// console's line form.
#include "lib/log/log_ring.h"

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace capos::log {
namespace {

struct Kept {
    uint64_t sequence;
    uint64_t time_ns;
    Level level;
    std::string source;
    std::string message;
    bool operator==(const Kept&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Kept& entry) {
    return out << "#" << entry.sequence << " t=" << entry.time_ns << " level " << int(entry.level)
               << " '" << entry.source << "' '" << entry.message << "'";
}

struct Read {
    std::vector<Kept> entries;
    ReadOutcome outcome;
};

Read read(const LogRing& ring, uint64_t cursor, uint32_t max_entries = UINT32_MAX,
          Level min_level = Level::Debug) {
    Read result;
    result.outcome = ring.read(cursor, max_entries, min_level, [&](const Entry& entry) {
        result.entries.push_back({entry.sequence, entry.time_ns, entry.level,
                                  std::string(entry.source), std::string(entry.message)});
        return true;
    });
    return result;
}

// The words a record of these texts takes (the header's layout).
size_t record_words(const std::string& source, const std::string& message) {
    return LogRing::header_words + (source.size() + message.size() + 7) / 8;
}

class LogRingTest : public ::testing::Test {
protected:
    std::vector<uint64_t> storage = std::vector<uint64_t>(1024);
    LogRing ring{storage};
};

TEST_F(LogRingTest, AnEmptyRingReadsNothing) {
    Read all = read(ring, 0);
    EXPECT_TRUE(all.entries.empty());
    EXPECT_EQ(all.outcome.next_cursor, 0u);
    EXPECT_EQ(all.outcome.dropped, 0u);
    EXPECT_EQ(ring.first_sequence(), 0u);
    EXPECT_EQ(ring.next_sequence(), 0u);
}

TEST_F(LogRingTest, EntriesComeBackWhole) {
    ring.append(1500, Level::Info, kernel_source, "boot: hello");
    ring.append(2500, Level::Warn, "shell[3]", "");
    ring.append(3500, Level::Debug, "", "no source");
    Read all = read(ring, 0);
    EXPECT_EQ(all.entries, (std::vector<Kept>{{0, 1500, Level::Info, "kernel", "boot: hello"},
                                              {1, 2500, Level::Warn, "shell[3]", ""},
                                              {2, 3500, Level::Debug, "", "no source"}}));
    EXPECT_EQ(all.outcome.next_cursor, 3u);
    EXPECT_EQ(all.outcome.dropped, 0u);
    EXPECT_EQ(ring.next_sequence(), 3u);
}

TEST_F(LogRingTest, TheFilterPassesTheLevelAndMoreSevere) {
    const Level levels[] = {Level::Debug, Level::Error, Level::Info, Level::Warn, Level::Debug};
    for (Level level : levels)
        ring.append(0, level, kernel_source, "x");
    auto sequences = [&](Level min_level) {
        std::vector<uint64_t> out;
        Read filtered = read(ring, 0, UINT32_MAX, min_level);
        for (const Kept& entry : filtered.entries) {
            EXPECT_TRUE(passes(entry.level, min_level));
            out.push_back(entry.sequence);
        }
        // Every entry was examined, whether it passed or not.
        EXPECT_EQ(filtered.outcome.next_cursor, 5u);
        return out;
    };
    EXPECT_EQ(sequences(Level::Error), (std::vector<uint64_t>{1}));
    EXPECT_EQ(sequences(Level::Warn), (std::vector<uint64_t>{1, 3}));
    EXPECT_EQ(sequences(Level::Info), (std::vector<uint64_t>{1, 2, 3}));
    EXPECT_EQ(sequences(Level::Debug), (std::vector<uint64_t>{0, 1, 2, 3, 4}));
    EXPECT_TRUE(passes(Level::Error, Level::Warn));
    EXPECT_FALSE(passes(Level::Debug, Level::Info));
}

TEST_F(LogRingTest, MaxEntriesStopsAfterTheLastTaken) {
    for (int i = 0; i < 6; ++i)
        ring.append(0, i % 2 == 0 ? Level::Error : Level::Debug, kernel_source, "x");
    // Errors are 0, 2, 4: two of them, and the cursor just after the second.
    Read two = read(ring, 0, 2, Level::Error);
    ASSERT_EQ(two.entries.size(), 2u);
    EXPECT_EQ(two.entries[1].sequence, 2u);
    EXPECT_EQ(two.outcome.next_cursor, 3u);
    Read rest = read(ring, two.outcome.next_cursor, 2, Level::Error);
    ASSERT_EQ(rest.entries.size(), 1u);
    EXPECT_EQ(rest.entries[0].sequence, 4u);
    EXPECT_EQ(rest.outcome.next_cursor, 6u);
    // None asked for: nothing examined.
    Read none = read(ring, 1, 0);
    EXPECT_TRUE(none.entries.empty());
    EXPECT_EQ(none.outcome.next_cursor, 1u);
}

TEST_F(LogRingTest, AnEntryTheVisitorRefusesIsReadNextTime) {
    for (int i = 0; i < 4; ++i)
        ring.append(0, Level::Info, kernel_source, std::string(size_t(i + 1), 'a'));
    int calls = 0;
    ReadOutcome outcome = ring.read(0, 10, Level::Debug, [&](const Entry& entry) {
        ++calls;
        return entry.message.size() < 3; // the third does not "fit"
    });
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(outcome.next_cursor, 2u);
    Read rest = read(ring, outcome.next_cursor);
    ASSERT_EQ(rest.entries.size(), 2u);
    EXPECT_EQ(rest.entries[0].message, "aaa");
}

TEST_F(LogRingTest, CursorsInsideAtAndPastTheEnd) {
    for (int i = 0; i < 5; ++i)
        ring.append(uint64_t(i), Level::Info, kernel_source, std::to_string(i));
    Read middle = read(ring, 3);
    ASSERT_EQ(middle.entries.size(), 2u);
    EXPECT_EQ(middle.entries[0].message, "3");
    EXPECT_EQ(middle.outcome.next_cursor, 5u);
    Read at_end = read(ring, 5);
    EXPECT_TRUE(at_end.entries.empty());
    EXPECT_EQ(at_end.outcome.next_cursor, 5u);
    EXPECT_EQ(at_end.outcome.dropped, 0u);
    Read past = read(ring, UINT64_MAX);
    EXPECT_TRUE(past.entries.empty());
    EXPECT_EQ(past.outcome.next_cursor, 5u);
    EXPECT_EQ(past.outcome.dropped, 0u);
    // An entry appended later is read from the end's cursor.
    ring.append(9, Level::Error, kernel_source, "later");
    Read later = read(ring, at_end.outcome.next_cursor);
    ASSERT_EQ(later.entries.size(), 1u);
    EXPECT_EQ(later.entries[0].sequence, 5u);
    EXPECT_EQ(later.entries[0].message, "later");
}

TEST(LogRing, OldestEntriesAreOverwrittenAndCountedAsDropped) {
    // 4-word records (16 bytes of text) in 12 words: three fit.
    std::vector<uint64_t> storage(12);
    LogRing ring(storage);
    for (int i = 0; i < 5; ++i)
        ring.append(uint64_t(i), Level::Info, "source", "message" + std::to_string(i) + "xx");
    EXPECT_EQ(ring.first_sequence(), 2u);
    EXPECT_EQ(ring.next_sequence(), 5u);
    Read from_start = read(ring, 0);
    EXPECT_EQ(from_start.outcome.dropped, 2u);
    ASSERT_EQ(from_start.entries.size(), 3u);
    EXPECT_EQ(from_start.entries[0], (Kept{2, 2, Level::Info, "source", "message2xx"}));
    EXPECT_EQ(from_start.entries[2], (Kept{4, 4, Level::Info, "source", "message4xx"}));
    EXPECT_EQ(from_start.outcome.next_cursor, 5u);
    // A cursor one short of the oldest drops one; one at it drops none.
    EXPECT_EQ(read(ring, 1).outcome.dropped, 1u);
    EXPECT_EQ(read(ring, 2).outcome.dropped, 0u);
    // Dropped counts only what was lost: with nothing to read, the cursor
    // still moves to the oldest kept.
    Read none = read(ring, 0, 0);
    EXPECT_EQ(none.outcome.dropped, 2u);
    EXPECT_EQ(none.outcome.next_cursor, 2u);
}

TEST(LogRing, RecordsAreNeverSplitAtTheEnd) {
    // 10 words, 4-word records: the third cannot start at word 8, so it
    // starts at 0 (overwriting the first) and words 8-9 are skipped.
    std::vector<uint64_t> storage(10);
    LogRing ring(storage);
    const std::string message(9, 'm'); // "kernel" + 10 bytes: 2 words of text
    ASSERT_EQ(record_words("kernel", message + "0"), 4u);
    ring.append(0, Level::Info, kernel_source, message + "0");
    ring.append(1, Level::Info, kernel_source, message + "1");
    ring.append(2, Level::Info, kernel_source, message + "2");
    Read all = read(ring, 0);
    EXPECT_EQ(all.outcome.dropped, 1u);
    ASSERT_EQ(all.entries.size(), 2u);
    EXPECT_EQ(all.entries[0].message, message + "1");
    EXPECT_EQ(all.entries[1].message, message + "2");
    // The texts lie whole in the storage (a view, not a copy).
    ring.read(2, 1, Level::Debug, [&](const Entry& entry) {
        EXPECT_GE(reinterpret_cast<const uint64_t*>(entry.source.data()), storage.data());
        EXPECT_LE(reinterpret_cast<const uint64_t*>(entry.message.data() + entry.message.size()),
                  storage.data() + storage.size());
        return true;
    });
    // Around again past the skipped words.
    for (int i = 3; i < 9; ++i)
        ring.append(uint64_t(i), Level::Info, kernel_source, message + std::to_string(i));
    Read again = read(ring, 0);
    EXPECT_EQ(again.outcome.dropped, 7u);
    ASSERT_EQ(again.entries.size(), 2u);
    EXPECT_EQ(again.entries[0].message, message + "7");
    EXPECT_EQ(again.entries[1].message, message + "8");
}

TEST(LogRing, ARecordAsLargeAsTheStorageReplacesEverything) {
    std::vector<uint64_t> storage(LogRing::max_record_words);
    LogRing ring(storage);
    ring.append(0, Level::Info, "s", "short");
    ring.append(1, Level::Info, std::string(LogRing::max_source_bytes, 's'),
                std::string(LogRing::max_message_bytes, 'm'));
    Read all = read(ring, 0);
    EXPECT_EQ(all.outcome.dropped, 1u);
    ASSERT_EQ(all.entries.size(), 1u);
    EXPECT_EQ(all.entries[0].message.size(), LogRing::max_message_bytes);
    ring.append(2, Level::Info, "s", "short again");
    all = read(ring, 0);
    EXPECT_EQ(all.outcome.dropped, 2u);
    ASSERT_EQ(all.entries.size(), 1u);
    EXPECT_EQ(all.entries[0].message, "short again");
}

TEST_F(LogRingTest, LongTextsAreCut) {
    ring.append(0, Level::Info, std::string(100, 's'), std::string(2000, 'm'));
    Read all = read(ring, 0);
    ASSERT_EQ(all.entries.size(), 1u);
    EXPECT_EQ(all.entries[0].source, std::string(LogRing::max_source_bytes, 's'));
    EXPECT_EQ(all.entries[0].message, std::string(LogRing::max_message_bytes, 'm'));
    EXPECT_EQ(LogRing::max_message_bytes, size_t{schema::LogSink::max_message});
}

TEST_F(LogRingTest, CutsKeepWholeUtf8Characters) {
    // "é" is two bytes; the limit falls between them.
    std::string message(LogRing::max_message_bytes - 1, 'm');
    message += "\xc3\xa9tail";
    ring.append(0, Level::Info, kernel_source, message);
    Read all = read(ring, 0);
    ASSERT_EQ(all.entries.size(), 1u);
    EXPECT_EQ(all.entries[0].message, std::string(LogRing::max_message_bytes - 1, 'm'));
}

TEST(LogRing, ASmallStorageCutsTextsToFit) {
    std::vector<uint64_t> storage(5); // 3 words of text
    LogRing ring(storage);
    ring.append(7, Level::Warn, "src", "a message longer than the storage holds");
    Read all = read(ring, 0);
    ASSERT_EQ(all.entries.size(), 1u);
    EXPECT_EQ(all.entries[0], (Kept{0, 7, Level::Warn, "src", "a message longer than"}));
    ring.append(8, Level::Warn, std::string(40, 's'), "m");
    all = read(ring, 0);
    ASSERT_EQ(all.entries.size(), 1u);
    EXPECT_EQ(all.entries[0].source, std::string(24, 's'));
    EXPECT_EQ(all.entries[0].message, "");
}

TEST(LogRing, AStorageTooSmallKeepsNothingButCounts) {
    std::vector<uint64_t> storage(LogRing::min_storage_words - 1);
    LogRing ring(storage);
    ring.append(0, Level::Error, kernel_source, "lost");
    ring.append(0, Level::Error, kernel_source, "lost too");
    EXPECT_EQ(ring.first_sequence(), 2u);
    EXPECT_EQ(ring.next_sequence(), 2u);
    Read all = read(ring, 0);
    EXPECT_TRUE(all.entries.empty());
    EXPECT_EQ(all.outcome.dropped, 2u);
    EXPECT_EQ(all.outcome.next_cursor, 2u);
}

// Random texts into a storage of random size, checked after every append
// against the list of everything appended: the ring holds a suffix of it,
// whole and in order, and no more was overwritten than room required (the
// next older entry would not have fitted beside the kept ones, allowing for
// the words skipped at the end, fewer than the record after them).
TEST(LogRing, RandomAppendsMatchAModel) {
    std::mt19937_64 random(20261202);
    for (int round = 0; round < 40; ++round) {
        std::vector<uint64_t> storage(LogRing::max_record_words + random() % 400);
        LogRing ring(storage);
        std::deque<Kept> appended;
        for (uint64_t sequence = 0; sequence < 300; ++sequence) {
            Kept entry{sequence, random(), static_cast<Level>(random() % 4),
                       std::string(random() % 20, char('a' + sequence % 26)),
                       std::string(random() % 3 == 0 ? random() % 600 : random() % 40, 'x')};
            ring.append(entry.time_ns, entry.level, entry.source, entry.message);
            entry.source.resize(std::min(entry.source.size(), LogRing::max_source_bytes));
            entry.message.resize(std::min(entry.message.size(), LogRing::max_message_bytes));
            appended.push_back(entry);

            Read all = read(ring, 0);
            ASSERT_EQ(ring.next_sequence(), sequence + 1);
            ASSERT_EQ(all.outcome.dropped, ring.first_sequence());
            ASSERT_EQ(all.outcome.next_cursor, sequence + 1);
            ASSERT_FALSE(all.entries.empty());
            size_t kept_words = 0;
            size_t largest = 0;
            for (size_t i = 0; i < all.entries.size(); ++i) {
                const Kept& expected = appended[ring.first_sequence() + i];
                ASSERT_EQ(all.entries[i], expected) << "round " << round;
                kept_words += record_words(expected.source, expected.message);
                largest = std::max(largest, record_words(expected.source, expected.message));
            }
            ASSERT_LE(kept_words, storage.size());
            if (ring.first_sequence() > 0) {
                const Kept& older = appended[ring.first_sequence() - 1];
                size_t older_words = record_words(older.source, older.message);
                EXPECT_GT(kept_words + older_words + std::max(largest, older_words), storage.size())
                    << "round " << round << ": entry " << older.sequence << " dropped early";
            }
        }
    }
}

TEST(LogLine, TheConsoleForm) {
    char out[128];
    auto line = [&](uint64_t time_ns, Level level, std::string_view source,
                    std::string_view message, size_t room = sizeof out) {
        return std::string(out, format_line(time_ns, level, source, message, {out, room}));
    };
    EXPECT_EQ(line(1'234'567'890, Level::Info, kernel_source, "boot: hello"),
              "[00001.234567] I boot: hello");
    EXPECT_EQ(line(999, Level::Warn, "shell[3]", "hi"), "[00000.000000] W shell[3]: hi");
    EXPECT_EQ(line(0, Level::Error, "", "x"), "[00000.000000] E : x");
    EXPECT_EQ(line(0, Level::Debug, kernel_source, ""), "[00000.000000] D ");
    EXPECT_EQ(line(0, static_cast<Level>(9), kernel_source, "odd"), "[00000.000000] ? odd");
    // Beyond 99999 seconds the seconds take more digits.
    EXPECT_EQ(line(123'456'000'001'000, Level::Info, kernel_source, "late"),
              "[123456.000001] I late");
    // Cut at the buffer's end.
    EXPECT_EQ(line(0, Level::Info, kernel_source, "truncated", 20), "[00000.000000] I tru");
    EXPECT_EQ(line(0, Level::Info, kernel_source, "none", 0), "");
}

} // namespace
} // namespace capos::log
