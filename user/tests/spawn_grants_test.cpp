// Spawn with different grant lists: init (this program) holds the spawner, the
// console and a few kernel capabilities and starts grant_child with one grant
// list after another. Each child's exit code says which well-known names its
// CapSet held and whether everything it holds works and nothing else does
// (grant_child.cpp); this side checks that code against the list it sent.
// Copy and move: after a copy both sides' capabilities work; after a move the
// parent's id is stale (StaleCap) and the child's works.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;
using capos::test::move_grant;

namespace {

// grant_child's exit-code bits.
constexpr int64_t console_bit = 1, timer_bit = 2, entropy_bit = 4, null_bit = 8, boot_bit = 16,
                  vm_bit = 32, spawner_bit = 64, other_bit = 128, frames_bit = 512;

test::Suite suite("spawn-grants");
uint32_t g_spawner = 0;

// Starts grant_child with `grants`, waits for it and checks its exit code.
void run_child(std::string_view what, std::span<const GrantSpec> grants, int64_t expected) {
    auto spawned = test::spawn(g_spawner, "grant-child", "grant-child", grants);
    if (!suite.check_ok(Line(what).add(": spawned").view(), spawned))
        return;
    uint32_t handle = spawned.value().handle.raw;
    auto ended = test::wait(handle);
    Line detail;
    if (ended.is_error())
        detail = test::describe(ended.error());
    else if (!ended.value().exited)
        detail.add("faulted with vector ").udec(ended.value().vector);
    else
        detail.add("exited with ").dec(ended.value().code);
    suite.check(Line(what).add(": the child exited with ").dec(expected).view(),
                ended.is_ok() && ended.value().exited && ended.value().code == expected, detail);
    (void)rt::release(abi::CapId{handle});
}

template <typename T>
bool transport_error_is(const Result<T, gen::CallError>& result, abi::TransportError error) {
    return result.is_error() && result.error().kind == gen::CallErrorKind::Transport &&
           result.error().transport_error == int32_t(error);
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    uint32_t console = test::cap_id("console");
    uint32_t timer = test::cap_id("timer");
    uint32_t entropy = test::cap_id("entropy");
    uint32_t null = test::cap_id("null");
    uint32_t boot = test::cap_id("boot");
    uint32_t vm = test::cap_id("vm");
    uint32_t frames = test::cap_id("frames");
    if (!g_spawner || !console || !timer || !entropy || !null || !boot || !vm || !frames)
        return 2;

    { run_child("no grants", {}, 0); }
    {
        const GrantSpec grants[] = {copy_grant("console", console)};
        run_child("console only", grants, console_bit);
    }
    {
        const GrantSpec grants[] = {copy_grant("timer", timer), copy_grant("null", null)};
        run_child("timer and null, no console", grants, timer_bit | null_bit);
    }
    {
        const GrantSpec grants[] = {
            copy_grant("console", console),   copy_grant("timer", timer),
            copy_grant("entropy", entropy),   copy_grant("null", null),
            copy_grant("boot", boot),         copy_grant("vm", vm),
            copy_grant("spawner", g_spawner), copy_grant("frames", frames),
        };
        run_child("eight kernel capabilities", grants,
                  console_bit | timer_bit | entropy_bit | null_bit | boot_bit | vm_bit |
                      spawner_bit | frames_bit);
    }
    {
        // Names are the grant's, not the capability's: "console" is absent.
        const GrantSpec grants[] = {copy_grant("tty", console)};
        run_child("the console as 'tty'", grants, other_bit);
    }
    {
        const GrantSpec grants[] = {copy_grant("console", console), copy_grant("timer", timer),
                                    copy_grant("clock", timer)};
        run_child("one timer under two names", grants, console_bit | timer_bit | other_bit);
    }

    // Copy: both keep working.
    {
        const GrantSpec grants[] = {copy_grant("console", console), copy_grant("timer", timer)};
        run_child("copy of the timer", grants, console_bit | timer_bit);
        schema::Timer::Client<rt::RingTransport> parent_timer(rt::transport(), timer);
        suite.check_ok("after a copy the parent's timer still works", parent_timer.now());
    }

    // Move: the parent's id is stale at once, the child's works.
    {
        schema::Null::Client<rt::RingTransport> parent_null(rt::transport(), null);
        suite.check_ok("before the move the parent's null works", parent_null.ping());
        const GrantSpec grants[] = {copy_grant("console", console), move_grant("null", null)};
        auto spawned = test::spawn(g_spawner, "grant-child", "grant-child", grants);
        if (suite.check_ok("move of null: spawned", spawned)) {
            uint32_t handle = spawned.value().handle.raw;
            suite.check("after the move the parent's null id is StaleCap",
                        transport_error_is(parent_null.ping(), abi::TransportError::StaleCap));
            suite.check_result("after the move releasing the parent's null id is StaleCap",
                               rt::release(abi::CapId{null}), abi::TransportError::StaleCap);
            auto ended = test::wait(handle);
            suite.check("move of null: the child used it (exited with 9)",
                        ended.is_ok() && ended.value().exited &&
                            ended.value().code == (console_bit | null_bit),
                        ended.is_ok() ? Line("exited with ").dec(ended.value().code)
                                      : test::describe(ended.error()));
            (void)rt::release(abi::CapId{handle});
        }
        // Moving it again: the parent no longer holds it.
        const GrantSpec again[] = {move_grant("null", null)};
        suite.check_exception("moving the moved id again is permissionDenied",
                              test::spawn(g_spawner, "grant-child", "grant-child", again),
                              schema::ExceptionType::PermissionDenied);
    }

    // A capability copied to one child and then moved to another: the copy
    // worked, the move leaves the parent's id stale.
    {
        const GrantSpec copied[] = {copy_grant("console", console), copy_grant("entropy", entropy)};
        run_child("copy of entropy", copied, console_bit | entropy_bit);
        const GrantSpec grants[] = {copy_grant("console", console), move_grant("entropy", entropy)};
        run_child("move of entropy", grants, console_bit | entropy_bit);
        schema::EntropySource::Client<rt::RingTransport> parent_entropy(rt::transport(), entropy);
        suite.check("after the move the parent's entropy id is StaleCap",
                    transport_error_is(parent_entropy.fill(8), abi::TransportError::StaleCap));
    }

    return suite.finish();
}
