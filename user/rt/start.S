/* Process entry (abi/user_layout.h): %rdi = ring, %rsi = process id,
 * %rdx = CapSet page, %rsp = 16-byte aligned stack top. */
    .section .text.entry, "ax"
    .global _start
_start:
    xorl %ebp, %ebp
    call capos_rt_start
    ud2

/* A thread's entry (ThreadSpawner.spawn): %rdi = its ring, %rsi = its
 * StartBlock (user/rt/thread.cpp), %rsp = 16-byte aligned. */
    .text
    .global capos_rt_thread_entry
capos_rt_thread_entry:
    xorl %ebp, %ebp
    call capos_rt_thread_main
    ud2
