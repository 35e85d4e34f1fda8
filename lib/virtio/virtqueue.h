// The driver's side of a virtio 1.x split virtqueue (Virtio 1.2, 2.7
// "Split Virtqueues"): the descriptor table, the available ring the driver
// writes and the used ring the device writes, in memory both can reach.
//
// The queue allocates nothing. The caller lays its DMA memory out with the
// size and alignment helpers below, hands the three areas in (a CPU view and
// the bus address the device uses for each), and a driver-private array of
// DescriptorState, one per descriptor, that the device never sees.
//
// The device is not trusted. Everything the driver needs to remember (which
// descriptors are free, how chains are linked, each chain's token and
// writable bytes) is kept in the private array; the driver never reads back
// the descriptor table or the available ring, which the device could
// scribble on. The fields the device owns (used idx, the used entries, the
// used ring's flags and avail_event) are each loaded once per use, with an
// atomic load the compiler cannot split or repeat, then checked. A used entry
// naming an id out of range or one that is not the head of an outstanding
// chain, a length past the chain's device-writable bytes, or a used idx that
// claims more completions than there are chains outstanding breaks the queue:
// the call returns the Device* error, nothing is freed, and every later call
// returns the same error (the driver then resets the device).
//
// Protocol, numbered across the functions:
//   1. submit() fills free descriptors with a chain, device-readable segments
//      first, writes the head into the available ring, and publishes it with a
//      release store of avail idx.
//   2. needs_notify() (after one or more submits) orders that store before
//      reading the device's suppression hint with a full fence, and says
//      whether to write the queue's notify register.
//   3. take_used() loads used idx with acquire, checks the next entry, frees
//      its chain and returns the chain's token and the bytes the device wrote.
//   4. enable_interrupts() asks for a used-buffer notification and, after a
//      full fence, says whether completions arrived meanwhile (take them
//      instead of waiting: the notification for them may have been skipped).
//
// Not thread-safe: the caller serialises every call on one queue.
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace capos::virtio {

// x86_64, the one target, is little-endian like the virtio 1.x structures.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);

// Feature bits that change how the queue works (Virtio 1.2, 6).
inline constexpr unsigned feature_indirect_descriptors = 28;
inline constexpr unsigned feature_event_index = 29;

inline constexpr uint32_t max_queue_size = 32768;

// A queue size is a power of two from 1 to 32768.
constexpr bool is_valid_queue_size(uint32_t size) {
    return size != 0 && size <= max_queue_size && (size & (size - 1)) == 0;
}

// The three parts' sizes in bytes and minimum alignments (2.7). The rings'
// sizes include the event fields (used_event, avail_event), present in
// memory whether or not VIRTIO_F_EVENT_IDX is negotiated.
inline constexpr size_t descriptor_table_alignment = 16;
inline constexpr size_t available_ring_alignment = 2;
inline constexpr size_t used_ring_alignment = 4;
constexpr size_t descriptor_table_bytes(uint16_t size) {
    return size_t{16} * size;
}
constexpr size_t available_ring_bytes(uint16_t size) {
    return 6 + size_t{2} * size;
}
constexpr size_t used_ring_bytes(uint16_t size) {
    return 6 + size_t{8} * size;
}

// One way to place the three parts in one buffer that starts 16-byte
// aligned: the table, the available ring right after it, the used ring at
// the next multiple of 4.
struct QueueLayout {
    size_t descriptors = 0;
    size_t available = 0;
    size_t used = 0;
    size_t total = 0;
};
constexpr QueueLayout contiguous_layout(uint16_t size) {
    QueueLayout layout;
    layout.available = descriptor_table_bytes(size);
    size_t available_end = layout.available + available_ring_bytes(size);
    layout.used = (available_end + used_ring_alignment - 1) & ~(used_ring_alignment - 1);
    layout.total = layout.used + used_ring_bytes(size);
    return layout;
}

// The descriptor table's entries and their flags (2.7.5).
struct Descriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);
inline constexpr uint16_t descriptor_next = 1;
inline constexpr uint16_t descriptor_write = 2;
inline constexpr uint16_t descriptor_indirect = 4;

// The rings' flags (2.7.6, 2.7.8).
inline constexpr uint16_t available_no_interrupt = 1;
inline constexpr uint16_t used_no_notify = 1;

// A used ring entry (2.7.8): the chain's head and the bytes written.
struct UsedElement {
    uint32_t id;
    uint32_t length;
};
static_assert(sizeof(UsedElement) == 8);

enum class VirtqueueError : uint8_t {
    BadSize,       // not a power of two from 1 to 32768
    Misaligned,    // an area's memory or bus address breaks its alignment
    TooSmall,      // an area or the state array is smaller than the size needs
    Overlap,       // two of the areas share bytes
    EmptyChain,    // no segment at all
    EmptySegment,  // a segment of 0 bytes
    TooLong,       // the chain's bytes add up past 2^32 - 1
    TooManyParts,  // more segments than the queue has descriptors: never fits
    NoRoom,        // not enough free descriptors now; retry after take_used()
    DeviceBadId,   // a used entry's id is not a descriptor index
    DeviceNotHead, // a used entry's id is not the head of an outstanding chain
    DeviceLength,  // a used entry's length is past the chain's writable bytes
    DeviceIndex,   // used idx claims more completions than chains outstanding
};

const char* to_string(VirtqueueError error);

