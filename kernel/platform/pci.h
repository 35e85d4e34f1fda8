// The machine's PCI functions, found once at boot (pci_init) by lib/pci's
// scan and kept in a fixed table that DeviceInventory reads. Configuration
// space is reached through the ECAM windows ACPI's MCFG lists, else through
// the legacy 0xCF8/0xCFC ports (docs/devices.md).
#pragma once

#include "lib/pci/scan.h"
#include <cstddef>
#include <span>

namespace capos::kernel {

enum class PciAccess : uint8_t {
    None,        // neither an MCFG nor the legacy ports: nothing scanned
    Ecam,        // the MCFG's memory-mapped windows
    LegacyPorts, // configuration mechanism #1 (0xCF8/0xCFC), segment 0 only
};
const char* to_string(PciAccess access);

struct PciInventory {
    static constexpr size_t max_functions = 256;

    PciAccess access = PciAccess::None;
    // In address order (segment, bus, device, function); at most
    // max_functions (the rest are counted in `dropped`).
    std::span<const pci::Function> functions;
    size_t dropped = 0;
};

// Scans every bus reachable from the roots, sizes BARs and reads the
// capabilities of each function, and logs a line for each. Once, after
// acpi_init (for the MCFG) and map_mmio's page tables, with interrupts off
// and nothing yet using a device: sizing turns a function's decoding off for
// a moment.
void pci_init();

// What pci_init found; empty before it ran. Never changes afterwards.
const PciInventory& pci_inventory();

// Configuration space after boot, through the access pci_init used (null
// when there was none): for programming a function's interrupts. Under the
// kernel lock.
pci::ConfigAccess* pci_config();

} // namespace capos::kernel
