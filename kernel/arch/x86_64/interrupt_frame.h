// The register state exception_entry.S saves on the stack.
#pragma once

#include <cstdint>

namespace capos::kernel::x86 {

struct ExceptionFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;
    // Pushed by the CPU.
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(ExceptionFrame) == 22 * 8);

} // namespace capos::kernel::x86
