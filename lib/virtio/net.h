// virtio-net (Virtio 1.2, 5.1 "Network Device"): the device's feature bits
// and configuration fields, the header before every frame, and what a
// driver decides from them: the features it takes, the interface it serves
// (MAC, MTU, link), the header of a frame it sends, and what a received
// frame's header and used length say.
//
// Pure functions on numbers and bytes: the driver (user/drivers/virtio_net.cpp)
// does the register accesses and owns the DMA memory. Everything the device
// supplies (its features, configuration, the headers and lengths it writes)
// is checked here before the driver acts on it.
//
// The driver's frames: each buffer is one chain of two descriptors, the
// header in the driver's own memory and the frame in a buffer of the frame
// memory it shares with its client (VERSION_1 lets a frame lie in any
// descriptors). Without MRG_RXBUF and the large-receive offloads a received
// frame arrives whole in one such buffer.
#pragma once

#include "lib/base/result.h"
#include "lib/net/nic_buffers.h"
#include "lib/virtio/legacy.h"
#include "lib/virtio/pci_caps.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::virtio::net {

// PCI device ids: the modern one (0x1040 + device type 1), and the
// transitional one, which offers the same modern interface beside its
// legacy I/O BAR (or, on a device from before virtio 1.0, the legacy
// interface alone: lib/virtio/legacy.h).
inline constexpr uint16_t device_type = 1;
inline constexpr uint16_t pci_device_modern = pci_modern_device_base + device_type;
inline constexpr uint16_t pci_device_transitional = 0x1000;

// Feature bits (5.1.3).
inline constexpr unsigned feature_checksum = 0;       // VIRTIO_NET_F_CSUM
inline constexpr unsigned feature_guest_checksum = 1; // VIRTIO_NET_F_GUEST_CSUM
inline constexpr unsigned feature_mtu = 3;
inline constexpr unsigned feature_mac = 5;
inline constexpr unsigned feature_guest_tso4 = 7;
inline constexpr unsigned feature_merge_receive_buffers = 15;
inline constexpr unsigned feature_status = 16;
inline constexpr unsigned feature_control_queue = 17;
inline constexpr unsigned feature_multiqueue = 22;

// The device configuration (struct virtio_net_config, 5.1.4): byte offsets
// of the fields the driver reads, each valid only when its feature is
// negotiated.
namespace config {
inline constexpr size_t mac = 0x00;    // 6 bytes; MAC
inline constexpr size_t status = 0x06; // 16 bits; STATUS
inline constexpr size_t mtu = 0x0a;    // 16 bits; MTU
} // namespace config
inline constexpr uint16_t status_link_up = 1;

// The queues (5.1.2): receiveq1 and transmitq1.
inline constexpr uint16_t receive_queue = 0;
inline constexpr uint16_t send_queue = 1;

// The header before every frame (struct virtio_net_hdr, 5.1.6), as
// VERSION_1 has it: num_buffers always present. Through the legacy
// interface, without MRG_RXBUF, the header stops before num_buffers
// (header_bytes).
struct Header {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t header_length;
    uint16_t gso_size;
    uint16_t checksum_start;
    uint16_t checksum_offset;
    uint16_t buffers;
};
static_assert(sizeof(Header) == 12);
// The bytes of the header the device reads and writes under `features`.
constexpr uint32_t header_bytes(uint64_t features) {
    return (features & feature_bit(feature_version_1)) ? sizeof(Header) : sizeof(Header) - 2;
}
inline constexpr uint8_t header_needs_checksum = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t header_data_valid = 2;     // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr uint8_t gso_none = 0;

// The frames the driver moves: an Ethernet header (14 bytes) and up to an
// MTU of 1500 bytes of payload, no frame check sequence.
using capos::net::ethernet_header_bytes;
inline constexpr uint32_t largest_mtu = 1500;
inline constexpr uint32_t smallest_mtu = 68; // IPv4's minimum (RFC 791)
inline constexpr uint32_t max_frame_bytes = ethernet_header_bytes + largest_mtu;

