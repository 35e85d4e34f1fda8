#include "kernel/object/device_interrupt.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"
#include "kernel/platform/cpus.h"
#include "kernel/platform/pci.h"
#include "kernel/sched/scheduler.h"
#include "lib/pci/msi.h"
#include "schema/capos.capnp.capos.h"

namespace capos::kernel {

namespace {

// The object each device vector belongs to (null: none, an interrupt there
// is a stale one and has no handler).
CAPOS_LARGE_BSS DeviceInterrupt* g_by_vector[256];

// Device interrupts routed to each CPU now.
constexpr size_t max_routed_cpus = 64;
CAPOS_LARGE_BSS uint32_t g_routed[max_routed_cpus];

// Where a new device interrupt goes: the online CPU with the fewest routed to
// it, ties to the highest-numbered (the boot CPU takes the console's and its
// own work), among those a message can name; and the message for it.
struct Route {
    uint32_t cpu;
    arch::MessageSignal message;
};
std::optional<Route> choose_route(uint8_t vector) {
    std::optional<Route> best;
    for (size_t i = 0; i < cpu_count() && i < max_routed_cpus; ++i) {
        const CpuRecord& record = cpu_record(i);
        if (!record.online)
            continue;
        auto message = arch::device_vector_message(vector, record.interrupt_id);
        if (message && (!best || g_routed[i] <= g_routed[best->cpu]))
            best = Route{uint32_t(i), *message};
    }
    return best;
}

// MSI-X tables mapped so far (map_mmio's mappings stay): one mapping per
// table, however many objects use its entries.
struct MappedTable {
    uint64_t physical = 0;
    uint64_t length = 0;
    uint64_t address = 0;
};
CAPOS_LARGE_BSS MappedTable g_tables[32];

Result<volatile uint32_t*, DeviceInterruptError> map_table(uint64_t physical, uint64_t length) {
    for (const MappedTable& table : g_tables) {
        if (table.address != 0 && table.physical == physical && table.length >= length)
            return reinterpret_cast<volatile uint32_t*>(table.address);
    }
    for (MappedTable& table : g_tables) {
        if (table.address != 0)
            continue;
        auto mapped = map_mmio(physical, length);
        if (mapped.is_error())
            return Err{DeviceInterruptError::OutOfMemory};
        table = {physical, length, mapped.value()};
        return reinterpret_cast<volatile uint32_t*>(table.address);
    }
    return Err{DeviceInterruptError::OutOfMemory};
}

} // namespace

const char* to_string(DeviceInterruptError error) {
    switch (error) {
    case DeviceInterruptError::NoMessageSignalling:
        return "the function has no usable MSI or MSI-X capability";
    case DeviceInterruptError::NoSuchEntry:
        return "no such MSI-X table entry";
    case DeviceInterruptError::TableNotMapped:
        return "the MSI-X table is not inside a memory BAR";
    case DeviceInterruptError::NoVector:
        return "every device interrupt vector is taken";
    case DeviceInterruptError::NoConfigAccess:
        return "no configuration access";
    case DeviceInterruptError::OutOfMemory:
        return "out of memory";
    }
    return "?";
}

Result<DeviceInterrupt*, DeviceInterruptError>
DeviceInterrupt::create(const pci::Function& function) {
    auto vector = arch::allocate_device_vector(on_vector);
    if (!vector)
        return Err{DeviceInterruptError::NoVector};
    // The boot CPU's id always fits a message (the firmware numbers it first).
    auto route = choose_route(*vector);
    VERIFY(route.has_value());
    auto memory = heap_allocate(sizeof(DeviceInterrupt));
    if (memory.is_error()) {
        arch::free_device_vector(*vector);
        return Err{DeviceInterruptError::OutOfMemory};
    }
    auto* object =
        new (memory.value()) DeviceInterrupt(function, *vector, route->cpu, route->message);
    g_by_vector[*vector] = object;
    ++g_routed[route->cpu];
    return object;
}

Result<RefPtr<DeviceInterrupt>, DeviceInterruptError>
DeviceInterrupt::create_msi(const pci::Function& function) {
    pci::ConfigAccess* config = pci_config();
    if (!config)
        return Err{DeviceInterruptError::NoConfigAccess};
    if (!function.has_msi)
        return Err{DeviceInterruptError::NoMessageSignalling};
    DeviceInterrupt* object = TRY(create(function));
    // A message address is below 4 GiB: every function takes it.
    VERIFY(pci::msi_enable(*config, function.address, function.msi, object->m_message.address,
                           object->m_message.data));
    return RefPtr<DeviceInterrupt>::adopt(object);
}

Result<RefPtr<DeviceInterrupt>, DeviceInterruptError>
DeviceInterrupt::create_msix(const pci::Function& function, uint16_t entry) {
    pci::ConfigAccess* config = pci_config();
    if (!config)
        return Err{DeviceInterruptError::NoConfigAccess};
    if (!function.has_msix)
        return Err{DeviceInterruptError::NoMessageSignalling};
    const pci::MsixCapability& msix = function.msix;
    if (entry >= msix.table_size)
        return Err{DeviceInterruptError::NoSuchEntry};
    const pci::Bar& bar = function.bars[msix.table_bar];
    uint64_t length = uint64_t(msix.table_size) * pci::msix_entry_words * 4;
    bool in_memory = bar.kind == pci::Bar::Kind::Memory32 || bar.kind == pci::Bar::Kind::Memory64;
    if (!in_memory || bar.address == 0 || msix.table_offset > bar.size ||
        length > bar.size - msix.table_offset)
        return Err{DeviceInterruptError::TableNotMapped};
    volatile uint32_t* table = TRY(map_table(bar.address + msix.table_offset, length));
    DeviceInterrupt* object = TRY(create(function));
    object->m_msix = true;
    object->m_entry = entry;
    object->m_table = table;
    pci::msix_write_entry(table, entry, object->m_message.address, object->m_message.data, false);
    pci::msix_set_control(*config, function.address, msix, true, false);
    return RefPtr<DeviceInterrupt>::adopt(object);
}

namespace {

void answer_wait(PendingReply& reply, uint64_t count) CAPOS_REQUIRES(g_kernel_lock) {
    using schema::Interrupt;
    capnp::Word buffer[8];
    capnp::MessageBuilder message(buffer);
    Interrupt::WaitResults::Builder results(message.init_root(
        Interrupt::WaitResults::data_words, Interrupt::WaitResults::pointer_count));
    results.set_count(count);
    VERIFY(message.error() == capnp::WireError::None);
    reply.complete_with_message(abi::CallStatus::Ok, message.words());
}

} // namespace

// (A device vector's handler runs with the kernel lock held exclusively:
// kernel/arch/x86_64/idt.cpp.)
void DeviceInterrupt::on_vector(uint8_t vector) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    DeviceInterrupt* object = g_by_vector[vector];
    if (!object)
        return;
    __atomic_store_n(&object->m_handled_on, arch::current_cpu_index(), __ATOMIC_RELEASE);
    __atomic_store_n(&object->m_count, object->m_count + 1, __ATOMIC_RELEASE);
    if (Thread* waiter = object->m_waiter)
        Scheduler::wake(waiter);
    if (object->m_reply)
        answer_wait(object->m_reply, object->m_count);
}

