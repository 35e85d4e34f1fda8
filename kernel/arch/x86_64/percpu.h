// The per-CPU area, reached through the GS base in kernel mode. Its first
// fields are read by syscall_entry.S at fixed offsets. The boot CPU's is a
// global, set up first thing (gdt.cpp); each other CPU's is allocated when it
// is started (smp.cpp).
#pragma once

#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/gdt.h"
#include <cstddef>
#include <cstdint>

namespace capos::kernel::x86 {

struct Cpu {
    Cpu* self;             // %gs:0
    uint64_t kernel_stack; // %gs:8, top of the running thread's kernel stack
    uint64_t user_rsp;     // %gs:16, scratch for the system-call entry
    uint32_t index;        // 0 for the boot CPU, then in start order
    uint32_t apic_id;
    void* kernel_local;   // %gs:32, the generic kernel's (arch::cpu_local)
    bool lock_shared;     // %gs:40, arch::lock_shared_here
    uint64_t loaded_root; // the page tables loaded here (tlb.cpp)
    bool timer_paused;    // arch::timer_pause
    CpuTables tables;     // this CPU's GDT and task state
};
static_assert(offsetof(Cpu, kernel_stack) == 8);
static_assert(offsetof(Cpu, user_rsp) == 16);
static_assert(offsetof(Cpu, index) == cpu_index_offset);
static_assert(offsetof(Cpu, kernel_local) == cpu_local_offset);
static_assert(offsetof(Cpu, lock_shared) == lock_shared_offset);

inline Cpu& this_cpu() {
    Cpu* cpu;
    asm("movq %%gs:0, %0" : "=r"(cpu));
    return *cpu;
}

Cpu& boot_cpu();
void set_tss_kernel_stack(uint64_t stack_top);

} // namespace capos::kernel::x86
