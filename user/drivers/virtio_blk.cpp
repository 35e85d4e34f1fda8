// virtio-blk: serves one virtio block device (Virtio 1.2, 5.2) over PCI,
// through its modern interface or, when it has no other, its legacy one
// (user/drivers/common/virtio_transport.h), as a BlockDevice (schema/capos.capnp, "Storage") on the
// endpoint it is granted as "disk", holding the device's claim as "device" (a manifest `device`
// grant, docs/devices.md "Driver authority") and the kernel's "timer" (the clock of its requests'
// timeout). The serving, the checks of every call, transfer buffers, inline data and timeouts are
// every disk driver's (user/drivers/common/block_server.h); this file is the device.
//
// Bringing the device up (3.1.1): its virtio capabilities are read from
// configuration space (Device.config, lib/virtio/pci_caps.h), the BARs they
// lie in mapped (Device.mmio), the device reset, the features chosen
// (lib/virtio/blk.h: VERSION_1 required through the modern interface),
// request queue 0 laid out in DMA
// memory (lib/virtio/virtqueue.h) and bound to MSI-X entry 0 (Device.interrupt),
// then DRIVER_OK. The identity string (GET_ID) names the model.
//
// A request of the server's slot s is one chain on the queue: a header and a
// status byte in s's part of a page of the driver's, and the data (the
// slot's inline page or a transfer buffer), with token s.
//
// Nothing the device writes is trusted: the virtqueue checks the used ring
// (a broken queue resets the device and ends the driver), every request's
// status byte is checked (anything but OK fails the call), and a read whose
// used length does not cover its data fails too. On any failure the device
// is reset (its status written 0) before the driver exits
// (user/drivers/common/driver.h).
#include "lib/virtio/blk.h"
#include "lib/virtio/virtqueue.h"
#include "schema/capos.capnp.capos.h"
#include "user/drivers/common/block_server.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/driver.h"
#include "user/drivers/common/queue_interrupt.h"
#include "user/drivers/common/test_build.h"
#include "user/drivers/common/virtio_transport.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

#include <optional>

namespace {

using capos::rt::Line;
using capos::schema::Device;
namespace blk = capos::virtio::blk;
namespace drivers = capos::drivers;
namespace virtio = capos::virtio;
using drivers::BlockServer;
using drivers::fail;
using drivers::Operation;
using drivers::page_size;
using drivers::VirtioTransport;

// The queue size asked for (the device's maximum when smaller). A legacy
// device's queue has its own size, which the driver takes up to
// largest_queue_size (QEMU's is 256).
constexpr uint16_t wanted_queue_size = 128;
constexpr uint16_t largest_queue_size = 256;
// The token of the GET_ID request (the server's slots are below it).
constexpr uint32_t identify_token = BlockServer::max_slots;
// The requests' headers and status bytes, one part of a page per token, and
// the identity string GET_ID writes after them.
constexpr size_t slot_meta_bytes = 32; // header (16), status (1), padding
constexpr size_t slot_status_offset = sizeof(blk::RequestHeader);
constexpr size_t identity_offset = 3072;
static_assert((identify_token + 1) * slot_meta_bytes <= identity_offset &&
              identity_offset + blk::id_bytes <= page_size);

class VirtioBlk final : public drivers::BlockBackend {
public:
    VirtioBlk(drivers::ClaimedDevice& device, drivers::QueueInterrupt& interrupt)
        : m_device(device), m_interrupt(interrupt), m_transport(device) {}

    // Brings the device up and names it; the disk it serves.
    drivers::DiskDescription start();

    bool submit(uint32_t slot, Operation operation, uint64_t lba, uint32_t count,
                uint64_t data) override;
    void take_completions(BlockServer& server) override { drain(&server); }
    void stop() override { m_transport.stop(); }
    uint64_t requests_made() const override { return m_submitted; }
    void notify() override;

private:
    // What the device does for a token: the server's slots, and GET_ID.
    struct Request {
        enum class Kind : uint8_t { Free, Read, Write, Flush, Identify };
        Kind kind = Kind::Free;
        uint64_t data_bytes = 0;
    };

