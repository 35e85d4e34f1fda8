#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"

namespace capos::kernel {

constinit KernelLock g_kernel_lock;

namespace {

// Each CPU's waits, on a line of its own: only that CPU writes them, and the
// lock's word, which every CPU reaches for, is elsewhere.
struct alignas(64) LockWaits {
    uint64_t contended = 0;
    uint64_t cycles = 0;
};
CAPOS_LARGE_BSS LockWaits g_waits[KernelLock::max_cpus];

} // namespace

void KernelLock::enter() {
    uint32_t cpu = arch::current_cpu_index();
    uint32_t self = cpu + 1;
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&m_owner, &expected, self, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED)) [[likely]]
        return;
    VERIFY(expected != self);
    // Taken: the wait is counted (only a wait: a free lock costs nothing more).
    uint64_t start = arch::read_cycle_counter();
    LockWaits& waits = g_waits[cpu < max_cpus ? cpu : 0];
    __atomic_store_n(&waits.contended, waits.contended + 1, __ATOMIC_RELEASE);
    for (;;) {
        // The holder may be waiting for this CPU to flush its TLB.
        arch::serve_tlb_requests();
        __builtin_ia32_pause();
        expected = 0;
        if (__atomic_load_n(&m_owner, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&m_owner, &expected, self, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            break;
    }
    __atomic_store_n(&waits.cycles, waits.cycles + (arch::read_cycle_counter() - start),
                     __ATOMIC_RELAXED);
}

void KernelLock::leave() {
    VERIFY(__atomic_load_n(&m_owner, __ATOMIC_RELAXED) == arch::current_cpu_index() + 1);
    __atomic_store_n(&m_owner, 0u, __ATOMIC_RELEASE);
}

uint64_t KernelLock::contended(uint32_t cpu) {
    return cpu < max_cpus ? __atomic_load_n(&g_waits[cpu].contended, __ATOMIC_ACQUIRE) : 0;
}

uint64_t KernelLock::wait_cycles(uint32_t cpu) {
    return cpu < max_cpus ? __atomic_load_n(&g_waits[cpu].cycles, __ATOMIC_RELAXED) : 0;
}

} // namespace capos::kernel
