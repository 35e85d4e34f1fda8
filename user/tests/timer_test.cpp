// Timer: the clock is monotonic, sleep holds the caller at least as long as
// asked, and sleeps complete in the order their deadlines fall, whatever order
// they were submitted in; a sleep holds up nothing else the process submitted
// with it; sleeps count against the answers a process may be owed; cap_enter's
// own timeout waits too; a wait for many completions is woken once, not at
// each (ProcessInfo.wakes, from "processes").
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

constexpr uint64_t ms = 1000 * 1000;

// A raw Timer.sleep submission with its own result buffer.
abi::Sqe sleep_sqe(uint32_t timer, uint64_t user_data, capnp::Word* params, capnp::Word* result,
                   uint64_t ns, uint32_t result_bytes = 64) {
    // SleepParams: one data word (ns), no pointers.
    params[0] = uint64_t(1) << 32;
    params[1] = ns;
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = timer;
    sqe.method = uint16_t(schema::Timer::Method::Sleep);
    sqe.interface_id = schema::Timer::interface_id;
    sqe.user_data = user_data;
    sqe.params_addr = reinterpret_cast<uint64_t>(params);
    sqe.params_len = 16;
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = result_bytes;
    return sqe;
}

// Submits everything pushed and collects `count` completions, in the order
// they were posted.
int collect(abi::Cqe* completions, int count) {
    int collected = 0;
    while (collected < count) {
        if (test::raw::pop(completions[collected])) {
            ++collected;
            continue;
        }
        if (test::raw::enter(1, abi::no_timeout) < 0)
            break;
    }
    return collected;
}

} // namespace

