// Hostile spawn inputs and ProcessHandle.wait. init (this program) sends
// ProcessSpawner.spawn every malformed request the schema lets it express;
// each must fail with its typed CapException and change nothing: after each
// one the capabilities it named still answer under the same ids, and after all
// of them the next handle lands in the very slot it would have without them
// (the table's free queue did not move: no reservation, endpoint or handle
// leaked). A trivial child at the end proves the spawner still works, and the
// scenario's frame check that no child's memory leaked.
//
// Then the boundaries that must succeed (a process name of
// schema::max_process_name bytes, a grant name of abi::capset_name_max bytes,
// abi::capset_max_entries grants; one more of each is refused above) and
// ProcessHandle.wait: an exit code, waiting twice,
// a fault's vector, waits queued on a running child (at most 4; a fifth is
// refused with overloaded) and a wait after the handle is released.
#include "abi/args.h"
#include "abi/capset.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::endpoint_grant;
using capos::test::GrantSpec;
using capos::test::Line;
using capos::test::move_grant;

namespace {

// A name of exactly `Length` bytes, made from the limit it tests.
template <size_t Length>
struct NameOf {
    char text[Length];
    constexpr NameOf() : text() {
        for (size_t i = 0; i < Length; ++i)
            text[i] = char('a' + i % 26);
    }
    constexpr std::string_view view() const { return {text, Length}; }
};
constexpr size_t longest_process_name = schema::max_process_name;
constexpr size_t longest_grant_name = abi::capset_name_max;
constexpr size_t most_grants = abi::capset_max_entries;
constexpr NameOf<longest_process_name> name_longest;
constexpr NameOf<longest_process_name + 1> name_too_long;
constexpr NameOf<longest_grant_name> grant_longest;
constexpr NameOf<longest_grant_name + 1> grant_too_long;
static_assert(most_grants + 1 < 100, "grant names below have two digits");

test::Suite suite("spawn-errors");
uint32_t g_spawner, g_console, g_timer, g_null;
abi::CapId g_first_handle;

// What a hostile spawn must leave intact: the capabilities it named answer
// under the same ids, and the first child's handle still reports its exit.
bool intact(Line& detail) {
    schema::Null::Client<rt::RingTransport> null(rt::transport(), g_null);
    schema::Console::Client<rt::RingTransport> console(rt::transport(), g_console);
    if (null.ping().is_error()) {
        detail.add("null no longer answers");
        return false;
    }
    if (console.write("").is_error()) {
        detail.add("console no longer answers");
        return false;
    }
    if (test::now_ns(g_timer) == 0) {
        detail.add("timer no longer answers");
        return false;
    }
    auto ended = test::wait(g_first_handle.raw);
    if (ended.is_error() || !ended.value().exited || ended.value().code != 0) {
        detail.add("the first child's handle changed");
        return false;
    }
    return true;
}

void refused(std::string_view what, std::string_view name, std::string_view binary,
             std::span<const GrantSpec> grants, schema::ExceptionType expected) {
    Line check(what);
    check.add(expected == schema::ExceptionType::InvalidArgument ? " is invalidArgument"
                                                                 : " is permissionDenied");
    suite.check_exception(check.view(), test::spawn(g_spawner, name, binary, grants), expected);
    Line detail;
    bool ok = intact(detail);
    suite.check(Line(what).add(": nothing changed").view(), ok, detail);
}

// Arguments beyond abi/args.h's limits: refused like the other hostile inputs.
void refused_args(std::string_view what, std::span<const std::string_view> args) {
    const GrantSpec none[1] = {};
    suite.check_exception(
        Line(what).add(" is invalidArgument").view(),
        test::spawn(g_spawner, "child", "args-child", std::span(none, 0), {}, args),
        schema::ExceptionType::InvalidArgument);
    Line detail;
    bool ok = intact(detail);
    suite.check(Line(what).add(": nothing changed").view(), ok, detail);
}

// Arguments a child must receive exactly: args_child exits with their digest.
void delivered_args(std::string_view what, std::span<const std::string_view> args) {
    const GrantSpec none[1] = {};
    auto spawned = test::spawn(g_spawner, "child", "args-child", std::span(none, 0), {}, args);
    suite.check_ok(Line("a child with ").add(what).add(" spawns").view(), spawned);
    if (spawned.is_error())
        return;
    auto ended = test::wait(spawned.value().handle.raw);
    Line detail;
    bool ok = false;
    if (ended.is_error())
        detail = test::describe(ended.error());
    else if (!ended.value().exited)
        detail.add("faulted");
    else if (!(ok = ended.value().code == test::args_digest(args)))
        detail.add("the child received other arguments");
    suite.check(Line("and receives ").add(what).add(" exactly").view(), ok, detail);
    (void)rt::release(spawned.value().handle);
}

void expect_ended(std::string_view what, const Result<test::Ended, gen::CallError>& ended,
                  bool exited, int64_t code_or_vector) {
    Line detail;
    bool ok = false;
    if (ended.is_error()) {
        detail = test::describe(ended.error());
    } else if (ended.value().exited) {
        detail.add("exited with ").dec(ended.value().code);
        ok = exited && ended.value().code == code_or_vector;
    } else {
        detail.add("faulted with vector ").udec(ended.value().vector);
        ok = !exited && ended.value().vector == code_or_vector && ended.value().address != 0;
    }
    suite.check(what, ok, detail);
}

void hostile_inputs() {
    const GrantSpec none[1] = {};
    std::span<const GrantSpec> no_grants(none, 0);
    const auto invalid = schema::ExceptionType::InvalidArgument;
    const auto denied = schema::ExceptionType::PermissionDenied;

    refused("an unknown binary", "child", "no-such-binary", no_grants, invalid);
    refused("a binary that is not an ELF", "child", "not-a-program", no_grants, invalid);
    refused("a program linked below 0x300000, over the stack and the ring", "child", "low-child",
            no_grants, invalid);
    refused("an empty binary name", "child", "", no_grants, invalid);
    refused(Line("a process name of ").udec(longest_process_name + 1).add(" bytes").view(),
            name_too_long.view(), "trivial-child", no_grants, invalid);
    refused("an empty process name", "", "trivial-child", no_grants, invalid);
    {
        const GrantSpec grants[] = {copy_grant(grant_too_long.view(), g_console)};
        refused(Line("a grant name of ").udec(longest_grant_name + 1).add(" bytes").view(), "child",
                "trivial-child", grants, invalid);
    }
    {
        const GrantSpec grants[] = {copy_grant("console", g_console), copy_grant("", g_null)};
        refused("an empty grant name", "child", "trivial-child", grants, invalid);
    }
    {
        const GrantSpec grants[] = {copy_grant("a", g_console), endpoint_grant("a")};
        refused("duplicate grant names", "child", "trivial-child", grants, invalid);
    }
    {
        static char names[most_grants + 1][4];
        GrantSpec grants[most_grants + 1];
        for (uint32_t i = 0; i < most_grants + 1; ++i) {
            names[i][0] = 'g';
            names[i][1] = char('0' + i / 10);
            names[i][2] = char('0' + i % 10);
            grants[i] = copy_grant(std::string_view(names[i], 3), g_null);
        }
        refused(Line().udec(most_grants + 1).add(" grants").view(), "child", "trivial-child",
                grants, invalid);
    }
    {
        const GrantSpec grants[] = {copy_grant("x", abi::CapId::make(200, 1).raw)};
        refused("a CapId not held", "child", "trivial-child", grants, denied);
    }
    {
        abi::CapId console{g_console};
        const GrantSpec grants[] = {
            copy_grant("x", abi::CapId::make(console.index(), console.generation() + 1).raw)};
        refused("a stale CapId", "child", "trivial-child", grants, denied);
    }
    {
        const GrantSpec grants[] = {copy_grant("x", 0)};
        refused("CapId 0", "child", "trivial-child", grants, denied);
    }
    {
        const GrantSpec grants[] = {copy_grant("handle", g_first_handle.raw)};
        refused("a copied ProcessHandle", "child", "trivial-child", grants, denied);
    }
    {
        const GrantSpec grants[] = {move_grant("handle", g_first_handle.raw)};
        refused("a moved ProcessHandle", "child", "trivial-child", grants, denied);
    }
    {
        const GrantSpec grants[] = {move_grant("a", g_null), move_grant("b", g_null)};
        refused("one capability moved twice", "child", "trivial-child", grants, invalid);
    }
    {
        const GrantSpec grants[] = {copy_grant("a", g_null), move_grant("b", g_null)};
        refused("one capability copied, then moved", "child", "trivial-child", grants, invalid);
    }
    {
        const GrantSpec grants[] = {move_grant("a", g_null), copy_grant("b", g_null)};
        refused("one capability moved, then copied", "child", "trivial-child", grants, invalid);
    }
    {
        GrantSpec grant = copy_grant("x", g_null);
        grant.raw_mode = 7;
        const GrantSpec grants[] = {grant};
        refused("transfer mode 7", "child", "trivial-child", grants, invalid);
    }
    {
        GrantSpec grant = copy_grant("x", g_null);
        grant.raw_kind = 3; // past servedEndpoint
        const GrantSpec grants[] = {grant};
        refused("grant kind 3", "child", "trivial-child", grants, invalid);
    }
    {
        // The moves and endpoints before the bad entry must not happen.
        const GrantSpec grants[] = {move_grant("null", g_null), endpoint_grant("service"),
                                    copy_grant("", g_console)};
        refused("a move and an endpoint, then an empty name", "child", "trivial-child", grants,
                invalid);
    }
    {
        const GrantSpec grants[] = {move_grant("null", g_null), endpoint_grant("service"),
                                    copy_grant("x", abi::CapId::make(300, 1).raw)};
        refused("a move and an endpoint, then a CapId not held", "child", "trivial-child", grants,
                denied);
    }
    {
        const GrantSpec grants[] = {move_grant("null", g_null), endpoint_grant("service")};
        refused("a move and an endpoint into a binary that is not an ELF", "child", "not-a-program",
                grants, invalid);
    }
}

// Argument text of `length` bytes, every byte value in turn (NULs too).
std::string_view argument_bytes(size_t length) {
    static char text[abi::args_max_text];
    for (size_t i = 0; i < length && i < sizeof text; ++i)
        text[i] = char(i * 7);
    return {text, length};
}

// One more argument than abi::args_max_count, each of a few bytes.
std::span<const std::string_view> many_arguments(size_t count) {
    static std::string_view many[abi::args_max_count + 1];
    for (size_t i = 0; i < count && i <= abi::args_max_count; ++i)
        many[i] = argument_bytes(i % 5);
    return std::span(many, count);
}

void arguments_refused() {
    refused_args(Line().udec(abi::args_max_count + 1).add(" arguments").view(),
                 many_arguments(abi::args_max_count + 1));
    std::string_view one_too_long[] = {argument_bytes(abi::args_max_text)};
    refused_args(Line("an argument of ").udec(abi::args_max_text).add(" bytes").view(),
                 one_too_long);
}

void arguments_delivered() {
    delivered_args("no arguments", {});
    std::string_view some[] = {"sleep", "", "5", argument_bytes(40)};
    delivered_args("four arguments (one empty, one of many byte values)", some);
    delivered_args(Line().udec(abi::args_max_count).add(" arguments").view(),
                   many_arguments(abi::args_max_count));
    std::string_view longest[] = {argument_bytes(abi::args_max_text - 1)};
    delivered_args(Line("an argument of ").udec(abi::args_max_text - 1).add(" bytes").view(),
                   longest);
}

void boundaries() {
    {
        const GrantSpec grants[] = {copy_grant("console", g_console),
                                    copy_grant(grant_longest.view(), g_null)};
        auto spawned = test::spawn(g_spawner, name_longest.view(), "grant-child", grants);
        suite.check_ok(Line("a ")
                           .udec(longest_process_name)
                           .add("-byte process name and a ")
                           .udec(longest_grant_name)
                           .add("-byte grant name are accepted")
                           .view(),
                       spawned);
        if (spawned.is_ok()) {
            expect_ended(Line("the child with the ")
                             .udec(longest_grant_name)
                             .add("-byte name used it (exited with 129)")
                             .view(),
                         test::wait(spawned.value().handle.raw), true, 129);
            (void)rt::release(spawned.value().handle);
        }
    }
    {
        static char names[most_grants][4];
        GrantSpec grants[most_grants];
        grants[0] = copy_grant("console", g_console);
        for (uint32_t i = 1; i < most_grants; ++i) {
            names[i][0] = 'n';
            names[i][1] = char('0' + i / 10);
            names[i][2] = char('0' + i % 10);
            grants[i] = copy_grant(std::string_view(names[i], 3), g_null);
        }
        auto spawned = test::spawn(g_spawner, "child", "grant-child", grants);
        suite.check_ok(Line().udec(most_grants).add(" grants are accepted").view(), spawned);
        if (spawned.is_ok()) {
            expect_ended(Line("the child with ")
                             .udec(most_grants)
                             .add(" grants used them all (exited with 129)")
                             .view(),
                         test::wait(spawned.value().handle.raw), true, 129);
            (void)rt::release(spawned.value().handle);
        }
    }
}

// ProcessHandle.wait as a raw CALL, so that several can be outstanding.
abi::Sqe wait_sqe(uint32_t handle, uint64_t user_data, std::span<const capnp::Word> params,
                  capnp::Word* result, uint32_t result_words) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = handle;
    sqe.method = uint16_t(schema::ProcessHandle::Method::Wait);
    sqe.interface_id = schema::ProcessHandle::interface_id;
    sqe.user_data = user_data;
    sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
    sqe.params_len = uint32_t(params.size() * 8);
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = result_words * 8;
    return sqe;
}

