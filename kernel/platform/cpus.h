// The CPUs of the machine: the boot CPU and every other one the MADT lists as
// enabled, started at boot (cpus_init). The others wait halted until the
// scheduler starts, then run threads like the boot CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::kernel {

struct CpuRecord {
    uint32_t index = 0;
    uint32_t interrupt_id = 0; // the APIC id
    bool online = false;
    uint64_t test_interrupts = 0; // the self-tests' interprocessor interrupts it took
    // Run by the next test interrupt, before it is counted, without the
    // kernel lock (the self-tests' way to act on this CPU).
    void (*test_call)(void*) = nullptr;
    void* test_argument = nullptr;
    uint64_t idle_cycles = 0; // cycle-counter ticks of the idle spans that ended
    uint64_t idle_since = 0;  // when the idle span under way began; 0: none is
    uint64_t online_at = 0;   // the cycle counter when it came online
};

// Starts every enabled CPU of the MADT (at most `cpus=<n>` of the command
// line, counting the boot CPU) and logs each. After interrupt_controllers_init.
void cpus_init(std::string_view command_line);

size_t cpu_count(); // the CPUs known: online, or that failed to start
CpuRecord& cpu_record(size_t index);
CpuRecord& current_cpu();

// Halts this CPU until an interrupt arrives (interrupts on meanwhile, off
// again after) and counts the time as idle: the idle loops' body. An
// interrupt that switches to another thread ends the idle span there
// (cpu_idle_end, from the scheduler), so the time that thread runs is not
// counted as idle.
void cpu_idle_wait();
void cpu_idle_end();
// The idle cycles of `cpu` up to `now`, the span under way included.
uint64_t cpu_idle_cycles(const CpuRecord& cpu, uint64_t now);
// Whether `cpu` halts in its idle loop now (read on any CPU, with or
// without the kernel lock: a hint, stale as soon as read).
inline bool cpu_halted_idle(const CpuRecord& cpu) {
    return __atomic_load_n(&cpu.idle_since, __ATOMIC_RELAXED) != 0;
}

} // namespace capos::kernel
