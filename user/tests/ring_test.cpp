// The ring as a hostile process drives it: raw submissions the typed clients
// never make. NOP batches, a full CQ, a scribbled header (RingCorrupted and
// repair), random SQEs, one submission per transport error the kernel can
// give a CALL or RELEASE, and params whose structs are shared 21 levels deep
// (refused in time linear in their size). Every completion must carry its
// user_data back; the kernel must never fall over (the scenario's exit status
// and frame check).
#include "abi/syscall.h"
#include "abi/user_layout.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/syscall.h"
#include "user/tests/common/shared_levels.h"
#include "user/tests/common/test.h"

using namespace capos;
using abi::TransportError;
using capos::test::Line;

namespace {

test::Suite suite("ring");
using test::Random;

abi::Sqe nop(uint64_t user_data) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Nop);
    sqe.user_data = user_data;
    return sqe;
}

alignas(8) capnp::Word g_params[64];
alignas(8) capnp::Word g_result[64];
alignas(8) const capnp::Word g_read_only[64] = {1};

// A CALL of `method` on `cap` speaking `interface_id`, with an empty params
// struct and a 512-byte result buffer.
abi::Sqe call(uint32_t cap, uint64_t interface_id, uint16_t method, uint64_t user_data) {
    g_params[0] = 0; // root: an empty struct
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.method = method;
    sqe.interface_id = interface_id;
    sqe.user_data = user_data;
    sqe.params_addr = reinterpret_cast<uint64_t>(g_params);
    sqe.params_len = 8;
    sqe.result_addr = reinterpret_cast<uint64_t>(g_result);
    sqe.result_len = sizeof g_result;
    return sqe;
}

uint64_t g_next_user_data = 0x5000;

uint32_t cap_id_of_timer() {
    return test::cap_id("timer");
}

// Runs one submission and checks its result and that user_data came back.
void expect(std::string_view what, abi::Sqe sqe, int32_t expected) {
    sqe.user_data = g_next_user_data++;
    abi::Cqe cqe = test::raw::run(sqe);
    if (cqe.user_data != sqe.user_data) {
        suite.check(what, false,
                    Line("user_data ").hex(cqe.user_data).add(" expected ").hex(sqe.user_data));
        return;
    }
    suite.check_result(what, cqe.result, expected);
}
void expect(std::string_view what, const abi::Sqe& sqe, TransportError expected) {
    expect(what, sqe, int32_t(expected));
}

// A NOP round trip: the ring still works.
bool ring_works() {
    abi::Cqe cqe = test::raw::run(nop(0x600d));
    return cqe.user_data == 0x600d && cqe.result == 0 && test::raw::unread() == 0;
}

void nop_batches() {
    abi::Cqe cqe{};
    test::raw::push(nop(0x1001));
    int64_t entered = test::raw::enter(1, abi::no_timeout);
    bool popped = test::raw::pop(cqe);
    suite.check("NOP batch of 1 completes with its user_data",
                entered == 1 && popped && cqe.user_data == 0x1001 && cqe.result == 0 &&
                    cqe.result_len == 0,
                Line("entered ").dec(entered).add(" user_data ").hex(cqe.user_data));

    for (uint32_t i = 0; i < 16; ++i)
        test::raw::push(nop(0x2000 + i));
    entered = test::raw::enter(16, abi::no_timeout);
    bool in_order = entered == 16;
    for (uint32_t i = 0; i < 16; ++i) {
        if (!test::raw::pop(cqe) || cqe.user_data != 0x2000 + i || cqe.result != 0)
            in_order = false;
    }
    suite.check("NOP batch of 16 completes in order with each user_data", in_order,
                Line("entered ").dec(entered));
    abi::RingHeader& header = test::raw::page().header;
    suite.check("sq_head caught up with sq_tail", header.sq_head == header.sq_tail);
    suite.check("header reports the SQ's and the CQ's sizes (abi/ring.h)",
                header.sq_entries == abi::ring_sq_entries &&
                    header.cq_entries == abi::ring_cq_entries);
}

// The checks below print through the runtime's console client, which would
// take any raw completion still unread and refuse a scribbled header: every
// section first collects what it saw, puts the ring right, then checks.

