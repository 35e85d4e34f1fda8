// The kernel lock: one lock over the kernel's shared state (objects, rings,
// endpoints, memory, the scheduler's queues), held by a CPU rather than by a
// thread, for each stretch of kernel work, exclusively or shared.
//
// Held exclusively:
// - taken on every entry from a context that had interrupts on (a system
//   call's general part, an interrupt of user code or of the idle loop)
//   that the shared mode does not serve;
// - given up on the return to user mode, and by the idle thread before it
//   halts;
// - a context switch inside a stretch passes it, with the CPU, to the thread
//   switched to, which gives it up when it next leaves the kernel;
// - the interrupt windows of preemption points give it up and take it again
//   (so long kernel work on one CPU keeps no other waiting for longer than
//   an interrupt window's period).
//
// Held shared, by several CPUs at once: the first part of cap_enter, which
// carries out endpoint calls, receives and returns (kernel/ipc/ring.cpp,
// "The shared part"), and the timer's tick of user code when no sleeper is
// due (Scheduler::tick_shared). Shared holders only read what the lock
// guards; what they change has a lock of its own (an endpoint's, a ring's, a
// process's call ledger, an address space's translation cache) or is their
// own CPU's (its queue and the threads on it, which other CPUs change only
// exclusively), and they switch only to threads of their own queue: the
// wakes of other CPUs' threads they decide and the objects whose last
// reference they drop wait for the exclusive part that follows on the same
// CPU. The analysis (-Wthread-safety) checks that shared holders write
// nothing the lock guards.
//
// A CPU with interrupts on never holds it. A CPU taking it exclusively
// claims it first (new shared holders wait), then waits for the shared
// holders to leave. A CPU waiting for it spins with interrupts off and
// meanwhile serves the TLB shootdowns the exclusive holder asks of it (the
// holder waits for them with the lock held; shared holders ask none). Each
// CPU counts its waits and the cycles they took (the `cpus` command's "lock"
// column): the share of its time a CPU spends waiting is what the lock costs
// it.
#pragma once

#include "kernel/arch/arch.h"
#include "lib/base/thread_safety.h"

namespace capos::kernel {

class KernelObject;

class CAPOS_CAPABILITY("kernel lock") KernelLock {
public:
    static constexpr uint32_t max_cpus = 64;

    // What each CPU keeps of the lock, on a line of its own: only that CPU
    // writes it, and the lock's word, which every CPU reaches for, is
    // elsewhere.
    struct alignas(64) PerCpu {
        uint64_t contended = 0; // waits
        uint64_t cycles = 0;    // cycle-counter ticks waited
        // Left by a shared holder for this CPU's next exclusive stretch:
        // objects whose last reference it dropped (KernelObject), wakes
        // (post_completion).
        KernelObject* deferred_destroys = nullptr;
        uint32_t deferred_wakes = 0;
    };
    static PerCpu s_cpus[max_cpus];

    // Takes the lock exclusively on this CPU, which must not hold it
    // (interrupts off).
    void enter() CAPOS_ACQUIRE();
    // Gives it up; this CPU must hold it exclusively.
    void leave() CAPOS_RELEASE();
    // Takes it shared / gives that up (interrupts off).
    void enter_shared() CAPOS_ACQUIRE_SHARED();
    void leave_shared() CAPOS_RELEASE_SHARED();
    // Whether this CPU holds it exclusively.
    bool held_here() const {
        return (__atomic_load_n(&m_word, __ATOMIC_RELAXED) & owner_mask) ==
               arch::current_cpu_index() + 1;
    }
    // For the analysis: code reached only from the kernel's entries, which
    // took the lock, holds it (exclusively; shared for the second).
    void assert_held() const CAPOS_ASSERT_CAPABILITY(this) {}
    void assert_shared() const CAPOS_ASSERT_SHARED_CAPABILITY(this) {}
    // Whether this CPU holds it shared.
    bool shared_here() const { return arch::lock_shared_here(); }
    // This CPU's share of the above.
    static PerCpu& here() { return s_cpus[arch::current_cpu_index()]; }
    // Whether a shared holder left work for this CPU's next exclusive
    // stretch.
    static bool deferred_here() {
        const PerCpu& cpu = here();
        return cpu.deferred_destroys != nullptr || cpu.deferred_wakes != 0;
    }
    // A context switch passes the lock with the CPU in the mode the thread
    // switched from held it; the thread switched to takes it in the mode it
    // held it when it left the CPU (Scheduler::finish_switch).
    void convert_here(bool shared) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
        if (shared != shared_here()) [[unlikely]]
            convert(shared);
    }

    // How many times CPU `cpu` found it taken, and the cycle-counter ticks
    // it waited for it in all.
    static uint64_t contended(uint32_t cpu);
    static uint64_t wait_cycles(uint32_t cpu);

private:
    void convert(bool shared) CAPOS_NO_THREAD_SAFETY_ANALYSIS;
    // The exclusive holder's (or claimant's) CPU index plus one in the low
    // half, 0 when none; the number of shared holders in the high half. The
    // boot CPU holds it from the start: boot is one stretch, ended by the
    // first return to user mode or halt.
    static constexpr uint64_t owner_mask = 0xffff'ffff;
    static constexpr uint64_t one_reader = uint64_t{1} << 32;
    uint64_t m_word = 1;
};

extern KernelLock g_kernel_lock;

} // namespace capos::kernel
