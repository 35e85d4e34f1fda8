// lib/ring: counters from a hostile shared page, and SQE decoding.
#include "abi/user_layout.h"
#include "lib/ring/ring.h"
#include <gtest/gtest.h>
#include <map>

namespace capos::ring {
namespace {

using abi::Opcode;
using abi::Sqe;
using abi::TransportError;

TEST(RingCounters, PendingSubmissions) {
    EXPECT_EQ(pending_submissions(0, 0, 16), 0u);
    EXPECT_EQ(pending_submissions(3, 7, 16), 4u);
    EXPECT_EQ(pending_submissions(0, 16, 16), 16u);
    // Counters are free-running and wrap.
    EXPECT_EQ(pending_submissions(UINT32_MAX - 1, 2, 16), 4u);
    // A tail more than a ring ahead, or behind the head, is corruption.
    EXPECT_FALSE(pending_submissions(0, 17, 16).has_value());
    EXPECT_FALSE(pending_submissions(5, 4, 16).has_value());
    EXPECT_FALSE(pending_submissions(0, 0x80000000u, 16).has_value());
}

TEST(RingCounters, CompletionSpace) {
    EXPECT_EQ(unread_completions(0, 0, 32), 0u);
    EXPECT_EQ(free_completions(0, 0, 32), 32u);
    EXPECT_EQ(unread_completions(10, 4, 32), 6u);
    EXPECT_EQ(free_completions(10, 4, 32), 26u);
    EXPECT_EQ(free_completions(32, 0, 32), 0u);
    EXPECT_EQ(unread_completions(3, UINT32_MAX, 32), 4u);
    // A head ahead of the tail or far behind it: treated as full, never more
    // room than the queue has.
    EXPECT_EQ(free_completions(4, 9, 32), 0u);
    EXPECT_EQ(free_completions(100, 0, 32), 0u);
    EXPECT_EQ(unread_completions(4, 9, 32), 32u);
}

// completion_slots is completion_room asked again after each submission taken
// (each holds one slot), for every state of a small queue.
TEST(RingCounters, CompletionSlotsCountWhatRoomAdmits) {
    constexpr uint32_t entries = 8;
    for (uint32_t unread = 0; unread <= entries + 2; ++unread) {
        for (uint32_t owed = 0; owed <= entries + 2; ++owed) {
            uint32_t taken = 0;
            while (taken < 2 * entries && completion_room(unread, owed + taken, entries))
                ++taken;
            EXPECT_EQ(completion_slots(unread, owed, entries), taken)
                << "unread " << unread << " owed " << owed;
        }
    }
}

constexpr uint64_t user_buffer = 0x10000000;

Sqe call_sqe() {
    Sqe sqe{};
    sqe.opcode = uint8_t(Opcode::Call);
    sqe.method = 1;
    sqe.cap = abi::CapId::make(2, 1).raw;
    sqe.user_data = 0xfeed;
    sqe.interface_id = 0x1234;
    sqe.params_addr = user_buffer;
    sqe.params_len = 64;
    sqe.result_addr = user_buffer + 4096;
    sqe.result_len = 256;
    return sqe;
}

TransportError error_of(const Sqe& sqe) {
    auto decoded = decode_sqe(sqe);
    EXPECT_TRUE(decoded.is_error());
    return decoded.is_error() ? decoded.error() : TransportError::BadSqe;
}

TEST(DecodeSqe, ValidCall) {
    auto decoded = decode_sqe(call_sqe());
    ASSERT_TRUE(decoded.is_ok());
    const DecodedSqe& d = decoded.value();
    EXPECT_EQ(d.opcode, Opcode::Call);
    EXPECT_EQ(d.method, 1);
    EXPECT_EQ(d.cap, abi::CapId::make(2, 1));
    EXPECT_EQ(d.user_data, 0xfeedu);
    EXPECT_EQ(d.interface_id, 0x1234u);
    EXPECT_EQ(d.params.address, user_buffer);
    EXPECT_EQ(d.params.length, 64u);
    EXPECT_EQ(d.result.address, user_buffer + 4096);
    EXPECT_EQ(d.result.length, 256u);
}

TEST(DecodeSqe, InlineParams) {
    Sqe sqe = call_sqe();
    sqe.flags = abi::SqeInlineParams | abi::SqeInlineResult;
    sqe.params_addr = 0;
    sqe.params_len = 16;
    uint64_t words[2] = {0x0000000100000000ull, 42};
    __builtin_memcpy(&sqe.call_id, words, sizeof words);
    auto decoded = decode_sqe(sqe);
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(decoded.value().params.address, 0u);
    EXPECT_EQ(decoded.value().params.length, 16u);
    EXPECT_EQ(decoded.value().inline_params[0], words[0]);
    EXPECT_EQ(decoded.value().inline_params[1], 42u);
    EXPECT_EQ(decoded.value().transfer_count, 0u); // the same bytes are not transfers
    EXPECT_EQ(decoded.value().flags, abi::SqeInlineParams | abi::SqeInlineResult);
    // One word: the second must be 0.
    sqe.params_len = 8;
    EXPECT_EQ(error_of(sqe), TransportError::BadSqe);
    words[1] = 0;
    __builtin_memcpy(&sqe.call_id, words, sizeof words);
    EXPECT_TRUE(decode_sqe(sqe).is_ok());
    // None: both 0.
    sqe.params_len = 0;
    EXPECT_EQ(error_of(sqe), TransportError::BadSqe);
    uint64_t zeros[2] = {};
    __builtin_memcpy(&sqe.call_id, zeros, sizeof zeros);
    EXPECT_TRUE(decode_sqe(sqe).is_ok());
    // At most 16 bytes, whole words, and no params_addr beside them.
    sqe.params_len = 24;
    EXPECT_EQ(error_of(sqe), TransportError::BadSqe);
    sqe.params_len = 4;
    EXPECT_EQ(error_of(sqe), TransportError::BadSqe);
    sqe.params_len = 0;
    sqe.params_addr = user_buffer;
    EXPECT_EQ(error_of(sqe), TransportError::BadSqe);
    sqe.params_addr = 0;
    // The other CALL rules still hold.
    sqe.result_addr = user_buffer + 4;
    EXPECT_EQ(error_of(sqe), TransportError::BadBuffer);
    sqe.result_addr = 0;
    sqe.result_len = 0; // a call whose answer always fits may have no buffer
    EXPECT_TRUE(decode_sqe(sqe).is_ok());
    sqe.interface_id = 0;
    EXPECT_EQ(error_of(sqe), TransportError::WrongInterface);
    // Only a Call takes them.
    for (uint8_t flag : {uint8_t(abi::SqeInlineParams), uint8_t(abi::SqeInlineResult)}) {
        Sqe ret{};
        ret.opcode = uint8_t(Opcode::Return);
        ret.cap = abi::CapId::make(1, 1).raw;
        ret.flags = flag;
        EXPECT_EQ(error_of(ret), TransportError::BadFlags);
        Sqe nop{};
        nop.flags = flag;
        EXPECT_EQ(error_of(nop), TransportError::BadFlags);
    }
    Sqe result_only = call_sqe();
    result_only.flags = abi::SqeInlineResult;
    EXPECT_TRUE(decode_sqe(result_only).is_ok());
}

TEST(DecodeSqe, NopMustBeEmpty) {
    Sqe nop{};
    nop.user_data = 7;
    ASSERT_TRUE(decode_sqe(nop).is_ok());
    EXPECT_EQ(decode_sqe(nop).value().user_data, 7u);
    Sqe with_cap = nop;
    with_cap.cap = 5;
    EXPECT_EQ(error_of(with_cap), TransportError::BadSqe);
    Sqe with_params = nop;
    with_params.params_addr = user_buffer;
    with_params.params_len = 8;
    EXPECT_EQ(error_of(with_params), TransportError::BadSqe);
}

TEST(DecodeSqe, ReservedOpcodesAndFlags) {
    for (int opcode = abi::opcode_count; opcode < 256; ++opcode) {
        Sqe sqe{};
        sqe.opcode = uint8_t(opcode);
        EXPECT_EQ(error_of(sqe), TransportError::BadOpcode) << opcode;
    }
    for (int bit = 0; bit < 8; ++bit) {
        Sqe sqe{};
        sqe.flags = uint8_t(1 << bit);
        EXPECT_EQ(error_of(sqe), TransportError::BadFlags) << bit;
    }
    // ReturnException is defined for Return only.
    Sqe call_with_exception_flag = call_sqe();
    call_with_exception_flag.flags = abi::SqeReturnException;
    EXPECT_EQ(error_of(call_with_exception_flag), TransportError::BadFlags);
    Sqe ret{};
    ret.opcode = uint8_t(Opcode::Return);
    ret.cap = abi::CapId::make(1, 1).raw;
    ret.flags = abi::SqeReturnException;
    ret.params_addr = user_buffer;
    ret.params_len = 8;
    EXPECT_TRUE(decode_sqe(ret).is_ok());
    ret.flags = abi::SqeReturnException | 2;
    EXPECT_EQ(error_of(ret), TransportError::BadFlags);
    // Transfers only with Call and Return, at most max_transfers, in user space.
    Sqe release{};
    release.opcode = uint8_t(Opcode::Release);
    release.cap = abi::CapId::make(1, 1).raw;
    release.transfer_count = 1;
    release.transfer_addr = user_buffer;
    EXPECT_EQ(error_of(release), TransportError::BadSqe);
    Sqe transfers = call_sqe();
    transfers.transfer_count = abi::max_transfers;
    transfers.transfer_addr = user_buffer + 8192;
    EXPECT_TRUE(decode_sqe(transfers).is_ok());
    EXPECT_EQ(decode_sqe(transfers).value().transfer_count, abi::max_transfers);
    transfers.transfer_count = abi::max_transfers + 1;
    EXPECT_EQ(error_of(transfers), TransportError::BadTransfer);
    transfers.transfer_count = 2;
    transfers.transfer_addr = 0xffff800000000000;
    EXPECT_EQ(error_of(transfers), TransportError::BadTransfer);
    transfers.transfer_addr = 0;
    EXPECT_EQ(error_of(transfers), TransportError::BadTransfer);
    transfers.transfer_count = 0;
    transfers.transfer_addr = user_buffer;
    EXPECT_EQ(error_of(transfers), TransportError::BadTransfer);
}

TEST(DecodeSqe, FieldsAnOpcodeDoesNotUse) {
    Sqe release{};
    release.opcode = uint8_t(Opcode::Release);
    release.cap = abi::CapId::make(1, 1).raw;
    EXPECT_TRUE(decode_sqe(release).is_ok());
    release.method = 3;
    EXPECT_EQ(error_of(release), TransportError::BadSqe);

    Sqe recv{};
    recv.opcode = uint8_t(Opcode::Recv);
    recv.cap = abi::CapId::make(1, 1).raw;
    recv.result_addr = user_buffer;
    recv.result_len = 512;
    EXPECT_TRUE(decode_sqe(recv).is_ok());
    recv.params_addr = user_buffer;
    recv.params_len = 8;
    EXPECT_EQ(error_of(recv), TransportError::BadSqe);

    Sqe call = call_sqe();
    call.call_id = 9;
    EXPECT_EQ(error_of(call), TransportError::BadSqe);

    Sqe ret{};
    ret.opcode = uint8_t(Opcode::Return);
    ret.cap = abi::CapId::make(1, 1).raw;
    ret.call_id = 9;
    ret.params_addr = user_buffer;
    ret.params_len = 16;
    EXPECT_TRUE(decode_sqe(ret).is_ok());
}

TEST(DecodeSqe, MissingCapability) {
    Sqe call = call_sqe();
    call.cap = 0;
    EXPECT_EQ(error_of(call), TransportError::InvalidCap);
}

TEST(DecodeSqe, BuffersOutsideUserSpaceOrMalformed) {
    struct Case {
        uint64_t address;
        uint32_t length;
    };
    const Case bad[] = {
        {0, 64},                              // length without address
        {user_buffer, 0},                     // address without length
        {user_buffer + 4, 64},                // misaligned address
        {user_buffer, 60},                    // length not whole words
        {user_buffer, max_message_bytes + 8}, // too long
        {0x1000, 64},                         // below the lowest user address
        {abi::user_limit - 8, 16},            // runs past the end of user space
        {abi::user_limit, 8},                 // starts past it
        {0xffff800000000000, 64},             // kernel memory
        {0xfffffffffffffff8, 64},             // wraps the address space
    };
    for (const Case& c : bad) {
        Sqe params = call_sqe();
        params.params_addr = c.address;
        params.params_len = c.length;
        EXPECT_EQ(error_of(params), TransportError::BadBuffer) << std::hex << c.address;
        Sqe result = call_sqe();
        result.result_addr = c.address;
        result.result_len = c.length;
        EXPECT_EQ(error_of(result), TransportError::BadBuffer) << std::hex << c.address;
    }
    Sqe last_word = call_sqe();
    last_word.params_addr = abi::user_limit - 8;
    last_word.params_len = 8;
    EXPECT_TRUE(decode_sqe(last_word).is_ok());
    Sqe no_params = call_sqe();
    no_params.params_addr = 0;
    no_params.params_len = 0;
    EXPECT_TRUE(decode_sqe(no_params).is_ok());
}

// The field rules written out one field at a time (docs/abi.md), the way
// decode_sqe stated them before it checked every unused field at once with
// per-opcode masks: the two must agree on every submission, valid or not,
// down to the error and every decoded field.
Result<DecodedSqe, TransportError> decode_by_the_rules(const Sqe& sqe) {
    if (sqe.opcode >= abi::opcode_count)
        return Err{TransportError::BadOpcode};
    if (sqe.flags & ~abi::sqe_valid_flags)
        return Err{TransportError::BadFlags};
    if ((sqe.flags & abi::SqeReturnException) && sqe.opcode != uint8_t(Opcode::Return))
        return Err{TransportError::BadFlags};
    if ((sqe.flags & (abi::SqeInlineParams | abi::SqeInlineResult)) &&
        sqe.opcode != uint8_t(Opcode::Call))
        return Err{TransportError::BadFlags};
    auto opcode = static_cast<Opcode>(sqe.opcode);
    bool inline_params = (sqe.flags & abi::SqeInlineParams) != 0;
    bool uses_cap = opcode != Opcode::Nop;
    bool uses_method = opcode == Opcode::Call;
    bool park = opcode == Opcode::Park || opcode == Opcode::Unpark;
    bool uses_params = opcode == Opcode::Call || opcode == Opcode::Return || park;
    bool uses_result = opcode == Opcode::Call || opcode == Opcode::Recv || opcode == Opcode::Park;
    bool uses_call_id = opcode == Opcode::Return;
    bool uses_transfers = opcode == Opcode::Call || opcode == Opcode::Return;
    uint64_t inline_words[2] = {};
    if (inline_params) {
        // The last 16 bytes are the params: params_len bytes, then zeros.
        __builtin_memcpy(inline_words, &sqe.call_id, sizeof inline_words);
        if (sqe.params_addr != 0 || sqe.params_len > 16 || sqe.params_len % 8 != 0)
            return Err{TransportError::BadSqe};
        if ((sqe.params_len < 16 && inline_words[1] != 0) ||
            (sqe.params_len < 8 && inline_words[0] != 0))
            return Err{TransportError::BadSqe};
        uses_call_id = false;
        uses_transfers = false;
    }
    if (!uses_cap && sqe.cap != 0)
        return Err{TransportError::BadSqe};
    bool uses_interface = uses_method || opcode == Opcode::Return; // its minted facets'
    if (!uses_method && sqe.method != 0)
        return Err{TransportError::BadSqe};
    if (!uses_interface && sqe.interface_id != 0)
        return Err{TransportError::BadSqe};
    if (!uses_params && (sqe.params_addr != 0 || sqe.params_len != 0))
        return Err{TransportError::BadSqe};
    if (!uses_result && (sqe.result_addr != 0 || sqe.result_len != 0))
        return Err{TransportError::BadSqe};
    if (!inline_params && !uses_call_id && sqe.call_id != 0)
        return Err{TransportError::BadSqe};
    if (!inline_params && !uses_transfers && (sqe.transfer_count != 0 || sqe.transfer_addr != 0))
        return Err{TransportError::BadSqe};
    if (park) {
        // A word's address and a value, Park's timeout at result_addr.
        if (sqe.result_len != 0 || (opcode == Opcode::Unpark && sqe.result_addr != 0))
            return Err{TransportError::BadSqe};
        if (sqe.params_addr % 4 != 0 || sqe.params_addr < abi::user_min_address ||
            sqe.params_addr >= abi::user_limit)
            return Err{TransportError::BadBuffer};
        if (sqe.cap == 0)
            return Err{TransportError::InvalidCap};
        return DecodedSqe{
            .opcode = opcode,
            .flags = 0,
            .method = 0,
            .cap = abi::CapId{sqe.cap},
            .user_data = sqe.user_data,
            .interface_id = 0,
            .params = {sqe.params_addr, sqe.params_len},
            .result = {sqe.result_addr, 0},
            .call_id = 0,
            .transfer_address = 0,
            .transfer_count = 0,
        };
    }
    auto valid_buffer = [](uint64_t address, uint64_t length) {
        if (address == 0 && length == 0)
            return true;
        if (address == 0 || length == 0 || length > max_message_bytes)
            return false;
        if (address % 8 != 0 || length % 8 != 0)
            return false;
        return address >= abi::user_min_address && address < abi::user_limit &&
               length <= abi::user_limit - address;
    };
    if (!inline_params && (sqe.transfer_count > abi::max_transfers ||
                           !valid_buffer(sqe.transfer_addr, uint64_t(sqe.transfer_count) *
                                                                sizeof(abi::TransferDescriptor))))
        return Err{TransportError::BadTransfer};
    if ((!inline_params && !valid_buffer(sqe.params_addr, sqe.params_len)) ||
        !valid_buffer(sqe.result_addr, sqe.result_len))
        return Err{TransportError::BadBuffer};
    if (uses_cap && sqe.cap == 0)
        return Err{TransportError::InvalidCap};
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
        .call_id = inline_params ? 0 : sqe.call_id,
        .transfer_address = inline_params ? 0 : sqe.transfer_addr,
        .transfer_count = inline_params ? 0 : sqe.transfer_count,
        .inline_params = {inline_words[0], inline_words[1]},
    };
}

TEST(DecodeSqe, MasksAgreeWithTheRulesOnRandomSubmissions) {
    // Mostly valid submissions with a field or two disturbed, so that every
    // rule and every error is reached many times (counted below).
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    auto pick = [&](uint64_t interesting_a, uint64_t interesting_b) -> uint64_t {
        switch (next() % 6) {
        case 0:
            return next();
        case 1:
            return interesting_a;
        case 2:
            return interesting_b;
        default:
            return 0;
        }
    };
    std::map<int32_t, int> outcomes;
    for (int i = 0; i < 400000; ++i) {
        Sqe sqe{};
        sqe.opcode = uint8_t(next() % 8 == 0 ? next() : next() % abi::opcode_count);
        sqe.flags = uint8_t(next() % 4 == 0 ? next() : 0);
        if (next() % 4 == 0)
            sqe.flags = uint8_t(abi::SqeInlineParams | (next() % 2 ? abi::SqeInlineResult : 0));
        sqe.method = uint16_t(pick(1, 0xffff));
        sqe.cap = uint32_t(pick(abi::CapId::make(2, 1).raw, 1));
        sqe.user_data = next();
        sqe.interface_id = pick(0x1234, 0);
        sqe.params_addr = pick(user_buffer, user_buffer + 4);
        sqe.params_len = uint32_t(pick(64, max_message_bytes + 8));
        sqe.result_addr = pick(user_buffer + 4096, abi::user_limit - 8);
        sqe.result_len = uint32_t(pick(64, 16));
        sqe.call_id = uint32_t(pick(7, 1));
        sqe.transfer_count = uint32_t(pick(2, abi::max_transfers + 1));
        sqe.transfer_addr = pick(user_buffer + 8192, 0);
        bool inline_params = (sqe.flags & abi::SqeInlineParams) != 0;
        if (inline_params && next() % 4 != 0) {
            // Mostly well-formed inline params: a length of 0..3 words, the
            // words after it mostly 0.
            sqe.params_addr = next() % 8 == 0 ? user_buffer : 0;
            sqe.params_len = uint32_t(next() % 4 * 8);
            uint64_t params[2] = {next() % 2 ? next() : 0, next() % 2 ? next() : 0};
            if (sqe.params_len < 16 && next() % 4 != 0)
                params[1] = 0;
            if (sqe.params_len < 8 && next() % 4 != 0)
                params[0] = 0;
            __builtin_memcpy(&sqe.call_id, params, sizeof params);
        }
        auto fast = decode_sqe(sqe);
        auto rules = decode_by_the_rules(sqe);
        ASSERT_EQ(fast.is_ok(), rules.is_ok()) << "submission " << i;
        if (fast.is_error()) {
            ASSERT_EQ(fast.error(), rules.error()) << "submission " << i;
            ++outcomes[int32_t(fast.error())];
            continue;
        }
        ++outcomes[0];
        if (inline_params)
            ++outcomes[1];
        const DecodedSqe& a = fast.value();
        const DecodedSqe& b = rules.value();
        ASSERT_TRUE(
            a.opcode == b.opcode && a.flags == b.flags && a.method == b.method &&
            a.cap.raw == b.cap.raw && a.user_data == b.user_data &&
            a.interface_id == b.interface_id && a.params.address == b.params.address &&
            a.params.length == b.params.length && a.result.address == b.result.address &&
            a.result.length == b.result.length && a.call_id == b.call_id &&
            a.transfer_address == b.transfer_address && a.transfer_count == b.transfer_count &&
            a.inline_params[0] == b.inline_params[0] && a.inline_params[1] == b.inline_params[1])
            << "submission " << i;
    }
    // Every outcome was reached: success and each error decode_sqe can give.
    for (TransportError error :
         {TransportError::BadOpcode, TransportError::BadFlags, TransportError::BadSqe,
          TransportError::BadTransfer, TransportError::BadBuffer, TransportError::InvalidCap,
          TransportError::WrongInterface})
        EXPECT_GT(outcomes[int32_t(error)], 100) << to_string(error);
    EXPECT_GT(outcomes[0], 300);
    EXPECT_GT(outcomes[1], 100); // of which inline params
}

} // namespace
} // namespace capos::ring
