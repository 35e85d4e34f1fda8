// The kernel lock: one lock over the kernel's shared state (objects, rings,
// endpoints, memory, the scheduler's queues), held by a CPU rather than by a
// thread, for each stretch of kernel work:
//
// - taken on every entry from a context that had interrupts on (a system
//   call, an interrupt of user code or of the idle loop);
// - given up on the return to user mode, and by the idle thread before it
//   halts;
// - a context switch inside a stretch passes it, with the CPU, to the thread
//   switched to, which gives it up when it next leaves the kernel;
// - the interrupt windows of preemption points give it up and take it again
//   (so long kernel work on one CPU keeps no other waiting for longer than
//   an interrupt window's period).
//
// So a CPU with interrupts on never holds it, and kernel code runs on one
// CPU at a time, as it did on one CPU, while user code runs on all of them.
// A CPU waiting for it spins with interrupts off and meanwhile serves the TLB
// shootdowns the holder asks of it (the holder waits for them with the lock
// held). Each CPU counts its waits and the cycles they took (the `cpus`
// command's "lock" column): the share of its time a CPU spends here is what
// the one lock costs it.
#pragma once

#include "kernel/arch/arch.h"
#include "lib/base/thread_safety.h"

namespace capos::kernel {

class CAPOS_CAPABILITY("kernel lock") KernelLock {
public:
    static constexpr uint32_t max_cpus = 64;

    // Takes the lock on this CPU, which must not hold it (interrupts off).
    void enter() CAPOS_ACQUIRE();
    // Gives it up; this CPU must hold it.
    void leave() CAPOS_RELEASE();
    // Whether this CPU holds it.
    bool held_here() const {
        return __atomic_load_n(&m_owner, __ATOMIC_RELAXED) == arch::current_cpu_index() + 1;
    }
    // For the analysis: code reached only from the kernel's entries, which
    // took the lock, holds it.
    void assert_held() const CAPOS_ASSERT_CAPABILITY(this) {}

    // How many times CPU `cpu` found it taken, and the cycle-counter ticks
    // it waited for it in all.
    static uint64_t contended(uint32_t cpu);
    static uint64_t wait_cycles(uint32_t cpu);

private:
    // The holder's CPU index plus one; 0 when free. The boot CPU holds it
    // from the start: boot is one stretch, ended by the first return to user
    // mode or halt.
    uint32_t m_owner = 1;
};

extern KernelLock g_kernel_lock;

} // namespace capos::kernel
