#include "user/tests/common/spawn.h"
#include "user/rt/rt.h"

namespace capos::test {

Result<Spawned, gen::CallError> spawn(uint32_t spawner, std::string_view name,
                                      std::string_view binary, std::span<const GrantSpec> grants,
                                      const Limits& limits,
                                      std::span<const std::string_view> args) {
    schema::ProcessSpawner::Client<rt::RingTransport> client(rt::transport(), spawner);
    auto spawned = client.spawn([&](schema::ProcessSpawner::SpawnParams::Builder params) {
        params.set_name(name);
        params.set_binary(binary);
        auto requested = params.init_limits();
        requested.set_capability_slots(limits.capability_slots);
        requested.set_outstanding_calls(limits.outstanding_calls);
        requested.set_queued_bytes(limits.queued_bytes);
        requested.set_frames(limits.frames);
        requested.set_cpu_weight(limits.cpu_weight);
        if (!args.empty()) {
            auto list = params.init_args(uint32_t(args.size()));
            for (uint32_t i = 0; i < args.size(); ++i)
                list.set(i, args[i]);
        }
        auto list = params.init_grants(uint32_t(grants.size()));
        for (uint32_t i = 0; i < grants.size(); ++i) {
            const GrantSpec& spec = grants[i];
            auto out = list[i];
            out.set_name(spec.name);
            if (spec.new_endpoint) {
                out.set_new_endpoint();
            } else if (spec.served_endpoint) {
                out.set_served_endpoint();
            } else {
                auto capability = out.init_capability();
                capability.set_cap(spec.cap);
                capability.set_mode(spec.raw_mode != 0 ? schema::TransferMode(spec.raw_mode)
                                                       : spec.mode);
            }
            if (spec.raw_kind != 0)
                out.raw().set_data_field<uint16_t>(1, spec.raw_kind);
        }
    });
    if (spawned.is_error())
        return Err{spawned.error()};
    Spawned result;
    result.handle = abi::CapId{spawned.value().handle()};
    auto endpoints = spawned.value().endpoints();
    for (uint32_t i = 0; i < endpoints.size() && i < Spawned::max_endpoints; ++i)
        result.endpoints[result.endpoint_count++] = endpoints[i];
    return result;
}

int64_t span_code(uint64_t start_ns, uint64_t end_ns) {
    constexpr uint64_t ms = 1000 * 1000;
    return int64_t(start_ns / ms) * 100000 + int64_t(end_ns / ms % 100000);
}

Span span_of(const Result<Ended, gen::CallError>& ended) {
    if (ended.is_error() || !ended.value().exited || ended.value().code < 100000)
        return {};
    return {true, ended.value().code / 100000, ended.value().code % 100000};
}

int64_t overlap(const Span& a, const Span& b) {
    return (a.end < b.end ? a.end : b.end) - (a.start > b.start ? a.start : b.start);
}

int64_t args_digest(std::span<const std::string_view> args) {
    uint64_t hash = 0xcbf29ce484222325ull;
    auto mix = [&](uint64_t byte) { hash = (hash ^ byte) * 0x100000001b3ull; };
    mix(args.size());
    for (std::string_view arg : args) {
        mix(arg.size() & 0xff);
        mix(arg.size() >> 8);
        for (char c : arg)
            mix(uint8_t(c));
    }
    return int64_t(hash >> 2);
}

Result<Ended, gen::CallError> wait(uint32_t handle) {
    schema::ProcessHandle::Client<rt::RingTransport> client(rt::transport(), handle);
    auto waited = client.wait();
    if (waited.is_error())
        return Err{waited.error()};
    auto status = waited.value().status();
    Ended ended;
    ended.cpu_time_ns = status.cpu_time_ns();
    if (status.is_exited()) {
        ended.exited = true;
        ended.code = status.exited();
    } else if (status.is_killed()) {
        ended.killed = true;
    } else {
        ended.vector = status.faulted().vector();
        ended.address = status.faulted().address();
    }
    return ended;
}

bool kill(uint32_t handle) {
    schema::ProcessHandle::Client<rt::RingTransport> client(rt::transport(), handle);
    return client.kill().is_ok();
}

uint64_t now_ns(uint32_t timer) {
    schema::Timer::Client<rt::RingTransport> client(rt::transport(), timer);
    auto now = client.now();
    return now.is_ok() ? now.value().ns() : 0;
}

bool sleep_ns(uint32_t timer, uint64_t ns) {
    schema::Timer::Client<rt::RingTransport> client(rt::transport(), timer);
    return client.sleep(ns).is_ok();
}

} // namespace capos::test
