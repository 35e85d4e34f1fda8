#include "user/drivers/common/claimed_device.h"

#include "lib/pci/describe.h"
#include "user/drivers/common/driver.h"
#include "user/rt/line.h"
#include "user/rt/pci.h"

namespace capos::drivers {

using rt::Capability;
using schema::DeviceMmio;
using schema::DMABuffer;
using schema::DMAPool;
using schema::ExceptionType;

void ClaimedDevice::read_function() {
    auto info = value_or_fail(m_device->info(), "Device.info");
    m_dma_isolated = info.dma_isolated();
    auto function = info.function();
    m_vendor_id = function.vendor_id();
    m_device_id = function.device_id();
    m_class_triple = uint32_t(function.class_code()) << 16 | uint32_t(function.subclass()) << 8 |
                     function.prog_if();

    m_function = rt::pci_function_of(function);
    m_address_length = pci::format_address(m_function.address, m_address);
    for (size_t i = 0; i < pci::max_bars; ++i) {
        pci::Bar& bar = m_function.bars[i];
        if (bar.kind == pci::Bar::Kind::Io) {
            m_io_bars[i] = bar;
            bar = {}; // I/O BARs map nothing (their ports are DevicePorts')
        }
    }
    if (!function.has_msix())
        fail("the device has no MSI-X (its queue interrupt needs a vector of its own)");
}

void ClaimedDevice::read_config(std::span<uint8_t, pci::config_space_size> config) {
    auto read = value_or_fail(m_device->config(0, uint16_t(config.size())), "Device.config");
    if (read.data().size() != config.size())
        fail("Device.config answered with the wrong length");
    __builtin_memcpy(config.data(), read.data().data(), config.size());
}

uint8_t* ClaimedDevice::map_bar(uint8_t bar, uint64_t needed, std::string_view too_small) {
    if (m_bars[bar])
        return m_bars[bar];
    auto region = value_or_fail(m_device->mmio(bar), "Device.mmio");
    Capability<DeviceMmio> mmio(abi::CapId{region.region()});
    auto info = value_or_fail(mmio->info(), "DeviceMmio.info");
    if (info.bytes() < needed)
        fail(too_small);
    auto mapped = value_or_fail(mmio->map(0), "DeviceMmio.map");
    m_bars[bar] = reinterpret_cast<uint8_t*>(mapped.address());
    // The mapping stays until the driver ends; the capability is not needed
    // for it (released when `mmio` goes).
    return m_bars[bar];
}

PortRegisters ClaimedDevice::ports(uint8_t bar, uint32_t needed, std::string_view too_small) {
    auto given = value_or_fail(m_device->ports(bar), "Device.ports");
    abi::CapId ports{given.ports()};
    schema::DevicePorts::Client<rt::ThreadTransport> client(rt::thread_transport(), ports.raw);
    uint32_t count = value_or_fail(client.info(), "DevicePorts.info").count();
    if (count < needed)
        fail(too_small);
    // Held until the driver ends.
    return PortRegisters(ports, count);
}

bool ClaimedDevice::msix_enabled() {
    constexpr uint16_t message_control = 2; // in the MSI-X capability
    constexpr uint16_t msix_enable = 1u << 15;
    auto read = value_or_fail(
        m_device->config(uint16_t(m_function.msix.offset + message_control), 2), "Device.config");
    if (read.data().size() != 2)
        fail("Device.config answered with the wrong length");
    uint16_t control = uint16_t(read.data()[0] | read.data()[1] << 8);
    return (control & msix_enable) != 0;
}

uint32_t PortRegisters::read_port(uint32_t offset, uint8_t width) const {
    schema::DevicePorts::Client<rt::ThreadTransport> client(rt::thread_transport(), m_ports.raw);
    return value_or_fail(client.read(offset, width), "DevicePorts.read").value();
}

void PortRegisters::write_port(uint32_t offset, uint8_t width, uint32_t value) const {
    schema::DevicePorts::Client<rt::ThreadTransport> client(rt::thread_transport(), m_ports.raw);
    (void)value_or_fail(client.write(offset, width, value), "DevicePorts.write");
}

void ClaimedDevice::make_pool(uint32_t pages) {
    auto pool = value_or_fail(m_device->dma_pool(pages), "Device.dmaPool");
    m_pool.emplace(abi::CapId{pool.pool()});
}

DmaArea ClaimedDevice::allocate_dma(uint32_t pages, std::string_view what, abi::CapId* memory) {
    auto allocated = value_or_fail((*m_pool)->allocate(pages), what);
    Capability<DMABuffer> buffer(abi::CapId{allocated.buffer()});
    DmaArea area;
    area.device_address = value_or_fail(buffer->info(), what).device_address();
    area.memory = reinterpret_cast<uint8_t*>(value_or_fail(buffer->map(0), what).address());
    if (memory)
        *memory = abi::CapId{value_or_fail(buffer->memory(), what).memory()};
    keep(buffer);
    return area;
}

Result<SharedDma, gen::Exception> ClaimedDevice::allocate_shared(uint32_t pages) {
    auto allocated = (*m_pool)->allocate(pages);
    if (allocated.is_error()) {
        if (allocated.error().kind == gen::CallErrorKind::Exception &&
            allocated.error().exception.type == ExceptionType::Overloaded)
            return Err{gen::Exception{ExceptionType::Overloaded, "out of DMA memory"}};
        call_failed("DMAPool.allocate", allocated.error());
    }
    Capability<DMABuffer> buffer(abi::CapId{allocated.value().buffer()});
    SharedDma shared;
    shared.device_address = value_or_fail(buffer->info(), "DMABuffer.info").device_address();
    shared.memory = value_or_fail(buffer->memory(), "DMABuffer.memory").memory();
    keep(buffer);
    return shared;
}

abi::CapId ClaimedDevice::route_interrupt(uint16_t entry) {
    auto routed = value_or_fail(m_device->interrupt(entry), "Device.interrupt");
    return abi::CapId{routed.interrupt()};
}

void ClaimedDevice::keep(Capability<DMABuffer>& buffer) {
    // (There is a place for every buffer a driver makes: its own areas and
    // the transfer buffers' most.)
    CAPOS_ASSERT(m_kept_count < std::size(m_kept));
    m_kept[m_kept_count++] = buffer.leak();
}

} // namespace capos::drivers
