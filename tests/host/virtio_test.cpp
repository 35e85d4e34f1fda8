// Host tests for lib/virtio. Virtqueue: a simulated device in the same memory
// takes the available chains (checking that each is well formed and that no
// descriptor is in two chains) and writes used entries; round trips, chains
// of every length and split, a full queue, 16-bit indexes wrapping many
// times, the EVENT_IDX notification rule against its definition, interrupt
// hints, a hostile device (ids out of range or not heads, a chain completed
// twice, lengths past the buffers, used idx running ahead or back, garbage in
// the driver's own areas), and random traffic against a model. VirtioPciCaps:
// capability lists built byte by byte, good and malformed, the common
// configuration's offsets against the specification's struct, the notify
// register's address, and random garbage lists. VirtioBlk: the features
// taken, the disk a configuration describes (block sizes, segment limits,
// queue room), range checks at the disk's end and near 2^64, segment
// splitting, and the status byte, used length and identity the device writes.
#include "lib/virtio/blk.h"
#include "lib/virtio/legacy.h"
#include "lib/virtio/pci_caps.h"
#include "lib/virtio/virtqueue.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace capos::virtio {

// gtest prints errors by name.
static void PrintTo(VirtqueueError error, std::ostream* out) {
    *out << to_string(error);
}
static void PrintTo(VirtioPciError error, std::ostream* out) {
    *out << to_string(error);
}
namespace blk {
static void PrintTo(BlkError error, std::ostream* out) {
    *out << to_string(error);
}
} // namespace blk

namespace {

template <typename T, typename E>
std::optional<E> error_of(const Result<T, E>& result) {
    if (result.is_ok())
        return std::nullopt;
    return result.error();
}

// ---------------------------------------------------------------------------
// Virtqueue

constexpr uint64_t bus_base = 0x4000'0000;

// The queue's memory: the three parts in one 16-byte aligned buffer at the
// offsets of contiguous_layout, the device's view at bus_base, and the
// driver-private state.
class Rings {
public:
    explicit Rings(uint16_t size)
        : m_size(size), m_layout(contiguous_layout(size)), m_buffer(m_layout.total + 64, 0xAA),
          m_state(size) {
        uintptr_t raw = reinterpret_cast<uintptr_t>(m_buffer.data());
        m_base = m_buffer.data() + ((16 - raw % 16) % 16);
    }

    QueueMemory memory() {
        QueueMemory memory;
        memory.descriptors = area(m_layout.descriptors, descriptor_table_bytes(m_size));
        memory.available = area(m_layout.available, available_ring_bytes(m_size));
        memory.used = area(m_layout.used, used_ring_bytes(m_size));
        memory.state = m_state;
        return memory;
    }
    QueueArea area(size_t offset, size_t bytes) {
        return QueueArea{std::span<uint8_t>(m_base + offset, bytes), bus_base + offset};
    }

    uint16_t size() const { return m_size; }
    uint8_t* base() { return m_base; }
    const QueueLayout& layout() const { return m_layout; }
    Descriptor* descriptors() { return reinterpret_cast<Descriptor*>(m_base); }
    uint16_t* available() { return reinterpret_cast<uint16_t*>(m_base + m_layout.available); }
    uint8_t* used() { return m_base + m_layout.used; }

private:
    uint16_t m_size;
    QueueLayout m_layout;
    std::vector<uint8_t> m_buffer;
    uint8_t* m_base;
    std::vector<DescriptorState> m_state;
};

// A chain as the device found it.
struct Chain {
    uint16_t head = 0;
    std::vector<Descriptor> parts;
    uint32_t writable = 0;
};

// The device's side, on the same memory. fetch() fails the test on a chain
// that breaks the rules the driver must keep.
class FakeDevice {
public:
    explicit FakeDevice(Rings& rings) : m_rings(rings) {}

    // The chains made available since the last fetch, in ring order.
    std::vector<Chain> fetch() {
        std::vector<Chain> chains;
        uint16_t index = __atomic_load_n(&m_rings.available()[1], __ATOMIC_ACQUIRE);
        EXPECT_LE(uint16_t(index - m_seen), m_rings.size()) << "avail idx ran ahead";
        while (m_seen != index) {
            uint16_t head = m_rings.available()[2 + m_seen % m_rings.size()];
            chains.push_back(walk(head));
            ++m_seen;
        }
        return chains;
    }

    // Writes one used entry and publishes it.
    void complete(uint32_t id, uint32_t length) {
        write_entry(m_used, id, length);
        ++m_used;
        __atomic_store_n(used_word(2), m_used, __ATOMIC_RELEASE);
        release(id);
    }
    void write_entry(uint16_t index, uint32_t id, uint32_t length) {
        uint8_t* entry = m_rings.used() + 4 + 8 * (index % m_rings.size());
        std::memcpy(entry, &id, 4);
        std::memcpy(entry + 4, &length, 4);
    }
    void set_used_index(uint16_t index) {
        m_used = index;
        __atomic_store_n(used_word(2), index, __ATOMIC_RELEASE);
    }
    uint16_t used_index() const { return m_used; }

    void set_used_flags(uint16_t flags) { *used_word(0) = flags; }
    void set_avail_event(uint16_t event) { *used_word(4 + 8 * size_t(m_rings.size())) = event; }
    uint16_t available_flags() { return m_rings.available()[0]; }
    uint16_t available_index() { return m_rings.available()[1]; }
    uint16_t used_event() { return m_rings.available()[2 + m_rings.size()]; }

    // Descriptors in chains the device holds.
    size_t held() const { return m_held.size(); }

private:
    Chain walk(uint16_t head) {
        Chain chain;
        chain.head = head;
        EXPECT_LT(head, m_rings.size());
        uint16_t index = head;
        bool writable_seen = false;
        for (;;) {
            if (index >= m_rings.size() || chain.parts.size() >= m_rings.size()) {
                ADD_FAILURE() << "chain leaves the table or loops";
                break;
            }
            EXPECT_TRUE(m_held.insert(index).second) << "descriptor " << index << " in two chains";
            m_member_of[index] = head;
            Descriptor descriptor = m_rings.descriptors()[index];
            chain.parts.push_back(descriptor);
            EXPECT_EQ(descriptor.flags & descriptor_indirect, 0);
            if (descriptor.flags & descriptor_write) {
                writable_seen = true;
                chain.writable += descriptor.length;
            } else {
                EXPECT_FALSE(writable_seen) << "readable after writable";
            }
            if (!(descriptor.flags & descriptor_next))
                break;
            index = descriptor.next;
        }
        return chain;
    }
    void release(uint32_t head) {
        for (auto it = m_member_of.begin(); it != m_member_of.end();) {
            if (it->second == head) {
                m_held.erase(it->first);
                it = m_member_of.erase(it);
            } else {
                ++it;
            }
        }
    }
    uint16_t* used_word(size_t offset) {
        return reinterpret_cast<uint16_t*>(m_rings.used() + offset);
    }

