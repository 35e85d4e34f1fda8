// Calls in flight together on the thread's ring.
//
// A generated client makes one call at a time: it submits, enters the kernel
// and waits for the answer, so a call to a server behind an endpoint costs a
// switch to the server and one back. A program with many independent calls
// to make (a file's open for each of a hundred names, then a read of each)
// puts them in a CallBatch instead:
//
//     rt::CallBatch<16, 2048> batch(rt::ring());
//     for (each name)
//         batch.add<Directory::OpenParams>(dir, Directory::interface_id,
//                                          uint16_t(Directory::Method::Open),
//                                          [&](auto params) { ... });
//     batch.run();
//     for (size_t i = 0; i < batch.size(); ++i) {
//         auto opened = batch.results<Directory::OpenResults>(i);
//         abi::CapId file = batch.received_capability(i, opened.value().file());
//     }
//
// run() submits them in one entry into the kernel and waits for all their
// answers: the server answers one after another without a switch between
// (its next RECV finds the next call queued), and the kernel wakes this
// thread once, when the last answer has come (docs/abi.md, cap_enter's
// min_complete). Each call has buffers of its own for params and answers of
// up to MessageBytes; nothing is allocated.
//
// Releases may ride along: release_with_next_run(id) queues a RELEASE that
// the kernel takes in the same entry, before the calls added after it.
#pragma once

#include "lib/rpc/rpc.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/ring.h"
#include <cstddef>
#include <cstdint>

namespace capos::rt {

template <size_t Calls, size_t MessageBytes>
class CallBatch {
public:
    static_assert(Calls > 0 && Calls <= abi::ring_cq_entries / 2,
                  "the calls and as many releases fit the completion queue");
    static_assert(MessageBytes % sizeof(capnp::Word) == 0);

    explicit CallBatch(RingClient& ring) : m_ring(&ring) {}
    CallBatch(const CallBatch&) = delete;
    CallBatch& operator=(const CallBatch&) = delete;

    // Adds a call of `method` of `interface_id` on `capability`, its Params
    // built by `fill` (as a generated client's fill). False when the batch
    // holds Calls calls already or the params do not fit MessageBytes:
    // nothing is added then.
    template <typename Params, typename Fill>
    bool add(uint32_t capability, uint64_t interface_id, uint16_t method, Fill&& fill) {
        if (m_count == Calls)
            return false;
        Slot& slot = m_slots[m_count];
        auto params = gen::build_params<Params>(slot.params, fill);
        if (params.is_error())
            return false;
        abi::Sqe sqe = call_sqe(capability, interface_id, method, params.value(), slot.results);
        sqe.flags = abi::SqeInlineResult; // small answers come in the completion
        m_tickets[m_count++] = m_ring->submit(sqe);
        return true;
    }

    // Queues the release of `id` for the next entry into the kernel (run's),
    // its answer not waited for. False when the ring has no room for it
    // (nothing queued then).
    bool release_with_next_run(abi::CapId id) {
        if (m_ring->outstanding() >= abi::ring_cq_entries)
            return false;
        abi::Sqe sqe{};
        sqe.opcode = uint8_t(abi::Opcode::Release);
        sqe.cap = id.raw;
        m_ring->post(sqe);
        return true;
    }

    // Sends the calls added and waits for all their answers.
    void run() {
        abi::Cqe cqes[Calls];
        if (m_count == 0) {
            m_ring->flush(); // the releases
            return;
        }
        m_ring->wait_all({m_tickets, m_count}, cqes);
        for (size_t i = 0; i < m_count; ++i) {
            Slot& slot = m_slots[i];
            slot.reply = reply_of(cqes[i], slot.results, slot.received, slot.received_count);
        }
        m_answered = m_count;
    }

    // Calls added since the last clear().
    size_t size() const { return m_count; }

    // The answer of call `i` (after run) read as Results or its CapException,
    // valid until clear().
    template <typename Results, typename CapException = schema::CapException>
    Result<typename Results::Reader, gen::CallError> results(size_t i) {
        if (i >= m_answered)
            return Err{
                gen::CallError{.kind = gen::CallErrorKind::Transport, .transport_error = -1}};
        Slot& slot = m_slots[i];
        return gen::read_reply<Results, CapException>(slot.reply, slot.reply_storage);
    }

    // The capability call `i`'s answer names by `cap` (a capability field's
    // value), when the answer carried it: the caller's from then on. 0 when
    // it carried no such capability.
    abi::CapId received_capability(size_t i, uint32_t cap) const {
        if (i < m_answered)
            for (uint32_t r = 0; r < m_slots[i].received_count; ++r)
                if (m_slots[i].received[r].cap == cap)
                    return abi::CapId{cap};
        return abi::CapId{};
    }

    // Forgets the calls and their answers, for the next batch.
    void clear() {
        m_count = 0;
        m_answered = 0;
    }

private:
    static constexpr size_t message_words = MessageBytes / sizeof(capnp::Word);
    struct Slot {
        alignas(8) capnp::Word params[message_words];
        // The answer, then the CapRecords of the capabilities it carried.
        alignas(8) capnp::Word results[message_words + abi::max_transfers * 2];
        gen::Reply reply{};
        gen::ReplyStorage reply_storage;
        uint32_t received_count = 0;
        abi::CapRecord received[abi::max_transfers];
    };

    RingClient* m_ring;
    size_t m_count = 0;
    size_t m_answered = 0;
    uint64_t m_tickets[Calls] = {};
    Slot m_slots[Calls];
};

} // namespace capos::rt
