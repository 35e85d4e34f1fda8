// Frames given back in bulk (a large MemoryObject's) are freed by a kernel
// thread, a bounded number at a time with preemption points between: the
// last reference to an object can go anywhere (a RELEASE, a process's
// teardown, an endpoint closing), and whatever drops it pays only for
// queueing it. Small batches are freed at once. So are heap blocks that go
// by the thousand at once (the release notices an endpoint drops when it
// closes), one by one.
#pragma once

#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/heap/heap.h"
#include <cstdint>

namespace capos::kernel {

// A heap array of frames, with the link that queues it for reclaiming.
class FrameBatch : public IntrusiveListNode<FrameBatch> {
public:
    static Result<FrameBatch*, HeapError> create(uint64_t count);
    uint64_t count() const { return m_count; }
    // Only the first `count` frames are real (an allocation that failed part
    // way): the rest are not freed.
    void truncate(uint64_t count) {
        if (count < m_count)
            m_count = count;
    }
    uint64_t* frames() { return reinterpret_cast<uint64_t*>(this + 1); }

    // Frees every frame and the batch itself: at once when it is small,
    // else through the reclaim thread.
    static void free_frames_and_release(FrameBatch* batch);
    // Frees the batch without its frames (they were never allocated, or were
    // given back already).
    static void release(FrameBatch* batch);

private:
    explicit FrameBatch(uint64_t count) : m_count(count) {}
    uint64_t m_count;
};

// A heap block waiting for the reclaim thread: the node is written over the
// block's first bytes, whatever they held (free_heap_block_later).
class HeapBlockToFree : public IntrusiveListNode<HeapBlockToFree> {};

// Frees the heap block `block` (at least sizeof(HeapBlockToFree) bytes,
// nothing in it used any more) later, in the reclaim thread: queueing it is
// all the caller pays. Under the kernel lock held exclusively.
void free_heap_block_later(void* block);

// Starts the reclaim thread (after the scheduler exists).
void reclaim_start();
// Blocks (yielding to the reclaim thread) until everything queued is freed:
// for the memory balance checks.
void wait_for_reclaim();

} // namespace capos::kernel
