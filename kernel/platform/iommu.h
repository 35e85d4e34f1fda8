// The DMA remapping units (Intel VT-d) the DMAR table names: found at boot,
// their registers read and checked, logged. Nothing is translated yet: a
// device's DMA reaches all of memory until a driver's domain is set up
// (docs/devices.md "Driver authority").
#pragma once

namespace capos::kernel {

// After acpi_init. Logs each unit, or that device DMA is not isolated.
void iommu_init();

} // namespace capos::kernel
