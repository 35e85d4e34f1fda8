// Host tests for lib/pci: configuration spaces built in memory by a small
// builder, each parser on good input and on every kind of bad input (short
// spaces, an absent function, BARs of every kind and malformed masks,
// capability lists that point into the header, past the end or in circles,
// MSI and MSI-X capabilities of every layout and running off the end), class
// names, and every parser over every truncation of a good space and over
// spaces of all ones and all zeros (errors, never crashes or reads outside
// the bytes).
#include "lib/pci/pci.h"

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace capos::pci {

// gtest prints errors by name.
static void PrintTo(PciError error, std::ostream* out) {
    *out << to_string(error);
}

namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
std::optional<PciError> error_of(const Result<T, PciError>& result) {
    if (result.is_ok())
        return std::nullopt;
    return result.error();
}

// A configuration space under construction: `size` bytes of zeros with
// little-endian field setters.
class Space {
public:
    explicit Space(size_t size = config_space_size) : m_bytes(size, 0) {}

    Space& u8(size_t at, uint8_t value) { return put(at, value, 1); }
    Space& u16(size_t at, uint16_t value) { return put(at, value, 2); }
    Space& u32(size_t at, uint32_t value) { return put(at, value, 4); }

    // A device header with a vendor and device id.
    static Space device(uint16_t vendor = 0x8086, uint16_t device = 0x10d3) {
        Space space;
        space.u16(0x00, vendor).u16(0x02, device);
        return space;
    }

    // Sets the status register's capability bit and the list's first pointer.
    Space& capabilities(uint8_t first) {
        u16(0x06, static_cast<uint16_t>(load16(0x06) | status_capabilities));
        return u8(0x34, first);
    }
    // A capability entry: id and next pointer at `at`.
    Space& capability(uint8_t at, uint8_t id, uint8_t next) { return u8(at, id).u8(at + 1, next); }

    // The bytes in storage of exactly their size (or `count` of them), so
    // that the sanitizers see a read one past the end.
    Bytes bytes() const { return m_bytes; }
    Bytes first(size_t count) const { return Bytes(m_bytes.begin(), m_bytes.begin() + count); }

private:
    Space& put(size_t at, uint64_t value, size_t size) {
        for (size_t i = 0; i < size; ++i)
            m_bytes.at(at + i) = static_cast<uint8_t>(value >> (8 * i));
        return *this;
    }
    uint16_t load16(size_t at) const { return m_bytes[at] | m_bytes[at + 1] << 8; }

    Bytes m_bytes;
};

// The capabilities a walk gives until it fails, and how it failed.
struct Walked {
    std::vector<Capability> capabilities;
    PciError end = PciError::NotFound;
};
Walked walk_all(std::span<const uint8_t> config) {
    Walked walked;
    auto started = CapabilityWalk::start(config);
    if (started.is_error()) {
        walked.end = started.error();
        return walked;
    }
    CapabilityWalk walk = started.value();
    for (size_t i = 0; i < 1000; ++i) {
        auto next = walk.next();
        if (next.is_error()) {
            walked.end = next.error();
            return walked;
        }
        walked.capabilities.push_back(next.value());
    }
    ADD_FAILURE() << "the walk never ended";
    return walked;
}

// A space with MSI at 0x50, PCI Express at 0x60 and MSI-X at 0x9c: what a
// QEMU virtio or e1000e function shows.
Space chained() {
    Space space = Space::device();
    space.capabilities(0x50)
        .capability(0x50, capability_msi, 0x60)
        .u16(0x52, 0x0080) // 64-bit address, one vector
        .capability(0x60, capability_pci_express, 0x9c)
        .capability(0x9c, capability_msix, 0x00)
        .u16(0x9e, 0x8004) // enabled, 5 entries
        .u32(0xa0, 0x00003000 | 3)
        .u32(0xa4, 0x00002000 | 3);
    return space;
}

TEST(PciError, Names) {
    EXPECT_STREQ(to_string(PciError::TooShort), "PCI configuration space truncated");
    EXPECT_STREQ(to_string(PciError::NoFunction), "no PCI function");
    EXPECT_STREQ(to_string(PciError::NoCapabilities), "PCI function has no capability list");
    EXPECT_STREQ(to_string(PciError::BadPointer), "bad PCI capability pointer");
    EXPECT_STREQ(to_string(PciError::Loop), "PCI capability list loops");
    EXPECT_STREQ(to_string(PciError::BadCapability), "malformed PCI capability");
    EXPECT_STREQ(to_string(PciError::NotFound), "PCI capability not found");
    EXPECT_STREQ(to_string(static_cast<PciError>(200)), "unknown PCI error");
}

TEST(PciHeader, Device) {
    Space space = Space::device(0x8086, 0x29c0);
    space.u16(0x04, command_io | command_memory | command_bus_master)
        .u16(0x06, 0x0290)
        .u8(0x08, 0x02)
        .u8(0x09, 0x01)
        .u8(0x0a, 0x06)
        .u8(0x0b, 0x01)
        .u8(0x0e, 0x80)
        .u8(0x18, 0x11) // BAR 2 of a device, not bus numbers
        .u8(0x19, 0x22)
        .u8(0x1a, 0x33)
        .u16(0x2c, 0x1af4)
        .u16(0x2e, 0x1100)
        .u8(0x3c, 0x0b)
        .u8(0x3d, 0x01);
    Bytes bytes = space.first(64);
    auto header = parse_header(bytes);
    ASSERT_TRUE(header.is_ok()) << to_string(header.error());
    const FunctionHeader& h = header.value();
    EXPECT_EQ(h.vendor, 0x8086);
    EXPECT_EQ(h.device, 0x29c0);
    EXPECT_EQ(h.command, 0x0007);
    EXPECT_EQ(h.status, 0x0290);
    EXPECT_EQ(h.revision, 0x02);
    EXPECT_EQ(h.prog_if, 0x01);
    EXPECT_EQ(h.subclass, 0x06);
    EXPECT_EQ(h.class_code, 0x01);
    EXPECT_EQ(h.header_type, 0);
    EXPECT_TRUE(h.multi_function);
    EXPECT_EQ(h.interrupt_line, 0x0b);
    EXPECT_EQ(h.interrupt_pin, 0x01);
    EXPECT_EQ(h.subsystem_vendor, 0x1af4);
    EXPECT_EQ(h.subsystem_device, 0x1100);
    EXPECT_EQ(h.primary_bus, 0);
    EXPECT_EQ(h.secondary_bus, 0);
    EXPECT_EQ(h.subordinate_bus, 0);
}

TEST(PciHeader, Bridge) {
    Space space = Space::device(0x1b36, 0x000c);
    space.u8(0x0a, 0x04).u8(0x0b, 0x06).u8(0x0e, 0x01).u8(0x18, 0x00).u8(0x19, 0x01).u8(0x1a, 0x05);
    // A bridge's 0x2c is its prefetchable window's upper base, not a subsystem.
    space.u32(0x2c, 0x12345678);
    Bytes bytes = space.bytes();
    auto header = parse_header(bytes);
    ASSERT_TRUE(header.is_ok());
    EXPECT_EQ(header.value().vendor, 0x1b36);
    EXPECT_EQ(header.value().device, 0x000c);
    EXPECT_EQ(header.value().header_type, 1);
    EXPECT_FALSE(header.value().multi_function);
    EXPECT_EQ(header.value().primary_bus, 0);
    EXPECT_EQ(header.value().secondary_bus, 1);
    EXPECT_EQ(header.value().subordinate_bus, 5);
    EXPECT_EQ(header.value().interrupt_pin, 0);
    EXPECT_EQ(header.value().subsystem_vendor, 0);
    EXPECT_EQ(header.value().subsystem_device, 0);
}

TEST(PciHeader, CardBusTypeWithoutMultiFunctionBit) {
    Space space = Space::device();
    space.u8(0x0e, 0x82);
    Bytes bytes = space.bytes();
    auto header = parse_header(bytes);
    ASSERT_TRUE(header.is_ok());
    EXPECT_EQ(header.value().header_type, 2);
    EXPECT_TRUE(header.value().multi_function);
}

TEST(PciHeader, Errors) {
    Space space = Space::device();
    Bytes short_space = space.first(63);
    EXPECT_EQ(error_of(parse_header(short_space)), PciError::TooShort);
    EXPECT_EQ(error_of(parse_header({})), PciError::TooShort);
    Bytes absent = Space::device(0xffff, 0xffff).bytes();
    EXPECT_EQ(error_of(parse_header(absent)), PciError::NoFunction);
    // A vendor of 0xffff with another device id is still no function.
    Bytes absent_vendor = Space::device(0xffff, 0x1234).first(64);
    EXPECT_EQ(error_of(parse_header(absent_vendor)), PciError::NoFunction);
}

TEST(PciBar, Count) {
    EXPECT_EQ(bar_count(0), 6u);
    EXPECT_EQ(bar_count(1), 2u);
    EXPECT_EQ(bar_count(2), 0u);
    EXPECT_EQ(bar_count(0x7f), 0u);
}

TEST(PciBar, Memory32) {
    Bar bar = decode_bar(0xfebf0000, 0, 0xfffe0000, 0);
    EXPECT_EQ(bar.kind, Bar::Kind::Memory32);
    EXPECT_FALSE(bar.prefetchable);
    EXPECT_EQ(bar.address, 0xfebf0000u);
    EXPECT_EQ(bar.size, 0x20000u);
    // Prefetchable, 16 bytes, flag bits cleared from the address.
    bar = decode_bar(0xfd000008, 0, 0xfffffff8, 0);
    EXPECT_EQ(bar.kind, Bar::Kind::Memory32);
    EXPECT_TRUE(bar.prefetchable);
    EXPECT_EQ(bar.address, 0xfd000000u);
    EXPECT_EQ(bar.size, 16u);
    // The whole upper half of the 32-bit space.
    bar = decode_bar(0x80000000, 0, 0x80000000, 0);
    EXPECT_EQ(bar.kind, Bar::Kind::Memory32);
    EXPECT_EQ(bar.size, 0x80000000u);
    // `high` is not part of a 32-bit BAR.
    bar = decode_bar(0xfe000000, 0x12345678, 0xff000000, 0xffffffff);
    EXPECT_EQ(bar.kind, Bar::Kind::Memory32);
    EXPECT_EQ(bar.address, 0xfe000000u);
    EXPECT_EQ(bar.size, 0x1000000u);
}

TEST(PciBar, PrefetchableMemory64AcrossTwoRegisters) {
    // 16 KiB at 0x8_0000_4000 (QEMU puts 64-bit windows above 4 GiB).
    Bar bar = decode_bar(0x0000400c, 0x00000008, 0xffffc00c, 0xffffffff);
    EXPECT_EQ(bar.kind, Bar::Kind::Memory64);
    EXPECT_TRUE(bar.prefetchable);
    EXPECT_EQ(bar.address, 0x800004000ull);
    EXPECT_EQ(bar.size, 0x4000u);
    // Not prefetchable, 8 GiB: the size reaches into the high register.
    bar = decode_bar(0x00000004, 0x00000002, 0x00000004, 0xfffffffe);
    EXPECT_EQ(bar.kind, Bar::Kind::Memory64);
    EXPECT_FALSE(bar.prefetchable);
    EXPECT_EQ(bar.address, 0x200000000ull);
    EXPECT_EQ(bar.size, 0x200000000ull);
}

TEST(PciBar, Io) {
    // A 32-byte I/O window as QEMU's e1000 has (a 16-bit decoder reads back 0
    // above bit 15).
    Bar bar = decode_bar(0x0000c041, 0, 0x0000ffe1, 0);
    EXPECT_EQ(bar.kind, Bar::Kind::Io);
    EXPECT_FALSE(bar.prefetchable);
    EXPECT_EQ(bar.address, 0xc040u);
    EXPECT_EQ(bar.size, 32u);
    // A 32-bit decoder, 256 bytes; bit 1 (reserved) cleared from the address.
    bar = decode_bar(0x0000d103, 0xdeadbeef, 0xffffff01, 0xffffffff);
    EXPECT_EQ(bar.kind, Bar::Kind::Io);
    EXPECT_EQ(bar.address, 0xd100u);
    EXPECT_EQ(bar.size, 256u);
    // Four bytes, the smallest I/O window.
    bar = decode_bar(0x00000601, 0, 0xfffffffd, 0);
    EXPECT_EQ(bar.kind, Bar::Kind::Io);
    EXPECT_EQ(bar.size, 4u);
}

TEST(PciBar, Unused) {
    auto unused = [](const Bar& bar) {
        return bar.kind == Bar::Kind::Unused && bar.size == 0 && bar.address == 0 &&
               !bar.prefetchable;
    };
    // Reads back 0.
    EXPECT_TRUE(unused(decode_bar(0, 0, 0, 0)));
    EXPECT_TRUE(unused(decode_bar(0xfebf0000, 0, 0, 0)));
    // Only the flag bits read back.
    EXPECT_TRUE(unused(decode_bar(0x00000001, 0, 0x00000001, 0)));
    EXPECT_TRUE(unused(decode_bar(0x00000008, 0, 0x00000008, 0)));
    EXPECT_TRUE(unused(decode_bar(0x0000000c, 0, 0x0000000c, 0)));
    // Reserved memory types 1 (below 1 MiB, PCI 2.x) and 3.
    EXPECT_TRUE(unused(decode_bar(0x000c0002, 0, 0xfffe0002, 0)));
    EXPECT_TRUE(unused(decode_bar(0xfe000006, 0, 0xff000006, 0xffffffff)));
    // Masks that are not a run of ones from the top.
    EXPECT_TRUE(unused(decode_bar(0xfe000000, 0, 0xff0f0000, 0)));
    EXPECT_TRUE(unused(decode_bar(0xfe000000, 0, 0x7f000000, 0)));
    EXPECT_TRUE(unused(decode_bar(0x0000c001, 0, 0x0000ff41, 0)));
    EXPECT_TRUE(unused(decode_bar(0x0000c001, 0, 0x7fffff01, 0)));
    EXPECT_TRUE(unused(decode_bar(0x00000004, 0, 0xfff00004, 0x0000000f)));
    EXPECT_TRUE(unused(decode_bar(0x00000004, 0, 0xfff00004, 0xfffffff0)));
    EXPECT_TRUE(unused(decode_bar(0x00000004, 0, 0x00000004, 0)));
}

TEST(PciBar, Is64Bit) {
    EXPECT_TRUE(is_64bit_bar(0x00000004));
    EXPECT_TRUE(is_64bit_bar(0xfe00000c));
    EXPECT_FALSE(is_64bit_bar(0x00000000));
    EXPECT_FALSE(is_64bit_bar(0xfe000008));
    EXPECT_FALSE(is_64bit_bar(0x00000002));
    EXPECT_FALSE(is_64bit_bar(0x00000006));
    // An I/O BAR whose address has bit 2 set is not memory at all.
    EXPECT_FALSE(is_64bit_bar(0x0000c005));
    // The caller's walk over a device's BARs: a 64-bit BAR takes two
    // registers, and one in the last register has no upper half to read.
    uint32_t bars[6] = {0xfebf0000, 0x0000400c, 0x8, 0x0000c041, 0, 0x00000004};
    size_t decoded = 0;
    size_t dangling = 0;
    for (size_t i = 0; i < bar_count(0); ++i) {
        if (is_64bit_bar(bars[i])) {
            if (i + 1 == bar_count(0)) {
                ++dangling;
                break;
            }
            ++i;
        }
        ++decoded;
    }
    EXPECT_EQ(decoded, 4u);
    EXPECT_EQ(dangling, 1u);
}

TEST(PciCapabilities, ChainMsiExpressMsix) {
    Bytes bytes = chained().bytes();
    Walked walked = walk_all(bytes);
    ASSERT_EQ(walked.capabilities.size(), 3u);
    EXPECT_EQ(walked.capabilities[0].id, capability_msi);
    EXPECT_EQ(walked.capabilities[0].offset, 0x50);
    EXPECT_EQ(walked.capabilities[1].id, capability_pci_express);
    EXPECT_EQ(walked.capabilities[1].offset, 0x60);
    EXPECT_EQ(walked.capabilities[2].id, capability_msix);
    EXPECT_EQ(walked.capabilities[2].offset, 0x9c);
    EXPECT_EQ(walked.end, PciError::NotFound);

    // NotFound stays NotFound.
    auto walk = CapabilityWalk::start(bytes).value();
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(walk.next().is_ok());
    EXPECT_EQ(error_of(walk.next()), PciError::NotFound);
    EXPECT_EQ(error_of(walk.next()), PciError::NotFound);

    // The same list in 4096 bytes of extended space.
    Bytes extended = bytes;
    extended.resize(extended_config_space_size, 0);
    EXPECT_EQ(walk_all(extended).capabilities.size(), 3u);
}

TEST(PciCapabilities, NoCapabilityBit) {
    Space space = chained();
    space.u16(0x06, 0x0000);
    Bytes bytes = space.bytes();
    EXPECT_EQ(error_of(CapabilityWalk::start(bytes)), PciError::NoCapabilities);
    EXPECT_EQ(error_of(find_capability(bytes, capability_msi)), PciError::NoCapabilities);
}

TEST(PciCapabilities, ShortSpace) {
    Bytes bytes = chained().first(63);
    EXPECT_EQ(error_of(CapabilityWalk::start(bytes)), PciError::TooShort);
    EXPECT_EQ(error_of(find_capability(bytes, capability_msi)), PciError::TooShort);
    EXPECT_EQ(error_of(CapabilityWalk::start({})), PciError::TooShort);
}

TEST(PciCapabilities, EmptyList) {
    Space space = Space::device();
    space.capabilities(0x00);
    Bytes bytes = space.bytes();
    Walked walked = walk_all(bytes);
    EXPECT_TRUE(walked.capabilities.empty());
    EXPECT_EQ(walked.end, PciError::NotFound);
}

TEST(PciCapabilities, PointerIntoHeader) {
    // The first pointer below 0x40.
    Space space = Space::device();
    space.capabilities(0x3c);
    Bytes bytes = space.bytes();
    Walked walked = walk_all(bytes);
    EXPECT_TRUE(walked.capabilities.empty());
    EXPECT_EQ(walked.end, PciError::BadPointer);
    // A later one.
    Space later = chained();
    later.u8(0x61, 0x04);
    Bytes later_bytes = later.bytes();
    walked = walk_all(later_bytes);
    EXPECT_EQ(walked.capabilities.size(), 2u);
    EXPECT_EQ(walked.end, PciError::BadPointer);
    EXPECT_EQ(error_of(find_capability(later_bytes, capability_msix)), PciError::BadPointer);
}

TEST(PciCapabilities, PointerAtTheEnd) {
    // 0xff is 0xfc once its low bits are masked: the last dword, which holds
    // an id and a next pointer in 256 bytes.
    Space space = Space::device();
    space.capabilities(0xff).capability(0xfc, 0x09, 0x00);
    Bytes bytes = space.bytes();
    Walked walked = walk_all(bytes);
    ASSERT_EQ(walked.capabilities.size(), 1u);
    EXPECT_EQ(walked.capabilities[0].offset, 0xfc);
    EXPECT_EQ(walked.capabilities[0].id, 0x09);
    EXPECT_EQ(walked.end, PciError::NotFound);
    // A space that ends before the next pointer (0xfd) or the id (0xfc).
    Bytes shorter = space.first(0xfd);
    walked = walk_all(shorter);
    EXPECT_TRUE(walked.capabilities.empty());
    EXPECT_EQ(walked.end, PciError::BadPointer);
    Bytes shortest = space.first(0xfc);
    EXPECT_EQ(walk_all(shortest).end, PciError::BadPointer);
    // Exactly enough.
    Bytes enough = space.first(0xfe);
    EXPECT_EQ(walk_all(enough).capabilities.size(), 1u);
    // A pointer past a 64-byte space.
    Space header_only = Space::device();
    header_only.capabilities(0x40);
    Bytes sixty_four = header_only.first(64);
    EXPECT_EQ(walk_all(sixty_four).end, PciError::BadPointer);
}

TEST(PciCapabilities, MisalignedPointersMasked) {
    Space space = Space::device();
    space
        .capabilities(0x53)                              // 0x50
        .capability(0x50, capability_msi, 0x62)          // 0x60
        .capability(0x60, capability_msix, 0x41)         // 0x40
        .capability(0x40, capability_pci_express, 0x03); // 0: the end
    Bytes bytes = space.bytes();
    Walked walked = walk_all(bytes);
    ASSERT_EQ(walked.capabilities.size(), 3u);
    EXPECT_EQ(walked.capabilities[0].offset, 0x50);
    EXPECT_EQ(walked.capabilities[1].offset, 0x60);
    EXPECT_EQ(walked.capabilities[2].offset, 0x40);
    EXPECT_EQ(walked.capabilities[2].id, capability_pci_express);
    EXPECT_EQ(walked.end, PciError::NotFound);
}

TEST(PciCapabilities, SelfLoop) {
    Space space = Space::device();
    space.capabilities(0x40).capability(0x40, 0x01, 0x40);
    Bytes bytes = space.bytes();
    Walked walked = walk_all(bytes);
    EXPECT_EQ(walked.capabilities.size(), 48u);
    EXPECT_EQ(walked.end, PciError::Loop);
    EXPECT_EQ(error_of(find_capability(bytes, capability_msi)), PciError::Loop);
    EXPECT_EQ(find_capability(bytes, 0x01).value(), 0x40);
}

TEST(PciCapabilities, TwoEntryLoopIsSticky) {
    Space space = Space::device();
    space.capabilities(0x80).capability(0x80, 0x01, 0x90).capability(0x90, 0x09, 0x80);
    Bytes bytes = space.bytes();
    auto walk = CapabilityWalk::start(bytes).value();
    for (size_t i = 0; i < 48; ++i) {
        auto next = walk.next();
        ASSERT_TRUE(next.is_ok()) << i;
        EXPECT_EQ(next.value().offset, i % 2 == 0 ? 0x80 : 0x90);
        EXPECT_EQ(next.value().id, i % 2 == 0 ? 0x01 : 0x09);
    }
    EXPECT_EQ(error_of(walk.next()), PciError::Loop);
    EXPECT_EQ(error_of(walk.next()), PciError::Loop);
    EXPECT_EQ(error_of(find_capability(bytes, capability_msix)), PciError::Loop);
}

TEST(PciCapabilities, FortyEightDistinctEntriesAreNotALoop) {
    // Every dword from 0x40 to 0xfc, in order: 48 entries, the most 192 bytes
    // hold.
    Space space = Space::device();
    space.capabilities(0x40);
    for (unsigned at = 0x40; at <= 0xfc; at += 4)
        space.capability(static_cast<uint8_t>(at), 0x09,
                         static_cast<uint8_t>(at == 0xfc ? 0 : at + 4));
    Bytes bytes = space.bytes();
    Walked walked = walk_all(bytes);
    EXPECT_EQ(walked.capabilities.size(), 48u);
    EXPECT_EQ(walked.end, PciError::NotFound);
}

TEST(PciCapabilities, BadPointerIsSticky) {
    Space space = Space::device();
    space.capabilities(0x50).capability(0x50, capability_msi, 0x10);
    Bytes bytes = space.bytes();
    auto walk = CapabilityWalk::start(bytes).value();
    EXPECT_EQ(walk.next().value().offset, 0x50);
    EXPECT_EQ(error_of(walk.next()), PciError::BadPointer);
    EXPECT_EQ(error_of(walk.next()), PciError::BadPointer);
}

TEST(PciCapabilities, Find) {
    Bytes bytes = chained().bytes();
    EXPECT_EQ(find_capability(bytes, capability_msi).value(), 0x50);
    EXPECT_EQ(find_capability(bytes, capability_pci_express).value(), 0x60);
    EXPECT_EQ(find_capability(bytes, capability_msix).value(), 0x9c);
    EXPECT_EQ(error_of(find_capability(bytes, 0x09)), PciError::NotFound);
    // The first of two with the same id.
    Space twice = chained();
    twice.u8(0x60, capability_msi);
    Bytes twice_bytes = twice.bytes();
    EXPECT_EQ(find_capability(twice_bytes, capability_msi).value(), 0x50);
}

// An MSI capability at `at` with `control`, alone in the list.
Space msi_at(uint8_t at, uint16_t control) {
    Space space = Space::device();
    space.capabilities(at).capability(at, capability_msi, 0).u16(at + 2u, control);
    return space;
}

TEST(PciMsi, FourLayouts) {
    struct Case {
        uint16_t control;
        bool address_64;
        bool masking;
        size_t size;
    };
    const Case cases[] = {
        {0x0000, false, false, 10},
        {0x0080, true, false, 14},
        {0x0100, false, true, 20},
        {0x0180, true, true, 24},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.size);
        Space space = msi_at(0x50, c.control);
        Bytes bytes = space.bytes();
        auto msi = parse_msi(bytes, 0x50);
        ASSERT_TRUE(msi.is_ok()) << to_string(msi.error());
        EXPECT_EQ(msi.value().offset, 0x50);
        EXPECT_FALSE(msi.value().enabled);
        EXPECT_EQ(msi.value().address_64, c.address_64);
        EXPECT_EQ(msi.value().per_vector_masking, c.masking);
        EXPECT_EQ(msi.value().vectors_capable, 1);
        EXPECT_EQ(msi.value().vectors_enabled, 1);
        // Exactly its size fits; a byte less does not.
        Bytes exact = space.first(0x50 + c.size);
        EXPECT_TRUE(parse_msi(exact, 0x50).is_ok());
        Bytes short_space = space.first(0x50 + c.size - 1);
        EXPECT_EQ(error_of(parse_msi(short_space, 0x50)), PciError::BadCapability);
    }
}

