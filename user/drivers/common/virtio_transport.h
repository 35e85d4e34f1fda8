// A virtio 1.x device over PCI (Virtio 1.2, 4.1), as every virtio driver
// brings it up (3.1.1): its virtio capabilities read from configuration
// space (lib/virtio/pci_caps.h), the BARs they lie in mapped, the device
// reset, the features chosen and accepted, its queues laid out in DMA
// memory and bound to MSI-X entries, then DRIVER_OK. The device's own part
// (which features, its configuration, what goes on its queues) is the
// driver's: virtio_blk.cpp, virtio_net.cpp.
//
// Once the registers are mapped, a driver that fails resets the device
// first (its status written 0), so that it stops using the driver's memory
// (driver.h's quiesce hook).
#pragma once

#include "lib/base/result.h"
#include "lib/virtio/pci_caps.h"
#include "lib/virtio/virtqueue.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/registers.h"

#include <optional>
#include <span>

namespace capos::drivers {

class VirtioTransport {
public:
    explicit VirtioTransport(ClaimedDevice& device) : m_device(device) {}

    // Reads the function (which must be a virtio device with one of the
    // two device ids, else the driver fails saying `wrong_device`), finds
    // its virtio structures and maps them; a device-specific configuration
    // is required. Then resets the device.
    void start(uint16_t modern_id, uint16_t transitional_id, std::string_view wrong_device);

    // ACKNOWLEDGE, DRIVER, then the features `choose` takes of those the
    // device offers (a Result of the features or an error with to_string),
    // FEATURES_OK, checked: the device keeps it only when it accepts them.
    // The features negotiated.
    template <typename Choose>
    uint64_t negotiate(Choose choose) {
        uint64_t offered = begin_negotiation();
        auto chosen = choose(offered);
        if (chosen.is_error())
            refuse_device(to_string(chosen.error()));
        finish_negotiation(chosen.value());
        return chosen.value();
    }

    // The device-specific configuration and its length.
    const Registers& device_config() const { return m_device_config; }
    uint64_t device_config_bytes() const { return m_device_config_bytes; }
    // Reads the configuration with `read` until the generation is the same
    // before and after (4.1.4.3.1): a read of several fields is consistent.
    template <typename Read>
    auto read_config(Read read) {
        for (uint32_t attempt = 0; attempt < config_read_attempts; ++attempt) {
            uint8_t before = m_common.read<uint8_t>(virtio::common::config_generation);
            auto config = read(m_device_config);
            if (m_common.read<uint8_t>(virtio::common::config_generation) == before)
                return config;
        }
        configuration_unstable();
    }

    // The size queue `index` will have: the largest power of two at most
    // `wanted` and the device's maximum. Fails when the device has no such
    // queue.
    uint16_t queue_size(uint16_t index, uint16_t wanted);
    // The DMA pages a queue of `size` takes.
    static uint32_t queue_pages(uint16_t size);
    // Lays queue `index` of `size` (from queue_size) out in DMA memory of
    // the claim's pool, tells the device where, binds it to MSI-X entry
    // `msix_entry` (checked: the device may refuse) and enables it. `state`:
    // the driver's private record of each descriptor, `size` of them.
    virtio::Virtqueue& set_up_queue(uint16_t index, uint16_t size, uint16_t msix_entry,
                                    std::span<virtio::DescriptorState> state,
                                    std::optional<virtio::Virtqueue>& queue);
    // Writes queue `index`'s notify register: the device looks at the queue.
    void notify(uint16_t index) const { *m_notify[index] = index; }

    // DRIVER_OK: the device may use its queues.
    void driver_ok();
    // Resets the device: it stops using every queue and buffer.
    void stop() { m_common.write<uint8_t>(virtio::common::device_status, 0); }

    static constexpr uint16_t max_queues = 4;

private:
    static constexpr uint32_t reset_polls = 1000000;
    static constexpr uint32_t config_read_attempts = 100;

    void map_structures(const virtio::PciLayout& layout);
    void reset();
    uint64_t begin_negotiation();
    void finish_negotiation(uint64_t features);
    [[noreturn]] void refuse_device(std::string_view why);
    [[noreturn]] void configuration_unstable();

    ClaimedDevice& m_device;
    Registers m_common;
    Registers m_device_config;
    uint64_t m_device_config_bytes = 0;
    uint8_t* m_notify_bar = nullptr;
    virtio::VirtioCapability m_notify_capability;
    volatile uint16_t* m_notify[max_queues] = {};
    uint8_t m_status = 0;
};

} // namespace capos::drivers
