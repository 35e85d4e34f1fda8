// What a block driver checks of a BlockDevice call (schema/capos.capnp,
// "Storage") before it gives the device anything, whatever the device: the
// blocks asked for lie on the disk and fit one request, the data is inline
// (at most maxInline bytes, exactly the blocks for a write) or lies inside a
// transfer buffer the caller itself was given, at an offset the device can
// reach. Also the table of transfer buffers, each owned by the process that
// asked for it.
//
// Pure: the driver (user/drivers/common/block_server.h) owns the DMA memory
// and the device; this file decides from numbers. Every check is written
// without sums that could wrap (a caller may send any 64-bit value).
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::block {

enum class RequestError : uint8_t {
    CountZero,           // a request of no blocks
    TooManyBlocks,       // more blocks than one request moves
    PastEnd,             // blocks past the disk's end
    OffsetWithoutBuffer, // an offset with buffer 0 (inline)
    InlineTooLarge,      // more than maxInline bytes inline
    NoSuchBuffer,        // a buffer id never given, or given to another process
    PastBufferEnd,       // the blocks run past the transfer buffer's end
    Misaligned,          // an offset in the buffer the device cannot start at
    DataSize,            // inline write data that is not exactly the blocks
    DataWithBuffer,      // write data beside a transfer buffer
};
const char* to_string(RequestError error);

// The disk a driver serves, as its calls are checked against it.
struct Geometry {
    uint32_t block_size = 512;
    uint64_t blocks = 0;
    uint32_t max_blocks = 0; // per request
    // A transfer buffer's data must start at a multiple of this many bytes
    // (a power of two; 1: anywhere).
    uint32_t data_alignment = 1;
    uint32_t max_inline = 0; // BlockDevice.maxInline
};

// Whether `count` blocks from block `lba` are a request the disk takes:
// CountZero, TooManyBlocks or PastEnd (checked without lba + count).
Result<void, RequestError> check_range(const Geometry& geometry, uint64_t lba, uint64_t count);

// Whether `bytes` bytes at `offset` lie inside a buffer of `buffer_bytes`.
constexpr bool fits_buffer(uint64_t buffer_bytes, uint64_t offset, uint64_t bytes) {
    return offset <= buffer_bytes && bytes <= buffer_bytes - offset;
}

// A transfer buffer: DMA memory the device reads and writes directly, given
// to one process (`owner`, its process id).
struct TransferBuffer {
    uint64_t device_address = 0;
    uint64_t bytes = 0;
    uint64_t owner = 0;
};

// Limits of what a driver hands out as transfer buffers.
struct TransferLimits {
    uint32_t max_pages = 512;     // in one buffer
    uint32_t pages_budget = 2048; // in all of them
};

enum class GrantError : uint8_t {
    PageCount, // 0 pages, or more than one buffer may have
    Exhausted, // no buffer or pages left to give
};

// The buffers given, ids 1 to count() in the order given (never reused:
// buffers stay until the driver ends), over the caller's storage.
class TransferBuffers {
public:
    TransferBuffers(std::span<TransferBuffer> storage, TransferLimits limits)
        : m_buffers(storage), m_limits(limits) {}

    // Whether a buffer of `pages` may be given now.
    Result<void, GrantError> check_grant(uint32_t pages) const;
    // Records a buffer check_grant allowed; its id.
    uint32_t add(const TransferBuffer& buffer, uint32_t pages);
    // Buffer `id` when `caller` owns it; null for any other id or caller.
    const TransferBuffer* find(uint32_t id, uint64_t caller) const;
    uint32_t count() const { return m_count; }

private:
    std::span<TransferBuffer> m_buffers;
    TransferLimits m_limits;
    uint32_t m_count = 0;
    uint32_t m_pages = 0;
};

// What a read or write names, as the call carries it.
struct Transfer {
    uint64_t lba = 0;
    uint32_t count = 0;
    uint32_t buffer = 0; // 0: inline
    uint64_t offset = 0;
};

// Where the data of an accepted read or write lies: inline (in the driver's
// own memory for the request) or at `device_address` in a transfer buffer.
struct DataPlace {
    bool inline_data = true;
    uint64_t device_address = 0;
    uint64_t bytes = 0;
};

// The checks of a read by `caller`.
Result<DataPlace, RequestError> place_read(const Geometry& geometry, const TransferBuffers& buffers,
                                           uint64_t caller, const Transfer& transfer);
// The checks of a write by `caller` with `data_bytes` bytes of data in the
// call (read-only disks are the caller's to refuse first).
Result<DataPlace, RequestError> place_write(const Geometry& geometry,
                                            const TransferBuffers& buffers, uint64_t caller,
                                            const Transfer& transfer, uint64_t data_bytes);

} // namespace capos::block
