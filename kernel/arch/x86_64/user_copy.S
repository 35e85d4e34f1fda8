/* Copies between kernel and user memory, eight bytes a step and then the rest,
 * and a probe of whether user pages may be written.
 * The only instructions in the kernel allowed to touch user pages; a page
 * fault at one of the marked instructions is not a
 * kernel bug but a bad user pointer: the fault handler resumes at the routine's
 * failure exit (user_copy_fixup in user_copy.cpp).
 *
 * capos_user_copy_smap(dst, src, length) and capos_user_copy_plain(...) return
 * 0 on success and 1 on a fault. The _smap variant opens the SMAP window with
 * stac/clac; it must only run on CPUs with SMAP (stac is #UD elsewhere).
 *
 * The words are moved by a loop of plain moves rather than rep movsq: under
 * QEMU's TCG every step of a rep instruction is a pass through the emulator's
 * dispatch, while the loop runs as one translated block, and the messages
 * copied here are mostly a few words.
 */
/* The copy's body, with its fault labels named after the variant. */
.macro USER_COPY_BODY variant
    movq %rdx, %rcx
    shrq $3, %rcx
    jz 2f
1:
    .global capos_user_copy_\variant\()_load
capos_user_copy_\variant\()_load:
    movq (%rsi), %rax
    .global capos_user_copy_\variant\()_store
capos_user_copy_\variant\()_store:
    movq %rax, (%rdi)
    addq $8, %rsi
    addq $8, %rdi
    decq %rcx
    jnz 1b
2:
    movq %rdx, %rcx
    andq $7, %rcx
    .global capos_user_copy_\variant\()_access_tail
capos_user_copy_\variant\()_access_tail:
    rep movsb
.endm

    .text

    .global capos_user_copy_smap
capos_user_copy_smap:
    stac
    USER_COPY_BODY smap
    clac
    xorl %eax, %eax
    ret
    .global capos_user_copy_smap_fault
capos_user_copy_smap_fault:
    clac
    movl $1, %eax
    ret

    .global capos_user_copy_plain
capos_user_copy_plain:
    USER_COPY_BODY plain
    xorl %eax, %eax
    ret
    .global capos_user_copy_plain_fault
capos_user_copy_plain_fault:
    movl $1, %eax
    ret

/* capos_user_probe_smap(first, last) and capos_user_probe_plain(...): 0 when
 * every page from the one holding `first` to the one holding `last` may be
 * written by user mode in the current address space, 1 on the first that may
 * not. Each page is probed with an atomic OR of zero into one of its bytes:
 * a write as the MMU checks it, which changes no value.
 */
    .global capos_user_probe_smap
capos_user_probe_smap:
    stac
    andq $-4096, %rdi
1:
    .global capos_user_probe_smap_access
capos_user_probe_smap_access:
    lock orb $0, (%rdi)
    addq $4096, %rdi
    cmpq %rsi, %rdi
    jbe 1b
    clac
    xorl %eax, %eax
    ret
    .global capos_user_probe_smap_fault
capos_user_probe_smap_fault:
    clac
    movl $1, %eax
    ret

    .global capos_user_probe_plain
capos_user_probe_plain:
    andq $-4096, %rdi
1:
    .global capos_user_probe_plain_access
capos_user_probe_plain_access:
    lock orb $0, (%rdi)
    addq $4096, %rdi
    cmpq %rsi, %rdi
    jbe 1b
    xorl %eax, %eax
    ret
    .global capos_user_probe_plain_fault
capos_user_probe_plain_fault:
    movl $1, %eax
    ret
