// The process's side of the capability ring (abi/ring.h).
//
// RingClient submits entries and collects their completions, matching them by
// user_data, so completions may arrive in any order: ones that belong to other
// submissions are parked (a small fixed table) until their owner asks. No
// allocation anywhere.
//
// The kernel answers every submission it takes exactly once and takes none
// without room in the completion queue for its answer (docs/abi.md), so a
// completion waited for always comes. The client keeps at most
// abi::ring_cq_entries submissions outstanding (submitted and not yet
// collected by wait): that bounds the parked table, and a program that goes
// beyond it, or waits for a ticket it does not have, panics instead of
// waiting forever.
//
// RingTransport carries generated clients' calls (the gen::Transport concept):
// one call at a time, params built in its params buffer, results read from its
// results buffer until the next call. The buffers are its owner's: every
// thread's standard transport (rt::transport()) is a RingTransportWith of
// 4 KiB messages; a program moving larger ones (a File.write of
// File.maxTransfer bytes) makes a RingTransportWith of its own for them.
#pragma once

#include "abi/ring.h"
#include "lib/capnp/wire.h"
#include "lib/rpc/rpc.h"
#include <cstdint>
#include <optional>
#include <span>

namespace capos::rt {

class RingClient {
public:
    explicit RingClient(abi::RingPage* page) : m_page(page) {}

    // Queues `sqe` (its user_data is replaced by a fresh ticket), entering the
    // kernel first if the submission queue is full. Returns the ticket.
    // Panics when abi::ring_cq_entries submissions are already outstanding.
    uint64_t submit(const abi::Sqe& sqe);
    // Queues `sqe` like submit, for an answer nobody waits for: its
    // completion is dropped when it is read (a RETURN to a caller, whose
    // failure means only that the caller has gone). Whatever `sqe` points at
    // must stay as it is until the kernel has taken it: at the next entry,
    // and at the latest once abi::ring_sq_entries more submissions are
    // queued behind it.
    void post(const abi::Sqe& sqe);
    // Enters the kernel so it sees every queued submission, without waiting.
    void flush();
    // Waits for the completion of `ticket` and returns it. Panics for a ticket
    // that is not outstanding, and when the kernel reports lost completions
    // (only a process that corrupts its own CQ head loses any).
    abi::Cqe wait(uint64_t ticket);
    // Submissions not yet collected by wait.
    uint32_t outstanding() const { return m_outstanding; }

    // For the panic path only: submits `sqe` outside the bookkeeping above
    // (which may be what failed) and waits for its completion, dropping any
    // other completion read meanwhile. Gives up after a bounded wait; false
    // then, or when the kernel refused the submission.
    bool run_detached(abi::Sqe sqe);
    // submit + wait.
    abi::Cqe run(const abi::Sqe& sqe) { return wait(submit(sqe)); }
    // Waits for the completions of both tickets, entering the kernel until as
    // many completions as are still missing have come: one entry when both
    // come in it (a server's RETURN, answered at once, and its next RECV).
    void wait_both(uint64_t first, uint64_t second, abi::Cqe& first_cqe, abi::Cqe& second_cqe);

    // Waits until the completion of `first` or of `second` has come and
    // returns it; `which` says whose (0: first, 1: second). The other stays
    // outstanding. Panics like wait for a ticket that is not outstanding.
    abi::Cqe wait_either(uint64_t first, uint64_t second, int& which);
    // The same for any number of tickets (0 entries are skipped; at least
    // one must be outstanding): `which` is the index of the one that came.
    abi::Cqe wait_any(std::span<const uint64_t> tickets, size_t& which);
    // The same, waiting in the kernel at most `timeout_ns` once: nothing
    // when that wait ended with none of `tickets` completed (its time
    // passed, or it was woken for another completion).
    std::optional<abi::Cqe> wait_any_for(std::span<const uint64_t> tickets, size_t& which,
                                         uint64_t timeout_ns);
    // Waits for the completions of all `tickets` (each outstanding), into
    // out[0..tickets.size()): the thread is woken once, when that many
    // completions have come, not at each.
    void wait_all(std::span<const uint64_t> tickets, abi::Cqe* out);