// Whether `error` says the device broke the protocol (the queue is broken).
constexpr bool is_device_error(VirtqueueError error) {
    return error >= VirtqueueError::DeviceBadId;
}

// Whether the device's notification hints are the event indexes
// (VIRTIO_F_EVENT_IDX negotiated) or the rings' flags.
enum class EventIndex : uint8_t { Off, On };

// The driver's private record of one descriptor; only Virtqueue reads or
// writes it. Memory the device cannot reach.
class DescriptorState {
private:
    friend class Virtqueue;
    enum class Use : uint8_t { Free, Head, Member };
    uint32_t m_token = 0;    // Head: the driver's cookie
    uint32_t m_writable = 0; // Head: the chain's device-writable bytes
    uint16_t m_next = 0;     // the next descriptor in the free list or the chain
    uint16_t m_count = 0;    // Head: descriptors in the chain
    Use m_use = Use::Free;
};

// One part of the queue: where the driver reaches it, where the device does.
struct QueueArea {
    std::span<uint8_t> memory;
    uint64_t bus_address = 0;
};

struct QueueMemory {
    QueueArea descriptors;            // descriptor_table_bytes(size), 16-byte aligned
    QueueArea available;              // available_ring_bytes(size), 2-byte aligned
    QueueArea used;                   // used_ring_bytes(size), 4-byte aligned
    std::span<DescriptorState> state; // at least `size` entries, driver-private
};

// A buffer element: `length` bytes at bus address `address`.
struct Segment {
    uint64_t address = 0;
    uint32_t length = 0;
};

// A finished chain: the token given to submit() and the bytes the device
// says it wrote (at most the chain's device-writable bytes).
struct Completion {
    uint32_t token = 0;
    uint32_t length = 0;
};

class Virtqueue {
public:
    // Checks the size and every area, then initialises the rings (flags,
    // indexes and event fields 0) and the free list (all descriptors). Do it
    // before the queue's addresses are given to the device.
    static Result<Virtqueue, VirtqueueError> create(QueueMemory memory, uint16_t size,
                                                    EventIndex event_index);

    Virtqueue(Virtqueue&&) = default;
    Virtqueue& operator=(Virtqueue&&) = default;
    Virtqueue(const Virtqueue&) = delete;
    Virtqueue& operator=(const Virtqueue&) = delete;

    // Step 1. Makes one chain of `readable` then `writable` segments
    // available, with `token` returned on its completion; gives the head's
    // index. Fails before changing anything.
    Result<uint16_t, VirtqueueError> submit(std::span<const Segment> readable,
                                            std::span<const Segment> writable, uint32_t token);

    // Step 2. Whether the device wants a notification for the chains
    // submitted since the last call (false when there are none).
    Result<bool, VirtqueueError> needs_notify();

    // Step 3. The next completion, or nullopt when the device has finished
    // nothing new.
    Result<std::optional<Completion>, VirtqueueError> take_used();

    // Used-buffer notification hints; the device may ignore them. With event
    // indexes, disabling points used_event as far back as it goes; enabling
    // asks for a notification once `after` (at least 1) more entries are
    // used. With flags, `after` is ignored. Step 4: enable says whether used
    // entries are waiting already.
    void disable_interrupts();
    Result<bool, VirtqueueError> enable_interrupts(uint16_t after = 1);

    uint16_t size() const { return m_size; }
    uint16_t free_descriptors() const { return m_free_count; }
    // Chains made available and not yet taken back.
    uint16_t outstanding() const { return m_outstanding; }
    // The device error that broke the queue, if any.
    std::optional<VirtqueueError> broken() const { return m_broken; }

    uint64_t descriptor_bus_address() const { return m_descriptor_bus; }
    uint64_t available_bus_address() const { return m_available_bus; }
    uint64_t used_bus_address() const { return m_used_bus; }

private:
    Virtqueue() = default;

    // The available ring's fields, as 16-bit words: flags, idx, ring, used_event.
    uint16_t* available_word(size_t index) const {
        return reinterpret_cast<uint16_t*>(m_available) + index;
    }
    uint16_t* used_word(size_t byte_offset) const {
        return reinterpret_cast<uint16_t*>(m_used + byte_offset);
    }
    uint32_t* used_entry_word(uint16_t slot, size_t word) const {
        return reinterpret_cast<uint32_t*>(m_used + 4 + size_t{8} * slot) + word;
    }
    Err<VirtqueueError> fail(VirtqueueError error);

    Descriptor* m_descriptors = nullptr;
    uint8_t* m_available = nullptr;
    uint8_t* m_used = nullptr;
    DescriptorState* m_state = nullptr;
    uint64_t m_descriptor_bus = 0;
    uint64_t m_available_bus = 0;
    uint64_t m_used_bus = 0;
    uint16_t m_size = 0;
    EventIndex m_event_index = EventIndex::Off;
    uint16_t m_free_head = 0;
    uint16_t m_free_count = 0;
    uint16_t m_outstanding = 0;
    // The driver's copies of what it owns: avail idx, avail flags, the avail
    // idx at the last needs_notify(), and the used entries taken so far.
    uint16_t m_available_index = 0;
    uint16_t m_available_flags = 0;
    uint16_t m_notified_index = 0;
    uint16_t m_used_taken = 0;
    std::optional<VirtqueueError> m_broken;
};

} // namespace capos::virtio
