#include "kernel/ipc/transfer.h"
#include "kernel/mm/user_copy.h"
#include "lib/capnp/capabilities.h"

namespace capos::kernel {

using abi::TransportError;

namespace {

// Scratch for renumbering: one bit per word of the largest message. One CPU,
// and a commit runs with interrupts off, so one serves every commit.
uint64_t g_renumbered[capnp::renumber_bitmap_words(ring::max_message_bytes / 8)];

} // namespace

Result<Transfer, TransportError> Transfer::prepare(Process& sender, const ring::DecodedSqe& sqe,
                                                   const capnp::MessageReader& message) {
    abi::TransferDescriptor descriptors[abi::max_transfers];
    if (!UserSpan<abi::TransferDescriptor>(sqe.transfer_address, sqe.transfer_count)
             .copy_in(descriptors))
        return Err{TransportError::BadTransfer};

    Transfer transfer;
    transfer.m_sender_table = &sender.capabilities();
    ProcessCapTable& table = sender.capabilities();
    for (uint32_t i = 0; i < sqe.transfer_count; ++i) {
        const abi::TransferDescriptor& d = descriptors[i];
        if (d.mode > uint8_t(abi::TransferMode::Move) || d.reserved[0] || d.reserved[1] ||
            d.reserved[2])
            return Err{TransportError::BadTransfer};
        for (uint32_t j = 0; j < i; ++j) {
            if (descriptors[j].cap == d.cap)
                return Err{TransportError::BadTransfer}; // each capability once
        }
        auto entry = table.lookup(abi::CapId{d.cap});
        if (entry.is_error() || !has_flags(entry.value().flags, CapFlags::Transferable))
            return Err{TransportError::BadTransfer};
        Entry& out = transfer.m_entries[i];
        out.sender_id = abi::CapId{d.cap};
        out.move = d.mode == uint8_t(abi::TransferMode::Move);
        out.interface_id = entry.value().interface_id;
        out.flags = entry.value().flags;
        if (!out.move)
            out.object = entry.value().object;
    }
    transfer.m_count = sqe.transfer_count;

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

    // Take the moves last: a failure above leaves nothing to undo.
    for (uint32_t i = 0; i < transfer.m_count; ++i) {
        Entry& entry = transfer.m_entries[i];
        if (!entry.move)
            continue;
        auto taken = table.take(entry.sender_id);
        if (taken.is_error())
            return Err{TransportError::BadTransfer}; // tokens taken so far restore
        entry.taken = taken.release_value();
    }
    return transfer;
}

Result<void, TransportError> Transfer::commit(Process& receiver, std::span<capnp::Word> message,
                                              abi::CapRecord* records) {
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
        Entry& entry = m_entries[i];
        if (entry.move) {
            auto record = m_sender_table->finish(std::move(entry.taken));
            entry.object = std::move(record.object);
        }
        abi::CapId received = table.commit(std::move(slots[i]), std::move(entry.object),
                                           entry.interface_id, entry.flags);
        records[i] = abi::CapRecord{received.raw, 0, entry.interface_id};
        renames[i] = {entry.sender_id.raw, received.raw};
    }
    if (!message.empty()) {
        // Each capability pointer word is renamed once, however many paths
        // of a DAG reach it.
        capnp::WireError renamed = capnp::renumber_capabilities(
            message, capnp::ReaderLimits::for_message(message.size()),
            std::span<const capnp::CapabilityRename>(renames, m_count), g_renumbered);
        VERIFY(renamed == capnp::WireError::None); // prepare checked every pointer
    }
    m_count = 0;
    return {};
}

} // namespace capos::kernel
