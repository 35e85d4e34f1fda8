#include "user/rt/server.h"
#include "schema/capos.capnp.capos.h"

namespace capos::rt {

Result<ReceivedCall, int32_t> Server::receive() {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Recv);
    sqe.cap = m_owner.raw;
    sqe.result_addr = reinterpret_cast<uint64_t>(m_receive);
    sqe.result_len = sizeof(m_receive);
    abi::Cqe cqe = ring().run(sqe);
    if (cqe.result < 0)
        return Err{cqe.result};
    if (cqe.result_len < sizeof(abi::RecvHeader))
        return Err{int32_t(abi::TransportError::BadParams)};
    ReceivedCall call;
    __builtin_memcpy(&call.header, m_receive, sizeof call.header);
    size_t words = call.header.params_len / 8;
    if (words > buffer_words)
        return Err{int32_t(abi::TransportError::BadParams)};
    call.params = std::span<const capnp::Word>(m_receive + sizeof(abi::RecvHeader) / 8, words);
    return call;
}

int32_t Server::reply(uint32_t call_id, std::span<const capnp::Word> message, bool exception) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Return);
    sqe.flags = exception ? abi::SqeReturnException : 0;
    sqe.cap = m_owner.raw;
    sqe.call_id = call_id;
    if (!message.empty()) {
        sqe.params_addr = reinterpret_cast<uint64_t>(message.data());
        sqe.params_len = uint32_t(message.size() * 8);
    }
    return ring().run(sqe).result;
}

} // namespace capos::rt
