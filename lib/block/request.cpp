#include "lib/block/request.h"

namespace capos::block {

const char* to_string(RequestError error) {
    switch (error) {
    case RequestError::CountZero:
        return "a count of 0 blocks";
    case RequestError::TooManyBlocks:
        return "more blocks than one request moves (see info's maxBlocks)";
    case RequestError::PastEnd:
        return "blocks past the end of the disk";
    case RequestError::OffsetWithoutBuffer:
        return "an offset is for a transfer buffer (buffer 0 is inline)";
    case RequestError::InlineTooLarge:
        return "more than maxInline bytes inline: use a transfer buffer (transferBuffer)";
    case RequestError::NoSuchBuffer:
        return "no such transfer buffer (see transferBuffer)";
    case RequestError::PastBufferEnd:
        return "the blocks run past the transfer buffer's end";
    case RequestError::Misaligned:
        return "the device cannot start a transfer at that offset (see the driver's alignment)";
    case RequestError::DataSize:
        return "data must hold exactly count blocks";
    case RequestError::DataWithBuffer:
        return "data given with a transfer buffer";
    }
    return "unknown request error";
}

Result<void, RequestError> check_range(const Geometry& geometry, uint64_t lba, uint64_t count) {
    if (count == 0)
        return Err{RequestError::CountZero};
    if (count > geometry.max_blocks)
        return Err{RequestError::TooManyBlocks};
    if (lba >= geometry.blocks || count > geometry.blocks - lba)
        return Err{RequestError::PastEnd};
    return {};
}

Result<void, GrantError> TransferBuffers::check_grant(uint32_t pages) const {
    if (pages == 0 || pages > m_limits.max_pages)
        return Err{GrantError::PageCount};
    if (m_count == m_buffers.size() || pages > m_limits.pages_budget - m_pages)
        return Err{GrantError::Exhausted};
    return {};
}

uint32_t TransferBuffers::add(const TransferBuffer& buffer, uint32_t pages) {
    m_buffers[m_count++] = buffer;
    m_pages += pages;
    return m_count;
}

const TransferBuffer* TransferBuffers::find(uint32_t id, uint64_t caller) const {
    if (id == 0 || id > m_count || m_buffers[id - 1].owner != caller)
        return nullptr;
    return &m_buffers[id - 1];
}

Result<DataPlace, RequestError> place_read(const Geometry& geometry, const TransferBuffers& buffers,
                                           uint64_t caller, const Transfer& transfer) {
    TRY(check_range(geometry, transfer.lba, transfer.count));
    uint64_t bytes = uint64_t(transfer.count) * geometry.block_size;
    if (transfer.buffer == 0) {
        if (transfer.offset != 0)
            return Err{RequestError::OffsetWithoutBuffer};
        if (bytes > geometry.max_inline)
            return Err{RequestError::InlineTooLarge};
        return DataPlace{true, 0, bytes};
    }
    // Another process's buffer is no buffer of this caller's.
    const TransferBuffer* buffer = buffers.find(transfer.buffer, caller);
    if (!buffer)
        return Err{RequestError::NoSuchBuffer};
    if (!fits_buffer(buffer->bytes, transfer.offset, bytes))
        return Err{RequestError::PastBufferEnd};
    if (transfer.offset % geometry.data_alignment != 0)
        return Err{RequestError::Misaligned};
    return DataPlace{false, buffer->device_address + transfer.offset, bytes};
}

Result<DataPlace, RequestError> place_write(const Geometry& geometry,
                                            const TransferBuffers& buffers, uint64_t caller,
                                            const Transfer& transfer, uint64_t data_bytes) {
    DataPlace place = TRY(place_read(geometry, buffers, caller, transfer));
    if (place.inline_data && data_bytes != place.bytes)
        return Err{RequestError::DataSize};
    if (!place.inline_data && data_bytes != 0)
        return Err{RequestError::DataWithBuffer};
    return place;
}

} // namespace capos::block
