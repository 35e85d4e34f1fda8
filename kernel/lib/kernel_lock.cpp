#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"

namespace capos::kernel {

constinit KernelLock g_kernel_lock;

CAPOS_LARGE_BSS KernelLock::PerCpu KernelLock::s_cpus[KernelLock::max_cpus];

namespace {

// Counts a wait that began at `start` (once it has found the lock taken)
// and spins until `take` succeeds, serving TLB shootdowns meanwhile (the
// exclusive holder may be waiting for this CPU to flush its TLB).
template <typename Take>
void wait_until(uint32_t cpu, Take take) {
    uint64_t start = arch::read_cycle_counter();
    KernelLock::PerCpu& waits = KernelLock::s_cpus[cpu < KernelLock::max_cpus ? cpu : 0];
    __atomic_store_n(&waits.contended, waits.contended + 1, __ATOMIC_RELEASE);
    do {
        arch::serve_tlb_requests();
        __builtin_ia32_pause();
    } while (!take());
    __atomic_store_n(&waits.cycles, waits.cycles + (arch::read_cycle_counter() - start),
                     __ATOMIC_RELAXED);
}

} // namespace

void KernelLock::enter() {
    uint32_t cpu = arch::current_cpu_index();
    uint64_t self = cpu + 1;
    uint64_t word = 0;
    if (__atomic_compare_exchange_n(&m_word, &word, self, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED)) [[likely]]
        return;
    VERIFY((word & owner_mask) != self);
    // Claimed first (no new shared holder comes in), then the shared holders
    // drain.
    auto claim = [&] {
        uint64_t seen = __atomic_load_n(&m_word, __ATOMIC_RELAXED);
        return (seen & owner_mask) == 0 &&
               __atomic_compare_exchange_n(&m_word, &seen, seen | self, false, __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED);
    };
    auto drained = [&] { return __atomic_load_n(&m_word, __ATOMIC_ACQUIRE) == self; };
    if (!claim())
        wait_until(cpu, claim);
    if (!drained())
        wait_until(cpu, drained);
}

void KernelLock::leave() {
    VERIFY(__atomic_load_n(&m_word, __ATOMIC_RELAXED) == arch::current_cpu_index() + 1);
    __atomic_store_n(&m_word, uint64_t{0}, __ATOMIC_RELEASE);
}

void KernelLock::enter_shared() {
    uint32_t cpu = arch::current_cpu_index();
    auto join = [&] {
        uint64_t seen = __atomic_load_n(&m_word, __ATOMIC_RELAXED);
        return (seen & owner_mask) == 0 &&
               __atomic_compare_exchange_n(&m_word, &seen, seen + one_reader, false,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    };
    if (!join()) [[unlikely]]
        wait_until(cpu, join);
    arch::set_lock_shared_here(true);
}

void KernelLock::leave_shared() {
    arch::set_lock_shared_here(false);
    uint64_t before = __atomic_fetch_sub(&m_word, one_reader, __ATOMIC_RELEASE);
    VERIFY(before >= one_reader);
}

void KernelLock::convert(bool shared) {
    if (shared) {
        leave();
        enter_shared();
    } else {
        leave_shared();
        enter();
    }
}

uint64_t KernelLock::contended(uint32_t cpu) {
    return cpu < max_cpus ? __atomic_load_n(&s_cpus[cpu].contended, __ATOMIC_ACQUIRE) : 0;
}

uint64_t KernelLock::wait_cycles(uint32_t cpu) {
    return cpu < max_cpus ? __atomic_load_n(&s_cpus[cpu].cycles, __ATOMIC_RELAXED) : 0;
}

} // namespace capos::kernel