TEST(PciMsi, Vectors) {
    // Enabled, 32 capable (5), 8 enabled (3), 64-bit, masking.
    Space space = msi_at(0x50, 0x01 | 5 << 1 | 3 << 4 | 0x80 | 0x100);
    Bytes bytes = space.bytes();
    auto msi = parse_msi(bytes, 0x50);
    ASSERT_TRUE(msi.is_ok());
    EXPECT_TRUE(msi.value().enabled);
    EXPECT_EQ(msi.value().vectors_capable, 32);
    EXPECT_EQ(msi.value().vectors_enabled, 8);
    EXPECT_TRUE(msi.value().address_64);
    EXPECT_TRUE(msi.value().per_vector_masking);
    // Reserved encodings 6 and 7 of either field.
    for (uint16_t bad : {uint16_t{6 << 1}, uint16_t{7 << 1}, uint16_t{6 << 4}, uint16_t{7 << 4}}) {
        Bytes reserved = msi_at(0x50, bad).bytes();
        EXPECT_EQ(error_of(parse_msi(reserved, 0x50)), PciError::BadCapability) << bad;
    }
}

TEST(PciMsi, RunsOffTheEnd) {
    // At 0xf4 the 32-bit form (10 bytes) fits in 256 bytes, the 64-bit one
    // (14) does not.
    Bytes fits = msi_at(0xf4, 0x0000).bytes();
    EXPECT_TRUE(parse_msi(fits, 0xf4).is_ok());
    Bytes runs_off = msi_at(0xf4, 0x0080).bytes();
    EXPECT_EQ(find_capability(runs_off, capability_msi).value(), 0xf4);
    EXPECT_EQ(error_of(parse_msi(runs_off, 0xf4)), PciError::BadCapability);
    // With masking even the 32-bit form does not.
    Bytes masked = msi_at(0xf4, 0x0100).bytes();
    EXPECT_EQ(error_of(parse_msi(masked, 0xf4)), PciError::BadCapability);
    // The last dword cannot hold even the 32-bit form.
    Bytes last = msi_at(0xfc, 0x0000).bytes();
    EXPECT_EQ(error_of(parse_msi(last, 0xfc)), PciError::BadCapability);
    // An offset past a short span.
    Bytes header = msi_at(0x50, 0).first(64);
    EXPECT_EQ(error_of(parse_msi(header, 0x50)), PciError::BadCapability);
    EXPECT_EQ(error_of(parse_msi({}, 0)), PciError::BadCapability);
}

