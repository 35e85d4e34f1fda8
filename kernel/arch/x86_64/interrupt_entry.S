/* Entry stubs for all 256 interrupt vectors, and the common path.
 *
 * Each stub makes the stack look the same (a zero error code where the CPU
 * pushes none, then the vector number). The common path switches GS to the
 * kernel's per-CPU area when the interrupt came from user mode (swapgs), saves
 * every general register and calls interrupt_dispatch(TrapFrame*). The layout
 * pushed here is TrapFrame in trap_frame.h; the two change together.
 */

#include "kernel/arch/x86_64/trap_frame.inc"

    .text

/* Vectors whose exceptions push an error code. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

.macro INTERRUPT_STUB vector
    .balign 16
interrupt_stub_\vector:
    .if HAS_ERROR_CODE(\vector) == 0
    pushq $0
    .endif
    pushq $\vector
    jmp interrupt_common
.endm

    .balign 16
interrupt_stubs_start:
.altmacro
.set vector, 0
.rept 256
    INTERRUPT_STUB %vector
    .set vector, vector + 1
.endr
.noaltmacro

    .global interrupt_common
interrupt_common:
    testb $3, 24(%rsp) /* CS of the interrupted context: from user mode? */
    jz 1f
    swapgs
1:  PUSH_GENERAL_REGISTERS
    cld
    movq %rsp, %rdi
    call interrupt_dispatch

    /* Also the way into user mode for a new thread: capos_return_to_user
     * points %rsp at a TrapFrame and jumps here. */
    .global capos_trap_return
capos_trap_return:
    POP_GENERAL_REGISTERS
    addq $16, %rsp /* vector and error code */
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:  iretq

    .section .rodata
    .balign 8
    .global interrupt_stub_table
interrupt_stub_table:
.altmacro
.set vector, 0
.rept 256
    .quad interrupt_stubs_start + vector * 16
    .set vector, vector + 1
.endr
.noaltmacro

    .text
    /* switch_stack_and_call(stack_top, entry): never returns. */
    .global capos_switch_stack_and_call
capos_switch_stack_and_call:
    movq %rdi, %rsp
    xorl %ebp, %ebp
    pushq $0 /* a zero return address ends stack traces here */
    jmp *%rsi
