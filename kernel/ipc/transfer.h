// Capabilities travelling from one process to another: with an endpoint
// Call or Return, and as the grants of a spawned process.
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
//
// The ring builds one from a submission's descriptors (prepare); spawn adds
// its grants one by one (add) and commits each into the child's CapSet under
// its name (finish).
#pragma once

#include "abi/capset.h"
#include "abi/ring.h"
#include "kernel/object/process.h"
#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include "lib/ring/ring.h"
#include <new>
#include <utility>

namespace capos::kernel {

// Why add() refused a capability.
enum class TransferError : uint8_t {
    NotHeld,         // not a live capability of the sender
    NotTransferable, // held without CapFlags::Transferable
    MovedTwice,      // a moved capability is listed again (moved or copied)
    TooMany,         // more than the transfer's capacity
};

// Up to `Capacity` capabilities: abi::max_transfers for a ring submission
// (Transfer), abi::capset_max_entries for a spawn's grants (GrantTransfer).
// Marks a facet a Return minted (an EndpointClient) as never sent: its end
// queues no release notice (kernel/ipc/endpoint.cpp).
void discard_unsent_facet(KernelObject& object);

// What makes the facets a Return's mint descriptors ask for
// (abi::transfer_mint): the endpoint answered on (kernel/ipc/endpoint.h).
class FacetMinter {
public:
    virtual Result<RefPtr<KernelObject>, abi::TransportError> mint(uint32_t badge) = 0;

protected:
    ~FacetMinter() = default;
};

template <uint32_t Capacity>
class TransferOf {
public:
    TransferOf() {}
    explicit TransferOf(Process& sender);
    // Moving or dropping one costs what it holds, not its capacity: an empty
    // transfer (most calls) is a few words.
    TransferOf(TransferOf&& other) : m_sender_table(other.m_sender_table) {
        if (other.m_count != 0)
            take_from(other);
    }
    TransferOf& operator=(TransferOf&& other) {
        if (this != &other) {
            if (m_count != 0)
                clear();
            m_sender_table = other.m_sender_table;
            if (other.m_count != 0)
                take_from(other);
        }
        return *this;
    }
    ~TransferOf() {
        if (m_count != 0)
            clear();
    }

    // Phase 1 for a submission of `sender` (the current process) carrying
    // `message` (validated): each capability listed once. Mint descriptors
    // are made by `minter` (a Return's; null: refused), each a new facet
    // speaking the submission's interface_id.
    static Result<TransferOf, abi::TransportError>
    prepare(Process& sender, const ring::DecodedSqe& sqe, const capnp::MessageReader& message,
            FacetMinter* minter) requires(Capacity == abi::max_transfers);
    // Phase 1, one capability: `id`, copied or moved. A copy may be listed
    // more than once; a moved capability only once.
    Result<void, TransferError> add(abi::CapId id, bool move);

    uint32_t count() const { return m_count; }
    // The interface entry `index` speaks (0: any).
    uint64_t interface_id(uint32_t index) const { return m_entries[index].interface_id; }

    // Phase 2. `message` is the delivered copy (mutable kernel memory);
    // `records` receives count() entries. On error nothing changed and the
    // Transfer can still be committed elsewhere or dropped.
    Result<void, abi::TransportError> commit(Process& receiver, std::span<capnp::Word> message,
                                             abi::CapRecord* records) requires(Capacity ==
                                                                               abi::max_transfers);

    // Phase 2 for a receiver that files capabilities its own way (a child's
    // CapSet): hands over entry `index` (a move finishes: the capability
    // leaves the sender now). Cannot fail; each index once.
    ProcessCapTable::Record finish(uint32_t index);

private:
    struct Entry {
        abi::CapId sender_id;
        bool move = false;
        bool minted = false;         // a Return's new facet: discarded unsent
        RefPtr<KernelObject> object; // copies (moves get theirs at commit)
        uint64_t interface_id = 0;
        CapFlags flags = CapFlags::None;
        ProcessCapTable::Taken taken; // moves, until commit
    };

    // Drops the entries: a move not committed goes back to the sender, a
    // facet minted and not sent is freed with no release notice.
    [[gnu::noinline]] void clear() {
        for (uint32_t i = 0; i < m_count; ++i) {
            if (m_entries[i].minted && m_entries[i].object)
                discard_unsent_facet(*m_entries[i].object);
            m_entries[i].~Entry();
        }
        m_count = 0;
    }
    [[gnu::noinline]] void take_from(TransferOf& other) {
        for (uint32_t i = 0; i < other.m_count; ++i) {
            new (&m_entries[i]) Entry(std::move(other.m_entries[i]));
            other.m_entries[i].~Entry();
        }
        m_count = std::exchange(other.m_count, 0);
    }

    ProcessCapTable* m_sender_table = nullptr;
    uint32_t m_count = 0;
    union {
        Entry m_entries[Capacity]; // [0, m_count) live
    };
};

using Transfer = TransferOf<abi::max_transfers>;
using GrantTransfer = TransferOf<abi::capset_max_entries>;
extern template class TransferOf<abi::max_transfers>;
extern template class TransferOf<abi::capset_max_entries>;

} // namespace capos::kernel
