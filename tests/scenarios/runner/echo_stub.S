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
//   'e'       echo what COM1 receives, a line at a time (for scenarios that send)
//   other     halt forever (for timeouts)
//
// Echo mode polls COM1 (line status register 0x3fd bit 0: a byte is ready at 0x3f8)
// and repeats, until Ctrl-D:
//   1. for about 55 ms, reads and drops whatever arrives: input typed before the
//      prompt is lost, so a runner that does not wait for the prompt fails;
//   2. prints the prompt line "ready";
//   3. echoes each byte it receives, printable ASCII as itself and any other byte as
//      <hh> (two lower-case hex digits), until Enter ('\r'), for which it prints
//      '|', the number of bytes before it as four hex digits, and a newline.
// Ctrl-D (0x04) in step 3 prints "<04>" and a newline and exits with
// ExitCode::Success, leaving whatever follows it unread.

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
    cld                         // for lodsb in puts
    mov $.Lstack_top, %esp      // only the echo mode calls; the rest needs no stack
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
// virtual clock), each seen as its output going high in port 0x61 bit 5. Uses no
// stack.
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
    cmp $'e', %cl
    je .Lecho
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

.Lecho:
    call drop_input
    mov $.Lready, %esi
    call puts
    xor %edi, %edi              // bytes in this line
.Lecho_next:
    call getc
    cmp $'\r', %al
    je .Lecho_enter
    cmp $0x04, %al
    je .Lecho_eot
    inc %edi
    call put_visible
    jmp .Lecho_next
.Lecho_enter:
    mov $'|', %al
    call putc
    mov %edi, %eax
    shr $8, %eax
    call put_hex
    mov %edi, %eax
    call put_hex
    mov $'\n', %al
    call putc
    jmp .Lecho
.Lecho_eot:
    call put_visible
    mov $'\n', %al
    call putc
    mov $0, %al                 // abi::ExitCode::Success
    out %al, $0xf4
    jmp .Lhang

// putc: writes %al to COM1 once the transmitter is empty. Keeps every register.
putc:
    push %edx
    push %eax
    mov $0x3fd, %dx
1:  in %dx, %al
    test $0x20, %al             // transmit holding register empty
    jz 1b
    pop %eax
    mov $0x3f8, %dx
    out %al, %dx
    pop %edx
    ret

// puts: writes the NUL-terminated string at %esi. Clobbers %eax and %esi.
puts:
    lodsb
    test %al, %al
    jz 1f
    call putc
    jmp puts
1:  ret

// getc: waits for a byte from COM1 and returns it in %al. Keeps the other registers.
getc:
    push %edx
    mov $0x3fd, %dx
1:  in %dx, %al
    test $0x01, %al             // data ready
    jz 1b
    mov $0x3f8, %dx
    in %dx, %al
    pop %edx
    ret

// put_visible: writes %al as itself if printable ASCII, else as <hh>.
put_visible:
    cmp $0x20, %al
    jb 1f
    cmp $0x7e, %al
    ja 1f
    jmp putc
1:  push %eax
    mov $'<', %al
    call putc
    pop %eax
    call put_hex
    mov $'>', %al
    jmp putc

// put_hex: writes %al as two lower-case hex digits. Keeps the other registers.
put_hex:
    push %ebx
    push %eax
    movzbl %al, %ebx
    shr $4, %ebx
    mov .Lhex_digits(%ebx), %al
    call putc
    mov (%esp), %eax
    movzbl %al, %ebx
    and $0x0f, %ebx
    mov .Lhex_digits(%ebx), %al
    call putc
    pop %eax
    pop %ebx
    ret

// drop_input: reads and drops what COM1 receives during one terminal count of PIT
// channel 2 (65535 ticks, about 55 ms; see .Lpause). Clobbers %eax and %edx.
drop_input:
    in $0x61, %al
    and $0xfc, %al
    out %al, $0x61
    mov $0xb0, %al
    out %al, $0x43
    mov $0xff, %al
    out %al, $0x42
    out %al, $0x42
    in $0x61, %al
    or $0x01, %al
    out %al, $0x61
1:  mov $0x3fd, %dx
    in %dx, %al
    test $0x01, %al
    jz 2f
    mov $0x3f8, %dx
    in %dx, %al
2:  in $0x61, %al
    test $0x20, %al
    jz 1b
    ret

    .section .rodata
.Lempty_idt:
    .word 0
    .long 0
.Lhex_digits:
    .ascii "0123456789abcdef"
.Lready:
    .asciz "ready\n"

    .bss
    .p2align 4
    .skip 4096
.Lstack_top:
