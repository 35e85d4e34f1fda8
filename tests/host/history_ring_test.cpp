// lib/term/history_ring.h and the shell's history (lib/shell/history.h):
// lines come back whole, also the terminal's longest and lines wrapping
// around the ring's end; the oldest go first, by bytes and by count, and are
// counted; a line longer than the ring is refused, never cut; and a
// randomized run against a model.
#include "lib/term/history_ring.h"

#include "lib/shell/history.h"

#include <cstdint>
#include <deque>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace capos::term {
namespace {

template <typename Ring>
std::string text_of(const typename Ring::Text& text) {
    return std::string(text.first) + std::string(text.second);
}

TEST(HistoryRing, StartsEmpty) {
    HistoryRing<64, 4> ring;
    EXPECT_EQ(ring.count(), 0u);
    EXPECT_EQ(ring.bytes_used(), 0u);
    EXPECT_EQ(ring.evicted(), 0u);
}

TEST(HistoryRing, LinesComeBackInOrder) {
    HistoryRing<64, 4> ring;
    ASSERT_TRUE(ring.push("one"));
    ASSERT_TRUE(ring.push("two"));
    ASSERT_TRUE(ring.push(""));
    ASSERT_EQ(ring.count(), 3u);
    EXPECT_EQ(ring.bytes_used(), 6u);
    using Ring = decltype(ring);
    EXPECT_EQ(text_of<Ring>(ring.oldest(0)), "one");
    EXPECT_EQ(text_of<Ring>(ring.oldest(1)), "two");
    EXPECT_EQ(text_of<Ring>(ring.oldest(2)), "");
    EXPECT_EQ(text_of<Ring>(ring.newest(0)), "");
    EXPECT_EQ(text_of<Ring>(ring.newest(2)), "one");
    EXPECT_TRUE(ring.newest(1) == "two");
    EXPECT_FALSE(ring.newest(1) == "tw");
    EXPECT_FALSE(ring.newest(1) == "twoo");
}

// The regression: the shell's `history` used to keep the first 160 bytes of
// each line and list them as if whole.
TEST(HistoryRing, ShellKeepsTheTerminalsLongestLineWhole) {
    shell::History history;
    std::string longest(schema::TerminalSession::max_line, 'x');
    for (size_t i = 0; i < longest.size(); ++i)
        longest[i] = char('a' + i % 26);
    std::string ordinary = "echo " + std::string(300, 'y') + " END";
    ASSERT_TRUE(history.push(ordinary));
    ASSERT_TRUE(history.push(longest));
    ASSERT_EQ(history.count(), 2u);
    EXPECT_EQ(text_of<shell::History>(history.oldest(0)), ordinary);
    EXPECT_EQ(text_of<shell::History>(history.oldest(1)), longest);
    // Many longest lines later, each held is still whole.
    for (int round = 0; round < 40; ++round) {
        longest[0] = char('A' + round % 26);
        ASSERT_TRUE(history.push(longest));
        EXPECT_EQ(text_of<shell::History>(history.newest(0)), longest);
    }
    for (size_t i = 0; i < history.count(); ++i)
        EXPECT_EQ(history.oldest(i).size(), longest.size());
    EXPECT_GE(history.count(), shell::History::capacity_bytes / longest.size());
}

TEST(HistoryRing, ALineWrappingTheEndComesBackWhole) {
    HistoryRing<16, 8> ring;
    ASSERT_TRUE(ring.push("0123456789")); // bytes 0-9
    ASSERT_TRUE(ring.push("abc"));        // bytes 10-12
    ASSERT_TRUE(ring.push("defghij"));    // evicts the first; starts at 13 and wraps
    ASSERT_EQ(ring.count(), 2u);
    EXPECT_EQ(ring.evicted(), 1u);
    EXPECT_TRUE(ring.oldest(0) == "abc");
    auto text = ring.newest(0);
    EXPECT_EQ(text.first, "def");
    EXPECT_EQ(text.second, "ghij");
    EXPECT_TRUE(text == "defghij");
}

TEST(HistoryRing, OldestGoFirstByBytes) {
    HistoryRing<10, 8> ring;
    ASSERT_TRUE(ring.push("aaa"));
    ASSERT_TRUE(ring.push("bbb"));
    ASSERT_TRUE(ring.push("ccc"));
    ASSERT_TRUE(ring.push("dddd")); // 13 bytes: "aaa" goes
    ASSERT_EQ(ring.count(), 3u);
    EXPECT_EQ(ring.evicted(), 1u);
    EXPECT_EQ(ring.bytes_used(), 10u);
    EXPECT_TRUE(ring.oldest(0) == "bbb");
    ASSERT_TRUE(ring.push("0123456789")); // the whole ring: everything else goes
    ASSERT_EQ(ring.count(), 1u);
    EXPECT_EQ(ring.evicted(), 4u);
    EXPECT_TRUE(ring.newest(0) == "0123456789");
}

TEST(HistoryRing, OldestGoFirstByCount) {
    HistoryRing<64, 3> ring;
    for (const char* line : {"1", "2", "3", "4", "5"})
        ASSERT_TRUE(ring.push(line));
    ASSERT_EQ(ring.count(), 3u);
    EXPECT_EQ(ring.evicted(), 2u);
    EXPECT_TRUE(ring.oldest(0) == "3");
    EXPECT_TRUE(ring.newest(0) == "5");
}

TEST(HistoryRing, ALineLongerThanTheRingIsRefusedNotCut) {
    HistoryRing<8, 4> ring;
    ASSERT_TRUE(ring.push("keep"));
    EXPECT_FALSE(ring.push("123456789"));
    ASSERT_EQ(ring.count(), 1u);
    EXPECT_EQ(ring.evicted(), 0u);
    EXPECT_TRUE(ring.newest(0) == "keep");
    EXPECT_TRUE(ring.push("12345678"));
}

TEST(HistoryRing, RandomPushesMatchAModel) {
    constexpr size_t bytes = 97;
    constexpr size_t entries = 7;
    HistoryRing<bytes, entries> ring;
    std::deque<std::string> model;
    size_t model_bytes = 0;
    uint64_t model_evicted = 0;
    std::mt19937 random(1234);
    for (int step = 0; step < 20000; ++step) {
        std::string line(random() % (bytes + 10), ' ');
        for (char& c : line)
            c = char(random() % 256);
        bool fits = line.size() <= bytes;
        ASSERT_EQ(ring.push(line), fits);
        if (fits) {
            while (model.size() == entries || model_bytes + line.size() > bytes) {
                model_bytes -= model.front().size();
                model.pop_front();
                ++model_evicted;
            }
            model.push_back(line);
            model_bytes += line.size();
        }
        ASSERT_EQ(ring.count(), model.size());
        ASSERT_EQ(ring.bytes_used(), model_bytes);
        ASSERT_EQ(ring.evicted(), model_evicted);
        for (size_t i = 0; i < model.size(); ++i)
            ASSERT_EQ(text_of<decltype(ring)>(ring.oldest(i)), model[i]) << "step " << step;
    }
}

} // namespace
} // namespace capos::term
