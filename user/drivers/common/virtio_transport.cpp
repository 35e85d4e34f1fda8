#include "user/drivers/common/virtio_transport.h"

#include "user/drivers/common/driver.h"

namespace capos::drivers {

namespace pci = capos::pci;

namespace {

// The device status register, once reached: a driver that gives up resets
// the device first, so that it stops using the queues' memory.
volatile uint8_t* g_device_status = nullptr;
const PortRegisters* g_legacy_registers = nullptr;

} // namespace

void VirtioTransport::start(uint16_t modern_id, uint16_t transitional_id,
                            std::string_view wrong_device) {
    m_device.read_function();
    if (m_device.vendor_id() != virtio::pci_vendor ||
        (m_device.device_id() != modern_id && m_device.device_id() != transitional_id))
        fail(wrong_device);
    uint8_t config[pci::config_space_size];
    m_device.read_config(config);
    uint64_t bar_sizes[pci::max_bars] = {};
    for (size_t bar = 0; bar < pci::max_bars; ++bar)
        bar_sizes[bar] = m_device.function().bars[bar].size;
    auto layout = virtio::parse_layout(config, bar_sizes);
    auto interface = virtio::choose_interface(layout, m_device.device_id(),
                                              m_device.io_bar(virtio::legacy::register_bar));
    if (interface.is_error())
        fail(virtio::to_string(interface.error()));
    m_interface = interface.value();
    if (legacy()) {
        start_legacy();
    } else {
        m_notify_capability = layout.value().notify;
        map_structures(layout.value());
    }
    reset();
}

void VirtioTransport::start_legacy() {
    m_ports = m_device.ports(virtio::legacy::register_bar, virtio::legacy::registers_bytes,
                             "the legacy device's I/O BAR is too small for its registers");
    g_legacy_registers = &m_ports;
    set_quiesce([] { g_legacy_registers->write<uint8_t>(virtio::legacy::device_status, 0); });
    // The device configuration is what follows the registers (after the
    // MSI-X vectors once MSI-X is on): the rest of the BAR.
    m_device_config_bytes =
        m_ports.count() - virtio::legacy::device_config_offset(/*msix_enabled=*/true);
}

VirtioConfig VirtioTransport::legacy_config() {
    // Where it starts moves with MSI-X's enable bit (4.1.4.8).
    return VirtioConfig(nullptr, &m_ports,
                        virtio::legacy::device_config_offset(m_device.msix_enabled()));
}

void VirtioTransport::write_status(uint8_t status) const {
    if (legacy())
        m_ports.write<uint8_t>(virtio::legacy::device_status, status);
    else
        m_common.write<uint8_t>(virtio::common::device_status, status);
}

uint8_t VirtioTransport::read_status() const {
    if (legacy())
        return m_ports.read<uint8_t>(virtio::legacy::device_status);
    return m_common.read<uint8_t>(virtio::common::device_status);
}

void VirtioTransport::map_structures(const virtio::PciLayout& layout) {
    const pci::Function& function = m_device.function();
    for (const virtio::VirtioCapability* structure :
         {&layout.common, &layout.notify, &layout.isr,
          layout.device ? &*layout.device
                        : static_cast<const virtio::VirtioCapability*>(nullptr)}) {
        if (!structure)
            continue;
        // The kernel leaves the MSI-X table's and pending bits' pages out of
        // every mapping: a structure there would fault when touched.
        uint64_t first = structure->offset / page_size;
        uint64_t end =
            (uint64_t(structure->offset) + structure->length + page_size - 1) / page_size;
        for (pci::PageRange pages :
             pci::kernel_pages(function, structure->bar, function.bars[structure->bar].size)) {
            if (!pages.empty() && first < pages.end && pages.first < end)
                fail("a virtio structure shares a page with the MSI-X table");
        }
        m_device.map_bar(structure->bar, uint64_t(structure->offset) + structure->length,
                         "a virtio structure lies past its BAR's window");
    }
    auto bar = [&](uint8_t index) { return m_device.map_bar(index, 0, {}); };
    m_common = Registers(bar(layout.common.bar) + layout.common.offset);
    g_device_status = m_common.base() + virtio::common::device_status;
    set_quiesce([] { *g_device_status = 0; });
    if (!layout.device)
        fail("the device has no device-specific configuration");
    m_device_config = Registers(bar(layout.device->bar) + layout.device->offset);
    m_device_config_bytes = layout.device->length;
    m_notify_bar = bar(layout.notify.bar);
}

void VirtioTransport::reset() {
    write_status(0);
    // The reset is done when the status reads back 0 (4.1.4.3.2).
    for (uint32_t poll = 0; poll < reset_polls; ++poll) {
        if (read_status() == 0)
            return;
    }
    fail("the device does not finish its reset");
}

uint64_t VirtioTransport::begin_negotiation() {
    m_status = virtio::status_acknowledge;
    write_status(m_status);
    m_status |= virtio::status_driver;
    write_status(m_status);
    if (legacy())
        return m_ports.read<uint32_t>(virtio::legacy::device_features);
    uint64_t offered = 0;
    for (uint32_t half = 0; half < 2; ++half) {
        m_common.write<uint32_t>(virtio::common::device_feature_select, half);
        offered |= uint64_t(m_common.read<uint32_t>(virtio::common::device_feature)) << (32 * half);
    }
    return offered;
}

void VirtioTransport::finish_negotiation(uint64_t features) {
    if (legacy()) {
        m_ports.write<uint32_t>(virtio::legacy::driver_features, uint32_t(features));
        return;
    }
    for (uint32_t half = 0; half < 2; ++half) {
        m_common.write<uint32_t>(virtio::common::driver_feature_select, half);
        m_common.write<uint32_t>(virtio::common::driver_feature, uint32_t(features >> (32 * half)));
    }
    m_status |= virtio::status_features_ok;
    write_status(m_status);
    // The device keeps FEATURES_OK only when it accepts them (3.1.1 step 6).
    if ((read_status() & virtio::status_features_ok) == 0)
        refuse_device("the device refused the features chosen");
}

void VirtioTransport::refuse_device(std::string_view why) {
    write_status(virtio::status_failed);
    fail(why);
}

void VirtioTransport::configuration_unstable() {
    fail("the device's configuration keeps changing while it is read");
}

uint16_t VirtioTransport::queue_size(uint16_t index, uint16_t wanted) {
    if (legacy()) {
        if (index >= max_queues)
            fail("the device lacks a queue it needs");
        m_ports.write<uint16_t>(virtio::legacy::queue_select, index);
        auto size =
            virtio::legacy::queue_size_of(m_ports.read<uint16_t>(virtio::legacy::queue_size));
        if (size.is_error())
            fail(virtio::legacy::to_string(size.error()));
        // The device's size is the queue's: the driver keeps state for
        // `wanted` descriptors at most.
        if (size.value() > wanted)
            fail("the legacy device's queue is larger than the driver can use");
        return size.value();
    }
    if (index >= max_queues || m_common.read<uint16_t>(virtio::common::num_queues) <= index)
        fail("the device lacks a queue it needs");
    m_common.write<uint16_t>(virtio::common::queue_select, index);
    uint16_t maximum = m_common.read<uint16_t>(virtio::common::queue_size);
    if (maximum == 0)
        fail("a queue the driver needs is not available");
    // A split queue's size is a power of two: the largest one allowed.
    uint16_t size = 1;
    while (size * 2 <= maximum && size * 2 <= wanted)
        size = uint16_t(size * 2);
    return size;
}

uint32_t VirtioTransport::queue_pages(uint16_t size) const {
    size_t bytes =
        legacy() ? virtio::legacy::queue_layout(size).total : virtio::contiguous_layout(size).total;
    return uint32_t((bytes + page_size - 1) / page_size);
}

virtio::Virtqueue& VirtioTransport::set_up_queue(uint16_t index, uint16_t size, uint16_t msix_entry,
                                                 std::span<virtio::DescriptorState> state,
                                                 std::optional<virtio::Virtqueue>& queue) {
    CAPOS_ASSERT(index < max_queues && state.size() >= size);
    virtio::QueueLayout layout =
        legacy() ? virtio::legacy::queue_layout(size) : virtio::contiguous_layout(size);
    DmaArea memory = m_device.allocate_dma(queue_pages(size), "a queue's DMA memory");
    auto area = [&](size_t offset, size_t bytes) {
        return virtio::QueueArea{{memory.memory + offset, bytes}, memory.device_address + offset};
    };
    virtio::QueueMemory parts{area(layout.descriptors, virtio::descriptor_table_bytes(size)),
                              area(layout.available, virtio::available_ring_bytes(size)),
                              area(layout.used, virtio::used_ring_bytes(size)), state.first(size)};
    // No EVENT_IDX: every driver notifies each batch and keeps interrupts on
    // (lib/virtio/blk.h, select_features).
    auto made = virtio::Virtqueue::create(parts, size, virtio::EventIndex::Off);
    if (made.is_error())
        fail(virtio::to_string(made.error()));
    queue.emplace(made.release_value());

    if (legacy()) {
        set_up_legacy_queue(index, memory.device_address, msix_entry);
        return *queue;
    }
    m_common.write<uint16_t>(virtio::common::queue_select, index);
    m_common.write<uint16_t>(virtio::common::queue_size, size);
    m_common.write64(virtio::common::queue_desc, queue->descriptor_bus_address());
    m_common.write64(virtio::common::queue_driver, queue->available_bus_address());
    m_common.write64(virtio::common::queue_device, queue->used_bus_address());
    // No vector for configuration changes; the queue's entry (routed by the
    // driver first: the kernel enables MSI-X). The device says it has no
    // vector by reading back "no vector".
    m_common.write<uint16_t>(virtio::common::config_msix_vector, virtio::no_msix_vector);
    m_common.write<uint16_t>(virtio::common::queue_msix_vector, msix_entry);
    if (m_common.read<uint16_t>(virtio::common::queue_msix_vector) != msix_entry)
        fail("the device gave a queue no MSI-X vector");

    auto notify_at = virtio::notify_offset(
        m_notify_capability, m_common.read<uint16_t>(virtio::common::queue_notify_off));
    if (notify_at.is_error())
        fail(virtio::to_string(notify_at.error()));
    m_notify[index] = reinterpret_cast<volatile uint16_t*>(m_notify_bar + notify_at.value());
    m_common.write<uint16_t>(virtio::common::queue_enable, 1);
    return *queue;
}

void VirtioTransport::set_up_legacy_queue(uint16_t index, uint64_t bus_address,
                                          uint16_t msix_entry) {
    // The vector registers are there only while MSI-X is on: the driver
    // routes the queue's entry first (the kernel enables MSI-X then).
    if (!m_device.msix_enabled())
        fail("MSI-X is off: a legacy queue cannot be bound to its entry");
    auto page = virtio::legacy::queue_page_number(bus_address);
    if (page.is_error())
        fail(virtio::legacy::to_string(page.error()));
    m_ports.write<uint16_t>(virtio::legacy::queue_select, index);
    m_ports.write<uint16_t>(virtio::legacy::config_msix_vector, virtio::no_msix_vector);
    m_ports.write<uint16_t>(virtio::legacy::queue_msix_vector, msix_entry);
    if (m_ports.read<uint16_t>(virtio::legacy::queue_msix_vector) != msix_entry)
        fail("the device gave a queue no MSI-X vector");
    // Giving the address is what makes the queue live (there is no enable).
    m_ports.write<uint32_t>(virtio::legacy::queue_address, page.value());
}

void VirtioTransport::driver_ok() {
    m_status |= virtio::status_driver_ok;
    write_status(m_status);
}

} // namespace capos::drivers
