#include "kernel/platform/iommu.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"
#include "kernel/platform/acpi.h"
#include "kernel/platform/cpus.h"
#include "kernel/platform/pci.h"

namespace capos::kernel {

namespace {

// Table writes reach memory before the unit reads them: a unit that does
// not snoop the CPU's caches gets the lines flushed.
void flush_lines(bool coherent, const void* start, uint64_t bytes) {
    if (coherent)
        return;
    for (uint64_t line = 0; line < bytes; line += 64)
        asm volatile("clflush (%0)" ::"r"(static_cast<const uint8_t*>(start) + line) : "memory");
}

// Frames for a unit's second-level tables, zeroed, through the direct map.
class KernelTableMemory final : public vtd::TableMemory {
public:
    bool coherent = true;

    std::optional<uint64_t> allocate_table() override {
        auto frame = allocate_zeroed_frame();
        if (frame.is_error())
            return std::nullopt;
        flush_lines(coherent, phys_to_ptr<uint8_t>(frame.value()), page_size);
        return frame.value();
    }
    void free_table(uint64_t physical) override { VERIFY(free_frame(physical).is_ok()); }
    uint64_t* table(uint64_t physical) override { return phys_to_ptr<uint64_t>(physical); }
    void written(const uint64_t* entry) override { flush_lines(coherent, entry, 8); }
};

} // namespace

// One usable unit: its registers, what it offers, its tables.
struct IommuUnit {
    KernelTableMemory memory; // for its domains' second-level tables
    uint64_t registers = 0;   // mapped
    uint64_t register_bytes = 0;
    const AcpiPlatform::RemappingUnit* acpi = nullptr;
    vtd::Capabilities capabilities;
    vtd::ExtendedCapabilities extended;
    uint8_t levels = 0;
    bool translating = false;
    bool failed = false;     // an invalidation never finished: not used any more
    uint64_t root_table = 0; // physical
    uint64_t context_tables[vtd::table_entries] = {}; // by bus, physical (0: none yet)
    uint32_t faults = 0;
};

namespace {

// A register set is mapped up to this much: the registers the kernel uses
// lie in the first pages, and a larger size in the table is not trusted
// (offsets past what is mapped are refused by lib/iommu/vtd).
constexpr uint64_t max_mapped_register_bytes = 4 * 4096;
// How long a unit may take to finish a command or an invalidation.
constexpr uint64_t command_timeout_us = 100000;
// The faults logged a unit (the rest are counted).
constexpr uint32_t logged_faults = 16;

IommuUnit g_units[AcpiPlatform::max_remapping_units] CAPOS_GUARDED_BY(g_kernel_lock);
size_t g_unit_count = 0;

uint32_t read32(uint64_t base, uint32_t offset) {
    return *reinterpret_cast<volatile uint32_t*>(base + offset);
}
uint64_t read64(uint64_t base, uint32_t offset) {
    return *reinterpret_cast<volatile uint64_t*>(base + offset);
}
void write32(uint64_t base, uint32_t offset, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(base + offset) = value;
}
void write64(uint64_t base, uint32_t offset, uint64_t value) {
    *reinterpret_cast<volatile uint64_t*>(base + offset) = value;
}

// Waits until `done` holds, for at most command_timeout_us; a unit that
// does not finish is marked failed (logged once) and not used again.
template <typename Done>
bool wait_for(IommuUnit& unit, const char* what, Done done) {
    uint64_t deadline = uptime_microseconds() + command_timeout_us;
    while (!done()) {
        if (uptime_microseconds() > deadline) {
            if (!unit.failed)
                log_error("iommu: unit at {}: {} did not finish: unit not used",
                          Hex{unit.acpi->address}, what);
            unit.failed = true;
            return false;
        }
        __builtin_ia32_pause();
    }
    return true;
}

// Sets or clears a global command bit and waits for the status to follow.
bool global_command(IommuUnit& unit, uint32_t bit, bool on, const char* what) {
    uint32_t status = read32(unit.registers, vtd::register_global_status);
    write32(unit.registers, vtd::register_global_command, vtd::global_command(status, bit, on));
    return wait_for(unit, what, [&] {
        return ((read32(unit.registers, vtd::register_global_status) & bit) != 0) == on;
    });
}

void written(const IommuUnit& unit, const void* entry) {
    flush_lines(unit.extended.coherent, entry, sizeof(vtd::Entry));
}

bool invalidate_context_cache(IommuUnit& unit) {
    write64(unit.registers, vtd::register_context_command, vtd::context_invalidate_global);
    return wait_for(unit, "a context-cache invalidation", [&] {
        return (read64(unit.registers, vtd::register_context_command) & vtd::context_invalidate) ==
               0;
    });
}

bool invalidate_iotlb(IommuUnit& unit, uint64_t command) {
    uint32_t offset = unit.extended.iotlb_offset + vtd::iotlb_invalidate_offset;
    write64(unit.registers, offset, command);
    return wait_for(unit, "an IOTLB invalidation",
                    [&] { return (read64(unit.registers, offset) & vtd::iotlb_invalidate) == 0; });
}

// Maps and reads one unit's registers, logs what it offers; whether it is
// usable (then it is kept in g_units).
bool probe(size_t index, const AcpiPlatform::RemappingUnit& unit) CAPOS_REQUIRES(g_kernel_lock) {
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
    // The shallowest tables that reach 4 GiB of device addresses: devices
    // are given addresses low (some reach no further).
    uint8_t levels = vtd::levels_for(c, 39);
    if (levels == 0) {
        log_warn("iommu: unit {} at {}: no table depth for its addresses: not used", index,
                 Hex{unit.address});
        return false;
    }
    if (c.write_buffer_flush) {
        log_warn("iommu: unit {} at {}: needs its write buffer flushed by software: not used",
                 index, Hex{unit.address});
        return false;
    }
    uint32_t status = read32(registers, vtd::register_global_status);
    log_info("iommu: unit {} at {} ({}, {} device scopes): VT-d {}.{}, {} domains, {}-bit device "
             "addresses, {}-level tables, {} invalidation{}, translation {}",
             index, Hex{unit.address},
             unit.all_functions ? "every PCI function not scoped elsewhere" : "scoped functions",
             unit.scopes, version.major, version.minor, c.domains, c.guest_address_width,
             vtd::levels_for(c, c.guest_address_width),
             extended.value().queued_invalidation ? "queued" : "register",
             c.caching_mode ? ", caching mode" : "",
             (status & vtd::status_translation_enabled) ? "on (left by firmware)" : "off");
    IommuUnit& kept = g_units[g_unit_count++];
    kept.registers = registers;
    kept.register_bytes = bytes;
    kept.acpi = &unit;
    kept.capabilities = c;
    kept.extended = extended.value();
    kept.levels = levels;
    kept.memory.coherent = kept.extended.coherent;
    return true;
}

// Reads and clears the unit's fault records: each is logged (the first
// few) and ends the claim of the function that caused it.
void serve_faults(IommuUnit& unit) CAPOS_REQUIRES(g_kernel_lock) {
    uint32_t status = read32(unit.registers, vtd::register_fault_status);
    uint32_t records = unit.capabilities.fault_records;
    uint32_t index = vtd::fault_record_index(status);
    for (uint32_t seen = 0; seen < records; ++seen, index = (index + 1) % records) {
        uint32_t offset = unit.capabilities.fault_recording_offset + index * 16;
        vtd::Fault fault =
            vtd::decode_fault(read64(unit.registers, offset), read64(unit.registers, offset + 8));
        if (!fault.valid)
            break;
        write64(unit.registers, offset + 8, vtd::fault_record_clear);
        if (++unit.faults <= logged_faults) {
            // The requester as lspci writes it: bus:device.function in hex.
            constexpr char digits[] = "0123456789abcdef";
            uint8_t bus = uint8_t(fault.source >> 8), device = (fault.source >> 3) & 0x1F;
            char requester[] = {digits[bus >> 4],        digits[bus & 15],    ':',
                                digits[device >> 4],     digits[device & 15], '.',
                                digits[fault.source & 7]};
            log_warn("iommu: DMA fault: {} {} {} (fault reason {}){}",
                     std::string_view(requester, sizeof requester),
                     fault.read ? "read at" : "write to", Hex{fault.address}, fault.reason,
                     unit.faults == logged_faults ? "; later faults are counted only" : "");
        }
        device_dma_fault(unit.acpi->segment, fault.source);
    }
    write32(unit.registers, vtd::register_fault_status,
            vtd::fault_status_overflow | vtd::fault_status_pending);
}

void on_fault_vector(uint8_t) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    for (size_t i = 0; i < g_unit_count; ++i) {
        if (g_units[i].translating)
            serve_faults(g_units[i]);
    }
}

// Bus `bus`'s context table (made empty, and the root entry pointing at it,
// when it has none yet); false when memory is out.
bool context_table(IommuUnit& unit, uint8_t bus) {
    if (unit.context_tables[bus] != 0)
        return true;
    auto table = allocate_zeroed_frame();
    if (table.is_error())
        return false;
    unit.context_tables[bus] = table.value();
    flush_lines(unit.extended.coherent, phys_to_ptr<uint8_t>(table.value()), page_size);
    vtd::Entry* roots = phys_to_ptr<vtd::Entry>(unit.root_table);
    vtd::Entry root = vtd::root_entry(table.value());
    roots[bus].high = root.high;
    __atomic_store_n(&roots[bus].low, root.low, __ATOMIC_RELEASE);
    written(unit, &roots[bus]);
    return true;
}

bool enable(IommuUnit& unit, uint8_t vector) CAPOS_REQUIRES(g_kernel_lock) {
    auto root = allocate_zeroed_frame();
    if (root.is_error())
        return false;
    unit.root_table = root.value();
    flush_lines(unit.extended.coherent, phys_to_ptr<uint8_t>(unit.root_table), page_size);
    // The context tables of the buses the scan found functions on, made now:
    // they belong to the unit (a claim made later allocates none).
    for (const pci::Function& function : pci_inventory().functions) {
        if (function.address.segment == unit.acpi->segment &&
            !context_table(unit, function.address.bus))
            return false;
    }
    write64(unit.registers, vtd::register_root_table_address, unit.root_table);
    if (!global_command(unit, vtd::status_root_table_set, true, "setting the root table") ||
        !invalidate_context_cache(unit) || !invalidate_iotlb(unit, vtd::iotlb_invalidate_global))
        return false;
    // Faults interrupt the boot CPU.
    auto message = arch::device_vector_message(vector, cpu_record(0).interrupt_id);
    if (message) {
        write32(unit.registers, vtd::register_fault_event_data, message->data);
        write32(unit.registers, vtd::register_fault_event_address, uint32_t(message->address));
        write32(unit.registers, vtd::register_fault_event_upper_address,
                uint32_t(message->address >> 32));
        write32(unit.registers, vtd::register_fault_event_control, 0);
    }
    if (!global_command(unit, vtd::status_translation_enabled, true, "turning translation on"))
        return false;
    unit.translating = true;
    return true;
}

// The configuration reads a DMAR path needs: a bridge's secondary bus.
class BridgeReader final : public acpi::SecondaryBusReader {
public:
    BridgeReader(pci::ConfigAccess& access, uint16_t segment)
        : m_access(access), m_segment(segment) {}
    uint8_t secondary_bus(uint8_t bus, uint8_t device, uint8_t function) override {
        return uint8_t(m_access.read32({m_segment, bus, device, function}, 0x18) >> 8);
    }
    // The last bus below the bridge.
    uint8_t subordinate_bus(const acpi::PciLocation& at) {
        return uint8_t(m_access.read32({m_segment, at.bus, at.device, at.function}, 0x18) >> 16);
    }

private:
    pci::ConfigAccess& m_access;
    uint16_t m_segment;
};

bool same(const acpi::PciLocation& location, const pci::FunctionAddress& address) {
    return location.bus == address.bus && location.device == address.device &&
           location.function == address.function;
}

// Whether one of `unit`'s device scopes names `function` (itself, or a
// bridge above it).
bool scoped(const IommuUnit& unit, const pci::FunctionAddress& function) {
    pci::ConfigAccess* access = pci_config();
    if (!access)
        return false;
    BridgeReader reader(*access, function.segment);
    acpi::DeviceScopes walk = unit.acpi->scope_list;
    for (auto scope = walk.next(); scope.is_ok(); scope = walk.next()) {
        const acpi::DeviceScope& s = scope.value();
        bool endpoint = s.type == acpi::DeviceScope::Type::PciEndpoint;
        if (!endpoint && s.type != acpi::DeviceScope::Type::PciSubHierarchy)
            continue;
        auto location = s.resolve(reader);
        if (location.is_error())
            continue;
        if (same(location.value(), function))
            return true;
        if (!endpoint) {
            uint8_t secondary = reader.secondary_bus(location.value().bus, location.value().device,
                                                     location.value().function);
            uint8_t subordinate = reader.subordinate_bus(location.value());
            if (function.bus >= secondary && function.bus <= subordinate &&
                secondary > location.value().bus)
                return true;
        }
    }
    return false;
}

// The translating unit that covers `function`: one whose scopes name it,
// else its segment's unit for every other function.
IommuUnit* unit_for(const pci::FunctionAddress& function) CAPOS_REQUIRES(g_kernel_lock) {
    IommuUnit* catch_all = nullptr;
    for (size_t i = 0; i < g_unit_count; ++i) {
        IommuUnit& unit = g_units[i];
        if (unit.acpi->segment != function.segment)
            continue;
        if (scoped(unit, function))
            return unit.translating && !unit.failed ? &unit : nullptr;
        if (unit.acpi->all_functions)
            catch_all = &unit;
    }
    return catch_all && catch_all->translating && !catch_all->failed ? catch_all : nullptr;
}

uint32_t context_index(const pci::FunctionAddress& function) {
    return uint32_t(function.device) << 3 | function.function;
}

} // namespace

