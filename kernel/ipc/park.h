// PARK and UNPARK (docs/abi.md "Park"): a thread sleeps while a 32-bit word
// of its memory holds the value it expects, until an UNPARK of the same word
// (by physical address: shared memory works across processes), its timeout,
// or its end. A park is an owed answer like any other, so the thread's
// other submissions go on and it waits for the completion in cap_enter.
// One park at a time per thread; parking allocates nothing (the waiter is
// the thread's).
#pragma once

#include "kernel/ipc/completion.h"
#include "kernel/ipc/timed_answer.h"
#include "lib/ring/ring.h"
#include <optional>

namespace capos::kernel {

class Process;
class Thread;
struct ParkLink;

// A thread's place in the table of parked words, and its timeout.
class ParkWait final : public Deadline, public IntrusiveListNode<ParkLink> {
public:
    uint64_t park_key = 0; // the word's physical address (lib/park/park_table.h)
    PendingReply reply;    // the PARK's answer while parked

private:
    void expire() override;
};

// The PARK `sqe` of the running thread `thread` (its process's address
// space active) on the ParkSpace it names: its completion now, or nullopt
// when it sleeps (answered later).
std::optional<abi::Cqe> park(Thread& thread, const ring::DecodedSqe& sqe)
    CAPOS_REQUIRES(g_kernel_lock);
// The UNPARK `sqe` of the running thread: wakes up to params.length threads
// parked on the word, first parked first.
abi::Cqe unpark(const ring::DecodedSqe& sqe) CAPOS_REQUIRES(g_kernel_lock);
// Takes `thread` off the table (it ends): its park's answer goes nowhere.
void park_cancel(Thread& thread) CAPOS_REQUIRES(g_kernel_lock);

} // namespace capos::kernel
