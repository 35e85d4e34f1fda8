#include "user/drivers/common/nic_server.h"

#include "user/drivers/common/driver.h"
#include "user/rt/line.h"
#include "user/rt/server.h"
#include "user/rt/syscall.h"

namespace capos::drivers {

using schema::CapException;
using schema::ExceptionType;
using schema::Nic;

NicGrants take_nic_grants() {
    auto device = rt::lookup<schema::Device>("device");
    if (device.is_error())
        exit_saying("no PCI function granted as 'device' (a manifest device grant)");
    auto nic = rt::find_capability("nic");
    if (nic.is_error())
        exit_saying("no endpoint granted as 'nic' to serve");
    return {std::move(device.value()), nic.value().id};
}

void NicServer::start(const NicDescription& nic, QueueInterrupt& interrupt) {
    CAPOS_ASSERT(nic.receive_buffers + nic.send_buffers <= net::NicBuffers::max_buffers);
    m_nic = nic;
    m_interrupt = &interrupt;
    m_buffers.emplace(nic.receive_buffers, nic.send_buffers,
                      uint16_t(net::ethernet_header_bytes + nic.mtu));
    capnp::MessageBuilder builder(m_send_reply);
    (void)builder.init_root(Nic::SendResults::data_words, Nic::SendResults::pointer_count);
    CAPOS_ASSERT(builder.error() == capnp::WireError::None);
    m_send_reply_words = builder.words().size();
}

// --- The device's completions ---------------------------------------------------

void NicServer::arrived(const net::Frame& frame) {
    if (!m_buffers->arrived(frame))
        fail("the device filled a receive buffer it was not given");
    ++m_frames_received;
}

void NicServer::sent(uint16_t buffer) {
    if (!m_buffers->sent(buffer))
        fail("the device finished a send buffer it was not given");
    ++m_frames_sent;
    Sending& sending = m_sends[m_send_of[buffer]];
    if (--sending.remaining == 0)
        answer(sending.call_id, {m_send_reply, m_send_reply_words}, false, true);
}

// --- The endpoint ------------------------------------------------------------------

void NicServer::answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                       bool posted) {
    abi::Sqe sqe = rt::return_sqe(m_owner, call_id, message, exception);
    if (posted) {
        rt::ring().post(sqe);
        return;
    }
    if (m_reply_transfer_count != 0) {
        sqe.transfer_count = m_reply_transfer_count;
        sqe.transfer_addr = reinterpret_cast<uint64_t>(m_reply_transfers);
    }
    int32_t result = rt::ring().run(sqe).result;
    if (result >= 0 || m_reply_transfer_count == 0)
        return; // (a caller that has gone needs no answer)
    // The copy of the frame memory did not go: it is released here, and the
    // caller hears why.
    (void)rt::release(abi::CapId{m_reply_transfers[0].cap});
    m_reply_transfer_count = 0;
    answer_exception(call_id, ExceptionType::Overloaded, "reply capabilities refused");
}

void NicServer::answer_exception(uint32_t call_id, ExceptionType type, std::string_view message) {
    gen::DispatchResult encoded =
        gen::encode_exception<CapException>(m_exception_reply, {type, message});
    m_reply_transfer_count = 0;
    answer(call_id, encoded.message(), true, false);
}

void NicServer::answer_receive() {
    net::Frame frames[net::NicBuffers::max_batch];
    size_t count = m_buffers->hand_out(frames);
    capnp::MessageBuilder builder(m_receive_reply);
    Nic::ReceiveResults::Builder results(
        builder.init_root(Nic::ReceiveResults::data_words, Nic::ReceiveResults::pointer_count));
    auto list = results.init_frames(uint32_t(count));
    for (size_t i = 0; i < count; ++i) {
        auto entry = list[uint32_t(i)];
        entry.set_buffer(frames[i].buffer);
        entry.set_length(frames[i].length);
        entry.set_checksum_valid(frames[i].checksum_valid);
    }
    CAPOS_ASSERT(builder.error() == capnp::WireError::None);
    uint32_t call_id = *m_waiting_receive;
    m_waiting_receive.reset();
    answer(call_id, builder.words(), false, true);
}

void NicServer::dispatch(const abi::Cqe& cqe) {
    if (cqe.result == int32_t(abi::TransportError::Disconnected)) {
        // No client is left, and none can come: stop the device's DMA.
        m_backend.stop();
        say(rt::Line("every client has gone (")
                .udec(m_frames_received)
                .add(" frames received, ")
                .udec(m_frames_sent)
                .add(" sent); the device is reset")
                .view());
        rt::exit(0);
    }
    auto call = rt::received_call(cqe, m_receive);
    if (call.is_error())
        fail("receiving a call failed", abi::cqe_result_name(call.error()));
    const abi::RecvHeader& header = call.value().header;
    // Capabilities sent with a call are none of Nic's: let them go.
    rt::release_capabilities(call.value());
    if (abi::is_release_notice(header))
        return; // (no facets are minted: none comes)

    m_call_id = header.call_id;
    m_deferred = false;
    m_reply_transfer_count = 0;
    // The kernel validated the params as it took them from the caller.
    auto params = capnp::MessageReader::validated(call.value().params);
    gen::DispatchResult result =
        Nic::dispatch(*this, header.interface_id, header.method, params, m_reply);
    if (result.status() == gen::DispatchStatus::BufferFull)
        result = gen::encode_exception<CapException>(m_reply,
                                                     {ExceptionType::Failed, "results too large"});
    bool exception = result.status() == gen::DispatchStatus::Exception;
    if (exception)
        m_reply_transfer_count = 0;
    else if (m_deferred)
        return; // the device's frames answer it
    answer(header.call_id, result.message(), exception, false);
}

