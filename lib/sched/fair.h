// The scheduler's policy, weighted fair queueing by virtual time, as pure
// logic: the kernel's Scheduler (kernel/sched/scheduler.cpp) keeps the queues
// and the clocks and asks these functions what to do (docs/scheduling.md).
//
// Every thread has a weight, 1 to max_weight (default_weight unless its
// process's ResourceLimits says otherwise), and a virtual time. Running for
// `ns` adds ns * default_weight / weight to it: a thread of weight 300 ages a
// third as fast as one of 100, so of two threads always ready on one CPU it
// gets three quarters of the time. A CPU runs its ready threads in order of
// virtual time, and at each tick gives the CPU to the first ready thread
// unless the running one is still behind it (once the running one has had a
// whole tick period: should_yield).
//
// Each CPU keeps a floor: the smallest virtual time among its running and
// ready threads, which never goes back (the kernel moves it at each tick). A
// thread leaving a CPU (blocking, or taken by another CPU) takes its lag, its
// virtual time less the floor; when it becomes ready on a CPU it is placed at
// that CPU's floor plus its lag, the lag bounded either way (the kernel: half
// a tick period): a thread that slept for a second gets a small head start,
// not a second of the CPU to itself, and one that ran ahead does not lose
// more than that bound by moving.
//
// Times are in any one unit (the kernel counts cycles, so a switch converts
// nothing).
#pragma once

#include "abi/limits.h"
#include <cstdint>

namespace capos::sched {

inline constexpr uint32_t default_weight = abi::default_cpu_weight;
inline constexpr uint32_t max_weight = abi::max_cpu_weight;

constexpr bool weight_valid(uint32_t weight) {
    return weight >= 1 && weight <= max_weight;
}

// What charge() multiplies by for a thread of `weight`: default_weight /
// weight in 32.32 fixed point (a multiply on every switch, no division).
constexpr uint64_t weight_factor(uint32_t weight) {
    return (uint64_t(default_weight) << 32) / weight;
}

// The virtual time of a thread of weight factor `factor` that ran for `time`.
// (Overflows only past 2^64 / 100 units of virtual time: 5,000 years of
// nanoseconds, 1,700 years of cycles at 3.5 GHz, at weight 1.)
constexpr uint64_t charge(uint64_t vtime, uint64_t time, uint64_t factor) {
    return vtime + uint64_t((unsigned __int128)time * factor >> 32);
}

// What a thread leaving a CPU with floor `floor` takes with it, at most
// `bound` either way.
constexpr int64_t lag(uint64_t vtime, uint64_t floor, int64_t bound) {
    int64_t l = int64_t(vtime - floor);
    return l < -bound ? -bound : l > bound ? bound : l;
}

// Where a thread with `lag` goes on a CPU with floor `floor`.
constexpr uint64_t place(int64_t lag, uint64_t floor) {
    if (lag < 0 && uint64_t(-lag) > floor)
        return 0;
    return floor + uint64_t(lag);
}

// Whether the running thread, past its minimum slice, gives the CPU to the
// first ready thread (ties go to the one waiting).
constexpr bool should_yield(uint64_t running_vtime, uint64_t first_ready_vtime) {
    return first_ready_vtime <= running_vtime;
}

// A CPU's floor once the smallest virtual time among its running and ready
// threads is `smallest`.
constexpr uint64_t advance_floor(uint64_t floor, uint64_t smallest) {
    return smallest > floor ? smallest : floor;
}

} // namespace capos::sched