void cq_full() {
    abi::RingHeader& header = test::raw::page().header;
    uint32_t overflow_before = header.cq_overflow;
    // A CQ's worth of NOPs and an SQ's worth more, an SQ at a time, reading
    // nothing: the kernel takes the CQ's worth, whose completions fill the
    // CQ, and leaves the last SQ's worth in the SQ: it takes no submission
    // without room for its answer.
    constexpr uint32_t batch = abi::ring_sq_entries;
    constexpr uint32_t kept = abi::ring_cq_entries;
    static_assert(kept % batch == 0);
    int64_t entered = 0;
    for (uint32_t pushed = 0; pushed < kept + batch; pushed += batch) {
        for (uint32_t i = 0; i < batch; ++i)
            test::raw::push(nop(0x3000 + pushed + i));
        entered = test::raw::enter(0, 0);
    }
    uint32_t dropped = header.cq_overflow - overflow_before;
    uint32_t left = header.sq_tail - header.sq_head;
    bool first_kept = true;
    abi::Cqe cqe{};
    for (uint32_t i = 0; i < kept; ++i) {
        if (!test::raw::pop(cqe) || cqe.user_data != 0x3000 + i)
            first_kept = false;
    }
    bool drained = test::raw::unread() == 0;
    // Room again: the batch waiting is taken and answered, in order.
    int64_t rest = test::raw::enter(batch, abi::no_timeout);
    bool rest_in_order = rest == batch;
    for (uint32_t i = kept; i < kept + batch; ++i) {
        if (!test::raw::pop(cqe) || cqe.user_data != 0x3000 + i)
            rest_in_order = false;
    }
    suite.check("a CQ's and an SQ's worth of NOPs unread: cap_enter reports the CQ full",
                entered == kept, Line("entered ").dec(entered));
    suite.check("with the CQ full the last SQ's worth stay in the SQ, none dropped",
                left == batch && dropped == 0,
                Line("left ").udec(left).add(" dropped ").udec(dropped));
    suite.check("the CQ's worth of completions were kept, in order", first_kept && drained);
    suite.check("once read, the ones that waited complete in order", rest_in_order,
                Line("entered ").dec(rest));
    suite.check("the ring works after a full CQ", ring_works());

    // A CQ head the kernel cannot believe (ahead of its tail) counts as a
    // full queue: the submission is not taken (and nothing is written over
    // entries the process may still read) until the head is repaired.
    uint32_t head = header.cq_head;
    overflow_before = header.cq_overflow;
    header.cq_head = head + 7;
    test::raw::push(nop(0x3100));
    entered = test::raw::enter(0, 0);
    uint32_t overflow_after = header.cq_overflow;
    uint32_t tail_after = header.cq_tail;
    uint32_t waiting = header.sq_tail - header.sq_head;
    header.cq_head = head;
    int64_t repaired = test::raw::enter(1, abi::no_timeout);
    bool answered = repaired == 1 && test::raw::pop(cqe) && cqe.user_data == 0x3100;
    suite.check(
        "an impossible cq_head takes no submission and drops nothing",
        overflow_after == overflow_before && tail_after == head && waiting == 1,
        Line("overflow +").udec(overflow_after - overflow_before).add(" waiting ").udec(waiting));
    suite.check("once cq_head is repaired the waiting NOP completes", answered);
    suite.check("the ring works after cq_head is repaired", ring_works());
}

void corrupted_header() {
    abi::RingHeader& header = test::raw::page().header;
    uint32_t head = header.sq_head;

    // A tail far ahead: RingCorrupted, nothing consumed, sq_head rewritten.
    header.sq_head = 0xdeadbeef;
    header.sq_tail = head + 1000;
    int64_t entered = test::raw::enter(1, abi::no_timeout);
    uint32_t head_after = header.sq_head;
    header.sq_tail = head;
    suite.check_result("sq_tail 1000 ahead: cap_enter returns RingCorrupted", int32_t(entered),
                       TransportError::RingCorrupted);
    suite.check("sq_head is rewritten with the kernel's value", head_after == head,
                Line("sq_head ").hex(head_after));
    suite.check("the process repairs sq_tail and continues", ring_works());

    // A tail behind the head.
    head = header.sq_head;
    header.sq_tail = head - 1;
    entered = test::raw::enter(0, 0);
    header.sq_tail = head;
    suite.check_result("sq_tail behind sq_head: RingCorrupted", int32_t(entered),
                       TransportError::RingCorrupted);

    // One more than the SQ holds.
    head = header.sq_head;
    header.sq_tail = head + abi::ring_sq_entries + 1;
    entered = test::raw::enter(0, 0);
    header.sq_tail = head;
    suite.check_result("sq_tail 17 ahead: RingCorrupted", int32_t(entered),
                       TransportError::RingCorrupted);
    suite.check("the ring works after the repairs", ring_works());

    // The counters the kernel owns are never believed: a scribbled cq_tail is
    // replaced by the kernel's own on the next completion, and the entry
    // counts are not read at all.
    uint32_t cq_tail = header.cq_tail;
    header.cq_tail = 0x12345678;
    header.sq_entries = 3;
    header.cq_entries = 0;
    test::raw::push(nop(0x4000));
    entered = test::raw::enter(0, 0);
    uint32_t cq_tail_after = header.cq_tail;
    abi::Cqe cqe{};
    bool popped = test::raw::pop(cqe);
    header.sq_entries = abi::ring_sq_entries;
    header.cq_entries = abi::ring_cq_entries;
    suite.check("a scribbled cq_tail is replaced by the kernel's",
                entered == 1 && cq_tail_after == cq_tail + 1,
                Line("cq_tail ").hex(cq_tail_after).add(" expected ").hex(cq_tail + 1));
    suite.check("the completion after a scribbled header is intact",
                popped && cqe.user_data == 0x4000 && cqe.result == 0);

    // The whole header overwritten with random bytes.
    head = header.sq_head;
    cq_tail = header.cq_tail;
    uint32_t overflow = header.cq_overflow;
    Random random{0x9e3779b97f4a7c15ull};
    auto* words = reinterpret_cast<uint64_t*>(&header);
    for (size_t i = 0; i < sizeof(abi::RingHeader) / 8; ++i)
        words[i] = random.next();
    header.sq_tail = head + 0x80000000u; // surely impossible, whatever the random bytes were
    entered = test::raw::enter(1, abi::no_timeout);
    head_after = header.sq_head;
    header.sq_tail = head;
    header.cq_head = cq_tail;
    header.cq_tail = cq_tail;
    header.cq_overflow = overflow;
    header.sq_entries = abi::ring_sq_entries;
    header.cq_entries = abi::ring_cq_entries;
    for (uint32_t& r : header.reserved)
        r = 0;
    suite.check_result("a random header: cap_enter returns RingCorrupted", int32_t(entered),
                       TransportError::RingCorrupted);
    suite.check("a random header: sq_head restored", head_after == head);
    suite.check("the ring works after the header is repaired", ring_works());
}

