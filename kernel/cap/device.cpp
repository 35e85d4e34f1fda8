// The driver authority's capabilities (docs/devices.md, "Driver
// authority"): DeviceManager claims a PCI function in the device ledger
// (kernel/object/device_claim.h) and gives a Device, which gives the
// function's register windows (DeviceMmio) and I/O ports (DevicePorts), its
// interrupts (Interrupt) and DMA memory (DMAPool, DMABuffer). Each of those
// holds the claim, and once the claim has ended (its last Device capability
// gone) answers every call but an unmap as disconnected.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/object/device_claim.h"
#include "kernel/object/process.h"
#include "kernel/platform/pci.h"

namespace capos::kernel {

namespace {

gen::Exception disconnected(std::string_view message) {
    return exception(schema::ExceptionType::Disconnected, message);
}
constexpr std::string_view claim_ended = "the device was reset or its claim has ended";
// A Device whose claim ended while it was still held: its DMA faulted.
constexpr std::string_view claim_faulted = "the claim ended: the device's DMA faulted";

// Commits `service` (speaking `Interface`) to a slot reserved in the caller's
// table; returns its id.
template <typename Interface>
abi::CapId commit(ProcessCapTable::Reservation slot, RefPtr<KernelService> service)
    CAPOS_REQUIRES(g_kernel_lock) {
    return Process::current()->capabilities().commit(
        std::move(slot), std::move(service), Interface::interface_id, CapFlags::Transferable);
}

template <typename Service, typename... Args>
Result<RefPtr<KernelService>, gen::Exception> make(Args&&... args) {
    auto created = heap_create<Service>(std::forward<Args>(args)...);
    if (created.is_error())
        return Err{overloaded("out of memory")};
    return RefPtr<KernelService>::adopt(created.value());
}

// A slot of the caller's table for the capability a call makes (given back
// when the reservation is dropped unused).
Result<ProcessCapTable::Reservation, gen::Exception> reserve_slot() CAPOS_REQUIRES(g_kernel_lock) {
    auto slot = Process::current()->capabilities().reserve();
    if (slot.is_error())
        return Err{overloaded("capability table full")};
    return slot.release_value();
}

// A claim's memory (a register window, a DMA buffer) mapped whole into
// `space`, readable and writable; its address.
Result<uint64_t, gen::Exception> map_whole(UserAddressSpace& space,
                                           const RefPtr<MemoryObject>& object, uint64_t address)
    CAPOS_REQUIRES(g_kernel_lock) {
    auto mapped = space.map_object(object, address, 0, object->page_count(), Access::ReadWrite);
    if (mapped.is_error())
        return Err{space_exception(mapped.error())};
    return mapped.value();
}

Result<void, gen::Exception> unmap_from(UserAddressSpace& space, MemoryObject& object,
                                        uint64_t address) CAPOS_REQUIRES(g_kernel_lock) {
    auto unmapped = space.unmap_object(object, address);
    if (unmapped.is_error())
        return Err{space_exception(unmapped.error())};
    return {};
}

using schema::DeviceMmio;

class DeviceMmioService final : public KernelServiceOf<DeviceMmio, DeviceMmioService> {
public:
    DeviceMmioService(RefPtr<DeviceClaim> claim, RefPtr<MemoryObject> window, uint8_t bar)
        : m_claim(std::move(claim)), m_generation(m_claim->generation()),
          m_window(std::move(window)), m_bar(bar) {}

    Result<void, gen::Exception> info(DeviceMmio::InfoParams::Reader,
                                      DeviceMmio::InfoResults::Builder results) {
        results.set_bar(m_bar);
        results.set_bytes(uint64_t(m_window->page_count()) * page_size);
        return {};
    }
    Result<void, gen::Exception> map(DeviceMmio::MapParams::Reader params,
                                     DeviceMmio::MapResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->current(m_generation))
            return Err{disconnected(claim_ended)};
        results.set_address(
            TRY(map_whole(invocation().caller.address_space(), m_window, params.address())));
        return {};
    }
    // (Also once the claim has ended: the function is claimed again only
    // when its windows are gone.)
    Result<void, gen::Exception> unmap(DeviceMmio::UnmapParams::Reader params,
                                       DeviceMmio::UnmapResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        return unmap_from(invocation().caller.address_space(), *m_window, params.address());
    }

private:
    RefPtr<DeviceClaim> m_claim;
    uint32_t m_generation;
    RefPtr<MemoryObject> m_window;
    uint8_t m_bar;
};

using schema::DevicePorts;

class DevicePortsService final : public KernelServiceOf<DevicePorts, DevicePortsService> {
public:
    DevicePortsService(RefPtr<DeviceClaim> claim, DeviceClaim::PortRange range, uint8_t bar)
        : m_claim(std::move(claim)), m_generation(m_claim->generation()), m_range(range),
          m_bar(bar) {}

