// The lock of one kernel object's state that the shared part of cap_enter
// changes (kernel/lib/kernel_lock.h): an endpoint's queues, a ring's
// counters, a process's call ledger, an address space's translation cache.
//
// Only CPUs holding the kernel lock shared contend for it; a CPU holding the
// kernel lock exclusively runs alone (no shared holder runs meanwhile) and
// takes none, so code that runs either way locks the same object freely,
// and an exclusive holder's work nested inside such a section (a reference
// dropped that destroys an object which locks the same endpoint) cannot
// deadlock. A section never contains a preemption point (the exclusive
// holder gives up the kernel lock there) and never blocks.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/lock_guard.h"
#include "lib/base/thread_safety.h"

namespace capos::kernel {

class CAPOS_CAPABILITY("object lock") ObjectLock {
public:
    void lock() CAPOS_ACQUIRE() {
        // (Taken only under the kernel lock: not shared here, it is held
        // exclusively. This CPU's own flag: the lock's word is other CPUs'
        // to write all the time.)
        if (!g_kernel_lock.shared_here())
            return;
        while (__atomic_exchange_n(&m_taken, true, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&m_taken, __ATOMIC_RELAXED))
                __builtin_ia32_pause();
        }
    }
    // (The CPU's mode is the one lock() saw: a section never spans a switch.)
    void unlock() CAPOS_RELEASE() {
        if (g_kernel_lock.shared_here())
            __atomic_store_n(&m_taken, false, __ATOMIC_RELEASE);
    }

private:
    bool m_taken = false;
};

using ObjectLockGuard = LockGuard<ObjectLock>;

} // namespace capos::kernel
