// lib/block/timeouts.h: the ticks a request outlives before it times out,
// the oldest chosen, and, against a clock the test keeps, that a request
// times out only once the bound has passed and no later than a tick after.
#include "lib/block/timeouts.h"

#include <gtest/gtest.h>
#include <random>

using capos::block::RequestTimeouts;

namespace {

constexpr uint64_t ms = 1'000'000;

TEST(RequestTimeouts, TicksAreAQuarterOfTheBoundRoundedUp) {
    EXPECT_EQ(RequestTimeouts(2000 * ms).tick_ns(), 500 * ms);
    EXPECT_EQ(RequestTimeouts(30'000 * ms).tick_ns(), 7500 * ms);
    EXPECT_EQ(RequestTimeouts(7).tick_ns(), 2u); // 4 ticks of 2 ns: at least 7
    EXPECT_EQ(RequestTimeouts(0).bound_ns(), 1u);
    EXPECT_EQ(RequestTimeouts(0).tick_ns(), 1u);
}

TEST(RequestTimeouts, NothingOnTheDeviceWantsNoTicks) {
    RequestTimeouts timeouts(2000 * ms);
    EXPECT_FALSE(timeouts.waiting());
    EXPECT_FALSE(timeouts.tick());
    timeouts.start(5);
    EXPECT_TRUE(timeouts.waiting());
    timeouts.finish(5);
    EXPECT_FALSE(timeouts.waiting());
    for (int i = 0; i < 20; ++i)
        EXPECT_FALSE(timeouts.tick());
}

TEST(RequestTimeouts, ARequestTimesOutAtTheTickAfterTheBoundsTicks) {
    RequestTimeouts timeouts(2000 * ms);
    timeouts.start(0);
    // The first tick may end at once: it counts nothing. Then four whole
    // ticks, the bound.
    for (uint32_t tick = 1; tick <= RequestTimeouts::ticks_per_bound; ++tick)
        EXPECT_FALSE(timeouts.tick()) << "tick " << tick;
    auto expired = timeouts.tick();
    ASSERT_TRUE(expired);
    EXPECT_EQ(*expired, 0u);
    EXPECT_EQ(timeouts.at_least_ns(0), 2000 * ms);
}

TEST(RequestTimeouts, AnAnsweredRequestDoesNotTimeOut) {
    RequestTimeouts timeouts(2000 * ms);
    timeouts.start(63);
    timeouts.start(1);
    for (int i = 0; i < 3; ++i)
        EXPECT_FALSE(timeouts.tick());
    timeouts.finish(63);
    timeouts.finish(1);
    for (int i = 0; i < 10; ++i)
        EXPECT_FALSE(timeouts.tick());
}

TEST(RequestTimeouts, TheOldestIsNamedFirst) {
    RequestTimeouts timeouts(4);
    timeouts.start(7);
    EXPECT_FALSE(timeouts.tick());
    timeouts.start(63);
    EXPECT_FALSE(timeouts.tick());
    timeouts.start(0);
    EXPECT_FALSE(timeouts.tick());
    EXPECT_FALSE(timeouts.tick());
    EXPECT_EQ(timeouts.tick(), 7u);
    timeouts.finish(7);
    EXPECT_EQ(timeouts.tick(), 63u);
    timeouts.finish(63);
    EXPECT_EQ(timeouts.tick(), 0u);
    // A slot used again starts afresh.
    timeouts.finish(0);
    timeouts.start(7);
    EXPECT_FALSE(timeouts.tick());
    EXPECT_EQ(timeouts.at_least_ns(7), 0u);
}

// The driver's loop against a clock: requests start and end at random
// times, a sleep of a tick is submitted whenever a tick is taken (or, with
// none outstanding, when a request starts) and is taken some time after it
// ends. Whatever tick() names has been on the device for at least the
// bound; when it names nothing, no request has been there for the bound
// and a tick (and the delay with which ticks are taken).
TEST(RequestTimeouts, NamesOnlyRequestsPastTheBoundAndMissesNone) {
    constexpr uint64_t bound = 1000;
    constexpr uint64_t max_delay = 30; // how late a sleep's end is taken
    std::mt19937_64 random(7);
    auto below = [&](uint64_t n) { return random() % n; };
    for (int run = 0; run < 200; ++run) {
        RequestTimeouts timeouts(bound);
        uint64_t tick = timeouts.tick_ns();
        uint64_t now = 0;
        std::optional<uint64_t> sleep_ends;
        uint64_t started_at[RequestTimeouts::max_slots] = {};
        for (int step = 0; step < 2000; ++step) {
            uint64_t next = now + 1 + below(2 * tick);
            if (sleep_ends && *sleep_ends <= next) {
                // The sleep ends first: its tick is taken a little later.
                now = *sleep_ends + below(max_delay);
                sleep_ends.reset();
                auto expired = timeouts.tick();
                if (expired) {
                    EXPECT_GE(now - started_at[*expired], bound) << "run " << run;
                    EXPECT_GE(now - started_at[*expired], timeouts.at_least_ns(*expired));
                    timeouts.finish(*expired);
                } else {
                    for (uint32_t slot = 0; slot < RequestTimeouts::max_slots; ++slot) {
                        if (timeouts.busy(slot))
                            EXPECT_LT(now - started_at[slot], bound + tick + 2 * max_delay)
                                << "run " << run << " slot " << slot;
                    }
                }
                if (timeouts.waiting())
                    sleep_ends = now + tick;
                continue;
            }
            now = next;
            uint32_t slot = uint32_t(below(RequestTimeouts::max_slots));
            if (timeouts.busy(slot)) {
                if (below(4) == 0)
                    timeouts.finish(slot);
            } else {
                timeouts.start(slot);
                started_at[slot] = now;
                if (!sleep_ends)
                    sleep_ends = now + tick;
            }
        }
    }
}

} // namespace
