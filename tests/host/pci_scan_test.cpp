// Host tests for lib/pci/scan.h: the bus scan over a fake machine whose
// functions behave as configuration space does (BARs keep only their
// writable bits, flag bits are read-only, the status register's error bits
// are cleared by writing ones, an empty slot reads all ones). A q35-like
// machine with a root port and a device behind it (a 64-bit BAR above 4 GiB,
// MSI-X), multi-function devices with holes, a single-function device that
// answers at every function number, bridges that loop, point back or past
// their root, the table filling up, several roots, capability lists that
// loop, and the BAR sizing protocol (decoding off while a BAR holds all ones,
// everything restored, host bridges left decoding, no other register
// written); then lib/pci/describe.h's lines: lspci's line of a function,
// BARs, capability names and the details of functions the scan recorded.
#include "lib/pci/describe.h"
#include "lib/pci/scan.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace capos::pci {
namespace {

constexpr uint16_t status_rw1c = 0xf900; // parity, aborts, SERR#: cleared by writing ones

// One function of the fake machine.
struct FakeFunction {
    uint8_t space[config_space_size] = {};
    // Per BAR register: the bits a write changes (the rest read as they are).
    uint32_t writable[max_bars] = {};
    // Each write: offset and value, in order.
    std::vector<std::pair<uint16_t, uint32_t>> writes;
    // BAR registers written all ones while memory or I/O decoding was on.
    int sized_while_decoding = 0;

    uint32_t load(uint16_t offset) const {
        uint32_t value;
        __builtin_memcpy(&value, space + offset, 4);
        return value;
    }
    FakeFunction& store(uint16_t offset, uint32_t value) {
        __builtin_memcpy(space + offset, &value, 4);
        return *this;
    }
    FakeFunction& u8(uint16_t offset, uint8_t value) {
        space[offset] = value;
        return *this;
    }
    FakeFunction& u16(uint16_t offset, uint16_t value) {
        __builtin_memcpy(space + offset, &value, 2);
        return *this;
    }
    uint16_t command() const { return uint16_t(load(0x04)); }
    uint16_t status() const { return uint16_t(load(0x04) >> 16); }

    FakeFunction& class_code(uint8_t code, uint8_t subclass, uint8_t prog_if = 0) {
        u8(0x0b, code);
        u8(0x0a, subclass);
        u8(0x09, prog_if);
        return *this;
    }
    FakeFunction& multi_function() {
        space[0x0e] |= 0x80;
        return *this;
    }
    FakeFunction& bridge(uint8_t primary, uint8_t secondary, uint8_t subordinate) {
        space[0x0e] = uint8_t((space[0x0e] & 0x80) | 1);
        class_code(0x06, 0x04);
        u8(0x18, primary);
        u8(0x19, secondary);
        u8(0x1a, subordinate);
        return *this;
    }
    // A memory BAR of `size` bytes (a power of two, at least 16) at `address`.
    FakeFunction& memory32(size_t index, uint32_t address, uint32_t size, bool prefetchable) {
        uint32_t flags = prefetchable ? 0x8 : 0x0;
        store(uint16_t(0x10 + 4 * index), address | flags);
        writable[index] = ~(size - 1) & ~0xfu;
        return *this;
    }
    FakeFunction& memory64(size_t index, uint64_t address, uint64_t size, bool prefetchable) {
        uint32_t flags = 0x4 | (prefetchable ? 0x8 : 0x0);
        store(uint16_t(0x10 + 4 * index), uint32_t(address) | flags);
        store(uint16_t(0x14 + 4 * index), uint32_t(address >> 32));
        writable[index] = uint32_t(~(size - 1)) & ~0xfu;
        writable[index + 1] = uint32_t(~(size - 1) >> 32);
        return *this;
    }
    FakeFunction& io(size_t index, uint16_t port, uint16_t size) {
        store(uint16_t(0x10 + 4 * index), uint32_t(port) | 0x1);
        writable[index] = uint32_t(uint16_t(~(size - 1))) & ~0x3u; // a 16-bit decoder
        return *this;
    }
    // The list's first pointer, with the status bit.
    FakeFunction& capabilities(uint8_t first) {
        space[0x06] |= 0x10;
        return u8(0x34, first);
    }
    FakeFunction& capability(uint8_t at, uint8_t id, uint8_t next) {
        u8(at, id);
        u8(uint8_t(at + 1), next);
        return *this;
    }
};

class FakeMachine final : public ConfigAccess {
public:
    FakeFunction& add(FunctionAddress at, uint16_t vendor, uint16_t device) {
        FakeFunction& function = m_functions[key(at)];
        function.u16(0x00, vendor);
        function.u16(0x02, device);
        return function;
    }
    FakeFunction& at(FunctionAddress at) { return m_functions.at(key(at)); }
    // Function 0's space answers at every function number of its device (as
    // some single-function devices decode no function bits).
    void mirror_functions(FunctionAddress at) { m_mirrored.insert(key(at)); }

