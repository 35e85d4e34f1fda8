// Endpoint throughput over several CPUs: N Echo servers, each with one client
// (soak_client) making `round_trips` checked round trips, all started at
// once; the time from the first spawn to the last client's end gives round
// trips per second. N is the number of CPUs online (SystemInfo.cpus). A
// measurement, not a test: it prints "pairs: N pairs, R round trips in T us,
// X per second", then the CPUs' average share of their time since boot spent
// waiting for the kernel lock.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::endpoint_grant;
using capos::test::GrantSpec;
using capos::test::Line;

namespace {
constexpr uint32_t max_pairs = 8;
constexpr uint32_t round_trips = 20000;
} // namespace

int main() {
    uint32_t spawner = test::cap_id("spawner");
    uint32_t timer = test::cap_id("timer");
    if (!spawner || !timer || !test::cap_id("console"))
        return 2;
    uint32_t pairs = 0;
    auto info = rt::lookup<schema::SystemInfo>("info");
    if (info.is_error())
        return 2;
    auto cpus = info.value().client().cpus();
    if (cpus.is_error())
        return 2;
    for (auto cpu : cpus.value().cpus())
        pairs += cpu.online() && pairs < max_pairs;
    Line count;
    count.udec(round_trips);
    const std::string_view client_args[] = {count.view()};
    abi::CapId servers[max_pairs], clients[max_pairs];
    uint64_t start = test::now_ns(timer);
    for (uint32_t i = 0; i < pairs; ++i) {
        const GrantSpec server_grants[] = {endpoint_grant("echo")};
        auto server = test::spawn(spawner, "echo-server", "echo-server", server_grants);
        if (server.is_error())
            return 3;
        servers[i] = server.value().handle;
        uint32_t endpoint = server.value().endpoints[0];
        const GrantSpec client_grants[] = {copy_grant("echo", endpoint)};
        auto client =
            test::spawn(spawner, "soak-client", "soak-client", client_grants, {}, client_args);
        if (client.is_error())
            return 3;
        clients[i] = client.value().handle;
        (void)rt::release(abi::CapId{endpoint});
    }
    bool good = true;
    for (uint32_t i = 0; i < pairs; ++i) {
        auto ended = test::wait(clients[i].raw);
        good = good && ended.is_ok() && ended.value().exited && ended.value().code == 0;
    }
    uint64_t took_us = (test::now_ns(timer) - start) / 1000;
    for (uint32_t i = 0; i < pairs; ++i)
        (void)test::wait(servers[i].raw);
    uint64_t total = uint64_t(pairs) * round_trips;
    Line line("pairs: ");
    line.udec(pairs).add(" pairs, ").udec(total).add(" round trips in ").udec(took_us);
    line.add(" us, ").udec(took_us ? total * 1000000 / took_us : 0).add(" per second");
    if (!good)
        line.add(" (a client FAILED)");
    line.print();
    // The CPUs' time spent waiting for the kernel lock, since boot: what the
    // one lock costs them.
    auto after = info.value().client().cpus();
    if (after.is_ok()) {
        uint64_t sum = 0;
        uint32_t online = 0;
        for (auto cpu : after.value().cpus()) {
            if (cpu.online()) {
                sum += cpu.lock_wait_per_mille();
                ++online;
            }
        }
        Line waits("pairs: kernel lock waits took ");
        waits.tenths(online ? sum / online : 0).add("% of the CPUs' time since boot");
        waits.print();
    }
    return good ? 0 : 1;
}