    Rings& m_rings;
    uint16_t m_seen = 0;
    uint16_t m_used = 0;
    std::set<uint16_t> m_held;
    std::map<uint16_t, uint16_t> m_member_of;
};

Virtqueue make_queue(Rings& rings, EventIndex event_index = EventIndex::Off) {
    auto created = Virtqueue::create(rings.memory(), rings.size(), event_index);
    EXPECT_TRUE(created.is_ok());
    return created.release_value();
}

std::vector<Segment> segments(std::initializer_list<uint32_t> lengths, uint64_t address = 0x1000) {
    std::vector<Segment> result;
    for (uint32_t length : lengths) {
        result.push_back(Segment{address, length});
        address += 0x1000;
    }
    return result;
}

std::optional<Completion> take(Virtqueue& queue) {
    auto taken = queue.take_used();
    EXPECT_TRUE(taken.is_ok()) << (taken.is_ok() ? "" : to_string(taken.error()));
    return taken.is_ok() ? taken.value() : std::nullopt;
}

TEST(Virtqueue, LayoutHelpersFollowTheSpecification) {
    EXPECT_EQ(descriptor_table_bytes(256), 4096u);
    EXPECT_EQ(available_ring_bytes(256), 518u);
    EXPECT_EQ(used_ring_bytes(256), 2054u);
    EXPECT_EQ(descriptor_table_bytes(32768), 524288u);
    QueueLayout layout = contiguous_layout(256);
    EXPECT_EQ(layout.descriptors, 0u);
    EXPECT_EQ(layout.available, 4096u);
    EXPECT_EQ(layout.used, 4616u); // 4096 + 518, up to a multiple of 4
    EXPECT_EQ(layout.total, 4616u + 2054u);
    QueueLayout one = contiguous_layout(1);
    EXPECT_EQ(one.available, 16u);
    EXPECT_EQ(one.used, 24u); // 16 + 8
    for (uint32_t size : {1u, 2u, 4u, 256u, 32768u})
        EXPECT_TRUE(is_valid_queue_size(size)) << size;
    for (uint32_t size : {0u, 3u, 6u, 255u, 65535u, 65536u})
        EXPECT_FALSE(is_valid_queue_size(size)) << size;
}

TEST(VirtioLegacy, RegistersAndQueueLayoutFollowTheSpecification) {
    // 4.1.4.8: the registers of BAR 0, and where the device configuration
    // starts with and without MSI-X.
    EXPECT_EQ(legacy::device_features, 0u);
    EXPECT_EQ(legacy::driver_features, 4u);
    EXPECT_EQ(legacy::queue_address, 8u);
    EXPECT_EQ(legacy::queue_size, 12u);
    EXPECT_EQ(legacy::queue_select, 14u);
    EXPECT_EQ(legacy::queue_notify, 16u);
    EXPECT_EQ(legacy::device_status, 18u);
    EXPECT_EQ(legacy::isr_status, 19u);
    EXPECT_EQ(legacy::config_msix_vector, 20u);
    EXPECT_EQ(legacy::queue_msix_vector, 22u);
    EXPECT_EQ(legacy::device_config_offset(false), 20u);
    EXPECT_EQ(legacy::device_config_offset(true), 24u);
    // 2.7.2: the used ring on the next 4 KiB boundary after the available
    // ring (with its used_event). QEMU's virtio-net queues of 256: the
    // table's 4096 bytes and the ring's 518 end at 4614, the used ring at
    // 8192, 2054 bytes.
    QueueLayout layout = legacy::queue_layout(256);
    EXPECT_EQ(layout.descriptors, 0u);
    EXPECT_EQ(layout.available, 4096u);
    EXPECT_EQ(layout.used, 8192u);
    EXPECT_EQ(layout.total, 8192u + 6 + 8 * 256);
    for (uint32_t size = 1; size <= max_queue_size; size *= 2) {
        QueueLayout each = legacy::queue_layout(uint16_t(size));
        EXPECT_EQ(each.used % 4096, 0u) << size;
        EXPECT_GE(each.used, each.available + available_ring_bytes(uint16_t(size))) << size;
        EXPECT_LT(each.used - 4096, each.available + available_ring_bytes(uint16_t(size))) << size;
    }
}

TEST(VirtioLegacy, QueueSizeAndAddressAreChecked) {
    EXPECT_EQ(legacy::queue_size_of(0).error(), legacy::LegacyError::NoQueue);
    EXPECT_EQ(legacy::queue_size_of(3).error(), legacy::LegacyError::BadQueueSize);
    EXPECT_EQ(legacy::queue_size_of(1000).error(), legacy::LegacyError::BadQueueSize);
    EXPECT_EQ(legacy::queue_size_of(256).value(), 256);
    EXPECT_EQ(legacy::queue_size_of(32768).value(), 32768);
    EXPECT_EQ(legacy::queue_page_number(0x1234000).value(), 0x1234u);
    EXPECT_EQ(legacy::queue_page_number(0x1234800).error(), legacy::LegacyError::Misaligned);
    EXPECT_EQ(legacy::queue_page_number(0xfffffffful << 12).value(), 0xffffffffu);
    EXPECT_EQ(legacy::queue_page_number(uint64_t{1} << 44).error(), legacy::LegacyError::TooHigh);
}

TEST(VirtioLegacy, TheModernInterfaceWheneverItIsThere) {
    Result<PciLayout, VirtioPciError> usable = PciLayout{};
    Result<PciLayout, VirtioPciError> none = Err{VirtioPciError::NoCommon};
    Result<PciLayout, VirtioPciError> broken = Err{VirtioPciError::OutsideBar};
    EXPECT_EQ(choose_interface(usable, 0x1000, true).value(), DeviceInterface::Modern);
    EXPECT_EQ(choose_interface(usable, 0x1041, false).value(), DeviceInterface::Modern);
    // Legacy: transitional ids only (0x1000 to 0x103f), with BAR 0 in I/O
    // space.
    EXPECT_EQ(choose_interface(none, 0x1000, true).value(), DeviceInterface::Legacy);
    EXPECT_EQ(choose_interface(broken, 0x1001, true).value(), DeviceInterface::Legacy);
    EXPECT_EQ(choose_interface(none, 0x103f, true).value(), DeviceInterface::Legacy);
    EXPECT_EQ(choose_interface(none, 0x1000, false).error(), VirtioPciError::NoCommon);
    EXPECT_EQ(choose_interface(none, 0x1040, true).error(), VirtioPciError::NoCommon);
    EXPECT_EQ(choose_interface(broken, 0x1041, true).error(), VirtioPciError::OutsideBar);
    EXPECT_EQ(choose_interface(none, 0x0fff, true).error(), VirtioPciError::NoCommon);
}

TEST(Virtqueue, CreateChecksTheSizeAndEveryArea) {
    for (uint16_t size : {uint16_t(0), uint16_t(3), uint16_t(48), uint16_t(65535)}) {
        Rings rings(8);
        EXPECT_EQ(error_of(Virtqueue::create(rings.memory(), size, EventIndex::Off)),
                  VirtqueueError::BadSize);
    }
    Rings rings(8);
    auto with = [&](auto change) {
        QueueMemory memory = rings.memory();
        change(memory);
        return error_of(Virtqueue::create(memory, 8, EventIndex::Off));
    };
    EXPECT_EQ(with([](QueueMemory&) {}), std::nullopt);
    // Misaligned memory or bus addresses, each part by its own alignment.
    EXPECT_EQ(with([&](QueueMemory& m) { m.descriptors = rings.area(8 * 16 + 8, 8 * 16); }),
              VirtqueueError::Misaligned);
    EXPECT_EQ(with([](QueueMemory& m) { m.descriptors.bus_address += 8; }),
              VirtqueueError::Misaligned);
    EXPECT_EQ(with([](QueueMemory& m) { m.available.bus_address += 1; }),
              VirtqueueError::Misaligned);
    EXPECT_EQ(with([](QueueMemory& m) {
                  m.available.memory = std::span(m.available.memory.data() + 1, 22);
              }),
              VirtqueueError::Misaligned);
    EXPECT_EQ(with([](QueueMemory& m) { m.used.bus_address += 2; }), VirtqueueError::Misaligned);
    EXPECT_EQ(with([](QueueMemory& m) { m.available.bus_address += 2; }), std::nullopt);
    // One byte short, of each part and of the state.
    EXPECT_EQ(with([](QueueMemory& m) { m.descriptors.memory = m.descriptors.memory.first(127); }),
              VirtqueueError::TooSmall);
    EXPECT_EQ(with([](QueueMemory& m) { m.available.memory = m.available.memory.first(21); }),
              VirtqueueError::TooSmall);
    EXPECT_EQ(with([](QueueMemory& m) { m.used.memory = m.used.memory.first(69); }),
              VirtqueueError::TooSmall);
    EXPECT_EQ(with([](QueueMemory& m) { m.state = m.state.first(7); }), VirtqueueError::TooSmall);
    // Overlaps.
    EXPECT_EQ(with([&](QueueMemory& m) {
                  m.used.memory = std::span(m.available.memory.data() + 20, 70);
              }),
              VirtqueueError::Overlap);
    EXPECT_EQ(with([&](QueueMemory& m) { m.available.memory = m.descriptors.memory; }),
              VirtqueueError::Overlap);
    EXPECT_EQ(with([&](QueueMemory& m) {
                  m.used.memory = std::span(m.descriptors.memory.data() + 64, 70);
              }),
              VirtqueueError::Overlap);
}

TEST(Virtqueue, CreateInitialisesRingsAndFreeList) {
    Rings rings(16); // its buffer starts as 0xAA everywhere
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    EXPECT_EQ(queue.size(), 16);
    EXPECT_EQ(queue.free_descriptors(), 16);
    EXPECT_EQ(queue.outstanding(), 0);
    EXPECT_EQ(queue.broken(), std::nullopt);
    EXPECT_EQ(device.available_flags(), 0);
    EXPECT_EQ(device.available_index(), 0);
    EXPECT_EQ(device.used_event(), 0);
    for (size_t byte = 0; byte < used_ring_bytes(16); ++byte)
        EXPECT_EQ(rings.used()[byte], 0) << byte;
    EXPECT_EQ(queue.descriptor_bus_address(), bus_base);
    EXPECT_EQ(queue.available_bus_address(), bus_base + rings.layout().available);
    EXPECT_EQ(queue.used_bus_address(), bus_base + rings.layout().used);
    auto nothing = queue.take_used();
    ASSERT_TRUE(nothing.is_ok());
    EXPECT_EQ(nothing.value(), std::nullopt);
}

TEST(Virtqueue, RoundTripWritesTheChainAsTheSpecificationSays) {
    Rings rings(8);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    std::array<Segment, 2> readable{Segment{0x10000, 16}, Segment{0x20000, 512}};
    std::array<Segment, 1> writable{Segment{0x30000, 1}};
    auto head = queue.submit(readable, writable, 0xC0FFEE);
    ASSERT_TRUE(head.is_ok());
    EXPECT_EQ(queue.free_descriptors(), 5);
    EXPECT_EQ(queue.outstanding(), 1);
    EXPECT_EQ(device.available_index(), 1);
    std::vector<Chain> chains = device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    EXPECT_EQ(chains[0].head, head.value());
    ASSERT_EQ(chains[0].parts.size(), 3u);
    EXPECT_EQ(chains[0].parts[0].address, 0x10000u);
    EXPECT_EQ(chains[0].parts[0].length, 16u);
    EXPECT_EQ(chains[0].parts[0].flags, descriptor_next);
    EXPECT_EQ(chains[0].parts[1].address, 0x20000u);
    EXPECT_EQ(chains[0].parts[1].flags, descriptor_next);
    EXPECT_EQ(chains[0].parts[2].address, 0x30000u);
    EXPECT_EQ(chains[0].parts[2].length, 1u);
    EXPECT_EQ(chains[0].parts[2].flags, descriptor_write);
    EXPECT_EQ(chains[0].parts[2].next, 0);
    EXPECT_EQ(chains[0].writable, 1u);

    auto empty = queue.take_used();
    ASSERT_TRUE(empty.is_ok());
    EXPECT_EQ(empty.value(), std::nullopt);
    device.complete(head.value(), 1);
    std::optional<Completion> done = take(queue);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->token, 0xC0FFEEu);
    EXPECT_EQ(done->length, 1u);
    EXPECT_EQ(queue.free_descriptors(), 8);
    EXPECT_EQ(queue.outstanding(), 0);
    EXPECT_EQ(take(queue), std::nullopt);
}

TEST(Virtqueue, ChainsOfEveryLengthAndSplit) {
    constexpr uint16_t size = 16;
    Rings rings(size);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    uint32_t token = 0;
    for (size_t parts = 1; parts <= size; ++parts) {
        for (size_t readable_count = 0; readable_count <= parts; ++readable_count) {
            std::vector<Segment> all;
            for (size_t i = 0; i < parts; ++i)
                all.push_back(Segment{0x100000 * (i + 1), uint32_t(10 + i)});
            std::span<const Segment> readable(all.data(), readable_count);
            std::span<const Segment> writable(all.data() + readable_count, parts - readable_count);
            uint32_t expected_writable = 0;
            for (const Segment& segment : writable)
                expected_writable += segment.length;
            auto head = queue.submit(readable, writable, ++token);
            ASSERT_TRUE(head.is_ok()) << parts << " " << readable_count;
            std::vector<Chain> chains = device.fetch();
            ASSERT_EQ(chains.size(), 1u);
            ASSERT_EQ(chains[0].parts.size(), parts);
            for (size_t i = 0; i < parts; ++i) {
                EXPECT_EQ(chains[0].parts[i].address, all[i].address);
                EXPECT_EQ(chains[0].parts[i].length, all[i].length);
                EXPECT_EQ((chains[0].parts[i].flags & descriptor_write) != 0, i >= readable_count);
            }
            EXPECT_EQ(chains[0].writable, expected_writable);
            device.complete(chains[0].head, expected_writable);
            std::optional<Completion> done = take(queue);
            ASSERT_TRUE(done);
            EXPECT_EQ(done->token, token);
            EXPECT_EQ(done->length, expected_writable);
            EXPECT_EQ(queue.free_descriptors(), size);
        }
    }
}

