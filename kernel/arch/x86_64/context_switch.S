/* Switching kernel threads.
 *
 * capos_context_switch(uint64_t* save_rsp, uint64_t load_rsp): pushes the
 * callee-saved registers on the current stack, stores the stack pointer in
 * *save_rsp, loads load_rsp and pops the other thread's registers: the
 * System V ABI says everything else is already saved by the caller.
 *
 * A new thread's stack is prepared (make_thread_context in thread_context.cpp)
 * so that the pops land in capos_thread_trampoline with %r12 = entry and
 * %r13 = argument.
 */
    .text

    .global capos_context_switch
capos_context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    .global capos_thread_trampoline
capos_thread_trampoline:
    xorl %ebp, %ebp
    andq $-16, %rsp
    movq %r13, %rdi
    call *%r12
    ud2 /* entry functions never return */

    /* capos_enter_trap_frame(TrapFrame*): leaves the kernel through the common
     * interrupt return path with the given frame (used to start user threads). */
    .global capos_enter_trap_frame
capos_enter_trap_frame:
    movq %rdi, %rsp
    jmp capos_trap_return
