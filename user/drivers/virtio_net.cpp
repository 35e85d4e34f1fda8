// virtio-net: serves one virtio network device (Virtio 1.2, 5.1) over PCI,
// modern (1af4:1041) or transitional (1af4:1000, through its modern
// interface, or its legacy one when it has no other: a device from before
// virtio 1.0, or QEMU's with disable-modern=on), as a Nic (schema/capos.capnp,
// "Networking") on the endpoint
// it is granted as "nic", holding the device's claim as "device" (a manifest
// `device` grant, docs/devices.md "Driver authority"). The serving and the
// checks of every call are every NIC driver's (user/drivers/common/
// nic_server.h); this file is the device.
//
// Bringing the device up (user/drivers/common/virtio_transport.h): the
// features chosen by lib/virtio/net.h (VERSION_1 through the modern
// interface and MAC required; link status, MTU and both checksum offloads
// when offered), the MAC, link and
// MTU read from its configuration, receiveq1 and transmitq1 laid out in DMA
// memory, both bound to MSI-X entry 0, then DRIVER_OK and every receive
// buffer given to the device.
//
// Buffer b of the frame memory is one chain on its queue: b's header (12
// bytes, 10 through the legacy interface, in a page of the driver's own,
// where the holder cannot reach it)
// and b's 2 KiB of the frame memory, with token b. Each queue has a place
// for every buffer of its kind, so it never refuses one.
//
// Nothing the device writes is trusted: the virtqueue checks the used rings
// (a broken queue resets the device and ends the driver), and every
// received header and length is checked by lib/virtio/net.h.
#include "lib/net/address.h"
#include "lib/virtio/net.h"
#include "lib/virtio/virtqueue.h"
#include "schema/capos.capnp.capos.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/driver.h"
#include "user/drivers/common/nic_server.h"
#include "user/drivers/common/queue_interrupt.h"
#include "user/drivers/common/virtio_transport.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

#include <optional>

namespace {

using capos::rt::Line;
using capos::schema::Nic;
namespace drivers = capos::drivers;
namespace net = capos::net;
namespace virtio = capos::virtio;
namespace vnet = capos::virtio::net;
using drivers::fail;
using drivers::NicServer;
using drivers::page_size;
using drivers::VirtioTransport;

// The queue size asked for of each queue (the device's maximum when smaller):
// a chain of two descriptors per buffer.
constexpr uint16_t wanted_queue_size = 256;
constexpr uint16_t descriptors_per_frame = 2;
constexpr uint16_t max_buffers_per_queue = wanted_queue_size / descriptors_per_frame;
// Each buffer's header in the driver's page.
constexpr size_t header_stride = 16;
static_assert(2 * max_buffers_per_queue * header_stride <= page_size);
static_assert(sizeof(vnet::Header) <= header_stride);
static_assert(Nic::frame_bytes >= vnet::max_frame_bytes && Nic::max_frame == vnet::max_frame_bytes);
static_assert(page_size % Nic::frame_bytes == 0);

class VirtioNet final : public drivers::NicBackend {
public:
    VirtioNet(drivers::ClaimedDevice& device, drivers::QueueInterrupt& interrupt)
        : m_device(device), m_interrupt(interrupt), m_transport(device) {}

    // Brings the device up; the interface it serves.
    drivers::NicDescription start();

    void post_receive(uint16_t buffer) override;
    void send(const net::Frame& frame) override;
    void notify() override;
    void take_completions(NicServer& server) override;
    bool link_up() override;
    void stop() override { m_transport.stop(); }

private:
    uint8_t* header(uint16_t buffer) const { return m_headers.memory + buffer * header_stride; }
    uint64_t header_bus(uint16_t buffer) const {
        return m_headers.device_address + buffer * header_stride;
    }
    uint8_t* frame(uint16_t buffer) const { return m_frames.memory + buffer * Nic::frame_bytes; }
    uint64_t frame_bus(uint16_t buffer) const {
        return m_frames.device_address + uint64_t(buffer) * Nic::frame_bytes;
    }
    // Takes every completion of `queue`, each to `take(token, length)`.
    template <typename Take>
    void drain(virtio::Virtqueue& queue, Take take);

