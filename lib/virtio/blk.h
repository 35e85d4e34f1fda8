// virtio-blk (Virtio 1.2, 5.2 "Block Device"): the device's feature bits and
// configuration fields, the request a driver puts on its queue, and what a
// driver decides from them: the features it takes, the disk it serves (block
// size, size, the most blocks one request moves), how a buffer is cut into
// the data descriptors the device accepts, and what the device's status byte
// and identity string say. (Whether a request's blocks lie on the disk is
// every block driver's check: lib/block/request.h.)
//
// Pure functions on numbers and bytes: the driver (user/drivers/virtio_blk.cpp)
// does the register accesses and owns the DMA memory. Everything the device
// supplies (its features, configuration and the bytes it writes) is checked
// here before the driver acts on it.
//
// Units: the device counts 512-byte sectors whatever its block size; the
// driver serves blocks of block_size bytes (512, or the device's BLK_SIZE),
// block b starting at sector b * sectors_per_block.
#pragma once

#include "lib/base/result.h"
#include "lib/virtio/legacy.h"
#include "lib/virtio/pci_caps.h"
#include "lib/virtio/virtqueue.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::virtio::blk {

// PCI device ids: the modern one (0x1040 + device type 2), and the
// transitional one, which offers the same modern interface beside its legacy
// I/O BAR.
inline constexpr uint16_t device_type = 2;
inline constexpr uint16_t pci_device_modern = pci_modern_device_base + device_type;
inline constexpr uint16_t pci_device_transitional = 0x1001;

// Feature bits (5.2.3), and the transport's this driver cares about (6).
inline constexpr unsigned feature_size_max = 1;
inline constexpr unsigned feature_seg_max = 2;
inline constexpr unsigned feature_geometry = 4;
inline constexpr unsigned feature_read_only = 5;
inline constexpr unsigned feature_blk_size = 6;
inline constexpr unsigned feature_flush = 9;
inline constexpr unsigned feature_topology = 10;
inline constexpr unsigned feature_config_wce = 11;
inline constexpr unsigned feature_multiqueue = 12;

using virtio::feature_access_platform;
using virtio::feature_bit;

// The device configuration (struct virtio_blk_config, 5.2.4): byte offsets
// of the fields the driver reads, each valid only when its feature is
// negotiated (capacity always).
namespace config {
inline constexpr size_t capacity = 0x00; // 64 bits, in 512-byte sectors
inline constexpr size_t size_max = 0x08; // 32: the longest data descriptor
inline constexpr size_t seg_max = 0x0c;  // 32: data descriptors per request
inline constexpr size_t blk_size = 0x14; // 32: the block size in bytes
} // namespace config

// A request (5.2.6): this header (device-readable), the data, and one status
// byte the device writes last.
struct RequestHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);
inline constexpr uint32_t request_read = 0;      // VIRTIO_BLK_T_IN
inline constexpr uint32_t request_write = 1;     // VIRTIO_BLK_T_OUT
inline constexpr uint32_t request_flush = 4;     // VIRTIO_BLK_T_FLUSH
inline constexpr uint32_t request_get_id = 8;    // VIRTIO_BLK_T_GET_ID
inline constexpr uint8_t status_ok = 0;          // VIRTIO_BLK_S_OK
inline constexpr uint8_t status_io_error = 1;    // VIRTIO_BLK_S_IOERR
inline constexpr uint8_t status_unsupported = 2; // VIRTIO_BLK_S_UNSUPP
// What the driver writes in the status byte before it submits: a value no
// device answers with, so a status left unwritten is seen as such.
inline constexpr uint8_t status_unwritten = 0xff;
// GET_ID writes the device's identity string: at most 20 bytes, NUL-ended
// when shorter.
inline constexpr size_t id_bytes = 20;
inline constexpr uint32_t sector_bytes = 512;

enum class BlkError : uint8_t {
    NoVersion1,      // the device does not offer VIRTIO_F_VERSION_1 (legacy only)
    BypassesIommu,   // an IOMMU translates, and the device lacks ACCESS_PLATFORM
    BadBlockSize,    // BLK_SIZE not a power of two from 512 to the driver's largest
    NoSegments,      // SIZE_MAX or SEG_MAX of 0, or no whole block fits a request
    QueueTooSmall,   // not one request's descriptors fit the queue
    IoError,         // the device reported an I/O error
    Unsupported,     // the device does not support the request
    UnknownStatus,   // a status byte the specification does not define
    StatusUnwritten, // the device completed the request without writing its status
    ShortTransfer,   // the device says it wrote less than the request reads
};
const char* to_string(BlkError error);

