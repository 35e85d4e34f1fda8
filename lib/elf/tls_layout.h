// Where a thread's TLS block, thread pointer and first stack pointer lie at the
// top of its stack (x86_64's TLS "variant II", as the static linker lays out
// local-exec accesses: a variable is at %fs:offset with a negative offset).
//
//   top of the stack area
//   [tp, tp + tls_tcb_size)                      the thread control block: its
//                                                first word holds tp itself
//   [tp - align_up(memory_size, align), tp)      the TLS block: the template's
//                                                file bytes, then zeros
//   below, 16-byte aligned                       the stack pointer
//
// tp is aligned to the template's alignment (at least tls_tcb_alignment). A
// program without a PT_TLS gets a block of size 0: the thread pointer and the
// control block all the same, so every thread has one.
#pragma once

#include <cstdint>
#include <optional>

namespace capos::elf {

inline constexpr uint64_t tls_tcb_size = 64;
inline constexpr uint64_t tls_tcb_alignment = 64;
// The largest TLS block (memory size) a thread may have.
inline constexpr uint64_t max_tls_size = 32 * 1024;
// The stack a thread keeps below its TLS block at the least.
inline constexpr uint64_t tls_min_stack = 4096;

struct TlsLayout {
    uint64_t thread_pointer; // the FS base
    uint64_t block;          // where the block starts (tp - its aligned size)
    uint64_t stack_pointer;  // 16-byte aligned, below the block
};

// The layout for a stack area [bottom, top) and a template of `memory_size`
// bytes aligned to `alignment` (0 or a power of two up to a page); nullopt
// when the template is larger than max_tls_size, the alignment is not a
// power of two, or the area would keep less than tls_min_stack below the
// block.
constexpr std::optional<TlsLayout> tls_layout(uint64_t bottom, uint64_t top, uint64_t memory_size,
                                              uint64_t alignment) {
    if (alignment == 0)
        alignment = 1;
    if ((alignment & (alignment - 1)) != 0 || alignment > 4096 || memory_size > max_tls_size)
        return std::nullopt;
    uint64_t tp_alignment = alignment > tls_tcb_alignment ? alignment : tls_tcb_alignment;
    if (top < bottom || top - bottom < tls_tcb_size + tp_alignment)
        return std::nullopt;
    uint64_t tp = (top - tls_tcb_size) & ~(tp_alignment - 1);
    uint64_t size = (memory_size + alignment - 1) & ~(alignment - 1);
    if (tp - bottom < size + tls_min_stack + 16)
        return std::nullopt;
    uint64_t block = tp - size;
    return TlsLayout{tp, block, block & ~uint64_t{15}};
}

} // namespace capos::elf
