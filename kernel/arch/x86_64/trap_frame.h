// The register state interrupt_entry.S saves on the stack for every interrupt
// and exception, and syscall_entry.S for every system call. The order of the
// general registers is written once for assembly, in trap_frame.inc.
#pragma once

#include <cstdint>

namespace capos::kernel::x86 {

struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;
    // Pushed by the CPU (or built the same way by the syscall entry).
    uint64_t rip, cs, rflags, rsp, ss;

    bool from_user() const { return (cs & 3) == 3; }
};
static_assert(sizeof(TrapFrame) == 22 * 8);

} // namespace capos::kernel::x86
