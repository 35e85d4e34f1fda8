// Starting and waiting for children from the in-system tests, without the
// builder boilerplate: a grant list is an array of GrantSpec, and the results
// the tests need (handle, endpoint client ids, how the child ended) are copied
// out of the transport's reply buffer before the next call can overwrite it.
#pragma once

#include "abi/capability.h"
#include "lib/base/result.h"
#include "lib/rpc/rpc.h"
#include "schema/capos.capnp.capos.h"
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::test {

// One entry of a spawn's grant list. `raw_mode` and `raw_kind`, when nonzero,
// are written over the mode and the union discriminant as they are, to build
// lists no well-behaved caller would.
struct GrantSpec {
    std::string_view name;
    uint32_t cap = 0;
    schema::TransferMode mode = schema::TransferMode::Copy;
    bool new_endpoint = false;
    uint16_t raw_mode = 0;
    uint16_t raw_kind = 0;
    bool served_endpoint = false;
};

inline GrantSpec copy_grant(std::string_view name, uint32_t cap) {
    return {name, cap, schema::TransferMode::Copy};
}
inline GrantSpec move_grant(std::string_view name, uint32_t cap) {
    return {name, cap, schema::TransferMode::Move};
}
inline GrantSpec endpoint_grant(std::string_view name) {
    return {name, 0, schema::TransferMode::Copy, true};
}
// A fresh endpoint the caller serves: the owner side comes back in `endpoints`.
inline GrantSpec served_endpoint_grant(std::string_view name) {
    return {name, 0, schema::TransferMode::Copy, false, 0, 0, true};
}

struct Spawned {
    static constexpr uint32_t max_endpoints = 8;
    abi::CapId handle;
    uint32_t endpoints[max_endpoints] = {};
    uint32_t endpoint_count = 0;
};

// ResourceLimits for a child; 0 keeps the kernel's default.
struct Limits {
    uint32_t capability_slots = 0;
    uint32_t outstanding_calls = 0;
    uint64_t queued_bytes = 0;
    uint64_t frames = 0;
    uint32_t cpu_weight = 0;
};

// ProcessSpawner.spawn through the capability `spawner`.
Result<Spawned, gen::CallError> spawn(uint32_t spawner, std::string_view name,
                                      std::string_view binary, std::span<const GrantSpec> grants,
                                      const Limits& limits = {},
                                      std::span<const std::string_view> args = {});

// A digest of arguments (their count, each one's length and bytes; FNV-1a,
// 62 bits so that it is a positive exit code): args_child exits with the
// digest of what it received, for its parent to compare with what it sent.
int64_t args_digest(std::span<const std::string_view> args);

struct Ended {
    bool exited = false; // else faulted (or killed)
    bool killed = false;
    int64_t code = 0;     // exited
    uint8_t vector = 0;   // faulted
    uint64_t address = 0; // faulted
    uint64_t cpu_time_ns = 0;
};

// ProcessHandle.wait through the capability `handle`.
Result<Ended, gen::CallError> wait(uint32_t handle);

// ProcessHandle.kill through the capability `handle`.
bool kill(uint32_t handle);

// When a child ran, carried in its exit code: start_ms * 100000 + end_ms, both
// milliseconds since boot by Timer.now (spinner.cpp, fpu_child.cpp), so that
// its parent can check that children ran side by side.
int64_t span_code(uint64_t start_ns, uint64_t end_ns);
struct Span {
    bool ok = false; // the child exited with such a code
    int64_t start = 0, end = 0;
};
Span span_of(const Result<Ended, gen::CallError>& ended);
// Milliseconds both spans cover (negative: the gap between them).
int64_t overlap(const Span& a, const Span& b);

// Timer.now through the capability `timer`; 0 when the call fails.
uint64_t now_ns(uint32_t timer);

// Timer.sleep through the capability `timer`.
bool sleep_ns(uint32_t timer, uint64_t ns);

} // namespace capos::test
