// The kernel's side of the ring protocol (abi/ring.h) as pure functions: how
// many submissions are waiting, how much room the completion queue has, and
// decoding one submission. Everything here treats the shared page as hostile:
// the kernel keeps its own copies of the counters it owns (SQ head, CQ tail)
// and reads the process's counters (SQ tail, CQ head) once per use.
#pragma once

#include "abi/ring.h"
#include "lib/base/result.h"
#include <cstdint>
#include <optional>

namespace capos::ring {

// Submissions waiting between the kernel's head and the process's tail, or
// nullopt when the tail is impossible (more than `entries` ahead or behind the
// head): a corrupted ring, reported to the process and not followed.
constexpr std::optional<uint32_t> pending_submissions(uint32_t kernel_head, uint32_t user_tail,
                                                      uint32_t entries) {
    uint32_t pending = user_tail - kernel_head; // free-running counters wrap
    if (pending > entries)
        return std::nullopt;
    return pending;
}

// Completions the process has not consumed yet. A CQ head that is ahead of the
// kernel's tail or more than `entries` behind it is corrupt: the queue is then
// treated as full, so completions are counted as overflow instead of
// overwriting entries the process may still read.
constexpr uint32_t unread_completions(uint32_t kernel_tail, uint32_t user_head, uint32_t entries) {
    uint32_t unread = kernel_tail - user_head;
    return unread > entries ? entries : unread;
}

constexpr uint32_t free_completions(uint32_t kernel_tail, uint32_t user_head, uint32_t entries) {
    return entries - unread_completions(kernel_tail, user_head, entries);
}

// Whether the kernel may take one more submission: its completion needs a
// slot of the completion queue beside the `unread` completions and the
// `owed` ones (taken submissions not answered yet). With this check before
// every submission, no completion is ever dropped while the process keeps its
// CQ head honest.
constexpr bool completion_room(uint32_t unread, uint32_t owed, uint32_t entries) {
    return unread < entries && owed < entries - unread;
}

// Whether the kernel may owe a process one more completion (answer a
// submission later), with `owed` owed already; see abi::ring_max_owed.
constexpr bool may_owe(uint32_t owed) {
    return owed < abi::ring_max_owed;
}

// Largest params message and result buffer a CALL may name.
inline constexpr uint32_t max_message_bytes = 64 * 1024;

struct UserRange {
    uint64_t address;
    uint32_t length;
};

// A submission that passed every check: fields the opcode does not use were
// zero, lengths are in range, buffers lie inside user space.
struct DecodedSqe {
    abi::Opcode opcode;
    uint8_t flags;
    uint16_t method;
    abi::CapId cap;
    uint64_t user_data;
    uint64_t interface_id;
    UserRange params;
    UserRange result;
    uint32_t call_id;
    uint64_t transfer_address; // TransferDescriptors, transfer_count of them
    uint32_t transfer_count;
};

// Decodes a copy of one SQE. Never looks at anything but its argument; fails
// with the TransportError the CQE should carry.
Result<DecodedSqe, abi::TransportError> decode_sqe(const abi::Sqe& sqe);

} // namespace capos::ring