void waits() {
    const GrantSpec none[1] = {};
    std::span<const GrantSpec> no_grants(none, 0);

    auto seven = test::spawn(g_spawner, "exit-code-child", "exit-code-child", no_grants);
    if (suite.check_ok("exit-code-child spawned", seven)) {
        uint32_t handle = seven.value().handle.raw;
        expect_ended("wait reports exit code 7", test::wait(handle), true, 7);
        expect_ended("a second wait reports exit code 7 again", test::wait(handle), true, 7);
        (void)rt::release(abi::CapId{handle});
        suite.check_transport("wait on the released handle is StaleCap", test::wait(handle),
                              abi::TransportError::StaleCap);
    }

    auto trap = test::spawn(g_spawner, "trap-child", "trap-child", no_grants);
    if (suite.check_ok("trap-child spawned", trap)) {
        uint32_t handle = trap.value().handle.raw;
        expect_ended("wait reports the fault, vector 6", test::wait(handle), false, 6);
        expect_ended("a second wait reports vector 6 again", test::wait(handle), false, 6);
        (void)rt::release(abi::CapId{handle});
    }

    // Five waits queued on a child that is still running (it sleeps 100 ms):
    // four are answered when it exits, the fifth at once with overloaded. No
    // typed call may run until every raw completion is in: the runtime's
    // client would take them.
    const GrantSpec timer_grant[] = {copy_grant("timer", g_timer)};
    auto sleeper = test::spawn(g_spawner, "sleep-child", "sleep-child", timer_grant);
    if (!suite.check_ok("sleep-child spawned", sleeper))
        return;
    uint32_t handle = sleeper.value().handle.raw;
    alignas(8) static capnp::Word params_words[4];
    capnp::MessageBuilder params(params_words);
    (void)params.init_root(schema::ProcessHandle::WaitParams::data_words,
                           schema::ProcessHandle::WaitParams::pointer_count);
    constexpr uint32_t waits = 5, result_words = 32;
    alignas(8) static capnp::Word results[waits][result_words];
    constexpr uint64_t tag = 0x5a17000000000000;
    for (uint32_t i = 0; i < waits; ++i)
        test::raw::push(wait_sqe(handle, tag + i, params.words(), results[i], result_words));
    (void)test::raw::enter(0, 0);
    abi::Cqe cqes[waits] = {};
    bool seen[waits] = {};
    uint32_t got = 0, order[waits] = {}, strays = 0;
    // At most 2 s (40 x 50 ms) for all five.
    for (int round = 0; round < 40 && got < waits; ++round) {
        abi::Cqe cqe;
        while (got < waits && test::raw::pop(cqe)) {
            uint64_t i = cqe.user_data - tag;
            if (i >= waits || seen[i]) {
                ++strays;
                continue;
            }
            seen[i] = true;
            cqes[i] = cqe;
            order[got++] = uint32_t(i);
        }
        if (got < waits)
            (void)test::raw::enter(1, 50 * 1000 * 1000);
    }
    suite.check("five queued waits: no stray completions", strays == 0);
    suite.check("five queued waits: the fifth completed", seen[4],
                Line("it never did (").udec(got).add(" of 5 completed)"));
    if (seen[4]) {
        suite.check("five queued waits: the fifth completed first", order[0] == 4);
        bool overloaded = false;
        if (cqes[4].result == int32_t(abi::CallStatus::Exception)) {
            capnp::MessageReader message(
                std::span<const capnp::Word>(results[4], cqes[4].result_len / 8));
            schema::CapException::Reader exception(message.root());
            overloaded = exception.type() == schema::ExceptionType::Overloaded;
        }
        suite.check("five queued waits: the fifth is overloaded", overloaded,
                    Line("result ").dec(cqes[4].result));
    }
    bool four = true;
    for (uint32_t i = 0; i < 4; ++i) {
        if (!seen[i] || cqes[i].result != 0) {
            four = false;
            continue;
        }
        capnp::MessageReader message(
            std::span<const capnp::Word>(results[i], cqes[i].result_len / 8));
        schema::ProcessHandle::WaitResults::Reader reply(message.root());
        if (!reply.status().is_exited() || reply.status().exited() != 3)
            four = false;
    }
    suite.check("five queued waits: the first four report exit code 3", four);
    expect_ended("a wait after the exit reports 3 at once", test::wait(handle), true, 3);
    (void)rt::release(abi::CapId{handle});
}

} // namespace

