// GDT layout and the task state segment's interrupt stacks.
#pragma once

#include <cstdint>

namespace capos::kernel::x86 {

// The order user data before user code is what sysret expects.
inline constexpr uint16_t selector_kernel_code = 0x08;
inline constexpr uint16_t selector_kernel_data = 0x10;
inline constexpr uint16_t selector_user_data = 0x18 | 3;
inline constexpr uint16_t selector_user_code = 0x20 | 3;
inline constexpr uint16_t selector_tss = 0x28;
inline constexpr int gdt_entry_count = 7; // the TSS descriptor takes two entries

// Interrupt stack table slots (1-based, as the IDT names them).
enum class IstSlot : uint8_t { DoubleFault = 1, Nmi = 2, MachineCheck = 3 };

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

// One CPU's descriptor tables: its GDT (the same segments on every CPU, and a
// descriptor of its own task state) and its task state (the kernel stack for
// entries from user mode, the interrupt stacks).
struct CpuTables {
    alignas(16) uint64_t gdt[gdt_entry_count];
    TaskStateSegment tss;
};

struct Cpu;

// Loads `cpu`'s GDT and task state on the CPU running this, and points the GS
// base at `cpu` (kernel mode's per-CPU area). The interrupt stacks are given
// (the boot CPU's small early ones until set_emergency_stacks).
void cpu_tables_load(Cpu& cpu, uint64_t double_fault_top, uint64_t nmi_top,
                     uint64_t machine_check_top);
// The boot CPU's, first thing at boot, with stacks in .bss.
void gdt_init();
void set_ist_stack(IstSlot slot, uint64_t stack_top);

} // namespace capos::kernel::x86
