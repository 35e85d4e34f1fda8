/* 32-bit entry from GRUB (Multiboot2) and from QEMU (PVH), and the switch to
 * long mode.
 *
 * Both protocols enter in 32-bit protected mode with paging off and leave the
 * GDT and stack undefined. Both paths meet at enter_long_mode with
 *   %esi = boot protocol (1 = Multiboot2, 2 = PVH), %edi = physical address of
 *   the boot information,
 * build boot page tables (first 4 GiB identity-mapped and at the direct map,
 * first 1 GiB at the kernel's higher-half address, all 2 MiB pages), enable PAE,
 * long mode, NX and paging, and call kernel_entry(protocol, info) on the
 * higher-half boot stack. The C++ kernel replaces these tables at once.
 */

#define MB2_MAGIC 0xe85250d6
#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define KERNEL_VMA 0xFFFFFFFF80000000

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0 /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
    /* end tag */
    .short 0
    .short 0
    .long 8
mb2_header_end:

    /* PVH: Xen's XEN_ELFNOTE_PHYS32_ENTRY note tells QEMU where to enter. */
    .section .note.pvh, "a", @note
    .balign 4
    .long 4  /* name size */
    .long 4  /* descriptor size */
    .long 18 /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_entry
    .balign 4

    .section .boot.text, "ax"
    .code32

    .global mb2_entry
mb2_entry:
    cli
    cld
    cmp $MB2_BOOTLOADER_MAGIC, %eax
    jne bad_multiboot
    mov $1, %esi
    mov %ebx, %edi
    jmp enter_long_mode

    .global pvh_entry
pvh_entry:
    cli
    cld
    mov $2, %esi
    mov %ebx, %edi
    jmp enter_long_mode

bad_multiboot:
    mov $msg_bad_magic, %ebx
    jmp boot_fail

enter_long_mode:
    mov $boot_stack_top, %esp

    /* Long mode and NX are required. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode
    test $(1 << 20), %edx
    jz no_nx

    /* Clear the boot page tables (the loaders zero .bss, but do not rely on it). */
    mov %edi, %ebp
    mov $boot_page_tables, %edi
    mov $(boot_page_tables_end - boot_page_tables) / 4, %ecx
    xor %eax, %eax
    rep stosl
    mov %ebp, %edi

    /* Four page directories map 0..4 GiB with 2 MiB pages (present, writable, large). */
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* PDPT for the low half: four entries, one per page directory. */
    mov $boot_pd, %eax
    or $0x3, %eax
    mov %eax, boot_pdpt_low
    add $0x1000, %eax
    mov %eax, boot_pdpt_low + 8
    add $0x1000, %eax
    mov %eax, boot_pdpt_low + 16
    add $0x1000, %eax
    mov %eax, boot_pdpt_low + 24

    /* PDPT for the top 512 GiB: entries 0-3 are the direct map of the first
     * 4 GiB (at -512 GiB), entry 510 (-2 GiB) maps the first GiB. */
    mov $boot_pd, %eax
    or $0x3, %eax
    mov %eax, boot_pdpt_high
    mov %eax, boot_pdpt_high + 510 * 8
    add $0x1000, %eax
    mov %eax, boot_pdpt_high + 8
    add $0x1000, %eax
    mov %eax, boot_pdpt_high + 16
    add $0x1000, %eax
    mov %eax, boot_pdpt_high + 24

    /* PML4: identity (0), the direct map and the kernel (511). */
    mov $boot_pdpt_low, %eax
    or $0x3, %eax
    mov %eax, boot_pml4
    mov $boot_pdpt_high, %eax
    or $0x3, %eax
    mov %eax, boot_pml4 + 511 * 8

    mov $boot_pml4, %eax
    mov %eax, %cr3

    mov %cr4, %eax
    or $(1 << 5), %eax /* PAE */
    mov %eax, %cr4

    mov $0xC0000080, %ecx /* EFER */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax /* LME, NXE */
    wrmsr

    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $msg_no_long_mode, %ebx
    jmp boot_fail
no_nx:
    mov $msg_no_nx, %ebx

    /* Print the NUL-terminated string at %ebx on COM1, then stop. */
boot_fail:
    mov $0x3f8, %dx
2:  movb (%ebx), %al
    test %al, %al
    jz 3f
    outb %al, %dx
    inc %ebx
    jmp 2b
3:  mov $0xf4, %dx /* isa-debug-exit: ExitCode::Panic */
    mov $2, %al
    outb %al, %dx
4:  hlt
    jmp 4b

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs

    movabs $kernel_boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %esi, %eax /* zero-extends: the upper halves are undefined after the switch */
    mov %edi, %esi
    mov %eax, %edi
    movabs $kernel_entry, %rax
    call *%rax
5:  hlt
    jmp 5b

    .section .boot.data, "aw"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF /* 0x10: data */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt

msg_bad_magic:
    .asciz "capOS: not started by a Multiboot2 loader\r\n"
msg_no_long_mode:
    .asciz "capOS: this CPU has no long mode (x86_64 required)\r\n"
msg_no_nx:
    .asciz "capOS: this CPU has no NX bit (required)\r\n"

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_page_tables:
boot_pml4:
    .skip 4096
boot_pdpt_low:
    .skip 4096
boot_pdpt_high:
    .skip 4096
boot_pd:
    .skip 4 * 4096
boot_page_tables_end:
    .skip 4096
boot_stack_top:

    /* Higher-half stack used until the kernel has a guarded one (with the
     * large buffers, kernel/lib/sections.h). */
    .section .bss.zz_large, "aw", @nobits
    .balign 16
    .skip 16384
kernel_boot_stack_top:
