// The raw ring for the in-system benchmarks (user/bench), as
// user/tests/common/test.h does it: every completion a benchmark causes is
// consumed by it, so the runtime's RingClient never sees one, and nothing
// but the entries themselves is touched per call.
#pragma once

#include "abi/ring.h"
#include "user/rt/rt.h"

namespace capos::bench {

inline abi::RingPage& ring_page() {
    return *rt::ring().page();
}

// Puts `sqe` on the SQ (which must have room).
inline void push(const abi::Sqe& sqe) {
    abi::RingHeader& header = ring_page().header;
    uint32_t tail = header.sq_tail;
    ring_page().sqes[tail % abi::ring_sq_entries] = sqe;
    __atomic_store_n(&header.sq_tail, tail + 1, __ATOMIC_RELEASE);
}

// Takes the next completion into `out`; false when none has come.
inline bool pop(abi::Cqe& out) {
    abi::RingHeader& header = ring_page().header;
    uint32_t head = header.cq_head;
    if (head == __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE))
        return false;
    out = ring_page().cqes[head % abi::ring_cq_entries];
    __atomic_store_n(&header.cq_head, head + 1, __ATOMIC_RELEASE);
    return true;
}

} // namespace capos::bench
