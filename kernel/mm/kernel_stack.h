// Kernel stacks with unmapped guard pages on both sides, so running off either
// end faults at once instead of corrupting a neighbour.
#pragma once

#include "kernel/mm/page_tables.h"
#include <cstdint>

namespace capos::kernel {

struct KernelStack {
    uint64_t base; // lowest mapped byte
    uint64_t top;  // one past the highest mapped byte (the initial stack pointer)
};

// Each stack occupies a slot of stack_slot_size bytes in the stack region: one
// guard page, then up to max_stack_pages mapped pages, the rest unmapped.
inline constexpr uint64_t stack_slot_size = 64 * 1024;
inline constexpr uint64_t max_stack_pages = 14;

Result<KernelStack, MapError> allocate_kernel_stack(uint64_t pages);
void free_kernel_stack(const KernelStack& stack);

} // namespace capos::kernel
