// Capabilities travelling with an endpoint Call or Return.
//
// Two phases (the move protocol of lib/cap/cap_table.h, across a queue):
//   1. prepare (decode), in the sender's cap_enter: read the descriptors,
//      check every listed capability is held and transferable, that moves
//      are not listed twice, and that every capability pointer in the
//      message names a listed capability. Copies take a new reference; moves
//      are taken (pending: still in the sender's table, invisible to it).
//      Nothing the sender sees has changed yet.
//   2. commit (invoke), when the message is delivered: reserve the receiver's
//      slots (the only step that can fail: the receiver's table is full), then
//      finish the moves, insert everything at the receiver and renumber the
//      message's capability pointers to the receiver's ids.
// A Transfer dropped without commit (the call failed, was cancelled, or its
// sender ended) puts every moved capability back where it was.
#pragma once

#include "abi/ring.h"
#include "kernel/object/process.h"
#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include "lib/ring/ring.h"

namespace capos::kernel {

class Transfer {
public:
    Transfer() = default;
    Transfer(Transfer&&) = default;
    Transfer& operator=(Transfer&&) = default;

    // Phase 1 for a submission of `sender` (the current process) carrying
    // `message` (validated).
    static Result<Transfer, abi::TransportError>
    prepare(Process& sender, const ring::DecodedSqe& sqe, const capnp::MessageReader& message);

    uint32_t count() const { return m_count; }

    // Phase 2. `message` is the delivered copy (mutable kernel memory);
    // `records` receives count() entries. On error nothing changed and the
    // Transfer can still be committed elsewhere or dropped.
    Result<void, abi::TransportError> commit(Process& receiver, std::span<capnp::Word> message,
                                             abi::CapRecord* records);

private:
    struct Entry {
        abi::CapId sender_id;
        bool move = false;
        RefPtr<KernelObject> object; // copies (moves get theirs at commit)
        uint64_t interface_id = 0;
        CapFlags flags = CapFlags::None;
        ProcessCapTable::Taken taken; // moves, until commit
    };

    ProcessCapTable* m_sender_table = nullptr;
    Entry m_entries[abi::max_transfers];
    uint32_t m_count = 0;
};

} // namespace capos::kernel
