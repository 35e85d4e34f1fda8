// libFuzzer target for lib/pci: the input is a configuration space (its first
// 4096 bytes at most). The header is parsed, the whole capability list walked
// and MSI and MSI-X parsed at every offset the walk gives, every capability
// looked up by id, and every BAR (and BAR pair) decoded with the values read
// back after sizing taken from the input's tail. Each result must keep its
// documented guarantees: fields read back with a plain little-endian read, a
// walk whose entries lie at dword offsets from 0x40 inside the space, at most
// 48 of them, a sticky end, MSI and MSI-X capabilities inside the space, and
// BAR windows whose size is a power of two (0 when Unused) with the address
// aligned to it. Any violation traps, which libFuzzer reports as a crash.
#include "fuzz/fuzz_checks.h"
#include "lib/pci/pci.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

namespace pci = capos::pci;
using pci::PciError;

using capos::fuzz::read_le;
using capos::fuzz::require;

// The register at `at` or 0 past the end.
uint32_t read_u32_or_zero(std::span<const uint8_t> bytes, size_t at) {
    return at + 4 <= bytes.size() ? static_cast<uint32_t>(read_le(bytes, at, 4)) : 0;
}

bool power_of_two(uint64_t value) {
    return value != 0 && (value & (value - 1)) == 0;
}

void check_header(std::span<const uint8_t> config) {
    auto header = pci::parse_header(config);
    if (header.is_error()) {
        require(header.error() == PciError::TooShort || header.error() == PciError::NoFunction);
        require(header.error() == PciError::NoFunction || config.size() < 64);
        return;
    }
    const pci::FunctionHeader& h = header.value();
    require(config.size() >= 64);
    require(h.vendor == read_le(config, 0, 2) && h.vendor != 0xffff);
    require(h.device == read_le(config, 2, 2) && h.status == read_le(config, 6, 2));
    require(h.class_code == config[11] && h.subclass == config[10]);
    require(h.header_type == (config[14] & 0x7f));
    require(h.multi_function == ((config[14] & 0x80) != 0));
    require(h.interrupt_pin == config[0x3d]);
    if (h.header_type == 1)
        require(h.secondary_bus == config[0x19] && h.subordinate_bus == config[0x1a]);
    else
        require(h.primary_bus == 0 && h.secondary_bus == 0 && h.subordinate_bus == 0);
    if (h.header_type == 0)
        require(h.subsystem_vendor == read_le(config, 0x2c, 2) &&
                h.subsystem_device == read_le(config, 0x2e, 2));
    else
        require(h.subsystem_vendor == 0 && h.subsystem_device == 0);
    require(pci::class_name(h.class_code, h.subclass) != nullptr);
    size_t bars = pci::bar_count(h.header_type);
    require(bars == 6 || bars == 2 || bars == 0);
}

void check_msi(std::span<const uint8_t> config, uint8_t offset) {
    auto msi = pci::parse_msi(config, offset);
    if (msi.is_error()) {
        require(msi.error() == PciError::BadCapability);
        return;
    }
    const pci::MsiCapability& m = msi.value();
    size_t size = (m.address_64 ? 14 : 10) + (m.per_vector_masking ? 10 : 0);
    require(m.offset == offset && offset + size <= config.size());
    require(config[offset] == pci::capability_msi);
    uint16_t control = static_cast<uint16_t>(read_le(config, offset + 2u, 2));
    require(m.enabled == ((control & 1) != 0));
    require(m.vectors_capable == 1u << ((control >> 1) & 7));
    require(m.vectors_enabled == 1u << ((control >> 4) & 7));
    require(m.vectors_capable <= 32 && m.vectors_enabled <= 32);
}

void check_msix(std::span<const uint8_t> config, uint8_t offset) {
    auto msix = pci::parse_msix(config, offset);
    if (msix.is_error()) {
        require(msix.error() == PciError::BadCapability);
        return;
    }
    const pci::MsixCapability& m = msix.value();
    require(m.offset == offset && offset + 12u <= config.size());
    require(config[offset] == pci::capability_msix);
    require(m.table_size >= 1 && m.table_size <= 2048);
    require(m.table_bar <= 5 && m.pba_bar <= 5);
    require(m.table_offset % 8 == 0 && m.pba_offset % 8 == 0);
    require((m.table_offset | m.table_bar) == read_le(config, offset + 4u, 4));
    require((m.pba_offset | m.pba_bar) == read_le(config, offset + 8u, 4));
}

