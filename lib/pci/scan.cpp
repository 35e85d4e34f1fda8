#include "lib/pci/scan.h"

namespace capos::pci {

namespace {

constexpr uint16_t register_id = 0x00;
constexpr uint16_t register_command = 0x04;
constexpr uint16_t register_bar0 = 0x10;
constexpr uint8_t header_type_bridge = 1;
constexpr uint8_t class_bridge = 0x06;
constexpr uint8_t subclass_host_bridge = 0x00;

// A set of bus numbers.
class BusSet {
public:
    bool has(uint8_t bus) const { return (m_bits[bus / 64] >> (bus % 64) & 1) != 0; }
    void add(uint8_t bus) { m_bits[bus / 64] |= uint64_t(1) << (bus % 64); }
    bool empty() const { return (m_bits[0] | m_bits[1] | m_bits[2] | m_bits[3]) == 0; }
    // Removes and returns the lowest bus; the set must not be empty.
    uint8_t take_lowest() {
        for (unsigned word = 0;; ++word) {
            if (m_bits[word] != 0) {
                unsigned bit = unsigned(__builtin_ctzll(m_bits[word]));
                m_bits[word] &= m_bits[word] - 1;
                return uint8_t(word * 64 + bit);
            }
        }
    }

private:
    uint64_t m_bits[4] = {};
};

// Whether the id register shows a function. All ones is the answer of an
// empty slot; some chipsets answer zeros instead.
bool present(uint32_t id) {
    uint16_t vendor = uint16_t(id);
    return vendor != 0xffff && vendor != 0x0000;
}

bool overlaps(const RootBuses& a, const RootBuses& b) {
    return a.segment == b.segment && a.first_bus <= b.last_bus && b.first_bus <= a.last_bus;
}

// A root is scanned when its range is well formed and no earlier root of the
// list (refused or not) shares a bus with it: no bus is scanned twice.
bool accepted(std::span<const RootBuses> roots, size_t index) {
    const RootBuses& root = roots[index];
    if (root.first_bus > root.last_bus)
        return false;
    for (size_t earlier = 0; earlier < index; ++earlier) {
        if (overlaps(roots[earlier], root))
            return false;
    }
    return true;
}

// Writes all ones to the register at `offset` and returns what reads back,
// after putting `value` (what it held) back.
uint32_t probe(ConfigAccess& access, FunctionAddress at, uint16_t offset, uint32_t value) {
    access.write32(at, offset, 0xffffffffu);
    uint32_t mask = access.read32(at, offset);
    access.write32(at, offset, value);
    return mask;
}

// Sizes the function's BARs. Decoding is off meanwhile, so that the all-ones
// address a BAR holds for a moment claims no cycles; the command register is
// written back as it was. The status register shares the command's dword:
// its bits are cleared by writing ones, so the dword is written with zeros
// there. A host bridge keeps decoding: the machine's own memory goes through
// it.
void size_bars(ConfigAccess& access, Function& function) {
    size_t count = bar_count(function.header.header_type);
    if (count == 0)
        return;
    const FunctionAddress at = function.address;
    const uint16_t command = function.header.command;
    const uint16_t decoding = uint16_t(command & (command_io | command_memory));
    const bool host_bridge = function.header.class_code == class_bridge &&
                             function.header.subclass == subclass_host_bridge;
    const bool pause_decoding = decoding != 0 && !host_bridge;
    if (pause_decoding)
        access.write32(at, register_command, uint32_t(command & ~decoding));
    for (size_t i = 0; i < count; ++i) {
        uint16_t offset = uint16_t(register_bar0 + 4 * i);
        uint32_t low = access.read32(at, offset);
        if (!is_64bit_bar(low)) {
            function.bars[i] = decode_bar(low, 0, probe(access, at, offset, low), 0);
            continue;
        }
        // A 64-bit BAR needs the next register: in the last one it is no
        // window, and is left as it is.
        if (i + 1 == count)
            break;
        uint32_t high = access.read32(at, uint16_t(offset + 4));
        uint32_t low_mask = probe(access, at, offset, low);
        uint32_t high_mask = probe(access, at, uint16_t(offset + 4), high);
        function.bars[i] = decode_bar(low, high, low_mask, high_mask);
        ++i; // the upper half: Unused
    }
    if (pause_decoding)
        access.write32(at, register_command, command);
}

void walk_capabilities(std::span<const uint8_t> space, Function& function) {
    auto started = CapabilityWalk::start(space);
    if (started.is_error()) // no list
        return;
    CapabilityWalk walk = started.value();
    for (;;) {
        auto next = walk.next();
        if (next.is_error()) {
            switch (next.error()) {
            case PciError::NotFound:
                function.capability_end = CapabilityListEnd::Complete;
                break;
            case PciError::Loop:
                function.capability_end = CapabilityListEnd::Loop;
                break;
            default:
                function.capability_end = CapabilityListEnd::BadPointer;
                break;
            }
            return;
        }
        Capability capability = next.value();
        if (function.capability_count < max_recorded_capabilities)
            function.capabilities[function.capability_count++] = capability;
        ++function.capability_total;
        if (capability.id == capability_msi && !function.has_msi && !function.bad_msi) {
            auto msi = parse_msi(space, capability.offset);
            function.has_msi = msi.is_ok();
            function.bad_msi = msi.is_error();
            if (msi.is_ok())
                function.msi = msi.value();
        }
        if (capability.id == capability_msix && !function.has_msix && !function.bad_msix) {
            auto msix = parse_msix(space, capability.offset);
            function.has_msix = msix.is_ok();
            function.bad_msix = msix.is_error();
            if (msix.is_ok())
                function.msix = msix.value();
        }
    }
}

struct BusScan {
    ConfigAccess& access;
    const RootBuses& root;
    std::span<Function> table;
    ScanSummary& summary;
    BusSet& pending; // buses found behind bridges and not yet scanned
    BusSet& seen;    // every bus pending or scanned