void iommu_init() {
    g_kernel_lock.assert_held(); // the boot CPU's from the start
    const AcpiPlatform& p = acpi_platform();
    size_t usable = 0;
    for (size_t i = 0; i < p.remapping_unit_count; ++i)
        usable += probe(i, p.remapping_units[i]);
    if (usable == 0)
        log_info("iommu: no DMA remapping unit: device DMA is not isolated");
}

void iommu_enable() {
    if (g_unit_count == 0)
        return;
    auto vector = arch::allocate_device_vector(on_fault_vector);
    if (!vector) {
        log_warn("iommu: no interrupt vector for faults: translation left off");
        return;
    }
    for (size_t i = 0; i < g_unit_count; ++i) {
        IommuUnit& unit = g_units[i];
        if (enable(unit, *vector))
            log_info("iommu: unit {}: translation on: a device's DMA reaches only what its "
                     "driver's domain maps",
                     i);
        else
            log_warn("iommu: unit {}: translation could not be turned on: not used", i);
    }
}

const char* DmaDomain::describe(Error error) {
    switch (error) {
    case Error::NoUnit:
        return "no translating IOMMU unit covers the function";
    case Error::OutOfMemory:
        return "out of memory";
    case Error::UnitFailed:
        return "the IOMMU unit did not finish an invalidation";
    }
    return "?";
}