// Fills the whole SQ with `fill(i)` and checks that every entry completes with
// a transport error carrying its own user_data.
template <typename Fill>
bool garbage_round(Fill&& fill, bool allow_non_errors) {
    abi::RingPage& page = test::raw::page();
    uint32_t tail = page.header.sq_tail;
    uint64_t user_data[abi::ring_sq_entries];
    for (uint32_t i = 0; i < abi::ring_sq_entries; ++i) {
        abi::Sqe& sqe = page.sqes[(tail + i) % abi::ring_sq_entries];
        fill(sqe);
        user_data[i] = sqe.user_data;
    }
    __atomic_store_n(&page.header.sq_tail, tail + abi::ring_sq_entries, __ATOMIC_RELEASE);
    int64_t entered = test::raw::enter(abi::ring_sq_entries, abi::no_timeout);
    bool ok = entered == abi::ring_sq_entries;
    for (uint32_t i = 0; i < abi::ring_sq_entries; ++i) {
        abi::Cqe cqe{};
        if (!test::raw::pop(cqe) || cqe.user_data != user_data[i])
            ok = false;
        else if (allow_non_errors ? (cqe.result > 1 || cqe.result < -14) : cqe.result >= 0)
            ok = false;
    }
    return ok && test::raw::unread() == 0;
}

void garbage_sqes(uint32_t null_cap) {
    Random random{0x0123456789abcdefull};
    bool ok = true;
    for (int round = 0; round < 64; ++round) {
        ok &= garbage_round(
            [&](abi::Sqe& sqe) {
                auto* words = reinterpret_cast<uint64_t*>(&sqe);
                for (size_t w = 0; w < sizeof(abi::Sqe) / 8; ++w)
                    words[w] = random.next();
            },
            false);
    }
    suite.check("1024 random SQEs each complete with a transport error", ok);

    // Random fields behind a plausible opcode, flags and reserved words, so
    // the checks past the first ones run.
    ok = true;
    for (int round = 0; round < 64; ++round) {
        ok &= garbage_round(
            [&](abi::Sqe& sqe) {
                auto* words = reinterpret_cast<uint64_t*>(&sqe);
                for (size_t w = 0; w < sizeof(abi::Sqe) / 8; ++w)
                    words[w] = random.next();
                sqe.opcode = uint8_t(random.next() % abi::opcode_count);
                sqe.flags = 0;
                sqe.transfer_count = 0;
                sqe.transfer_addr = 0;
                if (random.next() % 2) { // plausible buffers, random contents
                    sqe.params_addr = reinterpret_cast<uint64_t>(g_params);
                    sqe.params_len = uint32_t(random.next() % 9) * 8;
                }
            },
            false);
    }
    suite.check("1024 random SQEs with valid opcodes each complete with a transport error", ok);

    // Calls that reach a real capability (Null) with random methods and random
    // params words: each ends in a transport error, an exception or results.
    ok = true;
    for (int round = 0; round < 32; ++round) {
        for (auto& word : g_params)
            word = random.next();
        if (round % 2)
            g_params[0] &= ~uint64_t(0xffffffff); // a struct pointer at offset 0
        ok &= garbage_round(
            [&](abi::Sqe& sqe) {
                sqe = abi::Sqe{};
                sqe.opcode = uint8_t(abi::Opcode::Call);
                sqe.cap = null_cap;
                sqe.interface_id = schema::Null::interface_id;
                sqe.method = uint16_t(random.next() % 3);
                sqe.params_addr = reinterpret_cast<uint64_t>(g_params);
                sqe.params_len = uint32_t(1 + random.next() % 64) * 8;
                sqe.result_addr = reinterpret_cast<uint64_t>(g_result);
                sqe.result_len = uint32_t(random.next() % 65) * 8;
                if (sqe.result_len == 0)
                    sqe.result_addr = 0;
                sqe.user_data = random.next();
            },
            true);
    }
    suite.check("512 calls with random params to Null never break the ring", ok);
    suite.check("the ring works after the garbage", ring_works());
}

