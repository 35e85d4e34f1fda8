// The SMP soak: four Echo servers with their clients, and a fifth server with
// two clients (its calls come from two CPUs at once), all started at once so
// that they spread over the CPUs, while this process spawns trivial children
// four at a time and waits for each. Every client checks every reply and
// exits 0; every child exits 0; then the servers, their last clients gone,
// exit 0; the kernel's monitor checks at the end that every frame and heap
// allocation came back. scenario.smp_soak runs it short on four CPUs;
// torture.smp_soak with 10,000 spawns and 100,000 round trips.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

#ifndef CAPOS_SOAK_SPAWNS
#define CAPOS_SOAK_SPAWNS 200
#endif
#ifndef CAPOS_SOAK_ROUND_TRIPS
#define CAPOS_SOAK_ROUND_TRIPS 2000 // per client: six clients
#endif

using namespace capos;
using capos::test::copy_grant;
using capos::test::endpoint_grant;
using capos::test::GrantSpec;
using capos::test::Line;

namespace {

constexpr uint32_t spawns = CAPOS_SOAK_SPAWNS;
constexpr uint32_t round_trips = CAPOS_SOAK_ROUND_TRIPS;
constexpr uint32_t servers = 5;
constexpr uint32_t clients = 6; // servers 0-3 one each, server 4 two
constexpr uint32_t batch = 4;

test::Suite suite("soak");
uint32_t g_spawner;

struct Child {
    abi::CapId handle{};
    uint32_t endpoint = 0;
};

bool ended_with_zero(abi::CapId handle) {
    auto ended = test::wait(handle.raw);
    (void)rt::release(handle);
    return ended.is_ok() && ended.value().exited && ended.value().code == 0;
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    if (!g_spawner || !test::cap_id("console"))
        return 2;
    Child server[servers];
    Child client[clients];
    bool started = true;
    for (uint32_t i = 0; i < servers && started; ++i) {
        const GrantSpec grants[] = {endpoint_grant("echo")};
        auto spawned = test::spawn(g_spawner, "echo-server", "echo-server", grants);
        started = spawned.is_ok() && spawned.value().endpoint_count == 1;
        if (started)
            server[i] = {spawned.value().handle, spawned.value().endpoints[0]};
    }
    Line count;
    count.udec(round_trips);
    const std::string_view args[] = {count.view()};
    for (uint32_t i = 0; i < clients && started; ++i) {
        const GrantSpec grants[] = {copy_grant("echo", server[i < 4 ? i : 4].endpoint)};
        auto spawned = test::spawn(g_spawner, "soak-client", "soak-client", grants, {}, args);
        started = spawned.is_ok();
        if (started)
            client[i].handle = spawned.value().handle;
    }
    if (!suite.check("five servers and six clients started", started))
        return suite.finish();
    // The servers end once their clients have: this process lets go of its
    // own client sides now.
    for (Child& s : server)
        (void)rt::release(abi::CapId{s.endpoint});

    const GrantSpec none[1] = {};
    uint32_t clean = 0;
    Line failure;
    for (uint32_t done = 0; done < spawns; done += batch) {
        abi::CapId handles[batch];
        uint32_t started_now = 0;
        for (uint32_t i = 0; i < batch && done + i < spawns; ++i) {
            auto spawned = test::spawn(g_spawner, "trivial-child", "trivial-child",
                                       std::span<const GrantSpec>(none, 0));
            if (spawned.is_error()) {
                if (failure.empty())
                    failure.add("spawn ").udec(done + i).add(": ").add(
                        test::describe(spawned.error()).view());
                continue;
            }
            handles[started_now++] = spawned.value().handle;
        }
        for (uint32_t i = 0; i < started_now; ++i)
            clean += ended_with_zero(handles[i]);
    }
    Line what;
    what.udec(spawns).add(" trivial children spawned four at a time, each exited 0");
    suite.check(what.view(), clean == spawns, failure);

    uint32_t good_clients = 0;
    for (Child& c : client)
        good_clients += ended_with_zero(c.handle);
    Line trips;
    trips.add("six clients made ").udec(round_trips).add(" round trips each, every reply right");
    suite.check(trips.view(), good_clients == clients);
    uint32_t good_servers = 0;
    for (Child& s : server)
        good_servers += ended_with_zero(s.handle);
    suite.check("the five servers saw their last clients go and exited 0", good_servers == servers);
    return suite.finish();
}
