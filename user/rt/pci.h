// A PCI function as the kernel describes it (DeviceInventory, Device.info:
// schema PciFunction), in lib/pci's form, which its formatters and checks
// take; values outside their range are left out.
#pragma once

#include "lib/pci/pci.h"
#include "schema/capos.capnp.capos.h"

namespace capos::rt {

inline pci::Function pci_function_of(schema::PciFunction::Reader in) {
    using schema::PciFunction;
    pci::Function out;
    out.address = {in.segment(), in.bus(), in.device(), in.function()};
    pci::FunctionHeader& header = out.header;
    header.vendor = in.vendor_id();
    header.device = in.device_id();
    header.revision = in.revision();
    header.class_code = in.class_code();
    header.subclass = in.subclass();
    header.prog_if = in.prog_if();
    header.subsystem_vendor = in.subsystem_vendor_id();
    header.subsystem_device = in.subsystem_id();
    header.header_type = in.header_type();
    header.multi_function = in.multi_function();
    header.interrupt_pin = in.interrupt_pin();
    header.interrupt_line = in.interrupt_line();
    header.secondary_bus = in.secondary_bus();
    header.subordinate_bus = in.subordinate_bus();
    for (auto bar : in.bars()) {
        if (bar.index() >= pci::max_bars)
            continue;
        pci::Bar& entry = out.bars[bar.index()];
        switch (bar.kind()) {
        case PciFunction::BarKind::Memory32:
            entry.kind = pci::Bar::Kind::Memory32;
            break;
        case PciFunction::BarKind::Memory64:
            entry.kind = pci::Bar::Kind::Memory64;
            break;
        case PciFunction::BarKind::Io:
            entry.kind = pci::Bar::Kind::Io;
            break;
        default:
            continue;
        }
        entry.prefetchable = bar.prefetchable();
        entry.address = bar.address();
        entry.size = bar.size();
    }
    for (auto capability : in.capabilities()) {
        if (out.capability_count == pci::max_recorded_capabilities)
            break;
        out.capabilities[out.capability_count++] = {capability.id(), capability.offset()};
    }
    out.capability_total = in.capability_count();
    switch (in.capability_list_end()) {
    case PciFunction::CapabilityListEnd::BadPointer:
        out.capability_end = pci::CapabilityListEnd::BadPointer;
        break;
    case PciFunction::CapabilityListEnd::Loop:
        out.capability_end = pci::CapabilityListEnd::Loop;
        break;
    default:
        break;
    }
    if (in.has_msi()) {
        auto msi = in.msi();
        out.has_msi = true;
        out.msi.offset = msi.offset();
        out.msi.enabled = msi.enabled();
        out.msi.address_64 = msi.address64();
        out.msi.per_vector_masking = msi.per_vector_masking();
        out.msi.vectors_capable = msi.vectors_capable();
        out.msi.vectors_enabled = msi.vectors_enabled();
    }
    if (in.has_msix()) {
        auto msix = in.msix();
        out.has_msix = true;
        out.msix.offset = msix.offset();
        out.msix.enabled = msix.enabled();
        out.msix.function_masked = msix.function_masked();
        out.msix.table_size = msix.table_size();
        out.msix.table_bar = msix.table_bar();
        out.msix.table_offset = msix.table_offset();
        out.msix.pba_bar = msix.pba_bar();
        out.msix.pba_offset = msix.pba_offset();
    }
    return out;
}

} // namespace capos::rt