TEST(Virtqueue, LargestQueueTakesOneChainOfEveryDescriptor) {
    Rings rings(32768);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    EXPECT_EQ(queue.free_descriptors(), 32768);
    std::vector<Segment> all(32768, Segment{0x2000, 1});
    auto head = queue.submit(std::span(all).first(100), std::span(all).subspan(100), 5);
    ASSERT_TRUE(head.is_ok());
    EXPECT_EQ(queue.free_descriptors(), 0);
    EXPECT_EQ(error_of(queue.submit(std::span(all).first(1), {}, 6)), VirtqueueError::NoRoom);
    std::vector<Chain> chains = device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    EXPECT_EQ(chains[0].parts.size(), 32768u);
    EXPECT_EQ(chains[0].writable, 32768u - 100);
    device.complete(head.value(), 32768 - 100);
    std::optional<Completion> done = take(queue);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->length, 32768u - 100);
    EXPECT_EQ(queue.free_descriptors(), 32768);
}

TEST(Virtqueue, FullQueueAndBadChainsChangeNothing) {
    Rings rings(8);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    std::vector<Segment> one = segments({64});
    std::vector<uint16_t> heads;
    for (uint32_t i = 0; i < 8; ++i) {
        auto head = queue.submit(one, {}, i);
        ASSERT_TRUE(head.is_ok());
        heads.push_back(head.value());
    }
    EXPECT_EQ(queue.free_descriptors(), 0);
    EXPECT_EQ(error_of(queue.submit(one, {}, 99)), VirtqueueError::NoRoom);
    EXPECT_EQ(device.available_index(), 8);
    EXPECT_EQ(device.fetch().size(), 8u);
    device.complete(heads[3], 0);
    device.complete(heads[5], 0);
    ASSERT_EQ(take(queue)->token, 3u);
    ASSERT_EQ(take(queue)->token, 5u);
    // Two free: a chain of three does not fit yet, and nothing moves.
    std::vector<Segment> three = segments({1, 2, 3});
    EXPECT_EQ(error_of(queue.submit(three, {}, 100)), VirtqueueError::NoRoom);
    EXPECT_EQ(queue.free_descriptors(), 2);
    EXPECT_EQ(device.available_index(), 8);
    device.complete(heads[0], 0);
    ASSERT_EQ(take(queue)->token, 0u);
    auto fits = queue.submit(std::span(three).first(1), std::span(three).subspan(1), 100);
    ASSERT_TRUE(fits.is_ok());
    EXPECT_EQ(queue.free_descriptors(), 0);
    std::vector<Chain> chains = device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    EXPECT_EQ(chains[0].parts.size(), 3u);

    // Chains that can never be made, whatever is free.
    Rings other_rings(8);
    Virtqueue other = make_queue(other_rings);
    std::vector<Segment> nine(9, Segment{0x1000, 1});
    EXPECT_EQ(error_of(other.submit(nine, {}, 1)), VirtqueueError::TooManyParts);
    EXPECT_EQ(error_of(other.submit({}, {}, 1)), VirtqueueError::EmptyChain);
    EXPECT_EQ(error_of(other.submit(segments({4, 0}), {}, 1)), VirtqueueError::EmptySegment);
    EXPECT_EQ(error_of(other.submit(segments({4}), segments({0}), 1)),
              VirtqueueError::EmptySegment);
    std::vector<Segment> huge = segments({0x80000000u, 0x7fffffffu});
    EXPECT_TRUE(other.submit(huge, {}, 1).is_ok()); // 2^32 - 1 bytes: the most
    std::vector<Segment> too_much = segments({0x80000000u, 0x80000000u});
    EXPECT_EQ(error_of(other.submit({}, too_much, 1)), VirtqueueError::TooLong);
    EXPECT_EQ(other.free_descriptors(), 6);
    EXPECT_EQ(other.outstanding(), 1);
}

TEST(Virtqueue, IndexesWrapPast65536) {
    constexpr uint16_t size = 4;
    Rings rings(size);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    std::vector<Segment> readable = segments({8});
    std::vector<Segment> writable = segments({32}, 0x900000);
    uint32_t completed = 0;
    for (uint32_t round = 0; round < 35000; ++round) {
        // Two in flight, completed in reverse order.
        auto first = queue.submit(readable, writable, 2 * round);
        auto second = queue.submit(readable, {}, 2 * round + 1);
        ASSERT_TRUE(first.is_ok() && second.is_ok()) << round;
        ASSERT_EQ(device.fetch().size(), 2u);
        device.complete(second.value(), 0);
        device.complete(first.value(), round % 33);
        std::optional<Completion> a = take(queue);
        std::optional<Completion> b = take(queue);
        ASSERT_TRUE(a && b);
        EXPECT_EQ(a->token, 2 * round + 1);
        EXPECT_EQ(b->token, 2 * round);
        EXPECT_EQ(b->length, round % 33);
        completed += 2;
        ASSERT_EQ(device.available_index(), uint16_t(completed));
    }
    EXPECT_GT(completed, 65536u);
    EXPECT_EQ(device.used_index(), uint16_t(completed));
    EXPECT_EQ(queue.free_descriptors(), size);
    EXPECT_EQ(queue.outstanding(), 0);
}

TEST(Virtqueue, NotifyHonoursTheUsedFlags) {
    Rings rings(8);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    std::vector<Segment> one = segments({4});
    // Nothing published: nothing to tell.
    EXPECT_FALSE(queue.needs_notify().value());
    ASSERT_TRUE(queue.submit(one, {}, 1).is_ok());
    EXPECT_TRUE(queue.needs_notify().value());
    EXPECT_FALSE(queue.needs_notify().value()); // nothing new since
    device.set_used_flags(used_no_notify);
    ASSERT_TRUE(queue.submit(one, {}, 2).is_ok());
    EXPECT_FALSE(queue.needs_notify().value());
    device.set_used_flags(0xfffe); // only bit 0 means anything
    ASSERT_TRUE(queue.submit(one, {}, 3).is_ok());
    ASSERT_TRUE(queue.submit(one, {}, 4).is_ok());
    EXPECT_TRUE(queue.needs_notify().value());
    // avail_event means nothing without EVENT_IDX.
    device.set_used_flags(0);
    device.set_avail_event(1000);
    ASSERT_TRUE(queue.submit(one, {}, 5).is_ok());
    EXPECT_TRUE(queue.needs_notify().value());
}

// The rule, from its definition (2.7.10): after publishing the entries at
// indexes [old, new), the driver notifies when one of them is avail_event.
bool reference_notify(uint16_t old_index, uint16_t new_index, uint16_t event) {
    for (uint16_t index = old_index; index != new_index; ++index) {
        if (index == event)
            return true;
    }
    return false;
}

TEST(Virtqueue, NotifyFollowsTheEventIndexRule) {
    constexpr uint16_t size = 8;
    Rings rings(size);
    Virtqueue queue = make_queue(rings, EventIndex::On);
    FakeDevice device(rings);
    std::vector<Segment> one = segments({4});
    std::mt19937 random(29);
    uint16_t published = 0;
    uint32_t notified = 0;
    uint32_t rounds = 0;
    // Past two wraps of the 16-bit index.
    while (rounds < 40000) {
        uint16_t old_index = published;
        uint32_t batch = 1 + random() % size;
        for (uint32_t i = 0; i < batch; ++i)
            ASSERT_TRUE(queue.submit(one, {}, published++).is_ok());
        // An event behind, inside, at the end of or past the batch, or anywhere.
        uint16_t event;
        switch (random() % 5) {
        case 0:
            event = uint16_t(old_index - random() % 4);
            break;
        case 1:
            event = uint16_t(old_index + random() % batch);
            break;
        case 2:
            event = published;
            break;
        case 3:
            event = uint16_t(published + random() % 4);
            break;
        default:
            event = uint16_t(random());
            break;
        }
        device.set_avail_event(event);
        // The flags mean nothing with EVENT_IDX.
        device.set_used_flags(uint16_t(random() % 2));
        bool expected = reference_notify(old_index, published, event);
        ASSERT_EQ(queue.needs_notify().value(), expected)
            << "old " << old_index << " new " << published << " event " << event;
        notified += expected;
        for (const Chain& chain : device.fetch())
            device.complete(chain.head, 0);
        while (take(queue)) {
        }
        ASSERT_EQ(queue.free_descriptors(), size);
        ++rounds;
    }
    EXPECT_GT(notified, rounds / 8);
    EXPECT_LT(notified, rounds);
    // The spec's own examples: avail_event at the first new entry, at the
    // next one to come, and one behind.
    Rings exact_rings(4);
    Virtqueue exact = make_queue(exact_rings, EventIndex::On);
    FakeDevice exact_device(exact_rings);
    exact_device.set_avail_event(0);
    ASSERT_TRUE(exact.submit(one, {}, 0).is_ok());
    EXPECT_TRUE(exact.needs_notify().value());
    exact_device.set_avail_event(2);
    ASSERT_TRUE(exact.submit(one, {}, 1).is_ok()); // entry 1
    EXPECT_FALSE(exact.needs_notify().value());
    ASSERT_TRUE(exact.submit(one, {}, 2).is_ok()); // entry 2
    EXPECT_TRUE(exact.needs_notify().value());
    exact_device.set_avail_event(2);
    ASSERT_TRUE(exact.submit(one, {}, 3).is_ok()); // entry 3: the event is behind
    EXPECT_FALSE(exact.needs_notify().value());
}

TEST(Virtqueue, InterruptHintsWithFlags) {
    Rings rings(4);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    queue.disable_interrupts();
    EXPECT_EQ(device.available_flags(), available_no_interrupt);
    auto pending = queue.enable_interrupts();
    ASSERT_TRUE(pending.is_ok());
    EXPECT_FALSE(pending.value());
    EXPECT_EQ(device.available_flags(), 0);
    EXPECT_EQ(device.used_event(), 0); // untouched without EVENT_IDX

    auto head = queue.submit(segments({4}), {}, 7);
    ASSERT_TRUE(head.is_ok());
    device.fetch();
    queue.disable_interrupts();
    device.complete(head.value(), 0);
    // A completion arrived while disabled: enabling says so.
    EXPECT_TRUE(queue.enable_interrupts().value());
    EXPECT_EQ(take(queue)->token, 7u);
    EXPECT_FALSE(queue.enable_interrupts().value());
}