    Result<void, gen::Exception> info(DevicePorts::InfoParams::Reader,
                                      DevicePorts::InfoResults::Builder results) {
        results.set_bar(m_bar);
        results.set_count(m_range.count);
        return {};
    }
    Result<void, gen::Exception> read(DevicePorts::ReadParams::Reader params,
                                      DevicePorts::ReadResults::Builder results) {
        uint16_t port = TRY(register_port(params.offset(), params.width()));
        switch (params.width()) {
        case 1:
            results.set_value(arch::port_read8(port));
            break;
        case 2:
            results.set_value(arch::port_read16(port));
            break;
        default:
            results.set_value(arch::port_read32(port));
            break;
        }
        return {};
    }
    Result<void, gen::Exception> write(DevicePorts::WriteParams::Reader params,
                                       DevicePorts::WriteResults::Builder) {
        uint16_t port = TRY(register_port(params.offset(), params.width()));
        uint32_t value = params.value();
        switch (params.width()) {
        case 1:
            arch::port_write8(port, uint8_t(value));
            break;
        case 2:
            arch::port_write16(port, uint16_t(value));
            break;
        default:
            arch::port_write32(port, value);
            break;
        }
        return {};
    }

private:
    // The port of the `width`-byte register at `offset`, once checked.
    Result<uint16_t, gen::Exception> register_port(uint32_t offset, uint8_t width) const {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->current(m_generation))
            return Err{disconnected(claim_ended)};
        if (width != 1 && width != 2 && width != 4)
            return Err{invalid_argument("a port register is 1, 2 or 4 bytes wide")};
        if (offset % width != 0)
            return Err{invalid_argument("the offset is not a multiple of the width")};
        if (offset >= m_range.count || width > m_range.count - offset)
            return Err{invalid_argument("the register lies past the BAR's ports")};
        return uint16_t(m_range.first + offset);
    }

    RefPtr<DeviceClaim> m_claim;
    uint32_t m_generation;
    DeviceClaim::PortRange m_range;
    uint8_t m_bar;
};

using schema::Interrupt;

class InterruptService final : public KernelServiceOf<Interrupt, InterruptService> {
public:
    InterruptService(RefPtr<DeviceClaim> claim, uint32_t slot)
        : m_claim(std::move(claim)), m_generation(m_claim->generation()), m_slot(slot) {}

    Result<void, gen::Exception> wait(Interrupt::WaitParams::Reader,
                                      Interrupt::WaitResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        DeviceInterrupt* interrupt = m_claim->interrupt(m_slot, m_generation);
        if (!interrupt)
            return Err{disconnected(claim_ended)};
        // Refused before deferring: a deferred call's exception is never sent.
        if (interrupt->waiting())
            return Err{overloaded("a wait on this interrupt is owed already")};
        auto reply = invocation().defer();
        if (!reply)
            return Err{overloaded("too many answers owed to the caller")};
        VERIFY(interrupt->wait_pending(*reply));
        return {};
    }
    Result<void, gen::Exception> acknowledge(Interrupt::AcknowledgeParams::Reader params,
                                             Interrupt::AcknowledgeResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        DeviceInterrupt* interrupt = m_claim->interrupt(m_slot, m_generation);
        if (!interrupt)
            return Err{disconnected(claim_ended)};
        if (!interrupt->acknowledge(params.count()))
            return Err{invalid_argument("acknowledged past the interrupts counted")};
        return {};
    }
    Result<void, gen::Exception> mask(Interrupt::MaskParams::Reader,
                                      Interrupt::MaskResults::Builder) {
        return set_masked(true);
    }
    Result<void, gen::Exception> unmask(Interrupt::UnmaskParams::Reader,
                                        Interrupt::UnmaskResults::Builder) {
        return set_masked(false);
    }

private:
    Result<void, gen::Exception> set_masked(bool masked) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        DeviceInterrupt* interrupt = m_claim->interrupt(m_slot, m_generation);
        if (!interrupt)
            return Err{disconnected(claim_ended)};
        if (!interrupt->maskable())
            return Err{
                exception(schema::ExceptionType::Unimplemented, "an MSI has no mask of its own")};
        interrupt->set_masked(masked);
        return {};
    }

    RefPtr<DeviceClaim> m_claim;
    uint32_t m_generation;
    uint32_t m_slot;
};