    drivers::ClaimedDevice& m_device;
    drivers::QueueInterrupt& m_interrupt;
    VirtioTransport m_transport;
    uint64_t m_features = 0;
    uint32_t m_header_bytes = sizeof(vnet::Header);
    vnet::Interface m_interface;
    std::optional<virtio::Virtqueue> m_receive_queue;
    std::optional<virtio::Virtqueue> m_send_queue;
    virtio::DescriptorState m_receive_state[wanted_queue_size];
    virtio::DescriptorState m_send_state[wanted_queue_size];
    uint16_t m_receive_buffers = 0;
    uint16_t m_send_buffers = 0;
    drivers::DmaArea m_headers;
    drivers::DmaArea m_frames;
    capos::abi::CapId m_frame_memory;
    bool m_receive_posted = false; // since the last notify
    bool m_send_posted = false;
};

drivers::NicDescription VirtioNet::start() {
    m_transport.start(vnet::pci_device_modern, vnet::pci_device_transitional,
                      "the device granted is not a virtio network device (want 1af4:1041 or "
                      "1af4:1000)");
    m_features = m_transport.negotiate([&](uint64_t offered) {
        return vnet::select_features(offered,
                                     m_device.dma_isolated() ? virtio::DmaAddresses::Translated
                                                             : virtio::DmaAddresses::Physical,
                                     m_transport.interface());
    });
    m_header_bytes = vnet::header_bytes(m_features);
    if (m_transport.device_config_bytes() < vnet::config_bytes_needed(m_features))
        fail("the device's configuration is too short for its features");
    vnet::DeviceConfig config =
        m_transport.read_config([&](const drivers::VirtioConfig& registers) {
            vnet::DeviceConfig read;
            for (size_t i = 0; i < sizeof read.mac; ++i)
                read.mac[i] = registers.read<uint8_t>(vnet::config::mac + i);
            if (m_features & virtio::feature_bit(vnet::feature_status))
                read.status = registers.read<uint16_t>(vnet::config::status);
            if (m_features & virtio::feature_bit(vnet::feature_mtu))
                read.mtu = registers.read<uint16_t>(vnet::config::mtu);
            return read;
        });
    auto interface = vnet::describe_interface(config, m_features);
    if (interface.is_error())
        fail(vnet::to_string(interface.error()));
    m_interface = interface.value();

    uint16_t receive_size = m_transport.queue_size(vnet::receive_queue, wanted_queue_size);
    uint16_t send_size = m_transport.queue_size(vnet::send_queue, wanted_queue_size);
    if (receive_size < descriptors_per_frame || send_size < descriptors_per_frame)
        fail("the device's queues cannot hold one frame");
    m_receive_buffers = uint16_t(receive_size / descriptors_per_frame);
    m_send_buffers = uint16_t(send_size / descriptors_per_frame);
    // The frame memory in whole pages.
    uint32_t buffers = uint32_t(m_receive_buffers) + m_send_buffers;
    uint32_t frame_pages =
        uint32_t((uint64_t(buffers) * Nic::frame_bytes + page_size - 1) / page_size);
    m_device.make_pool(m_transport.queue_pages(receive_size) + m_transport.queue_pages(send_size) +
                       1 + frame_pages);
    // MSI-X entry 0 for both queues (routed before they are bound to it:
    // the kernel enables MSI-X).
    m_interrupt.hold(m_device.route_interrupt(0));
    m_transport.set_up_queue(vnet::receive_queue, receive_size, 0, m_receive_state,
                             m_receive_queue);
    m_transport.set_up_queue(vnet::send_queue, send_size, 0, m_send_state, m_send_queue);
    m_headers = m_device.allocate_dma(1, "the frames' headers");
    m_frames = m_device.allocate_dma(frame_pages, "the frame memory", &m_frame_memory);
    m_transport.driver_ok();
    for (uint16_t buffer = 0; buffer < m_receive_buffers; ++buffer)
        post_receive(buffer);
    notify();

    const uint8_t* mac = m_interface.mac;
    char mac_text[net::mac_text_bytes];
    Line line(m_device.address());
    line.add(": MAC ").add(net::format_mac(std::span<const uint8_t, 6>(mac, 6), mac_text));
    line.add(", MTU ").udec(m_interface.mtu).add(", link ").add(link_up() ? "up" : "down");
    line.add(", ").udec(m_receive_buffers).add(" receive and ").udec(m_send_buffers);
    line.add(" send buffers");
    line.add(m_interface.checksum_offload ? ", checksum offload" : "");
    line.add(m_interface.checksums_checked ? ", receive checksums checked" : "");
    line.add(m_device.dma_isolated() ? ", DMA through an IOMMU" : "");
    line.add(m_transport.legacy() ? ", legacy interface" : "");
    drivers::say(line.view());

    drivers::NicDescription description;
    __builtin_memcpy(description.mac, mac, sizeof description.mac);
    description.mtu = m_interface.mtu;
    description.checksum_offload = m_interface.checksum_offload;
    description.receive_buffers = m_receive_buffers;
    description.send_buffers = m_send_buffers;
    description.model = "virtio-net";
    description.frames = m_frames.memory;
    description.frame_memory = m_frame_memory;
    return description;
}

bool VirtioNet::link_up() {
    uint16_t status = 0;
    if (m_features & virtio::feature_bit(vnet::feature_status))
        status = m_transport.read_config([&](const drivers::VirtioConfig& registers) {
            return registers.read<uint16_t>(vnet::config::status);
        });
    return vnet::link_up(status, m_features);
}

void VirtioNet::post_receive(uint16_t buffer) {
    virtio::Segment writable[2] = {{header_bus(buffer), m_header_bytes},
                                   {frame_bus(buffer), Nic::frame_bytes}};
    auto submitted = m_receive_queue->submit({}, writable, buffer);
    if (submitted.is_error())
        fail("the receive queue refused a buffer", virtio::to_string(submitted.error()));
    m_receive_posted = true;
}

void VirtioNet::send(const net::Frame& sent) {
#ifdef CAPOS_FAULT_AT_FRAME
    // The test build virtio_net_faulty faults (an invalid opcode) at its
    // n-th frame sent, holding the send, as a driver with a bug would
    // (scenario.net_restart).
    static uint32_t frames = 0;
    if (++frames == CAPOS_FAULT_AT_FRAME)
        __builtin_trap();
#endif
    uint16_t buffer = sent.buffer;
    vnet::Header header = vnet::send_header(sent.checksum_start, sent.checksum_offset);
    __builtin_memcpy(this->header(buffer), &header, m_header_bytes);
    virtio::Segment readable[2] = {{header_bus(buffer), m_header_bytes},
                                   {frame_bus(buffer), sent.length}};
    auto submitted = m_send_queue->submit(readable, {}, buffer);
    if (submitted.is_error())
        fail("the send queue refused a frame", virtio::to_string(submitted.error()));
    m_send_posted = true;
}

// Every batch is notified, whatever the device's hint says (lib/virtio/blk.h,
// select_features).
void VirtioNet::notify() {
    if (m_receive_posted)
        m_transport.notify(vnet::receive_queue);
    if (m_send_posted)
        m_transport.notify(vnet::send_queue);
    m_receive_posted = false;
    m_send_posted = false;
}

template <typename Take>
void VirtioNet::drain(virtio::Virtqueue& queue, Take take) {
    for (;;) {
        for (;;) {
            auto taken = queue.take_used();
            if (taken.is_error())
                fail("the device broke its queue", virtio::to_string(taken.error()));
            if (!taken.value())
                break;
            take(taken.value()->token, taken.value()->length);
        }
        // Completions that came after the last look are taken now, or their
        // interrupt comes (step 4 of lib/virtio/virtqueue.h).
        auto more = queue.enable_interrupts(1);
        if (more.is_error())
            fail("the device broke its queue", virtio::to_string(more.error()));
        if (!more.value())
            return;
    }
}

void VirtioNet::take_completions(NicServer& server) {
    drain(*m_receive_queue, [&](uint64_t token, uint32_t length) {
        if (token >= m_receive_buffers)
            fail("a receive completion for no buffer");
        uint16_t buffer = uint16_t(token);
        vnet::Header header{};
        __builtin_memcpy(&header, this->header(buffer), m_header_bytes);
        auto received =
            vnet::receive(header, length, {frame(buffer), Nic::frame_bytes}, m_features);
        if (received.is_error())
            fail("the device received a frame it should not have",
                 vnet::to_string(received.error()));
        server.arrived(
            {buffer, uint16_t(received.value().length), 0, 0, received.value().checksum_valid});
    });
    drain(*m_send_queue, [&](uint64_t token, uint32_t) {
        if (token < m_receive_buffers || token >= uint64_t(m_receive_buffers) + m_send_buffers)
            fail("a send completion for no buffer");
        server.sent(uint16_t(token));
    });
}

} // namespace

int main() {
    drivers::set_driver_name("virtio-net");
    // In static storage: the server's receive buffer is larger than the stack.
    static drivers::NicGrants grants = drivers::take_nic_grants();
    static drivers::ClaimedDevice claimed(grants.device);
    static drivers::QueueInterrupt interrupt;
    static VirtioNet backend(claimed, interrupt);
    static NicServer server(grants.nic, backend);
    server.start(backend.start(), interrupt);
    server.serve();
}
