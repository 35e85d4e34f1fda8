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

void reclaim_start() {
    auto thread = Thread::create(nullptr, reclaim_thread, nullptr);
    if (thread.is_error())
        panic("reclaim: no memory for the thread");
    g_thread = thread.value().get();
    Scheduler::make_ready(thread.release_value());
}

// The reclaim thread may run on another CPU: wait for it to say it is done.
void wait_for_reclaim() {
    while (!g_queue.empty() || g_busy) {
        g_waiter = Scheduler::current();
        Scheduler::block(no_deadline);
        g_waiter = nullptr;
    }
}

} // namespace capos::kernel