using schema::DMABuffer;

class DmaBufferService final : public KernelServiceOf<DMABuffer, DmaBufferService> {
public:
    DmaBufferService(RefPtr<DeviceClaim> claim, uint32_t generation, RefPtr<MemoryObject> buffer,
                     uint64_t address)
        : m_claim(std::move(claim)), m_generation(generation), m_buffer(std::move(buffer)),
          m_address(address) {}
    // The device loses the buffer with its last capability (a mapping in a
    // process, or a MemoryObject given to a client, keeps only the memory).
    ~DmaBufferService() override {
        g_kernel_lock.assert_held(); // every reference is dropped under it
        m_claim->detach_dma(m_address, m_buffer->page_count(), m_generation);
    }

    Result<void, gen::Exception> info(DMABuffer::InfoParams::Reader,
                                      DMABuffer::InfoResults::Builder results) {
        if (!m_claim->current(m_generation))
            return Err{disconnected(claim_ended)};
        results.set_pages(m_buffer->page_count());
        results.set_device_address(m_address);
        return {};
    }
    Result<void, gen::Exception> map(DMABuffer::MapParams::Reader params,
                                     DMABuffer::MapResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->current(m_generation))
            return Err{disconnected(claim_ended)};
        results.set_address(
            TRY(map_whole(invocation().caller.address_space(), m_buffer, params.address())));
        return {};
    }
    Result<void, gen::Exception> unmap(DMABuffer::UnmapParams::Reader params,
                                       DMABuffer::UnmapResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        return unmap_from(invocation().caller.address_space(), *m_buffer, params.address());
    }

    Result<void, gen::Exception> memory(DMABuffer::MemoryParams::Reader,
                                        DMABuffer::MemoryResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->current(m_generation))
            return Err{disconnected(claim_ended)};
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        RefPtr<KernelService> service = create_memory_object_service(m_buffer);
        if (!service)
            return Err{overloaded("out of memory")};
        results.set_memory(commit<schema::MemoryObject>(std::move(slot), std::move(service)).raw);
        return {};
    }

private:
    RefPtr<DeviceClaim> m_claim;
    uint32_t m_generation;
    RefPtr<MemoryObject> m_buffer;
    uint64_t m_address;
};

using schema::DMAPool;

class DmaPoolService final : public KernelServiceOf<DMAPool, DmaPoolService> {
public:
    DmaPoolService(RefPtr<DeviceClaim> claim, uint32_t pages)
        : m_claim(std::move(claim)), m_generation(m_claim->generation()), m_pages(pages) {}

    Result<void, gen::Exception> info(DMAPool::InfoParams::Reader,
                                      DMAPool::InfoResults::Builder results) {
        results.set_pages(m_pages);
        results.set_used(m_used);
        return {};
    }
    Result<void, gen::Exception> allocate(DMAPool::AllocateParams::Reader params,
                                          DMAPool::AllocateResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->current(m_generation))
            return Err{disconnected(claim_ended)};
        uint32_t pages = params.pages();
        if (pages == 0 || pages > m_pages - m_used)
            return Err{invalid_argument("pages must be 1 to what is left of the pool's budget")};
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        Process& caller = invocation().caller;
        // Zeroed frames: nothing of an earlier user reaches the device.
        // Contiguous only where the device sees physical addresses.
        auto buffer = MemoryObject::create(pages, !m_claim->dma_isolated(),
                                           caller.address_space().ledger_reference());
        if (buffer.is_error()) {
            if (buffer.error() == MemoryObject::Error::QuotaExceeded)
                return Err{overloaded("memory quota exceeded")};
            return Err{overloaded("out of memory")};
        }
        // (The budget again: another thread may have taken of it while
        // the frames were zeroed.)
        if (pages > m_pages - m_used)
            return Err{invalid_argument("pages must be 1 to what is left of the pool's budget")};
        auto attached = m_claim->attach_dma(buffer.value(), m_generation);
        if (attached.is_error()) {
            switch (attached.error()) {
            case DeviceClaim::DmaError::Ended:
                return Err{disconnected(claim_ended)};
            case DeviceClaim::DmaError::TooMany:
                return Err{overloaded("the claim holds its most DMA buffers")};
            case DeviceClaim::DmaError::UnitFailed:
                return Err{failed("the IOMMU unit did not finish an invalidation")};
            case DeviceClaim::DmaError::OutOfMemory:
                break;
            }
            return Err{overloaded("out of memory")};
        }
        auto service =
            make<DmaBufferService>(m_claim, m_generation, buffer.release_value(), attached.value());
        if (service.is_error()) {
            m_claim->detach_dma(attached.value(), pages, m_generation);
            return Err{service.error()};
        }
        m_used += pages;
        results.set_buffer(commit<DMABuffer>(std::move(slot), service.release_value()).raw);
        return {};
    }

