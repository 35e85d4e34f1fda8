/* The `syscall` instruction's entry point (IA32_LSTAR).
 *
 * On entry: %rcx = user rip, %r11 = user rflags, %rsp = user stack, interrupts
 * off (IA32_FMASK clears IF, DF, TF and AC), GS = user's. We switch to the
 * kernel GS and the current thread's kernel stack (per-CPU area, percpu.h),
 * build a TrapFrame exactly like an interrupt's (vector 0x100 marks a system
 * call) and call syscall_dispatch(TrapFrame*), which leaves the result in
 * frame->rax. Return is by sysretq; syscall_dispatch has checked that the
 * return address is a canonical user address (sysret with a non-canonical
 * %rcx would fault in kernel mode with the user's stack).
 */

#include "kernel/arch/x86_64/trap_frame.inc"
#define CPU_KERNEL_STACK 8
#define CPU_USER_RSP 16
#define USER_DATA_SELECTOR (0x18 | 3)
#define USER_CODE_SELECTOR (0x20 | 3)

    .text
    .global capos_syscall_entry
capos_syscall_entry:
    swapgs
    movq %rsp, %gs:CPU_USER_RSP
    movq %gs:CPU_KERNEL_STACK, %rsp
    pushq $USER_DATA_SELECTOR
    pushq %gs:CPU_USER_RSP
    pushq %r11
    pushq $USER_CODE_SELECTOR
    pushq %rcx
    pushq $0
    pushq $0x100
    PUSH_GENERAL_REGISTERS
    cld
    movq %rsp, %rdi
    call syscall_dispatch
    POP_GENERAL_REGISTERS
    addq $16, %rsp          /* vector and error code */
    movq 0(%rsp), %rcx      /* rip */
    movq 16(%rsp), %r11     /* rflags */
    movq 24(%rsp), %rsp     /* user stack */
    swapgs
    sysretq
