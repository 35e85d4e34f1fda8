#include "kernel/platform/acpi.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"
#include "lib/base/cmdline.h"
#include <optional>

namespace capos::kernel {

namespace {

CAPOS_LARGE_DATA AcpiPlatform g_platform;

// The largest table read whole: QEMU's DSDT is about 8 KiB, large machines'
// a few hundred; anything longer is not believed.
constexpr uint64_t max_table_length = 4 * 1024 * 1024;

// `length` bytes of physical memory at `phys` through the direct map, or
// nothing when any of them is not mapped there.
std::span<const uint8_t> physical_bytes(uint64_t phys, uint64_t length) {
    if (length == 0 || phys >= max_physical_memory || length > max_physical_memory - phys ||
        !kernel_range_is_mapped(phys_to_virt(phys), length))
        return {};
    return {phys_to_ptr<const uint8_t>(phys), length};
}

// The table at `phys`, checked whole (length, checksum and, when given, its
// signature), or nothing with the reason logged.
std::span<const uint8_t> table_at(uint64_t phys, std::string_view signature) {
    auto head = acpi::peek_header(physical_bytes(phys, acpi::sdt_header_size));
    if (head.is_error()) {
        log_warn("acpi: no table header at {}: {}", Hex{phys}, acpi::to_string(head.error()));
        return {};
    }
    uint64_t length = head.value().length;
    std::span<const uint8_t> bytes =
        length <= max_table_length ? physical_bytes(phys, length) : std::span<const uint8_t>{};
    if (bytes.empty()) {
        log_warn("acpi: table {} at {} ({} bytes) is out of reach", head.value().signature_view(),
                 Hex{phys}, length);
        return {};
    }
    auto checked = acpi::check_table(bytes, signature);
    if (checked.is_error()) {
        log_warn("acpi: table {} at {}: {}", head.value().signature_view(), Hex{phys},
                 acpi::to_string(checked.error()));
        return {};
    }
    return bytes;
}

std::optional<acpi::Rsdp> rsdp_at(uint64_t phys, uint64_t length) {
    auto rsdp = acpi::parse_rsdp(physical_bytes(phys, length));
    if (rsdp.is_error())
        return std::nullopt;
    return rsdp.value();
}

// The RSDP the loader named, else one in the first KiB of the EBDA or in the
// BIOS area (0xE0000-0xFFFFF), as on a PC without a loader that says.
std::optional<acpi::Rsdp> find_rsdp(const BootInfo& boot) {
    // acpi=scan on the command line: the loader's word is ignored, as on a
    // PC whose loader does not say (what the scan is tested with).
    bool scan_only = CommandLine(boot.command_line).value("acpi") == "scan";
    if (boot.rsdp != 0 && !scan_only) {
        if (auto rsdp = rsdp_at(boot.rsdp, boot.rsdp_length)) {
            g_platform.rsdp_source = boot.rsdp_source;
            return rsdp;
        }
        // A revision 0 RSDP is 20 bytes: the 36 read for PVH may run past
        // mapped memory only in theory, but try the short form too.
        if (auto rsdp = rsdp_at(boot.rsdp, 20)) {
            g_platform.rsdp_source = boot.rsdp_source;
            return rsdp;
        }
        log_warn("acpi: the RSDP {} named at {} is not valid", boot.rsdp_source, Hex{boot.rsdp});
    }
    std::span<const uint8_t> bda = physical_bytes(0x40E, 2);
    uint64_t ebda = bda.empty() ? 0 : uint64_t(bda[0] | bda[1] << 8) << 4;
    struct Area {
        uint64_t base, length;
        const char* name;
    } areas[] = {{ebda, ebda >= 0x80000 && ebda < 0xA0000 ? 1024u : 0u, "the EBDA"},
                 {0xE0000, 0x20000, "the BIOS area"}};
    for (const Area& area : areas) {
        std::span<const uint8_t> bytes = physical_bytes(area.base, area.length);
        auto found = acpi::find_rsdp(bytes);
        if (found.is_ok()) {
            g_platform.rsdp_source = area.name;
            return rsdp_at(area.base + found.value(), bytes.size() - found.value());
        }
    }
    return std::nullopt;
}

void read_madt(std::span<const uint8_t> bytes) {
    auto parsed = acpi::Madt::parse(bytes);
    if (parsed.is_error()) {
        log_warn("acpi: MADT: {}", acpi::to_string(parsed.error()));
        return;
    }
    acpi::Madt madt = parsed.value();
    AcpiPlatform& p = g_platform;
    p.madt = true;
    p.local_apic_address = madt.local_apic_address();
    size_t nmis = 0;
    for (;;) {
        auto entry = madt.next();
        if (entry.is_error()) {
            if (entry.error() != acpi::AcpiError::NotFound)
                log_warn("acpi: MADT: {}; the entries after it are ignored",
                         acpi::to_string(entry.error()));
            break;
        }
        const acpi::MadtEntry& e = entry.value();
        switch (e.type) {
        case acpi::MadtEntry::Type::LocalApic:
        case acpi::MadtEntry::Type::LocalX2Apic:
            if ((e.flags & 3) == 0) // neither enabled nor online capable
                break;
            if (p.cpu_count == AcpiPlatform::max_cpus) {
                ++p.cpus_ignored;
                break;
            }
            p.cpu_enabled[p.cpu_count] = (e.flags & 1) != 0;
            p.cpu_apic_ids[p.cpu_count++] = e.apic_id;
            break;
        case acpi::MadtEntry::Type::IoApic:
            if (p.io_apic_count < AcpiPlatform::max_io_apics)
                p.io_apics[p.io_apic_count++] = {e.apic_id, e.address, e.gsi};
            break;
        case acpi::MadtEntry::Type::InterruptOverride:
            if (p.override_count < AcpiPlatform::max_overrides)
                p.overrides[p.override_count++] = {e.source, e.gsi, uint16_t(e.flags)};
            break;
        case acpi::MadtEntry::Type::LocalApicAddress:
            p.local_apic_address = e.address;
            break;
        case acpi::MadtEntry::Type::NmiSource:
        case acpi::MadtEntry::Type::LocalApicNmi:
        case acpi::MadtEntry::Type::LocalX2ApicNmi:
            ++nmis;
            break;
        case acpi::MadtEntry::Type::Other:
            break;
        }
    }
    log_info("acpi: MADT: CPUs {}, local APIC at {}, I/O APICs {}, interrupt overrides {}, NMI "
             "entries {}",
             p.cpu_count, Hex{p.local_apic_address}, p.io_apic_count, p.override_count, nmis);
    for (size_t i = 0; i < p.cpu_count; ++i)
        log_info("acpi: CPU {}: APIC id {}{}", i, p.cpu_apic_ids[i],
                 p.cpu_enabled[i] ? "" : " (online capable, not enabled)");
    if (p.cpus_ignored > 0)
        log_warn("acpi: {} more CPUs than the {} kept are ignored", p.cpus_ignored,
                 AcpiPlatform::max_cpus);
    for (size_t i = 0; i < p.io_apic_count; ++i)
        log_info("acpi: I/O APIC {} at {}, GSI base {}", p.io_apics[i].id,
                 Hex{p.io_apics[i].address}, p.io_apics[i].gsi_base);
}

void read_fadt(std::span<const uint8_t> bytes) {
    auto parsed = acpi::parse_fadt(bytes);
    if (parsed.is_error()) {
        log_warn("acpi: FADT: {}", acpi::to_string(parsed.error()));
        return;
    }
    AcpiPlatform& p = g_platform;
    p.fadt = true;
    p.fadt_fields = parsed.value();
    const acpi::Fadt& f = p.fadt_fields;
    if (f.dsdt != 0) {
        std::span<const uint8_t> dsdt = table_at(f.dsdt, "DSDT");
        if (!dsdt.empty()) {
            auto s5 = acpi::find_s5(dsdt.subspan(acpi::sdt_header_size));
            if (s5.is_ok()) {
                p.s5 = true;
                p.s5_type = s5.value();
            }
        }
    }
    log_info("acpi: FADT revision {}: PM1a control at {}, \\_S5 {}, reset register {}", f.revision,
             Hex{f.pm1a_control}, p.s5 ? "found" : "not found",
             f.reset_supported ? "present" : "absent");
}

void read_mcfg(std::span<const uint8_t> bytes) {
    auto parsed = acpi::Mcfg::parse(bytes);
    if (parsed.is_error()) {
        log_warn("acpi: MCFG: {}", acpi::to_string(parsed.error()));
        return;
    }
    AcpiPlatform& p = g_platform;
    for (size_t i = 0; i < parsed.value().count(); ++i) {
        acpi::McfgEntry e = parsed.value().entry(i);
        log_info("acpi: MCFG: segment {}, buses {}-{} at {}", e.segment, e.start_bus, e.end_bus,
                 Hex{e.base});
        if (p.pci_window_count < AcpiPlatform::max_pci_windows)
            p.pci_windows[p.pci_window_count++] = e;
    }
}

void read_hpet(std::span<const uint8_t> bytes) {
    auto parsed = acpi::parse_hpet(bytes);
    if (parsed.is_error()) {
        log_warn("acpi: HPET: {}", acpi::to_string(parsed.error()));
        return;
    }
    g_platform.hpet = true;
    g_platform.hpet_address = parsed.value().base.address;
    log_info("acpi: HPET {} at {}", parsed.value().number, Hex{g_platform.hpet_address});
}

void read_dmar(std::span<const uint8_t> bytes) {
    auto parsed = acpi::Dmar::parse(bytes);
    if (parsed.is_error()) {
        log_warn("acpi: DMAR: {}: DMA remapping not used", acpi::to_string(parsed.error()));
        return;
    }
    AcpiPlatform& p = g_platform;
    acpi::Dmar& dmar = parsed.value();
    p.dmar = true;
    p.dma_address_width = dmar.host_address_width();
    size_t ignored = 0;
    for (auto entry = dmar.next(); entry.is_ok(); entry = dmar.next()) {
        const acpi::DmarEntry& e = entry.value();
        if (e.type == acpi::DmarEntry::Type::Rmrr) {
            ++p.reserved_regions;
            continue;
        }
        if (e.type != acpi::DmarEntry::Type::Drhd)
            continue;
        if (p.remapping_unit_count == AcpiPlatform::max_remapping_units) {
            ++ignored;
            continue;
        }
        uint16_t scopes = 0;
        acpi::DeviceScopes walk = e.scopes;
        while (walk.next().is_ok())
            ++scopes;
        p.remapping_units[p.remapping_unit_count++] = {
            .address = e.address,
            .register_bytes = e.register_bytes(),
            .segment = e.segment,
            .all_functions = (e.flags & acpi::drhd_include_pci_all) != 0,
            .scopes = scopes,
            .scope_list = e.scopes,
        };
    }
    log_info("acpi: DMAR: {}-bit DMA addresses, interrupt remapping {}, {} remapping units, {} "
             "reserved regions",
             p.dma_address_width,
             (dmar.flags() & acpi::dmar_interrupt_remapping) ? "offered" : "not offered",
             p.remapping_unit_count, p.reserved_regions);
    if (ignored != 0)
        log_warn("acpi: DMAR: {} remapping units beyond the first {} ignored", ignored,
                 AcpiPlatform::max_remapping_units);
}

} // namespace

void acpi_init(const BootInfo& boot) {
    AcpiPlatform& p = g_platform;
    if (CommandLine(boot.command_line).value("acpi") == "off") {
        log_warn("acpi: off (acpi=off): no tables read (one CPU, legacy power-off and reset)");
        return;
    }
    std::optional<acpi::Rsdp> rsdp = find_rsdp(boot);
    if (!rsdp) {
        log_warn("acpi: no RSDP: no ACPI tables (one CPU, legacy power-off and reset)");
        return;
    }
    p.rsdp_revision = rsdp->revision;
    bool xsdt = rsdp->revision >= 2 && rsdp->xsdt_address != 0;
    std::span<const uint8_t> root =
        xsdt ? table_at(rsdp->xsdt_address, "XSDT") : table_at(rsdp->rsdt_address, "RSDT");
    auto parsed = acpi::RootTable::parse(root);
    if (root.empty() || parsed.is_error()) {
        log_warn("acpi: RSDP revision {} from {}: no usable root table", rsdp->revision,
                 p.rsdp_source);
        return;
    }
    p.present = true;
    const acpi::RootTable& table = parsed.value();
    // The signatures, for the log line: "FACP APIC HPET MCFG WAET".
    char names[5 * 16] = {};
    size_t used = 0;
    for (size_t i = 0; i < table.count() && used + 5 <= sizeof names; ++i) {
        auto head = acpi::peek_header(physical_bytes(table.entry(i), acpi::sdt_header_size));
        __builtin_memcpy(names + used, head.is_ok() ? head.value().signature : "????", 4);
        names[used + 4] = ' ';
        used += 5;
    }
    log_info("acpi: RSDP revision {} from {}, {} with {} tables: {}", rsdp->revision, p.rsdp_source,
             xsdt ? "XSDT" : "RSDT", table.count(),
             std::string_view(names, used > 0 ? used - 1 : 0));
    for (size_t i = 0; i < table.count(); ++i) {
        auto head = acpi::peek_header(physical_bytes(table.entry(i), acpi::sdt_header_size));
        if (head.is_error())
            continue;
        std::string_view signature = head.value().signature_view();
        if (signature == "APIC" && !p.madt)
            read_madt(table_at(table.entry(i), "APIC"));
        else if (signature == "FACP" && !p.fadt)
            read_fadt(table_at(table.entry(i), "FACP"));
        else if (signature == "MCFG" && p.pci_window_count == 0)
            read_mcfg(table_at(table.entry(i), "MCFG"));
        else if (signature == "HPET" && !p.hpet)
            read_hpet(table_at(table.entry(i), "HPET"));
        else if (signature == "DMAR" && !p.dmar)
            read_dmar(table_at(table.entry(i), "DMAR"));
    }
    if (!p.madt)
        log_warn("acpi: no MADT: one CPU, interrupts through the legacy PIC");
    if (p.pci_window_count == 0)
        log_info("acpi: no MCFG: PCI configuration through the legacy ports");
}

namespace {

// About two seconds (by a guessed clock rate before the clock is
// calibrated), after which a power-off or reset that was asked for has not
// happened.
constexpr uint16_t qemu_pm1a_control = 0x604;
constexpr uint16_t qemu_s5_type = 0;

void wait_a_moment() {
    uint64_t per_us = clock::g_cycles_per_microsecond != 0 ? clock::g_cycles_per_microsecond : 1000;
    uint64_t start = arch::read_cycle_counter();
    while (arch::read_cycle_counter() - start < 2'000'000 * per_us)
        asm volatile("pause");
}

} // namespace

const AcpiPlatform& acpi_platform() {
    return g_platform;
}

void power_off() {
    arch::debug_exit(abi::ExitCode::Success);
    const AcpiPlatform& p = g_platform;
    const acpi::Fadt& f = p.fadt_fields;
    if (p.fadt && p.s5 && f.pm1a_control != 0 && f.pm1a_control <= 0xFFFF &&
        f.pm1a_control_space == acpi::address_space_io) {
        log_info("acpi: entering S5 (PM1a control {} <- sleep type {})", Hex{f.pm1a_control},
                 p.s5_type.a);
        arch::port_write16(
            uint16_t(f.pm1a_control),
            uint16_t(p.s5_type.a << acpi::pm1_sleep_type_shift | acpi::pm1_sleep_enable));
        if (f.pm1b_control != 0 && f.pm1b_control <= 0xFFFF &&
            f.pm1b_control_space == acpi::address_space_io)
            arch::port_write16(
                uint16_t(f.pm1b_control),
                uint16_t(p.s5_type.b << acpi::pm1_sleep_type_shift | acpi::pm1_sleep_enable));
        // The chipset may take a moment to act (QEMU acts at its main
        // loop's next turn): only after two seconds is it taken not to.
        wait_a_moment();
        log_warn("acpi: S5 did not power off");
    }
    // The legacy fallback, on QEMU only (a port write elsewhere could do
    // anything): its PM1a control register where SeaBIOS and OVMF put it,
    // and the \_S5 sleep type of QEMU's own tables (0).
    if (arch::machine_is_qemu()) {
        log_info("system: powering off through QEMU's PM1a control (0x604 <- S5) without ACPI");
        arch::port_write16(qemu_pm1a_control, uint16_t(qemu_s5_type << acpi::pm1_sleep_type_shift |
                                                       acpi::pm1_sleep_enable));
        wait_a_moment();
    }
    log_error("system: the machine did not power off; stopping the CPU");
    arch::halt_forever();
}

void reset() {
    const AcpiPlatform& p = g_platform;
    const acpi::Fadt& f = p.fadt_fields;
    if (p.fadt && f.reset_supported && f.reset_register.space == acpi::address_space_io &&
        f.reset_register.address <= 0xFFFF) {
        log_info("acpi: resetting through the reset register (I/O {} <- {})",
                 Hex{f.reset_register.address}, Hex{f.reset_value});
        arch::port_write8(uint16_t(f.reset_register.address), f.reset_value);
        wait_a_moment();
    }
    arch::reset_machine();
}

} // namespace capos::kernel
