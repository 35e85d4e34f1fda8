// spinner: runs in pure user code for long stretches and reports between them.
// Each stretch is a loop of 40 ms by the cycle counter (four timer ticks at
// 100 Hz) with no system call inside; between stretches it prints one line
// through its Console and reads Timer.now, and after 300 ms of its own it
// exits. cap_enter never yields unless it waits, so two spinners started
// together can both make progress before either ends only if the timer
// preempts them.
//
// Lines: "spinner <pid>: stretch <n>, <g> gaps" and
// "spinner <pid>: done, <n> stretches, <g> gaps over 2 ms": gaps are jumps of
// the cycle counter inside a stretch, time in which it did not run (under
// TCG the host can cause them too, so they are a hint, not a proof). The exit
// code is when it ran (spawn.h, Span: its parent checks that the two spinners
// overlapped).
#include "schema/capos.capnp.capos.h"
#include "user/rt/syscall.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

inline uint64_t cycles() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t(high) << 32) | low;
}

constexpr uint64_t ms = 1000 * 1000;

} // namespace

int main() {
    uint32_t console = test::cap_id("console");
    uint32_t timer = test::cap_id("timer");
    if (console == 0 || timer == 0)
        return 2;
    schema::Console::Client<rt::RingTransport> out(rt::transport(), console);

    // Cycles per millisecond: the counter and the Timer both measure wall
    // time, so being preempted during the 10 ms does not skew the ratio.
    uint64_t c0 = cycles(), t0 = test::now_ns(timer);
    (void)test::sleep_ns(timer, 10 * ms);
    uint64_t c1 = cycles(), t1 = test::now_ns(timer);
    uint64_t per_ms = (c1 - c0) * ms / (t1 - t0 > 0 ? t1 - t0 : 1);
    if (per_ms == 0)
        return 3;

    uint64_t start = test::now_ns(timer);
    if (start / ms >= 100000)
        return 4;
    uint64_t total_gaps = 0;
    uint32_t stretch = 0;
    for (;;) {
        // The stretch: nothing but the cycle counter until 40 ms have passed.
        uint64_t begin = cycles(), previous = begin, gaps = 0;
        for (;;) {
            uint64_t now = cycles();
            if (now - previous > 2 * per_ms)
                ++gaps;
            previous = now;
            if (now - begin >= 40 * per_ms)
                break;
        }
        ++stretch;
        total_gaps += gaps;
        Line line("spinner ");
        line.udec(rt::process_id())
            .add(": stretch ")
            .udec(stretch)
            .add(", ")
            .udec(gaps)
            .add(" gaps");
        (void)out.write_line(line.view());
        if (test::now_ns(timer) - start >= 300 * ms)
            break;
    }
    Line done("spinner ");
    done.udec(rt::process_id()).add(": done, ").udec(stretch).add(" stretches, ").udec(total_gaps);
    done.add(" gaps over 2 ms");
    (void)out.write_line(done.view());
    rt::exit(test::span_code(start, test::now_ns(timer)));
}
