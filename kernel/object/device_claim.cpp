#include "kernel/object/device_claim.h"
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include "kernel/platform/pci.h"
#include "lib/pci/describe.h"
#include "lib/pci/msi.h"

namespace capos::kernel {

namespace {

// One entry per function of the boot scan's table, by its index there.
struct LedgerEntry {
    DeviceClaim* holder = nullptr; // the active claim (not a reference)
    uint32_t windows = 0;          // register windows that still exist
};
LedgerEntry g_ledger[PciInventory::max_functions] CAPOS_GUARDED_BY(g_kernel_lock);

// The function's lspci line, for the log.
struct FunctionText {
    char text[96];
    std::string_view line;
    explicit FunctionText(const pci::Function& function)
        : line(text, pci::format_function(function.address, function.header, text)) {}
};

bool memory_bar(const pci::Bar& bar) {
    return bar.kind == pci::Bar::Kind::Memory32 || bar.kind == pci::Bar::Kind::Memory64;
}

} // namespace

const char* DeviceClaim::describe(Error error) {
    switch (error) {
    case Error::NoSuchFunction:
        return "no such PCI function";
    case Error::Bridge:
        return "a bridge is not for a driver";
    case Error::HostBridge:
        return "a host bridge is not for a driver";
    case Error::Claimed:
        return "the function is claimed already";
    case Error::RegistersMapped:
        return "the function's registers are still mapped by an earlier holder";
    case Error::NoConfigAccess:
        return "no PCI configuration access";
    case Error::OutOfMemory:
        return "out of memory";
    }
    return "?";
}

Result<RefPtr<DeviceClaim>, DeviceClaim::Error> DeviceClaim::claim(const pci::Selector& selector,
                                                                   bool unisolated_dma) {
    std::span<const pci::Function> functions = pci_inventory().functions;
    auto index = pci::select(functions, selector);
    if (!index)
        return Err{Error::NoSuchFunction};
    const pci::Function& function = functions[*index];
    switch (pci::claimable(function)) {
    case pci::Unclaimable::Bridge:
        return Err{Error::Bridge};
    case pci::Unclaimable::HostBridge:
        return Err{Error::HostBridge};
    case pci::Unclaimable::None:
        break;
    }
    LedgerEntry& entry = g_ledger[*index];
    if (entry.holder)
        return Err{Error::Claimed};
    if (entry.windows != 0)
        return Err{Error::RegistersMapped};
    pci::ConfigAccess* config = pci_config();
    if (!config)
        return Err{Error::NoConfigAccess};
    auto memory = heap_allocate(sizeof(DeviceClaim), alignof(DeviceClaim));
    if (memory.is_error())
        return Err{Error::OutOfMemory};
    auto* claim = new (memory.value()) DeviceClaim(function, uint32_t(*index), unisolated_dma);
    // Its own domain where a unit translates it (domain ids from 1).
    auto domain = DmaDomain::attach(function, uint16_t(*index + 1));
    if (domain.is_ok()) {
        claim->m_domain = domain.value();
    } else if (domain.error() != DmaDomain::Error::NoUnit) {
        FunctionText text(function);
        log_warn("device: {}: no DMA domain: {}", text.line, DmaDomain::describe(domain.error()));
        claim->~DeviceClaim();
        heap_free(claim);
        return Err{Error::OutOfMemory};
    }
    entry.holder = claim;
    // Its registers decode (in memory and I/O space); it masters the bus
    // only when its DMA is allowed.
    uint16_t set = pci::command_memory | pci::command_io;
    uint16_t clear = 0;
    if (claim->dma_allowed())
        set |= pci::command_bus_master;
    else
        clear |= pci::command_bus_master;
    pci::change_command(*config, function.address, set, clear);
    FunctionText text(function);
    if (claim->dma_isolated())
        log_info("device: {}: claimed, DMA isolated (IOMMU domain {})", text.line, *index + 1);
    else if (claim->dma_allowed())
        log_warn("device: {}: claimed, DMA not isolated (no IOMMU): trusted by the manifest",
                 text.line);
    else
        log_info("device: {}: claimed, registers only (no IOMMU and not trusted with DMA)",
                 text.line);
    return RefPtr<DeviceClaim>::adopt(claim);
}

Result<RefPtr<MemoryObject>, DeviceClaim::WindowError> DeviceClaim::window(uint8_t bar) {
    if (bar >= pci::max_bars)
        return Err{WindowError::NotMemory};
    if (m_windows[bar])
        return m_windows[bar];
    const pci::Bar& found = function().bars[bar];
    if (!memory_bar(found) || found.address == 0)
        return Err{WindowError::NotMemory};
    // A window smaller than a page shares its page with other registers.
    if (found.size < page_size || found.address % page_size != 0 ||
        found.size / page_size > MemoryObject::max_pages)
        return Err{WindowError::NotPageSized};
    auto kept = pci::kernel_pages(function(), bar, found.size);
    MemoryObject::Hole holes[2] = {{kept[0].first, kept[0].end}, {kept[1].first, kept[1].end}};
    auto window = MemoryObject::create_device_window(
        found.address, uint32_t(found.size / page_size), m_slot, holes);
    if (window.is_error())
        return Err{WindowError::OutOfMemory};
    m_windows[bar] = window.release_value();
    return m_windows[bar];
}

std::optional<DeviceClaim::PortRange> DeviceClaim::ports(uint8_t bar) const {
    if (bar >= pci::max_bars)
        return std::nullopt;
    const pci::Bar& found = function().bars[bar];
    constexpr uint64_t port_space = 0x10000;
    if (found.kind != pci::Bar::Kind::Io || found.address == 0 || found.size == 0 ||
        found.address >= port_space || found.size > port_space - found.address)
        return std::nullopt;
    return PortRange{uint16_t(found.address), uint32_t(found.size)};
}

Result<uint32_t, DeviceClaim::RouteError> DeviceClaim::route(uint16_t entry,
                                                             DeviceInterruptError& failure) {
    uint32_t free = max_interrupts;
    for (uint32_t i = 0; i < max_interrupts; ++i) {
        if (m_interrupts[i] && m_entries[i] == entry)
            return Err{RouteError::AlreadyRouted};
        if (!m_interrupts[i] && free == max_interrupts)
            free = i;
    }
    if (free == max_interrupts)
        return Err{RouteError::TooMany};
    auto routed = function().has_msix ? DeviceInterrupt::create_msix(function(), entry)
                  : entry == 0        ? DeviceInterrupt::create_msi(function())
                                      : Result<RefPtr<DeviceInterrupt>, DeviceInterruptError>(
                                     Err{DeviceInterruptError::NoSuchEntry});
    if (routed.is_error()) {
        failure = routed.error();
        return Err{RouteError::Interrupt};
    }
    m_interrupts[free] = routed.release_value();
    m_entries[free] = entry;
    return free;
}

Result<uint64_t, DeviceClaim::DmaError> DeviceClaim::attach_dma(RefPtr<MemoryObject> buffer,
                                                                uint32_t generation) {
    if (!current(generation))
        return Err{DmaError::Ended};
    if (m_domain) {
        auto mapped = m_domain->map(buffer->frames());
        if (mapped.is_error())
            return Err{mapped.error() == DmaDomain::Error::UnitFailed ? DmaError::UnitFailed
                                                                      : DmaError::OutOfMemory};
        return mapped.value();
    }
    VERIFY(buffer->contiguous());
    if (m_dma_count == max_dma_buffers)
        return Err{DmaError::TooMany};
    uint64_t address = buffer->frame(0);
    m_dma[m_dma_count++] = std::move(buffer);
    return address;
}

void DeviceClaim::detach_dma(uint64_t address, uint32_t pages, uint32_t generation) {
    // (Without a domain the claim keeps the buffer; after a reset or the
    // end, the domain went whole.)
    if (current(generation) && m_domain)
        m_domain->unmap(address, pages);
}

void DeviceClaim::quiesce() {
    // Bus mastering off first: no DMA and no message from here on.
    if (pci::ConfigAccess* config = pci_config()) {
        pci::change_command(*config, function().address, 0, pci::command_bus_master);
        if (function().has_msix)
            pci::msix_set_control(*config, function().address, function().msix, false, true);
    }
    for (RefPtr<DeviceInterrupt>& interrupt : m_interrupts)
        interrupt.reset(); // off, its vector freed, a wait answered
    if (m_domain) {
        m_domain->detach(); // nothing of memory reachable, the unit's caches invalidated
        m_domain = nullptr;
    }
    for (uint32_t i = 0; i < m_dma_count; ++i)
        m_dma[i].reset();
    m_dma_count = 0;
    ++m_generation;
}

bool DeviceClaim::reset() {
    if (!m_active)
        return false;
    bool isolated = m_domain != nullptr;
    quiesce();
    if (isolated) {
        auto domain = DmaDomain::attach(function(), uint16_t(m_slot + 1));
        if (domain.is_error()) {
            FunctionText text(function());
            log_warn("device: {}: no DMA domain after a reset: {}: the claim ends", text.line,
                     DmaDomain::describe(domain.error()));
            end();
            return false;
        }
        m_domain = domain.value();
    }
    if (dma_allowed()) {
        if (pci::ConfigAccess* config = pci_config())
            pci::change_command(*config, function().address, pci::command_bus_master, 0);
    }
    return true;
}

void DeviceClaim::end() {
    if (!m_active)
        return;
    quiesce();
    m_active = false;
    for (RefPtr<MemoryObject>& window : m_windows)
        window.reset(); // (mappings keep theirs: the ledger counts them)
    g_ledger[m_slot].holder = nullptr;
    FunctionText text(function());
    log_info("device: {}: released", text.line);
}

void DeviceClaim::destroy() {
    g_kernel_lock.assert_held();
    end();
    this->~DeviceClaim();
    heap_free(this);
}

void device_dma_fault(uint16_t segment, uint16_t source) {
    std::span<const pci::Function> functions = pci_inventory().functions;
    for (size_t i = 0; i < functions.size(); ++i) {
        const pci::FunctionAddress& at = functions[i].address;
        uint16_t id = uint16_t(at.bus << 8 | at.device << 3 | at.function);
        if (at.segment != segment || id != source)
            continue;
        if (DeviceClaim* claim = g_ledger[i].holder) {
            FunctionText text(functions[i]);
            log_warn("device: {}: its DMA faulted: the claim ends", text.line);
            claim->end();
        }
        return;
    }
}

void device_window_made(uint32_t slot) {
    ++g_ledger[slot].windows;
}

void device_window_gone(uint32_t slot) {
    VERIFY(g_ledger[slot].windows > 0);
    --g_ledger[slot].windows;
}

} // namespace capos::kernel
