#include "kernel/platform/iommu.h"
#include "kernel/lib/log.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/platform/acpi.h"
#include "lib/iommu/vtd.h"

namespace capos::kernel {

namespace {

// What the kernel keeps of each unit.
struct RemappingUnitState {
    uint64_t registers = 0; // kernel address of the mapped register set
    uint64_t register_bytes = 0;
    uint32_t domains = 0;
    uint8_t address_width = 0; // the widest device address it translates
    uint8_t levels = 0;        // the table depth the kernel will use
    bool usable = false;
};

RemappingUnitState g_units[AcpiPlatform::max_remapping_units];
size_t g_unit_count = 0;

// A register set is mapped up to this much: the registers the kernel uses
// lie in the first pages, and a larger size in the table is not trusted
// (offsets past what is mapped are refused by lib/iommu/vtd).
constexpr uint64_t max_mapped_register_bytes = 4 * 4096;

uint32_t read32(uint64_t base, uint32_t offset) {
    return *reinterpret_cast<volatile uint32_t*>(base + offset);
}
uint64_t read64(uint64_t base, uint32_t offset) {
    return *reinterpret_cast<volatile uint64_t*>(base + offset);
}

void probe(size_t index, const AcpiPlatform::RemappingUnit& unit) {
    RemappingUnitState& state = g_units[index];
    uint64_t bytes = unit.register_bytes < max_mapped_register_bytes ? unit.register_bytes
                                                                     : max_mapped_register_bytes;
    auto mapped = map_mmio(unit.address, bytes);
    if (mapped.is_error()) {
        log_warn("iommu: unit {} at {}: its registers cannot be mapped: not used", index,
                 Hex{unit.address});
        return;
    }
    state.registers = mapped.value();
    state.register_bytes = bytes;
    vtd::Version version = vtd::decode_version(read32(state.registers, vtd::register_version));
    auto capabilities =
        vtd::decode_capabilities(read64(state.registers, vtd::register_capability), bytes);
    auto extended = vtd::decode_extended_capabilities(
        read64(state.registers, vtd::register_extended_capability), bytes);
    if (capabilities.is_error() || extended.is_error()) {
        log_warn("iommu: unit {} at {}: {}: not used", index, Hex{unit.address},
                 vtd::to_string(capabilities.is_error() ? capabilities.error() : extended.error()));
        return;
    }
    const vtd::Capabilities& c = capabilities.value();
    state.domains = c.domains;
    state.address_width = c.guest_address_width;
    state.levels = vtd::levels_for(c, c.guest_address_width);
    if (state.levels == 0)
        state.levels = vtd::levels_for(c, 39); // narrower than it can say: the kernel's choice
    if (state.levels == 0) {
        log_warn("iommu: unit {} at {}: no table depth for its addresses: not used", index,
                 Hex{unit.address});
        return;
    }
    state.usable = true;
    uint32_t status = read32(state.registers, vtd::register_global_status);
    log_info("iommu: unit {} at {} ({}, {} device scopes): VT-d {}.{}, {} domains, {}-bit device "
             "addresses, {}-level tables, {} invalidation{}, translation {}",
             index, Hex{unit.address},
             unit.all_functions ? "every PCI function not scoped elsewhere" : "scoped functions",
             unit.scopes, version.major, version.minor, c.domains, c.guest_address_width,
             state.levels, extended.value().queued_invalidation ? "queued" : "register",
             c.caching_mode ? ", caching mode" : "",
             (status & vtd::status_translation_enabled) ? "on (left by firmware)" : "off");
}

} // namespace

void iommu_init() {
    const AcpiPlatform& p = acpi_platform();
    for (size_t i = 0; i < p.remapping_unit_count; ++i)
        probe(i, p.remapping_units[i]);
    g_unit_count = p.remapping_unit_count;
    size_t usable = 0;
    for (size_t i = 0; i < g_unit_count; ++i)
        usable += g_units[i].usable;
    if (usable == 0)
        log_info("iommu: no DMA remapping unit: device DMA is not isolated");
}

} // namespace capos::kernel
