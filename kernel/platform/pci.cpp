// PCI enumeration at boot: lib/pci's scan over the configuration access this
// machine has. The scan itself (which buses, which functions, BAR sizing, the
// capability walk, what is trusted) is lib/pci/scan.h; this file supplies the
// two ways of reaching configuration space and logs what was found.
//
// ECAM (PCI Express Base 4.0, 7.2.2): each MCFG window gives a segment's
// buses 1 MiB each from its base (4 KiB per function). A bus's MiB is
// mapped (uncached) when the scan first reads it and stays mapped; buses the
// scan never reaches take no mapping. A window that is misaligned or runs
// past the physical address space is not used.
//
// Legacy ports (PCI Local Bus 3.0, 3.2.2.3.2, mechanism #1): the function and
// register written to 0xCF8, the register then read or written at 0xCFC; only
// segment 0. Two port accesses per register: safe only while nothing else
// uses the ports: at boot, and afterwards under the kernel lock.
#include "kernel/platform/pci.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/platform/acpi.h"
#include "lib/pci/describe.h"
#include "lib/pci/select.h"

namespace capos::kernel {

namespace {

using pci::FunctionAddress;

constinit PciInventory g_inventory;
CAPOS_LARGE_BSS constinit pci::Function g_functions[PciInventory::max_functions];

// ECAM: 32 devices of 8 functions of 4 KiB per bus.
constexpr unsigned ecam_bus_shift = 20;
constexpr unsigned ecam_device_shift = 15;
constexpr unsigned ecam_function_shift = 12;
constexpr uint64_t ecam_bus_bytes = uint64_t(1) << ecam_bus_shift;
// x86_64's largest physical address space (52 bits).
constexpr uint64_t physical_limit = uint64_t(1) << 52;

// Each window's buses' kernel addresses once mapped (0: not yet), and the
// buses whose mapping failed (not tried again).
struct EcamBuses {
    uint64_t address[256] = {};
    uint64_t failed[256 / 64] = {};
};
CAPOS_LARGE_BSS constinit EcamBuses g_ecam_buses[AcpiPlatform::max_pci_windows];

bool usable(const acpi::McfgEntry& window) {
    return window.start_bus <= window.end_bus && window.base % ecam_bus_bytes == 0 &&
           window.base < physical_limit &&
           (physical_limit - window.base) >> ecam_bus_shift > window.end_bus;
}

class EcamAccess final : public pci::ConfigAccess {
public:
    // `window` must be usable(); at most AcpiPlatform::max_pci_windows.
    void add(const acpi::McfgEntry& window) { m_windows[m_count++] = window; }

    uint32_t read32(FunctionAddress at, uint16_t offset) override {
        volatile uint32_t* reg = register_at(at, offset);
        return reg ? *reg : 0xffffffffu;
    }
    void write32(FunctionAddress at, uint16_t offset, uint32_t value) override {
        if (volatile uint32_t* reg = register_at(at, offset))
            *reg = value;
    }

private:
    volatile uint32_t* register_at(FunctionAddress at, uint16_t offset) {
        for (size_t i = 0; i < m_count; ++i) {
            const acpi::McfgEntry& window = m_windows[i];
            if (window.segment != at.segment || at.bus < window.start_bus ||
                at.bus > window.end_bus)
                continue;
            uint64_t bus = bus_address(i, at.bus);
            if (bus == 0)
                return nullptr;
            uint64_t function = uint64_t(at.device) << ecam_device_shift |
                                uint64_t(at.function) << ecam_function_shift;
            return reinterpret_cast<volatile uint32_t*>(bus + function + offset);
        }
        return nullptr;
    }

    // The kernel address of `bus` of window `index`, mapped now if need be;
    // 0 when it cannot be mapped (its functions then read as absent).
    uint64_t bus_address(size_t index, uint8_t bus) {
        EcamBuses& buses = g_ecam_buses[index];
        if (buses.address[bus] != 0)
            return buses.address[bus];
        uint64_t failed_bit = uint64_t(1) << (bus % 64);
        if ((buses.failed[bus / 64] & failed_bit) != 0)
            return 0;
        uint64_t physical = m_windows[index].base + (uint64_t(bus) << ecam_bus_shift);
        auto mapped = map_mmio(physical, ecam_bus_bytes);
        if (mapped.is_error()) {
            log_warn("pci: cannot map bus {} of segment {} at {}: {}", bus,
                     m_windows[index].segment, Hex{physical}, to_string(mapped.error()));
            buses.failed[bus / 64] |= failed_bit;
            return 0;
        }
        buses.address[bus] = mapped.value();
        return mapped.value();
    }

    acpi::McfgEntry m_windows[AcpiPlatform::max_pci_windows];
    size_t m_count = 0;
};

constexpr uint16_t legacy_address_port = 0xcf8;
constexpr uint16_t legacy_data_port = 0xcfc;
constexpr uint32_t legacy_enable = 1u << 31;

class LegacyPortAccess final : public pci::ConfigAccess {
public:
    uint32_t read32(FunctionAddress at, uint16_t offset) override {
        select(at, offset);
        return arch::port_read32(legacy_data_port);
    }
    void write32(FunctionAddress at, uint16_t offset, uint32_t value) override {
        select(at, offset);
        arch::port_write32(legacy_data_port, value);
    }