TEST(Virtqueue, InterruptHintsWithEventIndex) {
    Rings rings(4);
    Virtqueue queue = make_queue(rings, EventIndex::On);
    FakeDevice device(rings);
    std::vector<Segment> one = segments({4});
    EXPECT_FALSE(queue.enable_interrupts().value());
    EXPECT_EQ(device.used_event(), 0); // the next entry, 0
    EXPECT_FALSE(queue.enable_interrupts(3).value());
    EXPECT_EQ(device.used_event(), 2); // the third entry from now
    EXPECT_FALSE(queue.enable_interrupts(0).value());
    EXPECT_EQ(device.used_event(), 0); // as 1
    queue.disable_interrupts();
    EXPECT_EQ(device.used_event(), 0xffff);
    EXPECT_EQ(device.available_flags(), 0); // flags stay 0 with EVENT_IDX
    for (uint32_t i = 0; i < 3; ++i) {
        ASSERT_TRUE(queue.submit(one, {}, i).is_ok());
    }
    for (const Chain& chain : device.fetch())
        device.complete(chain.head, 0);
    EXPECT_TRUE(queue.enable_interrupts().value());
    EXPECT_EQ(device.used_event(), 0);
    while (take(queue)) {
    }
    EXPECT_FALSE(queue.enable_interrupts(2).value());
    EXPECT_EQ(device.used_event(), 4); // three taken: entries 3 and 4 to come
    queue.disable_interrupts();
    EXPECT_EQ(device.used_event(), 2);
}

// Every call after the device broke the queue fails with the same error,
// and nothing was freed.
void expect_broken(Virtqueue& queue, VirtqueueError error, uint16_t free_before) {
    EXPECT_EQ(queue.broken(), error);
    EXPECT_EQ(queue.free_descriptors(), free_before);
    EXPECT_EQ(error_of(queue.take_used()), error);
    EXPECT_EQ(error_of(queue.submit(segments({1}), {}, 0)), error);
    EXPECT_EQ(error_of(queue.needs_notify()), error);
    EXPECT_EQ(error_of(queue.enable_interrupts()), error);
    EXPECT_EQ(queue.free_descriptors(), free_before);
    EXPECT_TRUE(is_device_error(error));
}

TEST(Virtqueue, HostileIdOutOfRange) {
    for (uint32_t id : {8u, 9u, 0x10000u, 0xffffffffu}) {
        Rings rings(8);
        Virtqueue queue = make_queue(rings);
        FakeDevice device(rings);
        ASSERT_TRUE(queue.submit(segments({4}), segments({4}), 1).is_ok());
        device.fetch();
        device.write_entry(0, id, 0);
        device.set_used_index(1);
        EXPECT_EQ(error_of(queue.take_used()), VirtqueueError::DeviceBadId) << id;
        expect_broken(queue, VirtqueueError::DeviceBadId, 6);
    }
}

TEST(Virtqueue, HostileIdNotAnOutstandingHead) {
    // A free descriptor.
    {
        Rings rings(8);
        Virtqueue queue = make_queue(rings);
        FakeDevice device(rings);
        auto head = queue.submit(segments({4}), {}, 1);
        ASSERT_TRUE(head.is_ok());
        device.fetch();
        device.write_entry(0, 5, 0);
        device.set_used_index(1);
        EXPECT_EQ(error_of(queue.take_used()), VirtqueueError::DeviceNotHead);
        expect_broken(queue, VirtqueueError::DeviceNotHead, 7);
    }
    // The second descriptor of an outstanding chain.
    {
        Rings rings(8);
        Virtqueue queue = make_queue(rings);
        FakeDevice device(rings);
        ASSERT_TRUE(queue.submit(segments({4, 4}), segments({4}), 1).is_ok());
        std::vector<Chain> chains = device.fetch();
        uint16_t member = chains[0].parts[0].next;
        ASSERT_NE(member, chains[0].head);
        device.write_entry(0, member, 0);
        device.set_used_index(1);
        EXPECT_EQ(error_of(queue.take_used()), VirtqueueError::DeviceNotHead);
        expect_broken(queue, VirtqueueError::DeviceNotHead, 5);
    }
}

TEST(Virtqueue, HostileChainCompletedTwiceIsNotFreedTwice) {
    Rings rings(8);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    auto first = queue.submit(segments({4, 4}), {}, 1);
    auto second = queue.submit(segments({4}), {}, 2);
    ASSERT_TRUE(first.is_ok() && second.is_ok());
    device.fetch();
    device.complete(first.value(), 0);
    EXPECT_EQ(take(queue)->token, 1u);
    EXPECT_EQ(queue.free_descriptors(), 7);
    // The same head again, with the other chain still outstanding (so the
    // index itself is plausible).
    device.write_entry(1, first.value(), 0);
    device.set_used_index(2);
    EXPECT_EQ(error_of(queue.take_used()), VirtqueueError::DeviceNotHead);
    expect_broken(queue, VirtqueueError::DeviceNotHead, 7);
    EXPECT_EQ(queue.outstanding(), 1);
}

TEST(Virtqueue, HostileLengthPastTheWritableBytes) {
    struct Case {
        std::vector<uint32_t> readable;
        std::vector<uint32_t> writable;
        uint32_t length;
        bool accepted;
    };
    std::vector<Case> cases = {
        {{16}, {60, 40}, 100, true},
        {{16}, {60, 40}, 101, false},
        {{16}, {60, 40}, 0xffffffff, false},
        {{16, 4096}, {}, 0, true},
        {{16, 4096}, {}, 1, false}, // readable bytes are not the device's to write
        {{}, {1}, 1, true},
        {{}, {1}, 2, false},
    };
    for (const Case& c : cases) {
        Rings rings(8);
        Virtqueue queue = make_queue(rings);
        FakeDevice device(rings);
        std::vector<Segment> readable;
        for (uint32_t length : c.readable)
            readable.push_back(Segment{0x1000, length});
        std::vector<Segment> writable;
        for (uint32_t length : c.writable)
            writable.push_back(Segment{0x8000, length});
        auto head = queue.submit(readable, writable, 42);
        ASSERT_TRUE(head.is_ok());
        device.fetch();
        device.complete(head.value(), c.length);
        auto taken = queue.take_used();
        if (c.accepted) {
            ASSERT_TRUE(taken.is_ok());
            ASSERT_TRUE(taken.value());
            EXPECT_EQ(taken.value()->length, c.length);
            EXPECT_EQ(queue.free_descriptors(), 8);
        } else {
            EXPECT_EQ(error_of(taken), VirtqueueError::DeviceLength) << c.length;
            uint16_t parts = uint16_t(c.readable.size() + c.writable.size());
            expect_broken(queue, VirtqueueError::DeviceLength, uint16_t(8 - parts));
        }
    }
}

TEST(Virtqueue, HostileUsedIndexRunsAheadOrBack) {
    // Ahead of the chains outstanding by one, by far, and behind (which
    // modulo 2^16 is far ahead).
    for (uint16_t index : {uint16_t(3), uint16_t(9), uint16_t(40000), uint16_t(0xffff)}) {
        Rings rings(8);
        Virtqueue queue = make_queue(rings);
        FakeDevice device(rings);
        auto a = queue.submit(segments({4}), {}, 1);
        auto b = queue.submit(segments({4}), {}, 2);
        ASSERT_TRUE(a.is_ok() && b.is_ok());
        device.fetch();
        device.write_entry(0, a.value(), 0);
        device.write_entry(1, b.value(), 0);
        device.set_used_index(index);
        EXPECT_EQ(error_of(queue.take_used()), VirtqueueError::DeviceIndex) << index;
        expect_broken(queue, VirtqueueError::DeviceIndex, 6);
    }
    // After one completion taken, the index may claim the other, no more.
    Rings rings(8);
    Virtqueue queue = make_queue(rings);
    FakeDevice device(rings);
    auto a = queue.submit(segments({4}), {}, 1);
    auto b = queue.submit(segments({4}), {}, 2);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    device.fetch();
    device.complete(a.value(), 0);
    EXPECT_EQ(take(queue)->token, 1u);
    device.write_entry(1, b.value(), 0);
    device.write_entry(2, b.value(), 0);
    device.set_used_index(3);
    EXPECT_EQ(error_of(queue.take_used()), VirtqueueError::DeviceIndex);
    expect_broken(queue, VirtqueueError::DeviceIndex, 7);
}

TEST(Virtqueue, GarbageInTheDriversAreasIsNeverReadBack) {
    constexpr uint16_t size = 8;
    Rings rings(size);
    Virtqueue queue = make_queue(rings, EventIndex::On);
    FakeDevice device(rings);
    std::vector<uint16_t> heads;
    for (uint32_t i = 0; i < 4; ++i)
        heads.push_back(queue.submit(segments({4, 4}), {}, i).value());
    device.fetch();
    // The device scribbles over the descriptor table and the available ring.
    std::memset(rings.descriptors(), 0xff, descriptor_table_bytes(size));
    std::memset(rings.available(), 0x5a, available_ring_bytes(size));
    device.set_avail_event(0x1234);
    for (uint16_t head : heads)
        device.complete(head, 0);
    for (uint32_t i = 0; i < 4; ++i)
        EXPECT_EQ(take(queue)->token, i);
    EXPECT_EQ(queue.free_descriptors(), size);
    // New chains are written whole and published at the driver's own index.
    rings.available()[1] = 0x5a5a;
    auto head = queue.submit(segments({4, 4, 4}), segments({16}), 9);
    ASSERT_TRUE(head.is_ok());
    EXPECT_EQ(device.available_index(), 5);
    EXPECT_EQ(rings.available()[2 + 4], head.value());
    std::vector<Chain> chains = device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    ASSERT_EQ(chains[0].parts.size(), 4u);
    EXPECT_EQ(chains[0].parts[3].flags, descriptor_write);
    EXPECT_EQ(chains[0].writable, 16u);
    device.complete(head.value(), 16);
    EXPECT_EQ(take(queue)->length, 16u);
    EXPECT_EQ(queue.broken(), std::nullopt);
}

