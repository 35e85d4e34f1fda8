// The scheduler: a run queue per CPU in virtual-time order (weighted fair
// queueing, lib/sched/fair.h, docs/scheduling.md), preemption on each CPU's
// timer tick once the running thread has had the CPU for a whole tick period
// (slices of one to two periods) and is no longer behind the first ready
// thread, an idle thread per CPU when nothing is ready, and blocking with an
// optional deadline.
//
// Placement: a thread made ready goes to the CPU it last ran on when that CPU
// is idle, else to an idle CPU, else back to its last CPU's queue; an idle
// CPU is woken by an interprocessor interrupt. A CPU about to go idle takes a
// ready thread from the longest other queue, and so does the boot CPU's tick
// when it is idle; the other CPUs stop their tick while idle, and a busy
// CPU's tick that finds threads waiting wakes one of them to take one.
// The direct handoff of an IPC call or reply (wake_first) puts the woken
// thread first on the waker's own CPU, wherever it ran before.
//
// Locking: every piece of the scheduler's state is guarded by the kernel
// lock (kernel/lib/kernel_lock.h), which every kernel entry takes; the state
// of one CPU is kept apart from the others' (CpuSchedule) and touched only by
// that CPU, except for the queue, which the others may add to or take from.
#pragma once

#include "kernel/arch/arch.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/sections.h"
#include "kernel/object/thread.h"

namespace capos::kernel {

inline constexpr uint32_t timer_hz = 100;
inline constexpr uint64_t no_deadline = UINT64_MAX;

// The deadline (uptime in microseconds) `ns` nanoseconds from now, rounded up
// to whole microseconds; no_deadline when it lies beyond what uptime can count.
uint64_t deadline_after_ns(uint64_t ns);

// Kernel memory the running call uses that is not its thread's own (the
// ring's scratch buffers): Scheduler::preemption_point saves it before giving
// up the CPU and restores it.
struct CallScratch {
    void* parts[2] = {nullptr, nullptr};
    size_t bytes[2] = {0, 0};
};

// What one CPU's scheduling keeps.
struct alignas(64) CpuSchedule {
    Thread* running = nullptr; // the thread on the CPU
    Thread* idle = nullptr;
    IntrusiveList<Thread, ReadyLink> ready; // run in this order
    Thread* dead = nullptr;                 // exited, dropped once off its stack
    uint64_t ticks = 0;                     // timer ticks on this CPU
    uint64_t floor = 0;                     // fair queueing's (lib/sched/fair.h)
    uint64_t run_started = 0; // the cycle counter when the running thread was last charged
    uint64_t switched_at = 0; // ticks when the running thread's slice began
    // Switches to a thread other than idle (read by the CPU listing).
    uint64_t threads_run = 0;
    // The thread wake_first put first: when it runs, it goes on with the
    // slice of the thread that handed it the CPU (only compared).
    const Thread* handed_to = nullptr;
    bool joined = false;      // run() was called here: threads may be placed here
    bool in_window = false;   // a tick now interrupted kernel work
    bool resched = false;     // a tick found the slice over at a preemption point
    CallScratch call_scratch; // this CPU's, see Scheduler::set_call_scratch_use
    // The user registers (Scheduler::finish_switch): the thread whose state
    // they hold (only compared: a thread coming back with nothing loaded in
    // between skips the load), the process whose values they hold (0: only
    // reset values), and whether the trap is armed.
    const Thread* user_state_thread = nullptr;
    uint32_t user_state_process = 0;
    bool user_state_trapping = false;
    uint64_t fs_base = 0; // the FS base last loaded here
    arch::ThreadContext boot_context;
};

class Scheduler {
public:
    static constexpr size_t max_cpus = 64;

    // Gives the boot CPU its scheduling state, first thing after the per-CPU
    // area is set up (preemption points and current() work from there on).
    static void boot_cpu_init();
    // Creates the state and an idle thread of every CPU. Call once before
    // anything is made ready, after cpus_init.
    static void init();
    // Switches this CPU from its boot context to the first ready thread (or
    // its idle thread); the boot context is abandoned. The boot CPU calls it
    // first and wakes the others, which wait for started() and call it too.
    [[noreturn]] static void run();
    static bool started() { return __atomic_load_n(&s_started, __ATOMIC_ACQUIRE); }

