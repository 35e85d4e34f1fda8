#include "kernel/ipc/transfer.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/user_copy.h"
#include "lib/capnp/capabilities.h"

namespace capos::kernel {

using abi::TransportError;

namespace {

// Scratch for renumbering: one bit per word of the largest message. One CPU,
// and a commit runs with interrupts off, so one serves every commit.
CAPOS_LARGE_BSS uint64_t g_renumbered[capnp::renumber_bitmap_words(ring::max_message_bytes / 8)];

} // namespace

template <uint32_t Capacity>
TransferOf<Capacity>::TransferOf(Process& sender) : m_sender_table(&sender.capabilities()) {}

template <uint32_t Capacity>
Result<void, TransferError> TransferOf<Capacity>::add(abi::CapId id, bool move) {
    if (m_count == Capacity)
        return Err{TransferError::TooMany};
    for (uint32_t i = 0; i < m_count; ++i) {
        if (m_entries[i].sender_id.raw == id.raw && (move || m_entries[i].move))
            return Err{TransferError::MovedTwice};
    }
    auto entry = m_sender_table->lookup(id);
    if (entry.is_error())
        return Err{TransferError::NotHeld};
    if (!has_flags(entry.value().flags, CapFlags::Transferable))
        return Err{TransferError::NotTransferable};
    ProcessCapTable::Taken taken;
    if (move) {
        // Taken now, out of the sender's sight; dropping the Transfer restores it.
        auto take = m_sender_table->take(id);
        if (take.is_error())
            return Err{TransferError::NotTransferable};
        taken = take.release_value();
    }
    Entry* out = new (&m_entries[m_count]) Entry{};
    out->sender_id = id;
    out->move = move;
    out->interface_id = entry.value().interface_id;
    out->flags = entry.value().flags;
    if (move)
        out->taken = std::move(taken);
    else
        out->object = entry.value().object;
    ++m_count;
    return {};
}

template <uint32_t Capacity>
Result<TransferOf<Capacity>, TransportError>
TransferOf<Capacity>::prepare(Process& sender, const ring::DecodedSqe& sqe,
                              const capnp::MessageReader& message,
                              FacetMinter* minter) requires(Capacity == abi::max_transfers) {
    abi::TransferDescriptor descriptors[abi::max_transfers];
    if (!UserSpan<abi::TransferDescriptor>(sqe.transfer_address, sqe.transfer_count)
             .copy_in(descriptors))
        return Err{TransportError::BadTransfer};

    TransferOf transfer(sender);
    bool minted = false;
    for (uint32_t i = 0; i < sqe.transfer_count; ++i) {
        const abi::TransferDescriptor& d = descriptors[i];
        bool mint = d.mode == abi::transfer_mint;
        if ((!mint && !abi::is_transfer_mode(d.mode)) || d.reserved[0] || d.reserved[1] ||
            d.reserved[2])
            return Err{TransportError::BadTransfer};
        // Each capability once: its id is the key its pointers are renamed by.
        for (uint32_t j = 0; j < i; ++j) {
            if (descriptors[j].cap == d.cap)
                return Err{TransportError::BadTransfer};
        }
        if (mint) {
            // A new facet, badge d.cap; dropped unsent, its notice goes back.
            if (minter == nullptr || d.cap == 0)
                return Err{TransportError::BadTransfer};
            auto facet = minter->mint(d.cap);
            if (facet.is_error())
                return Err{facet.error()};
            Entry* out = new (&transfer.m_entries[transfer.m_count++]) Entry{};
            out->sender_id = abi::CapId{d.cap};
            out->minted = true;
            out->object = facet.release_value();
            out->interface_id = sqe.interface_id;
            out->flags = CapFlags::Transferable;
            minted = true;
            continue;
        }
        if (transfer.add(abi::CapId{d.cap}, d.mode == uint8_t(abi::TransferMode::Move)).is_error())
            return Err{TransportError::BadTransfer}; // moves taken so far restore
    }
    // A Return's interface is its minted facets': none minted, none named.
    if (!minted && sqe.opcode == abi::Opcode::Return && sqe.interface_id != 0)
        return Err{TransportError::BadTransfer};

    // Every capability pointer must name a listed capability. The walk reads
    // with the message's own budget (proportional to its size), the same the
    // commit's renumbering uses, so what passes here renumbers there.
    bool all_listed =
        capnp::for_each_capability(message, [&](const capnp::CapabilityPointer& pointer) {
            for (uint32_t i = 0; i < transfer.m_count; ++i) {
                if (transfer.m_entries[i].sender_id.raw == pointer.index)
                    return true;
            }
            return false;
        }) == capnp::WireError::None;
    if (!all_listed)
        return Err{TransportError::BadTransfer};
    return transfer;
}

template <uint32_t Capacity>
ProcessCapTable::Record TransferOf<Capacity>::finish(uint32_t index) {
    VERIFY(index < m_count);
    Entry& entry = m_entries[index];
    if (entry.move) {
        auto record = m_sender_table->finish(std::move(entry.taken));
        entry.object = std::move(record.object);
    }
    VERIFY(entry.object);
    return {std::move(entry.object), entry.interface_id, entry.flags};
}

template <uint32_t Capacity>
Result<void, TransportError>
TransferOf<Capacity>::commit(Process& receiver, std::span<capnp::Word> message,
                             abi::CapRecord* records) requires(Capacity == abi::max_transfers) {
    g_kernel_lock.assert_held(); // the ring's answer paths hold it
    ProcessCapTable& table = receiver.capabilities();
    ProcessCapTable::Reservation slots[abi::max_transfers];
    for (uint32_t i = 0; i < m_count; ++i) {
        auto slot = table.reserve();
        if (slot.is_error())
            return Err{TransportError::QuotaExceeded}; // reservations cancel themselves
        slots[i] = slot.release_value();
    }

    // Nothing below can fail.
    capnp::CapabilityRename renames[abi::max_transfers];
    for (uint32_t i = 0; i < m_count; ++i) {
        auto record = finish(i);
        abi::CapId received = table.commit(std::move(slots[i]), std::move(record.object),
                                           record.interface_id, record.flags);
        records[i] = abi::CapRecord{received.raw, 0, record.interface_id};
        renames[i] = {m_entries[i].sender_id.raw, received.raw};
    }
    if (!message.empty()) {
        // Each capability pointer word is renamed once, however many paths
        // of a DAG reach it.
        capnp::WireError renamed = capnp::renumber_capabilities(
            message, capnp::ReaderLimits::for_message(message.size()),
            std::span<const capnp::CapabilityRename>(renames, m_count), g_renumbered);
        VERIFY(renamed == capnp::WireError::None); // prepare checked every pointer
    }
    clear(); // every entry handed over
    return {};
}

template class TransferOf<abi::max_transfers>;
template class TransferOf<abi::capset_max_entries>;

} // namespace capos::kernel