    abi::RingPage* page() const { return m_page; }

private:
    // A ticket is (generation << slot_bits) | slot: the slot of an
    // outstanding submission, found without a search.
    static constexpr uint32_t slots = abi::ring_cq_entries;
    static constexpr uint32_t slot_bits = uint32_t(__builtin_ctz(slots));
    static_assert(slots == 1u << slot_bits);
    // One bit per slot.
    using SlotMask = uint64_t;
    static_assert(slots <= 8 * sizeof(SlotMask));
    static constexpr SlotMask all_slots =
        slots == 8 * sizeof(SlotMask) ? ~SlotMask{0} : (SlotMask{1} << slots) - 1;
    static constexpr SlotMask bit(uint32_t slot) { return SlotMask{1} << slot; }
    static uint32_t slot_of(uint64_t ticket) { return uint32_t(ticket) & (slots - 1); }
    bool is_outstanding(uint64_t ticket) const { return m_tickets[slot_of(ticket)] == ticket; }
    // Keeps a completion for its owner until it waits for it.
    void park(const abi::Cqe& cqe);
    // Moves every unread completion into the parked table.
    void reap();

    abi::RingPage* m_page;
    uint64_t m_next_generation = 1;
    uint32_t m_outstanding = 0;
    SlotMask m_free_slots = all_slots; // set when free
    // cq_overflow when the last submission was made: a completion lost after
    // it may be the one waited for.
    uint32_t m_overflow_seen = 0;
    uint64_t m_tickets[slots] = {}; // the outstanding ticket in each slot (0: free)
    abi::Cqe m_parked[slots] = {};  // a completion that came before its wait
    SlotMask m_parked_slots = 0;    // set when the slot holds a parked completion
    SlotMask m_posted_slots = 0;    // set when the slot's completion is to be dropped
};

// A CALL of `method` of `interface_id` on `cap` with `params`, its results
// (or CapException) into `result`: for a call kept outstanding beside others
// (RingClient::submit, then wait_any), where a generated client waits at once.
abi::Sqe call_sqe(uint32_t cap, uint64_t interface_id, uint16_t method,
                  std::span<const capnp::Word> params, std::span<capnp::Word> result);
// The params of a method that takes none (an empty struct), shared.
std::span<const capnp::Word> no_params();
// A CALL's completion read as a generated client's reply: its message in
// `results` (the buffer the CALL named for its results; an inline answer is
// copied there), and the CapRecords of the capabilities it carried copied to
// `received` (abi::max_transfers of them), their count in `received_count`.
gen::Reply reply_of(const abi::Cqe& cqe, std::span<capnp::Word> results, abi::CapRecord* received,
                    uint32_t& received_count);

class RingTransport {
public:
    // `params` for the params; `results` for a reply and, after it, the
    // CapRecords of the capabilities it carries (abi::max_transfers * 2
    // words past the longest reply expected). Both outlive the transport.
    RingTransport(RingClient& ring, std::span<capnp::Word> params, std::span<capnp::Word> results)
        : m_ring(&ring), m_params(params), m_results(results) {}
    RingTransport(const RingTransport&) = delete;
    RingTransport& operator=(const RingTransport&) = delete;

    std::span<capnp::Word> params_buffer() { return m_params; }
    gen::Reply call(uint32_t capability, uint64_t interface_id, uint16_t method,
                    std::span<const capnp::Word> params);

    // Capabilities to send with the next call (to a server behind an
    // endpoint): the params' capability pointers name them by CapId. Cleared
    // by the call. False when more than abi::max_transfers are queued.
    bool send_with_next_call(abi::CapId id, abi::TransferMode mode);
    // The capabilities the last call's reply carried (their ids are what the
    // reply's capability pointers say), valid until the next call on this
    // transport, whoever makes it.
    std::span<const abi::CapRecord> received() const { return {m_received, m_received_count}; }

private:
    // The small fields first (a subclass's buffers follow them): a call with
    // small messages touches the page of the fields and the params' start,
    // and the page of the results' start (every page touched after an
    // address-space switch costs a refill under QEMU, docs/performance.md).
    RingClient* m_ring;
    std::span<capnp::Word> m_params;
    std::span<capnp::Word> m_results;
    uint32_t m_transfer_count = 0;
    uint32_t m_received_count = 0;
    abi::TransferDescriptor m_transfers[abi::max_transfers];
    abi::CapRecord m_received[abi::max_transfers];
};

// A RingTransport with buffers of its own for messages of up to
// `MessageBytes` (a multiple of 8).
template <size_t MessageBytes>
class RingTransportWith : public RingTransport {
public:
    explicit RingTransportWith(RingClient& ring)
        : RingTransport(ring, m_params_words, m_results_words) {}

private:
    static_assert(MessageBytes % sizeof(capnp::Word) == 0);
    static constexpr size_t buffer_words = MessageBytes / sizeof(capnp::Word);
    alignas(8) capnp::Word m_params_words[buffer_words];
    // Results, then the CapRecords of capabilities that came with them.
    alignas(8) capnp::Word m_results_words[buffer_words + abi::max_transfers * 2];
};
// The runtime's transport, each thread's (rt::transport()): 4 KiB messages.
using StandardRingTransport = RingTransportWith<4096>;

} // namespace capos::rt
