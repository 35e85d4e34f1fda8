// The kernel's side of the ring protocol (abi/ring.h) as pure functions: how
// many submissions are waiting, how much room the completion queue has, and
// decoding one submission. Everything here treats the shared page as hostile:
// the kernel keeps its own copies of the counters it owns (SQ head, CQ tail)
// and reads the process's counters (SQ tail, CQ head) once per use.
#pragma once

#include "abi/ring.h"
#include "abi/user_layout.h"
#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <optional>

namespace capos::ring {

// Submissions waiting between the kernel's head and the process's tail, or
// nullopt when the tail is impossible (more than `entries` ahead or behind the
// head): a corrupted ring, reported to the process and not followed.
constexpr std::optional<uint32_t> pending_submissions(uint32_t kernel_head, uint32_t user_tail,
                                                      uint32_t entries) {
    uint32_t pending = user_tail - kernel_head; // free-running counters wrap
    if (pending > entries)
        return std::nullopt;
    return pending;
}

// Completions the process has not consumed yet. A CQ head that is ahead of the
// kernel's tail or more than `entries` behind it is corrupt: the queue is then
// treated as full, so completions are counted as overflow instead of
// overwriting entries the process may still read.
constexpr uint32_t unread_completions(uint32_t kernel_tail, uint32_t user_head, uint32_t entries) {
    uint32_t unread = kernel_tail - user_head;
    return unread > entries ? entries : unread;
}

constexpr uint32_t free_completions(uint32_t kernel_tail, uint32_t user_head, uint32_t entries) {
    return entries - unread_completions(kernel_tail, user_head, entries);
}

// Whether the kernel may take one more submission: its completion needs a
// slot of the completion queue beside the `unread` completions and the
// `owed` ones (taken submissions not answered yet). With this check before
// every submission, no completion is ever dropped while the process keeps its
// CQ head honest.
constexpr bool completion_room(uint32_t unread, uint32_t owed, uint32_t entries) {
    return unread < entries && owed < entries - unread;
}

// How many more submissions completion_room admits, one after another: each
// taken submission holds one slot (its completion, posted or owed), and
// nothing else changes the sum while the process is inside cap_enter (an owed
// answer posted meanwhile moves a slot from owed to unread).
constexpr uint32_t completion_slots(uint32_t unread, uint32_t owed, uint32_t entries) {
    return completion_room(unread, owed, entries) ? entries - unread - owed : 0;
}

// Whether the kernel may owe a process one more completion (answer a
// submission later), with `owed` owed already; see abi::ring_max_owed.
constexpr bool may_owe(uint32_t owed) {
    return owed < abi::ring_max_owed;
}

// Largest params message and result buffer a CALL may name.
inline constexpr uint32_t max_message_bytes = 64 * 1024;

struct UserRange {
    uint64_t address;
    uint32_t length;
};

// A submission that passed every check: fields the opcode does not use were
// zero, lengths are in range, buffers lie inside user space.
struct DecodedSqe {
    abi::Opcode opcode;
    uint8_t flags;
    uint16_t method;
    abi::CapId cap;
    uint64_t user_data;
    uint64_t interface_id;
    // Park and Unpark: params.address is the word's address, params.length
    // the expected value (Park) or the most threads to wake (Unpark), and
    // result.address Park's timeout in nanoseconds.
    UserRange params;
    UserRange result;
    uint32_t call_id;
    uint64_t transfer_address; // TransferDescriptors, transfer_count of them
    uint32_t transfer_count;
    // SqeInlineParams: the params message (params.length bytes of it; the
    // rest is 0). params.address is then 0 and there are no transfers.
    uint64_t inline_params[2] = {};
};

namespace detail {

using abi::Opcode;
using abi::TransportError;

// The fields of an SQE, as the bits of a mask.
namespace field {
constexpr uint32_t Cap = 1 << 0;
constexpr uint32_t Method = 1 << 1; // method and interface_id
constexpr uint32_t Params = 1 << 2; // params_addr and params_len
constexpr uint32_t Result = 1 << 3; // result_addr and result_len
constexpr uint32_t CallId = 1 << 4;
constexpr uint32_t Transfers = 1 << 5; // transfer_count and transfer_addr
constexpr uint32_t Word = 1 << 6;      // Park/Unpark: params_addr and params_len
constexpr uint32_t Timeout = 1 << 7;   // Park: result_addr (result_len stays 0)
constexpr uint32_t Interface = 1 << 8; // Return: interface_id (its minted facets')
} // namespace field

// The field rules: which fields each opcode uses. Every other field must be 0.
constexpr uint32_t fields_used(Opcode opcode) {
    using namespace field;
    switch (opcode) {
    case Opcode::Nop:
        return 0;
    case Opcode::Call:
        return Cap | Method | Params | Result | Transfers;
    case Opcode::Recv:
        return Cap | Result;
    case Opcode::Return:
        return Cap | Params | CallId | Transfers | Interface;
    case Opcode::Release:
        return Cap;
    case Opcode::Park:
        return Cap | Word | Timeout;
    case Opcode::Unpark:
        return Cap | Word;
    }
    return 0;
}

// The same rules as masks over the SQE's eight words: the bits an opcode
// does not use. One AND and OR per word then checks every unused field at
// once, whatever the opcode, with no branch per field.
struct WordMasks {
    uint64_t words[8] = {};
};

constexpr void mark(WordMasks& masks, size_t offset, size_t size) {
    for (size_t byte = offset; byte < offset + size; ++byte)
        masks.words[byte / 8] |= uint64_t(0xff) << (byte % 8 * 8);
}

constexpr WordMasks unused_bits(Opcode opcode) {
    using namespace field;
    uint32_t used = fields_used(opcode);
    WordMasks masks;
    if (!(used & Cap))
        mark(masks, offsetof(abi::Sqe, cap), sizeof(abi::Sqe::cap));
    if (!(used & Method))
        mark(masks, offsetof(abi::Sqe, method), sizeof(abi::Sqe::method));
    if (!(used & (Method | Interface)))
        mark(masks, offsetof(abi::Sqe, interface_id), sizeof(abi::Sqe::interface_id));
    if (!(used & (Params | Word))) {
        mark(masks, offsetof(abi::Sqe, params_addr), sizeof(abi::Sqe::params_addr));
        mark(masks, offsetof(abi::Sqe, params_len), sizeof(abi::Sqe::params_len));
    }
    if (!(used & (Result | Timeout)))
        mark(masks, offsetof(abi::Sqe, result_addr), sizeof(abi::Sqe::result_addr));
    if (!(used & Result))
        mark(masks, offsetof(abi::Sqe, result_len), sizeof(abi::Sqe::result_len));
    if (!(used & CallId))
        mark(masks, offsetof(abi::Sqe, call_id), sizeof(abi::Sqe::call_id));
    if (!(used & Transfers)) {
        mark(masks, offsetof(abi::Sqe, transfer_count), sizeof(abi::Sqe::transfer_count));
        mark(masks, offsetof(abi::Sqe, transfer_addr), sizeof(abi::Sqe::transfer_addr));
    }
    return masks;
}

// A buffer is either absent (address and length 0) or a word-aligned range of
// at most max_message_bytes inside user space.
inline bool valid_buffer(uint64_t address, uint32_t length) {
    if ((address | length) == 0)
        return true;
    if (address == 0 || length == 0 || length > max_message_bytes)
        return false;
    if ((address | length) % 8 != 0)
        return false;
    return address >= abi::user_min_address && address < abi::user_limit &&
           length <= abi::user_limit - address;
}

// A CALL whose params are inline (SqeInlineParams): the last two words are
// the message, params_len bytes of it, and everything after it is 0;
// params_addr is 0; the other fields follow the CALL rules, but no transfers
// (their fields are the params).
[[gnu::always_inline]] inline Result<DecodedSqe, abi::TransportError>
decode_inline_call(const abi::Sqe& sqe, const uint64_t (&words)[8]) {
    constexpr WordMasks unused = unused_bits(Opcode::Call);
    constexpr size_t first = abi::sqe_inline_params_offset / 8;
    uint64_t stray = sqe.params_addr;
    for (size_t i = 0; i < first; ++i)
        stray |= words[i] & unused.words[i];
    if (stray != 0 || sqe.params_len > abi::sqe_inline_params_bytes || sqe.params_len % 8 != 0)
        return Err{TransportError::BadSqe};
    uint64_t params[2] = {words[first], words[first + 1]};
    if (sqe.params_len < 16 && params[1] != 0)
        return Err{TransportError::BadSqe};
    if (sqe.params_len < 8 && params[0] != 0)
        return Err{TransportError::BadSqe};
    if (!valid_buffer(sqe.result_addr, sqe.result_len))
        return Err{TransportError::BadBuffer};
    if (sqe.cap == 0)
        return Err{TransportError::InvalidCap};
    if (sqe.interface_id == 0)
        return Err{TransportError::WrongInterface};
    return DecodedSqe{
        .opcode = Opcode::Call,
        .flags = sqe.flags,
        .method = sqe.method,
        .cap = abi::CapId{sqe.cap},
        .user_data = sqe.user_data,
        .interface_id = sqe.interface_id,
        .params = {0, sqe.params_len},
        .result = {sqe.result_addr, sqe.result_len},
        .call_id = 0,
        .transfer_address = 0,
        .transfer_count = 0,
        .inline_params = {params[0], params[1]},
    };
}

} // namespace detail

// Decodes a copy of one SQE whose opcode is `Op` (the caller has switched on
// it). Never looks at anything but its argument; fails with the TransportError
// the CQE should carry. Inline, and specialised per opcode: the field rules
// above are constants here, so the mask check folds to the words an opcode
// leaves unused and only the buffers it uses are checked (the others were
// just found to be 0, which is a valid absent buffer).
template <abi::Opcode Op>
[[gnu::always_inline]] inline Result<DecodedSqe, abi::TransportError>
decode_sqe_as(const abi::Sqe& sqe) {
    using namespace detail;
    constexpr uint32_t used = fields_used(Op);
    constexpr WordMasks unused = unused_bits(Op);
    constexpr uint8_t flags_taken = Op == Opcode::Call     ? abi::sqe_call_flags
                                    : Op == Opcode::Return ? abi::sqe_return_flags
                                                           : 0;
    if (sqe.flags & ~flags_taken)
        return Err{TransportError::BadFlags};

    uint64_t words[8];
    __builtin_memcpy(words, &sqe, sizeof words);
    if constexpr (Op == Opcode::Call) {
        if (sqe.flags & abi::SqeInlineParams)
            return decode_inline_call(sqe, words);
    }
    uint64_t stray = 0;
    for (size_t i = 0; i < 8; ++i)
        stray |= words[i] & unused.words[i];
    if (stray != 0)
        return Err{TransportError::BadSqe};

    if constexpr ((used & field::Transfers) != 0) {
        if (sqe.transfer_count > abi::max_transfers ||
            !valid_buffer(sqe.transfer_addr, sqe.transfer_count * sizeof(abi::TransferDescriptor)))
            return Err{TransportError::BadTransfer};
    }
    if constexpr ((used & field::Params) != 0) {
        if (!valid_buffer(sqe.params_addr, sqe.params_len))
            return Err{TransportError::BadBuffer};
    }
    if constexpr ((used & field::Result) != 0) {
        if (!valid_buffer(sqe.result_addr, sqe.result_len))
            return Err{TransportError::BadBuffer};
    }
    // A parked-on word: 4-byte aligned inside user space.
    if constexpr ((used & field::Word) != 0) {
        if (sqe.params_addr % 4 != 0 || sqe.params_addr < abi::user_min_address ||
            sqe.params_addr >= abi::user_limit)
            return Err{TransportError::BadBuffer};
    }
    if constexpr ((used & field::Cap) != 0) {
        if (sqe.cap == 0)
            return Err{TransportError::InvalidCap};
    }
    // A CALL names the interface it speaks; 0 is no interface (Cap'n Proto
    // ids are never 0), and must not reach the table, where 0 means "any".
    if constexpr ((used & field::Method) != 0) {
        if (sqe.interface_id == 0)
            return Err{TransportError::WrongInterface};
    }

    return DecodedSqe{
        .opcode = Op,
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

// Decodes a copy of one SQE of any opcode (decode_sqe_as after the switch).
inline Result<DecodedSqe, abi::TransportError> decode_sqe(const abi::Sqe& sqe) {
    using abi::Opcode;
    switch (sqe.opcode) {
    case uint8_t(Opcode::Nop):
        return decode_sqe_as<Opcode::Nop>(sqe);
    case uint8_t(Opcode::Call):
        return decode_sqe_as<Opcode::Call>(sqe);
    case uint8_t(Opcode::Recv):
        return decode_sqe_as<Opcode::Recv>(sqe);
    case uint8_t(Opcode::Return):
        return decode_sqe_as<Opcode::Return>(sqe);
    case uint8_t(Opcode::Release):
        return decode_sqe_as<Opcode::Release>(sqe);
    case uint8_t(Opcode::Park):
        return decode_sqe_as<Opcode::Park>(sqe);
    case uint8_t(Opcode::Unpark):
        return decode_sqe_as<Opcode::Unpark>(sqe);
    }
    static_assert(abi::opcode_count == 7, "a new opcode needs its case here and in the ring");
    return Err{abi::TransportError::BadOpcode};
}

} // namespace capos::ring
