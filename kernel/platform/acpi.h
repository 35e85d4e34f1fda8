// The machine as ACPI describes it: the CPUs and interrupt controllers of the
// MADT, the FADT's power-off and reset registers, the MCFG's PCI
// configuration windows and the HPET. Read once at boot (acpi_init) through
// lib/acpi's parsers, which check every length and checksum: a missing or
// malformed table is logged and left out, never trusted.
#pragma once

#include "kernel/boot/boot_info.h"
#include "lib/acpi/acpi.h"
#include "lib/acpi/dmar.h"
#include <cstddef>
#include <cstdint>

namespace capos::kernel {

struct AcpiPlatform {
    static constexpr size_t max_cpus = 64;
    static constexpr size_t max_io_apics = 8;
    static constexpr size_t max_overrides = 16;
    static constexpr size_t max_pci_windows = 4;

    bool present = false;         // an RSDP and a root table were found
    const char* rsdp_source = ""; // where the RSDP came from
    uint8_t rsdp_revision = 0;

    bool madt = false;
    uint64_t local_apic_address = 0;
    uint32_t cpu_apic_ids[max_cpus] = {}; // enabled or online-capable CPUs
    bool cpu_enabled[max_cpus] = {};      // false: online capable, not present now
    size_t cpu_count = 0;
    size_t cpus_ignored = 0; // beyond max_cpus
    struct IoApic {
        uint32_t id;
        uint64_t address;
        uint32_t gsi_base;
    } io_apics[max_io_apics] = {};
    size_t io_apic_count = 0;
    struct Override {
        uint8_t source; // ISA IRQ
        uint32_t gsi;
        uint16_t flags; // MPS INTI flags
    } overrides[max_overrides] = {};
    size_t override_count = 0;

    bool fadt = false;
    acpi::Fadt fadt_fields;
    bool s5 = false; // the DSDT's \_S5 was found
    acpi::SleepType s5_type;

    acpi::McfgEntry pci_windows[max_pci_windows] = {};
    size_t pci_window_count = 0;

    bool hpet = false;
    uint64_t hpet_address = 0;

    // DMA remapping (the DMAR table, lib/acpi/dmar.h): the units and what
    // they cover.
    static constexpr size_t max_remapping_units = 8;
    bool dmar = false;
    uint8_t dma_address_width = 0; // the platform's widest DMA address, in bits
    struct RemappingUnit {
        uint64_t address;        // the register set's physical address
        uint64_t register_bytes; // its length (DRHD size)
        uint16_t segment;
        bool all_functions; // INCLUDE_PCI_ALL: every function its scopes do not give to another
        uint16_t scopes;
        acpi::DeviceScopes scope_list; // in the table, which stays mapped
    } remapping_units[max_remapping_units] = {};
    size_t remapping_unit_count = 0;
    size_t reserved_regions = 0; // RMRRs: memory devices use before the OS
};

// Finds the RSDP (where the loader said, else in the EBDA and the BIOS area),
// reads the tables it leads to and logs what the machine has. After the
// kernel's page tables are loaded.
void acpi_init(const BootInfo& boot);
const AcpiPlatform& acpi_platform();

// Powers the machine off: QEMU's debug-exit device when present (the run ends
// with success), else ACPI's S5 through the FADT's PM1 control registers,
// else the CPU stops.
[[noreturn]] void power_off();
// Resets the machine: the FADT's reset register when it has one, then the
// chipset's and the keyboard controller's resets and a triple fault.
[[noreturn]] void reset();

} // namespace capos::kernel
