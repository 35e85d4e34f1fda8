#include "kernel/lib/interrupts_off.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"

namespace capos::kernel::interrupts_off {

constinit State g_state;

void configure(uint64_t bound_us) {
    g_state.bound_us = bound_us;
    g_state.measuring = true;
    log_info("kernel: measuring stretches with interrupts off (bound {} us)", bound_us);
}

// Only the boot CPU's stretches are measured: threads run there, and the
// other CPUs only wait for interrupts.
void begin_measured() {
    if (arch::current_cpu_index() != 0)
        return;
    g_state.open = true;
    g_state.since_us = uptime_microseconds();
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
        log_error("kernel: interrupts were off for {} us (bound {} us)", length, g_state.bound_us);
    }
}

} // namespace capos::kernel::interrupts_off
