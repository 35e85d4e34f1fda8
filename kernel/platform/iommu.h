// The DMA remapping units (Intel VT-d) the DMAR table names. At boot each
// unit's registers are read and checked and logged (iommu_init); then
// (iommu_enable) each usable unit gets an empty root table and translation
// on: from there a device's DMA reaches only what a domain maps for it, and
// a function no driver holds reaches nothing. A claimed function gets a
// DmaDomain of its own (docs/devices.md "Driver authority"). A unit's
// faults are logged, and end the claim of the function that caused them.
//
// Under the kernel lock.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "lib/base/result.h"
#include "lib/iommu/vtd.h"
#include "lib/pci/scan.h"
#include <cstdint>
#include <span>

namespace capos::kernel {

// After acpi_init. Logs each unit, or that device DMA is not isolated.
void iommu_init();
// After the interrupt controllers and the other CPUs: tables, the fault
// interrupt and translation on, for each usable unit.
void iommu_enable() CAPOS_REQUIRES(g_kernel_lock);

struct IommuUnit;

// What the ledger does with a fault a unit recorded for the requester
// `source` (bus << 8 | device << 3 | function) of `segment`: ends its claim
// (kernel/object/device_claim.cpp). From the fault interrupt.
void device_dma_fault(uint16_t segment, uint16_t source) CAPOS_REQUIRES(g_kernel_lock);

// One claimed function's device address space: second-level tables of a
// unit that translates the function, under a domain id of its own. Device
// addresses are handed out upward from 1 MiB and not reused while the
// domain lasts (a pool's budget bounds them).
class DmaDomain {
public:
    enum class Error : uint8_t { NoUnit, OutOfMemory, UnitFailed };
    static const char* describe(Error error);

    // A domain for `function`, with id `id` (nonzero): its context entry
    // points at empty tables, so its DMA reaches nothing yet. NoUnit when
    // no translating unit covers the function.
    static Result<DmaDomain*, Error> attach(const pci::Function& function, uint16_t id)
        CAPOS_REQUIRES(g_kernel_lock);

    // Maps `frames` at new consecutive device addresses, writable;
    // returns the first.
    Result<uint64_t, Error> map(std::span<const uint64_t> frames) CAPOS_REQUIRES(g_kernel_lock);
    // Unmaps `pages` pages from `address` and waits until the unit has
    // dropped every cached translation of the domain: then the frames may
    // be reused.
    void unmap(uint64_t address, uint32_t pages) CAPOS_REQUIRES(g_kernel_lock);
    // Clears the context entry, invalidates, frees the tables and the
    // domain.
    void detach() CAPOS_REQUIRES(g_kernel_lock);

private:
    DmaDomain(IommuUnit& unit, const pci::FunctionAddress& function, uint16_t id,
              const vtd::SecondLevelTables& tables)
        : m_unit(&unit), m_function(function), m_id(id), m_tables(tables) {}

    IommuUnit* m_unit;
    pci::FunctionAddress m_function;
    uint16_t m_id;
    vtd::SecondLevelTables m_tables;
    uint64_t m_next_address = first_address;
    static constexpr uint64_t first_address = 0x100000;
};

} // namespace capos::kernel