int main() {
    test::Suite suite("timer");
    auto timer = rt::lookup<schema::Timer>("timer");
    if (timer.is_error())
        return 2;
    auto& client = timer.value().client();

    auto now = [&]() -> uint64_t {
        auto result = client.now();
        return result.is_ok() ? result.value().ns() : 0;
    };

    uint64_t t0 = now();
    suite.check("now is nonzero after boot", t0 != 0);
    bool monotonic = true;
    uint64_t previous = t0;
    for (int i = 0; i < 100; ++i) {
        uint64_t t = now();
        if (t < previous)
            monotonic = false;
        previous = t;
    }
    suite.check("now never decreases over 100 calls", monotonic);
    suite.check("now advances", previous > t0,
                Line("first ").udec(t0).add(" last ").udec(previous));

    uint64_t before = now();
    auto slept = client.sleep(20 * ms);
    uint64_t after = now();
    suite.check_ok("sleep(20 ms) returns results", slept);
    suite.check("sleep(20 ms) lasts at least 20 ms", after - before >= 20 * ms,
                Line("took ").udec(after - before).add(" ns"));
    suite.check("sleep(20 ms) lasts less than 2 s", after - before < 2000 * ms,
                Line("took ").udec(after - before).add(" ns"));

    before = now();
    suite.check_ok("sleep(0) returns", client.sleep(0));
    suite.check("sleep(0) does not wait long", now() - before < 1000 * ms);

    // Two sleeps in one batch: 10 ms then 30 ms. Whether the kernel runs them
    // one after the other or side by side, the 10 ms one completes first and
    // both are done no earlier than 30 ms after they were submitted. (No typed
    // call may run while a raw completion is outstanding: the runtime would
    // take it.)
    uint32_t timer_id = timer.value().id().raw;
    alignas(8) static capnp::Word params_a[2], params_b[2], result_a[8], result_b[8];
    before = now();
    test::raw::push(sleep_sqe(timer_id, 0xa, params_a, result_a, 10 * ms));
    test::raw::push(sleep_sqe(timer_id, 0xb, params_b, result_b, 30 * ms));
    abi::Cqe completions[2] = {};
    int collected = collect(completions, 2);
    after = now();
    suite.check("two sleeps: both complete",
                collected == 2 && completions[0].result == 0 && completions[1].result == 0);
    suite.check(
        "two sleeps: the 10 ms one completes first",
        completions[0].user_data == 0xa && completions[1].user_data == 0xb,
        Line("order ").hex(completions[0].user_data).add(", ").hex(completions[1].user_data));
    suite.check("two sleeps: both done no earlier than 30 ms", after - before >= 30 * ms,
                Line("took ").udec(after - before).add(" ns"));

    suite.check("two sleeps: each completion carries the 8-byte empty results",
                completions[0].result_len == 8 && completions[1].result_len == 8);

    // The same submitted the other way round (30 ms, then 10 ms): a sleep
    // holds up nothing behind it, so the 10 ms one still completes first.
    before = now();
    test::raw::push(sleep_sqe(timer_id, 0xc, params_a, result_a, 30 * ms));
    test::raw::push(sleep_sqe(timer_id, 0xd, params_b, result_b, 10 * ms));
    collected = collect(completions, 2);
    after = now();
    suite.check("two sleeps, the longer first: both complete",
                collected == 2 && completions[0].result == 0 && completions[1].result == 0);
    suite.check(
        "two sleeps, the longer first: the 10 ms one completes first",
        completions[0].user_data == 0xd && completions[1].user_data == 0xc,
        Line("order ").hex(completions[0].user_data).add(", ").hex(completions[1].user_data));
    suite.check("two sleeps, the longer first: done no earlier than 30 ms",
                after - before >= 30 * ms, Line("took ").udec(after - before).add(" ns"));

    // A sleep and a NOP in one batch: the NOP's completion comes first.
    abi::Sqe nop{};
    nop.opcode = uint8_t(abi::Opcode::Nop);
    nop.user_data = 0xf;
    test::raw::push(sleep_sqe(timer_id, 0xe, params_a, result_a, 20 * ms));
    test::raw::push(nop);
    collected = collect(completions, 2);
    suite.check(
        "a sleep and a NOP in one batch: the NOP completes first",
        collected == 2 && completions[0].user_data == 0xf && completions[1].user_data == 0xe,
        Line("order ").hex(completions[0].user_data).add(", ").hex(completions[1].user_data));

    // Sixteen sleeps of 20, 40, ... 320 ms in flight (two clock ticks apart),
    // one cap_enter waiting for all of them: the kernel wakes the process
    // once, when the last has come, not at each (its ProcessInfo.wakes grows
    // by 1; at most 2 is allowed, against 16 for a wake at each).
    auto processes = rt::lookup<schema::ProcessInspector>("processes");
    auto wakes = [&]() -> uint64_t {
        uint32_t self = rt::process_id();
        auto listed = processes.value()->list(self - 1);
        if (listed.is_ok())
            for (auto info : listed.value().processes())
                if (info.id() == self)
                    return info.wakes();
        return 0;
    };
    constexpr uint32_t in_flight = 16;
    alignas(8) static capnp::Word params_many[in_flight][2], result_many[in_flight][8];
    uint64_t wakes_before = processes.is_ok() ? wakes() : 0;
    before = now();
    for (uint32_t i = 0; i < in_flight; ++i)
        test::raw::push(
            sleep_sqe(timer_id, 0x20 + i, params_many[i], result_many[i], (i + 1) * 20 * ms));
    int64_t entered = 0;
    while (entered >= 0 && test::raw::unread() < in_flight)
        entered = test::raw::enter(in_flight, abi::no_timeout);
    abi::Cqe many[in_flight] = {};
    collected = collect(many, in_flight); // before any typed call
    after = now();
    bool in_order = collected == int(in_flight);
    for (uint32_t i = 0; in_order && i < in_flight; ++i)
        in_order = many[i].result == 0 && many[i].user_data == 0x20 + i;
    suite.check("sixteen sleeps in flight complete, shortest first", in_order);
    suite.check("sixteen sleeps: done no earlier than 320 ms", after - before >= 320 * ms,
                Line("took ").udec(after - before).add(" ns"));
    uint64_t woken = processes.is_ok() ? wakes() - wakes_before : ~uint64_t{0};
    suite.check("sixteen sleeps: one wait for all of them is woken at most twice",
                processes.is_ok() && woken <= 2, Line("woken ").udec(woken).add(" times"));

    // cap_enter's timeout: nothing is pending, so it waits 5 ms and returns 0.
    before = now();
    entered = test::raw::enter(1, 5 * ms);
    after = now();
    suite.check("cap_enter(1, 5 ms) with nothing pending returns 0", entered == 0,
                Line("returned ").dec(entered));
    suite.check("cap_enter(1, 5 ms) waits at least 5 ms", after - before >= 5 * ms,
                Line("took ").udec(after - before).add(" ns"));
    // Not waiting: far less than the 5 ms above would take. The bound is
    // wall-clock time, and with one host thread per CPU on a busy host a
    // CPU's thread may lose the host's CPU for milliseconds: 100 ms.
    before = now();
    entered = test::raw::enter(1, 0);
    uint64_t took = now() - before;
    suite.check("cap_enter(1, 0) does not wait", entered == 0 && took < 100 * ms,
                Line("returned ").dec(entered).add(", took ").udec(took).add(" ns"));

    // Sleeps are answers owed: as many as a process may be owed are taken
    // (an hour each), the next is refused at once with an exception. The
    // process then ends with them still owed; the kernel drops them (the
    // memory checks after the exit see their memory freed).
    alignas(8) static capnp::Word params_long[abi::ring_max_owed + 1][2];
    alignas(8) static capnp::Word result_long[abi::ring_max_owed + 1][32];
    for (uint32_t i = 0; i <= abi::ring_max_owed; ++i) {
        test::raw::push(sleep_sqe(timer_id, 0x100 + i, params_long[i], result_long[i],
                                  3600'000 * ms, sizeof result_long[i]));
        test::raw::enter(0, 0); // the submission queue is smaller than the bound
    }
    abi::Cqe refused{};
    collected = collect(&refused, 1);
    suite.check("sleeps beyond the answers a process may be owed: the next is refused at once",
                collected == 1 && refused.user_data == 0x100 + abi::ring_max_owed &&
                    refused.result == int32_t(abi::CallStatus::Exception),
                Line("user_data ").hex(refused.user_data).add(" result ").dec(refused.result));
    suite.check("the owed sleeps are still pending", test::raw::unread() == 0);

    return suite.finish();
}
