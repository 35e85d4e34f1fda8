// The ring dispatcher: cap_enter's work. Drains a bounded batch of
// submissions from the calling process's ring, decodes each one before acting
// on it, invokes the target capability and posts one completion per
// submission; then waits for completions if asked.
#pragma once

#include "kernel/lib/kernel_lock.h"

#include "abi/ring.h"
#include <cstdint>

namespace capos::kernel {

class Thread;

// Ring counters the kernel owns; the shared page only mirrors them.
struct RingState {
    uint32_t sq_head = 0;
    uint32_t cq_tail = 0;
    uint32_t cq_overflow = 0;
};

// A user thread's ring (every thread has its own, docs/abi.md): the page it
// shares with the kernel, the counters the kernel keeps of it, the answers
// the kernel owes it (PendingReply keeps the count: with the unread ones they
// must fit the completion queue, so cap_enter takes no submission without
// room for its answer) and whether its thread waits in cap_enter. Guarded by
// the kernel lock.
struct UserRing {
    // Through the kernel's direct map; written by the process at any time:
    // read each field once, validate, then use. Null once the thread has
    // ended (nothing is posted to it any more).
    abi::RingPage* page = nullptr;
    RingState state;
    uint32_t completions_owed = 0;
    bool waiting = false;
};

// Tells the scheduler which kernel memory a call in progress uses besides
// its thread's stack (the ring's scratch buffers), so that a call giving up
// the CPU keeps its contents. Once, before the first process runs.
void ring_init();

// Sends every submission through the general path, none through the fast
// path of small kernel calls (the command line's ring=general; a test boots
// with it to compare the two paths' completions).
void ring_general_path_only();

// The cap_enter system call of the current thread, on its own ring. Returns
// the number of unread completions, or a negative abi::TransportError.
int64_t cap_enter(Thread& thread, uint64_t min_complete, uint64_t timeout_ns)
    CAPOS_REQUIRES(g_kernel_lock);

} // namespace capos::kernel
