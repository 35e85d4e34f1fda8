#include "kernel/platform/iommu.h"
#include "kernel/lib/log.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/platform/acpi.h"
#include "lib/iommu/vtd.h"

namespace capos::kernel {

namespace {

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

// Maps and reads one unit's registers, logs what it offers; whether it is
// usable. (Its tables come with the driver authority.)
bool probe(size_t index, const AcpiPlatform::RemappingUnit& unit) {
    uint64_t bytes = unit.register_bytes < max_mapped_register_bytes ? unit.register_bytes
                                                                     : max_mapped_register_bytes;
    auto mapped = map_mmio(unit.address, bytes);
    if (mapped.is_error()) {
        log_warn("iommu: unit {} at {}: its registers cannot be mapped: not used", index,
                 Hex{unit.address});
        return false;
    }
    uint64_t registers = mapped.value();
    vtd::Version version = vtd::decode_version(read32(registers, vtd::register_version));
    auto capabilities =
        vtd::decode_capabilities(read64(registers, vtd::register_capability), bytes);
    auto extended = vtd::decode_extended_capabilities(
        read64(registers, vtd::register_extended_capability), bytes);
    if (capabilities.is_error() || extended.is_error()) {
        log_warn("iommu: unit {} at {}: {}: not used", index, Hex{unit.address},
                 vtd::to_string(capabilities.is_error() ? capabilities.error() : extended.error()));
        return false;
    }
    const vtd::Capabilities& c = capabilities.value();
    uint8_t levels = vtd::levels_for(c, c.guest_address_width);
    if (levels == 0)
        levels = vtd::levels_for(c, 39); // narrower than it can say: the kernel's choice
    if (levels == 0) {
        log_warn("iommu: unit {} at {}: no table depth for its addresses: not used", index,
                 Hex{unit.address});
        return false;
    }
    uint32_t status = read32(registers, vtd::register_global_status);
    log_info("iommu: unit {} at {} ({}, {} device scopes): VT-d {}.{}, {} domains, {}-bit device "
             "addresses, {}-level tables, {} invalidation{}, translation {}",
             index, Hex{unit.address},
             unit.all_functions ? "every PCI function not scoped elsewhere" : "scoped functions",
             unit.scopes, version.major, version.minor, c.domains, c.guest_address_width, levels,
             extended.value().queued_invalidation ? "queued" : "register",
             c.caching_mode ? ", caching mode" : "",
             (status & vtd::status_translation_enabled) ? "on (left by firmware)" : "off");
    return true;
}

} // namespace

void iommu_init() {
    const AcpiPlatform& p = acpi_platform();
    size_t usable = 0;
    for (size_t i = 0; i < p.remapping_unit_count; ++i)
        usable += probe(i, p.remapping_units[i]);
    if (usable == 0)
        log_info("iommu: no DMA remapping unit: device DMA is not isolated");
}

} // namespace capos::kernel