// Random submissions and completions in random order against a model: the
// tokens and lengths come back as the device gave them, free descriptors
// add up, and no descriptor is ever in two chains (FakeDevice checks).
TEST(Virtqueue, RandomTrafficAgainstAModel) {
    for (uint32_t seed = 1; seed <= 12; ++seed) {
        std::mt19937 random(seed);
        const uint16_t sizes[] = {1, 2, 4, 8, 16, 64, 256};
        uint16_t size = sizes[random() % std::size(sizes)];
        EventIndex event_index = random() % 2 ? EventIndex::On : EventIndex::Off;
        Rings rings(size);
        Virtqueue queue = make_queue(rings, event_index);
        FakeDevice device(rings);

        struct Expected {
            uint32_t token;
            uint32_t writable;
            uint16_t parts;
        };
        std::map<uint16_t, Expected> outstanding; // by head
        std::vector<Chain> held;                  // fetched by the device, not completed
        std::deque<Completion> completed;         // in used-ring order
        uint32_t free = size;
        uint32_t next_token = 0;
        uint64_t round_trips = 0;
        for (uint32_t step = 0; step < 20000; ++step) {
            switch (random() % 4) {
            case 0:
            case 1: {
                uint32_t parts = 1 + random() % std::min<uint32_t>(size, 6);
                uint32_t readable_count = random() % (parts + 1);
                std::vector<Segment> all;
                uint32_t writable = 0;
                for (uint32_t i = 0; i < parts; ++i) {
                    uint32_t length = 1 + random() % 5000;
                    all.push_back(Segment{uint64_t(random()) << 12, length});
                    if (i >= readable_count)
                        writable += length;
                }
                uint32_t token = next_token++;
                auto head = queue.submit(std::span(all).first(readable_count),
                                         std::span(all).subspan(readable_count), token);
                if (parts > free) {
                    ASSERT_EQ(error_of(head), VirtqueueError::NoRoom);
                    break;
                }
                ASSERT_TRUE(head.is_ok());
                ASSERT_EQ(outstanding.count(head.value()), 0u);
                outstanding[head.value()] = Expected{token, writable, uint16_t(parts)};
                free -= parts;
                if (random() % 2)
                    (void)queue.needs_notify().value();
                break;
            }
            case 2: {
                for (Chain& chain : device.fetch()) {
                    ASSERT_EQ(outstanding.count(chain.head), 1u);
                    EXPECT_EQ(chain.writable, outstanding[chain.head].writable);
                    EXPECT_EQ(chain.parts.size(), outstanding[chain.head].parts);
                    held.push_back(chain);
                }
                // The device finishes some, in any order.
                uint32_t finish = held.empty() ? 0 : random() % (held.size() + 1);
                for (uint32_t i = 0; i < finish; ++i) {
                    size_t pick = random() % held.size();
                    Chain chain = held[pick];
                    held.erase(held.begin() + pick);
                    uint32_t length = chain.writable ? random() % (chain.writable + 1) : 0;
                    device.complete(chain.head, length);
                    completed.push_back(Completion{outstanding[chain.head].token, length});
                }
                break;
            }
            default: {
                uint32_t takes = random() % 4;
                for (uint32_t i = 0; i < takes; ++i) {
                    std::optional<Completion> done = take(queue);
                    if (completed.empty()) {
                        ASSERT_EQ(done, std::nullopt);
                        break;
                    }
                    ASSERT_TRUE(done);
                    EXPECT_EQ(done->token, completed.front().token);
                    EXPECT_EQ(done->length, completed.front().length);
                    completed.pop_front();
                    auto it = std::find_if(
                        outstanding.begin(), outstanding.end(),
                        [&](const auto& entry) { return entry.second.token == done->token; });
                    ASSERT_NE(it, outstanding.end());
                    free += it->second.parts;
                    outstanding.erase(it);
                    ++round_trips;
                }
                if (random() % 3 == 0)
                    ASSERT_TRUE(queue.enable_interrupts(uint16_t(random() % 3)).is_ok());
                else if (random() % 3 == 0)
                    queue.disable_interrupts();
                break;
            }
            }
            ASSERT_EQ(queue.free_descriptors(), free) << "seed " << seed << " step " << step;
            ASSERT_EQ(queue.outstanding(), outstanding.size());
            // The device holds no descriptor the driver thinks free.
            ASSERT_LE(device.held(), size - free);
        }
        EXPECT_GT(round_trips, 1000u) << "seed " << seed;
        EXPECT_EQ(queue.broken(), std::nullopt);
    }
}

// ---------------------------------------------------------------------------
// VirtioPciCaps

// A function's configuration space with a capability list built in order.
class Config {
public:
    Config() {
        put(0x00, 0x1af4, 2);
        put(0x02, 0x1041, 2);
        put(0x06, 0x0010, 2); // status: capability list
    }

    // A capability of `id` at `at` with `body` after the id and next bytes,
    // linked after the previous one.
    Config& capability(uint8_t at, uint8_t id, std::vector<uint8_t> body) {
        link(at);
        m_bytes.at(at) = id;
        m_bytes.at(at + 1) = 0;
        // Bytes past the end of the space are cut off.
        for (size_t i = 0; i < body.size() && at + 2 + i < m_bytes.size(); ++i)
            m_bytes[at + 2 + i] = body[i];
        return *this;
    }
    // A virtio capability (cap_len, cfg_type, bar, id, padding, offset,
    // length[, multiplier]).
    Config& virtio(uint8_t at, uint8_t type, uint8_t bar, uint32_t offset, uint32_t length,
                   std::optional<uint32_t> multiplier = std::nullopt, uint8_t cap_len = 0) {
        uint8_t natural = multiplier || type == 5 ? 20 : 16;
        std::vector<uint8_t> body = {uint8_t(cap_len ? cap_len : natural), type, bar, 0, 0, 0};
        for (int i = 0; i < 4; ++i)
            body.push_back(uint8_t(offset >> (8 * i)));
        for (int i = 0; i < 4; ++i)
            body.push_back(uint8_t(length >> (8 * i)));
        if (multiplier) {
            for (int i = 0; i < 4; ++i)
                body.push_back(uint8_t(*multiplier >> (8 * i)));
        } else if (type == 5) {
            body.insert(body.end(), 4, 0); // pci_cfg_data
        }
        return capability(at, 0x09, body);
    }
    Config& put(size_t at, uint32_t value, size_t size) {
        for (size_t i = 0; i < size; ++i)
            m_bytes.at(at + i) = uint8_t(value >> (8 * i));
        return *this;
    }

    std::span<const uint8_t> bytes() const { return m_bytes; }
    std::array<uint8_t, 256>& raw() { return m_bytes; }

private:
    void link(uint8_t at) {
        if (m_last == 0)
            m_bytes[0x34] = at;
        else
            m_bytes[m_last + 1] = at;
        m_last = at;
    }

    std::array<uint8_t, 256> m_bytes{};
    uint8_t m_last = 0;
};

// BAR 4: 16 KiB, as a virtio-pci device lays its structures out; BAR 1 is
// an MSI-X table.
const std::array<uint64_t, 6> bar_sizes = {0, 0x1000, 0, 0, 0x4000, 0};

// A good list: MSI-X, common, ISR, device, notify, PCI configuration access.
Config good_config() {
    Config config;
    config.capability(0x98, 0x11, {0x02, 0x00, 0x01, 0, 0, 0, 0x01, 0x08, 0, 0})
        .virtio(0x88, 1, 4, 0x0000, 0x1000)
        .virtio(0x78, 3, 4, 0x1000, 0x1000)
        .virtio(0x68, 4, 4, 0x2000, 0x1000)
        .virtio(0x54, 2, 4, 0x3000, 0x1000, 4)
        .virtio(0x40, 5, 0, 0, 0);
    return config;
}

TEST(VirtioPciCaps, ParsesAWellFormedList) {
    Config config = good_config();
    auto parsed = parse_layout(config.bytes(), bar_sizes);
    ASSERT_TRUE(parsed.is_ok()) << to_string(parsed.error());
    const PciLayout& layout = parsed.value();
    EXPECT_EQ(layout.common.type, StructureType::Common);
    EXPECT_EQ(layout.common.position, 0x88);
    EXPECT_EQ(layout.common.bar, 4);
    EXPECT_EQ(layout.common.offset, 0x0000u);
    EXPECT_EQ(layout.common.length, 0x1000u);
    EXPECT_EQ(layout.isr.offset, 0x1000u);
    ASSERT_TRUE(layout.device);
    EXPECT_EQ(layout.device->offset, 0x2000u);
    EXPECT_EQ(layout.notify.offset, 0x3000u);
    EXPECT_EQ(layout.notify.notify_off_multiplier, 4u);
    ASSERT_TRUE(layout.pci_config);
    EXPECT_EQ(layout.pci_config->position, 0x40);
    EXPECT_EQ(layout.skipped, 0);

    // Without the device-specific and configuration-access capabilities.
    Config minimal;
    minimal.virtio(0x40, 1, 0, 0, 0x38).virtio(0x50, 2, 0, 0x40, 2, 0).virtio(0x64, 3, 0, 0x39, 1);
    const std::array<uint64_t, 1> one_bar = {0x80};
    auto small = parse_layout(minimal.bytes(), one_bar);
    ASSERT_TRUE(small.is_ok()) << to_string(small.error());
    EXPECT_FALSE(small.value().device);
    EXPECT_FALSE(small.value().pci_config);
    EXPECT_EQ(small.value().isr.offset, 0x39u); // the ISR byte needs no alignment
}

TEST(VirtioPciCaps, CommonConfigOffsetsMatchTheSpecification) {
    // struct virtio_pci_common_cfg (4.1.4.3), as the specification writes it.
    struct __attribute__((packed)) SpecCommonConfig {
        uint32_t device_feature_select;
        uint32_t device_feature;
        uint32_t driver_feature_select;
        uint32_t driver_feature;
        uint16_t config_msix_vector;
        uint16_t num_queues;
        uint8_t device_status;
        uint8_t config_generation;
        uint16_t queue_select;
        uint16_t queue_size;
        uint16_t queue_msix_vector;
        uint16_t queue_enable;
        uint16_t queue_notify_off;
        uint64_t queue_desc;
        uint64_t queue_driver;
        uint64_t queue_device;
        uint16_t queue_notify_data;
        uint16_t queue_reset;
    };
    EXPECT_EQ(common::device_feature_select, offsetof(SpecCommonConfig, device_feature_select));
    EXPECT_EQ(common::device_feature, offsetof(SpecCommonConfig, device_feature));
    EXPECT_EQ(common::driver_feature_select, offsetof(SpecCommonConfig, driver_feature_select));
    EXPECT_EQ(common::driver_feature, offsetof(SpecCommonConfig, driver_feature));
    EXPECT_EQ(common::config_msix_vector, offsetof(SpecCommonConfig, config_msix_vector));
    EXPECT_EQ(common::num_queues, offsetof(SpecCommonConfig, num_queues));
    EXPECT_EQ(common::device_status, offsetof(SpecCommonConfig, device_status));
    EXPECT_EQ(common::config_generation, offsetof(SpecCommonConfig, config_generation));
    EXPECT_EQ(common::queue_select, offsetof(SpecCommonConfig, queue_select));
    EXPECT_EQ(common::queue_size, offsetof(SpecCommonConfig, queue_size));
    EXPECT_EQ(common::queue_msix_vector, offsetof(SpecCommonConfig, queue_msix_vector));
    EXPECT_EQ(common::queue_enable, offsetof(SpecCommonConfig, queue_enable));
    EXPECT_EQ(common::queue_notify_off, offsetof(SpecCommonConfig, queue_notify_off));
    EXPECT_EQ(common::queue_desc, offsetof(SpecCommonConfig, queue_desc));
    EXPECT_EQ(common::queue_driver, offsetof(SpecCommonConfig, queue_driver));
    EXPECT_EQ(common::queue_device, offsetof(SpecCommonConfig, queue_device));
    EXPECT_EQ(common::queue_notify_data, offsetof(SpecCommonConfig, queue_notify_data));
    EXPECT_EQ(common::queue_reset, offsetof(SpecCommonConfig, queue_reset));
    EXPECT_EQ(common::minimum_size, offsetof(SpecCommonConfig, queue_notify_data));
}

