#include "lib/ring/ring.h"
#include "abi/user_layout.h"

namespace capos::ring {

namespace {

using abi::TransportError;

// A buffer is either absent (address and length 0) or a word-aligned range of
// at most max_message_bytes inside user space.
bool valid_buffer(uint64_t address, uint32_t length) {
    if (address == 0 && length == 0)
        return true;
    if (address == 0 || length == 0 || length > max_message_bytes)
        return false;
    if (address % 8 != 0 || length % 8 != 0)
        return false;
    return address >= abi::user_min_address && address < abi::user_limit &&
           length <= abi::user_limit - address;
}

} // namespace

Result<DecodedSqe, TransportError> decode_sqe(const abi::Sqe& sqe) {
    if (sqe.opcode >= abi::opcode_count)
        return Err{TransportError::BadOpcode};
    if (sqe.flags & ~abi::sqe_valid_flags)
        return Err{TransportError::BadFlags};
    if ((sqe.flags & abi::SqeReturnException) && sqe.opcode != uint8_t(abi::Opcode::Return))
        return Err{TransportError::BadFlags};

    auto opcode = static_cast<abi::Opcode>(sqe.opcode);
    bool uses_cap = opcode != abi::Opcode::Nop;
    bool uses_method = opcode == abi::Opcode::Call;
    bool uses_params = opcode == abi::Opcode::Call || opcode == abi::Opcode::Return;
    bool uses_result = opcode == abi::Opcode::Call || opcode == abi::Opcode::Recv;
    bool uses_call_id = opcode == abi::Opcode::Return;
    bool uses_transfers = opcode == abi::Opcode::Call || opcode == abi::Opcode::Return;

    if (!uses_cap && sqe.cap != 0)
        return Err{TransportError::BadSqe};
    if (!uses_method && (sqe.method != 0 || sqe.interface_id != 0))
        return Err{TransportError::BadSqe};
    if (!uses_params && (sqe.params_addr != 0 || sqe.params_len != 0))
        return Err{TransportError::BadSqe};
    if (!uses_result && (sqe.result_addr != 0 || sqe.result_len != 0))
        return Err{TransportError::BadSqe};
    if (!uses_call_id && sqe.call_id != 0)
        return Err{TransportError::BadSqe};
    if (!uses_transfers && (sqe.transfer_count != 0 || sqe.transfer_addr != 0))
        return Err{TransportError::BadSqe};
    if (sqe.transfer_count > abi::max_transfers ||
        !valid_buffer(sqe.transfer_addr, sqe.transfer_count * sizeof(abi::TransferDescriptor)))
        return Err{TransportError::BadTransfer};

    if (!valid_buffer(sqe.params_addr, sqe.params_len) ||
        !valid_buffer(sqe.result_addr, sqe.result_len))
        return Err{TransportError::BadBuffer};
    if (uses_cap && sqe.cap == 0)
        return Err{TransportError::InvalidCap};
    // A CALL names the interface it speaks; 0 is no interface (Cap'n Proto
    // ids are never 0), and must not reach the table, where 0 means "any".
    if (uses_method && sqe.interface_id == 0)
        return Err{TransportError::WrongInterface};

    return DecodedSqe{
        .opcode = opcode,
        .flags = sqe.flags,
        .method = sqe.method,
        .cap = abi::CapId{sqe.cap},
        .user_data = sqe.user_data,
        .interface_id = sqe.interface_id,
        .params = {sqe.params_addr, sqe.params_len},
        .result = {sqe.result_addr, sqe.result_len},
        .call_id = sqe.call_id,
        .transfer_address = sqe.transfer_addr,
        .transfer_count = sqe.transfer_count,
    };
}

} // namespace capos::ring
