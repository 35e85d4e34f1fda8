// A spin lock that also keeps interrupts off while held, so an interrupt
// handler on the same CPU can never spin on a lock its own CPU holds.
#pragma once

#include "kernel/arch/arch.h"
#include "kernel/lib/lock_guard.h"
#include "lib/base/thread_safety.h"

namespace capos::kernel {

class CAPOS_CAPABILITY("spin lock") SpinLock {
public:
    void lock() CAPOS_ACQUIRE() {
        uint64_t state = arch::interrupts_save_disable();
        while (__atomic_exchange_n(&m_locked, true, __ATOMIC_ACQUIRE))
            __builtin_ia32_pause();
        m_saved_interrupt_state = state;
    }
    void unlock() CAPOS_RELEASE() {
        uint64_t state = m_saved_interrupt_state;
        __atomic_store_n(&m_locked, false, __ATOMIC_RELEASE);
        arch::interrupts_restore(state);
    }

private:
    bool m_locked = false;
    uint64_t m_saved_interrupt_state = 0;
};

using SpinLockGuard = LockGuard<SpinLock>;

} // namespace capos::kernel
