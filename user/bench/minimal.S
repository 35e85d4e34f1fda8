// The smallest capOS program: exit(0) (abi/syscall.h: rax = 1, rdi = code).
// What ring_bench spawns and waits for to time process creation.
    .section .text.entry, "ax"
    .globl _start
_start:
    movl $1, %eax
    xorl %edi, %edi
    syscall
    ud2
    .section .note.GNU-stack, "", @progbits
