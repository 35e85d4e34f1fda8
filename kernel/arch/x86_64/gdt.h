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

void gdt_init();
void set_ist_stack(IstSlot slot, uint64_t stack_top);

} // namespace capos::kernel::x86