void NicServer::serve() {
    for (;;) {
        if (m_unnotified) {
            m_backend.notify();
            m_unnotified = false;
        }
        if (m_recv_ticket == 0)
            m_recv_ticket = rt::ring().submit(rt::recv_sqe(m_owner, m_receive));
        if (m_interrupt_ticket == 0)
            m_interrupt_ticket = m_interrupt->arm();
        // The device's completions first when both have come: frames that
        // keep arriving must not hold calls back, nor calls frames.
        uint64_t tickets[2] = {m_interrupt_ticket, m_recv_ticket};
        size_t which = 0;
        abi::Cqe cqe = rt::ring().wait_any(tickets, which);
        if (which == 0) {
            m_interrupt_ticket = 0;
            m_interrupt->taken(cqe);
            m_backend.take_completions(*this);
            if (m_waiting_receive && m_buffers->waiting() > 0)
                answer_receive();
        } else {
            m_recv_ticket = 0;
            dispatch(cqe);
        }
    }
}

// --- Nic ------------------------------------------------------------------------

Result<void, gen::Exception> NicServer::info(Nic::InfoParams::Reader,
                                             Nic::InfoResults::Builder results) {
    results.set_mac({m_nic.mac, sizeof m_nic.mac});
    results.set_mtu(m_nic.mtu);
    results.set_link_up(m_backend.link_up());
    results.set_checksum_offload(m_nic.checksum_offload);
    results.set_receive_buffers(m_nic.receive_buffers);
    results.set_send_buffers(m_nic.send_buffers);
    results.set_model(m_nic.model);
    return {};
}

Result<void, gen::Exception> NicServer::buffers(Nic::BuffersParams::Reader,
                                                Nic::BuffersResults::Builder results) {
    // A new holder: the receive buffers an earlier one kept go back to the
    // device, and a receive it left waiting ends.
    uint16_t reclaimed[net::NicBuffers::max_buffers];
    size_t count = m_buffers->reclaim(reclaimed);
    for (size_t i = 0; i < count; ++i)
        m_backend.post_receive(reclaimed[i]);
    m_unnotified = m_unnotified || count > 0;
    if (m_waiting_receive) {
        uint32_t call_id = *m_waiting_receive;
        m_waiting_receive.reset();
        answer_exception(call_id, ExceptionType::Disconnected,
                         "the frame memory was taken over (Nic.buffers)");
    }
    results.set_memory(m_nic.frame_memory.raw);
    m_reply_transfers[0] = {m_nic.frame_memory.raw, uint8_t(abi::TransferMode::Copy), {0, 0, 0}};
    m_reply_transfer_count = 1;
    return {};
}

Result<void, gen::Exception> NicServer::receive(Nic::ReceiveParams::Reader params,
                                                Nic::ReceiveResults::Builder) {
    if (m_waiting_receive)
        return Err{gen::Exception{ExceptionType::Overloaded, "another receive is waiting"}};
    auto done = params.done();
    uint16_t given[net::NicBuffers::max_buffers];
    if (done.size() > net::NicBuffers::max_buffers)
        return Err{
            gen::Exception{ExceptionType::InvalidArgument, net::to_string(net::NicError::NotHeld)}};
    for (uint32_t i = 0; i < done.size(); ++i)
        given[i] = done[i];
    std::span<const uint16_t> buffers(given, done.size());
    if (auto checked = m_buffers->check_give_back(buffers); checked.is_error())
        return Err{gen::Exception{ExceptionType::InvalidArgument, net::to_string(checked.error())}};
    for (uint16_t buffer : buffers) {
        m_buffers->give_back(buffer);
        m_backend.post_receive(buffer);
    }
    m_unnotified = m_unnotified || !buffers.empty();
    // Answered with the frames that have come, or when the next comes.
    m_waiting_receive = m_call_id;
    m_deferred = true;
    if (m_buffers->waiting() > 0)
        answer_receive();
    return {};
}

Result<void, gen::Exception> NicServer::send(Nic::SendParams::Reader params,
                                             Nic::SendResults::Builder) {
    auto list = params.frames();
    if (list.size() > net::NicBuffers::max_batch)
        return Err{
            gen::Exception{ExceptionType::InvalidArgument, net::to_string(net::NicError::TooMany)}};
    net::Frame frames[net::NicBuffers::max_batch];
    for (uint32_t i = 0; i < list.size(); ++i) {
        auto frame = list[i];
        frames[i] = {frame.buffer(), frame.length(), frame.checksum_start(),
                     frame.checksum_offset(), false};
    }
    std::span<const net::Frame> sending(frames, list.size());
    if (auto checked = m_buffers->check_send(sending, m_nic.checksum_offload); checked.is_error())
        return Err{gen::Exception{ExceptionType::InvalidArgument, net::to_string(checked.error())}};
    if (sending.empty())
        return {}; // nothing to wait for
    // A record per send on the device: never more than the send buffers.
    uint16_t record = 0;
    while (m_sends[record].remaining != 0)
        ++record;
    m_sends[record] = {m_call_id, uint32_t(sending.size())};
    for (const net::Frame& frame : sending) {
        m_buffers->sending(frame.buffer);
        m_send_of[frame.buffer] = record;
        m_backend.send(frame);
    }
    m_unnotified = true;
    m_deferred = true;
    return {};
}

} // namespace capos::drivers
