// ipc_attack_test: endpoint calls shaped the way a hostile or careless
// process shapes them, each a regression test of a kernel bug, against
// ipc_peer servers (user/tests/ipc_peer.h):
//   - empty calls (no params) that wait in the queue (the kernel freed a
//     null params copy when the server received them);
//   - a capability pointer reachable through two struct pointers (a DAG),
//     sent with a call delivered at once, with a queued call, and back in a
//     Return: renamed exactly once (the kernel renamed it twice and panicked);
//   - cap_enter with a timeout of almost 2^64 ns waits (the deadline wrapped
//     and it returned at once);
//   - the direct handoff: the server a call is delivered to runs before
//     other ready threads;
//   - params of 46 words whose structs point twice at the same child, 21
//     levels deep (user/tests/common/shared_levels.h): a walk over them
//     visits two million structs, so the kernel refuses them (BadParams) in
//     time linear in their size, in a call, in 16 calls of one cap_enter
//     (8 times), with a transfer descriptor and in a Return, and the peer
//     never sees them;
//   - a caller with small ResourceLimits (ipc_caller): Return-side transfer
//     rollback into a full table, outstandingCalls and queuedBytes.
// Endpoint calls go raw through the ring; every raw completion is consumed
// before the typed clients (spawn, wait, Timer) run again.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/tests/common/shared_levels.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"
#include "user/tests/ipc_peer.h"

using namespace capos;
namespace peer = capos::test::peer;
using abi::TransportError;
using peer::Command;
using test::Line;