    // Whether the address register is there: it reads back what was written
    // (an absent port floats to all ones).
    static bool present() {
        uint32_t saved = arch::port_read32(legacy_address_port);
        arch::port_write32(legacy_address_port, legacy_enable);
        bool answers = arch::port_read32(legacy_address_port) == legacy_enable;
        arch::port_write32(legacy_address_port, saved);
        return answers;
    }

private:
    static void select(FunctionAddress at, uint16_t offset) {
        arch::port_write32(legacy_address_port, legacy_enable | uint32_t(at.bus) << 16 |
                                                    uint32_t(at.device) << 11 |
                                                    uint32_t(at.function) << 8 | offset);
    }
};

// The ECAM roots, one per usable window, in (segment, first bus) order so
// that the scan fills the table in address order; `access` gets the windows
// in the same order (where windows overlap, the scan refuses the later root,
// and the access reaches the buses through the earlier window).
size_t ecam_roots(EcamAccess& access, pci::RootBuses (&roots)[AcpiPlatform::max_pci_windows]) {
    const AcpiPlatform& platform = acpi_platform();
    acpi::McfgEntry windows[AcpiPlatform::max_pci_windows];
    size_t count = 0;
    for (size_t i = 0; i < platform.pci_window_count; ++i) {
        const acpi::McfgEntry& window = platform.pci_windows[i];
        if (!usable(window)) {
            log_warn("pci: MCFG window of segment {}, buses {}-{} at {} not used (misaligned "
                     "or out of range)",
                     window.segment, window.start_bus, window.end_bus, Hex{window.base});
            continue;
        }
        auto before = [&](const acpi::McfgEntry& other) {
            return other.segment > window.segment ||
                   (other.segment == window.segment && other.start_bus > window.start_bus);
        };
        size_t at = count++;
        for (; at > 0 && before(windows[at - 1]); --at)
            windows[at] = windows[at - 1];
        windows[at] = window;
    }
    for (size_t i = 0; i < count; ++i) {
        access.add(windows[i]);
        roots[i] = {windows[i].segment, windows[i].start_bus, windows[i].end_bus};
    }
    return count;
}

// The access pci_init used, kept for drivers' use after boot (MSI
// programming); the legacy ports' two accesses per register are safe under
// the kernel lock.
EcamAccess g_ecam;
LegacyPortAccess g_legacy;
pci::ConfigAccess* g_access = nullptr;

void log_functions(std::span<const pci::Function> functions) {
    for (const pci::Function& function : functions) {
        char text[96];
        std::string_view line(text, pci::format_function(function.address, function.header, text));
        log_info("pci: {}", line);
        std::string_view where = line.substr(0, line.find(' '));
        if (function.capability_end != pci::CapabilityListEnd::Complete)
            log_warn("pci: {}: capability list {} after {} entries", where,
                     pci::to_string(function.capability_end), function.capability_total);
        if (function.bad_msi)
            log_warn("pci: {}: malformed MSI capability (not decoded)", where);
        if (function.bad_msix)
            log_warn("pci: {}: malformed MSI-X capability (not decoded)", where);
    }
}

} // namespace

const char* to_string(PciAccess access) {
    switch (access) {
    case PciAccess::None:
        return "none";
    case PciAccess::Ecam:
        return "ECAM";
    case PciAccess::LegacyPorts:
        return "legacy ports";
    }
    return "unknown";
}

void pci_init() {
    pci::ScanSummary summary;
    pci::RootBuses roots[AcpiPlatform::max_pci_windows];
    if (size_t count = ecam_roots(g_ecam, roots); count > 0) {
        summary = pci::scan(g_ecam, {roots, count}, g_functions);
        g_inventory.access = PciAccess::Ecam;
        g_access = &g_ecam;
    } else if (LegacyPortAccess::present()) {
        const pci::RootBuses segment_zero[] = {{0, 0, 255}};
        summary = pci::scan(g_legacy, segment_zero, g_functions);
        g_inventory.access = PciAccess::LegacyPorts;
        g_access = &g_legacy;
    } else {
        log_warn("pci: no configuration access (no MCFG window, no legacy ports): no devices");
        return;
    }
    g_inventory.functions = {g_functions, summary.recorded};
    g_inventory.dropped = summary.found - summary.recorded;

    log_functions(g_inventory.functions);
    // (Before the IOMMU's translation goes on: nothing reaches memory it
    // should not meanwhile, and no fault is left for a later claim.)
    if (uint32_t stopped = pci::stop_bus_masters(*g_access, {g_functions, summary.recorded}))
        log_info("pci: bus mastering turned off in {} functions firmware left it on in", stopped);
    if (g_inventory.dropped > 0)
        log_warn("pci: {} more functions than the table's {}: not recorded", g_inventory.dropped,
                 PciInventory::max_functions);
    if (summary.bridges_not_followed > 0)
        log_warn("pci: {} bridges not followed (secondary bus not above their own, outside "
                 "the window or seen before)",
                 summary.bridges_not_followed);
    if (summary.roots_refused > 0)
        log_warn("pci: {} MCFG windows overlap another: not scanned", summary.roots_refused);
    log_info("pci: {} functions ({})", summary.recorded, to_string(g_inventory.access));
}

const PciInventory& pci_inventory() {
    return g_inventory;
}

pci::ConfigAccess* pci_config() {
    return g_access;
}

} // namespace capos::kernel
