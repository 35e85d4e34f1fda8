#include "kernel/cap/transfer.h"
#include "kernel/mm/user_copy.h"
#include "lib/capnp/capabilities.h"

namespace capos::kernel {

using abi::TransportError;

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

    // Every capability pointer must name a listed capability.
    bool all_listed =
        capnp::for_each_capability(message, capnp::CapabilityWalk::Read, [&](uint32_t& index) {
            for (uint32_t i = 0; i < transfer.m_count; ++i) {
                if (transfer.m_entries[i].sender_id.raw == index)
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
    abi::CapId received[abi::max_transfers];
    for (uint32_t i = 0; i < m_count; ++i) {
        Entry& entry = m_entries[i];
        if (entry.move) {
            auto record = m_sender_table->finish(std::move(entry.taken));
            entry.object = std::move(record.object);
        }
        received[i] = table.commit(std::move(slots[i]), std::move(entry.object), entry.interface_id,
                                   entry.flags);
        records[i] = abi::CapRecord{received[i].raw, 0, entry.interface_id};
    }
    if (!message.empty()) {
        capnp::MessageReader reader{std::span<const capnp::Word>(message)};
        capnp::WireError rewritten = capnp::for_each_capability(
            reader, capnp::CapabilityWalk::Rewrite, [&](uint32_t& index) {
                for (uint32_t i = 0; i < m_count; ++i) {
                    if (m_entries[i].sender_id.raw == index) {
                        index = received[i].raw;
                        return true;
                    }
                }
                return false;
            });
        VERIFY(rewritten == capnp::WireError::None); // prepare checked every pointer
    }
    m_count = 0;
    return {};
}

} // namespace capos::kernel