    uint32_t read32(FunctionAddress at, uint16_t offset) override {
        EXPECT_EQ(offset % 4, 0);
        EXPECT_LT(offset, config_space_size);
        ++m_reads;
        m_buses_read.insert({at.segment, at.bus});
        FakeFunction* function = find(at);
        return function ? function->load(offset) : 0xffffffffu;
    }
    void write32(FunctionAddress at, uint16_t offset, uint32_t value) override {
        FakeFunction* function = find(at);
        ASSERT_NE(function, nullptr) << "a write where nothing answers";
        function->writes.push_back({offset, value});
        if (offset == 0x04) {
            uint16_t status = uint16_t(function->status() & ~(uint16_t(value >> 16) & status_rw1c));
            function->store(0x04, uint32_t(status) << 16 | (value & 0xffff));
            return;
        }
        if (offset >= 0x10 && offset < 0x10 + 4 * max_bars) {
            size_t index = (offset - 0x10) / 4;
            if (value == 0xffffffffu && (function->command() & 0x3) != 0)
                ++function->sized_while_decoding;
            uint32_t keep = ~function->writable[index];
            function->store(offset,
                            (function->load(offset) & keep) | (value & function->writable[index]));
            return;
        }
        ADD_FAILURE() << "write to register " << offset;
    }

    size_t reads() const { return m_reads; }
    const std::set<std::pair<uint16_t, uint8_t>>& buses_read() const { return m_buses_read; }

private:
    using Key = std::tuple<uint16_t, uint8_t, uint8_t, uint8_t>;
    static Key key(FunctionAddress at) { return {at.segment, at.bus, at.device, at.function}; }
    FakeFunction* find(FunctionAddress at) {
        auto found = m_functions.find(key(at));
        if (found != m_functions.end())
            return &found->second;
        FunctionAddress first = at;
        first.function = 0;
        if (m_mirrored.count(key(first)))
            return &m_functions.at(key(first));
        return nullptr;
    }

