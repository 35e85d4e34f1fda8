#include "lib/virtio/virtqueue.h"

namespace capos::virtio {

namespace {

// Byte offsets in the used ring (2.7.8): flags, idx, ring[size], avail_event.
constexpr size_t used_flags = 0;
constexpr size_t used_index = 2;
constexpr size_t used_event_offset(uint16_t size) {
    return 4 + size_t{8} * size;
}
// Word indexes in the available ring (2.7.6): flags, idx, ring[size], used_event.
constexpr size_t available_flags = 0;
constexpr size_t available_index = 1;
constexpr size_t available_ring = 2;
constexpr size_t available_used_event(uint16_t size) {
    return available_ring + size;
}

// Fields the device owns or may read at any time: one access each, which the
// compiler may neither split nor repeat.
template <typename T>
T load_once(const T* at) {
    return __atomic_load_n(at, __ATOMIC_RELAXED);
}
template <typename T>
void store_once(T* at, T value) {
    __atomic_store_n(at, value, __ATOMIC_RELAXED);
}

bool aligned(uint64_t value, size_t alignment) {
    return (value & (alignment - 1)) == 0;
}

Result<void, VirtqueueError> check_area(const QueueArea& area, size_t bytes, size_t alignment) {
    if (area.memory.size() < bytes)
        return Err{VirtqueueError::TooSmall};
    if (!aligned(reinterpret_cast<uintptr_t>(area.memory.data()), alignment) ||
        !aligned(area.bus_address, alignment))
        return Err{VirtqueueError::Misaligned};
    return {};
}

// Whether the first `a_bytes` of `a` and the first `b_bytes` of `b` share a byte.
bool overlap(const QueueArea& a, size_t a_bytes, const QueueArea& b, size_t b_bytes) {
    uintptr_t a_start = reinterpret_cast<uintptr_t>(a.memory.data());
    uintptr_t b_start = reinterpret_cast<uintptr_t>(b.memory.data());
    return a_start < b_start + b_bytes && b_start < a_start + a_bytes;
}

} // namespace

const char* to_string(VirtqueueError error) {
    switch (error) {
    case VirtqueueError::BadSize:
        return "virtqueue size is not a power of two up to 32768";
    case VirtqueueError::Misaligned:
        return "virtqueue area misaligned";
    case VirtqueueError::TooSmall:
        return "virtqueue area too small";
    case VirtqueueError::Overlap:
        return "virtqueue areas overlap";
    case VirtqueueError::EmptyChain:
        return "empty descriptor chain";
    case VirtqueueError::EmptySegment:
        return "segment of 0 bytes";
    case VirtqueueError::TooLong:
        return "descriptor chain of 4 GiB or more";
    case VirtqueueError::TooManyParts:
        return "chain longer than the virtqueue";
    case VirtqueueError::NoRoom:
        return "no free descriptors";
    case VirtqueueError::DeviceBadId:
        return "device used a descriptor id out of range";
    case VirtqueueError::DeviceNotHead:
        return "device used a descriptor that is not an outstanding head";
    case VirtqueueError::DeviceLength:
        return "device wrote more bytes than the chain holds";
    case VirtqueueError::DeviceIndex:
        return "device used idx ran ahead of the available chains";
    }
    return "unknown virtqueue error";
}

Result<Virtqueue, VirtqueueError> Virtqueue::create(QueueMemory memory, uint16_t size,
                                                    EventIndex event_index) {
    if (!is_valid_queue_size(size))
        return Err{VirtqueueError::BadSize};
    size_t table_bytes = descriptor_table_bytes(size);
    size_t available_bytes = available_ring_bytes(size);
    size_t used_bytes = used_ring_bytes(size);
    TRY(check_area(memory.descriptors, table_bytes, descriptor_table_alignment));
    TRY(check_area(memory.available, available_bytes, available_ring_alignment));
    TRY(check_area(memory.used, used_bytes, used_ring_alignment));
    if (memory.state.size() < size)
        return Err{VirtqueueError::TooSmall};
    if (overlap(memory.descriptors, table_bytes, memory.available, available_bytes) ||
        overlap(memory.descriptors, table_bytes, memory.used, used_bytes) ||
        overlap(memory.available, available_bytes, memory.used, used_bytes))
        return Err{VirtqueueError::Overlap};

    Virtqueue queue;
    queue.m_descriptors = reinterpret_cast<Descriptor*>(memory.descriptors.memory.data());
    queue.m_available = memory.available.memory.data();
    queue.m_used = memory.used.memory.data();
    queue.m_state = memory.state.data();
    queue.m_descriptor_bus = memory.descriptors.bus_address;
    queue.m_available_bus = memory.available.bus_address;
    queue.m_used_bus = memory.used.bus_address;
    queue.m_size = size;
    queue.m_event_index = event_index;
    queue.m_free_count = size;

    __builtin_memset(queue.m_descriptors, 0, table_bytes);
    __builtin_memset(queue.m_available, 0, available_bytes);
    // The driver initialises the used ring's flags (2.7.10) and starts both
    // indexes at 0.
    __builtin_memset(queue.m_used, 0, used_bytes);
    for (uint16_t index = 0; index < size; ++index) {
        DescriptorState& state = queue.m_state[index];
        state = DescriptorState{};
        state.m_next = uint16_t(index + 1); // the last one's is never followed
    }
    return queue;
}

Err<VirtqueueError> Virtqueue::fail(VirtqueueError error) {
    if (!m_broken)
        m_broken = error;
    return Err{*m_broken};
}

Result<uint16_t, VirtqueueError> Virtqueue::submit(std::span<const Segment> readable,
                                                   std::span<const Segment> writable,
                                                   uint32_t token) {
    if (m_broken)
        return Err{*m_broken};
    // Decode: nothing changes until every check has passed.
    size_t parts = readable.size() + writable.size();
    if (parts == 0)
        return Err{VirtqueueError::EmptyChain};
    if (parts > m_size)
        return Err{VirtqueueError::TooManyParts};
    uint64_t total = 0;
    uint64_t writable_bytes = 0;
    for (const Segment& segment : readable) {
        if (segment.length == 0)
            return Err{VirtqueueError::EmptySegment};
        total += segment.length;
    }
    for (const Segment& segment : writable) {
        if (segment.length == 0)
            return Err{VirtqueueError::EmptySegment};
        total += segment.length;
        writable_bytes += segment.length;
    }
    if (total > UINT32_MAX)
        return Err{VirtqueueError::TooLong};
    if (parts > m_free_count)
        return Err{VirtqueueError::NoRoom};

    // Step 1: the chain takes the first `parts` descriptors of the free list,
    // keeping the list's links as its own; they are written whole, whatever
    // the device left in them.
    uint16_t head = m_free_head;
    uint16_t current = head;
    for (size_t part = 0; part < parts; ++part) {
        bool is_writable = part >= readable.size();
        const Segment& segment = is_writable ? writable[part - readable.size()] : readable[part];
        DescriptorState& state = m_state[current];
        bool last = part + 1 == parts;
        Descriptor& descriptor = m_descriptors[current];
        descriptor.address = segment.address;
        descriptor.length = segment.length;
        descriptor.flags =
            uint16_t((is_writable ? descriptor_write : 0) | (last ? 0 : descriptor_next));
        descriptor.next = last ? 0 : state.m_next;
        state.m_use = DescriptorState::Use::Member;
        if (!last)
            current = state.m_next;
    }
    m_free_head = m_state[current].m_next;
    m_free_count = uint16_t(m_free_count - parts);
    DescriptorState& head_state = m_state[head];
    head_state.m_use = DescriptorState::Use::Head;
    head_state.m_token = token;
    head_state.m_writable = uint32_t(writable_bytes);
    head_state.m_count = uint16_t(parts);
    ++m_outstanding;

    // The ring entry, then avail idx with release: the device that sees the
    // new idx sees the entry and the descriptors.
    store_once(available_word(available_ring + (m_available_index & (m_size - 1))), head);
    m_available_index = uint16_t(m_available_index + 1);
    __atomic_store_n(available_word(available_index), m_available_index, __ATOMIC_RELEASE);
    return head;
}

Result<bool, VirtqueueError> Virtqueue::needs_notify() {
    if (m_broken)
        return Err{*m_broken};
    // Step 2: the new avail idx is visible before the hint is read, or a
    // device that went idle meanwhile would never be told (2.7.13.4).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t old_index = m_notified_index;
    uint16_t new_index = m_available_index;
    m_notified_index = new_index;
    if (new_index == old_index)
        return false;
    if (m_event_index == EventIndex::On) {
        // The device asked to be told once the entry at avail_event is written:
        // notify when avail_event lies in [old_index, new_index), modulo 2^16.
        uint16_t event = load_once(used_word(used_event_offset(m_size)));
        return uint16_t(new_index - event - 1) < uint16_t(new_index - old_index);
    }
    return (load_once(used_word(used_flags)) & used_no_notify) == 0;
}

Result<std::optional<Completion>, VirtqueueError> Virtqueue::take_used() {
    if (m_broken)
        return Err{*m_broken};
    // Step 3: acquire pairs with the device's publication of used idx: the
    // entry below is read after it.
    uint16_t device_index = __atomic_load_n(used_word(used_index), __ATOMIC_ACQUIRE);
    uint16_t ready = uint16_t(device_index - m_used_taken);
    if (ready == 0)
        return std::optional<Completion>{};
    if (ready > m_outstanding)
        return fail(VirtqueueError::DeviceIndex);
    uint16_t slot = uint16_t(m_used_taken & (m_size - 1));
    uint32_t id = load_once(used_entry_word(slot, 0));
    uint32_t length = load_once(used_entry_word(slot, 1));
    if (id >= m_size)
        return fail(VirtqueueError::DeviceBadId);
    DescriptorState& head = m_state[id];
    if (head.m_use != DescriptorState::Use::Head)
        return fail(VirtqueueError::DeviceNotHead);
    if (length > head.m_writable)
        return fail(VirtqueueError::DeviceLength);

    // Nothing below can fail: the chain goes back to the front of the free list.
    Completion completion{head.m_token, length};
    uint16_t last = uint16_t(id);
    for (uint16_t part = 0; part < head.m_count; ++part) {
        m_state[last].m_use = DescriptorState::Use::Free;
        if (part + 1 < head.m_count)
            last = m_state[last].m_next;
    }
    m_free_count = uint16_t(m_free_count + head.m_count);
    m_state[last].m_next = m_free_head;
    m_free_head = uint16_t(id);
    head.m_token = 0;
    head.m_writable = 0;
    head.m_count = 0;
    --m_outstanding;
    m_used_taken = uint16_t(m_used_taken + 1);
    return std::optional<Completion>{completion};
}

void Virtqueue::disable_interrupts() {
    if (m_event_index == EventIndex::On) {
        // The entry furthest away: 2^16 - 1 completions from now.
        store_once(available_word(available_used_event(m_size)), uint16_t(m_used_taken - 1));
        return;
    }
    m_available_flags = uint16_t(m_available_flags | available_no_interrupt);
    store_once(available_word(available_flags), m_available_flags);
}

Result<bool, VirtqueueError> Virtqueue::enable_interrupts(uint16_t after) {
    if (m_broken)
        return Err{*m_broken};
    if (m_event_index == EventIndex::On) {
        // Notified when the device writes the entry at used_event.
        uint16_t wait = after == 0 ? 1 : after;
        store_once(available_word(available_used_event(m_size)), uint16_t(m_used_taken + wait - 1));
    } else {
        m_available_flags = uint16_t(m_available_flags & ~available_no_interrupt);
        store_once(available_word(available_flags), m_available_flags);
    }
    // Step 4: the hint is visible before used idx is read again, so a
    // completion is either seen here or notified.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load_once(used_word(used_index)) != m_used_taken;
}

} // namespace capos::virtio
