// Kernel log: console output with a level letter and a monotonic timestamp,
// and every entry kept in the log ring.
#include "kernel/lib/log.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/sections.h"
#include "kernel/lib/spinlock.h"
#include "kernel/mm/kernel_map.h"

namespace capos::kernel {

namespace {

constinit SpinLock g_log_lock;
LogLevel g_level = LogLevel::Info;
bool g_level_chosen = false; // by log_set_level: the manifest's level does not apply
bool g_in_panic = false;

// The log ring (LogReader reads it): 64 KiB, some hundreds of lines, guarded
// by g_log_lock. Static, so the log path never allocates.
constexpr size_t ring_words = 64 * 1024 / sizeof(uint64_t);
CAPOS_LARGE_BSS uint64_t g_ring_storage[ring_words];
constinit log::LogRing g_ring{g_ring_storage};

// The console's line of an entry: the time, the level's letter, the source
// unless it is the kernel, the message, and a newline.
constexpr size_t max_line_bytes =
    32 + log::LogRing::max_source_bytes + log::LogRing::max_message_bytes;

void write_entry(LogLevel level, std::string_view source, std::string_view message) {
    uint64_t time_ns = uptime_nanoseconds();
    // Formatted before the lock is taken; only the copies into the ring and to
    // the console are made under it (bounded by the longest entry).
    char line[max_line_bytes];
    size_t length = 0;
    bool shown = log_enabled(level);
    if (shown) {
        length = log::format_line(time_ns, level, source, message, {line, sizeof line - 1});
        line[length++] = '\n';
    }
    SpinLockGuard guard(g_log_lock);
    g_ring.append(time_ns, level, source, message);
    if (shown)
        arch::console_write({line, length});
}

} // namespace

SpinLock& detail::log_lock() {
    return g_log_lock;
}

const log::LogRing& detail::log_ring() {
    return g_ring;
}

void log_set_level(LogLevel level) {
    g_level = level;
    g_level_chosen = true;
}

void log_set_manifest_level(LogLevel level) {
    if (!g_level_chosen)
        g_level = level;
}

std::optional<LogLevel> log_level_named(std::string_view name) {
    for (uint16_t value = 0; value < schema::enumerant_count(LogLevel{}); ++value) {
        auto level = static_cast<LogLevel>(value);
        if (schema::enumerant_name(level) == name)
            return level;
    }
    return std::nullopt;
}

bool log_enabled(LogLevel level) {
    return level <= g_level;
}

uint64_t cycles_per_microsecond() {
    return clock::g_cycles_per_microsecond != 0 ? clock::g_cycles_per_microsecond : 1;
}

void log_start_clock(uint64_t cycles_per_microsecond) {
    clock::g_cycles_per_microsecond = cycles_per_microsecond;
    clock::g_clock_start = arch::read_cycle_counter();
    if (cycles_per_microsecond != 0) {
        clock::g_to_microseconds = CycleScale::make(cycles_per_microsecond, 1);
        clock::g_to_nanoseconds = CycleScale::make(cycles_per_microsecond, 1000);
    }
}

void console_write_text(std::string_view text, bool newline) {
    SpinLockGuard guard(g_log_lock);
    arch::console_write(text);
    if (newline)
        arch::console_write("\n");
}

void log_write_line(LogLevel level, std::string_view message) {
    write_entry(level, log::kernel_source, message);
}

void log_write_from(LogLevel level, std::string_view source, std::string_view message) {
    write_entry(level, source, message);
}

void emergency_write(std::string_view text) {
    arch::console_write(text);
}

void print_stack_trace(uint64_t frame_pointer) {
    emergency_print("stack trace:");
    for (int depth = 0; depth < 32 && frame_pointer != 0; ++depth) {
        // Each frame holds [saved rbp][return address]; both words must be
        // readable kernel memory before they are touched.
        if ((frame_pointer & 7) != 0 || !kernel_range_is_mapped(frame_pointer, 16)) {
            emergency_print("  (frame pointer {} is not readable)", Hex{frame_pointer});
            return;
        }
        auto* frame = reinterpret_cast<const uint64_t*>(frame_pointer);
        uint64_t return_address = frame[1];
        if (return_address == 0)
            return;
        emergency_print("  #{} {}", depth, Hex{return_address, 16});
        frame_pointer = frame[0];
    }
}

[[noreturn]] void panic_message(std::string_view message) {
    arch::interrupts_save_disable();
    if (g_in_panic) {
        emergency_write("PANIC while panicking\n");
        arch::exit_machine(abi::ExitCode::Panic);
    }
    g_in_panic = true;
    size_t stopped = arch::stop_other_cpus();
    emergency_print("PANIC: {}", message);
    if (stopped > 0)
        emergency_print("panic: {} other CPUs stopped", stopped);
    print_stack_trace(reinterpret_cast<uint64_t>(__builtin_frame_address(0)));
    arch::exit_machine(abi::ExitCode::Panic);
}

} // namespace capos::kernel
