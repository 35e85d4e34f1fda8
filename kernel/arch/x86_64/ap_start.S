/* The start-up code of the other CPUs (application processors).
 *
 * smp.cpp copies this block to a page below 1 MiB, fills in its data fields
 * (the addresses depend on where the page is) and sends the start-up IPI
 * with that page's number. Each CPU arrives in 16-bit real mode at the
 * page's start with CS = page >> 4, and goes through 32-bit protected mode
 * to long mode on a PML4 that maps this page at its own address and the
 * kernel's half like the kernel's tables, then jumps to the kernel entry
 * with its stack and argument. The code never runs where it is linked: every
 * address in it is an offset into the block. CR4 gets only PAE here (no
 * global pages until the kernel's tables are loaded and the CPU's own
 * protections are set).
 */

#define OFFSET(label) ((label) - capos_ap_start)

    .section .rodata, "a"
    .balign 16
    .global capos_ap_start
capos_ap_start:
    .code16
    cli
    cld
    mov %cs, %bx
    mov %bx, %ds
    movzwl %bx, %ebx
    shl $4, %ebx /* the page's physical address, for the 32-bit part */
    lgdtl OFFSET(ap_gdt_pointer)
    mov %cr0, %eax
    or $1, %eax /* PE */
    mov %eax, %cr0
    ljmpl *OFFSET(ap_far32)

    .code32
    .global capos_ap_protected
capos_ap_protected:
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $(1 << 5), %eax /* PAE */
    mov %eax, %cr4
    mov OFFSET(ap_cr3)(%ebx), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx /* EFER */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax /* LME, NXE */
    wrmsr
    /* PG, WP, NE, ET, MP, PE; CD and NW (set by INIT) cleared. */
    mov $0x80010033, %eax
    mov %eax, %cr0
    ljmp *OFFSET(ap_far64)(%ebx)

    .code64
    .global capos_ap_long
capos_ap_long:
ap_long:
    mov OFFSET(ap_stack)(%rbx), %rsp
    mov OFFSET(ap_argument)(%rbx), %rdi
    mov OFFSET(ap_entry)(%rbx), %rax
    xor %ebp, %ebp
    pushq $0 /* a zero return address ends stack traces here */
    jmp *%rax

    .balign 8
    .global capos_ap_gdt
capos_ap_gdt:
ap_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF /* 0x08: 32-bit code */
    .quad 0x00CF92000000FFFF /* 0x10: data */
    .quad 0x00AF9A000000FFFF /* 0x18: 64-bit code */
ap_gdt_end:

/* Data fields, filled in by smp.cpp through the capos_ap_field_* offsets. */
    .balign 8
ap_gdt_pointer:
    .word ap_gdt_end - ap_gdt - 1
    .global capos_ap_field_gdt_base
capos_ap_field_gdt_base:
    .long 0 /* page + OFFSET(ap_gdt) */
    .balign 8
ap_far32:
    .global capos_ap_field_far32
capos_ap_field_far32:
    .long 0 /* page + OFFSET(ap_protected) */
    .word 0x08
    .balign 8
ap_far64:
    .global capos_ap_field_far64
capos_ap_field_far64:
    .long 0 /* page + OFFSET(ap_long) */
    .word 0x18
    .balign 8
ap_cr3:
    .global capos_ap_field_cr3
capos_ap_field_cr3:
    .long 0 /* the start-up PML4, below 4 GiB */
    .balign 8
ap_stack:
    .global capos_ap_field_stack
capos_ap_field_stack:
    .quad 0
ap_entry:
    .global capos_ap_field_entry
capos_ap_field_entry:
    .quad 0
ap_argument:
    .global capos_ap_field_argument
capos_ap_field_argument:
    .quad 0
    .global capos_ap_start_end
capos_ap_start_end:
