#include "kernel/mm/reclaim.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

// Batches up to this many frames are freed by whoever drops them.
constexpr uint64_t free_at_once = 256;

constinit IntrusiveList<FrameBatch, FrameBatch> g_queue; // oldest first
constinit IntrusiveList<HeapBlockToFree, HeapBlockToFree> g_blocks;
// Heap blocks freed between two preemption points.
constexpr uint32_t blocks_at_once = 64;
bool g_busy = false;
Thread* g_thread = nullptr;
Thread* g_waiter = nullptr; // in wait_for_reclaim

void free_frames(FrameBatch* batch, bool preemptible) {
    uint64_t* frames = batch->frames();
    for (uint64_t i = 0; i < batch->count(); ++i) {
        VERIFY(free_frame(frames[i]).is_ok());
        if (preemptible && i % free_at_once == free_at_once - 1)
            Scheduler::preemption_point();
    }
    FrameBatch::release(batch);
}

[[noreturn]] void reclaim_thread(void*) {
    for (;;) {
        while (FrameBatch* batch = g_queue.pop_front()) {
            g_busy = true;
            free_frames(batch, true);
            g_busy = false;
        }
        for (uint32_t freed = 0; HeapBlockToFree* block = g_blocks.pop_front();) {
            block->~HeapBlockToFree();
            heap_free(block);
            if (++freed % blocks_at_once == 0)
                Scheduler::preemption_point();
        }
        // (Either queue may have grown at the preemption points.)
        if (!g_queue.empty() || !g_blocks.empty())
            continue;
        if (g_waiter)
            Scheduler::wake(g_waiter);
        Scheduler::block(no_deadline);
    }
}

} // namespace

Result<FrameBatch*, HeapError> FrameBatch::create(uint64_t count) {
    void* memory = TRY(heap_allocate(sizeof(FrameBatch) + count * sizeof(uint64_t)));
    return new (memory) FrameBatch(count);
}

void FrameBatch::release(FrameBatch* batch) {
    batch->~FrameBatch();
    heap_free(batch);
}

void FrameBatch::free_frames_and_release(FrameBatch* batch) {
    if (batch->count() <= free_at_once || !g_thread) {
        free_frames(batch, false);
        return;
    }
    g_queue.push_back(*batch);
    Scheduler::wake(g_thread);
}

void free_heap_block_later(void* block) {
    static_assert(alignof(HeapBlockToFree) <= 16); // every heap block's
    auto* node = new (block) HeapBlockToFree();
    if (!g_thread) {
        node->~HeapBlockToFree();
        heap_free(block);
        return;
    }
    // The thread looks at both queues before it blocks: it needs waking
    // only when this one was empty.
    bool was_empty = g_blocks.empty();
    g_blocks.push_back(*node);
    if (was_empty)
        Scheduler::wake(g_thread);
}

void reclaim_start() {
    auto thread = Thread::create(nullptr, reclaim_thread, nullptr);
    if (thread.is_error())
        panic("reclaim: no memory for the thread");
    g_thread = thread.value().get();
    Scheduler::make_ready(thread.release_value());
}

// The reclaim thread may run on another CPU: wait for it to say it is done.
void wait_for_reclaim() {
    while (!g_queue.empty() || !g_blocks.empty() || g_busy) {
        g_waiter = Scheduler::current();
        Scheduler::block(no_deadline);
        g_waiter = nullptr;
    }
}

} // namespace capos::kernel