    std::map<Key, FakeFunction> m_functions;
    std::set<Key> m_mirrored;
    std::set<std::pair<uint16_t, uint8_t>> m_buses_read;
    size_t m_reads = 0;
};

FunctionAddress address(uint8_t bus, uint8_t device, uint8_t function, uint16_t segment = 0) {
    return {segment, bus, device, function};
}

std::string name(const FunctionAddress& at) {
    char text[16];
    std::snprintf(text, sizeof text, "%x:%02x:%02x.%x", at.segment, at.bus, at.device, at.function);
    return text;
}

std::vector<std::string> names(std::span<const Function> functions) {
    std::vector<std::string> out;
    for (const Function& function : functions)
        out.push_back(name(function.address));
    return out;
}

const RootBuses whole_segment[] = {{0, 0, 255}};

// A machine shaped like QEMU's q35 with a root port at 00:03.0 leading to
// bus 1, where a virtio device has a 64-bit prefetchable BAR above 4 GiB and
// MSI-X; function 1 of 00:1f is absent.
FakeMachine q35() {
    FakeMachine machine;
    machine.add(address(0, 0, 0), 0x8086, 0x29c0).class_code(0x06, 0x00).u16(0x04, 0x0006);
    machine.add(address(0, 1, 0), 0x1234, 0x1111)
        .class_code(0x03, 0x00)
        .memory32(0, 0xfd000000, 16 << 20, true)
        .memory32(2, 0xfebd4000, 4096, false)
        .u16(0x04, 0x0003);
    FakeFunction& port = machine.add(address(0, 3, 0), 0x1b36, 0x000c);
    port.bridge(0, 1, 1).memory32(0, 0xfebd5000, 4096, false).u16(0x04, 0x0007);
    port.capabilities(0x54).capability(0x54, capability_pci_express, 0x48);
    port.capability(0x48, capability_msix, 0x40).u16(0x4a, 0x0000).store(0x4c, 0x0);
    port.store(0x50, 0x800);
    port.capability(0x40, 0x0d, 0x00);
    machine.add(address(0, 0x1f, 0), 0x8086, 0x2918).class_code(0x06, 0x01).multi_function();
    machine.add(address(0, 0x1f, 2), 0x8086, 0x2922)
        .class_code(0x01, 0x06, 0x01)
        .io(4, 0xc060, 32)
        .memory32(5, 0xfebd6000, 4096, false)
        .u8(0x08, 0x02);
    machine.add(address(0, 0x1f, 3), 0x8086, 0x2930).class_code(0x0c, 0x05).io(4, 0x0700, 64);
    FakeFunction& rng = machine.add(address(1, 0, 0), 0x1af4, 0x1044);
    rng.class_code(0x00, 0xff)
        .u8(0x08, 0x01)
        .u16(0x2c, 0x1af4)
        .u16(0x2e, 0x1100)
        .u8(0x3d, 1)
        .u8(0x3c, 10)
        .memory32(1, 0xfe800000, 4096, false)
        .memory64(4, 0x800000000ull, 16384, true)
        .u16(0x04, 0x0007)
        .u16(0x06, 0x0010 | 0x8000); // a detected parity error, to be kept
    rng.capabilities(0x98).capability(0x98, capability_msix, 0x84);
    rng.u16(0x9a, 0x0001).store(0x9c, 0x00000001).store(0xa0, 0x00000801);
    rng.capability(0x84, 0x09, 0x70).capability(0x70, 0x09, 0x00);
    return machine;
}

TEST(PciScan, Q35WithADeviceBehindARootPort) {
    FakeMachine machine = q35();
    Function table[16];
    ScanSummary summary = scan(machine, whole_segment, table);
    EXPECT_EQ(summary.found, 7u);
    EXPECT_EQ(summary.recorded, 7u);
    EXPECT_EQ(summary.buses, 2u);
    EXPECT_EQ(summary.bridges_not_followed, 0u);
    EXPECT_EQ(summary.roots_refused, 0u);
    std::span<const Function> found(table, summary.recorded);
    EXPECT_EQ(names(found),
              (std::vector<std::string>{"0:00:00.0", "0:00:01.0", "0:00:03.0", "0:00:1f.0",
                                        "0:00:1f.2", "0:00:1f.3", "0:01:00.0"}));
    // Only buses 0 and 1 were read.
    EXPECT_EQ(machine.buses_read(), (std::set<std::pair<uint16_t, uint8_t>>{{0, 0}, {0, 1}}));

    const Function& sata = table[4];
    EXPECT_EQ(sata.header.vendor, 0x8086);
    EXPECT_EQ(sata.header.device, 0x2922);
    EXPECT_EQ(sata.header.class_code, 0x01);
    EXPECT_EQ(sata.header.subclass, 0x06);
    EXPECT_EQ(sata.header.prog_if, 0x01);
    EXPECT_EQ(sata.header.revision, 0x02);
    EXPECT_EQ(sata.bars[4].kind, Bar::Kind::Io);
    EXPECT_EQ(sata.bars[4].address, 0xc060u);
    EXPECT_EQ(sata.bars[4].size, 32u);
    EXPECT_EQ(sata.bars[5].kind, Bar::Kind::Memory32);
    EXPECT_EQ(sata.bars[5].address, 0xfebd6000u);
    EXPECT_EQ(sata.bars[5].size, 4096u);
    for (size_t i = 0; i < 4; ++i)
        EXPECT_EQ(sata.bars[i].kind, Bar::Kind::Unused) << i;
    EXPECT_EQ(sata.capability_count, 0);
    EXPECT_FALSE(sata.has_msi);
    EXPECT_FALSE(sata.has_msix);

    const Function& port = table[2];
    EXPECT_EQ(port.header.header_type, 1);
    EXPECT_EQ(port.header.secondary_bus, 1);
    EXPECT_EQ(port.bars[0].kind, Bar::Kind::Memory32);
    EXPECT_EQ(port.bars[0].size, 4096u);
    for (size_t i = 2; i < max_bars; ++i) // a bridge has two BARs; the rest is its windows
        EXPECT_EQ(port.bars[i].kind, Bar::Kind::Unused) << i;
    ASSERT_EQ(port.capability_count, 3);
    EXPECT_EQ(port.capabilities[0].id, capability_pci_express);
    EXPECT_EQ(port.capabilities[1].id, capability_msix);
    EXPECT_EQ(port.capabilities[2].offset, 0x40);

    const Function& rng = table[6];
    EXPECT_EQ(rng.address.bus, 1);
    EXPECT_EQ(rng.header.subsystem_vendor, 0x1af4);
    EXPECT_EQ(rng.header.subsystem_device, 0x1100);
    EXPECT_EQ(rng.header.interrupt_pin, 1);
    EXPECT_EQ(rng.header.interrupt_line, 10);
    EXPECT_EQ(rng.bars[1].kind, Bar::Kind::Memory32);
    EXPECT_EQ(rng.bars[4].kind, Bar::Kind::Memory64);
    EXPECT_TRUE(rng.bars[4].prefetchable);
    EXPECT_EQ(rng.bars[4].address, 0x800000000ull);
    EXPECT_EQ(rng.bars[4].size, 16384u);
    EXPECT_EQ(rng.bars[5].kind, Bar::Kind::Unused); // the upper half
    ASSERT_EQ(rng.capability_count, 3);
    EXPECT_EQ(rng.capability_total, 3);
    EXPECT_EQ(rng.capability_end, CapabilityListEnd::Complete);
    EXPECT_EQ(rng.capabilities[0].id, capability_msix);
    EXPECT_EQ(rng.capabilities[0].offset, 0x98);
    EXPECT_EQ(rng.capabilities[1].offset, 0x84);
    EXPECT_EQ(rng.capabilities[2].offset, 0x70);
    ASSERT_TRUE(rng.has_msix);
    EXPECT_EQ(rng.msix.offset, 0x98);
    EXPECT_EQ(rng.msix.table_size, 2);
    EXPECT_EQ(rng.msix.table_bar, 1);
    EXPECT_EQ(rng.msix.table_offset, 0u);
    EXPECT_EQ(rng.msix.pba_bar, 1);
    EXPECT_EQ(rng.msix.pba_offset, 0x800u);
    EXPECT_FALSE(rng.has_msi);
}

TEST(PciScan, SizingRestoresEverythingAndDecodesNothingMeanwhile) {
    FakeMachine machine = q35();
    FakeMachine untouched = q35();
    Function table[16];
    ScanSummary summary = scan(machine, whole_segment, table);
    ASSERT_EQ(summary.recorded, 7u);
    for (const Function& function : std::span<const Function>(table, summary.recorded)) {
        SCOPED_TRACE(name(function.address));
        FakeFunction& after = machine.at(function.address);
        const FakeFunction& before = untouched.at(function.address);
        // Every register as it was (the status register's error bits too).
        EXPECT_EQ(0, std::memcmp(after.space, before.space, config_space_size));
        // Only the host bridge's BARs are probed while it decodes.
        bool host_bridge = function.header.class_code == 0x06 && function.header.subclass == 0;
        EXPECT_EQ(after.sized_while_decoding, host_bridge ? 6 : 0);
    }
    // The host bridge keeps decoding: its command register is never written.
    for (const auto& [offset, value] : machine.at(address(0, 0, 0)).writes)
        EXPECT_NE(offset, 0x04);
    // A device that decodes: off, then its BARs, then back on.
    const auto& writes = machine.at(address(1, 0, 0)).writes;
    ASSERT_FALSE(writes.empty());
    EXPECT_EQ(writes.front(), (std::pair<uint16_t, uint32_t>{0x04, 0x0004}));
    EXPECT_EQ(writes.back(), (std::pair<uint16_t, uint32_t>{0x04, 0x0007}));
    // Six registers probed (BAR 4's two halves included): ones, then the value.
    EXPECT_EQ(writes.size(), 2u + 6 * 2);
    // A function that decodes nothing needs no command write.
    for (const auto& [offset, value] : machine.at(address(0, 0x1f, 3)).writes)
        EXPECT_NE(offset, 0x04);
}

TEST(PciScan, Bar64InTheLastRegisterIsLeftAlone) {
    FakeMachine machine;
    FakeFunction& device = machine.add(address(0, 0, 0), 0x1af4, 0x1000);
    device.memory32(0, 0xfe000000, 4096, false);
    device.store(0x24, 0xfd00000c); // 64-bit prefetchable in BAR 5
    Function table[1];
    ASSERT_EQ(scan(machine, whole_segment, table).recorded, 1u);
    EXPECT_EQ(table[0].bars[0].kind, Bar::Kind::Memory32);
    EXPECT_EQ(table[0].bars[5].kind, Bar::Kind::Unused);
    for (const auto& [offset, value] : device.writes)
        EXPECT_NE(offset, 0x24);
}

TEST(PciScan, MultiFunctionHolesAndSingleFunctionMirrors) {
    FakeMachine machine;
    // Functions 0, 3 and 7; 1, 2, 4-6 absent.
    machine.add(address(0, 2, 0), 0x8086, 0x1000).multi_function();
    machine.add(address(0, 2, 3), 0x8086, 0x1003);
    machine.add(address(0, 2, 7), 0x8086, 0x1007);
    // A single-function device that answers at every function number.
    machine.add(address(0, 4, 0), 0x10ec, 0x8139);
    machine.mirror_functions(address(0, 4, 0));
    // Function 3 without function 0: no device there.
    machine.add(address(0, 6, 3), 0x8086, 0x1006);
    // Vendor 0: no function (a chipset answering zeros).
    machine.add(address(0, 8, 0), 0x0000, 0x0000);
    Function table[16];
    ScanSummary summary = scan(machine, whole_segment, table);
    EXPECT_EQ(names({table, summary.recorded}),
              (std::vector<std::string>{"0:00:02.0", "0:00:02.3", "0:00:02.7", "0:00:04.0"}));
    EXPECT_TRUE(table[0].header.multi_function);
}

TEST(PciScan, BridgesThatLoopPointBackOrLeaveTheRoot) {
    FakeMachine machine;
    machine.add(address(0, 1, 0), 0x1b36, 0x0001).bridge(0, 1, 4);
    machine.add(address(0, 2, 0), 0x1b36, 0x0001).bridge(0, 0, 0); // its own bus (unnumbered)
    machine.add(address(1, 0, 0), 0x1b36, 0x0001).bridge(1, 2, 2);
    machine.add(address(1, 1, 0), 0x1b36, 0x0001).bridge(1, 2, 2); // the same bus again
    machine.add(address(1, 2, 0), 0x1b36, 0x0001).bridge(1, 1, 1); // back to its own bus
    machine.add(address(2, 0, 0), 0x1b36, 0x0001).bridge(2, 0, 0); // back to the root
    machine.add(address(2, 1, 0), 0x1b36, 0x0001).bridge(2, 9, 9); // past the root's range
    machine.add(address(2, 3, 0), 0x8086, 0x100e);
    machine.add(address(9, 0, 0), 0x8086, 0x100e);
    const RootBuses root[] = {{0, 0, 8}};
    Function table[16];
    ScanSummary summary = scan(machine, root, table);
    EXPECT_EQ(summary.buses, 3u);
    EXPECT_EQ(summary.bridges_not_followed, 5u);
    EXPECT_EQ(names({table, summary.recorded}),
              (std::vector<std::string>{"0:00:01.0", "0:00:02.0", "0:01:00.0", "0:01:01.0",
                                        "0:01:02.0", "0:02:00.0", "0:02:01.0", "0:02:03.0"}));
    EXPECT_EQ(machine.buses_read(),
              (std::set<std::pair<uint16_t, uint8_t>>{{0, 0}, {0, 1}, {0, 2}}));
}

TEST(PciScan, BusesInAscendingOrderWhateverTheBridgeOrder) {
    // Bus 0's first bridge leads to bus 5, its second to bus 1, which leads
    // to bus 2: scanned 0, 1, 2, 5.
    FakeMachine machine;
    machine.add(address(0, 1, 0), 0x1b36, 0x0001).bridge(0, 5, 5);
    machine.add(address(0, 2, 0), 0x1b36, 0x0001).bridge(0, 1, 2);
    machine.add(address(1, 0, 0), 0x1b36, 0x0001).bridge(1, 2, 2);
    machine.add(address(2, 0, 0), 0x8086, 0x0002);
    machine.add(address(5, 0, 0), 0x8086, 0x0005);
    Function table[16];
    ScanSummary summary = scan(machine, whole_segment, table);
    EXPECT_EQ(summary.buses, 4u);
    EXPECT_EQ(names({table, summary.recorded}),
              (std::vector<std::string>{"0:00:01.0", "0:00:02.0", "0:01:00.0", "0:02:00.0",
                                        "0:05:00.0"}));
}

TEST(PciScan, AChainOfBridgesToTheLastBus) {
    FakeMachine machine;
    for (int bus = 0; bus < 255; ++bus)
        machine.add(address(uint8_t(bus), 0, 0), 0x1b36, 0x0001)
            .bridge(uint8_t(bus), uint8_t(bus + 1), 255);
    machine.add(address(255, 0, 0), 0x8086, 0x00ff);
    std::vector<Function> table(300);
    ScanSummary summary = scan(machine, whole_segment, table);
    EXPECT_EQ(summary.buses, 256u);
    EXPECT_EQ(summary.recorded, 256u);
    EXPECT_EQ(table[255].address.bus, 255);
    EXPECT_EQ(table[255].header.device, 0x00ff);
}

TEST(PciScan, AFullTableCountsTheRestAndStillFollowsBridges) {
    FakeMachine machine = q35();
    Function table[3];
    ScanSummary summary = scan(machine, whole_segment, table);
    EXPECT_EQ(summary.found, 7u);
    EXPECT_EQ(summary.recorded, 3u);
    EXPECT_EQ(summary.buses, 2u);
    // Functions not recorded are not sized either: nothing written to them.
    EXPECT_TRUE(machine.at(address(1, 0, 0)).writes.empty());
    EXPECT_EQ(scan(machine, whole_segment, {}).found, 7u);
}

TEST(PciScan, RootsSegmentsAndRefusals) {
    FakeMachine machine;
    machine.add(address(0, 0, 0), 0x8086, 0x0001);
    machine.add(address(0x40, 0, 0), 0x8086, 0x0040);
    machine.add(address(0x80, 3, 0), 0x8086, 0x0080);
    machine.add(address(0, 0, 0, 1), 0x8086, 0x1000);
    const RootBuses roots[] = {
        {0, 0, 0x3f},    // segment 0, buses 0-63
        {0, 0x40, 0x7f}, // a second window of segment 0
        {0, 0x30, 0x90}, // overlaps both: refused
        {0, 0x90, 0x80}, // first past last: refused
        {1, 0, 0xff},    // segment 1
    };
    Function table[8];
    ScanSummary summary = scan(machine, roots, table);
    EXPECT_EQ(summary.roots_refused, 2u);
    EXPECT_EQ(names({table, summary.recorded}),
              (std::vector<std::string>{"0:00:00.0", "0:40:00.0", "1:00:00.0"}));
    EXPECT_EQ(table[2].address.segment, 1);
    // Bus 0x80 is reached by no bridge: never read.
    EXPECT_FALSE(machine.buses_read().count({0, 0x80}));
}

TEST(PciScan, CapabilityListsThatLoopOrPointAway) {
    FakeMachine machine;
    // A loop of two entries: MSI at 0x50 and vendor-specific at 0x60.
    FakeFunction& looping = machine.add(address(0, 1, 0), 0x8086, 0x0001);
    looping.capabilities(0x50).capability(0x50, capability_msi, 0x60);
    looping.u16(0x52, 0x0086); // 64-bit, 8 vectors capable
    looping.capability(0x60, 0x09, 0x50);
    // A pointer into the header after one entry.
    FakeFunction& bad = machine.add(address(0, 2, 0), 0x8086, 0x0002);
    bad.capabilities(0x40).capability(0x40, 0x01, 0x10);
    // A malformed MSI-X (its table in BAR 7) and a well-formed MSI after it.
    FakeFunction& malformed = machine.add(address(0, 3, 0), 0x8086, 0x0003);
    malformed.capabilities(0x40).capability(0x40, capability_msix, 0x50);
    malformed.store(0x44, 0x7).capability(0x50, capability_msi, 0x00);
    Function table[4];
    ScanSummary summary = scan(machine, whole_segment, table);
    ASSERT_EQ(summary.recorded, 3u);

    EXPECT_EQ(table[0].capability_end, CapabilityListEnd::Loop);
    EXPECT_EQ(table[0].capability_total, 48);
    EXPECT_EQ(table[0].capability_count, max_recorded_capabilities);
    ASSERT_TRUE(table[0].has_msi);
    EXPECT_EQ(table[0].msi.offset, 0x50);
    EXPECT_TRUE(table[0].msi.address_64);
    EXPECT_EQ(table[0].msi.vectors_capable, 8);
    EXPECT_FALSE(table[0].bad_msi);

    EXPECT_EQ(table[1].capability_end, CapabilityListEnd::BadPointer);
    EXPECT_EQ(table[1].capability_count, 1);

    EXPECT_EQ(table[2].capability_end, CapabilityListEnd::Complete);
    EXPECT_EQ(table[2].capability_count, 2);
    EXPECT_FALSE(table[2].has_msix);
    EXPECT_TRUE(table[2].bad_msix);
    EXPECT_TRUE(table[2].has_msi);

    EXPECT_STREQ(to_string(CapabilityListEnd::Complete), "complete");
    EXPECT_STREQ(to_string(CapabilityListEnd::BadPointer), "bad pointer");
    EXPECT_STREQ(to_string(CapabilityListEnd::Loop), "loops");
}

TEST(PciScan, AnEmptyMachine) {
    FakeMachine machine;
    Function table[4];
    ScanSummary summary = scan(machine, whole_segment, table);
    EXPECT_EQ(summary.found, 0u);
    EXPECT_EQ(summary.buses, 1u);
    // One read per device slot: function 0's id.
    EXPECT_EQ(machine.reads(), 32u);
    EXPECT_EQ(scan(machine, {}, table).buses, 0u);
}

std::string line(const FunctionAddress& at, const FunctionHeader& header) {
    char text[96];
    return {text, format_function(at, header, text)};
}

TEST(PciFormat, FunctionLines) {
    FunctionHeader sata;
    sata.vendor = 0x8086;
    sata.device = 0x2922;
    sata.class_code = 0x01;
    sata.subclass = 0x06;
    sata.revision = 0x02;
    EXPECT_EQ(line(address(0, 0x1f, 2), sata),
              "00:1f.2 SATA controller [0106]: 8086:2922 (rev 02)");
    FunctionHeader host;
    host.vendor = 0x8086;
    host.device = 0x29c0;
    host.class_code = 0x06;
    EXPECT_EQ(line(address(0, 0, 0), host), "00:00.0 Host bridge [0600]: 8086:29c0");
    EXPECT_EQ(line(address(0xab, 3, 7, 0x12), host), "0012:ab:03.7 Host bridge [0600]: 8086:29c0");
    // Cut at the buffer's end.
    char small[10];
    EXPECT_EQ(format_function(address(0, 0, 0), host, small), 10u);
    EXPECT_EQ(std::string(small, 10), "00:00.0 Ho");
    EXPECT_EQ(format_function(address(0, 0, 0), host, {}), 0u);
}

TEST(PciFormat, Addresses) {
    char text[16];
    EXPECT_EQ(std::string(text, format_address(address(0, 0x1f, 2), text)), "00:1f.2");
    EXPECT_EQ(std::string(text, format_address(address(0xab, 3, 7, 0x12), text)), "0012:ab:03.7");
    char small[4];
    EXPECT_EQ(format_address(address(0, 0x1f, 2), small), 4u);
    EXPECT_EQ(std::string(small, 4), "00:1");
}

std::string bar_text(Bar::Kind kind, uint64_t address, uint64_t size, bool prefetchable = false) {
    Bar bar;
    bar.kind = kind;
    bar.address = address;
    bar.size = size;
    bar.prefetchable = prefetchable;
    char text[96];
    return {text, format_bar(bar, text)};
}

TEST(PciFormat, Bars) {
    EXPECT_EQ(bar_text(Bar::Kind::Memory32, 0xfebd1000, 4096),
              "Memory at febd1000 (32-bit, non-prefetchable) [size=4K]");
    EXPECT_EQ(bar_text(Bar::Kind::Memory64, 0x800000000, 16384, true),
              "Memory at 800000000 (64-bit, prefetchable) [size=16K]");
    EXPECT_EQ(bar_text(Bar::Kind::Memory32, 0xfd000000, 16 << 20, true),
              "Memory at fd000000 (32-bit, prefetchable) [size=16M]");
    EXPECT_EQ(bar_text(Bar::Kind::Memory64, 0x4000000000, 8ull << 30),
              "Memory at 4000000000 (64-bit, non-prefetchable) [size=8G]");
    EXPECT_EQ(bar_text(Bar::Kind::Memory32, 0x1000, 16),
              "Memory at 00001000 (32-bit, non-prefetchable) [size=16]");
    EXPECT_EQ(bar_text(Bar::Kind::Io, 0xc000, 32), "I/O ports at c000 [size=32]");
    EXPECT_EQ(bar_text(Bar::Kind::Io, 0x700, 64), "I/O ports at 0700 [size=64]");
    EXPECT_EQ(bar_text(Bar::Kind::Io, 0x10000, 1536), "I/O ports at 10000 [size=1536]");
    EXPECT_EQ(bar_text(Bar::Kind::Unused, 0, 0), "unused");
}

TEST(PciFormat, CapabilityNames) {
    EXPECT_STREQ(capability_name(0x01), "Power Management");
    EXPECT_STREQ(capability_name(capability_msi), "MSI");
    EXPECT_STREQ(capability_name(0x09), "Vendor Specific");
    EXPECT_STREQ(capability_name(capability_pci_express), "PCI Express");
    EXPECT_STREQ(capability_name(capability_msix), "MSI-X");
    EXPECT_STREQ(capability_name(0x12), "SATA");
    EXPECT_STREQ(capability_name(0x00), "Unknown");
    EXPECT_STREQ(capability_name(0x16), "Unknown");
    EXPECT_STREQ(capability_name(0xff), "Unknown");
}

// The detail lines, collected.
class Lines final : public DetailOutput {
public:
    void line(std::string_view text) override { lines.emplace_back(text); }
    std::vector<std::string> lines;
};

std::vector<std::string> details(const Function& function) {
    Lines out;
    describe(function, out);
    return out.lines;
}

TEST(PciDescribe, ScannedFunctions) {
    FakeMachine machine = q35();
    // An MSI capability on the SATA controller: 4 vectors capable, 1 enabled,
    // per-vector masking, 32-bit addresses.
    machine.at(address(0, 0x1f, 2)).capabilities(0x80).capability(0x80, capability_msi, 0xa8);
    machine.at(address(0, 0x1f, 2)).u16(0x82, 0x0105).capability(0xa8, 0x12, 0x00);
    Function table[16];
    ASSERT_EQ(scan(machine, whole_segment, table).recorded, 7u);

    EXPECT_EQ(details(table[6]),
              (std::vector<std::string>{
                  "  prog-if 00, subsystem 1af4:1100, interrupt pin A (line 10)",
                  "  BAR 1: Memory at fe800000 (32-bit, non-prefetchable) [size=4K]",
                  "  BAR 4: Memory at 800000000 (64-bit, prefetchable) [size=16K]",
                  "  capability [98]: MSI-X",
                  "  capability [84]: Vendor Specific",
                  "  capability [70]: Vendor Specific",
                  "  MSI-X: disabled, 2 entries, table in BAR 1 at 0x0, PBA in BAR 1 at 0x800",
              }));
    EXPECT_EQ(details(table[2]),
              (std::vector<std::string>{
                  "  prog-if 00, bus 01, subordinate 01, no interrupt pin",
                  "  BAR 0: Memory at febd5000 (32-bit, non-prefetchable) [size=4K]",
                  "  capability [54]: PCI Express",
                  "  capability [48]: MSI-X",
                  "  capability [40]: Subsystem ID",
                  "  MSI-X: disabled, 1 entry, table in BAR 0 at 0x0, PBA in BAR 0 at 0x800",
              }));
    EXPECT_EQ(details(table[4]),
              (std::vector<std::string>{
                  "  prog-if 01, subsystem 0000:0000, no interrupt pin",
                  "  BAR 4: I/O ports at c060 [size=32]",
                  "  BAR 5: Memory at febd6000 (32-bit, non-prefetchable) [size=4K]",
                  "  capability [80]: MSI",
                  "  capability [a8]: SATA",
                  "  MSI: enabled, 4 vectors capable, 1 enabled, 32-bit, per-vector masking",
              }));
}

TEST(PciDescribe, ListsThatEndBadlyAndMalformedMsi) {
    Function function;
    function.header.interrupt_pin = 9;
    function.capability_count = max_recorded_capabilities;
    for (size_t i = 0; i < max_recorded_capabilities; ++i)
        function.capabilities[i] = {uint8_t(i % 2 ? 0x09 : 0x05), uint8_t(0x40 + 4 * i)};
    function.capability_total = 48;
    function.capability_end = CapabilityListEnd::Loop;
    function.bad_msi = true;
    function.bad_msix = true;
    std::vector<std::string> lines = details(function);
    ASSERT_EQ(lines.size(), 1 + 16 + 2 + 2u);
    EXPECT_EQ(lines[0], "  prog-if 00, subsystem 0000:0000, interrupt pin 9 (not one of A-D)");
    EXPECT_EQ(lines[1], "  capability [40]: MSI");
    EXPECT_EQ(lines[16], "  capability [7c]: Vendor Specific");
    EXPECT_EQ(lines[17], "  capability list: 32 more not kept");
    EXPECT_EQ(lines[18], "  capability list: loops after 48 entries");
    EXPECT_EQ(lines[19], "  MSI: malformed, not decoded");
    EXPECT_EQ(lines[20], "  MSI-X: malformed, not decoded");

    Function bad;
    bad.header.header_type = 2; // CardBus: neither subsystem nor buses
    bad.header.interrupt_pin = 4;
    bad.header.interrupt_line = 255;
    bad.capability_count = 1;
    bad.capability_total = 1;
    bad.capabilities[0] = {0x01, 0x40};
    bad.capability_end = CapabilityListEnd::BadPointer;
    bad.has_msix = true;
    bad.msix.enabled = true;
    bad.msix.function_masked = true;
    bad.msix.table_size = 2048;
    bad.msix.table_bar = 5;
    bad.msix.table_offset = 0x3000;
    bad.msix.pba_bar = 4;
    bad.msix.pba_offset = 0xfffff8;
    EXPECT_EQ(details(bad),
              (std::vector<std::string>{
                  "  prog-if 00, interrupt pin D (line 255)",
                  "  capability [40]: Power Management",
                  "  capability list: bad pointer after 1 entry",
                  "  MSI-X: enabled, function masked, 2048 entries, table in BAR 5 at 0x3000, PBA "
                  "in BAR 4 at 0xfffff8",
              }));
}

} // namespace
} // namespace capos::pci
