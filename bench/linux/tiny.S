// The small static binary peer_bench starts (posix_spawn, fork + exec): exit(0)
// and nothing else, the Linux counterpart of user/bench/minimal.S.
    .text
    .globl _start
_start:
    movl $60, %eax
    xorl %edi, %edi
    syscall
    .section .note.GNU-stack, "", @progbits
