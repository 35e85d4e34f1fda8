// A virtio device over PCI (Virtio 1.2, 4.1), as every virtio driver
// brings it up (3.1.1): through its modern interface, its virtio
// capabilities read from configuration space (lib/virtio/pci_caps.h) and
// the BARs they lie in mapped; or, on a function that has no usable modern
// interface (a legacy-only device), through the legacy registers of its I/O
// BAR 0 (lib/virtio/legacy.h, each access a DevicePorts call). Then the
// device reset, the features chosen and accepted, its queues laid out in
// DMA memory and bound to MSI-X entries, then DRIVER_OK. The device's own
// part (which features, its configuration, what goes on its queues) is the
// driver's: virtio_blk.cpp, virtio_net.cpp.
//
// Once the registers are reached, a driver that fails resets the device
// first (its status written 0), so that it stops using the driver's memory
// (driver.h's quiesce hook).
#pragma once

#include "lib/base/result.h"
#include "lib/virtio/legacy.h"
#include "lib/virtio/pci_caps.h"
#include "lib/virtio/virtqueue.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/registers.h"

#include <optional>
#include <span>

namespace capos::drivers {

// The device-specific configuration, through either interface: reads of
// the field's width.
class VirtioConfig {
public:
    VirtioConfig(const Registers* registers, const PortRegisters* ports, uint32_t base)
        : m_registers(registers), m_ports(ports), m_base(base) {}
    template <typename T>
    T read(uint32_t offset) const {
        if (m_ports)
            return m_ports->read<T>(m_base + offset);
        return m_registers->read<T>(offset);
    }
    // A 64-bit field as two 32-bit halves, low first.
    uint64_t read64(uint32_t offset) const {
        return read<uint32_t>(offset) | uint64_t(read<uint32_t>(offset + 4)) << 32;
    }

private:
    const Registers* m_registers;
    const PortRegisters* m_ports;
    uint32_t m_base;
};

class VirtioTransport {
public:
    explicit VirtioTransport(ClaimedDevice& device) : m_device(device) {}

    // Reads the function (which must be a virtio device with one of the
    // two device ids, else the driver fails saying `wrong_device`), finds
    // its virtio structures and maps them, or its legacy registers (a
    // device-specific configuration is required). Then resets the device.
    void start(uint16_t modern_id, uint16_t transitional_id, std::string_view wrong_device);
    // Which interface start() took.
    virtio::DeviceInterface interface() const { return m_interface; }
    bool legacy() const { return m_interface == virtio::DeviceInterface::Legacy; }

    // ACKNOWLEDGE, DRIVER, then the features `choose` takes of those the
    // device offers (a Result of the features or an error with to_string),
    // FEATURES_OK, checked: the device keeps it only when it accepts them
    // (the legacy interface has no FEATURES_OK: the features are written
    // and taken). The features negotiated.
    template <typename Choose>
    uint64_t negotiate(Choose choose) {
        uint64_t offered = begin_negotiation();
        auto chosen = choose(offered);
        if (chosen.is_error())
            refuse_device(to_string(chosen.error()));
        finish_negotiation(chosen.value());
        return chosen.value();
    }

    // The device-specific configuration's length.
    uint64_t device_config_bytes() const { return m_device_config_bytes; }
    // Reads the configuration with `read` (given a VirtioConfig) until the
    // generation is the same before and after (4.1.4.3.1): a read of
    // several fields is consistent. The legacy interface has no generation:
    // one read.
    template <typename Read>
    auto read_config(Read read) {
        if (legacy())
            return read(legacy_config());
        VirtioConfig config_view(&m_device_config, nullptr, 0);
        for (uint32_t attempt = 0; attempt < config_read_attempts; ++attempt) {
            uint8_t before = m_common.read<uint8_t>(virtio::common::config_generation);
            auto config = read(config_view);
            if (m_common.read<uint8_t>(virtio::common::config_generation) == before)
                return config;
        }
        configuration_unstable();
    }

    // The size queue `index` will have: the largest power of two at most
    // `wanted` and the device's maximum; through the legacy interface the
    // device's own size, which must be at most `wanted`. Fails when the
    // device has no such queue.
    uint16_t queue_size(uint16_t index, uint16_t wanted);
    // The DMA pages a queue of `size` takes.
    uint32_t queue_pages(uint16_t size) const;
    // Lays queue `index` of `size` (from queue_size) out in DMA memory of
    // the claim's pool, tells the device where, binds it to MSI-X entry
    // `msix_entry` (checked: the device may refuse) and enables it. `state`:
    // the driver's private record of each descriptor, `size` of them.
    virtio::Virtqueue& set_up_queue(uint16_t index, uint16_t size, uint16_t msix_entry,
                                    std::span<virtio::DescriptorState> state,
                                    std::optional<virtio::Virtqueue>& queue);
    // Writes queue `index`'s notify register: the device looks at the queue.
    void notify(uint16_t index) const {
        if (legacy())
            m_ports.write<uint16_t>(virtio::legacy::queue_notify, index);
        else
            *m_notify[index] = index;
    }

    // DRIVER_OK: the device may use its queues.
    void driver_ok();
    // Resets the device: it stops using every queue and buffer.
    void stop() { write_status(0); }

    static constexpr uint16_t max_queues = 4;

private:
    static constexpr uint32_t reset_polls = 1000000;
    static constexpr uint32_t config_read_attempts = 100;

    void map_structures(const virtio::PciLayout& layout);
    void start_legacy();
    void set_up_legacy_queue(uint16_t index, uint64_t bus_address, uint16_t msix_entry);
    VirtioConfig legacy_config();
    void write_status(uint8_t status) const;
    uint8_t read_status() const;
    void reset();
    uint64_t begin_negotiation();
    void finish_negotiation(uint64_t features);
    [[noreturn]] void refuse_device(std::string_view why);
    [[noreturn]] void configuration_unstable();

    ClaimedDevice& m_device;
    virtio::DeviceInterface m_interface = virtio::DeviceInterface::Modern;
    PortRegisters m_ports; // legacy
    Registers m_common;
    Registers m_device_config;
    uint64_t m_device_config_bytes = 0;
    uint8_t* m_notify_bar = nullptr;
    virtio::VirtioCapability m_notify_capability;
    volatile uint16_t* m_notify[max_queues] = {};
    uint8_t m_status = 0;
};

} // namespace capos::drivers