void expect_killed(std::string_view what, const Result<test::Ended, gen::CallError>& ended) {
    Line detail;
    bool ok = false;
    if (ended.is_error())
        detail = test::describe(ended.error());
    else if (!(ok = ended.value().killed))
        detail.add(ended.value().exited ? "it exited" : "it faulted");
    suite.check(what, ok, detail);
}

// ProcessHandle.kill: a child waiting in the kernel (a sleep) and one that
// never leaves user mode both end as killed; a kill after the end changes
// nothing, and so does a second kill.
void kills() {
    const GrantSpec timer[] = {copy_grant("timer", g_timer)};
    const GrantSpec none[1] = {};
    auto sleeper = test::spawn(g_spawner, "sleep-child", "sleep-child", timer);
    if (suite.check_ok("a sleeping child to kill", sleeper)) {
        suite.check("kill answers", test::kill(sleeper.value().handle.raw));
        suite.check("a second kill answers", test::kill(sleeper.value().handle.raw));
        expect_killed("the sleeping child ended killed, not after its sleep",
                      test::wait(sleeper.value().handle.raw));
        (void)rt::release(sleeper.value().handle);
    }
    auto spinner = test::spawn(g_spawner, "spin-child", "spin-child", std::span(none, 0));
    if (suite.check_ok("a child that never leaves user mode", spinner)) {
        // Let it run first, so that the kill finds it preempted in user mode.
        (void)test::sleep_ns(g_timer, 30'000'000);
        suite.check("kill answers for it", test::kill(spinner.value().handle.raw));
        expect_killed("the spinning child ended killed", test::wait(spinner.value().handle.raw));
        (void)rt::release(spinner.value().handle);
    }
    auto ended = test::spawn(g_spawner, "exit-code-child", "exit-code-child", std::span(none, 0));
    if (suite.check_ok("a child that exits by itself", ended)) {
        expect_ended("it exited with 7", test::wait(ended.value().handle.raw), true, 7);
        suite.check("a kill after its end answers", test::kill(ended.value().handle.raw));
        expect_ended("and its status is still exit code 7", test::wait(ended.value().handle.raw),
                     true, 7);
        (void)rt::release(ended.value().handle);
    }
}

