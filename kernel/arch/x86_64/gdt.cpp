// Segments and the task state: a flat 64-bit GDT with kernel and user segments
// and one TSS whose interrupt stack table gives the double-fault, NMI and
// machine-check handlers stacks of their own, so they run even when the
// current stack is broken (for example after overflowing into a guard page).
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/lib/sections.h"

namespace capos::kernel::x86 {

namespace {

struct [[gnu::packed]] TaskStateSegment {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_map_base;
};
static_assert(sizeof(TaskStateSegment) == 104);

struct [[gnu::packed]] DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

// Small stacks in .bss that serve the IST entries until the memory manager
// hands out guarded ones (set_emergency_stacks).
CAPOS_LARGE_BSS alignas(16) uint8_t g_early_ist_stacks[3][4096];

TaskStateSegment g_tss;
alignas(16) uint64_t g_gdt[gdt_entry_count];

constexpr uint64_t code64_kernel = 0x00AF9A000000FFFF;
constexpr uint64_t data_kernel = 0x00CF92000000FFFF;
constexpr uint64_t data_user = 0x00CFF2000000FFFF;
constexpr uint64_t code64_user = 0x00AFFA000000FFFF;

} // namespace

void gdt_init() {
    g_gdt[0] = 0;
    g_gdt[selector_kernel_code / 8] = code64_kernel;
    g_gdt[selector_kernel_data / 8] = data_kernel;
    g_gdt[(selector_user_data & ~3) / 8] = data_user;
    g_gdt[(selector_user_code & ~3) / 8] = code64_user;

    for (int i = 0; i < 3; ++i)
        g_tss.ist[i] = reinterpret_cast<uint64_t>(&g_early_ist_stacks[i][4096]);
    g_tss.io_map_base = sizeof(TaskStateSegment); // no I/O permission bitmap

    uint64_t base = reinterpret_cast<uint64_t>(&g_tss);
    uint64_t limit = sizeof(TaskStateSegment) - 1;
    g_gdt[selector_tss / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                              (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    g_gdt[selector_tss / 8 + 1] = base >> 32;

    DescriptorPointer pointer{sizeof(g_gdt) - 1, reinterpret_cast<uint64_t>(g_gdt)};
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
}

void set_tss_kernel_stack(uint64_t stack_top) {
    g_tss.rsp[0] = stack_top;
}

void set_ist_stack(IstSlot slot, uint64_t stack_top) {
    g_tss.ist[static_cast<int>(slot) - 1] = stack_top;
}

} // namespace capos::kernel::x86

namespace capos::kernel::arch {

void set_emergency_stacks(uint64_t double_fault_top, uint64_t nmi_top, uint64_t machine_check_top) {
    x86::set_ist_stack(x86::IstSlot::DoubleFault, double_fault_top);
    x86::set_ist_stack(x86::IstSlot::Nmi, nmi_top);
    x86::set_ist_stack(x86::IstSlot::MachineCheck, machine_check_top);
}

} // namespace capos::kernel::arch
