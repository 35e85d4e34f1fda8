// The kernel log: leveled, timestamped lines on the console, and every entry
// kept in a ring for reading back (LogReader; lib/log/log_ring.h).
//
// log() formats into a stack buffer and, under the log lock, appends the entry
// to the ring and writes the whole line, so lines from different contexts
// never interleave. emergency_print() takes no lock at all and keeps nothing:
// it is for exception handlers and panics, which may run while the lock is
// held.
//
// The levels are the schema's LogLevel (schema/capos.capnp), the one
// definition that LogSink callers, the manifest's KernelParameters and the
// kernel share. The ring keeps every level; the console shows a level when it
// is the threshold or more severe.
#pragma once

#include "abi/exit_code.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/format.h"
#include "kernel/lib/spinlock.h"
#include "lib/base/cycle_scale.h"
#include "lib/log/log_ring.h"
#include "schema/capos.capnp.capos.h"
#include <optional>

namespace capos::kernel {

using LogLevel = schema::LogLevel;

// The threshold, chosen by the operator (the command line's `loglevel=`).
// Info until something chooses.
void log_set_level(LogLevel level);
// The threshold the boot manifest asks for (KernelParameters.logLevel): it
// applies unless log_set_level has chosen one, which wins.
void log_set_manifest_level(LogLevel level);
// Whether the console shows `level` (the ring keeps every level).
bool log_enabled(LogLevel level);
// The level the schema calls `name` ("debug"), if there is one.
std::optional<LogLevel> log_level_named(std::string_view name);
// One entry of the kernel's own.
void log_write_line(LogLevel level, std::string_view message);
// One entry written for someone else (LogSink: "name[id]"); the console shows
// "source: message".
void log_write_from(LogLevel level, std::string_view source, std::string_view message);

namespace detail {
SpinLock& log_lock();
const ::capos::log::LogRing& log_ring();
} // namespace detail

// Runs `read(const log::LogRing&)` under the log lock, so no entry is added
// meanwhile, and returns what it returns. Interrupts are off throughout and
// nothing may log inside (the lock is not recursive): keep it to a bounded
// walk of the ring.
template <typename Read>
decltype(auto) with_log_ring(Read&& read) {
    SpinLockGuard guard(detail::log_lock());
    return read(detail::log_ring());
}

// Time since the cycle counter was calibrated (0 before that). Inline: read
// on every kernel call's path (preemption points, Timer.now). A multiply and
// a shift each (lib/base/cycle_scale.h), no division.
namespace clock {
inline constinit uint64_t g_clock_start = 0;            // set by log_start_clock
inline constinit uint64_t g_cycles_per_microsecond = 0; // 0 until calibrated
inline constinit CycleScale g_to_microseconds{};        // multiplier 0 until calibrated
inline constinit CycleScale g_to_nanoseconds{};
} // namespace clock
inline uint64_t uptime_microseconds() {
    return clock::g_to_microseconds.apply(arch::read_cycle_counter() - clock::g_clock_start);
}
inline uint64_t uptime_nanoseconds() {
    return clock::g_to_nanoseconds.apply(arch::read_cycle_counter() - clock::g_clock_start);
}

// Writes text for a process's Console under the log lock, so it never splits a
// log line (or another writer's line); `newline` appends one.
void console_write_text(std::string_view text, bool newline);
void log_start_clock(uint64_t cycles_per_microsecond);
// The cycle counter's rate (calibrated at boot; 1 before that).
uint64_t cycles_per_microsecond();

// Every level is formatted, for the ring, whether the console shows it or not.
template <typename... Args>
void log(LogLevel level, std::string_view fmt, const Args&... args) {
    char storage[256];
    FormatBuffer out(storage, sizeof(storage));
    log_write_line(level, format_to(out, fmt, args...));
}

template <typename... Args>
void log_info(std::string_view fmt, const Args&... args) {
    log(LogLevel::Info, fmt, args...);
}
template <typename... Args>
void log_warn(std::string_view fmt, const Args&... args) {
    log(LogLevel::Warn, fmt, args...);
}
template <typename... Args>
void log_error(std::string_view fmt, const Args&... args) {
    log(LogLevel::Error, fmt, args...);
}
template <typename... Args>
void log_debug(std::string_view fmt, const Args&... args) {
    log(LogLevel::Debug, fmt, args...);
}

void emergency_write(std::string_view text);

// Lock-free output straight to the console, a whole formatted line at a time.
template <typename... Args>
void emergency_print(std::string_view fmt, const Args&... args) {
    char storage[256];
    FormatBuffer out(storage, sizeof(storage));
    format_to(out, fmt, args...);
    out.append('\n');
    emergency_write(out.view());
}

// Prints the return addresses found by following the frame-pointer chain from
// `frame_pointer`, stopping at the first frame that is not mapped kernel memory.
void print_stack_trace(uint64_t frame_pointer);

[[noreturn]] void panic_message(std::string_view message);

template <typename... Args>
[[noreturn]] void panic(std::string_view fmt, const Args&... args) {
    char storage[256];
    FormatBuffer out(storage, sizeof(storage));
    panic_message(format_to(out, fmt, args...));
}

} // namespace capos::kernel

// Checks an internal invariant; a false one is a kernel bug and panics.
#define VERIFY(condition)                                                                          \
    do {                                                                                           \
        if (!(condition))                                                                          \
            ::capos::kernel::panic("VERIFY({}) failed at {}:{}", #condition, __FILE__, __LINE__);  \
    } while (0)
