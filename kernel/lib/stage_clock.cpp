#include "kernel/lib/stage_clock.h"

#if CAPOS_STAGE_CLOCK
#include "kernel/lib/log.h"

namespace capos::kernel::stage_clock {

namespace {

constinit uint64_t g_mark_cycles = 0; // one mark's own cost

constexpr const char* stage_names[size_t(Stage::Count)] = {
    "user", "ring", "submission", "service", "answer", "endpoint", "switch"};

void reset() {
    for (size_t i = 0; i < size_t(Stage::Count); ++i)
        detail::g_cycles[i] = detail::g_entries[i] = 0;
    detail::g_calls = 0;
    detail::g_last = arch::read_cycle_counter();
}

} // namespace

void calibrate() {
    constexpr uint64_t marks = 4096;
    Stage was = detail::g_current;
    reset();
    uint64_t start = arch::read_cycle_counter();
    for (uint64_t i = 0; i < marks; ++i)
        enter(Stage::Ring);
    g_mark_cycles = (arch::read_cycle_counter() - start) / marks;
    reset();
    detail::g_current = was;
    log_info("stage clock: a mark costs {} cycles", g_mark_cycles);
}

void report(uint64_t process_id) {
    log_info("stage clock: process {} calls {} cycles_per_us {} mark {}", process_id,
             detail::g_calls, cycles_per_microsecond(), g_mark_cycles);
    for (size_t i = 0; i < size_t(Stage::Count); ++i)
        log_info("stage clock: process {} stage {} cycles {} entries {}", process_id,
                 stage_names[i], detail::g_cycles[i], detail::g_entries[i]);
}

} // namespace capos::kernel::stage_clock
#endif
