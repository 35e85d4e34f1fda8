// The driver's side of one NVMe submission / completion queue pair (section
// 4.1 queue model, 4.6 completion entries), over memory the caller owns: the
// two rings the controller reaches by DMA and a table of command slots.
// Nothing is allocated; the caller writes the doorbells and waits for
// interrupts.
//
// The protocol, per command:
//   1. submit(entry, token) picks a free command id, remembers `token` for
//      it, writes the entry at the SQ tail and advances the tail;
//   2. the caller writes submission_tail() to the queue's SQ tail doorbell;
//   3. the controller fetches, executes, and posts a completion with the
//      current phase tag;
//   4. take_completion() reads the entry at the CQ head, checks it, frees the
//      id and the SQ slots the reported SQ head passed, and returns the token;
//   5. the caller writes completion_head() to the CQ head doorbell (once per
//      batch is enough).
//
// The controller is not trusted. take_completion() reads each field of the
// entry once, from memory the device may rewrite at any moment, and checks
// the copies before using them: the SQ id must be this queue's, the SQ head
// inside the ring and between the last reported head and the tail, the
// command id one that is outstanding and whose entry that head has passed.
// A completion failing any check is not consumed, nothing is freed, and the
// queue is broken: every later call fails with Broken (the driver then resets
// the controller). Checks of the caller's arguments fail without changing
// anything.
//
// One CQ per SQ (the SQ id reported must be this pair's). Not thread-safe:
// the caller serialises.
#pragma once

#include "lib/base/result.h"
#include "lib/nvme/nvme.h"
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace capos::nvme {

enum class QueueError : uint8_t {
    // The caller's: nothing changed.
    Memory, // create(): a ring outside 2..65536 entries, or 0 or over 65535 command slots
    Full,   // submit(): no free SQ slot or no free command id
    // The controller's: the queue is broken.
    WrongQueue,          // the completion names another SQ
    HeadOutOfRange,      // SQ head at or past the ring's size
    HeadPastTail,        // SQ head moved backwards, or past the tail
    CommandIdOutOfRange, // a command id the queue never hands out
    NotOutstanding,      // a command id with no command in flight (completed twice)
    NotFetched,          // completes a command the reported SQ head has not passed
    Broken,              // an earlier completion failed a check
};
const char* to_string(QueueError error);

// True for the errors that break the queue.
constexpr bool is_device_error(QueueError error) {
    return error != QueueError::Memory && error != QueueError::Full;
}

// One command id's bookkeeping; the caller provides an array of them (one per
// id) and does not touch it while the queue lives.
class CommandSlot {
private:
    friend class QueuePair;
    uint64_t m_token = 0;
    uint32_t m_sequence = 0; // which submission it was, to check the SQ head passed it
    uint16_t m_next_free = 0;
    bool m_outstanding = false;
};

// What take_completion() hands back for one finished command.
struct Completion {
    uint64_t token = 0;
    uint16_t command_id = 0;
    CommandStatus status;
    uint32_t result = 0;          // DW0, command specific
    uint16_t completion_head = 0; // the CQ head to write to the doorbell
};

class QueuePair {
public:
    struct Memory {
        uint16_t queue_id = 0;
        // The rings, as the controller sees them: `submissions` is the SQ
        // (IoQueue::entries of them), `completions` the CQ.
        std::span<volatile SubmissionEntry> submissions;
        std::span<volatile CompletionEntry> completions;
        // One per command id: ids run 0 to commands.size() - 1.
        std::span<CommandSlot> commands;
    };

    // Zeroes both rings (every phase tag 0, so the first pass's entries with
    // phase 1 are new) and starts with every id free. Call before the
    // controller learns of the queue (Create I/O queue commands, or ASQ/ACQ).
    static Result<QueuePair, QueueError> create(const Memory& memory);

    // Writes `entry` with a fresh command id at the tail; the id maps to
    // `token` until its completion. Full when the SQ has no free slot (one
    // is always left empty) or every id is in flight.
    Result<uint16_t, QueueError> submit(const SubmissionEntry& entry, uint64_t token);

    // The next completion, if the controller posted one: an empty optional
    // when the entry at the head still has the old phase tag.
    Result<std::optional<Completion>, QueueError> take_completion();

    uint16_t queue_id() const { return m_queue_id; }
    // The values for the doorbells.
    uint16_t submission_tail() const { return m_sq_tail; }
    uint16_t completion_head() const { return m_cq_head; }
    // The SQ head as last reported by the controller.
    uint16_t submission_head() const { return m_sq_head; }
    uint32_t free_submission_slots() const;
    uint32_t outstanding() const { return m_outstanding; }
    uint32_t command_ids() const { return uint32_t(m_commands.size()); }
    // The phase tag a new completion at the head carries.
    uint8_t expected_phase() const { return m_phase; }
    bool broken() const { return m_broken; }

private:
    QueuePair() = default;
    uint32_t ring_distance(uint16_t from, uint16_t to) const;

    uint16_t m_queue_id = 0;
    std::span<volatile SubmissionEntry> m_submissions;
    std::span<volatile CompletionEntry> m_completions;
    std::span<CommandSlot> m_commands;
    uint16_t m_sq_tail = 0;
    uint16_t m_sq_head = 0;
    uint16_t m_cq_head = 0;
    uint8_t m_phase = 1;
    // Free-running counts of entries submitted and fetched (passed by the
    // reported SQ head); a slot's m_sequence is its entry's submission count.
    uint32_t m_submitted = 0;
    uint32_t m_fetched = 0;
    uint16_t m_free_head = 0; // first free id; m_commands.size() when none
    uint32_t m_outstanding = 0;
    bool m_broken = false;
};

} // namespace capos::nvme
