// The ring dispatcher: cap_enter's work. Drains a bounded batch of
// submissions from the calling process's ring, decodes each one before acting
// on it, invokes the target capability and posts one completion per
// submission; then waits for completions if asked.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/object_lock.h"

#include "abi/ring.h"
#include <cstdint>
#include <optional>

namespace capos::kernel {

class Thread;

// Ring counters the kernel owns; the shared page only mirrors them.
struct RingState {
    uint32_t cq_tail = 0;
    uint32_t cq_overflow = 0;
};

// A user thread's ring (every thread has its own, docs/abi.md): the page it
// shares with the kernel, the counters the kernel keeps of it, the answers
// the kernel owes it (PendingReply keeps the count: with the unread ones they
// must fit the completion queue, so cap_enter takes no submission without
// room for its answer) and how many completions its thread waits for in
// cap_enter. The page changes under the kernel lock held exclusively; the
// counters and the wait, which the shared part of cap_enter changes (its own
// ring's, and the rings of the threads it answers), under the ring's own
// lock: a thread checks for completions and says it waits in one section, a
// completion is posted and the wait read in one, so no wake is lost.
struct UserRing {
    // Through the kernel's direct map; written by the process at any time:
    // read each field once, validate, then use. Null once the thread has
    // ended (nothing is posted to it any more).
    abi::RingPage* page CAPOS_GUARDED_BY(g_kernel_lock) = nullptr;
    // The next submission to take: only the thread's own cap_enter touches
    // it.
    uint32_t sq_head = 0;
    // The capability id of the last CALL the shared part of cap_enter left
    // to the exclusive part (not an endpoint's): a submission leading with a
    // CALL of it skips the shared part (a hint only, written and read by the
    // thread itself; the shared part checks every submission it takes).
    uint32_t exclusive_hint = 0;
    ObjectLock lock;
    RingState state CAPOS_GUARDED_BY(lock);
    uint32_t completions_owed CAPOS_GUARDED_BY(lock) = 0;
    // While the thread waits in cap_enter: the unread completions it waits
    // for (its min_complete), 0 otherwise. A completion wakes it only when
    // the unread ones reach that count (or one is lost to overflow), so a
    // thread waiting for the answers of many calls in flight is switched to
    // once, not at each answer.
    uint32_t waiting_for CAPOS_GUARDED_BY(lock) = 0;
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
//
// The shared part first, under the kernel lock held shared (so on several
// CPUs at once): the leading submissions that are endpoint calls, receives,
// returns or NOPs and send no capabilities, as long as their messages come
// to at most max_shared_message_bytes (interrupts stay off throughout; the
// exclusive part has preemption points between submissions). It returns the result when that was
// all (nothing left, nothing to wait for, no wake or destroy pending); nullopt otherwise, and
// cap_enter then goes on under the lock held exclusively: the wakes and destroys the shared part
// left, the other submissions, the wait.
inline constexpr uint32_t max_shared_message_bytes = 64 * 1024;
// Whether the shared part may take anything of the current thread's next
// cap_enter (asked with no lock held: a hint, from its own ring).
bool cap_enter_may_share(Thread& thread);
std::optional<int64_t> cap_enter_shared(Thread& thread, uint64_t min_complete, uint64_t timeout_ns)
    CAPOS_REQUIRES_SHARED(g_kernel_lock);
int64_t cap_enter(Thread& thread, uint64_t min_complete, uint64_t timeout_ns)
    CAPOS_REQUIRES(g_kernel_lock);

} // namespace capos::kernel
