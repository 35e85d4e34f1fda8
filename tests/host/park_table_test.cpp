// The table of parked waiters (lib/park/park_table.h) against a model: per
// key, wakes in the order waiters parked, never a waiter of another key,
// removal of any waiter, and counts.
#include "lib/park/park_table.h"
#include <algorithm>
#include <deque>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <vector>

namespace {

struct Link;
struct Waiter : capos::IntrusiveListNode<Link> {
    uint64_t park_key = 0;
    int id = 0;
};
// Small tables, so that keys share buckets.
using Table = capos::park::ParkTable<Waiter, Link, 2>;

TEST(ParkTable, WakesInOrderPerKey) {
    Table table;
    Waiter w[5];
    for (int i = 0; i < 5; ++i)
        w[i].id = i;
    table.park(w[0], 0x1000);
    table.park(w[1], 0x2000);
    table.park(w[2], 0x1000);
    table.park(w[3], 0x1004);
    table.park(w[4], 0x1000);
    std::vector<int> woken;
    EXPECT_EQ(table.wake(0x1000, 2, [&](Waiter& x) { woken.push_back(x.id); }), 2u);
    EXPECT_EQ(woken, (std::vector<int>{0, 2}));
    EXPECT_EQ(table.wake(0x3000, 10, [&](Waiter& x) { woken.push_back(x.id); }), 0u);
    EXPECT_EQ(table.wake(0x1000, 10, [&](Waiter& x) { woken.push_back(x.id); }), 1u);
    EXPECT_EQ(woken, (std::vector<int>{0, 2, 4}));
    EXPECT_EQ(table.parked(), 2u);
    EXPECT_TRUE(table.remove(w[3]));
    EXPECT_FALSE(table.remove(w[3]));
    EXPECT_FALSE(table.is_parked(w[3]));
    EXPECT_TRUE(table.is_parked(w[1]));
    EXPECT_EQ(table.wake(0x2000, 0, [&](Waiter&) {}), 0u);
    EXPECT_EQ(table.wake(0x2000, UINT32_MAX, [&](Waiter&) {}), 1u);
    EXPECT_EQ(table.parked(), 0u);
}

TEST(ParkTable, MatchesModel) {
    Table table;
    constexpr int count = 64;
    std::vector<Waiter> waiters(count);
    std::map<uint64_t, std::deque<int>> model;
    std::vector<bool> parked(count, false);
    std::mt19937_64 random(7);
    for (int step = 0; step < 20000; ++step) {
        int i = int(random() % count);
        uint64_t key = 0x10000 + (random() % 12) * 4;
        switch (random() % 3) {
        case 0:
            if (!parked[size_t(i)]) {
                waiters[size_t(i)].id = i;
                table.park(waiters[size_t(i)], key);
                model[key].push_back(i);
                parked[size_t(i)] = true;
            }
            break;
        case 1: {
            uint32_t n = uint32_t(random() % 4);
            std::vector<int> woken;
            uint32_t done = table.wake(key, n, [&](Waiter& w) {
                EXPECT_EQ(w.park_key, key);
                woken.push_back(w.id);
            });
            std::vector<int> expected;
            auto& queue = model[key];
            while (expected.size() < n && !queue.empty()) {
                expected.push_back(queue.front());
                queue.pop_front();
            }
            ASSERT_EQ(done, expected.size());
            ASSERT_EQ(woken, expected);
            for (int id : woken)
                parked[size_t(id)] = false;
            break;
        }
        case 2: {
            bool was = parked[size_t(i)];
            ASSERT_EQ(table.remove(waiters[size_t(i)]), was);
            if (was) {
                auto& queue = model[waiters[size_t(i)].park_key];
                queue.erase(std::find(queue.begin(), queue.end(), i));
                parked[size_t(i)] = false;
            }
            break;
        }
        }
        size_t total = 0;
        for (auto& [k, q] : model)
            total += q.size();
        ASSERT_EQ(table.parked(), total);
    }
    for (auto& w : waiters)
        table.remove(w);
}

} // namespace
