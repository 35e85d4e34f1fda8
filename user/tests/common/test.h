// What the in-system test programs share: one line per check on the console,
// a failure count that becomes the exit code, and raw access to the ring for
// the tests that must build submissions the typed clients never would.
//
// Output contract (the QEMU scenarios match it): each check prints
//     "<suite>: <what> ... ok"            or
//     "<suite>: <what> ... FAILED (<detail>)"
// and finish() prints "<suite>: <n> checks, <m> failed" and returns the exit
// code (0 when nothing failed). Scenarios add `forbid: FAILED`, so the first
// failing check fails the run on its own line.
#pragma once

#include "abi/capability.h"
#include "abi/ring.h"
#include "abi/syscall.h"
#include "lib/base/result.h"
#include "lib/rpc/rpc.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::test {

using rt::Line;

// A short description of a failed generated-client call.
Line describe(const gen::CallError& error);

class Suite {
public:
    explicit Suite(std::string_view name) : m_name(name) {}

    // Prints one line and counts it; returns `ok`.
    bool check(std::string_view what, bool ok, const Line& detail = {});

    // A line that is not a check (context for the reader of the log).
    void note(std::string_view text);

    // Checks that a CQE result equals `expected` (0, 1 or a TransportError).
    bool check_result(std::string_view what, int32_t result, int32_t expected);
    bool check_result(std::string_view what, int32_t result, abi::TransportError expected) {
        return check_result(what, result, int32_t(expected));
    }

    // Checks that a typed call ended in a CapException of `type`.
    template <typename T>
    bool check_exception(std::string_view what, const Result<T, gen::CallError>& result,
                         schema::ExceptionType type);
    // Checks that a typed call ended in the transport error `expected`.
    template <typename T>
    bool check_transport(std::string_view what, const Result<T, gen::CallError>& result,
                         abi::TransportError expected);
    // Checks that a typed call succeeded.
    template <typename T>
    bool check_ok(std::string_view what, const Result<T, gen::CallError>& result) {
        return check(what, result.is_ok(), result.is_ok() ? Line{} : describe(result.error()));
    }

    int failures() const { return m_failures; }
    // Prints the summary; the program's exit code.
    int finish();

private:
    std::string_view m_name;
    int m_checks = 0;
    int m_failures = 0;
};

template <typename T>
bool Suite::check_exception(std::string_view what, const Result<T, gen::CallError>& result,
                            schema::ExceptionType type) {
    if (result.is_ok())
        return check(what, false, Line("succeeded"));
    const gen::CallError& error = result.error();
    bool ok = error.kind == gen::CallErrorKind::Exception && error.exception.type == type;
    return check(what, ok, ok ? Line{} : describe(error));
}

template <typename T>
bool Suite::check_transport(std::string_view what, const Result<T, gen::CallError>& result,
                            abi::TransportError expected) {
    if (result.is_ok())
        return check(what, false, Line("succeeded"));
    const gen::CallError& error = result.error();
    bool ok =
        error.kind == gen::CallErrorKind::Transport && error.transport_error == int32_t(expected);
    return check(what, ok, ok ? Line{} : describe(error));
}

// xorshift64*: the garbage generator of the tests that make random input
// (seeded by fixed values, so a failure reproduces).
struct Random {
    uint64_t state;
    uint64_t next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545f4914f6cdd1dull;
    }
    uint64_t below(uint64_t n) { return next() % n; }
    bool one_in(uint64_t n) { return below(n) == 0; }
};

// The raw CapId the CapSet lists under `name` (0 when there is none).
uint32_t cap_id(std::string_view name);

// Direct use of the ring page, for submissions the runtime's RingClient would
// never make. Callers consume every completion they cause before the runtime's
// clients run again, so the RingClient never sees them.
namespace raw {

abi::RingPage& page();
// Writes `sqe` at the tail and advances it (no kernel entry). The SQ must have room.
void push(const abi::Sqe& sqe);
// cap_enter(min_complete, timeout_ns).
int64_t enter(uint64_t min_complete, uint64_t timeout_ns);
// Takes the next unread completion, if any.
bool pop(abi::Cqe& out);
// A digest of every completion pop() has taken, in order: user_data, result,
// lengths and ids, not results carried in the completion (they may hold a
// time). Two runs that submit the same entries compare their digests.
uint64_t completions_digest();
// Completions the kernel has posted that the process has not read.
uint32_t unread();
// push + enter(1, no timeout) + pop: the completion of a lone submission.
abi::Cqe run(const abi::Sqe& sqe);

} // namespace raw

} // namespace capos::test
