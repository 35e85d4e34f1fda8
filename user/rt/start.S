/* Process entry (abi/user_layout.h): %rdi = ring, %rsi = process id,
 * %rdx = CapSet page, %rsp = 16-byte aligned stack top. */
    .section .text.entry, "ax"
    .global _start
_start:
    xorl %ebp, %ebp
    call capos_rt_start
    ud2
