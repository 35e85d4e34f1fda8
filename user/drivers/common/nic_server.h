// The Nic server (schema/capos.capnp, "Networking") every NIC driver runs on
// the endpoint it is granted as "nic", over a backend that knows its device
// (NicBackend: virtio-net).
//
// Frames never travel in messages. The frame memory is DMA memory the
// driver shares with its holder (Nic.buffers): the device writes received
// frames into its receive buffers and reads frames to send from its send
// buffers, and calls name buffers by index. Who holds which buffer is kept
// by lib/net/nic_buffers.h, which refuses any call that names a buffer its
// holder does not have; the driver never reads a frame's bytes (but to
// complete a checksum the device left to it, in a buffer that is not yet
// the holder's).
//
// Serving: the process keeps a RECV on its endpoint and an Interrupt.wait
// outstanding together. A receive is answered at once when frames have
// arrived, else held until the next comes; a send is answered when the
// device has taken each of its frames. The holder gets back pressure from
// its own buffers: with every receive buffer in its hands the device has
// nowhere to put a frame (it drops them and counts them), and with every
// send buffer in flight it cannot send more.
//
// When the last client has gone the backend stops the device and the driver
// exits 0, saying how many frames it moved.
#pragma once

#include "lib/net/nic_buffers.h"
#include "schema/capos.capnp.capos.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/queue_interrupt.h"
#include "user/rt/rt.h"

#include <optional>
#include <string_view>

namespace capos::drivers {

class NicServer;

// What a device does for the server.
class NicBackend {
public:
    // Gives the device receive buffer `buffer` to fill.
    virtual void post_receive(uint16_t buffer) = 0;
    // Gives the device `frame` to send (checked by the server: a send
    // buffer the holder had, its length and checksum's place). There is
    // always room: each buffer has a place of its own on the device's queue.
    virtual void send(const net::Frame& frame) = 0;
    // Tells the device of the buffers given since the last notify (the
    // server calls it before it waits).
    virtual void notify() = 0;
    // After an interrupt: every frame received (server.arrived) and every
    // send buffer the device is done with (server.sent).
    virtual void take_completions(NicServer& server) = 0;
    // Whether the link is up now.
    virtual bool link_up() = 0;
    // Stops the device's DMA for good: the last client has gone.
    virtual void stop() = 0;

protected:
    ~NicBackend() = default;
};

// The interface as the backend describes it.
struct NicDescription {
    uint8_t mac[6] = {};
    uint16_t mtu = 1500;
    bool checksum_offload = false;
    uint16_t receive_buffers = 0;
    uint16_t send_buffers = 0;
    std::string_view model;
    // The frame memory: mapped into the driver, and its MemoryObject, which
    // Nic.buffers hands a copy of to the holder.
    uint8_t* frames = nullptr;
    abi::CapId frame_memory;
};

// The grants every NIC driver is started with: its PCI function ("device")
// and the endpoint it serves ("nic"). A missing one ends the driver with a
// line naming it.
struct NicGrants {
    rt::Capability<schema::Device> device;
    abi::CapId nic;
};
NicGrants take_nic_grants();

class NicServer {
public:
    NicServer(abi::CapId owner, NicBackend& backend) : m_owner(owner), m_backend(backend) {}

    // The interface, and the interrupt of the device's queues (held by
    // then); every receive buffer already given to the device. Once,
    // before serve().
    void start(const NicDescription& nic, QueueInterrupt& interrupt);
    [[noreturn]] void serve();

    // The backend's completions: a frame received, a send buffer done. One
    // the device was not given is the device's error: the driver fails.
    void arrived(const net::Frame& frame);
    void sent(uint16_t buffer);

    // Nic's methods, called by the generated dispatch. A receive that waits
    // for frames and a send on the device set m_deferred: answered later.
    Result<void, gen::Exception> info(schema::Nic::InfoParams::Reader,
                                      schema::Nic::InfoResults::Builder results);
    Result<void, gen::Exception> buffers(schema::Nic::BuffersParams::Reader,
                                         schema::Nic::BuffersResults::Builder results);
    Result<void, gen::Exception> receive(schema::Nic::ReceiveParams::Reader params,
                                         schema::Nic::ReceiveResults::Builder results);
    Result<void, gen::Exception> send(schema::Nic::SendParams::Reader params,
                                      schema::Nic::SendResults::Builder results);

private:
    // A send on the device: its call, and how many of its frames the
    // device has yet to take.
    struct Sending {
        uint32_t call_id = 0;
        uint32_t remaining = 0; // 0: a free record
    };

    void dispatch(const abi::Cqe& cqe);
    // The waiting receive answered with the frames that have arrived.
    void answer_receive();
    void answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                bool posted);
    void answer_exception(uint32_t call_id, schema::ExceptionType type, std::string_view message);

    abi::CapId m_owner;
    NicBackend& m_backend;
    QueueInterrupt* m_interrupt = nullptr;
    NicDescription m_nic;
    std::optional<net::NicBuffers> m_buffers;
    bool m_unnotified = false;
    uint64_t m_frames_received = 0;
    uint64_t m_frames_sent = 0;

    // The receive waiting for frames, if any.
    std::optional<uint32_t> m_waiting_receive;
    // Each send buffer's send, by record; the records.
    uint16_t m_send_of[net::NicBuffers::max_buffers] = {};
    Sending m_sends[net::NicBuffers::max_buffers];

    // The call being dispatched, and whether its answer waits.
    uint32_t m_call_id = 0;
    bool m_deferred = false;
    alignas(8) abi::TransferDescriptor m_reply_transfers[1];
    uint32_t m_reply_transfer_count = 0;

    uint64_t m_recv_ticket = 0;
    uint64_t m_interrupt_ticket = 0;
    // One RECV at a time, into a buffer every call the kernel accepts fits
    // (64 KiB): each is received whole and refused by its content.
    static constexpr size_t receive_words = 64 * 1024 / 8;
    alignas(8) capnp::Word m_receive[receive_words];
    // Answers made at once (the kernel reads a RETURN as it is submitted).
    alignas(8) capnp::Word m_reply[1024];
    // Exceptions answering a held call or a refused answer (a call being
    // dispatched may have its results half made in m_reply).
    alignas(8) capnp::Word m_exception_reply[64];
    // A held receive's answer, posted: the kernel takes it at the server's
    // next entry, before any other receive can be held and answered.
    alignas(8) capnp::Word m_receive_reply[8 + 2 * net::NicBuffers::max_batch];
    // The answer of every send (empty results), posted: never changes.
    alignas(8) capnp::Word m_send_reply[2];
    size_t m_send_reply_words = 0;
};

} // namespace capos::drivers
