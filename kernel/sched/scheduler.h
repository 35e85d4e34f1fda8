// The scheduler: one CPU, round-robin over ready threads, preemption on the
// timer tick once the running thread has had the CPU for a whole tick period
// (slices of one to two periods), an idle thread when nothing is ready, and
// blocking with an optional deadline.
//
// Locking: the scheduler's state is touched only with interrupts off. System
// calls and interrupts run with them off, except inside the short windows a
// preemption point opens (preemption_point below), where only an interrupt's
// own work runs, and the idle thread, which enables them only inside
// wait_for_interrupt.
#pragma once

#include "kernel/arch/arch.h"
#include "kernel/object/thread.h"

namespace capos::kernel {

inline constexpr uint32_t timer_hz = 100;
inline constexpr uint64_t no_deadline = UINT64_MAX;

// The deadline (uptime in microseconds) `ns` nanoseconds from now, rounded up
// to whole microseconds; no_deadline when it lies beyond what uptime can count.
uint64_t deadline_after_ns(uint64_t ns);

// Kernel memory the running call uses that is not its thread's own (the
// ring's scratch buffers, one set per CPU): Scheduler::preemption_point saves
// it before giving up the CPU and restores it.
struct CallScratch {
    void* parts[2] = {nullptr, nullptr};
    size_t bytes[2] = {0, 0};
};

class Scheduler {
public:
    // Creates the idle thread. Call once before anything is made ready.
    static void init();
    // Switches from the boot context to the first ready thread; the boot
    // context is abandoned.
    [[noreturn]] static void run();

    static Thread* current() { return running; }
    // Switches to a thread other than the idle one since boot.
    static uint64_t threads_run();
    // Queues a ready thread; takes a reference while it is queued or running.
    static void make_ready(RefPtr<Thread> thread);
    // Gives the CPU to the next ready thread, if any; the caller stays ready.
    static void yield();
    // Blocks the current thread until wake() or until uptime reaches
    // `deadline_us`. Returns true when woken, false on timeout.
    static bool block(uint64_t deadline_us);
    // Makes a blocked thread ready (no effect on others).
    static void wake(Thread* thread);
    // The same, and it runs next: the direct handoff of an IPC call or reply.
    static void wake_first(Thread* thread);
    // Ends the current thread; its reference is dropped once another thread runs.
    [[noreturn]] static void exit_current();

    // The timer interrupt: wakes expired sleepers, preempts the running thread
    // (or, when it interrupted kernel work at a preemption point, asks that
    // work to give up the CPU there).
    static void tick();

    // Long kernel work (zeroing many pages, copying a program, writing a long
    // text to the console) calls this between steps. Every
    // interrupt_window_us it lets pending interrupts in; when the tick found
    // the running thread's slice over, the thread gives the CPU up here and
    // resumes later, its call's scratch (below) put back as it was. So no
    // such work holds interrupts off or the CPU for longer than that,
    // whatever size the caller asked for.
    static void preemption_point() {
        // The clock is read here, at every fourth point (points sit between
        // steps of a few microseconds of work: a page zeroed, a
        // submission), and the call is made only when the window is due or
        // a tick asked for the CPU: a point between two small submissions
        // costs a few instructions and no call.
        if (resched ||
            ((++points & 3) == 0 && arch::read_cycle_counter() - window_at >= window_cycles))
            preemption_point_due();
    }

    // The scratch buffers (see CallScratch), set once, and how much of each
    // the running call uses, set around each call (0 and 0 when none is).
    static void set_call_scratch_buffers(void* first, void* second) {
        call_scratch.parts[0] = first;
        call_scratch.parts[1] = second;
    }
    static void set_call_scratch_use(size_t first_bytes, size_t second_bytes) {
        call_scratch.bytes[0] = first_bytes;
        call_scratch.bytes[1] = second_bytes;
    }

    // The end of every switch, in the thread switched to: drops a thread that
    // exited before the switch (nothing runs on its stack any more).
    static void finish_switch();

private:
    static inline Thread* running = nullptr; // the thread on the CPU
    static inline CallScratch call_scratch;  // the running call's, see set_call_scratch_use
    static void preemption_point_due();
    // interrupt_window_us in cycles, once known (0 before: every point is due)
    static inline uint64_t window_cycles = 0;
    static inline uint64_t window_at = 0; // cycle counter when interrupts were last let in
    static inline uint32_t points = 0;    // preemption points passed so far
    static inline bool resched = false;   // a tick found the slice over at a preemption point

    static void enqueue(Thread* thread, bool first = false);
    static void unblock(Thread* thread);
    static void switch_to_next();
};

} // namespace capos::kernel
