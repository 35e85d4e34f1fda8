#include "lib/virtio/net.h"

#include "lib/net/checksum.h"

namespace capos::virtio::net {

const char* to_string(NetError error) {
    switch (error) {
    case NetError::NoVersion1:
        return "the device does not offer VIRTIO_F_VERSION_1 (legacy only)";
    case NetError::BypassesIommu:
        return "the device bypasses the IOMMU (no VIRTIO_F_ACCESS_PLATFORM): it would not reach "
               "its buffers";
    case NetError::NoMac:
        return "the device offers no MAC address";
    case NetError::BadMtu:
        return "the device's MTU is below 68";
    case NetError::ShortFrame:
        return "the device received a frame shorter than an Ethernet header";
    case NetError::LongFrame:
        return "the device wrote past the receive buffer";
    case NetError::BadHeader:
        return "the device wrote a receive header the features negotiated do not allow";
    case NetError::BadChecksumSpot:
        return "the device asked for a checksum outside the frame";
    }
    return "unknown virtio-net error";
}

Result<uint64_t, NetError> select_features(uint64_t offered, DmaAddresses addresses,
                                           DeviceInterface interface) {
    if (interface == DeviceInterface::Legacy)
        offered &= UINT32_MAX; // the legacy interface's features are 32 bits
    else if ((offered & feature_bit(feature_version_1)) == 0)
        return Err{NetError::NoVersion1};
    if (addresses == DmaAddresses::Translated &&
        (offered & feature_bit(feature_access_platform)) == 0)
        return Err{NetError::BypassesIommu};
    if ((offered & feature_bit(feature_mac)) == 0)
        return Err{NetError::NoMac};
    constexpr uint64_t taken = feature_bit(feature_version_1) | feature_bit(feature_mac) |
                               feature_bit(feature_status) | feature_bit(feature_mtu) |
                               feature_bit(feature_checksum) | feature_bit(feature_guest_checksum) |
                               feature_bit(feature_access_platform);
    return offered & taken;
}

Result<Interface, NetError> describe_interface(const DeviceConfig& config, uint64_t features) {
    Interface interface;
    __builtin_memcpy(interface.mac, config.mac, sizeof interface.mac);
    if (features & feature_bit(feature_mtu)) {
        if (config.mtu < smallest_mtu)
            return Err{NetError::BadMtu};
        if (config.mtu < largest_mtu)
            interface.mtu = config.mtu;
    }
    interface.link_up = link_up(config.status, features);
    interface.checksum_offload = (features & feature_bit(feature_checksum)) != 0;
    interface.checksums_checked = (features & feature_bit(feature_guest_checksum)) != 0;
    return interface;
}

Header send_header(uint16_t checksum_start, uint16_t checksum_offset) {
    Header header{};
    header.gso_type = gso_none;
    if (checksum_start != 0) {
        header.flags = header_needs_checksum;
        header.checksum_start = checksum_start;
        header.checksum_offset = checksum_offset;
    }
    return header;
}

Result<Received, NetError> receive(const Header& header, uint32_t used_length,
                                   std::span<uint8_t> frame, uint64_t features) {
    uint32_t header_length = header_bytes(features);
    if (used_length < header_length + ethernet_header_bytes)
        return Err{NetError::ShortFrame};
    uint32_t length = used_length - header_length;
    if (length > frame.size() || length > max_frame_bytes)
        return Err{NetError::LongFrame};
    if (header.gso_type != gso_none)
        return Err{NetError::BadHeader};
    bool checked = (features & feature_bit(feature_guest_checksum)) != 0;
    uint8_t allowed = checked ? header_needs_checksum | header_data_valid : 0;
    if ((header.flags & ~allowed) != 0)
        return Err{NetError::BadHeader};
    Received received{length, (header.flags & header_data_valid) != 0};
    if (header.flags & header_needs_checksum) {
        // The device has checked the packet and left its checksum to be
        // completed: the sum from checksum_start to the end (the field
        // holds the pseudo-header's sum), stored complemented.
        uint16_t start = header.checksum_start;
        uint16_t offset = header.checksum_offset;
        if (!capos::net::checksum_spot_fits(length, start, offset))
            return Err{NetError::BadChecksumSpot};
        uint16_t value = capos::net::checksum_finish(
            capos::net::checksum_add(0, frame.subspan(start, length - start)));
        // A UDP checksum of 0 says "none" (RFC 768): all ones, its equal in
        // ones' complement, is stored instead (as Linux's skb_checksum_help
        // does); for TCP either verifies.
        if (value == 0)
            value = 0xffff;
        frame[start + offset] = uint8_t(value >> 8);
        frame[start + offset + 1] = uint8_t(value);
        received.checksum_valid = true;
    }
    return received;
}

} // namespace capos::virtio::net
