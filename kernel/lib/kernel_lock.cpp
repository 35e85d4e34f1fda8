#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"

namespace capos::kernel {

constinit KernelLock g_kernel_lock;

void KernelLock::enter() {
    uint32_t self = arch::current_cpu_index() + 1;
    for (;;) {
        uint32_t expected = 0;
        if (__atomic_compare_exchange_n(&m_owner, &expected, self, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        VERIFY(expected != self);
        // The holder may be waiting for this CPU to flush its TLB.
        arch::serve_tlb_requests();
        __builtin_ia32_pause();
    }
}

void KernelLock::leave() {
    VERIFY(__atomic_load_n(&m_owner, __ATOMIC_RELAXED) == arch::current_cpu_index() + 1);
    __atomic_store_n(&m_owner, 0u, __ATOMIC_RELEASE);
}

} // namespace capos::kernel