TEST(PciMsi, WrongId) {
    Bytes bytes = chained().bytes();
    EXPECT_EQ(error_of(parse_msi(bytes, 0x60)), PciError::BadCapability);
    EXPECT_EQ(error_of(parse_msi(bytes, 0x9c)), PciError::BadCapability);
    EXPECT_TRUE(parse_msi(bytes, 0x50).is_ok());
}

// An MSI-X capability at `at`, alone in the list.
Space msix_at(uint8_t at, uint16_t control, uint32_t table, uint32_t pba) {
    Space space = Space::device();
    space.capabilities(at)
        .capability(at, capability_msix, 0)
        .u16(at + 2u, control)
        .u32(at + 4u, table)
        .u32(at + 8u, pba);
    return space;
}

TEST(PciMsix, Chained) {
    Bytes bytes = chained().bytes();
    auto msix = parse_msix(bytes, 0x9c);
    ASSERT_TRUE(msix.is_ok()) << to_string(msix.error());
    EXPECT_EQ(msix.value().offset, 0x9c);
    EXPECT_TRUE(msix.value().enabled);
    EXPECT_FALSE(msix.value().function_masked);
    EXPECT_EQ(msix.value().table_size, 5);
    EXPECT_EQ(msix.value().table_bar, 3);
    EXPECT_EQ(msix.value().table_offset, 0x3000u);
    EXPECT_EQ(msix.value().pba_bar, 3);
    EXPECT_EQ(msix.value().pba_offset, 0x2000u);
}

