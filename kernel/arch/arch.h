// The fixed names generic kernel code uses to reach the CPU and the machine.
// Each architecture implements them under kernel/arch/<arch>/; generic code
// includes only this header.
#pragma once

#include "abi/exit_code.h"
#include <cstdint>
#include <string_view>

namespace capos::kernel::arch {

// Sets up the CPU tables (segments, task state, exception vectors) so that any
// fault from here on is reported. Runs once, first thing, on the boot CPU.
void early_init();

// Turns on the protections this CPU offers (SMEP, SMAP, global pages) and
// reports which it found.
struct ProtectionFeatures {
    bool nx;
    bool smep;
    bool smap;
};
ProtectionFeatures enable_protection();
// What is switched on now, and what the CPU reports it could switch on.
ProtectionFeatures protection_state();
ProtectionFeatures protection_supported();

// True when writes through read-only mappings fault in kernel mode (CR0.WP).
bool kernel_write_protect_enabled();

// Gives the double-fault and NMI handlers their guarded stacks (top addresses).
void set_emergency_stacks(uint64_t double_fault_top, uint64_t nmi_top, uint64_t machine_check_top);

// The early console: a UART the kernel writes its log to. write() never takes a
// lock and is safe from any context, including exception handlers.
void console_init();
void console_write(std::string_view text);

// A monotonic cycle counter and its calibrated rate.
uint64_t read_cycle_counter();
uint64_t calibrate_cycles_per_microsecond();

// Switches to a new stack and calls entry() there; never returns.
[[noreturn]] void switch_stack_and_call(uint64_t stack_top, void (*entry)());

// Ends the run: QEMU exits with abi::qemu_status(code). On a machine without the
// debug-exit device it stops the CPU instead.
[[noreturn]] void exit_machine(abi::ExitCode code);

[[noreturn]] void halt_forever();

// Disables interrupts and returns the previous state for interrupts_restore().
uint64_t interrupts_save_disable();
void interrupts_restore(uint64_t state);

} // namespace capos::kernel::arch