    // --- Bringing the device up ----------------------------------------
    blk::DeviceConfig read_config(uint64_t features);
    void set_up_queue(uint64_t features, const blk::DeviceConfig& config);
    void identify();

    // --- Requests --------------------------------------------------------
    uint8_t* token_meta(uint32_t token) const { return m_meta.memory + token * slot_meta_bytes; }
    uint64_t token_meta_bus(uint32_t token) const {
        return m_meta.device_address + token * slot_meta_bytes;
    }
    // Puts a request on the queue: the header's type and sector,
    // `request.data_bytes` at bus address `data` (none for a flush), written
    // by the device for a read. False (nothing changed) when the queue
    // refuses it.
    bool enqueue(uint32_t token, Request request, uint32_t type, uint64_t sector, uint64_t data);
    // Takes every completion the device has posted: GET_ID's here, the
    // slots' answered by `server`.
    void drain(BlockServer* server);
    void complete(BlockServer* server, uint32_t token, uint32_t used_length);

    drivers::ClaimedDevice& m_device;
    drivers::QueueInterrupt& m_interrupt;
    VirtioTransport m_transport;
    drivers::DmaArea m_meta;
    std::optional<virtio::Virtqueue> m_queue;
    virtio::DescriptorState m_descriptor_state[largest_queue_size];
    blk::Disk m_disk;
    char m_model[blk::id_bytes + 1] = {};
    size_t m_model_length = 0;
    Request m_requests[identify_token + 1];
    // Requests made of the device.
    uint64_t m_submitted = 0;
};

// --- Bringing the device up ----------------------------------------------

blk::DeviceConfig VirtioBlk::read_config(uint64_t features) {
    // The fields the features negotiated make valid must lie in the structure.
    if (m_transport.device_config_bytes() < blk::config_bytes_needed(features))
        fail("the device's configuration is too short for its features");
    // The capacity is two 32-bit reads: read until consistent.
    return m_transport.read_config([&](const drivers::VirtioConfig& registers) {
        blk::DeviceConfig config;
        config.capacity = registers.read64(blk::config::capacity);
        if (features & blk::feature_bit(blk::feature_size_max))
            config.size_max = registers.read<uint32_t>(blk::config::size_max);
        if (features & blk::feature_bit(blk::feature_seg_max))
            config.seg_max = registers.read<uint32_t>(blk::config::seg_max);
        if (features & blk::feature_bit(blk::feature_blk_size))
            config.blk_size = registers.read<uint32_t>(blk::config::blk_size);
        return config;
    });
}

void VirtioBlk::set_up_queue(uint64_t features, const blk::DeviceConfig& config) {
    uint16_t size =
        m_transport.queue_size(0, m_transport.legacy() ? largest_queue_size : wanted_queue_size);
    blk::DriverLimits limits;
    static_assert(blk::DriverLimits{}.max_requests <= BlockServer::max_slots);
    auto disk = blk::describe_disk(config, features, size, limits);
    if (disk.is_error())
        fail(blk::to_string(disk.error()));
    m_disk = disk.value();

    // DMA memory: the queue, the requests' headers and status bytes (a
    // page), and the server's (inline pages, transfer buffers).
    m_device.make_pool(m_transport.queue_pages(size) + 1 +
                       BlockServer::dma_pages(m_disk.max_requests));
    // MSI-X entry 0 for the queue (routed before the queue is bound to it:
    // the kernel enables MSI-X).
    m_interrupt.hold(m_device.route_interrupt(0));
    m_transport.set_up_queue(0, size, 0, m_descriptor_state, m_queue);
    m_meta = m_device.allocate_dma(1, "the requests' DMA memory");
}

void VirtioBlk::identify() {
    // GET_ID into the meta page after the slots', zeroed first: bytes the
    // device leaves unwritten read as the string's end.
    __builtin_memset(m_meta.memory + identity_offset, 0, blk::id_bytes);
    Request request{Request::Kind::Identify, blk::id_bytes};
    if (!enqueue(identify_token, request, blk::request_get_id, 0,
                 m_meta.device_address + identity_offset))
        fail("the queue refused the identity request");
    notify();
    while (m_requests[identify_token].kind != Request::Kind::Free) {
        m_interrupt.wait();
        drain(nullptr);
    }
}

drivers::DiskDescription VirtioBlk::start() {
    m_transport.start(blk::pci_device_modern, blk::pci_device_transitional,
                      "the device granted is not a virtio block device (want 1af4:1042 or "
                      "1af4:1001)");
    uint64_t features = m_transport.negotiate([&](uint64_t offered) {
        return blk::select_features(offered,
                                    m_device.dma_isolated() ? blk::DmaAddresses::Translated
                                                            : blk::DmaAddresses::Physical,
                                    m_transport.interface());
    });
    blk::DeviceConfig device_config = read_config(features);
    set_up_queue(features, device_config);
    m_transport.driver_ok();
    identify();

    uint64_t bytes = m_disk.blocks * m_disk.block_size;
    Line line(m_device.address());
    line.add(": ").udec(m_disk.blocks).add(" blocks of ").udec(m_disk.block_size);
    line.add(" bytes (").udec(bytes >> 20).add(" MiB), ").udec(m_disk.max_blocks);
    line.add(" a request, ").udec(m_disk.max_requests).add(" in flight");
    line.add(m_disk.read_only ? ", read-only" : "").add(m_disk.flush ? ", write cache" : "");
    line.add(m_device.dma_isolated() ? ", DMA through an IOMMU" : "");
    line.add(m_transport.legacy() ? ", legacy interface" : "");
    line.add(", model '").add({m_model, m_model_length}).add('\'');
    drivers::say(line.view());

    drivers::DiskDescription disk;
    disk.geometry.block_size = m_disk.block_size;
    disk.geometry.blocks = m_disk.blocks;
    disk.geometry.max_blocks = m_disk.max_blocks;
    disk.geometry.max_inline = capos::schema::BlockDevice::max_inline;
    disk.max_requests = m_disk.max_requests;
    disk.read_only = m_disk.read_only;
    disk.flush = m_disk.flush;
    disk.model = {m_model, m_model_length};
    return disk;
}

// --- Requests ----------------------------------------------------------------

bool VirtioBlk::submit(uint32_t slot, Operation operation, uint64_t lba, uint32_t count,
                       uint64_t data) {
    // (virtio_blk_faulty and virtio_blk_hung, test builds: test_build.h.)
    if (drivers::test_build::request_goes_nowhere())
        return true;
    uint64_t bytes = uint64_t(count) * m_disk.block_size;
    switch (operation) {
    case Operation::Read:
        return enqueue(slot, {Request::Kind::Read, bytes}, blk::request_read,
                       blk::first_sector(m_disk, lba), data);
    case Operation::Write:
        return enqueue(slot, {Request::Kind::Write, bytes}, blk::request_write,
                       blk::first_sector(m_disk, lba), data);
    case Operation::Flush:
        return enqueue(slot, {Request::Kind::Flush, 0}, blk::request_flush, 0, 0);
    }
    return false;
}

bool VirtioBlk::enqueue(uint32_t token, Request request, uint32_t type, uint64_t sector,
                        uint64_t data) {
    uint8_t* meta = token_meta(token);
    uint64_t meta_bus = token_meta_bus(token);
    blk::RequestHeader header{type, 0, sector};
    __builtin_memcpy(meta, &header, sizeof header);
    meta[slot_status_offset] = blk::status_unwritten;

    // Header (read by the device), data, status (written by it).
    constexpr size_t max_parts = blk::DriverLimits{}.max_segments + 1;
    virtio::Segment readable[max_parts];
    virtio::Segment writable[max_parts];
    size_t readable_count = 0;
    size_t writable_count = 0;
    readable[readable_count++] = {meta_bus, sizeof header};
    bool device_writes =
        request.kind == Request::Kind::Read || request.kind == Request::Kind::Identify;
    if (request.data_bytes != 0) {
        virtio::Segment* into = device_writes ? writable : readable;
        size_t& count = device_writes ? writable_count : readable_count;
        size_t pieces = blk::split_segments(data, request.data_bytes, m_disk.segment_bytes,
                                            {into + count, m_disk.max_segments});
        if (pieces == 0)
            return false; // (not reached: requests are checked against max_blocks)
        count += pieces;
    }
    writable[writable_count++] = {meta_bus + slot_status_offset, 1};

    auto submitted = m_queue->submit({readable, readable_count}, {writable, writable_count}, token);
    if (submitted.is_error()) {
        if (virtio::is_device_error(submitted.error()))
            fail("the device broke its queue", virtio::to_string(submitted.error()));
        return false;
    }
    m_requests[token] = request;
    ++m_submitted;
    return true;
}

// Every batch is notified, whatever the device's hint says: reading the hint
// is safe only with fences QEMU may drop (lib/virtio/blk.h, select_features).
void VirtioBlk::notify() {
    m_transport.notify(0);
}

void VirtioBlk::drain(BlockServer* server) {
    for (;;) {
        for (;;) {
            auto taken = m_queue->take_used();
            if (taken.is_error())
                fail("the device broke its queue", virtio::to_string(taken.error()));
            if (!taken.value())
                break;
            complete(server, uint32_t(taken.value()->token), taken.value()->length);
        }
        // Completions that came after the last look are taken now, or their
        // interrupt comes (step 4 of lib/virtio/virtqueue.h).
        auto more = m_queue->enable_interrupts(1);
        if (more.is_error())
            fail("the device broke its queue", virtio::to_string(more.error()));
        if (!more.value())
            return;
    }
}

void VirtioBlk::complete(BlockServer* server, uint32_t token, uint32_t used_length) {
    // The token is one the driver gave the queue with a request in it.
    if (token > identify_token || m_requests[token].kind == Request::Kind::Free)
        fail("a completion for no request");
    Request request = m_requests[token];
    m_requests[token] = Request{};
    uint8_t status =
        *reinterpret_cast<const volatile uint8_t*>(token_meta(token) + slot_status_offset);
    auto checked = blk::check_status(status);
    if (checked.is_ok() && request.kind == Request::Kind::Read)
        checked = blk::check_read_length(used_length, request.data_bytes);

    if (request.kind == Request::Kind::Identify) {
        // A device that cannot say is named by its kind.
        std::string_view identity;
        if (checked.is_ok())
            identity = blk::identity_of(std::span<const uint8_t, blk::id_bytes>(
                m_meta.memory + identity_offset, blk::id_bytes));
        if (identity.empty())
            identity = "virtio-blk";
        __builtin_memcpy(m_model, identity.data(), identity.size());
        m_model_length = identity.size();
        return;
    }
    if (!server)
        fail("a completion for no request");
    server->complete(token, checked.is_error() ? blk::to_string(checked.error()) : nullptr);
}

} // namespace

int main() {
    drivers::set_driver_name("virtio-blk");
    // In static storage: the server's receive buffer is larger than the stack.
    static drivers::DiskGrants grants = drivers::take_disk_grants();
    static drivers::ClaimedDevice claimed(grants.device);
    static drivers::QueueInterrupt interrupt;
    static VirtioBlk backend(claimed, interrupt);
    static BlockServer server(claimed, grants.disk, backend, grants.timer.id(),
                              drivers::test_build::request_timeout_ns);
    server.start(backend.start(), interrupt);
    server.serve();
}