    // The thread running on this CPU: only this CPU's switches change it, so
    // shared holders of the kernel lock read it too.
    static Thread* current() {
        g_kernel_lock.assert_shared();
        return here_unlocked().running;
    }
    // The same with no lock held (the system-call entry's look at its own
    // thread before it takes the lock).
    static Thread* running() { return here_unlocked().running; }
    // Switches to a thread other than the idle one on `cpu` since boot.
    static uint64_t threads_run(uint32_t cpu);
    // The thread `cpu` runs now (its idle thread when idle; null before it
    // joined).
    static const Thread* running_on(uint32_t cpu);
    // Queues a ready thread; takes a reference while it is queued or running.
    static void make_ready(RefPtr<Thread> thread);
    // Gives the CPU to the next ready thread, if any; the caller stays ready.
    static void yield();
    // Blocks the current thread until wake() or until uptime reaches
    // `deadline_us`. Returns true when woken, false on timeout.
    static bool block(uint64_t deadline_us);
    // Makes a blocked thread ready (no effect on others).
    static void wake(Thread* thread);
    // The same, and it runs next on this CPU: the direct handoff of an IPC
    // call or reply.
    static void wake_first(Thread* thread);
    // The same under the kernel lock held shared (the shared part of
    // cap_enter), when `thread` is blocked without a deadline and last ran
    // on this CPU: then no other CPU touches it or this CPU's queue until
    // this one gives the lock up. False, and nothing done, otherwise (the
    // caller leaves the wake to the exclusive part).
    static bool wake_first_here(Thread* thread) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Blocks the current thread under the kernel lock held shared, with no
    // deadline, until a wake: this CPU runs its first ready thread, or its
    // idle thread (taking nothing from other CPUs). The thread comes back
    // holding the lock shared again.
    static void block_here() CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // A thread running on another CPU enters the kernel at once (an
    // interprocessor interrupt), where its return to user mode looks at
    // what was asked of it (a kill); no effect on other threads.
    static void interrupt(Thread* thread);
    // Ends the current thread; its reference is dropped once another thread runs.
    [[noreturn]] static void exit_current();
    // Charges the running thread for the CPU time since it was last charged
    // and returns all it has used.
    static uint64_t account_running();
    // `thread`'s weight from now on (its virtual time so far stays).
    static void set_weight(Thread& thread, uint32_t weight);
    // The CPU time `thread` has used, up to its last switch or tick.
    static uint64_t cpu_time_ns(const Thread& thread);
    // The running user thread's FS base from now on (below the user limit).
    static void set_fs_base(uint64_t base);

    // The timer interrupt of this CPU: wakes expired sleepers, preempts the
    // running thread (or, when it interrupted kernel work at a preemption
    // point, asks that work to give up the CPU there), and on an idle CPU
    // takes work queued elsewhere.
    static void tick();
    // The same for a CPU that interrupted a user thread, under the kernel
    // lock held shared: Declined, with nothing done, when a sleeper is due
    // (then tick() runs under the lock held exclusively).
    static arch::SharedTick tick_shared() CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // Long kernel work (zeroing many pages, copying a program, writing a long
    // text to the console) calls this between steps. Every
    // interrupt_window_us it lets pending interrupts in; when the tick found
    // the running thread's slice over, the thread gives the CPU up here and
    // resumes later, its call's scratch (below) put back as it was. So no
    // such work holds interrupts off or the CPU for longer than that,
    // whatever size the caller asked for. Other CPUs may take the kernel
    // lock in the window: kernel state must be whole at every point.
    static void preemption_point() {
        g_kernel_lock.assert_held();
        // The clock is read here, at every fourth point (points sit between
        // steps of a few microseconds of work: a page zeroed, a
        // submission), and the call is made only when the window is due or
        // a tick asked for the CPU: a point between two small submissions
        // costs a few instructions and no call.
        if (here().resched ||
            ((++points & 3) == 0 && arch::read_cycle_counter() - window_at >= window_cycles))
            preemption_point_due();
    }

    // The scratch buffers of each CPU (see CallScratch), set once, and how
    // much of each the running call uses, set around each call (0 and 0 when
    // none is). A thread whose call gives up the CPU at a preemption point
    // resumes on the same CPU, where its call's buffers are.
    static void set_call_scratch_buffers(uint32_t cpu, void* first, void* second) {
        g_kernel_lock.assert_held();
        VERIFY(cpu < max_cpus && s_cpus[cpu]);
        s_cpus[cpu]->call_scratch.parts[0] = first;
        s_cpus[cpu]->call_scratch.parts[1] = second;
    }
    // (Each CPU's own, set before any thread runs: shared holders use them.)
    static void* call_scratch_buffer(int part) {
        g_kernel_lock.assert_shared();
        return here_unlocked().call_scratch.parts[part];
    }
    static void set_call_scratch_use(size_t first_bytes, size_t second_bytes) {
        g_kernel_lock.assert_held();
        CallScratch& scratch = here().call_scratch;
        scratch.bytes[0] = first_bytes;
        scratch.bytes[1] = second_bytes;
    }