Result<DmaDomain*, DmaDomain::Error> DmaDomain::attach(const pci::Function& function, uint16_t id) {
    IommuUnit* unit = unit_for(function.address);
    if (!unit)
        return Err{Error::NoUnit};
    if (id == 0 || id >= unit->capabilities.domains)
        return Err{Error::NoUnit};
    uint8_t bus = function.address.bus;
    if (!context_table(*unit, bus))
        return Err{Error::OutOfMemory};
    auto tables = vtd::SecondLevelTables::create(unit->memory, unit->levels);
    if (!tables)
        return Err{Error::OutOfMemory};
    auto created = heap_allocate(sizeof(DmaDomain), alignof(DmaDomain));
    if (created.is_error()) {
        tables->destroy();
        return Err{Error::OutOfMemory};
    }
    auto* domain = new (created.value()) DmaDomain(*unit, function.address, id, *tables);
    // The context entry: the high half (domain, width) before the low half
    // makes it present.
    vtd::Entry* contexts = phys_to_ptr<vtd::Entry>(unit->context_tables[bus]);
    vtd::Entry entry = vtd::context_entry(tables->root(), unit->levels, id);
    vtd::Entry& slot = contexts[context_index(function.address)];
    slot.high = entry.high;
    __atomic_store_n(&slot.low, entry.low, __ATOMIC_RELEASE);
    written(*unit, &slot);
    // A unit in caching mode may have cached the entry's absence.
    if (!invalidate_context_cache(*unit) ||
        !invalidate_iotlb(*unit, vtd::iotlb_invalidate_domain(id))) {
        domain->detach();
        return Err{Error::UnitFailed};
    }
    return domain;
}