TEST(PciMsix, TableSizes) {
    Bytes one = msix_at(0x70, 0x0000, 0x00000000, 0x00000801).bytes();
    auto msix = parse_msix(one, 0x70);
    ASSERT_TRUE(msix.is_ok());
    EXPECT_EQ(msix.value().table_size, 1);
    EXPECT_FALSE(msix.value().enabled);
    EXPECT_FALSE(msix.value().function_masked);
    EXPECT_EQ(msix.value().table_bar, 0);
    EXPECT_EQ(msix.value().table_offset, 0u);
    EXPECT_EQ(msix.value().pba_bar, 1);
    EXPECT_EQ(msix.value().pba_offset, 0x800u);

    // 2048 entries, masked and enabled, the largest offsets and BAR 5. Bits
    // 13:11 are reserved and ignored.
    Bytes most = msix_at(0x70, 0xffff, 0xfffffffd, 0xfffffff8).bytes();
    msix = parse_msix(most, 0x70);
    ASSERT_TRUE(msix.is_ok());
    EXPECT_EQ(msix.value().table_size, 2048);
    EXPECT_TRUE(msix.value().enabled);
    EXPECT_TRUE(msix.value().function_masked);
    EXPECT_EQ(msix.value().table_bar, 5);
    EXPECT_EQ(msix.value().table_offset, 0xfffffff8u);
    EXPECT_EQ(msix.value().pba_bar, 0);
    EXPECT_EQ(msix.value().pba_offset, 0xfffffff8u);
}

