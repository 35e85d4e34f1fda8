// The legacy virtio PCI interface (Virtio 1.2, 4.1.4.8 "Legacy Interfaces:
// A Note on PCI Device Layout", 2.7.2 "Legacy Interfaces: A Note on
// Virtqueue Layout"): what a device from before virtio 1.0 offers, and what
// a transitional device offers beside its modern interface. Its registers
// are in I/O BAR 0 (a driver reaches them through DevicePorts); the features
// are the first 32 bits alone; a queue's size is the device's, and the
// queue lies in one physically contiguous area whose used ring starts on a
// 4 KiB boundary, given to the device as its page number.
//
// A driver uses the modern interface whenever the function offers it
// (choose_interface) and the legacy one only for a function that has
// nothing else. Pure functions on numbers: nothing here touches hardware.
#pragma once

#include "lib/base/result.h"
#include "lib/virtio/pci_caps.h"
#include "lib/virtio/virtqueue.h"
#include <cstddef>
#include <cstdint>

namespace capos::virtio {

// Which of a function's interfaces a driver goes through.
enum class DeviceInterface : uint8_t { Modern, Legacy };

// The interface for a function whose virtio capabilities parsed to `layout`
// (parse_layout), with PCI device id `device_id`, whose BAR 0 is an I/O
// BAR or not: Modern when the capabilities are usable; Legacy when they are
// not (a device that has none is legacy only), the device id is a
// transitional one (0x1000 to 0x103f) and BAR 0 is in I/O space; otherwise
// the layout's error.
Result<DeviceInterface, VirtioPciError>
choose_interface(const Result<PciLayout, VirtioPciError>& layout, uint16_t device_id,
                 bool bar0_is_io);

namespace legacy {

inline constexpr uint16_t first_transitional_device = 0x1000;
inline constexpr uint16_t last_transitional_device = 0x103f;
inline constexpr uint8_t register_bar = 0;

// The registers at the start of BAR 0 (4.1.4.8): offsets in bytes, and the
// width each must be accessed with.
inline constexpr uint32_t device_features = 0;     // 32, read-only: feature bits 0 to 31
inline constexpr uint32_t driver_features = 4;     // 32, read-write
inline constexpr uint32_t queue_address = 8;       // 32, read-write: the queue's page number
inline constexpr uint32_t queue_size = 12;         // 16, read-only
inline constexpr uint32_t queue_select = 14;       // 16, read-write
inline constexpr uint32_t queue_notify = 16;       // 16, read-write
inline constexpr uint32_t device_status = 18;      // 8, read-write
inline constexpr uint32_t isr_status = 19;         // 8, read-only (reading clears it)
inline constexpr uint32_t config_msix_vector = 20; // 16, only while MSI-X is enabled
inline constexpr uint32_t queue_msix_vector = 22;  // 16, only while MSI-X is enabled

// Where the device-specific configuration starts: after the MSI-X vector
// registers while MSI-X is enabled in the function, in their place when not.
constexpr uint32_t device_config_offset(bool msix_enabled) {
    return msix_enabled ? 24 : 20;
}
// The registers BAR 0 must hold for a driver to use them (with MSI-X).
inline constexpr uint32_t registers_bytes = 24;

// The legacy queue layout: the descriptor table, the available ring right
// after it, the used ring at the next 4 KiB boundary.
inline constexpr size_t queue_alignment = 4096;
inline constexpr unsigned queue_address_shift = 12;
QueueLayout queue_layout(uint16_t size);

enum class LegacyError : uint8_t {
    NoQueue,      // the device's size for the queue is 0: it has no such queue
    BadQueueSize, // the device's size is not a power of two
    Misaligned,   // the queue's bus address is not on a 4 KiB boundary
    TooHigh,      // the queue's page number does not fit the 32-bit register
};
const char* to_string(LegacyError error);

// The size a queue of the device's `device_size` has: the device's own (a
// legacy driver cannot choose), checked.
Result<uint16_t, LegacyError> queue_size_of(uint16_t device_size);

// What the queue address register takes for a queue at `bus_address`.
Result<uint32_t, LegacyError> queue_page_number(uint64_t bus_address);

} // namespace legacy
} // namespace capos::virtio