    // One function that answered: recorded if there is room, and its
    // secondary bus queued if it is a bridge.
    void found(FunctionAddress at, std::span<const uint8_t> space, const FunctionHeader& header) {
        ++summary.found;
        if (summary.recorded < table.size()) {
            Function& function = table[summary.recorded++];
            function = Function{};
            function.address = at;
            function.header = header;
            size_bars(access, function);
            walk_capabilities(space, function);
        }
        if (header.header_type != header_type_bridge)
            return;
        // Bus numbers grow away from the root: a bridge to its own bus or
        // one before it is misconfigured (or a loop), and the range's end is
        // as far as this root's access reaches.
        uint8_t secondary = header.secondary_bus;
        if (secondary <= at.bus || secondary > root.last_bus || seen.has(secondary)) {
            ++summary.bridges_not_followed;
            return;
        }
        seen.add(secondary);
        pending.add(secondary);
    }

    void scan_bus(uint8_t bus) {
        ++summary.buses;
        for (uint8_t device = 0; device < devices_per_bus; ++device) {
            for (uint8_t function = 0; function < functions_per_device; ++function) {
                FunctionAddress at{root.segment, bus, device, function};
                uint32_t id = access.read32(at, register_id);
                // Without function 0 there is no device; the others may be
                // sparse.
                if (!present(id)) {
                    if (function == 0)
                        break;
                    continue;
                }
                uint8_t space[config_space_size];
                for (uint16_t offset = 0; offset < config_space_size; offset += 4) {
                    uint32_t value = access.read32(at, offset);
                    __builtin_memcpy(space + offset, &value, sizeof value);
                }
                auto header = parse_header(space);
                if (header.is_error()) { // gone between the two reads
                    if (function == 0)
                        break;
                    continue;
                }
                found(at, space, header.value());
                if (function == 0 && !header.value().multi_function)
                    break;
            }
        }
    }
};

} // namespace

const char* to_string(CapabilityListEnd end) {
    switch (end) {
    case CapabilityListEnd::Complete:
        return "complete";
    case CapabilityListEnd::BadPointer:
        return "bad pointer";
    case CapabilityListEnd::Loop:
        return "loops";
    }
    return "unknown";
}

ScanSummary scan(ConfigAccess& access, std::span<const RootBuses> roots,
                 std::span<Function> table) {
    ScanSummary summary;
    for (size_t index = 0; index < roots.size(); ++index) {
        if (!accepted(roots, index)) {
            ++summary.roots_refused;
            continue;
        }
        const RootBuses& root = roots[index];
        BusSet pending;
        BusSet seen;
        pending.add(root.first_bus);
        seen.add(root.first_bus);
        BusScan bus_scan{access, root, table, summary, pending, seen};
        // Lowest first: every bus found lies above the one that led to it,
        // so the buses are scanned, and the table filled, in ascending order.
        while (!pending.empty())
            bus_scan.scan_bus(pending.take_lowest());
    }
    return summary;
}

} // namespace capos::pci