private:
    RefPtr<DeviceClaim> m_claim;
    uint32_t m_generation;
    uint32_t m_pages;
    uint32_t m_used = 0;
};

using schema::Device;

constexpr manifest::LimitText dma_pages_rule{"a DMA pool is 1 to ", DeviceClaim::max_dma_pages,
                                             " pages"};

class DeviceService final : public KernelServiceOf<Device, DeviceService> {
public:
    explicit DeviceService(RefPtr<DeviceClaim> claim) : m_claim(std::move(claim)) {}
    // The last Device capability gone: the claim ends.
    ~DeviceService() override {
        g_kernel_lock.assert_held(); // every reference is dropped under it
        m_claim->end();
    }

    Result<void, gen::Exception> info(Device::InfoParams::Reader,
                                      Device::InfoResults::Builder results) {
        build_pci_function(m_claim->function(), results.init_function());
        results.set_dma_isolated(m_claim->dma_isolated());
        return {};
    }
    Result<void, gen::Exception> mmio(Device::MmioParams::Reader params,
                                      Device::MmioResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->active())
            return Err{disconnected(claim_faulted)};
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        auto window = m_claim->window(params.bar());
        if (window.is_error()) {
            switch (window.error()) {
            case DeviceClaim::WindowError::NotMemory:
                return Err{invalid_argument("no memory BAR there")};
            case DeviceClaim::WindowError::NotPageSized:
                return Err{invalid_argument("the BAR's window is not whole pages")};
            case DeviceClaim::WindowError::OutOfMemory:
                break;
            }
            return Err{overloaded("out of memory")};
        }
        auto service = make<DeviceMmioService>(m_claim, window.release_value(), params.bar());
        if (service.is_error())
            return Err{service.error()};
        results.set_region(commit<DeviceMmio>(std::move(slot), service.release_value()).raw);
        return {};
    }
    Result<void, gen::Exception> ports(Device::PortsParams::Reader params,
                                       Device::PortsResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->active())
            return Err{disconnected(claim_faulted)};
        auto range = m_claim->ports(params.bar());
        if (!range)
            return Err{invalid_argument("no I/O BAR there")};
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        auto service = make<DevicePortsService>(m_claim, *range, params.bar());
        if (service.is_error())
            return Err{service.error()};
        results.set_ports(commit<DevicePorts>(std::move(slot), service.release_value()).raw);
        return {};
    }
    Result<void, gen::Exception> interrupt(Device::InterruptParams::Reader params,
                                           Device::InterruptResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->active())
            return Err{disconnected(claim_faulted)};
        // A message is a write by the device to memory: it needs the bus.
        if (!m_claim->dma_allowed())
            return Err{permission_denied("interrupts are DMA: not given without an IOMMU to a "
                                         "claim not trusted with unisolated DMA")};
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        DeviceInterruptError failure{};
        auto routed = m_claim->route(params.entry(), failure);
        if (routed.is_error()) {
            switch (routed.error()) {
            case DeviceClaim::RouteError::AlreadyRouted:
                return Err{failed("that entry has its Interrupt already")};
            case DeviceClaim::RouteError::TooMany:
                return Err{overloaded("the claim routes its most interrupts")};
            case DeviceClaim::RouteError::Interrupt:
                break;
            }
            if (failure == DeviceInterruptError::NoVector ||
                failure == DeviceInterruptError::OutOfMemory)
                return Err{overloaded(to_string(failure))};
            return Err{invalid_argument(to_string(failure))};
        }
        auto service = make<InterruptService>(m_claim, routed.value());
        if (service.is_error())
            return Err{service.error()};
        results.set_interrupt(commit<Interrupt>(std::move(slot), service.release_value()).raw);
        return {};
    }
    Result<void, gen::Exception> dma_pool(Device::DmaPoolParams::Reader params,
                                          Device::DmaPoolResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->active())
            return Err{disconnected(claim_faulted)};
        if (!m_claim->dma_allowed())
            return Err{
                permission_denied("no IOMMU, and the claim is not trusted with unisolated DMA")};
        if (params.pages() == 0 || params.pages() > DeviceClaim::max_dma_pages)
            return Err{invalid_argument(dma_pages_rule)};
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        auto service = make<DmaPoolService>(m_claim, params.pages());
        if (service.is_error())
            return Err{service.error()};
        results.set_pool(commit<DMAPool>(std::move(slot), service.release_value()).raw);
        return {};
    }

    Result<void, gen::Exception> reset(Device::ResetParams::Reader, Device::ResetResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (!m_claim->active())
            return Err{disconnected(claim_faulted)};
        if (!m_claim->reset())
            return Err{disconnected("the claim ended: no DMA domain could be made again")};
        return {};
    }
    Result<void, gen::Exception> config(Device::ConfigParams::Reader params,
                                        Device::ConfigResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        uint32_t offset = params.offset();
        uint32_t length = params.length();
        if (offset > pci::config_space_size || length > pci::config_space_size - offset)
            return Err{invalid_argument("past the first 256 bytes of configuration space")};
        pci::ConfigAccess* access = pci_config();
        if (!access)
            return Err{failed("no PCI configuration access")};
        // Dword by dword, as configuration space is read.
        uint8_t bytes[pci::config_space_size];
        uint32_t first = offset & ~3u;
        for (uint32_t at = first; at < offset + length; at += 4) {
            uint32_t value = access->read32(m_claim->function().address, uint16_t(at));
            __builtin_memcpy(bytes + at, &value, 4);
        }
        results.set_data(std::span<const uint8_t>(bytes + offset, length));
        return {};
    }

