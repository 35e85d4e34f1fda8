// DeviceInventory: the PCI functions pci_init found at boot, read only. It
// reads the fixed table kernel/platform/pci.h keeps (never configuration
// space: the table does not change after boot) and grants nothing.
//
// A list returns as many functions as the caller's result buffer holds, at
// most maxList: each function's words are counted first (its struct, and its
// lists and MSI structs when it has them), then that many built. A buffer
// that holds not even the first gets ResultTooSmall (the one function is
// built and does not fit), so a caller never sees a list that makes no
// progress and no error.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/platform/pci.h"

namespace capos::kernel {

namespace {

using schema::DeviceInventory;
using schema::PciFunction;

template <typename T>
constexpr size_t struct_words() {
    return T::data_words + T::pointer_count;
}

// The words a function takes in the results: its struct in the list, and
// what its pointers lead to (a list of structs has a tag word; an empty list
// and an absent MSI stay null pointers).
size_t function_words(const pci::Function& function) {
    size_t words = struct_words<PciFunction>();
    size_t bars = 0;
    for (const pci::Bar& bar : function.bars)
        bars += bar.kind != pci::Bar::Kind::Unused;
    if (bars > 0)
        words += 1 + bars * struct_words<PciFunction::Bar>();
    if (function.capability_count > 0)
        words += 1 + function.capability_count * struct_words<PciFunction::CapabilityEntry>();
    if (function.has_msi)
        words += struct_words<PciFunction::Msi>();
    if (function.has_msix)
        words += struct_words<PciFunction::Msix>();
    return words;
}

PciFunction::BarKind bar_kind(pci::Bar::Kind kind) {
    switch (kind) {
    case pci::Bar::Kind::Memory64:
        return PciFunction::BarKind::Memory64;
    case pci::Bar::Kind::Io:
        return PciFunction::BarKind::Io;
    case pci::Bar::Kind::Memory32:
    case pci::Bar::Kind::Unused: // (never listed)
        break;
    }
    return PciFunction::BarKind::Memory32;
}

PciFunction::CapabilityListEnd list_end(pci::CapabilityListEnd end) {
    switch (end) {
    case pci::CapabilityListEnd::BadPointer:
        return PciFunction::CapabilityListEnd::BadPointer;
    case pci::CapabilityListEnd::Loop:
        return PciFunction::CapabilityListEnd::Loop;
    case pci::CapabilityListEnd::Complete:
        break;
    }
    return PciFunction::CapabilityListEnd::Complete;
}

} // namespace

void build_pci_function(const pci::Function& function, PciFunction::Builder out) {
    const pci::FunctionHeader& header = function.header;
    out.set_segment(function.address.segment);
    out.set_bus(function.address.bus);
    out.set_device(function.address.device);
    out.set_function(function.address.function);
    out.set_vendor_id(header.vendor);
    out.set_device_id(header.device);
    out.set_revision(header.revision);
    out.set_class_code(header.class_code);
    out.set_subclass(header.subclass);
    out.set_prog_if(header.prog_if);
    out.set_subsystem_vendor_id(header.subsystem_vendor);
    out.set_subsystem_id(header.subsystem_device);
    out.set_header_type(header.header_type);
    out.set_multi_function(header.multi_function);
    out.set_interrupt_pin(header.interrupt_pin);
    out.set_interrupt_line(header.interrupt_line);
    out.set_secondary_bus(header.secondary_bus);
    out.set_subordinate_bus(header.subordinate_bus);

    uint32_t bar_count = 0;
    for (const pci::Bar& bar : function.bars)
        bar_count += bar.kind != pci::Bar::Kind::Unused;
    if (bar_count > 0) {
        auto bars = out.init_bars(bar_count);
        uint32_t next = 0;
        for (size_t index = 0; index < pci::max_bars && next < bars.size(); ++index) {
            const pci::Bar& bar = function.bars[index];
            if (bar.kind == pci::Bar::Kind::Unused)
                continue;
            PciFunction::Bar::Builder entry = bars[next++];
            entry.set_index(uint8_t(index));
            entry.set_kind(bar_kind(bar.kind));
            entry.set_prefetchable(bar.prefetchable);
            entry.set_address(bar.address);
            entry.set_size(bar.size);
        }
    }

    if (function.capability_count > 0) {
        auto capabilities = out.init_capabilities(function.capability_count);
        for (uint32_t i = 0; i < capabilities.size(); ++i) {
            PciFunction::CapabilityEntry::Builder entry = capabilities[i];
            entry.set_id(function.capabilities[i].id);
            entry.set_offset(function.capabilities[i].offset);
        }
    }
    out.set_capability_count(function.capability_total);
    out.set_capability_list_end(list_end(function.capability_end));

    if (function.has_msi) {
        PciFunction::Msi::Builder msi = out.init_msi();
        msi.set_offset(function.msi.offset);
        msi.set_enabled(function.msi.enabled);
        msi.set_address64(function.msi.address_64);
        msi.set_per_vector_masking(function.msi.per_vector_masking);
        msi.set_vectors_capable(function.msi.vectors_capable);
        msi.set_vectors_enabled(function.msi.vectors_enabled);
    }
    if (function.has_msix) {
        PciFunction::Msix::Builder msix = out.init_msix();
        msix.set_offset(function.msix.offset);
        msix.set_enabled(function.msix.enabled);
        msix.set_function_masked(function.msix.function_masked);
        msix.set_table_size(function.msix.table_size);
        msix.set_table_bar(function.msix.table_bar);
        msix.set_table_offset(function.msix.table_offset);
        msix.set_pba_bar(function.msix.pba_bar);
        msix.set_pba_offset(function.msix.pba_offset);
    }
}

namespace {

class DeviceInventoryService final
    : public KernelServiceOf<DeviceInventory, DeviceInventoryService> {
public:
    Result<void, gen::Exception> list(DeviceInventory::ListParams::Reader params,
                                      DeviceInventory::ListResults::Builder results) {
        std::span<const pci::Function> functions = pci_inventory().functions;
        size_t from = params.from() < functions.size() ? params.from() : functions.size();
        // The results buffer less the root pointer, the results struct and
        // the list's tag word.
        constexpr size_t fixed_words = 1 + struct_words<DeviceInventory::ListResults>() + 1;
        size_t buffer_words = invocation().results.size();
        size_t room = buffer_words > fixed_words ? buffer_words - fixed_words : 0;
        // 1. How many fit.
        uint32_t count = 0;
        bool full = false;
        for (size_t i = from; i < functions.size() && count < DeviceInventory::max_list; ++i) {
            size_t words = function_words(functions[i]);
            if (words > room) {
                full = true;
                break;
            }
            room -= words;
            ++count;
        }
        // 2. Those, built. (Not even one fits: one is built, and the
        // builder's BufferFull becomes the caller's ResultTooSmall.)
        uint32_t build_count = count == 0 && full ? 1 : count;
        auto list = results.init_functions(build_count);
        for (uint32_t i = 0; i < list.size(); ++i)
            build_pci_function(functions[from + i], list[i]);
        results.set_total(uint32_t(functions.size()));
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_device_inventory_service() {
    return make_service<DeviceInventoryService>();
}

} // namespace capos::kernel
