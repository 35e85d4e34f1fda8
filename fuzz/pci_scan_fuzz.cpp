// libFuzzer target for lib/pci/scan.h and describe.h: the input is a hostile
// machine. Its first 32 bytes say which (device, function) slots answer, the
// same on every bus; byte 32 the root's range (first bus, and up to three
// buses more); the rest are configuration spaces of 256 bytes (the last
// padded with all ones), the slot (bus, device, function) answering with
// space (bus + 8 * device + function) modulo their count. So slots share
// spaces, bridges name any bus, capability lists point anywhere, and a write
// to one slot changes what others read. Registers take every write whole
// (the command register's dword only its command half). The scan must end,
// read only dword-aligned registers inside the space, write only command
// registers and BARs, and leave every space as it was; its table must be in
// strictly ascending address order inside the root, with only the counts,
// BAR windows and capabilities the header documents, and every function must
// describe itself in bounded lines. Any violation traps.
#include "fuzz/fuzz_checks.h"
#include "lib/pci/describe.h"
#include "lib/pci/scan.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace {

namespace pci = capos::pci;
using capos::fuzz::require;

constexpr size_t max_spaces = 8;
constexpr size_t space_size = pci::config_space_size;

class HostileMachine final : public pci::ConfigAccess {
public:
    explicit HostileMachine(std::span<const uint8_t> data) {
        std::memcpy(m_slots, data.data(), sizeof m_slots);
        data = data.subspan(sizeof m_slots);
        while (!data.empty() && m_count < max_spaces) {
            size_t take = data.size() < space_size ? data.size() : space_size;
            std::memset(m_spaces[m_count], 0xff, space_size);
            std::memcpy(m_spaces[m_count], data.data(), take);
            data = data.subspan(take);
            ++m_count;
        }
        std::memcpy(m_initial, m_spaces, sizeof m_spaces);
    }

    uint32_t read32(pci::FunctionAddress at, uint16_t offset) override {
        require(offset % 4 == 0 && offset < space_size);
        uint8_t* space = find(at);
        if (!space)
            return 0xffffffffu;
        uint32_t value;
        std::memcpy(&value, space + offset, 4);
        return value;
    }

    void write32(pci::FunctionAddress at, uint16_t offset, uint32_t value) override {
        require(offset % 4 == 0);
        uint8_t* space = find(at);
        require(space != nullptr); // only functions that answered are written
        // The command register, or a BAR of the header type this space shows.
        size_t bars = pci::bar_count(space[0x0e] & 0x7f);
        require(offset == 0x04 || (offset >= 0x10 && offset < 0x10 + 4 * bars));
        if (offset == 0x04) {
            std::memcpy(space + offset, &value, 2);
            return;
        }
        std::memcpy(space + offset, &value, 4);
    }

    bool unchanged() const { return std::memcmp(m_initial, m_spaces, sizeof m_spaces) == 0; }

private:
    uint8_t* find(pci::FunctionAddress at) {
        unsigned slot = at.device * 8u + at.function;
        if (m_count == 0 || (m_slots[slot / 8] >> (slot % 8) & 1) == 0)
            return nullptr;
        return m_spaces[(at.bus + slot) % m_count];
    }

    uint8_t m_slots[32] = {};
    uint8_t m_spaces[max_spaces][space_size];
    uint8_t m_initial[max_spaces][space_size];
    size_t m_count = 0;
};

bool before(const pci::FunctionAddress& a, const pci::FunctionAddress& b) {
    if (a.segment != b.segment)
        return a.segment < b.segment;
    if (a.bus != b.bus)
        return a.bus < b.bus;
    if (a.device != b.device)
        return a.device < b.device;
    return a.function < b.function;
}

bool power_of_two(uint64_t value) {
    return value != 0 && (value & (value - 1)) == 0;
}

class BoundedLines final : public pci::DetailOutput {
public:
    void line(std::string_view text) override {
        require(!text.empty() && text.size() < 128);
        require(text.substr(0, 2) == "  ");
        ++lines;
    }
    size_t lines = 0;
};

void check_function(const pci::Function& function) {
    const pci::FunctionHeader& header = function.header;
    require(header.vendor != 0xffff && header.vendor != 0);
    require(function.address.device < 32 && function.address.function < 8);
    size_t bars = pci::bar_count(header.header_type);
    for (size_t i = 0; i < pci::max_bars; ++i) {
        const pci::Bar& bar = function.bars[i];
        if (bar.kind == pci::Bar::Kind::Unused) {
            require(bar.size == 0);
            continue;
        }
        require(i < bars && power_of_two(bar.size));
        if (bar.kind == pci::Bar::Kind::Memory64) {
            require(i + 1 < bars);
            require(function.bars[i + 1].kind == pci::Bar::Kind::Unused);
        }
    }
    require(function.capability_count <= pci::max_recorded_capabilities);
    require(function.capability_count <= function.capability_total);
    require(function.capability_total <= 48);
    require(function.capability_end != pci::CapabilityListEnd::Loop ||
            function.capability_total == 48);
    require(function.capability_total == function.capability_count ||
            function.capability_count == pci::max_recorded_capabilities);
    for (size_t i = 0; i < function.capability_count; ++i)
        require(function.capabilities[i].offset >= 0x40 &&
                function.capabilities[i].offset % 4 == 0);
    require(!(function.has_msi && function.bad_msi));
    require(!(function.has_msix && function.bad_msix));
    if (function.has_msi)
        require(power_of_two(function.msi.vectors_capable) && function.msi.vectors_capable <= 32);
    if (function.has_msix)
        require(function.msix.table_size >= 1 && function.msix.table_size <= 2048 &&
                function.msix.table_bar <= 5 && function.msix.pba_bar <= 5);
    char text[96];
    size_t length = pci::format_function(function.address, function.header, text);
    require(length > 0 && length <= sizeof text);
    BoundedLines lines;
    pci::describe(function, lines);
    require(lines.lines >= 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 33)
        return 0;
    // The slot map, then (after the root's byte) the spaces.
    uint8_t layout[32 + max_spaces * space_size];
    size_t spaces = size - 33 < sizeof layout - 32 ? size - 33 : sizeof layout - 32;
    std::memcpy(layout, data, 32);
    std::memcpy(layout + 32, data + 33, spaces);
    HostileMachine machine(std::span<const uint8_t>(layout, 32 + spaces));
    pci::RootBuses root;
    root.first_bus = data[32];
    root.last_bus = uint8_t(root.first_bus + (root.first_bus > 252 ? 255 - root.first_bus : 3));

    static pci::Function table[64];
    const pci::RootBuses roots[] = {root};
    pci::ScanSummary summary = pci::scan(machine, roots, table);
    require(machine.unchanged());
    require(summary.recorded <= std::size(table) && summary.recorded <= summary.found);
    require(summary.buses >= 1 && summary.buses <= size_t(root.last_bus - root.first_bus) + 1);
    require(summary.roots_refused == 0);
    for (size_t i = 0; i < summary.recorded; ++i) {
        const pci::Function& function = table[i];
        require(function.address.segment == 0);
        require(function.address.bus >= root.first_bus && function.address.bus <= root.last_bus);
        if (i > 0)
            require(before(table[i - 1].address, function.address));
        check_function(function);
    }
    return 0;
}