void check_walk(std::span<const uint8_t> config) {
    auto started = pci::CapabilityWalk::start(config);
    if (started.is_error()) {
        require(started.error() == PciError::TooShort ||
                started.error() == PciError::NoCapabilities);
        require(started.error() == PciError::NoCapabilities || config.size() < 64);
        return;
    }
    pci::CapabilityWalk walk = started.value();
    size_t count = 0;
    uint8_t first_offset[256] = {};
    bool found[256] = {};
    PciError end;
    for (;;) {
        auto next = walk.next();
        if (next.is_error()) {
            end = next.error();
            break;
        }
        pci::Capability capability = next.value();
        ++count;
        require(count <= 48);
        require(capability.offset >= 0x40 && capability.offset % 4 == 0);
        require(capability.offset + 2u <= config.size());
        require(capability.id == config[capability.offset]);
        if (!found[capability.id]) {
            found[capability.id] = true;
            first_offset[capability.id] = capability.offset;
        }
        check_msi(config, capability.offset);
        check_msix(config, capability.offset);
    }
    require(end == PciError::NotFound || end == PciError::BadPointer || end == PciError::Loop);
    require(end != PciError::Loop || count == 48);
    // The end is sticky.
    for (int i = 0; i < 2; ++i) {
        auto again = walk.next();
        require(again.is_error() && again.error() == end);
    }
    // find_capability walks the same list: every id the walk gave, and ids it
    // may not have.
    auto check_find = [&](uint8_t id) {
        auto offset = pci::find_capability(config, id);
        if (found[id])
            require(offset.is_ok() && offset.value() == first_offset[id]);
        else
            require(offset.is_error() && offset.error() == end);
    };
    for (unsigned id = 0; id < 256; ++id) {
        if (found[id])
            check_find(static_cast<uint8_t>(id));
    }
    for (uint8_t id : {uint8_t{0}, pci::capability_msi, pci::capability_pci_express,
                       pci::capability_msix, uint8_t{0xff}})
        check_find(id);
}

void check_bar(uint32_t low, uint32_t high, uint32_t low_mask, uint32_t high_mask) {
    pci::Bar bar = pci::decode_bar(low, high, low_mask, high_mask);
    switch (bar.kind) {
    case pci::Bar::Kind::Unused:
        require(bar.size == 0 && bar.address == 0 && !bar.prefetchable);
        return;
    case pci::Bar::Kind::Io:
        require((low & 1) != 0 && !bar.prefetchable);
        require(bar.address == (low & ~3u) && bar.size >= 4 && bar.size <= (1ull << 31));
        break;
    case pci::Bar::Kind::Memory32:
        require((low & 7) == 0);
        require(bar.address == (low & ~0xfu) && bar.size >= 16 && bar.size <= (1ull << 31));
        break;
    case pci::Bar::Kind::Memory64:
        require((low & 7) == 4 && pci::is_64bit_bar(low));
        require(bar.address == ((static_cast<uint64_t>(high) << 32) | (low & ~0xfu)));
        require(bar.size >= 16 && bar.size <= (1ull << 63));
        break;
    }
    require(power_of_two(bar.size));
    require(bar.kind == pci::Bar::Kind::Memory64 || !pci::is_64bit_bar(low));
    require(bar.kind != pci::Bar::Kind::Io || !bar.prefetchable);
    require(bar.prefetchable == (bar.kind != pci::Bar::Kind::Io && (low & 8) != 0));
    // The mask's low bits above the flags are the size's: clear below it.
    uint64_t mask = (static_cast<uint64_t>(high_mask) << 32) | low_mask;
    uint64_t flags = bar.kind == pci::Bar::Kind::Io ? 3 : 0xf;
    require((mask & (bar.size - 1) & ~flags) == 0);
}

// Every BAR register of the header (all six, whatever the type says) and
// each with the next one as its upper half; the masks are the registers at
// the same place in the last 24 bytes of the input (0 where it is shorter).
void check_bars(std::span<const uint8_t> config) {
    size_t tail = config.size() >= 64 + 24 ? config.size() - 24 : 0;
    for (size_t i = 0; i < 6; ++i) {
        uint32_t low = read_u32_or_zero(config, 0x10 + 4 * i);
        uint32_t high = i + 1 < 6 ? read_u32_or_zero(config, 0x14 + 4 * i) : 0;
        uint32_t low_mask = tail != 0 ? read_u32_or_zero(config, tail + 4 * i) : 0;
        uint32_t high_mask =
            tail != 0 && i + 1 < 6 ? read_u32_or_zero(config, tail + 4 * i + 4) : 0;
        check_bar(low, high, low_mask, high_mask);
        // The same BAR sized as firmware leaves it: the mask is what reads
        // back with the flags in place.
        check_bar(low, high, low_mask | (low & 0xf), high_mask);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > pci::extended_config_space_size)
        size = pci::extended_config_space_size;
    std::span<const uint8_t> config(data, size);
    check_header(config);
    check_walk(config);
    check_bars(config);
    // The conventional part of an extended space walks the same way.
    if (size > pci::config_space_size)
        check_walk(config.first(pci::config_space_size));
    return 0;
}