void transport_errors(uint32_t null_cap, uint32_t console_cap) {
    constexpr uint64_t null_iid = schema::Null::interface_id;
    auto ping = [&] { return call(null_cap, null_iid, uint16_t(schema::Null::Method::Ping), 0); };

    expect("Null.ping through a raw CALL", ping(), 0);

    abi::Sqe sqe = nop(0);
    sqe.opcode = abi::opcode_count;
    expect("opcode 7 (the first unused) is BadOpcode", sqe, TransportError::BadOpcode);
    sqe.opcode = 255;
    expect("opcode 255 is BadOpcode", sqe, TransportError::BadOpcode);

    sqe = nop(0);
    sqe.flags = 0x80;
    expect("flag 0x80 is BadFlags", sqe, TransportError::BadFlags);
    sqe.flags = 0x01;
    expect("flag 0x01 on a NOP is BadFlags", sqe, TransportError::BadFlags);
    sqe = ping();
    sqe.flags = 0xff;
    expect("flags 0xff on a CALL are BadFlags", sqe, TransportError::BadFlags);

    sqe = nop(0);
    sqe.transfer_count = 1;
    expect("transfers on a NOP are BadSqe", sqe, TransportError::BadSqe);
    sqe = nop(0);
    sqe.transfer_addr = 1ull << 63;
    expect("a transfer address on a NOP is BadSqe", sqe, TransportError::BadSqe);
    sqe = ping();
    sqe.transfer_count = abi::max_transfers + 1;
    sqe.transfer_addr = reinterpret_cast<uint64_t>(g_params);
    expect("too many transfers are BadTransfer", sqe, TransportError::BadTransfer);
    sqe = ping();
    sqe.transfer_count = 1;
    sqe.transfer_addr = 0xffff800000000000;
    expect("transfer descriptors in kernel memory are BadTransfer", sqe,
           TransportError::BadTransfer);
    sqe = nop(0);
    sqe.cap = null_cap;
    expect("a NOP naming a capability is BadSqe", sqe, TransportError::BadSqe);
    sqe = ping();
    sqe.call_id = 7;
    expect("a CALL with a call_id is BadSqe", sqe, TransportError::BadSqe);
    sqe = nop(0);
    sqe.opcode = uint8_t(abi::Opcode::Release);
    sqe.cap = null_cap;
    sqe.params_addr = reinterpret_cast<uint64_t>(g_params);
    sqe.params_len = 8;
    expect("a RELEASE with params is BadSqe", sqe, TransportError::BadSqe);

    sqe = ping();
    sqe.cap = 0;
    expect("CapId 0 is InvalidCap", sqe, TransportError::InvalidCap);
    sqe.cap = abi::CapId::make(200, 1).raw;
    expect("an id whose slot never held a capability is InvalidCap", sqe,
           TransportError::InvalidCap);
    sqe.cap = abi::CapId::make(0xffff, 1).raw;
    expect("an index past the table is InvalidCap", sqe, TransportError::InvalidCap);

    sqe = ping();
    sqe.interface_id = schema::Console::interface_id;
    expect("Null called as Console is WrongInterface", sqe, TransportError::WrongInterface);
    sqe.interface_id = 0;
    expect("interface id 0 (no interface) is WrongInterface", sqe, TransportError::WrongInterface);
    sqe.interface_id = 0x8000000000000001ull;
    expect("an unknown interface id is WrongInterface", sqe, TransportError::WrongInterface);
    sqe = ping();
    sqe.cap = console_cap;
    expect("Console called as Null is WrongInterface", sqe, TransportError::WrongInterface);
    sqe = nop(0);
    sqe.opcode = uint8_t(abi::Opcode::Recv);
    sqe.cap = null_cap;
    sqe.result_addr = reinterpret_cast<uint64_t>(g_result);
    sqe.result_len = sizeof g_result;
    expect("RECV on a kernel capability is WrongInterface", sqe, TransportError::WrongInterface);

    // Buffers.
    constexpr uint64_t kernel_address = 0xffff800000000000ull;
    sqe = ping();
    sqe.params_addr = kernel_address;
    expect("params in the kernel's direct map are BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = kernel_address;
    expect("result in the kernel's direct map is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = 0xffffffff80000000ull;
    expect("result over the kernel image is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr = abi::user_map_base + 0x100000000ull;
    expect("params in unmapped user memory are BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = abi::user_map_base + 0x100000000ull;
    expect("result in unmapped user memory is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr = abi::user_stack_top - 8;
    sqe.params_len = 16;
    expect("params running off the top of the stack are BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = reinterpret_cast<uint64_t>(g_read_only);
    expect("result in read-only data is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = abi::user_capset_address;
    expect("result over the read-only CapSet page is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = reinterpret_cast<uint64_t>(&ring_works) & ~uint64_t(7);
    expect("result over program text is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr = 0xfffffffffffffff8ull;
    sqe.params_len = 16;
    expect("params wrapping past the end of the address space are BadBuffer", sqe,
           TransportError::BadBuffer);
    sqe = ping();
    sqe.result_addr = 0xffffffffffff0000ull;
    sqe.result_len = 0x10000;
    expect("result ending exactly at 2^64 is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr = abi::user_limit - 8;
    sqe.params_len = 16;
    expect("params crossing the end of user space are BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr = 0x1000;
    expect("params in the null guard are BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr += 4;
    expect("unaligned params are BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_len = 12;
    expect("a params length not a multiple of 8 is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_len = 0x10008;
    expect("a result buffer over 64 KiB is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.params_addr = 0;
    expect("a params length without an address is BadBuffer", sqe, TransportError::BadBuffer);
    sqe = ping();
    sqe.result_len = 0;
    expect("a result address without a length is BadBuffer", sqe, TransportError::BadBuffer);

    // Params that are not a message.
    sqe = ping();
    g_params[0] = (uint64_t(1) << 32) | (1000u << 2); // struct 1000 words past the end
    expect("a root pointer past the segment is BadParams", sqe, TransportError::BadParams);
    sqe = ping();
    g_params[0] = 2 | (uint64_t(5) << 32); // far pointer to segment 5
    expect("a far pointer in a flat message is BadParams", sqe, TransportError::BadParams);
    sqe = ping();
    g_params[0] = 1 | (uint64_t(5) << 32) | (uint64_t(100) << 35); // 100 bytes, 1 word
    expect("a list pointer past the segment is BadParams", sqe, TransportError::BadParams);
    // Absent params pass the transport (it checks only buffers that exist);
    // the method's decoder then finds no root struct: an invalidArgument
    // CapException, not a transport error.
    sqe = ping();
    sqe.params_addr = 0;
    sqe.params_len = 0;
    sqe.user_data = 0x78;
    {
        abi::Cqe cqe = test::raw::run(sqe);
        capnp::MessageReader reply(std::span<const capnp::Word>(g_result, cqe.result_len / 8));
        schema::CapException::Reader exception(reply.root());
        suite.check("absent params are an invalidArgument CapException",
                    cqe.result == int32_t(abi::CallStatus::Exception) &&
                        exception.type() == schema::ExceptionType::InvalidArgument,
                    Line("result ").dec(cqe.result));
    }

    // Results that do not fit.
    sqe = call(cap_id_of_timer(), schema::Timer::interface_id, uint16_t(schema::Timer::Method::Now),
               0);
    sqe.result_len = 8;
    expect("Timer.now into 8 bytes is ResultTooSmall", sqe, TransportError::ResultTooSmall);
    sqe.result_len = 16;
    expect("Timer.now into 16 bytes fits", sqe, 0);
    sqe = ping();
    sqe.result_addr = 0;
    sqe.result_len = 0;
    expect("Null.ping with no result buffer is ResultTooSmall", sqe,
           TransportError::ResultTooSmall);

    // An unknown method is an application error, not a transport error.
    sqe = ping();
    sqe.method = 9;
    sqe.user_data = 0x77;
    abi::Cqe cqe = test::raw::run(sqe);
    capnp::MessageReader reply(std::span<const capnp::Word>(g_result, cqe.result_len / 8));
    schema::CapException::Reader exception(reply.root());
    suite.check("an unknown method is an unimplemented CapException",
                cqe.result == int32_t(abi::CallStatus::Exception) &&
                    exception.type() == schema::ExceptionType::Unimplemented,
                Line("result ").dec(cqe.result));

    // Unknown system call numbers.
    int64_t result;
    asm volatile("syscall" : "=a"(result) : "a"(uint64_t(7)) : "rcx", "r11", "memory");
    suite.check_result("system call 7 is BadOpcode", int32_t(result), TransportError::BadOpcode);
    asm volatile("syscall" : "=a"(result) : "a"(~uint64_t(0)) : "rcx", "r11", "memory");
    suite.check_result("system call 2^64-1 is BadOpcode", int32_t(result),
                       TransportError::BadOpcode);

    // min_complete larger than the CQ is capped instead of waiting forever.
    int64_t entered = test::raw::enter(1000, 1000 * 1000);
    suite.check("cap_enter(1000, 1 ms) returns 0 completions", entered == 0,
                Line("returned ").dec(entered));
}

void stale_capability() {
    uint32_t spare = test::cap_id("null2");
    abi::Sqe ping =
        call(spare, schema::Null::interface_id, uint16_t(schema::Null::Method::Ping), 0);
    expect("the spare Null capability answers", ping, 0);
    abi::Sqe release = nop(0);
    release.opcode = uint8_t(abi::Opcode::Release);
    release.cap = spare;
    expect("RELEASE of the spare capability", release, 0);
    expect("a CALL on the released id is StaleCap", ping, TransportError::StaleCap);
    expect("a second RELEASE of the id is StaleCap", release, TransportError::StaleCap);
    abi::Sqe next_generation = ping;
    next_generation.cap =
        abi::CapId::make(abi::CapId{spare}.index(), uint16_t(abi::CapId{spare}.generation() + 1))
            .raw;
    expect("the slot's next generation, never issued, is not usable", next_generation,
           TransportError::InvalidCap);
}

// The message whose structs point twice at the same child, 21 levels deep
// (user/tests/common/shared_levels.h): a walk over its 46 words would visit
// two million structs. The kernel's traversal budget is proportional to the
// message, so each call is refused at once with BadParams and Null never sees
// it; a kernel that walked it all would spend a tenth of a second or more
// per call (the scenario's timeout).
alignas(8) capnp::Word g_shared[test::shared_levels_words];

void shared_levels(uint32_t null_cap) {
    auto shared_ping = [&](uint64_t user_data) {
        abi::Sqe sqe =
            call(null_cap, schema::Null::interface_id, uint16_t(schema::Null::Method::Ping), 0);
        sqe.user_data = user_data;
        sqe.params_addr = reinterpret_cast<uint64_t>(g_shared);
        sqe.params_len = sizeof g_shared;
        return sqe;
    };
    test::shared_levels_message(g_shared);
    expect("Null.ping with params of 46 words shared 21 levels deep is BadParams", shared_ping(0),
           TransportError::BadParams);

    // A full SQ of them in one cap_enter, eight times over (128 calls: a
    // kernel that walks each one takes many seconds for them).
    constexpr uint32_t count = abi::ring_sq_entries;
    constexpr uint32_t rounds = 8;
    uint32_t entered = 0, refused = 0;
    for (uint32_t round = 0; round < rounds; ++round) {
        for (uint32_t i = 0; i < count; ++i)
            test::raw::push(shared_ping(0x7000 + round * count + i));
        int64_t done = test::raw::enter(count, abi::no_timeout);
        entered += done > 0 ? uint32_t(done) : 0;
        abi::Cqe cqe{};
        for (uint32_t i = 0; i < count; ++i) {
            if (test::raw::pop(cqe) && cqe.user_data == 0x7000 + round * count + i &&
                cqe.result == int32_t(TransportError::BadParams))
                ++refused;
        }
    }
    bool drained = test::raw::unread() == 0;
    suite.check("8 times 16 of them in one cap_enter: each completes with BadParams",
                entered == rounds * count && refused == rounds * count && drained,
                Line("entered ").udec(entered).add(" refused ").udec(refused));

    // A capability pointer at the bottom and a descriptor for it: the
    // message is refused before anything looks at the transfer.
    test::shared_levels_message(g_shared, null_cap);
    abi::TransferDescriptor copy[1] = {{null_cap, uint8_t(abi::TransferMode::Copy), {}}};
    abi::Sqe sqe = shared_ping(0);
    sqe.transfer_addr = reinterpret_cast<uint64_t>(copy);
    sqe.transfer_count = 1;
    expect("... with a capability pointer at the bottom and a transfer descriptor: BadParams", sqe,
           TransportError::BadParams);

    suite.check("the ring works after them", ring_works());
    expect("Null.ping with an empty struct still answers",
           call(null_cap, schema::Null::interface_id, uint16_t(schema::Null::Method::Ping), 0), 0);
}

// Small messages in the ring entries (SqeInlineParams, SqeInlineResult)
// against the same calls through buffers: random calls (Null, the timer and
// a garbage id; right and wrong interfaces; known and unknown methods; params
// of zero to two words, valid or not, with and without a capability pointer;
// result buffers from none to 256 bytes), each submitted five ways in one
// cap_enter: A through buffers, R the same with a 256-byte result buffer, B
// with both flags, C with inline params only, D with inline results only.
// C must complete exactly as A. B and D must take in the completion what R
// answers with results of at most 16 bytes, and complete as A otherwise.
struct Answer {
    int32_t result = 0;
    uint32_t length = 0;
    uint64_t words[32] = {};
};

Answer answer_of(const abi::Cqe& cqe, const capnp::Word* buffer) {
    Answer out;
    out.result = cqe.result;
    out.length = cqe.result_len;
    if (cqe.result == int32_t(abi::CallStatus::OkInline)) {
        uint64_t inline_words[2];
        abi::cqe_inline_words(cqe, inline_words);
        out.words[0] = inline_words[0];
        out.words[1] = inline_words[1];
    } else if (cqe.result >= 0 && cqe.result_len <= sizeof out.words) {
        __builtin_memcpy(out.words, buffer, cqe.result_len);
    }
    return out;
}

bool same_message(const Answer& a, const Answer& b, bool timer_now) {
    if (a.length != b.length)
        return false;
    // Timer.now: the root pointer is the same; the times differ.
    size_t words = timer_now ? (a.length >= 8 ? 1 : 0) : a.length / 8;
    for (size_t i = 0; i < words; ++i) {
        if (a.words[i] != b.words[i])
            return false;
    }
    return true;
}

void inline_matches_buffers(uint32_t null_cap, uint32_t timer_cap) {
    constexpr uint32_t forms = 5;
    constexpr uint32_t cases_per_batch = abi::ring_sq_entries / forms;
    alignas(8) static capnp::Word params[cases_per_batch][2];
    alignas(8) static capnp::Word results[cases_per_batch][forms][32];
    Random random{0x1b873593cc9e2d51ull};
    uint32_t mismatches = 0;
    Line first_mismatch;
    uint32_t inline_answers = 0, exceptions = 0, bad_params = 0, wrong_interface = 0, too_small = 0,
             invalid_cap = 0;
    uint32_t case_number = 0;
    for (uint32_t batch = 0; batch < 100; ++batch) {
        abi::Sqe sqes[cases_per_batch][forms];
        bool timer_now[cases_per_batch];
        for (uint32_t c = 0; c < cases_per_batch; ++c) {
            uint32_t targets[] = {null_cap, timer_cap, abi::CapId::make(0xfff0, 1).raw};
            uint32_t cap = targets[random.below(3)];
            uint64_t interfaces[] = {schema::Null::interface_id, schema::Timer::interface_id,
                                     random.next() | 1};
            uint64_t interface_id = interfaces[random.below(3)];
            uint16_t method = uint16_t(random.below(3));
            if (cap == timer_cap && method == uint16_t(schema::Timer::Method::Sleep))
                method = uint16_t(schema::Timer::Method::Now); // no waiting
            timer_now[c] = cap == timer_cap && interface_id == schema::Timer::interface_id &&
                           method == uint16_t(schema::Timer::Method::Now);
            uint32_t length = 0;
            switch (random.below(7)) {
            case 0: // none
                break;
            case 1: // a null root
                params[c][0] = 0;
                length = 8;
                break;
            case 2: // an empty struct as libcapnp writes it
                params[c][0] = 0xfffffffc;
                length = 8;
                break;
            case 3: // a struct of one data word
                params[c][0] = uint64_t(1) << 32;
                params[c][1] = random.next();
                length = 16;
                break;
            case 4: // a struct of two data words: past the end
                params[c][0] = uint64_t(2) << 32;
                params[c][1] = random.next();
                length = 16;
                break;
            case 5: // a struct of one pointer: a capability
                params[c][0] = uint64_t(1) << 48;
                params[c][1] = 3 | (random.below(2) << 32);
                length = 16;
                break;
            default: // anything
                params[c][0] = random.next();
                params[c][1] = random.next();
                length = uint32_t(random.below(3)) * 8;
                break;
            }
            uint32_t result_sizes[] = {0, 8, 16, 24, 256};
            uint32_t result_length = result_sizes[random.below(5)];
            for (uint32_t f = 0; f < forms; ++f) {
                abi::Sqe& sqe = sqes[c][f];
                sqe = abi::Sqe{};
                sqe.opcode = uint8_t(abi::Opcode::Call);
                sqe.cap = cap;
                sqe.interface_id = interface_id;
                sqe.method = method;
                sqe.user_data = g_next_user_data++;
                bool inline_params = f == 2 || f == 3;
                if (f == 2 || f == 4)
                    sqe.flags |= abi::SqeInlineResult;
                sqe.params_len = length;
                if (inline_params) {
                    sqe.flags |= abi::SqeInlineParams;
                    __builtin_memcpy(reinterpret_cast<std::byte*>(&sqe) +
                                         abi::sqe_inline_params_offset,
                                     params[c], length);
                } else if (length != 0) {
                    sqe.params_addr = reinterpret_cast<uint64_t>(params[c]);
                }
                sqe.result_len = f == 1 ? 256 : result_length;
                if (sqe.result_len != 0)
                    sqe.result_addr = reinterpret_cast<uint64_t>(results[c][f]);
                test::raw::push(sqe);
            }
        }
        int64_t entered = test::raw::enter(forms * cases_per_batch, abi::no_timeout);
        if (entered != int64_t(forms * cases_per_batch)) {
            ++mismatches;
            break;
        }
        for (uint32_t c = 0; c < cases_per_batch; ++c, ++case_number) {
            Answer answers[forms];
            for (uint32_t f = 0; f < forms; ++f) {
                abi::Cqe cqe{};
                if (!test::raw::pop(cqe) || cqe.user_data != sqes[c][f].user_data) {
                    ++mismatches;
                    continue;
                }
                answers[f] = answer_of(cqe, results[c][f]);
            }
            const Answer& a = answers[0];
            const Answer& r = answers[1];
            bool fits = r.result == int32_t(abi::CallStatus::Ok) && r.length <= 16;
            auto matches = [&](const Answer& x, bool inline_result) {
                if (inline_result && fits)
                    return x.result == int32_t(abi::CallStatus::OkInline) &&
                           same_message(x, r, timer_now[c]) &&
                           (x.length >= 16 || x.words[1] == 0) && // the rest is 0
                           (x.length >= 8 || x.words[0] == 0);
                return x.result == a.result && same_message(x, a, timer_now[c]);
            };
            bool ok = matches(answers[2], true) && matches(answers[3], false) &&
                      matches(answers[4], true);
            if (!ok && mismatches++ == 0) {
                first_mismatch.add("case ").udec(case_number);
                for (uint32_t f = 0; f < forms; ++f)
                    first_mismatch.add(" ").dec(answers[f].result).add("/").udec(answers[f].length);
            }
            inline_answers += answers[2].result == int32_t(abi::CallStatus::OkInline);
            exceptions += a.result == int32_t(abi::CallStatus::Exception);
            bad_params += a.result == int32_t(TransportError::BadParams);
            wrong_interface += a.result == int32_t(TransportError::WrongInterface);
            too_small += a.result == int32_t(TransportError::ResultTooSmall);
            invalid_cap += a.result == int32_t(TransportError::InvalidCap);
        }
    }
    suite.check("300 random calls complete the same with inline params and results as with "
                "buffers",
                mismatches == 0 && test::raw::unread() == 0, first_mismatch);
    suite.check("... and they reached results in the completion, exceptions, BadParams, "
                "WrongInterface, ResultTooSmall and InvalidCap",
                inline_answers > 10 && exceptions > 5 && bad_params > 5 && wrong_interface > 5 &&
                    too_small > 5 && invalid_cap > 5,
                Line("inline ")
                    .udec(inline_answers)
                    .add(" exceptions ")
                    .udec(exceptions)
                    .add(" bad params ")
                    .udec(bad_params)
                    .add(" wrong interface ")
                    .udec(wrong_interface)
                    .add(" too small ")
                    .udec(too_small)
                    .add(" invalid cap ")
                    .udec(invalid_cap));
}

// The edges of the kernel's fast path for small calls (both inline flags, a
// kernel service, flat params): every combination of a target, params and a
// result buffer, each submitted with both flags. Each completion goes into
// the digest that scenario.user_ring_general compares with the general
// path's; here each must carry its user_data back and some must be answered
// in the completion, some refused.
void small_call_edges(uint32_t null_cap, uint32_t console_cap) {
    uint32_t timer_cap = cap_id_of_timer();
    struct Target {
        uint32_t cap;
        uint64_t interface_id;
        uint16_t method;
    };
    const Target targets[] = {
        {null_cap, schema::Null::interface_id, uint16_t(schema::Null::Method::Ping)},
        {timer_cap, schema::Timer::interface_id, uint16_t(schema::Timer::Method::Now)},
        {null_cap, schema::Null::interface_id, 7},                        // no such method
        {null_cap, schema::Timer::interface_id, 0},                       // wrong interface
        {null_cap, 0, 0},                                                 // no interface
        {console_cap, schema::Null::interface_id, 0},                     // another service
        {0, schema::Null::interface_id, 0},                               // CapId 0
        {abi::CapId::make(0xfff0, 1).raw, schema::Null::interface_id, 0}, // past the table
        {abi::CapId::make(abi::CapId{null_cap}.index(), 0).raw, schema::Null::interface_id, 0},
        {abi::CapId::make(abi::CapId{null_cap}.index(),
                          uint16_t(abi::CapId{null_cap}.generation() + 1))
             .raw,
         schema::Null::interface_id, 0}, // a generation never issued
    };
    struct Params {
        uint32_t length;
        uint64_t words[2];
        uint64_t address; // params_addr, which an inline CALL must leave 0
    };
    const Params params[] = {
        {0, {0, 0}, 0},
        {8, {0, 0}, 0},                                    // a null root
        {8, {0xfffffffc, 0}, 0},                           // an empty struct
        {16, {uint64_t(1) << 32, 42}, 0},                  // one data word
        {16, {uint64_t(2) << 32, 42}, 0},                  // two data words: past the end
        {16, {0xfffffffcull | uint64_t(1) << 32, 42}, 0},  // its data over the root pointer
        {16, {0xfffffff8ull, 0}, 0},                       // an offset before the message
        {8, {4, 0}, 0},                                    // an empty struct past the end
        {16, {4, 0}, 0},                                   // an empty struct at the end
        {16, {8, 0}, 0},                                   // an empty struct past the end
        {16, {4 | uint64_t(1) << 32, 0}, 0},               // its data word past the end
        {16, {uint64_t(1) << 48, 0}, 0},                   // one null pointer
        {16, {uint64_t(1) << 48, 3}, 0},                   // one capability pointer
        {16, {2, 0}, 0},                                   // a far pointer
        {8, {0, 5}, 0},                                    // a word past the params that is not 0
        {4, {0, 0}, 0},                                    // not whole words
        {24, {0, 0}, 0},                                   // longer than the entry holds
        {8, {0, 0}, reinterpret_cast<uint64_t>(g_params)}, // and an address
    };
    struct Buffer {
        uint64_t address;
        uint32_t length;
    };
    const Buffer buffers[] = {
        {0, 0},
        {reinterpret_cast<uint64_t>(g_result), 8},
        {reinterpret_cast<uint64_t>(g_result), 256},
        {reinterpret_cast<uint64_t>(g_read_only), 64},
        {abi::user_map_base + 0x100000000ull, 64}, // unmapped
        {0xffffffff80000000ull, 64},               // the kernel image
        {reinterpret_cast<uint64_t>(g_result) + 4, 64},
        {reinterpret_cast<uint64_t>(g_result), 0},
        {0, 64},
    };
    uint32_t sent = 0, returned = 0, answered_inline = 0, refused = 0;
    for (const Target& target : targets) {
        for (const Params& p : params) {
            for (const Buffer& buffer : buffers) {
                abi::Sqe sqe{};
                sqe.opcode = uint8_t(abi::Opcode::Call);
                sqe.flags = abi::SqeInlineParams | abi::SqeInlineResult;
                sqe.cap = target.cap;
                sqe.interface_id = target.interface_id;
                sqe.method = target.method;
                sqe.user_data = g_next_user_data++;
                sqe.params_len = p.length;
                sqe.params_addr = p.address;
                __builtin_memcpy(reinterpret_cast<std::byte*>(&sqe) + abi::sqe_inline_params_offset,
                                 p.words, sizeof p.words);
                sqe.result_addr = buffer.address;
                sqe.result_len = buffer.length;
                abi::Cqe cqe = test::raw::run(sqe);
                ++sent;
                returned += cqe.user_data == sqe.user_data;
                answered_inline += cqe.result == int32_t(abi::CallStatus::OkInline);
                refused += cqe.result < 0;
            }
        }
    }
    // Other flags on an otherwise small call: BadFlags, or the general path's
    // answer, never the fast path's (whatever flags value means "off" there).
    const uint8_t other_flags[] = {0xff, 0x83, 0x80, abi::SqeInlineParams,
                                   abi::SqeInlineParams | 0x40};
    for (uint8_t flags : other_flags) {
        for (const Target& target : targets) {
            abi::Sqe sqe{};
            sqe.opcode = uint8_t(abi::Opcode::Call);
            sqe.flags = flags;
            sqe.cap = target.cap;
            sqe.interface_id = target.interface_id;
            sqe.method = target.method;
            sqe.user_data = g_next_user_data++;
            abi::Cqe cqe = test::raw::run(sqe);
            ++sent;
            returned += cqe.user_data == sqe.user_data;
            refused += cqe.result < 0;
        }
    }
    suite.check("small calls at the fast path's edges each complete with their user_data",
                returned == sent && test::raw::unread() == 0);
    suite.check("... some answered in the completion, some refused",
                answered_inline > 20 && refused > sent / 2,
                Line("inline ").udec(answered_inline).add(" refused ").udec(refused));
}

} // namespace

int main() {
    uint32_t null_cap = test::cap_id("null");
    uint32_t console_cap = test::cap_id("console");
    if (null_cap == 0 || console_cap == 0 || test::cap_id("null2") == 0 || cap_id_of_timer() == 0)
        return 2;
    suite.check("the ring is empty at start", test::raw::unread() == 0);
    nop_batches();
    cq_full();
    corrupted_header();
    transport_errors(null_cap, console_cap);
    stale_capability();
    shared_levels(null_cap);
    garbage_sqes(null_cap);
    inline_matches_buffers(null_cap, cap_id_of_timer());
    small_call_edges(null_cap, console_cap);

    // The same program boots with every submission on the kernel's general
    // path (scenario.user_ring_general): the completions must not differ.
    Line("ring: the completions' digest is ").hex(test::raw::completions_digest()).print();

    // The runtime's own clients still work after all of this.
    auto null = rt::lookup<schema::Null>("null");
    suite.check("a typed Null.ping after the raw tests",
                null.is_ok() && null.value()->ping().is_ok());
    return suite.finish();
}