TEST(VirtioPciCaps, NoListOrABrokenList) {
    Config none = good_config();
    none.put(0x06, 0, 2);
    EXPECT_EQ(error_of(parse_layout(none.bytes(), bar_sizes)), VirtioPciError::NoCapabilities);
    Config loop = good_config();
    loop.raw()[0x40 + 1] = 0x98; // the last capability points back at the first
    EXPECT_EQ(error_of(parse_layout(loop.bytes(), bar_sizes)), VirtioPciError::BadCapabilityList);
    Config into_header = good_config();
    into_header.raw()[0x40 + 1] = 0x20;
    EXPECT_EQ(error_of(parse_layout(into_header.bytes(), bar_sizes)),
              VirtioPciError::BadCapabilityList);
    Config header_only = good_config();
    EXPECT_EQ(error_of(parse_layout(header_only.bytes().first(0x30), bar_sizes)),
              VirtioPciError::BadCapabilityList);
}

TEST(VirtioPciCaps, MissingRequiredStructures) {
    auto without = [](uint8_t type) {
        Config config;
        uint8_t at = 0x40;
        for (uint8_t t : {1, 2, 3, 4}) {
            if (t == type)
                continue;
            config.virtio(at, t, 4, uint32_t(t) * 0x1000 - 0x1000, 0x1000,
                          t == 2 ? std::optional<uint32_t>(4) : std::nullopt);
            at = uint8_t(at + 0x14);
        }
        return error_of(parse_layout(config.bytes(), bar_sizes));
    };
    EXPECT_EQ(without(1), VirtioPciError::NoCommon);
    EXPECT_EQ(without(2), VirtioPciError::NoNotify);
    EXPECT_EQ(without(3), VirtioPciError::NoIsr);
    EXPECT_EQ(without(4), std::nullopt);
    Config only_msix;
    only_msix.capability(0x40, 0x11, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_EQ(error_of(parse_layout(only_msix.bytes(), bar_sizes)), VirtioPciError::NoCommon);
}

// A common (at 0x84, as given), an ISR and a notify capability in BAR 4.
Config with_common(uint8_t bar, uint32_t offset, uint32_t length, uint8_t cap_len = 0) {
    Config config;
    config.virtio(0x84, 1, bar, offset, length, std::nullopt, cap_len)
        .virtio(0x70, 3, 4, 0x1000, 0x1000)
        .virtio(0x4c, 2, 4, 0x3000, 0x1000, 4);
    return config;
}

TEST(VirtioPciCaps, ReservedBarIsSkippedForALaterGoodOne) {
    for (uint8_t bar : {6, 7, 0xff}) {
        EXPECT_EQ(error_of(parse_layout(with_common(bar, 0, 0x1000).bytes(), bar_sizes)),
                  VirtioPciError::BadBar);
        Config config = with_common(bar, 0, 0x1000);
        config.virtio(0xa0, 1, 4, 0x0, 0x1000);
        auto parsed = parse_layout(config.bytes(), bar_sizes);
        ASSERT_TRUE(parsed.is_ok());
        EXPECT_EQ(parsed.value().common.position, 0xa0);
        EXPECT_EQ(parsed.value().skipped, 1);
    }
}

TEST(VirtioPciCaps, StructureOutsideItsBar) {
    auto error = [](uint8_t bar, uint32_t offset, uint32_t length,
                    std::span<const uint64_t> sizes = bar_sizes) {
        return error_of(parse_layout(with_common(bar, offset, length).bytes(), sizes));
    };
    EXPECT_EQ(error(4, 0x3fc8, 0x38), std::nullopt); // ends at the BAR's end
    EXPECT_EQ(error(4, 0x3fcc, 0x38), VirtioPciError::OutsideBar);
    EXPECT_EQ(error(4, 0x4000, 0x38), VirtioPciError::OutsideBar);
    EXPECT_EQ(error(4, 0, 0x4001), VirtioPciError::OutsideBar);
    // A 32-bit sum would wrap to 0x1000 and pass.
    const std::array<uint64_t, 6> four_gib = {0, 0, 0, 0, 0x1'0000'0000ull, 0};
    EXPECT_EQ(error(4, 0xfffff000u, 0x2000, four_gib), VirtioPciError::OutsideBar);
    EXPECT_EQ(error(4, 0xffffffc0u, 0x40, four_gib), std::nullopt);
    EXPECT_EQ(error(4, 0xffffffffu, 0xffffffffu, four_gib), VirtioPciError::OutsideBar);
    // An unused BAR (size 0), and one the caller gave no size for.
    EXPECT_EQ(error(0, 0, 0x38), VirtioPciError::OutsideBar);
    EXPECT_EQ(error(4, 0, 0x38, std::span(bar_sizes).first(4)), VirtioPciError::OutsideBar);
    EXPECT_EQ(error(5, 0, 0x38), VirtioPciError::OutsideBar);
}

TEST(VirtioPciCaps, AlignmentAndLengthPerStructure) {
    EXPECT_EQ(error_of(parse_layout(with_common(4, 0x2, 0x100).bytes(), bar_sizes)),
              VirtioPciError::Misaligned);
    EXPECT_EQ(error_of(parse_layout(with_common(4, 0x0, 0x37).bytes(), bar_sizes)),
              VirtioPciError::TooSmall);
    EXPECT_EQ(error_of(parse_layout(with_common(4, 0x0, 0x38).bytes(), bar_sizes)), std::nullopt);

    auto notify = [](uint32_t offset, uint32_t length) {
        Config config;
        config.virtio(0x40, 1, 4, 0, 0x1000)
            .virtio(0x50, 3, 4, 0x1000, 1)
            .virtio(0x60, 2, 4, offset, length, 0);
        return error_of(parse_layout(config.bytes(), bar_sizes));
    };
    EXPECT_EQ(notify(0x3001, 0x10), VirtioPciError::Misaligned);
    EXPECT_EQ(notify(0x3002, 0x2), std::nullopt);
    EXPECT_EQ(notify(0x3002, 0x1), VirtioPciError::TooSmall);

    auto isr = [](uint32_t offset, uint32_t length) {
        Config config;
        config.virtio(0x40, 1, 4, 0, 0x1000)
            .virtio(0x50, 3, 4, offset, length)
            .virtio(0x60, 2, 4, 0x3000, 0x2, 0);
        return error_of(parse_layout(config.bytes(), bar_sizes));
    };
    EXPECT_EQ(isr(0x1003, 1), std::nullopt);
    EXPECT_EQ(isr(0x1003, 0), VirtioPciError::TooSmall);

    // The device-specific structure is optional: a bad one is skipped.
    Config device = good_config();
    device.raw()[0x68 + 8] = 0x02; // offset 0x2002
    auto parsed = parse_layout(device.bytes(), bar_sizes);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_FALSE(parsed.value().device);
    EXPECT_EQ(parsed.value().skipped, 1);
    VirtioCapability bad_device = parse_capability(device.bytes(), 0x68).value();
    EXPECT_EQ(error_of(check_structure(bad_device, bar_sizes)), VirtioPciError::Misaligned);
}

TEST(VirtioPciCaps, NotifyMultiplierMustBeZeroOrAnEvenPowerOfTwo) {
    for (uint32_t multiplier : {0u, 2u, 4u, 4096u, 0x80000000u}) {
        Config config = good_config();
        config.put(0x54 + 16, multiplier, 4);
        auto parsed = parse_layout(config.bytes(), bar_sizes);
        ASSERT_TRUE(parsed.is_ok()) << multiplier;
        EXPECT_EQ(parsed.value().notify.notify_off_multiplier, multiplier);
    }
    for (uint32_t multiplier : {1u, 3u, 6u, 0xffffffffu}) {
        Config config = good_config();
        config.put(0x54 + 16, multiplier, 4);
        EXPECT_EQ(error_of(parse_layout(config.bytes(), bar_sizes)), VirtioPciError::BadMultiplier)
            << multiplier;
        EXPECT_EQ(error_of(parse_capability(config.bytes(), 0x54)), VirtioPciError::BadMultiplier);
    }
}

TEST(VirtioPciCaps, TruncatedCapabilities) {
    EXPECT_EQ(error_of(parse_layout(with_common(4, 0, 0x1000, 15).bytes(), bar_sizes)),
              VirtioPciError::Truncated);
    EXPECT_EQ(error_of(parse_layout(with_common(4, 0, 0x1000, 0).bytes(), bar_sizes)),
              std::nullopt); // 0: the builder's natural 16
    EXPECT_EQ(error_of(parse_layout(with_common(4, 0, 0x1000, 64).bytes(), bar_sizes)),
              std::nullopt); // longer than needed is fine
    // A notify capability without its multiplier.
    Config short_notify;
    short_notify.virtio(0x40, 1, 4, 0, 0x1000)
        .virtio(0x50, 3, 4, 0x1000, 1)
        .virtio(0x60, 2, 4, 0x3000, 0x1000, std::nullopt, 16);
    EXPECT_EQ(error_of(parse_layout(short_notify.bytes(), bar_sizes)), VirtioPciError::Truncated);
    // A capability running past the end of configuration space.
    Config at_end = with_common(4, 0, 0x1000);
    at_end.virtio(0xf4, 4, 4, 0x2000, 0x1000); // 16 bytes from 0xf4 pass 0x100
    auto parsed = parse_layout(at_end.bytes(), bar_sizes);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_FALSE(parsed.value().device);
    EXPECT_EQ(parsed.value().skipped, 1);
    EXPECT_EQ(error_of(parse_capability(at_end.bytes(), 0xf4)), VirtioPciError::Truncated);
    EXPECT_EQ(error_of(parse_capability(at_end.bytes(), 0xfe)), VirtioPciError::Truncated);
}

TEST(VirtioPciCaps, ReservedTypesAreIgnored) {
    Config config = good_config();
    uint8_t at = 0xa4;
    for (uint8_t type : {0, 6, 7, 8, 200}) {
        config.virtio(at, type, 9, 0xffffffff, 0xffffffff);
        at = uint8_t(at + 0x10);
    }
    auto parsed = parse_layout(config.bytes(), bar_sizes);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().skipped, 0);
    EXPECT_EQ(error_of(parse_capability(config.bytes(), 0xa4)), VirtioPciError::ReservedType);
    EXPECT_EQ(error_of(parse_capability(config.bytes(), 0x98)), VirtioPciError::NotVirtio);
}