using virtio::DeviceInterface;
using virtio::DmaAddresses;

// The features the driver takes of those `offered`: VERSION_1, which it
// requires through the modern interface (through the legacy one the
// features are the first 32 bits, and a legacy device, which cannot offer
// ACCESS_PLATFORM, is refused behind an IOMMU), and, when offered, RO,
// BLK_SIZE, FLUSH (which the driver must
// take: without it a device that caches writes could lose them), SEG_MAX,
// SIZE_MAX and ACCESS_PLATFORM (the device reaches memory through the
// platform's translation, as the addresses given to it are). Nothing else:
// no feature changes a request's layout, and EVENT_IDX is left out with
// every way of suppressing notifications (the driver notifies after each
// submission and never turns used-buffer interrupts off): the handshake
// that makes suppression safe (2.7.13.4, a full fence on each side) is not
// one under QEMU 7.2 (Debian 12's) running its CPUs on one thread, which drops the
// guest's fences while the device model runs on another thread, and a
// notification lost that way stalls the queue for good. With Translated addresses
// ACCESS_PLATFORM is required (BypassesIommu without it: such a device would
// take the domain's addresses for physical ones).
Result<uint64_t, BlkError> select_features(uint64_t offered, DmaAddresses addresses,
                                           DeviceInterface interface);

// How many bytes of the device configuration the driver reads under
// `features`: capacity, and each field a feature negotiated makes valid (a
// shorter configuration structure cannot be that device's).
constexpr size_t config_bytes_needed(uint64_t features) {
    if (features & feature_bit(feature_blk_size))
        return config::blk_size + 4;
    if (features & feature_bit(feature_seg_max))
        return config::seg_max + 4;
    if (features & feature_bit(feature_size_max))
        return config::size_max + 4;
    return config::capacity + 8;
}

// The configuration fields as read from the device.
struct DeviceConfig {
    uint64_t capacity = 0; // 512-byte sectors
    uint32_t size_max = 0;
    uint32_t seg_max = 0;
    uint32_t blk_size = 0;
};

// What the driver itself allows.
struct DriverLimits {
    uint32_t max_request_bytes = 256 * 1024; // data one request moves
    uint32_t max_segments = 8;               // data descriptors one request uses
    uint32_t max_block_size = 4096;          // at most BlockDevice.maxInline
    uint32_t max_requests = 32;              // requests in flight
};

// The disk the driver serves.
struct Disk {
    uint32_t block_size = sector_bytes;
    uint32_t sectors_per_block = 1;
    uint64_t blocks = 0;        // the capacity in whole blocks
    uint32_t max_blocks = 0;    // per request
    uint32_t segment_bytes = 0; // the longest data descriptor
    uint32_t max_segments = 0;  // data descriptors per request
    uint32_t max_requests = 0;  // requests in flight on a queue of the size given
    bool read_only = false;
    bool flush = false; // FLUSH negotiated: writes may sit in the device's cache
};

// The disk a device with configuration `config`, under the `features`
// negotiated, serves on a queue of `queue_size` descriptors within
// `limits`. A BLK_SIZE outside 512 to limits.max_block_size or not a power
// of two is refused (requests must be whole blocks of it); a capacity that
// is not whole blocks leaves its tail unserved.
Result<Disk, BlkError> describe_disk(const DeviceConfig& config, uint64_t features,
                                     uint16_t queue_size, const DriverLimits& limits);

// The first sector of block `lba` (one lib/block's check_range accepted).
constexpr uint64_t first_sector(const Disk& disk, uint64_t lba) {
    return lba * disk.sectors_per_block;
}

// Cuts `length` bytes at bus address `address` into segments of at most
// `segment_bytes` each, in order, into `out`; returns how many, or 0 when
// they do not fit `out` (or the length or segment size is 0).
size_t split_segments(uint64_t address, uint64_t length, uint32_t segment_bytes,
                      std::span<Segment> out);

// What the status byte of a completed request says: OK, or IoError,
// Unsupported, StatusUnwritten (still status_unwritten) or UnknownStatus.
Result<void, BlkError> check_status(uint8_t status);

// Whether a completed read's used length (the bytes the device says it
// wrote: data then status) covers the `data_bytes` it was to read:
// ShortTransfer otherwise.
Result<void, BlkError> check_read_length(uint32_t used_length, uint64_t data_bytes);

// The identity string GET_ID wrote: its bytes up to the first NUL (all 20
// without one), when they are printable ASCII and not empty; empty otherwise
// (the caller then names the device itself).
std::string_view identity_of(std::span<const uint8_t, id_bytes> id);

} // namespace capos::virtio::blk