TEST(PciMsix, BadBar) {
    for (uint32_t bir : {6u, 7u}) {
        Bytes table = msix_at(0x70, 0, 0x1000 | bir, 0x2000).bytes();
        EXPECT_EQ(error_of(parse_msix(table, 0x70)), PciError::BadCapability) << bir;
        Bytes pba = msix_at(0x70, 0, 0x1000, 0x2000 | bir).bytes();
        EXPECT_EQ(error_of(parse_msix(pba, 0x70)), PciError::BadCapability) << bir;
    }
}

TEST(PciMsix, RunsOffTheEnd) {
    // At 0xf4 the 12 bytes end exactly at 256.
    Space space = msix_at(0xf4, 0x0003, 0x2000, 0x3000);
    Bytes bytes = space.bytes();
    auto msix = parse_msix(bytes, 0xf4);
    ASSERT_TRUE(msix.is_ok());
    EXPECT_EQ(msix.value().table_size, 4);
    EXPECT_EQ(msix.value().pba_offset, 0x3000u);
    Bytes short_space = space.first(0xff);
    EXPECT_EQ(error_of(parse_msix(short_space, 0xf4)), PciError::BadCapability);
    Space at_f8 = Space::device();
    at_f8.capabilities(0xf8).capability(0xf8, capability_msix, 0);
    Bytes past = at_f8.bytes();
    EXPECT_EQ(error_of(parse_msix(past, 0xf8)), PciError::BadCapability);
    EXPECT_EQ(error_of(parse_msix({}, 0)), PciError::BadCapability);
}