private:
    RefPtr<DeviceClaim> m_claim;
};

using schema::DeviceManager;

// A schema DeviceSelector as lib/pci selects by it.
pci::Selector selector_of(schema::DeviceSelector::Reader selected) {
    pci::Selector selector;
    if (selected.is_address()) {
        auto at = selected.address();
        selector.kind = pci::Selector::Kind::Address;
        selector.address = {at.segment(), at.bus(), at.device(), at.function()};
    } else {
        auto identity = selected.identity();
        selector.vendor = identity.vendor_id();
        selector.device = identity.device_id();
        selector.index = identity.index();
    }
    return selector;
}

class DeviceManagerService final : public KernelServiceOf<DeviceManager, DeviceManagerService> {
public:
    Result<void, gen::Exception> present(DeviceManager::PresentParams::Reader params,
                                         DeviceManager::PresentResults::Builder results) {
        results.set_present(
            pci::select(pci_inventory().functions, selector_of(params.selector())).has_value());
        return {};
    }
    Result<void, gen::Exception> claim(DeviceManager::ClaimParams::Reader params,
                                       DeviceManager::ClaimResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        auto selected = params.selector();
        pci::Selector selector = selector_of(selected);
        ProcessCapTable::Reservation slot = TRY(reserve_slot());
        auto claimed = DeviceClaim::claim(selector, selected.unisolated_dma());
        if (claimed.is_error()) {
            if (claimed.error() == DeviceClaim::Error::OutOfMemory)
                return Err{overloaded(DeviceClaim::describe(claimed.error()))};
            return Err{failed(DeviceClaim::describe(claimed.error()))};
        }
        RefPtr<DeviceClaim> claim = claimed.release_value();
        auto service = make<DeviceService>(claim);
        if (service.is_error()) {
            claim->end();
            return Err{service.error()};
        }
        results.set_device(commit<Device>(std::move(slot), service.release_value()).raw);
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_device_manager_service() {
    return make_service<DeviceManagerService>();
}

} // namespace capos::kernel
