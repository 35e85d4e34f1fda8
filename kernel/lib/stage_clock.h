// Where a call's time goes, measured: a measurement build (CMake option
// CAPOS_STAGE_CLOCK, used by `make profile` in its own build directory) reads
// the cycle counter at each boundary between the stages of a call below and
// adds the cycles since the previous boundary to the stage that just ended.
// Every other build compiles each mark to nothing.
//
// The sums run from boot, with the CALL submissions handled and the marks
// made; the kernel logs them at every process exit (stage_clock.cpp), and
// bench/profile.py takes the difference of two runs that differ only in the
// number of calls, with the cost of the marks (measured at boot) taken off. A mark is a
// cycle-counter read, which QEMU's TCG runs as a helper call out of the translated code, so the
// measurement build is slower than the others: its figures say how a call's time divides, `make
// bench` how long it takes.
#pragma once

#include <cstdint>

#ifndef CAPOS_STAGE_CLOCK
#define CAPOS_STAGE_CLOCK 0
#endif

#if CAPOS_STAGE_CLOCK
#include "kernel/arch/arch.h"
#endif

namespace capos::kernel::stage_clock {

enum class Stage : uint8_t {
    User,       // the program and its runtime, the system call's entry and exit
    Ring,       // cap_enter: admission, the loop, publishing, waiting
    Submission, // SQE copy and decode, capability lookup, params in and validated
    Service,    // a kernel service's dispatch: params read, method run, results built
    Answer,     // results out or into the completion, the completion posted
    Endpoint,   // an endpoint's call, receive and return: queueing, the copy into
                // the other address space, completions to the other process, wake-ups
    Switch,     // the scheduler's choice, the address-space and context switch
    Count,
};

#if CAPOS_STAGE_CLOCK
namespace detail {
inline constinit uint64_t g_cycles[size_t(Stage::Count)] = {};
inline constinit uint64_t g_entries[size_t(Stage::Count)] = {};
inline constinit uint64_t g_last = 0;
inline constinit Stage g_current = Stage::Ring;
inline constinit uint64_t g_calls = 0;
} // namespace detail

// The stage running from here on.
[[gnu::always_inline]] inline void enter(Stage next) {
    uint64_t now = arch::read_cycle_counter();
    detail::g_cycles[size_t(detail::g_current)] += now - detail::g_last;
    ++detail::g_entries[size_t(next)];
    detail::g_last = now;
    detail::g_current = next;
}
inline Stage current() {
    return detail::g_current;
}
inline void count_call() {
    ++detail::g_calls;
}
// Measures a mark's own cost (at boot) and starts the sums from zero.
void calibrate();
// Logs the sums (a process exits).
void report(uint64_t process_id);
#else
inline void enter(Stage) {}
inline Stage current() {
    return Stage::Ring;
}
inline void count_call() {}
inline void calibrate() {}
inline void report(uint64_t) {}
#endif

} // namespace capos::kernel::stage_clock
