// The per-CPU area, reached through the GS base in kernel mode. Its first
// fields are read by syscall_entry.S at fixed offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::kernel::x86 {

struct Cpu {
    Cpu* self;             // %gs:0
    uint64_t kernel_stack; // %gs:8, top of the running thread's kernel stack
    uint64_t user_rsp;     // %gs:16, scratch for the system-call entry
};
static_assert(offsetof(Cpu, kernel_stack) == 8);
static_assert(offsetof(Cpu, user_rsp) == 16);

Cpu& this_cpu();
void set_tss_kernel_stack(uint64_t stack_top);

} // namespace capos::kernel::x86