bool DeviceInterrupt::wait_pending(PendingReply& reply) {
    if (m_reply)
        return false;
    if (count() > m_acknowledged)
        answer_wait(reply, count());
    else
        m_reply = std::move(reply);
    return true;
}

bool DeviceInterrupt::acknowledge(uint64_t handled) {
    if (handled > count())
        return false;
    if (handled > m_acknowledged)
        m_acknowledged = handled;
    return true;
}

uint64_t DeviceInterrupt::wait(uint64_t seen, uint64_t deadline_us) {
    if (m_waiter != nullptr)
        return count(); // one waiter at a time: a second does not wait
    while (count() <= seen) {
        m_waiter = Scheduler::current();
        bool woken = Scheduler::block(deadline_us);
        m_waiter = nullptr;
        if (!woken)
            break;
    }
    return count();
}

bool DeviceInterrupt::masked() const {
    return m_msix && pci::msix_masked(m_table, m_entry);
}

void DeviceInterrupt::set_masked(bool masked) {
    if (m_msix)
        pci::msix_set_masked(m_table, m_entry, masked);
}

void DeviceInterrupt::destroy() CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    if (m_reply)
        m_reply.complete_with_error(abi::TransportError::Disconnected);
    if (pci::ConfigAccess* config = pci_config()) {
        if (m_msix)
            pci::msix_set_masked(m_table, m_entry, true);
        else
            pci::msi_disable(*config, m_function.address, m_function.msi);
    }
    g_by_vector[m_vector] = nullptr;
    --g_routed[m_cpu];
    arch::free_device_vector(m_vector);
    this->~DeviceInterrupt();
    heap_free(this);
}

} // namespace capos::kernel