TEST(PciMsix, WrongId) {
    Bytes bytes = chained().bytes();
    EXPECT_EQ(error_of(parse_msix(bytes, 0x50)), PciError::BadCapability);
    EXPECT_EQ(error_of(parse_msix(bytes, 0x60)), PciError::BadCapability);
}

TEST(PciClassName, QemuDevices) {
    // q35: MCH host bridge, ICH9 LPC, SATA and SMBus; pc: i440FX, PIIX3 ISA
    // and IDE; the devices QEMU is commonly given.
    EXPECT_STREQ(class_name(0x06, 0x00), "Host bridge");
    EXPECT_STREQ(class_name(0x06, 0x01), "ISA bridge");
    EXPECT_STREQ(class_name(0x06, 0x04), "PCI bridge");
    EXPECT_STREQ(class_name(0x06, 0x80), "Bridge");
    EXPECT_STREQ(class_name(0x01, 0x00), "SCSI storage controller");
    EXPECT_STREQ(class_name(0x01, 0x01), "IDE interface");
    EXPECT_STREQ(class_name(0x01, 0x05), "ATA controller");
    EXPECT_STREQ(class_name(0x01, 0x06), "SATA controller");
    EXPECT_STREQ(class_name(0x01, 0x08), "Non-Volatile memory controller");
    EXPECT_STREQ(class_name(0x02, 0x00), "Ethernet controller");
    EXPECT_STREQ(class_name(0x03, 0x00), "VGA compatible controller");
    EXPECT_STREQ(class_name(0x04, 0x01), "Multimedia audio controller");
    EXPECT_STREQ(class_name(0x04, 0x03), "Audio device");
    EXPECT_STREQ(class_name(0x05, 0x00), "RAM memory");
    EXPECT_STREQ(class_name(0x07, 0x00), "Serial controller");
    EXPECT_STREQ(class_name(0x08, 0x80), "System peripheral");
    EXPECT_STREQ(class_name(0x0c, 0x03), "USB controller");
    EXPECT_STREQ(class_name(0x0c, 0x05), "SMBus");
    EXPECT_STREQ(class_name(0x00, 0x00), "Non-VGA unclassified device");
    EXPECT_STREQ(class_name(0x00, 0x01), "VGA compatible unclassified device");
}