    // The end of every switch, in the thread switched to: drops a thread that
    // exited before the switch (nothing runs on its stack any more) and loads
    // a user thread's registers. Inline in the switch: its common case is a
    // few compares.
    [[gnu::always_inline]] static void finish_switch() CAPOS_NO_THREAD_SAFETY_ANALYSIS;
    // A thread going away: no CPU may take its memory for its registers.
    static void forget_user_state(const Thread* thread);
    // The running thread's first x87/SSE/AVX instruction (the trap): from now
    // on its registers are saved and loaded with it.
    static void user_state_first_use();

private:
    // Each CPU's, by index (null for a CPU that is not online); the boot
    // CPU's is a small object beside the kernel's other hot data (a page
    // touched after every address-space switch), the others' come from the
    // heap. A CPU reaches its own through its per-CPU area (arch::cpu_local).
    CAPOS_LARGE_BSS static inline CpuSchedule* s_cpus[max_cpus] CAPOS_GUARDED_BY(g_kernel_lock);
    static inline CpuSchedule s_boot_cpu CAPOS_GUARDED_BY(g_kernel_lock);
    static CpuSchedule& here() CAPOS_REQUIRES(g_kernel_lock) {
        return *static_cast<CpuSchedule*>(arch::cpu_local());
    }
    // This CPU's state, for the fields only this CPU changes (current()).
    static CpuSchedule& here_unlocked() { return *static_cast<CpuSchedule*>(arch::cpu_local()); }
    static inline bool s_started = false;

    static void preemption_point_due() CAPOS_REQUIRES(g_kernel_lock);
    // interrupt_window_us in cycles, once known (0 before: every point is due)
    static inline uint64_t window_cycles = 0;
    // The cycle counter when interrupts were last let in, and the preemption
    // points passed so far: shared by the CPUs (a window due a little early
    // or late on one of them costs nothing).
    static inline uint64_t window_at CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    static inline uint32_t points CAPOS_GUARDED_BY(g_kernel_lock) = 0;

    static void enqueue(Thread* thread, uint32_t cpu) CAPOS_REQUIRES(g_kernel_lock);
    static void arrive(Thread* thread, uint32_t cpu) CAPOS_REQUIRES(g_kernel_lock);
    // Fair queueing's bound on lag (lib/sched/fair.h): half a tick period,
    // in cycles.
    static constexpr uint64_t max_lag_us = 5000;
    static inline int64_t s_max_lag = 0;
    static int64_t max_lag();
    static void charge(CpuSchedule& self, uint64_t now) CAPOS_REQUIRES(g_kernel_lock);
    static void advance_floor(CpuSchedule& self) CAPOS_REQUIRES(g_kernel_lock);
    static void place(Thread* thread) CAPOS_REQUIRES(g_kernel_lock);
    static bool idle_now(uint32_t cpu) CAPOS_REQUIRES(g_kernel_lock);
    static CpuSchedule& schedule_of(uint32_t cpu) CAPOS_REQUIRES(g_kernel_lock);
    static Thread* steal(uint32_t cpu) CAPOS_REQUIRES(g_kernel_lock);
    static void wake_an_idle_cpu();
    // Whether the running thread's slice is over and a ready one should run.
    static bool slice_over(CpuSchedule& self) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    static void unblock(Thread* thread) CAPOS_REQUIRES(g_kernel_lock);
    static void switch_to_next() CAPOS_REQUIRES(g_kernel_lock);
    // Switches this CPU from its running thread to `next`, under the kernel
    // lock held either way: it touches only this CPU's state and the two
    // threads' (in shared mode no other CPU touches them).
    static void switch_to(CpuSchedule& self, Thread* next) CAPOS_NO_THREAD_SAFETY_ANALYSIS;
    [[gnu::noinline]] static void switch_user_state(CpuSchedule& self, Thread* running)
        CAPOS_REQUIRES(g_kernel_lock);
    static void load_user_state(CpuSchedule& self, Thread* thread) CAPOS_REQUIRES(g_kernel_lock);
    static void on_reschedule(uint8_t vector);
};

} // namespace capos::kernel