Result<uint64_t, DmaDomain::Error> DmaDomain::map(std::span<const uint64_t> frames) {
    uint64_t first = m_next_address;
    uint64_t bytes = frames.size() * page_size;
    if (bytes > m_tables.limit() - first)
        return Err{Error::OutOfMemory};
    for (size_t i = 0; i < frames.size(); ++i) {
        auto mapped = m_tables.map(first + i * page_size, frames[i], true);
        if (mapped.is_error()) {
            unmap(first, uint32_t(i));
            return Err{Error::OutOfMemory};
        }
    }
    m_next_address = first + bytes;
    // A unit in caching mode may have cached the pages' absence.
    if (m_unit->capabilities.caching_mode &&
        !invalidate_iotlb(*m_unit, vtd::iotlb_invalidate_domain(m_id)))
        return Err{Error::UnitFailed};
    return first;
}

void DmaDomain::unmap(uint64_t address, uint32_t pages) {
    for (uint32_t i = 0; i < pages; ++i)
        m_tables.unmap(address + uint64_t(i) * page_size);
    (void)invalidate_iotlb(*m_unit, vtd::iotlb_invalidate_domain(m_id));
}

void DmaDomain::detach() {
    vtd::Entry* contexts = phys_to_ptr<vtd::Entry>(m_unit->context_tables[m_function.bus]);
    vtd::Entry& slot = contexts[context_index(m_function)];
    __atomic_store_n(&slot.low, uint64_t{0}, __ATOMIC_RELEASE);
    slot.high = 0;
    written(*m_unit, &slot);
    (void)invalidate_context_cache(*m_unit);
    (void)invalidate_iotlb(*m_unit, vtd::iotlb_invalidate_domain(m_id));
    // (A unit that failed to invalidate is not used again; its tables may
    // still be read by it, so they are not freed.)
    if (!m_unit->failed)
        m_tables.destroy();
    this->~DmaDomain();
    heap_free(this);
}

} // namespace capos::kernel
