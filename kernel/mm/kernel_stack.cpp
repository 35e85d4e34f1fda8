#include "kernel/mm/kernel_stack.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/lib/spinlock.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"

namespace capos::kernel {

namespace {

constexpr uint64_t slot_count = (kernel_stacks_limit - kernel_stacks_base) / stack_slot_size;
constexpr uint64_t tracked_slots = 4096; // slots handed out so far are tracked in a bitmap

SpinLock g_stack_lock;
CAPOS_LARGE_BSS uint64_t g_slot_in_use[tracked_slots / 64];

static_assert(tracked_slots <= slot_count);

} // namespace

Result<KernelStack, MapError> allocate_kernel_stack(uint64_t pages) {
    if (pages == 0 || pages > max_stack_pages)
        return Err{MapError::Misaligned};
    uint64_t slot = tracked_slots;
    {
        SpinLockGuard guard(g_stack_lock);
        for (uint64_t i = 0; i < tracked_slots; ++i) {
            if (!(g_slot_in_use[i / 64] & (1ull << (i % 64)))) {
                g_slot_in_use[i / 64] |= 1ull << (i % 64);
                slot = i;
                break;
            }
        }
    }
    if (slot == tracked_slots)
        return Err{MapError::OutOfMemory};

    // [guard][pages mapped][unmapped rest of the slot, the next slot's guard]
    uint64_t base = kernel_stacks_base + slot * stack_slot_size + page_size;
    auto mapped = map_fresh_pages(base, pages, Access::ReadWrite);
    if (mapped.is_error()) {
        SpinLockGuard guard(g_stack_lock);
        g_slot_in_use[slot / 64] &= ~(1ull << (slot % 64));
        return Err{mapped.error()};
    }
    return KernelStack{base, base + pages * page_size};
}

void free_kernel_stack(const KernelStack& stack) {
    uint64_t slot = (stack.base - kernel_stacks_base) / stack_slot_size;
    VERIFY(slot < tracked_slots);
    unmap_and_free_pages(stack.base, (stack.top - stack.base) / page_size);
    SpinLockGuard guard(g_stack_lock);
    g_slot_in_use[slot / 64] &= ~(1ull << (slot % 64));
}

} // namespace capos::kernel