int main() {
    g_spawner = test::cap_id("spawner");
    g_console = test::cap_id("console");
    g_timer = test::cap_id("timer");
    g_null = test::cap_id("null");
    if (!g_spawner || !g_console || !g_timer || !g_null)
        return 2;

    const GrantSpec none[1] = {};
    std::span<const GrantSpec> no_grants(none, 0);
    auto first = test::spawn(g_spawner, "trivial-child", "trivial-child", no_grants);
    if (!suite.check_ok("a trivial child spawned", first))
        return suite.finish();
    g_first_handle = first.value().handle;
    expect_ended("the trivial child exited with 0", test::wait(g_first_handle.raw), true, 0);

    hostile_inputs();
    arguments_refused();

    // The next handle takes the slot after the first one's, generation 1:
    // nothing above left a slot reserved, filled or released.
    auto last = test::spawn(g_spawner, "trivial-child", "trivial-child", no_grants);
    if (suite.check_ok("after all of them a trivial child spawns", last)) {
        abi::CapId expected = abi::CapId::make(g_first_handle.index() + 1, 1);
        suite.check("its handle takes the slot after the first child's",
                    last.value().handle == expected,
                    Line("got ").hex(last.value().handle.raw).add(", expected ").hex(expected.raw));
        expect_ended("and it exited with 0", test::wait(last.value().handle.raw), true, 0);
        (void)rt::release(last.value().handle);
    }
    (void)rt::release(g_first_handle);

    boundaries();
    arguments_delivered();
    waits();
    kills();

    // Room in the caller's table is part of the decode step (slot_child.cpp).
    const GrantSpec slot_grants[] = {test::copy_grant("spawner", g_spawner),
                                     test::copy_grant("console", g_console)};
    auto slots = test::spawn(g_spawner, "slot-child", "slot-child", slot_grants,
                             test::Limits{.capability_slots = 5});
    if (suite.check_ok("a child with 5 capability slots", slots))
        expect_ended("its checks pass", test::wait(slots.value().handle.raw), true, 0);
    return suite.finish();
}
