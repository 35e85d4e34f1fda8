// Leaks over many cycles: init (this program) starts trivial_child 1,000
// times (spawn, wait, release the handle) and then makes 100,000 Echo round
// trips to echo_server through an endpoint, and finally lets the server end.
// Whatever the kernel allocates per spawn or per call must be given back: the
// scenario ends with the kernel's check that every frame init (and so every
// child) used was returned. Each part prints how long it took by Timer.now,
// in quarters, so that a per-cycle cost that grows (a leak that makes a list
// longer) shows as well.
//
// The kernel heap is not visible from here: the monitor counts frames the
// heap has mapped as returned, so a heap leak would not fail this test.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::endpoint_grant;
using capos::test::GrantSpec;
using capos::test::Line;

namespace {

constexpr uint32_t spawn_cycles = 1000;
constexpr uint32_t round_trips = 100000;

test::Suite suite("leak");
uint32_t g_spawner, g_timer;

void report(std::string_view what, uint64_t ns, uint32_t count) {
    Line line(what);
    line.add(": ").udec(ns / 1000000).add(" ms, ").udec(ns / 1000 / count).add(" us each");
    suite.note(line.view());
}

void spawn_cycles_part() {
    const GrantSpec none[1] = {};
    std::span<const GrantSpec> no_grants(none, 0);
    uint32_t clean = 0;
    Line failure;
    uint64_t start = test::now_ns(g_timer), quarter_start = start;
    for (uint32_t i = 0; i < spawn_cycles; ++i) {
        auto spawned = test::spawn(g_spawner, "trivial-child", "trivial-child", no_grants);
        if (spawned.is_error()) {
            if (failure.empty())
                failure.add("cycle ").udec(i).add(": ").add(test::describe(spawned.error()).view());
            continue;
        }
        auto ended = test::wait(spawned.value().handle.raw);
        if (ended.is_ok() && ended.value().exited && ended.value().code == 0)
            ++clean;
        else if (failure.empty())
            failure.add("cycle ").udec(i).add(": the child did not exit with 0");
        if (rt::release(spawned.value().handle) != 0 && failure.empty())
            failure.add("cycle ").udec(i).add(": releasing the handle failed");
        if ((i + 1) % (spawn_cycles / 4) == 0) {
            uint64_t now = test::now_ns(g_timer);
            Line what("spawn+wait cycles ");
            what.udec(i + 2 - spawn_cycles / 4).add('-').udec(i + 1);
            report(what.view(), now - quarter_start, spawn_cycles / 4);
            quarter_start = now;
        }
    }
    report("1000 spawn+wait+release cycles", test::now_ns(g_timer) - start, spawn_cycles);
    suite.check("1000 trivial children spawned, waited for and released, each exited 0",
                clean == spawn_cycles, failure);
}

void round_trips_part() {
    const GrantSpec grants[] = {endpoint_grant("echo")};
    auto spawned = test::spawn(g_spawner, "echo-server", "echo-server", grants);
    if (!suite.check_ok("echo-server spawned with a new endpoint", spawned))
        return;
    uint32_t client_id = spawned.value().endpoints[0];
    abi::CapId handle = spawned.value().handle;
    schema::Echo::Client<rt::RingTransport> echo(rt::transport(), client_id);
    uint32_t good = 0;
    Line failure;
    uint64_t start = test::now_ns(g_timer), quarter_start = start;
    for (uint32_t i = 0; i < round_trips; ++i) {
        auto reply = echo.echo("ping");
        if (reply.is_ok() && reply.value().text() == "ping")
            ++good;
        else if (failure.empty())
            failure.add("round trip ").udec(i).add(" failed");
        if ((i + 1) % (round_trips / 4) == 0) {
            uint64_t now = test::now_ns(g_timer);
            Line what("Echo round trips ");
            what.udec(i + 2 - round_trips / 4).add('-').udec(i + 1);
            report(what.view(), now - quarter_start, round_trips / 4);
            quarter_start = now;
        }
    }
    report("100000 Echo round trips", test::now_ns(g_timer) - start, round_trips);
    suite.check("100000 Echo round trips through the endpoint, every reply right",
                good == round_trips, failure);
    suite.check_result("the client facet is released", rt::release(abi::CapId{client_id}), 0);
    auto ended = test::wait(handle.raw);
    suite.check("the server sees its last client gone and exits with 0",
                ended.is_ok() && ended.value().exited && ended.value().code == 0);
    (void)rt::release(handle);
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    g_timer = test::cap_id("timer");
    if (!g_spawner || !g_timer || !test::cap_id("console"))
        return 2;
    uint64_t start = test::now_ns(g_timer);
    spawn_cycles_part();
    round_trips_part();
    suite.note(
        Line("both parts took ").udec((test::now_ns(g_timer) - start) / 1000000).add(" ms").view());
    return suite.finish();
}