TEST(PciClassName, UnknownSubclassGivesTheClass) {
    EXPECT_STREQ(class_name(0x00, 0x42), "Unclassified device");
    EXPECT_STREQ(class_name(0x01, 0x42), "Mass storage controller");
    EXPECT_STREQ(class_name(0x01, 0x80), "Mass storage controller");
    EXPECT_STREQ(class_name(0x02, 0x80), "Network controller");
    EXPECT_STREQ(class_name(0x03, 0x80), "Display controller");
    EXPECT_STREQ(class_name(0x04, 0x80), "Multimedia controller");
    EXPECT_STREQ(class_name(0x05, 0x80), "Memory controller");
    EXPECT_STREQ(class_name(0x06, 0x42), "Bridge");
    EXPECT_STREQ(class_name(0x07, 0x80), "Communication controller");
    EXPECT_STREQ(class_name(0x08, 0x42), "Generic system peripheral");
    EXPECT_STREQ(class_name(0x0c, 0x80), "Serial bus controller");
    EXPECT_STREQ(class_name(0x0d, 0x80), "Wireless controller");
    EXPECT_STREQ(class_name(0x0d, 0x11), "Bluetooth");
    EXPECT_STREQ(class_name(0xff, 0x00), "Unassigned class");
    EXPECT_STREQ(class_name(0x14, 0x00), "Unclassified device");
    EXPECT_STREQ(class_name(0xfe, 0xfe), "Unclassified device");
}

