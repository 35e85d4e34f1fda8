// The scheduler's policy (lib/sched/fair.h): a model of one CPU at 100 Hz
// running always-ready threads as kernel/sched/scheduler.cpp does, and the
// placement of threads that wake or move.
#include "lib/sched/fair.h"
#include <algorithm>
#include <gtest/gtest.h>
#include <vector>

namespace {

using namespace capos::sched;

constexpr uint64_t tick_ns = 10'000'000;
constexpr int64_t max_lag_ns = 5'000'000; // the kernel's bound: half a tick period

struct ModelThread {
    uint32_t weight;
    uint64_t vtime = 0;
    uint64_t ran_ns = 0;
};

// The scheduler's rules on one CPU: ready threads in virtual-time order (equal
// ones first come, first served); the running thread is charged at every
// tick and, after a whole tick period, gives the CPU to the first ready
// thread unless it is still behind that one.
struct ModelCpu {
    std::vector<ModelThread> threads;
    std::vector<size_t> ready;
    size_t running = 0;
    uint64_t ticks_on = 0;
    uint64_t floor = 0;

    explicit ModelCpu(std::vector<uint32_t> weights) {
        for (uint32_t w : weights)
            threads.push_back({w});
        for (size_t i = 1; i < threads.size(); ++i)
            ready.push_back(i);
    }
    void enqueue(size_t t) {
        auto at = std::upper_bound(ready.begin(), ready.end(), t, [&](size_t a, size_t b) {
            return threads[a].vtime < threads[b].vtime;
        });
        ready.insert(at, t);
    }
    void tick() {
        ModelThread& r = threads[running];
        r.vtime = charge(r.vtime, tick_ns, weight_factor(r.weight));
        r.ran_ns += tick_ns;
        ++ticks_on;
        uint64_t smallest = r.vtime;
        if (!ready.empty())
            smallest = std::min(smallest, threads[ready.front()].vtime);
        floor = advance_floor(floor, smallest);
        if (ready.empty() || ticks_on < 1 || !should_yield(r.vtime, threads[ready.front()].vtime))
            return;
        enqueue(running);
        running = ready.front();
        ready.erase(ready.begin());
        ticks_on = 0;
    }
    double share(size_t t) const {
        uint64_t total = 0;
        for (const ModelThread& m : threads)
            total += m.ran_ns;
        return double(threads[t].ran_ns) / double(total);
    }
};

void expect_shares(std::vector<uint32_t> weights, int ticks, double tolerance) {
    ModelCpu cpu(weights);
    for (int i = 0; i < ticks; ++i)
        cpu.tick();
    double total = 0;
    for (uint32_t w : weights)
        total += w;
    for (size_t t = 0; t < weights.size(); ++t)
        EXPECT_NEAR(cpu.share(t), weights[t] / total, tolerance) << "thread " << t;
}

TEST(Fair, SharesFollowWeights) {
    expect_shares({100, 100}, 1000, 0.002);
    expect_shares({100, 300}, 4000, 0.002);
    expect_shares({100, 100, 100, 100, 100}, 1000, 0.002);
    expect_shares({50, 100, 850}, 10000, 0.002);
    expect_shares({1, 10000}, 100000, 0.0002);
    expect_shares({max_weight, max_weight, 1}, 100000, 0.0002);
}

TEST(Fair, EqualWeightsTakeTurns) {
    // Every tick goes to the other thread: neither runs two in a row (a tie
    // goes to the one waiting).
    ModelCpu cpu({100, 100});
    size_t last = cpu.running;
    for (int i = 0; i < 100; ++i) {
        cpu.tick();
        EXPECT_NE(cpu.running, last);
        last = cpu.running;
    }
}

TEST(Fair, ChargeScalesByWeight) {
    EXPECT_EQ(charge(0, 3'000'000, weight_factor(default_weight)), 3'000'000u);
    EXPECT_EQ(charge(7, 3'000'000, weight_factor(300)), 7u + 999'999u); // rounded down
    EXPECT_EQ(charge(0, 1'000'000, weight_factor(1)), 100'000'000u);
    EXPECT_EQ(charge(0, 1'000'000'000, weight_factor(max_weight)),
              9'999'999u); // factor rounded down
    // Five thousand years of CPU at weight 1 still fit.
    uint64_t years = 5000ull * 365 * 24 * 3600 * 1'000'000'000ull;
    EXPECT_EQ(charge(0, years, weight_factor(1)), years * 100);
}

TEST(Fair, WeightBounds) {
    EXPECT_FALSE(weight_valid(0));
    EXPECT_TRUE(weight_valid(1));
    EXPECT_TRUE(weight_valid(default_weight));
    EXPECT_TRUE(weight_valid(max_weight));
    EXPECT_FALSE(weight_valid(max_weight + 1));
}

TEST(Fair, LagIsBounded) {
    EXPECT_EQ(lag(1000, 1000, max_lag_ns), 0);
    EXPECT_EQ(lag(1500, 1000, max_lag_ns), 500);
    EXPECT_EQ(lag(1000, 1500, max_lag_ns), -500);
    // A thread that slept for a second takes half a tick period's credit.
    EXPECT_EQ(lag(0, 1'000'000'000, max_lag_ns), -max_lag_ns);
    EXPECT_EQ(lag(1'000'000'000, 0, max_lag_ns), max_lag_ns);
}

TEST(Fair, PlaceKeepsLagAgainstTheNewFloor) {
    EXPECT_EQ(place(0, 42), 42u);
    EXPECT_EQ(place(-10, 1000), 990u);
    EXPECT_EQ(place(10, 1000), 1010u);
    // Never below zero.
    EXPECT_EQ(place(-max_lag_ns, 1000), 0u);
    // Moving between CPUs whose floors differ by seconds keeps the lag.
    uint64_t vtime = 7'000'000'123;
    uint64_t moved = place(lag(vtime, 7'000'000'000, max_lag_ns), 2'000'000);
    EXPECT_EQ(moved, 2'000'000u + 123u);
}

TEST(Fair, FloorNeverGoesBack) {
    EXPECT_EQ(advance_floor(100, 50), 100u);
    EXPECT_EQ(advance_floor(100, 150), 150u);
}

TEST(Fair, SleeperGetsAHeadStartOnly) {
    // Thread 0 ran alone for ten seconds; thread 1 slept through it and wakes
    // (lag taken against the floor when it blocked: 0). It is placed at the
    // floor less at most max_lag_ns, so thread 0 runs again within a tick or
    // two instead of waiting ten seconds.
    ModelCpu cpu({100});
    for (int i = 0; i < 1000; ++i)
        cpu.tick();
    cpu.threads.push_back({100});
    cpu.threads[1].vtime = place(lag(0, 0, max_lag_ns), cpu.floor);
    EXPECT_EQ(cpu.threads[1].vtime, cpu.floor);
    cpu.enqueue(1);
    int ran_zero = 0;
    for (int i = 0; i < 10; ++i) {
        cpu.tick();
        ran_zero += cpu.running == 0;
    }
    EXPECT_GE(ran_zero, 4);
}

} // namespace
