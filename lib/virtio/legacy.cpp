#include "lib/virtio/legacy.h"

namespace capos::virtio {

Result<DeviceInterface, VirtioPciError>
choose_interface(const Result<PciLayout, VirtioPciError>& layout, uint16_t device_id,
                 bool bar0_is_io) {
    if (layout.is_ok())
        return DeviceInterface::Modern;
    if (device_id >= legacy::first_transitional_device &&
        device_id <= legacy::last_transitional_device && bar0_is_io)
        return DeviceInterface::Legacy;
    return Err{layout.error()};
}

namespace legacy {

const char* to_string(LegacyError error) {
    switch (error) {
    case LegacyError::NoQueue:
        return "the device lacks a queue the driver needs";
    case LegacyError::BadQueueSize:
        return "the device's queue size is not a power of two";
    case LegacyError::Misaligned:
        return "a legacy queue must start on a 4 KiB boundary";
    case LegacyError::TooHigh:
        return "a legacy queue must lie below 16 TiB (its page number is 32 bits)";
    }
    return "unknown legacy virtio error";
}

QueueLayout queue_layout(uint16_t size) {
    QueueLayout layout;
    layout.descriptors = 0;
    layout.available = descriptor_table_bytes(size);
    size_t available_end = layout.available + available_ring_bytes(size);
    layout.used = (available_end + queue_alignment - 1) & ~(queue_alignment - 1);
    layout.total = layout.used + used_ring_bytes(size);
    return layout;
}

Result<uint16_t, LegacyError> queue_size_of(uint16_t device_size) {
    if (device_size == 0)
        return Err{LegacyError::NoQueue};
    if (!is_valid_queue_size(device_size))
        return Err{LegacyError::BadQueueSize};
    return device_size;
}

Result<uint32_t, LegacyError> queue_page_number(uint64_t bus_address) {
    if (bus_address % queue_alignment != 0)
        return Err{LegacyError::Misaligned};
    uint64_t page = bus_address >> queue_address_shift;
    if (page > UINT32_MAX)
        return Err{LegacyError::TooHigh};
    return uint32_t(page);
}

} // namespace legacy
} // namespace capos::virtio
