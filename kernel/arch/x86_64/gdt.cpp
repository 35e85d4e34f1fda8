// Segments and the task state: a flat 64-bit GDT with kernel and user segments
// and, per CPU, a task state whose interrupt stack table gives the
// double-fault, NMI and machine-check handlers stacks of their own, so they
// run even when the current stack is broken (for example after overflowing
// into a guard page).
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/lib/sections.h"

namespace capos::kernel::x86 {

namespace {

struct [[gnu::packed]] DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

// Small stacks in .bss that serve the boot CPU's IST entries until the memory
// manager hands out guarded ones (set_emergency_stacks).
CAPOS_LARGE_BSS alignas(16) uint8_t g_early_ist_stacks[3][4096];

Cpu g_boot_cpu;

constexpr uint64_t code64_kernel = 0x00AF9A000000FFFF;
constexpr uint64_t data_kernel = 0x00CF92000000FFFF;
constexpr uint64_t data_user = 0x00CFF2000000FFFF;
constexpr uint64_t code64_user = 0x00AFFA000000FFFF;
constexpr uint32_t msr_gs_base = 0xC0000101;

} // namespace

Cpu& boot_cpu() {
    return g_boot_cpu;
}

void cpu_tables_load(Cpu& cpu, uint64_t double_fault_top, uint64_t nmi_top,
                     uint64_t machine_check_top) {
    cpu.self = &cpu;
    uint64_t* gdt = cpu.tables.gdt;
    TaskStateSegment& tss = cpu.tables.tss;
    gdt[0] = 0;
    gdt[selector_kernel_code / 8] = code64_kernel;
    gdt[selector_kernel_data / 8] = data_kernel;
    gdt[(selector_user_data & ~3) / 8] = data_user;
    gdt[(selector_user_code & ~3) / 8] = code64_user;

    tss = {};
    tss.ist[int(IstSlot::DoubleFault) - 1] = double_fault_top;
    tss.ist[int(IstSlot::Nmi) - 1] = nmi_top;
    tss.ist[int(IstSlot::MachineCheck) - 1] = machine_check_top;
    tss.io_map_base = sizeof(TaskStateSegment); // no I/O permission bitmap

    uint64_t base = reinterpret_cast<uint64_t>(&tss);
    uint64_t limit = sizeof(TaskStateSegment) - 1;
    gdt[selector_tss / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                            (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[selector_tss / 8 + 1] = base >> 32;

    DescriptorPointer pointer{sizeof(cpu.tables.gdt) - 1, reinterpret_cast<uint64_t>(gdt)};
    asm volatile("lgdt %0\n"
                 "pushq %1\n"
                 "leaq 1f(%%rip), %%rax\n"
                 "pushq %%rax\n"
                 "lretq\n"
                 "1:\n"
                 "movw %w2, %%ds\n"
                 "movw %w2, %%es\n"
                 "movw %w2, %%ss\n"
                 "xorl %%eax, %%eax\n"
                 "movw %%ax, %%fs\n"
                 "movw %%ax, %%gs\n"
                 "ltr %w3\n"
                 :
                 : "m"(pointer), "i"(uint64_t(selector_kernel_code)), "r"(selector_kernel_data),
                   "r"(selector_tss)
                 : "rax", "memory");
    // After the null selector's load, which may clear the base.
    wrmsr(msr_gs_base, reinterpret_cast<uint64_t>(&cpu));
}

void gdt_init() {
    cpu_tables_load(g_boot_cpu, reinterpret_cast<uint64_t>(&g_early_ist_stacks[0][4096]),
                    reinterpret_cast<uint64_t>(&g_early_ist_stacks[1][4096]),
                    reinterpret_cast<uint64_t>(&g_early_ist_stacks[2][4096]));
}

void set_tss_kernel_stack(uint64_t stack_top) {
    this_cpu().tables.tss.rsp[0] = stack_top;
}

void set_ist_stack(IstSlot slot, uint64_t stack_top) {
    this_cpu().tables.tss.ist[static_cast<int>(slot) - 1] = stack_top;
}

} // namespace capos::kernel::x86

namespace capos::kernel::arch {

void set_emergency_stacks(uint64_t double_fault_top, uint64_t nmi_top, uint64_t machine_check_top) {
    x86::set_ist_stack(x86::IstSlot::DoubleFault, double_fault_top);
    x86::set_ist_stack(x86::IstSlot::Nmi, nmi_top);
    x86::set_ist_stack(x86::IstSlot::MachineCheck, machine_check_top);
}

} // namespace capos::kernel::arch
