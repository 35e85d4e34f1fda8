#include "user/rt/server.h"
#include "schema/capos.capnp.capos.h"

namespace capos::rt {

abi::Sqe recv_sqe(abi::CapId owner, std::span<capnp::Word> buffer) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Recv);
    sqe.cap = owner.raw;
    sqe.result_addr = reinterpret_cast<uint64_t>(buffer.data());
    sqe.result_len = uint32_t(buffer.size_bytes());
    return sqe;
}

abi::Sqe return_sqe(abi::CapId owner, uint32_t call_id, std::span<const capnp::Word> message,
                    bool exception) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Return);
    sqe.flags = exception ? abi::SqeReturnException : 0;
    sqe.cap = owner.raw;
    sqe.call_id = call_id;
    if (!message.empty()) {
        sqe.params_addr = reinterpret_cast<uint64_t>(message.data());
        sqe.params_len = uint32_t(message.size() * 8);
    }
    return sqe;
}

Result<abi::CapId, gen::CallError> mint(abi::CapId owner, uint32_t badge, uint64_t interface_id) {
    schema::Endpoint::Client<ThreadTransport> endpoint(thread_transport(), owner.raw);
    auto minted = endpoint.mint(badge, interface_id);
    if (minted.is_error())
        return Err{minted.error()};
    return abi::CapId{minted.value().client()};
}

void Server::drop_moved() {
    for (uint32_t i = 0; i < m_transfer_count; ++i)
        if (m_transfers[i].mode == uint8_t(abi::TransferMode::Move))
            (void)release(abi::CapId{m_transfers[i].cap});
    m_transfer_count = 0;
    m_mint_interface = 0;
}

abi::Sqe Server::receive_sqe() {
    return recv_sqe(m_owner, std::span(m_words, m_receive_words));
}

abi::Sqe Server::reply_sqe(uint32_t call_id, std::span<const capnp::Word> message,
                           bool exception) const {
    abi::Sqe sqe = return_sqe(m_owner, call_id, message, exception);
    if (m_transfer_count > 0) {
        sqe.transfer_count = m_transfer_count;
        sqe.transfer_addr = reinterpret_cast<uint64_t>(m_transfers);
        sqe.interface_id = m_mint_interface;
    }
    return sqe;
}

Result<ReceivedCall, int32_t> Server::receive() {
    return received(ring().run(receive_sqe()));
}

Result<ReceivedCall, int32_t> Server::reply_and_receive(uint32_t call_id,
                                                        std::span<const capnp::Word> message,
                                                        bool exception, int32_t& replied) {
    RingClient& client = ring();
    uint64_t reply = client.submit(reply_sqe(call_id, message, exception));
    uint64_t next = client.submit(receive_sqe());
    abi::Cqe reply_cqe, next_cqe;
    client.wait_both(reply, next, reply_cqe, next_cqe);
    replied = reply_cqe.result;
    return received(next_cqe);
}

Result<ReceivedCall, int32_t> Server::reply_moving_and_receive(uint32_t call_id,
                                                               std::span<const capnp::Word> message,
                                                               bool exception) {
    RingClient& client = ring();
    uint64_t reply = client.submit(reply_sqe(call_id, message, exception));
    uint64_t next = client.submit(receive_sqe());
    // Not both at once: the RECV may wait for a call from the very caller
    // whose answer is refused, which it would not make before it had one.
    int which = 0;
    abi::Cqe first = client.wait_either(reply, next, which);
    abi::Cqe reply_cqe = which == 0 ? first : client.wait(reply);
    if (reply_cqe.result < 0) {
        // What was to be moved is still here, and goes; what was to be
        // minted was not made (serve_calls tells the handler).
        for (uint32_t i = 0; i < m_transfer_count; ++i)
            if (m_transfers[i].mode == abi::transfer_mint)
                m_unmade[m_unmade_count++] = m_transfers[i].cap;
        drop_moved();
        auto refused = gen::encode_exception<schema::CapException>(
            m_refusal, {schema::ExceptionType::Overloaded, "reply capabilities refused"});
        (void)client.run(reply_sqe(call_id, refused.message(), true));
    }
    m_transfer_count = 0;
    m_mint_interface = 0;
    return received(which == 1 ? first : client.wait(next));
}

Result<ReceivedCall, int32_t> received_call(const abi::Cqe& cqe,
                                            std::span<const capnp::Word> buffer) {
    if (cqe.result < 0)
        return Err{cqe.result};
    if (cqe.result_len < sizeof(abi::RecvHeader) || buffer.size() < sizeof(abi::RecvHeader) / 8)
        return Err{int32_t(abi::TransportError::BadParams)};
    ReceivedCall call;
    __builtin_memcpy(&call.header, buffer.data(), sizeof call.header);
    size_t bytes = buffer.size() * sizeof(capnp::Word);
    size_t records_at = sizeof(abi::RecvHeader) + call.header.params_len;
    if (call.header.params_len % 8 != 0 || records_at > bytes ||
        call.header.cap_count > abi::max_transfers ||
        records_at + call.header.cap_count * sizeof(abi::CapRecord) > bytes)
        return Err{int32_t(abi::TransportError::BadParams)};
    call.params = buffer.subspan(sizeof(abi::RecvHeader) / 8, call.header.params_len / 8);
    call.capabilities = std::span<const abi::CapRecord>(
        reinterpret_cast<const abi::CapRecord*>(reinterpret_cast<const uint8_t*>(buffer.data()) +
                                                records_at),
        call.header.cap_count);
    return call;
}

void release_capabilities(const ReceivedCall& call) {
    for (const abi::CapRecord& record : call.capabilities)
        (void)release(abi::CapId{record.cap});
}

Result<ReceivedCall, int32_t> Server::received(const abi::Cqe& cqe) {
    auto call = received_call(cqe, std::span<const capnp::Word>(m_words, m_receive_words));
    if (call.is_ok())
        m_call_words = call.value().words();
    return call;
}

int32_t Server::reply(uint32_t call_id, std::span<const capnp::Word> message, bool exception) {
    int32_t result = ring().run(reply_sqe(call_id, message, exception)).result;
    if (result >= 0) {
        m_transfer_count = 0;
        m_mint_interface = 0;
    }
    return result;
}

bool Server::send_with_reply(abi::CapId id, abi::TransferMode mode) {
    if (m_transfer_count == abi::max_transfers)
        return false;
    m_transfers[m_transfer_count++] = {id.raw, uint8_t(mode), {0, 0, 0}};
    return true;
}

bool Server::mint_with_reply(uint32_t badge, uint64_t interface_id) {
    if (m_transfer_count == abi::max_transfers || badge == 0)
        return false;
    bool minting = false;
    for (uint32_t i = 0; i < m_transfer_count; ++i)
        minting = minting || m_transfers[i].mode == abi::transfer_mint;
    if (minting && interface_id != m_mint_interface)
        return false;
    m_mint_interface = interface_id;
    m_transfers[m_transfer_count++] = {badge, abi::transfer_mint, {0, 0, 0}};
    return true;
}

} // namespace capos::rt