TEST(PciClassName, EveryCodeHasAName) {
    for (unsigned c = 0; c < 256; ++c) {
        for (unsigned s = 0; s < 256; ++s) {
            const char* name = class_name(static_cast<uint8_t>(c), static_cast<uint8_t>(s));
            ASSERT_NE(name, nullptr);
            ASSERT_NE(std::string_view(name), "");
        }
    }
}

// Every parser over `bytes`: a result or an error, never a crash or a read
// outside them (the sanitized build checks the reads).
void run_everything(std::span<const uint8_t> bytes) {
    auto header = parse_header(bytes);
    if (header.is_ok())
        EXPECT_GE(bytes.size(), 64u);
    Walked walked = walk_all(bytes);
    EXPECT_LE(walked.capabilities.size(), 48u);
    for (const Capability& capability : walked.capabilities) {
        EXPECT_GE(capability.offset, 0x40);
        EXPECT_LE(capability.offset + 2u, bytes.size());
        (void)parse_msi(bytes, capability.offset);
        (void)parse_msix(bytes, capability.offset);
    }
    for (uint8_t id : {capability_msi, capability_pci_express, capability_msix, uint8_t{0xff}})
        (void)find_capability(bytes, id);
    for (unsigned offset = 0; offset < 256; ++offset) {
        (void)parse_msi(bytes, static_cast<uint8_t>(offset));
        (void)parse_msix(bytes, static_cast<uint8_t>(offset));
    }
}

TEST(PciRobustness, EveryTruncation) {
    Bytes good = chained().bytes();
    for (size_t length = 0; length <= good.size(); ++length) {
        SCOPED_TRACE(length);
        Bytes truncated(good.begin(), good.begin() + length);
        run_everything(truncated);
        Walked walked = walk_all(truncated);
        if (length < 64) {
            EXPECT_EQ(walked.end, PciError::TooShort);
            EXPECT_EQ(error_of(parse_header(truncated)), PciError::TooShort);
        } else {
            EXPECT_TRUE(parse_header(truncated).is_ok());
            // Whatever the walk reached is a prefix of the whole list.
            EXPECT_LE(walked.capabilities.size(), 3u);
            if (length >= 0x9e)
                EXPECT_EQ(walked.capabilities.size(), 3u);
        }
        if (length >= 0x9c + 12u)
            EXPECT_TRUE(parse_msix(truncated, 0x9c).is_ok());
        else
            EXPECT_EQ(error_of(parse_msix(truncated, 0x9c)), PciError::BadCapability);
        if (length >= 0x50 + 14u)
            EXPECT_TRUE(parse_msi(truncated, 0x50).is_ok());
        else
            EXPECT_EQ(error_of(parse_msi(truncated, 0x50)), PciError::BadCapability);
    }
}

TEST(PciRobustness, AllOnesAndAllZeros) {
    for (size_t size : {size_t{64}, config_space_size, extended_config_space_size}) {
        SCOPED_TRACE(size);
        Bytes ones(size, 0xff);
        run_everything(ones);
        EXPECT_EQ(error_of(parse_header(ones)), PciError::NoFunction);
        // The status register has every bit set, the pointer is 0xfc and
        // points at itself (0xff & 0xfc) when the space holds it.
        Walked walked = walk_all(ones);
        if (size == 64) {
            EXPECT_EQ(walked.end, PciError::BadPointer);
        } else {
            EXPECT_EQ(walked.capabilities.size(), 48u);
            EXPECT_EQ(walked.end, PciError::Loop);
        }
        Bytes zeros(size, 0x00);
        run_everything(zeros);
        EXPECT_TRUE(parse_header(zeros).is_ok());
        EXPECT_EQ(walk_all(zeros).end, PciError::NoCapabilities);
    }
    // A register of all ones or all zeros as a BAR.
    EXPECT_EQ(decode_bar(0, 0, 0, 0).kind, Bar::Kind::Unused);
    EXPECT_EQ(decode_bar(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff).kind, Bar::Kind::Io);
    EXPECT_EQ(decode_bar(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff).size, 4u);
}

} // namespace
} // namespace capos::pci