namespace {

test::Suite suite("ipc-attack");
uint32_t g_spawner, g_console, g_null, g_timer, g_frames;
alignas(8) capnp::Word g_result[64];
alignas(8) capnp::Word g_result2[64];

struct Reply {
    abi::Cqe cqe;
    std::span<const capnp::Word> message;
    std::span<const abi::CapRecord> records;
};

Reply reply_in(const abi::Cqe& cqe, const capnp::Word* buffer) {
    Reply reply{cqe, {}, {}};
    if (cqe.result >= 0) {
        reply.message = std::span<const capnp::Word>(buffer, cqe.result_len / 8);
        reply.records = std::span<const abi::CapRecord>(
            reinterpret_cast<const abi::CapRecord*>(buffer + cqe.result_len / 8), cqe.cap_count);
    }
    return reply;
}

// One raw call and its completion.
Reply call(uint32_t cap, Command command, std::span<const capnp::Word> params = {},
           std::span<const abi::TransferDescriptor> transfers = {}) {
    abi::Sqe sqe = peer::call(cap, command, params, g_result, sizeof g_result, 0x100);
    if (!transfers.empty()) {
        sqe.transfer_addr = reinterpret_cast<uint64_t>(transfers.data());
        sqe.transfer_count = uint32_t(transfers.size());
    }
    return reply_in(test::raw::run(sqe), g_result);
}

int32_t ping(uint32_t cap) {
    return test::raw::run(peer::kernel_call(cap, schema::Null::interface_id,
                                            uint16_t(schema::Null::Method::Ping), g_result2,
                                            sizeof g_result2, 0x200))
        .result;
}

// Pops completions until `count` have come, in whatever order; stores each
// by user_data - base.
bool collect(abi::Cqe* out, uint32_t count, uint64_t base) {
    uint32_t seen = 0;
    while (seen < count) {
        abi::Cqe cqe{};
        if (!test::raw::pop(cqe)) {
            if (test::raw::enter(1, abi::no_timeout) < 0)
                return false;
            continue;
        }
        if (cqe.user_data < base || cqe.user_data >= base + count)
            return false;
        out[cqe.user_data - base] = cqe;
        ++seen;
    }
    return true;
}

void empty_queued_calls(uint32_t work) {
    // Two calls without params in one cap_enter: at least the second waits
    // in the queue (the server is busy with the first, or not yet receiving).
    test::raw::push(peer::call(work, Command::Empty, {}, g_result, sizeof g_result, 0x300));
    test::raw::push(peer::call(work, Command::Empty, {}, g_result2, sizeof g_result2, 0x301));
    abi::Cqe done[2]{};
    bool collected = test::raw::enter(2, abi::no_timeout) >= 0 && collect(done, 2, 0x300);
    suite.check("two empty calls, queued, are both delivered and answered",
                collected && done[0].result == 0 && done[1].result == 0,
                Line("results ").dec(done[0].result).add(' ').dec(done[1].result));
}

// Small params of calls that wait in the queue: the kernel keeps its copy of
// params of up to 16 bytes in the call's record rather than on the heap. Two
// calls behind an empty one in the same cap_enter, one with its params in the
// entry (SqeInlineParams), one through a buffer; the peer answers each with
// the value its params carried.
void small_queued_params(uint32_t work) {
    constexpr uint64_t in_entry = 0x1122334455667788, in_buffer = 0x8877665544332211;
    alignas(8) static capnp::Word params[peer::value_words];
    peer::value_message(params, in_buffer);
    capnp::Word entry_params[peer::value_words];
    peer::value_message(entry_params, in_entry);
    alignas(8) static capnp::Word result3[8];
    test::raw::push(peer::call(work, Command::Empty, {}, g_result2, sizeof g_result2, 0x380));
    abi::Sqe inline_call = peer::call(work, Command::Reflect, {}, g_result, sizeof g_result, 0x381);
    inline_call.flags = abi::SqeInlineParams;
    inline_call.params_len = sizeof entry_params;
    __builtin_memcpy(reinterpret_cast<std::byte*>(&inline_call) + abi::sqe_inline_params_offset,
                     entry_params, sizeof entry_params);
    test::raw::push(inline_call);
    test::raw::push(peer::call(work, Command::Reflect, params, result3, sizeof result3, 0x382));
    abi::Cqe done[3]{};
    bool collected = test::raw::enter(3, abi::no_timeout) >= 0 && collect(done, 3, 0x380);
    uint64_t first = peer::read_value(std::span<const capnp::Word>(g_result, peer::value_words));
    uint64_t second = peer::read_value(std::span<const capnp::Word>(result3, peer::value_words));
    suite.check("small params of queued calls arrive whole, from the entry and from a buffer",
                collected && done[1].result == 0 && done[2].result == 0 && first == in_entry &&
                    second == in_buffer,
                Line("results ")
                    .dec(done[1].result)
                    .add(' ')
                    .dec(done[2].result)
                    .add(" values ")
                    .hex(first)
                    .add(' ')
                    .hex(second));
}

void long_timeouts(uint32_t work) {
    // The peer waits in Recv, so the call is delivered at once; its answer
    // comes only once this process blocks and the peer runs. A cap_enter
    // that does not wait returns 0 completions.
    for (uint64_t timeout : {UINT64_MAX - 1, UINT64_MAX - 998}) {
        test::raw::push(peer::call(work, Command::Empty, {}, g_result, sizeof g_result, 0x400));
        int64_t entered = test::raw::enter(1, timeout);
        abi::Cqe cqe{};
        bool answered = entered >= 1 && test::raw::pop(cqe) && cqe.user_data == 0x400;
        if (!answered && entered == 0) {
            // Collect the answer before the next check.
            (void)test::raw::enter(1, abi::no_timeout);
            (void)test::raw::pop(cqe);
        }
        suite.check(timeout == UINT64_MAX - 1
                        ? "cap_enter(1, 2^64-2 ns) waits for the completion"
                        : "cap_enter(1, 2^64-999 ns) waits for the completion",
                    answered, Line("returned ").dec(entered));
    }
}

void dag_transfers(uint32_t work) {
    alignas(8) capnp::Word message[peer::dag_words];
    abi::TransferDescriptor null_copy[1] = {{g_null, uint8_t(abi::TransferMode::Copy), {}}};

    peer::dag_message(message, 0, g_null, 0);
    Reply direct = call(work, Command::CheckDag, message, null_copy);
    suite.check("a DAG-shared capability pointer in a call delivered at once is renamed once",
                direct.cqe.result == 0 && peer::read_value(direct.message) == peer::Renamed,
                Line("result ")
                    .dec(direct.cqe.result)
                    .add(" verdict ")
                    .udec(peer::read_value(direct.message)));

    abi::TransferDescriptor two[2] = {{g_null, uint8_t(abi::TransferMode::Copy), {}},
                                      {g_console, uint8_t(abi::TransferMode::Copy), {}}};
    peer::dag_message(message, 0, g_null, g_console);
    Reply both = call(work, Command::CheckDag, message, two);
    suite.check(
        "a DAG with a second capability: each pointer names its own received id",
        both.cqe.result == 0 && peer::read_value(both.message) == peer::Renamed,
        Line("result ").dec(both.cqe.result).add(" verdict ").udec(peer::read_value(both.message)));

    // Queued: behind an empty call in the same cap_enter.
    peer::dag_message(message, 0, g_null, 0);
    test::raw::push(peer::call(work, Command::Empty, {}, g_result2, sizeof g_result2, 0x500));
    abi::Sqe dag = peer::call(work, Command::CheckDag, message, g_result, sizeof g_result, 0x501);
    dag.transfer_addr = reinterpret_cast<uint64_t>(null_copy);
    dag.transfer_count = 1;
    test::raw::push(dag);
    abi::Cqe done[2]{};
    bool collected = test::raw::enter(2, abi::no_timeout) >= 0 && collect(done, 2, 0x500);
    Reply queued = reply_in(done[1], g_result);
    suite.check("... and in a queued call",
                collected && done[1].result == 0 &&
                    peer::read_value(queued.message) == peer::Renamed,
                Line("result ").dec(done[1].result));

    Reply given = call(work, Command::GiveCopy);
    peer::DagCaps caps = peer::read_dag(given.message);
    bool once = given.cqe.result == 0 && given.records.size() == 1 && caps.ok &&
                caps.via_first == given.records[0].cap && caps.via_second == given.records[0].cap;
    suite.check("... and in a Return", once,
                Line("result ").dec(given.cqe.result).add(" caps ").udec(given.records.size()));
    if (once) {
        suite.check_result("the capability received through the DAG answers",
                           ping(given.records[0].cap), 0);
        (void)rt::release(abi::CapId{given.records[0].cap});
    }
}

// How many calls the peer behind `work` has received (0 when it does not
// answer).
uint64_t received(uint32_t work) {
    Reply reply = call(work, Command::Received);
    return reply.cqe.result == 0 ? peer::read_value(reply.message) : 0;
}

void shared_levels(uint32_t work) {
    constexpr int32_t bad_params = int32_t(TransportError::BadParams);
    alignas(8) static capnp::Word message[test::shared_levels_words];
    test::shared_levels_message(message);
    uint64_t before = received(work);

    Reply one = call(work, Command::CheckDag, message);
    suite.check_result("a call with params of 46 words shared 21 levels deep is BadParams",
                       one.cqe.result, TransportError::BadParams);

    // A full SQ of them in one cap_enter, eight times over (128 calls: a
    // kernel that walks each one takes many seconds for them).
    constexpr uint32_t count = abi::ring_sq_entries;
    constexpr uint32_t rounds = 8;
    bool collected = true;
    uint32_t refused = 0;
    for (uint32_t round = 0; round < rounds && collected; ++round) {
        for (uint32_t i = 0; i < count; ++i)
            test::raw::push(
                peer::call(work, Command::CheckDag, message, g_result, sizeof g_result, 0x700 + i));
        abi::Cqe done[count]{};
        collected = test::raw::enter(count, abi::no_timeout) >= 0 && collect(done, count, 0x700);
        for (const abi::Cqe& cqe : done)
            refused += cqe.result == bad_params ? 1 : 0;
    }
    suite.check("8 times 16 of them in one cap_enter: each completes with BadParams",
                collected && refused == rounds * count, Line("refused ").udec(refused));

    // A capability pointer at the bottom, listed in a descriptor: the message
    // is refused before the transfer walk, and the capability stays.
    test::shared_levels_message(message, g_null);
    abi::TransferDescriptor copy[1] = {{g_null, uint8_t(abi::TransferMode::Copy), {}}};
    abi::TransferDescriptor move[1] = {{g_null, uint8_t(abi::TransferMode::Move), {}}};
    suite.check_result("... with a capability pointer at the bottom, copied: BadParams",
                       call(work, Command::CheckDag, message, copy).cqe.result,
                       TransportError::BadParams);
    suite.check_result("... moved: BadParams",
                       call(work, Command::CheckDag, message, move).cqe.result,
                       TransportError::BadParams);
    suite.check_result("the Null is still held and answers", ping(g_null), 0);

    uint64_t after = received(work);
    suite.check("the peer received none of them", before > 0 && after == before + 1,
                Line("calls received in between ").udec(after - before - 1));

    Reply back = call(work, Command::ReturnShared);
    int64_t returned = back.cqe.result == 0 ? int64_t(peer::read_value(back.message)) : 0;
    suite.check("the peer's Return of that message is BadParams, and the call stays answerable",
                back.cqe.result == 0 && returned == bad_params,
                Line("result ").dec(back.cqe.result).add(" Return ").dec(returned));
}

// An answer into a process that is not running is written through that
// process's page tables, and the kernel remembers the page it last translated
// there. After the page is unmapped the next answer into it is BadBuffer, and
// after another page is mapped at the same address the answer lands in the
// new page, not in the freed one.
void answer_after_remap(uint32_t work) {
    schema::FrameAllocator::Client<rt::RingTransport> frames(rt::transport(), g_frames);
    // A reply is read before the next call on the transport (printing a
    // check is one).
    auto first = frames.allocate(1, false);
    uint32_t first_memory = first.is_ok() ? first.value().memory() : 0;
    if (!suite.check_ok("a page for answers", first))
        return;
    schema::MemoryObject::Client<rt::RingTransport> first_page(rt::transport(), first_memory);
    auto mapped = first_page.map(0, 0, 1, schema::Access::ReadWrite);
    if (!suite.check_ok("... maps", mapped))
        return;
    uint64_t address = mapped.value().address();
    auto* buffer = reinterpret_cast<capnp::Word*>(address);
    auto answer = [&] {
        // Received: answers a value (a struct pointer and a data word).
        return test::raw::run(peer::call(work, Command::Received, {}, buffer, 64, 0x600));
    };
    abi::Cqe before = answer();
    suite.check("an answer into the page",
                before.result == 0 && before.result_len == 8 * peer::value_words && buffer[0] != 0,
                Line("result ").dec(before.result).add(" bytes ").udec(before.result_len));
    suite.check_ok("the page is unmapped", first_page.unmap(address));
    abi::Cqe unmapped = answer();
    suite.check("an answer into the unmapped page is BadBuffer",
                unmapped.result == int32_t(abi::TransportError::BadBuffer),
                Line("result ").dec(unmapped.result));
    auto second = frames.allocate(1, false);
    uint32_t second_memory = second.is_ok() ? second.value().memory() : 0;
    if (!suite.check_ok("another page", second))
        return;
    schema::MemoryObject::Client<rt::RingTransport> second_page(rt::transport(), second_memory);
    suite.check_ok("... maps at the same address",
                   second_page.map(address, 0, 1, schema::Access::ReadWrite));
    abi::Cqe after = answer();
    suite.check("the answer lands in the new page", after.result == 0 && buffer[0] != 0,
                Line("result ").dec(after.result).add(" first word ").hex(buffer[0]));
    (void)second_page.unmap(address);
}

// A server's small answer to a call that takes results in its completion
// (SqeInlineResult): the peer's Received answer (a struct pointer and a data
// word, 16 bytes) comes in the completion, with or without a result buffer
// beside it, and says the same as through the buffer.
void answer_in_completion(uint32_t work) {
    alignas(8) static capnp::Word buffer[8];
    abi::Cqe through_buffer =
        test::raw::run(peer::call(work, Command::Received, {}, buffer, sizeof buffer, 0x700));
    uint64_t first = peer::read_value(std::span<const capnp::Word>(buffer, peer::value_words));
    abi::Sqe with_buffer = peer::call(work, Command::Received, {}, buffer, sizeof buffer, 0x701);
    with_buffer.flags = abi::SqeInlineResult;
    buffer[0] = buffer[1] = 0x5a5a;
    abi::Cqe inline_with_buffer = test::raw::run(with_buffer);
    abi::Sqe without_buffer = peer::call(work, Command::Received, {}, nullptr, 0, 0x702);
    without_buffer.flags = abi::SqeInlineResult;
    abi::Cqe inline_alone = test::raw::run(without_buffer);
    auto value_of = [](const abi::Cqe& cqe) {
        capnp::Word words[2];
        abi::cqe_inline_words(cqe, words);
        return peer::read_value(std::span<const capnp::Word>(words, 2));
    };
    bool untouched = buffer[0] == 0x5a5a && buffer[1] == 0x5a5a;
    suite.check("a 16-byte answer through the result buffer",
                through_buffer.result == 0 && through_buffer.result_len == 16,
                Line("result ").dec(through_buffer.result));
    suite.check("the same answer in the completion, the buffer untouched",
                inline_with_buffer.result == int32_t(abi::CallStatus::OkInline) &&
                    inline_with_buffer.result_len == 16 &&
                    value_of(inline_with_buffer) == first + 1 && untouched,
                Line("result ")
                    .dec(inline_with_buffer.result)
                    .add(" value ")
                    .udec(value_of(inline_with_buffer))
                    .add(" expected ")
                    .udec(first + 1));
    suite.check("... and with no result buffer at all",
                inline_alone.result == int32_t(abi::CallStatus::OkInline) &&
                    inline_alone.result_len == 16 && value_of(inline_alone) == first + 2,
                Line("result ").dec(inline_alone.result));
}

void direct_handoff() {
    schema::FrameAllocator::Client<rt::RingTransport> frames(rt::transport(), g_frames);
    auto object = frames.allocate(1, false);
    if (!suite.check_ok("a log page for the handoff test", object))
        return;
    uint32_t log_cap = object.value().memory();
    schema::MemoryObject::Client<rt::RingTransport> log_object(rt::transport(), log_cap);
    auto mapped = log_object.map(0, 0, 1, schema::Access::ReadWrite);
    if (!suite.check_ok("the log page maps", mapped))
        return;
    auto* log = reinterpret_cast<volatile peer::MarkLog*>(mapped.value().address());

    const test::GrantSpec grants[] = {test::endpoint_grant("work"),
                                      test::copy_grant("log", log_cap),
                                      test::copy_grant("timer", g_timer)};
    auto s = test::spawn(g_spawner, "peer-s", "ipc-peer", grants);
    auto r = test::spawn(g_spawner, "peer-r", "ipc-peer", grants);
    if (!suite.check_ok("two more peers start", s) || !suite.check_ok("... both", r))
        return;
    uint32_t s_work = s.value().endpoints[0];
    uint32_t r_work = r.value().endpoints[0];
    // One call each: once answered, each waits in Recv (it asks for the next
    // call in the cap_enter that answers).
    bool ready = call(s_work, Command::Empty).cqe.result == 0 &&
                 call(r_work, Command::Empty).cqe.result == 0;
    suite.check("both peers answer", ready);

    // Both calls in one cap_enter, R's first: each delivery readies its
    // server; with the direct handoff the one delivered last (S) runs first
    // on this CPU, with ordinary wake-ups R would. S goes on with this
    // thread's slice, so each attempt starts with a fresh one (a short
    // sleep first: the slice begins when the thread is switched to again),
    // and the tick cannot take the CPU from S before a whole tick period
    // (10 ms) has passed: an attempt where R came first on S's CPU within
    // 5 ms of the calls is a kernel that did not hand off. An attempt is
    // retried when the host stalled, or when R and S ran on different CPUs
    // (an idle one may take R from the queue while S runs, and then either
    // may mark first); a kernel that put them on CPUs of their own would
    // never be conclusive.
    alignas(8) capnp::Word tag_s[peer::value_words], tag_r[peer::value_words];
    peer::value_message(tag_s, 1);
    peer::value_message(tag_r, 2);
    bool conclusive = false, s_first = false;
    uint64_t first_after = 0;
    for (int attempt = 0; attempt < 20 && !conclusive; ++attempt) {
        log->count = 0;
        if (!test::sleep_ns(g_timer, 1'000'000))
            break;
        uint64_t t0 = test::now_ns(g_timer);
        test::raw::push(peer::call(r_work, Command::Mark, tag_r, g_result, sizeof g_result, 0x600));
        test::raw::push(
            peer::call(s_work, Command::Mark, tag_s, g_result2, sizeof g_result2, 0x601));
        abi::Cqe done[2]{};
        if (test::raw::enter(2, abi::no_timeout) < 0 || !collect(done, 2, 0x600) || log->count != 2)
            break;
        s_first = log->entries[0].tag == 1;
        first_after = log->entries[0].ns - t0;
        bool one_cpu = log->entries[0].cpu == log->entries[1].cpu;
        conclusive = one_cpu && (s_first || first_after < 5'000'000);
    }
    suite.check("the server a call is delivered to runs next (direct handoff)",
                conclusive && s_first,
                Line(conclusive ? "peer-r ran first, " : "never conclusive, ")
                    .udec(first_after / 1000)
                    .add(" us after the calls"));

    (void)rt::release(abi::CapId{s_work});
    (void)rt::release(abi::CapId{r_work});
    auto s_end = test::wait(s.value().handle.raw);
    auto r_end = test::wait(r.value().handle.raw);
    suite.check("both peers end when their clients go",
                s_end.is_ok() && s_end.value().exited && s_end.value().code == 0 && r_end.is_ok() &&
                    r_end.value().exited && r_end.value().code == 0);
    (void)rt::release(abi::CapId{log_cap});
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    g_console = test::cap_id("console");
    g_null = test::cap_id("null");
    g_timer = test::cap_id("timer");
    g_frames = test::cap_id("frames");
    if (!g_spawner || !g_console || !g_null || !g_timer || !g_frames)
        return 2;

    const test::GrantSpec grants[] = {test::endpoint_grant("work"), test::endpoint_grant("idle"),
                                      test::copy_grant("null", g_null),
                                      test::copy_grant("console", g_console)};
    auto spawned = test::spawn(g_spawner, "ipc-peer", "ipc-peer", grants);
    if (!suite.check_ok("the peer starts", spawned))
        return suite.finish();
    uint32_t work = spawned.value().endpoints[0];
    uint32_t idle = spawned.value().endpoints[1];

    empty_queued_calls(work);
    small_queued_params(work);
    long_timeouts(work);
    dag_transfers(work);
    shared_levels(work);
    answer_after_remap(work);
    answer_in_completion(work);
    direct_handoff();

    // A caller with small limits, against the same peer.
    const test::GrantSpec caller_grants[] = {test::copy_grant("work", work),
                                             test::copy_grant("idle", idle),
                                             test::copy_grant("console", g_console)};
    test::Limits limits{.capability_slots = 12, .outstanding_calls = 2, .queued_bytes = 64};
    auto caller = test::spawn(g_spawner, "ipc-caller", "ipc-caller", caller_grants, limits);
    if (suite.check_ok("a caller with 12 slots, 2 outstanding calls, 64 queued bytes", caller)) {
        auto ended = test::wait(caller.value().handle.raw);
        suite.check("the caller's checks pass",
                    ended.is_ok() && ended.value().exited && ended.value().code == 0);
    }

    (void)rt::release(abi::CapId{work});
    (void)rt::release(abi::CapId{idle});
    auto ended = test::wait(spawned.value().handle.raw);
    suite.check("the peer ends when its last client goes",
                ended.is_ok() && ended.value().exited && ended.value().code == 0,
                ended.is_ok() ? Line("code ").dec(ended.value().code) : Line("wait failed"));
    return suite.finish();
}