enum class NetError : uint8_t {
    NoVersion1,      // the device does not offer VIRTIO_F_VERSION_1 (legacy only)
    BypassesIommu,   // an IOMMU translates, and the device lacks ACCESS_PLATFORM
    NoMac,           // the device offers no MAC address
    BadMtu,          // MTU below 68
    ShortFrame,      // the device's used length holds no Ethernet header
    LongFrame,       // the device's used length is past the buffer it was given
    BadHeader,       // a received header the negotiated features do not allow
    BadChecksumSpot, // a checksum to complete whose place lies outside the frame
};
const char* to_string(NetError error);

// The features the driver takes of those `offered`: through the modern
// interface VERSION_1, which it requires there; MAC, which it requires (the
// interface's address is the device's); and, when offered, STATUS (link
// state), MTU, CSUM (checksums of frames sent computed by the device),
// GUEST_CSUM (received frames' checksums checked by it) and ACCESS_PLATFORM,
// required with Translated addresses (a legacy device, which cannot offer
// it, bypasses an IOMMU: refused there). Nothing that changes a frame's
// layout (no merged or large receive buffers, no segmentation offload), no
// control queue, and no EVENT_IDX, for lib/virtio/blk.h's reason: under
// QEMU 7.2 on one thread the suppression handshake can lose a notification
// for good.
Result<uint64_t, NetError> select_features(uint64_t offered, DmaAddresses addresses,
                                           DeviceInterface interface);

// How many bytes of the device configuration the driver reads under
// `features` (a shorter configuration structure cannot be that device's).
constexpr size_t config_bytes_needed(uint64_t features) {
    if (features & feature_bit(feature_mtu))
        return config::mtu + 2;
    if (features & feature_bit(feature_status))
        return config::status + 2;
    return config::mac + 6;
}

// The configuration fields as read from the device.
struct DeviceConfig {
    uint8_t mac[6] = {};
    uint16_t status = 0;
    uint16_t mtu = 0;
};

// The interface the driver serves.
struct Interface {
    uint8_t mac[6] = {};
    uint16_t mtu = largest_mtu;     // the device's, when it says, at most 1500
    bool link_up = true;            // without STATUS the link is taken as up
    bool checksum_offload = false;  // CSUM: the device completes checksums of frames sent
    bool checksums_checked = false; // GUEST_CSUM: received frames may come checked
};

// The interface a device with configuration `config` serves under the
// `features` negotiated: BadMtu for an MTU below 68 (a larger one than 1500
// is served as 1500: the frame memory's buffers hold no more).
Result<Interface, NetError> describe_interface(const DeviceConfig& config, uint64_t features);

// Whether the link is up by a status read from the configuration (true
// without STATUS).
constexpr bool link_up(uint16_t status, uint64_t features) {
    return (features & feature_bit(feature_status)) == 0 || (status & status_link_up) != 0;
}

// The header of a frame sent: no segmentation, and, when checksum_start is
// not 0, the device to complete the checksum from checksum_start to the
// frame's end at checksum_start + checksum_offset (the caller has checked
// both: capos::net::checksum_spot_fits).
Header send_header(uint16_t checksum_start, uint16_t checksum_offset);

// A frame received: its length and whether its TCP or UDP checksum is known
// good (the device checked it, or the driver completed it).
struct Received {
    uint32_t length = 0;
    bool checksum_valid = false;
};

// What a receive chain's completion says: the device wrote `used_length`
// bytes, header (header_bytes(features) of them) then frame, into a header
// and a frame buffer of
// `buffer_bytes`. `frame` is the buffer (the frame at its start): when the
// device says the frame's checksum is still to be completed (NEEDS_CSUM,
// only with GUEST_CSUM) the driver completes it there. ShortFrame,
// LongFrame, BadHeader (a segmented frame, or flags without GUEST_CSUM) or
// BadChecksumSpot otherwise.
Result<Received, NetError> receive(const Header& header, uint32_t used_length,
                                   std::span<uint8_t> frame, uint64_t features);

} // namespace capos::virtio::net
