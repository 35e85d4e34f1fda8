// Where a virtio 1.x PCI function keeps its structures (Virtio 1.2, 4.1.4
// "Virtio Structure PCI Capabilities"): vendor-specific capabilities (id
// 0x09) on the function's capability list, each naming a structure's type,
// BAR, offset and length; and the layout of the common configuration
// structure those lead to.
//
// The capabilities are device input: parsing walks the list with
// lib/pci's CapabilityWalk over the configuration bytes the caller read,
// and checks each virtio capability against the configuration space and
// against the sizes of the function's BARs (which the caller sized with
// lib/pci's decode_bar). As the specification asks, a capability of a
// reserved type is ignored, and of each type the driver uses the first that
// passes every check; a later one of the same type, or one that fails a
// check, is skipped. Nothing here touches hardware or allocates.
//
// The driver does not negotiate VIRTIO_F_NOTIFICATION_DATA: a notification
// is the 16-bit queue index, so the notify structure is checked for 2-byte
// writes (its rules with notification data are stricter still).
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace capos::virtio {

// PCI identity (4.1.2): vendor 0x1AF4; modern device ids are 0x1040 plus the
// virtio device id.
inline constexpr uint16_t pci_vendor = 0x1af4;
inline constexpr uint16_t pci_modern_device_base = 0x1040;

// Feature bits the PCI transport cares about (6).
inline constexpr unsigned feature_version_1 = 32;
inline constexpr unsigned feature_access_platform = 33;
inline constexpr unsigned feature_notification_data = 38;

constexpr uint64_t feature_bit(unsigned bit) {
    return uint64_t{1} << bit;
}

// Where the addresses the driver gives the device point (DMABuffer's
// deviceAddress): physical memory (no IOMMU), or an IOMMU domain's device
// addresses, which only a device that goes through the platform's
// translation reaches.
enum class DmaAddresses : uint8_t { Physical, Translated };

// The structure a capability locates (cfg_type). Other values are reserved.
enum class StructureType : uint8_t {
    Common = 1,
    Notify = 2,
    Isr = 3,
    Device = 4,
    PciConfig = 5,
    SharedMemory = 8,
    Vendor = 9,
};

enum class VirtioPciError : uint8_t {
    NoCapabilities,    // the function has no capability list
    BadCapabilityList, // the list loops or points outside configuration space
    NotVirtio,         // the capability at the offset given is not vendor-specific
    Truncated,         // cap_len is short of the capability's fields, or runs past the space
    ReservedType,      // cfg_type is reserved (or one the driver does not parse)
    BadBar,            // the BAR index is reserved (above 5)
    OutsideBar,        // offset + length wraps or runs past the BAR's size
    Misaligned,        // the offset breaks the structure's alignment
    TooSmall,          // length is short of what the driver accesses
    BadMultiplier,     // notify_off_multiplier neither 0 nor an even power of two
    NoCommon,          // no usable common configuration capability
    NoNotify,          // no usable notification capability
    NoIsr,             // no usable ISR status capability
    NotifyOutside,     // a queue's notify register lies past the notify structure
};

const char* to_string(VirtioPciError error);

// One virtio capability (struct virtio_pci_cap, and the notify capability's
// notify_off_multiplier).
struct VirtioCapability {
    StructureType type = StructureType::Common;
    uint8_t position = 0; // the capability's offset in configuration space
    uint8_t bar = 0;
    uint8_t id = 0;
    uint32_t offset = 0; // in the BAR
    uint32_t length = 0;
    uint32_t notify_off_multiplier = 0; // Notify only
};

// The capability fields, as offsets in the capability (4.1.4).
inline constexpr size_t capability_type_offset = 3;
inline constexpr size_t capability_bar_offset = 4;
inline constexpr size_t capability_id_offset = 5;
inline constexpr size_t capability_offset_offset = 8;
inline constexpr size_t capability_length_offset = 12;
inline constexpr size_t capability_size = 16;
inline constexpr size_t notify_multiplier_offset = 16;
inline constexpr size_t notify_capability_size = 20;
inline constexpr size_t pci_config_capability_size = 20; // with pci_cfg_data
inline constexpr uint8_t max_bar = 5;

// Reads the virtio capability at `position` (an offset CapabilityWalk gave):
// NotVirtio, Truncated, ReservedType (shared memory and vendor data too),
// BadBar and BadMultiplier. The BAR window is check_structure's.
Result<VirtioCapability, VirtioPciError> parse_capability(std::span<const uint8_t> config,
                                                          uint8_t position);

// Checks where `capability` puts its structure: inside BAR `bar_sizes[bar]`
// (0 or absent: the BAR maps nothing), aligned and long enough for its type.
// The PCI configuration access capability locates no structure: always fine.
Result<void, VirtioPciError> check_structure(const VirtioCapability& capability,
                                             std::span<const uint64_t> bar_sizes);

// The structures a driver uses. `skipped` counts the capabilities of the
// types below that were not taken: malformed, or after a usable one.
struct PciLayout {
    VirtioCapability common;
    VirtioCapability notify;
    VirtioCapability isr;
    std::optional<VirtioCapability> device; // not every device type has one
    std::optional<VirtioCapability> pci_config;
    uint8_t skipped = 0;
};

// Walks the function's capability list (`config`: its configuration space,
// at least the 64-byte header) and takes the first usable capability of each
// type, `bar_sizes` indexed by BAR number. When no common, notify or ISR
// capability is usable, the error is what was wrong with the first of that
// type, or NoCommon / NoNotify / NoIsr when there was none.
Result<PciLayout, VirtioPciError> parse_layout(std::span<const uint8_t> config,
                                               std::span<const uint64_t> bar_sizes);

// Where queue `queue_notify_off` (read from the common configuration) is
// notified: an offset in the notify capability's BAR, cap.offset +
// queue_notify_off * notify_off_multiplier; NotifyOutside when the 16-bit
// register would not lie inside the structure.
Result<uint64_t, VirtioPciError> notify_offset(const VirtioCapability& notify,
                                               uint16_t queue_notify_off);

// The common configuration structure (struct virtio_pci_common_cfg, 4.1.4.3):
// field offsets in bytes; the width is the access the driver must use.
namespace common {
inline constexpr size_t device_feature_select = 0x00; // 32, read-write
inline constexpr size_t device_feature = 0x04;        // 32, read-only
inline constexpr size_t driver_feature_select = 0x08; // 32, read-write
inline constexpr size_t driver_feature = 0x0c;        // 32, read-write
inline constexpr size_t config_msix_vector = 0x10;    // 16, read-write
inline constexpr size_t num_queues = 0x12;            // 16, read-only
inline constexpr size_t device_status = 0x14;         // 8, read-write
inline constexpr size_t config_generation = 0x15;     // 8, read-only
inline constexpr size_t queue_select = 0x16;          // 16, read-write
inline constexpr size_t queue_size = 0x18;            // 16, read-write
inline constexpr size_t queue_msix_vector = 0x1a;     // 16, read-write
inline constexpr size_t queue_enable = 0x1c;          // 16, read-write
inline constexpr size_t queue_notify_off = 0x1e;      // 16, read-only
inline constexpr size_t queue_desc = 0x20;            // 64 as two 32-bit halves, low first
inline constexpr size_t queue_driver = 0x28;          // 64, the available ring
inline constexpr size_t queue_device = 0x30;          // 64, the used ring
inline constexpr size_t queue_notify_data = 0x38;     // 16, read-only; VIRTIO_F_NOTIF_CONFIG_DATA
inline constexpr size_t queue_reset = 0x3a;           // 16, read-write; VIRTIO_F_RING_RESET
// What every 1.x device has: the fields up to queue_device.
inline constexpr size_t minimum_size = 0x38;
} // namespace common

// The device status bits (2.1) and the ISR status bits (4.1.4.5).
inline constexpr uint8_t status_acknowledge = 1;
inline constexpr uint8_t status_driver = 2;
inline constexpr uint8_t status_driver_ok = 4;
inline constexpr uint8_t status_features_ok = 8;
inline constexpr uint8_t status_needs_reset = 64;
inline constexpr uint8_t status_failed = 128;
inline constexpr uint8_t isr_queue = 1;
inline constexpr uint8_t isr_config = 2;
// An MSI-X vector field's "no vector".
inline constexpr uint16_t no_msix_vector = 0xffff;

} // namespace capos::virtio
