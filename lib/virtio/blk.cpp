#include "lib/virtio/blk.h"

namespace capos::virtio::blk {

namespace {

constexpr bool is_power_of_two(uint64_t value) {
    return value != 0 && (value & (value - 1)) == 0;
}

} // namespace

const char* to_string(BlkError error) {
    switch (error) {
    case BlkError::NoVersion1:
        return "the device does not offer VIRTIO_F_VERSION_1 (legacy only)";
    case BlkError::BypassesIommu:
        return "the device bypasses the IOMMU (no VIRTIO_F_ACCESS_PLATFORM): it would not reach "
               "its buffers";
    case BlkError::BadBlockSize:
        return "the device's block size is not a power of two from 512 to 4096";
    case BlkError::NoSegments:
        return "the device's segment limits leave no room for a block";
    case BlkError::QueueTooSmall:
        return "the device's queue cannot hold one request";
    case BlkError::IoError:
        return "the device reported an I/O error";
    case BlkError::Unsupported:
        return "the device does not support the request";
    case BlkError::UnknownStatus:
        return "the device wrote an unknown request status";
    case BlkError::StatusUnwritten:
        return "the device completed the request without a status";
    case BlkError::ShortTransfer:
        return "the device wrote less than the request reads";
    }
    return "unknown virtio-blk error";
}

Result<uint64_t, BlkError> select_features(uint64_t offered, DmaAddresses addresses,
                                           DeviceInterface interface) {
    if (interface == DeviceInterface::Legacy)
        offered &= UINT32_MAX; // the legacy interface's features are 32 bits
    else if ((offered & feature_bit(feature_version_1)) == 0)
        return Err{BlkError::NoVersion1};
    if (addresses == DmaAddresses::Translated &&
        (offered & feature_bit(feature_access_platform)) == 0)
        return Err{BlkError::BypassesIommu};
    constexpr uint64_t taken = feature_bit(feature_version_1) | feature_bit(feature_read_only) |
                               feature_bit(feature_blk_size) | feature_bit(feature_flush) |
                               feature_bit(feature_seg_max) | feature_bit(feature_size_max) |
                               feature_bit(feature_access_platform);
    return offered & taken;
}

Result<Disk, BlkError> describe_disk(const DeviceConfig& config, uint64_t features,
                                     uint16_t queue_size, const DriverLimits& limits) {
    Disk disk;
    if (features & feature_bit(feature_blk_size)) {
        if (!is_power_of_two(config.blk_size) || config.blk_size < sector_bytes ||
            config.blk_size > limits.max_block_size)
            return Err{BlkError::BadBlockSize};
        disk.block_size = config.blk_size;
    }
    disk.sectors_per_block = disk.block_size / sector_bytes;
    disk.blocks = config.capacity / disk.sectors_per_block;
    disk.read_only = (features & feature_bit(feature_read_only)) != 0;
    disk.flush = (features & feature_bit(feature_flush)) != 0;

    // A data descriptor is at most SIZE_MAX bytes, a request at most SEG_MAX
    // of them; the driver's own limits bound both.
    disk.segment_bytes = limits.max_request_bytes;
    if (features & feature_bit(feature_size_max)) {
        if (config.size_max == 0)
            return Err{BlkError::NoSegments};
        if (config.size_max < disk.segment_bytes)
            disk.segment_bytes = config.size_max;
    }
    disk.max_segments = limits.max_segments;
    if (features & feature_bit(feature_seg_max)) {
        if (config.seg_max == 0)
            return Err{BlkError::NoSegments};
        if (config.seg_max < disk.max_segments)
            disk.max_segments = config.seg_max;
    }
    uint64_t request_bytes = uint64_t(disk.segment_bytes) * disk.max_segments;
    if (request_bytes > limits.max_request_bytes)
        request_bytes = limits.max_request_bytes;
    disk.max_blocks = uint32_t(request_bytes / disk.block_size);
    if (disk.max_blocks == 0)
        return Err{BlkError::NoSegments};
    // The segments a request of max_blocks takes, at most.
    uint64_t segments =
        (uint64_t(disk.max_blocks) * disk.block_size + disk.segment_bytes - 1) / disk.segment_bytes;
    disk.max_segments = uint32_t(segments);

    // Each request: its header, its data, its status.
    uint32_t descriptors = disk.max_segments + 2;
    disk.max_requests = queue_size / descriptors;
    if (disk.max_requests > limits.max_requests)
        disk.max_requests = limits.max_requests;
    if (disk.max_requests == 0)
        return Err{BlkError::QueueTooSmall};
    return disk;
}

size_t split_segments(uint64_t address, uint64_t length, uint32_t segment_bytes,
                      std::span<Segment> out) {
    if (length == 0 || segment_bytes == 0)
        return 0;
    size_t count = 0;
    for (uint64_t done = 0; done < length; ++count) {
        if (count == out.size())
            return 0;
        uint64_t left = length - done;
        uint32_t piece = left < segment_bytes ? uint32_t(left) : segment_bytes;
        out[count] = Segment{address + done, piece};
        done += piece;
    }
    return count;
}

Result<void, BlkError> check_status(uint8_t status) {
    switch (status) {
    case status_ok:
        return {};
    case status_io_error:
        return Err{BlkError::IoError};
    case status_unsupported:
        return Err{BlkError::Unsupported};
    case status_unwritten:
        return Err{BlkError::StatusUnwritten};
    default:
        return Err{BlkError::UnknownStatus};
    }
}

Result<void, BlkError> check_read_length(uint32_t used_length, uint64_t data_bytes) {
    if (used_length < data_bytes + 1)
        return Err{BlkError::ShortTransfer};
    return {};
}

std::string_view identity_of(std::span<const uint8_t, id_bytes> id) {
    size_t length = 0;
    while (length < id.size() && id[length] != 0) {
        if (id[length] < 0x20 || id[length] > 0x7e)
            return {};
        ++length;
    }
    return {reinterpret_cast<const char*>(id.data()), length};
}

} // namespace capos::virtio::blk
