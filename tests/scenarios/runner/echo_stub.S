// A stand-in kernel for the runner's self-tests: proves that capos-qemu reports
// each kind of failure, without depending on the real kernel.
//
// QEMU boots it through its PVH note in 32-bit protected mode. It prints its
// command line to COM1 with every ';' turned into a newline and every '~' turned
// into a pause of about 0.27 s (so that the lines after it reach the runner
// separately, well after the ones before), then looks at the command line's last
// character:
//   '0'..'3'  exit through isa-debug-exit with that abi::ExitCode
//   'r'       reset the machine with a triple fault (QEMU status 0 under -no-reboot)
//   other     halt forever (for timeouts)

    .section .note.pvh, "a", @note
    .p2align 2
    .long 4                     // name size: "Xen\0"
    .long 8                     // descriptor size (a 64-bit ELF reads 8 bytes)
    .long 18                    // XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .quad _start

    .text
    .code32
    .globl _start
_start:
    cli
    mov 24(%ebx), %esi          // hvm_start_info.cmdline_paddr (below 4 GiB)
    xor %ecx, %ecx              // %cl: last character seen
    mov $0x3f8, %dx             // COM1 data register
    test %esi, %esi
    jz .Lhang
.Lnext:
    movb (%esi), %al
    test %al, %al
    jz .Lend
    cmp $'~', %al
    je .Lpause
    mov %al, %cl
    cmp $';', %al
    jne .Lput
    mov $'\n', %al
.Lput:
    out %al, %dx
    inc %esi
    jmp .Lnext
// Five terminal counts of PIT channel 2 (mode 0, 65535 ticks of 1.193182 MHz, QEMU's
// virtual clock), each seen as its output going high in port 0x61 bit 5. No stack:
// PVH does not give one.
.Lpause:
    mov $5, %ebx                // hvm_start_info is not needed any more
.Lpause_next:
    in $0x61, %al
    and $0xfc, %al              // gate off, speaker off
    out %al, $0x61
    mov $0xb0, %al              // channel 2, low then high byte, mode 0, binary
    out %al, $0x43
    mov $0xff, %al
    out %al, $0x42
    out %al, $0x42
    in $0x61, %al
    or $0x01, %al               // gate on: counting starts
    out %al, $0x61
.Lpause_wait:
    in $0x61, %al
    test $0x20, %al
    jz .Lpause_wait
    dec %ebx
    jnz .Lpause_next
    inc %esi
    jmp .Lnext
.Lend:
    mov $'\n', %al
    out %al, %dx
    cmp $'r', %cl
    je .Lreset
    sub $'0', %cl
    cmp $3, %cl
    ja .Lhang
    mov %cl, %al
    out %al, $0xf4              // abi::debug_exit_port
.Lhang:
    hlt
    jmp .Lhang
.Lreset:
    lidt .Lempty_idt            // no IDT: the breakpoint escalates to a triple fault
    int3

    .section .rodata
.Lempty_idt:
    .word 0
    .long 0
