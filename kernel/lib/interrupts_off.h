// How long the kernel holds the CPU with interrupts off. On one CPU every
// piece of kernel work runs in such a stretch: from an entry from a context
// that had interrupts on (a system call, an interrupt of user code or of the
// idle loop) until the CPU next runs with them on (the return to user mode,
// the idle loop's sti), across any context switches in between. The longest
// stretch bounds how late a timer tick or a device interrupt is taken.
//
// Off by default (a flag test per kernel entry and exit). The command line's
// `irqoff=<microseconds>` turns the measurement on: every stretch longer than
// the bound is logged as an error ("interrupts were off for ..."), which the
// scenarios that pass the option forbid; docs/status.md states the bound.
#pragma once

#include <cstdint>

namespace capos::kernel::interrupts_off {

struct State {
    bool measuring = false;
    bool open = false; // a stretch has begun and not ended
    uint64_t bound_us = 0;
    uint64_t since_us = 0;       // when the open stretch began
    uint64_t lock_cycles_at = 0; // the boot CPU's kernel lock waits then
    uint64_t longest_us = 0;
    uint64_t over_bound = 0; // stretches longer than the bound
};
extern constinit State g_state;

void configure(uint64_t bound_us);
void begin_measured();
void end_measured();

// Interrupts just went off (kernel entry from a context that had them on).
inline void begin() {
    if (g_state.measuring)
        begin_measured();
}
// Interrupts are about to go on.
inline void end() {
    if (g_state.measuring)
        end_measured();
}

} // namespace capos::kernel::interrupts_off