TEST(VirtioPciCaps, FirstUsableOfEachTypeWins) {
    Config config = good_config();
    config
        .virtio(0xac, 1, 4, 0x2000, 0x100)            // a second common
        .virtio(0xbc, 2, 1, 0x0, 0x100, 2)            // a second notify, in BAR 1
        .virtio(0xd0, 3, 4, 0x1000, 0x1000, {}, 0x10) // a second ISR
        .virtio(0xe0, 5, 0, 0, 0);                    // a second access capability
    auto parsed = parse_layout(config.bytes(), bar_sizes);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().common.position, 0x88);
    EXPECT_EQ(parsed.value().notify.position, 0x54);
    EXPECT_EQ(parsed.value().isr.position, 0x78);
    EXPECT_EQ(parsed.value().pci_config->position, 0x40);
    EXPECT_EQ(parsed.value().skipped, 4);

    // A broken first notify gives way to the next, whatever broke it.
    Config fallback;
    fallback.virtio(0x40, 1, 4, 0, 0x1000)
        .virtio(0x50, 3, 4, 0x1000, 1)
        .virtio(0x60, 2, 4, 0x3000, 0x1000, 3)      // bad multiplier
        .virtio(0x74, 2, 4, 0x3fff, 0x2, 2)         // misaligned and past the BAR
        .virtio(0x88, 2, 4, 0x3000, 0x1000, 0x800); // good
    auto chosen = parse_layout(fallback.bytes(), bar_sizes);
    ASSERT_TRUE(chosen.is_ok());
    EXPECT_EQ(chosen.value().notify.position, 0x88);
    EXPECT_EQ(chosen.value().skipped, 2);
    // Without the good one, the error is the first bad one's.
    fallback.raw()[0x74 + 1] = 0;
    EXPECT_EQ(error_of(parse_layout(fallback.bytes(), bar_sizes)), VirtioPciError::BadMultiplier);
}

TEST(VirtioPciCaps, NotifyOffsetStaysInsideTheStructure) {
    VirtioCapability notify;
    notify.type = StructureType::Notify;
    notify.bar = 4;
    notify.offset = 0x3000;
    notify.length = 0x1000;
    notify.notify_off_multiplier = 4;
    EXPECT_EQ(notify_offset(notify, 0).value(), 0x3000u);
    EXPECT_EQ(notify_offset(notify, 3).value(), 0x300cu);
    EXPECT_EQ(notify_offset(notify, 0x3ff).value(), 0x3ffcu); // the last 2 bytes fit
    EXPECT_EQ(error_of(notify_offset(notify, 0x400)), VirtioPciError::NotifyOutside);
    EXPECT_EQ(error_of(notify_offset(notify, 0xffff)), VirtioPciError::NotifyOutside);
    notify.length = 0x3ff * 4 + 1; // one byte short of the last register
    EXPECT_EQ(error_of(notify_offset(notify, 0x3ff)), VirtioPciError::NotifyOutside);
    notify.notify_off_multiplier = 0; // one register for every queue
    EXPECT_EQ(notify_offset(notify, 0xffff).value(), 0x3000u);
    notify.notify_off_multiplier = 0x80000000u; // the product needs 47 bits
    notify.length = 0xffffffffu;
    EXPECT_EQ(notify_offset(notify, 1).value(), 0x80003000u);
    EXPECT_EQ(error_of(notify_offset(notify, 2)), VirtioPciError::NotifyOutside);
    EXPECT_EQ(error_of(notify_offset(notify, 0xffff)), VirtioPciError::NotifyOutside);
}

// Garbage lists: never a crash or a read outside the bytes (the sanitizers
// watch), and whatever is accepted passes every check.
TEST(VirtioPciCaps, RandomGarbageNeverEscapesTheChecks) {
    std::mt19937 random(0x1af4);
    size_t accepted = 0;
    for (uint32_t round = 0; round < 20000; ++round) {
        Config config = good_config();
        uint32_t flips = 1 + random() % 6;
        for (uint32_t i = 0; i < flips; ++i)
            config.raw()[0x34 + random() % (256 - 0x34)] = uint8_t(random());
        size_t length = random() % 4 == 0 ? 64 + random() % 192 : 256;
        std::vector<uint8_t> bytes(config.bytes().begin(), config.bytes().begin() + length);
        auto parsed = parse_layout(bytes, bar_sizes);
        if (parsed.is_error())
            continue;
        ++accepted;
        const PciLayout& layout = parsed.value();
        for (const VirtioCapability* capability : {&layout.common, &layout.notify, &layout.isr}) {
            EXPECT_TRUE(check_structure(*capability, bar_sizes).is_ok());
            EXPECT_LE(uint64_t(capability->offset) + capability->length,
                      bar_sizes[capability->bar]);
        }
        EXPECT_EQ(layout.common.type, StructureType::Common);
        EXPECT_EQ(layout.notify.type, StructureType::Notify);
        EXPECT_EQ(layout.isr.type, StructureType::Isr);
        EXPECT_GE(layout.common.length, common::minimum_size);
    }
    EXPECT_GT(accepted, 1000u);
}

// ---------------------------------------------------------------------------
// virtio-blk

using blk::BlkError;
using blk::feature_bit;

constexpr uint64_t version_1 = uint64_t{1} << feature_version_1;

TEST(VirtioBlk, RequestLayoutFollowsTheSpecification) {
    EXPECT_EQ(blk::pci_device_modern, 0x1042);
    EXPECT_EQ(blk::pci_device_transitional, 0x1001);
    EXPECT_EQ(offsetof(blk::RequestHeader, type), 0u);
    EXPECT_EQ(offsetof(blk::RequestHeader, reserved), 4u);
    EXPECT_EQ(offsetof(blk::RequestHeader, sector), 8u);
    EXPECT_EQ(blk::config::capacity, 0u);
    EXPECT_EQ(blk::config::size_max, 8u);
    EXPECT_EQ(blk::config::seg_max, 12u);
    // geometry (cylinders 16, heads 8, sectors 8) lies between seg_max and blk_size
    EXPECT_EQ(blk::config::blk_size, 20u);
    EXPECT_EQ(blk::request_read, 0u);
    EXPECT_EQ(blk::request_write, 1u);
    EXPECT_EQ(blk::request_flush, 4u);
    EXPECT_EQ(blk::request_get_id, 8u);
}

constexpr auto modern = DeviceInterface::Modern;

TEST(VirtioBlk, FeaturesTakenOfThoseOffered) {
    constexpr auto physical = blk::DmaAddresses::Physical;
    EXPECT_EQ(error_of(blk::select_features(0, physical, modern)), BlkError::NoVersion1);
    EXPECT_EQ(error_of(blk::select_features(~version_1, physical, modern)), BlkError::NoVersion1);
    EXPECT_EQ(blk::select_features(version_1, physical, modern).value(), version_1);
    uint64_t wanted = version_1 | feature_bit(blk::feature_read_only) |
                      feature_bit(blk::feature_blk_size) | feature_bit(blk::feature_flush) |
                      feature_bit(blk::feature_seg_max) | feature_bit(blk::feature_size_max) |
                      feature_bit(blk::feature_access_platform);
    // Of everything offered, exactly those: not geometry, topology, WCE,
    // multiqueue, indirect descriptors, packed rings, notification data,
    // event indexes (blk.h: no suppression)...
    EXPECT_EQ(blk::select_features(~uint64_t{0}, physical, modern).value(), wanted);
    EXPECT_EQ(
        blk::select_features(version_1 | feature_bit(blk::feature_flush), physical, modern).value(),
        version_1 | feature_bit(blk::feature_flush));
    EXPECT_EQ(blk::select_features(version_1 | feature_bit(feature_indirect_descriptors) |
                                       feature_bit(blk::feature_multiqueue) |
                                       feature_bit(feature_notification_data),
                                   physical, modern)
                  .value(),
              version_1);
}

TEST(VirtioBlk, BehindAnIommuTheDeviceMustUseIt) {
    constexpr auto translated = blk::DmaAddresses::Translated;
    uint64_t platform = feature_bit(blk::feature_access_platform);
    EXPECT_EQ(error_of(blk::select_features(version_1, translated, modern)),
              BlkError::BypassesIommu);
    EXPECT_EQ(error_of(blk::select_features(~platform, translated, modern)),
              BlkError::BypassesIommu);
    EXPECT_EQ(blk::select_features(version_1 | platform, translated, modern).value(),
              version_1 | platform);
    // VERSION_1 is still the first thing missing.
    EXPECT_EQ(error_of(blk::select_features(platform, translated, modern)), BlkError::NoVersion1);
}

TEST(VirtioBlk, ThroughTheLegacyInterface) {
    // 32 feature bits, VERSION_1 neither required nor taken, the same
    // optional ones; behind an IOMMU refused (no ACCESS_PLATFORM there).
    constexpr auto legacy = DeviceInterface::Legacy;
    uint64_t wanted = feature_bit(blk::feature_read_only) | feature_bit(blk::feature_blk_size) |
                      feature_bit(blk::feature_flush) | feature_bit(blk::feature_seg_max) |
                      feature_bit(blk::feature_size_max);
    EXPECT_EQ(blk::select_features(0, blk::DmaAddresses::Physical, legacy).value(), 0u);
    EXPECT_EQ(blk::select_features(~uint64_t{0}, blk::DmaAddresses::Physical, legacy).value(),
              wanted);
    EXPECT_EQ(error_of(blk::select_features(~uint64_t{0}, blk::DmaAddresses::Translated, legacy)),
              BlkError::BypassesIommu);
}

