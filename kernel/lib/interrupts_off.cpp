#include "kernel/lib/interrupts_off.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"

namespace capos::kernel::interrupts_off {

constinit State g_state;

void configure(uint64_t bound_us) {
    g_state.bound_us = bound_us;
    g_state.measuring = true;
    log_info("kernel: measuring stretches with interrupts off (bound {} us)", bound_us);
}

// Only the boot CPU's stretches are measured (one record, no locking); the
// tests measure on one CPU (tools/qemu-runner/README.md, `irqoff`). What of a
// stretch went to waiting for the kernel lock is said with it.
void begin_measured() {
    if (arch::current_cpu_index() != 0)
        return;
    g_state.open = true;
    g_state.since_us = uptime_microseconds();
    g_state.lock_cycles_at = KernelLock::wait_cycles(0);
}

void end_measured() {
    if (!g_state.open || arch::current_cpu_index() != 0)
        return;
    g_state.open = false;
    uint64_t length = uptime_microseconds() - g_state.since_us;
    if (length > g_state.longest_us)
        g_state.longest_us = length;
    if (length > g_state.bound_us) {
        ++g_state.over_bound;
        uint64_t per_us = cycles_per_microsecond();
        uint64_t waited =
            per_us ? (KernelLock::wait_cycles(0) - g_state.lock_cycles_at) / per_us : 0;
        log_error("kernel: interrupts were off for {} us (bound {} us; {} us of it waiting for "
                  "the kernel lock)",
                  length, g_state.bound_us, waited);
    }
}

} // namespace capos::kernel::interrupts_off