TEST(VirtioBlk, ConfigurationBytesTheFeaturesNeed) {
    EXPECT_EQ(blk::config_bytes_needed(version_1), 8u);
    EXPECT_EQ(blk::config_bytes_needed(version_1 | feature_bit(blk::feature_flush) |
                                       feature_bit(blk::feature_read_only)),
              8u);
    EXPECT_EQ(blk::config_bytes_needed(feature_bit(blk::feature_size_max)), 12u);
    EXPECT_EQ(blk::config_bytes_needed(feature_bit(blk::feature_size_max) |
                                       feature_bit(blk::feature_seg_max)),
              16u);
    EXPECT_EQ(blk::config_bytes_needed(feature_bit(blk::feature_seg_max)), 16u);
    EXPECT_EQ(blk::config_bytes_needed(feature_bit(blk::feature_blk_size)), 24u);
    EXPECT_EQ(blk::config_bytes_needed(feature_bit(blk::feature_blk_size) |
                                       feature_bit(blk::feature_size_max)),
              24u);
}

blk::DeviceConfig config_of(uint64_t capacity, uint32_t size_max = 0, uint32_t seg_max = 0,
                            uint32_t blk_size = 0) {
    return {capacity, size_max, seg_max, blk_size};
}

TEST(VirtioBlk, PlainDiskOf512ByteBlocks) {
    blk::DriverLimits limits;
    auto disk = blk::describe_disk(config_of(8192), version_1, 256, limits);
    ASSERT_TRUE(disk.is_ok());
    EXPECT_EQ(disk.value().block_size, 512u);
    EXPECT_EQ(disk.value().sectors_per_block, 1u);
    EXPECT_EQ(disk.value().blocks, 8192u);
    EXPECT_EQ(disk.value().max_blocks, 512u); // 256 KiB
    EXPECT_EQ(disk.value().segment_bytes, 256u * 1024);
    EXPECT_EQ(disk.value().max_segments, 1u);
    EXPECT_EQ(disk.value().max_requests, limits.max_requests); // 256 / 3 = 85: the driver's bound
    EXPECT_FALSE(disk.value().read_only);
    EXPECT_FALSE(disk.value().flush);
    auto flags = blk::describe_disk(config_of(8192),
                                    version_1 | feature_bit(blk::feature_read_only) |
                                        feature_bit(blk::feature_flush),
                                    256, limits);
    EXPECT_TRUE(flags.value().read_only);
    EXPECT_TRUE(flags.value().flush);
    // Without the feature the field is not looked at.
    EXPECT_EQ(blk::describe_disk(config_of(8, 0, 0, 3), version_1, 256, limits).value().block_size,
              512u);
}

TEST(VirtioBlk, BlockSizeFromTheDevice) {
    blk::DriverLimits limits;
    uint64_t features = version_1 | feature_bit(blk::feature_blk_size);
    auto disk = blk::describe_disk(config_of(8 * 1000 + 7, 0, 0, 4096), features, 256, limits);
    ASSERT_TRUE(disk.is_ok());
    EXPECT_EQ(disk.value().block_size, 4096u);
    EXPECT_EQ(disk.value().sectors_per_block, 8u);
    EXPECT_EQ(disk.value().blocks, 1000u); // the 7 sectors' tail is not a block
    EXPECT_EQ(disk.value().max_blocks, 64u);
    EXPECT_EQ(blk::first_sector(disk.value(), 3), 24u);
    EXPECT_EQ(blk::describe_disk(config_of(8, 0, 0, 1024), features, 256, limits)
                  .value()
                  .sectors_per_block,
              2u);
    for (uint32_t bad : {0u, 256u, 511u, 513u, 1536u, 8192u, 0x80000000u})
        EXPECT_EQ(error_of(blk::describe_disk(config_of(8, 0, 0, bad), features, 256, limits)),
                  BlkError::BadBlockSize)
            << bad;
}

TEST(VirtioBlk, SegmentLimitsBoundARequest) {
    blk::DriverLimits limits;
    uint64_t size_max = version_1 | feature_bit(blk::feature_size_max);
    uint64_t seg_max = version_1 | feature_bit(blk::feature_seg_max);
    // 4 KiB descriptors, up to the driver's 8: 32 KiB.
    auto disk = blk::describe_disk(config_of(1 << 20, 4096), size_max, 256, limits);
    ASSERT_TRUE(disk.is_ok());
    EXPECT_EQ(disk.value().segment_bytes, 4096u);
    EXPECT_EQ(disk.value().max_segments, 8u);
    EXPECT_EQ(disk.value().max_blocks, 64u);
    EXPECT_EQ(disk.value().max_requests, 25u); // 256 / 10 = 25, below the driver's bound
    static_assert(blk::DriverLimits{}.max_requests > 25);
    // The device's SEG_MAX below the driver's.
    disk = blk::describe_disk(config_of(1 << 20, 4096, 3), size_max | seg_max, 256, limits);
    EXPECT_EQ(disk.value().max_blocks, 24u);
    EXPECT_EQ(disk.value().max_segments, 3u);
    // Above it: the driver's bound stands; without SIZE_MAX one descriptor does.
    disk = blk::describe_disk(config_of(1 << 20, 0, 126), seg_max, 256, limits);
    EXPECT_EQ(disk.value().max_blocks, 512u);
    EXPECT_EQ(disk.value().max_segments, 1u);
    // An odd SIZE_MAX: the request is whole blocks of what the segments hold.
    disk = blk::describe_disk(config_of(1 << 20, 1000, 2), size_max | seg_max, 256, limits);
    EXPECT_EQ(disk.value().max_blocks, 3u);
    EXPECT_EQ(disk.value().max_segments, 2u);
    // Less than a block in all: refused; so are limits of 0.
    EXPECT_EQ(error_of(blk::describe_disk(config_of(8, 100, 2), size_max | seg_max, 256, limits)),
              BlkError::NoSegments);
    EXPECT_EQ(error_of(blk::describe_disk(config_of(8, 0), size_max, 256, limits)),
              BlkError::NoSegments);
    EXPECT_EQ(error_of(blk::describe_disk(config_of(8, 0, 0), seg_max, 256, limits)),
              BlkError::NoSegments);
}

TEST(VirtioBlk, RequestsInFlightFitTheQueue) {
    blk::DriverLimits limits;
    uint64_t size_max = version_1 | feature_bit(blk::feature_size_max);
    // Three descriptors a request (header, data, status).
    EXPECT_EQ(blk::describe_disk(config_of(8), version_1, 4, limits).value().max_requests, 1u);
    EXPECT_EQ(blk::describe_disk(config_of(8), version_1, 32, limits).value().max_requests, 10u);
    // The virtio-blk driver's queue of 128 holds 32 requests of one data
    // descriptor each (as many as Linux keeps in flight on it).
    EXPECT_EQ(blk::describe_disk(config_of(8), version_1, 128, limits).value().max_requests, 32u);
    EXPECT_EQ(error_of(blk::describe_disk(config_of(8), version_1, 2, limits)),
              BlkError::QueueTooSmall);
    // Ten a request with 8 data descriptors.
    EXPECT_EQ(blk::describe_disk(config_of(8, 512), size_max, 64, limits).value().max_requests, 6u);
    EXPECT_EQ(error_of(blk::describe_disk(config_of(8, 512), size_max, 8, limits)),
              BlkError::QueueTooSmall);
}

TEST(VirtioBlk, SplitsIntoSegmentsOfTheLongestAllowed) {
    Segment out[4];
    ASSERT_EQ(blk::split_segments(0x10000, 512, 4096, out), 1u);
    EXPECT_EQ(out[0].address, 0x10000u);
    EXPECT_EQ(out[0].length, 512u);
    ASSERT_EQ(blk::split_segments(0x10000, 10000, 4096, out), 3u);
    EXPECT_EQ(out[1].address, 0x11000u);
    EXPECT_EQ(out[1].length, 4096u);
    EXPECT_EQ(out[2].address, 0x12000u);
    EXPECT_EQ(out[2].length, 10000u - 8192);
    EXPECT_EQ(blk::split_segments(0, 4 * 4096, 4096, out), 4u);
    EXPECT_EQ(blk::split_segments(0, 4 * 4096 + 1, 4096, out), 0u); // does not fit
    EXPECT_EQ(blk::split_segments(0, 0, 4096, out), 0u);
    EXPECT_EQ(blk::split_segments(0, 512, 0, out), 0u);
    // A length past 32 bits is cut at the segment size too.
    EXPECT_EQ(blk::split_segments(0, uint64_t{1} << 33, 0x80000000u, out), 4u);
}

TEST(VirtioBlk, StatusAndLengthTheDeviceWrites) {
    EXPECT_TRUE(blk::check_status(blk::status_ok).is_ok());
    EXPECT_EQ(error_of(blk::check_status(blk::status_io_error)), BlkError::IoError);
    EXPECT_EQ(error_of(blk::check_status(blk::status_unsupported)), BlkError::Unsupported);
    EXPECT_EQ(error_of(blk::check_status(blk::status_unwritten)), BlkError::StatusUnwritten);
    for (int status = 3; status < 0xff; ++status)
        EXPECT_EQ(error_of(blk::check_status(uint8_t(status))), BlkError::UnknownStatus);
    EXPECT_TRUE(blk::check_read_length(513, 512).is_ok());
    EXPECT_TRUE(blk::check_read_length(4097, 4096).is_ok());
    EXPECT_EQ(error_of(blk::check_read_length(512, 512)), BlkError::ShortTransfer);
    EXPECT_EQ(error_of(blk::check_read_length(0, 512)), BlkError::ShortTransfer);
    EXPECT_EQ(error_of(blk::check_read_length(UINT32_MAX, uint64_t{1} << 32)),
              BlkError::ShortTransfer);
}

TEST(VirtioBlk, IdentityIsPrintableUpToItsNul) {
    auto identity = [](std::string_view bytes) {
        std::array<uint8_t, blk::id_bytes> id{};
        std::memcpy(id.data(), bytes.data(), std::min(bytes.size(), id.size()));
        return std::string(blk::identity_of(id));
    };
    EXPECT_EQ(identity("capos-disk"), "capos-disk");
    EXPECT_EQ(identity("12345678901234567890"), "12345678901234567890"); // all 20, no NUL
    EXPECT_EQ(identity(std::string_view("ab\0cd", 5)), "ab");
    EXPECT_EQ(identity(""), "");
    EXPECT_EQ(identity("bad\x01serial"), "");
    EXPECT_EQ(identity("bad\x7fserial"), "");
    EXPECT_EQ(identity("\xc3\xa9"), "");
}

} // namespace
} // namespace capos::virtio
