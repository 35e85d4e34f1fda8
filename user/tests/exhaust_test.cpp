// exhaust_test: spawn until the kernel refuses, wide (many children alive at
// once) and deep (a chain of children each waiting for the next), then give
// everything back. Each refusal must be a clean `overloaded` that leaves the
// caller's capability table as it was (a regression test: a spawn refused for
// lack of memory once left a ProcessHandle behind, pinning the unstarted
// child). After init ends, the kernel's own balance check must find every
// frame and every heap allocation returned (page tables of kernel stacks and
// of the heap's growth once were not). Booted with little memory, so memory
// runs out before capability slots do.
#include "user/rt/rt.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using test::Line;

namespace {

test::Suite suite("exhaust");
uint32_t g_spawner;
constexpr uint32_t max_children = 200;
uint32_t g_handles[max_children];
uint32_t g_clients[max_children];

// What a Recv (which this process, owning no endpoint, can never do) says
// about each slot's id with generation 1: InvalidCap for a free slot never
// used, StaleCap for a slot used since, WrongInterface for a capability with
// generation 1. A capability appearing in a fresh slot changes the picture.
struct TableProbe {
    int32_t result[256];
    bool operator==(const TableProbe& other) const {
        for (uint32_t i = 0; i < 256; ++i) {
            if (result[i] != other.result[i])
                return false;
        }
        return true;
    }
};

void probe_table(TableProbe& out) {
    alignas(8) static capnp::Word result[8];
    for (uint32_t index = 0; index < 256; ++index) {
        abi::Sqe sqe{};
        sqe.opcode = uint8_t(abi::Opcode::Recv);
        sqe.cap = abi::CapId::make(uint16_t(index), 1).raw;
        sqe.result_addr = reinterpret_cast<uint64_t>(result);
        sqe.result_len = sizeof result;
        out.result[index] = test::raw::run(sqe).result;
    }
}

bool is_overloaded(const gen::CallError& error) {
    return error.kind == gen::CallErrorKind::Exception &&
           error.exception.type == schema::ExceptionType::Overloaded;
}

void wide() {
    const test::GrantSpec grants[] = {test::endpoint_grant("work")};
    uint32_t alive = 0;
    bool refused = false, clean = false, unchanged = false;
    static TableProbe before, after;
    while (alive < max_children) {
        probe_table(before);
        auto child = test::spawn(g_spawner, "exhaust-child", "exhaust-child", grants);
        if (child.is_error()) {
            refused = true;
            clean = is_overloaded(child.error());
            probe_table(after);
            unchanged = before == after;
            break;
        }
        g_handles[alive] = child.value().handle.raw;
        g_clients[alive] = child.value().endpoints[0];
        ++alive;
    }
    suite.check("children alive at once until a spawn is refused", refused && alive >= 8,
                Line("alive ").udec(alive));
    suite.check("the refusal is overloaded", clean);
    suite.check("the refused spawn left the caller's table as it was", unchanged);
    bool all_ended = true;
    Line detail;
    for (uint32_t i = 0; i < alive; ++i)
        all_ended = rt::release(abi::CapId{g_clients[i]}) == 0 && all_ended;
    for (uint32_t i = 0; i < alive; ++i) {
        auto ended = test::wait(g_handles[i]);
        bool clean = ended.is_ok() && ended.value().exited && ended.value().code == 0;
        if (!clean && detail.empty()) {
            detail.add("child ").udec(i);
            if (ended.is_error())
                detail.add(": wait failed");
            else if (ended.value().exited)
                detail.add(": exit code ").dec(ended.value().code);
            else
                detail.add(": fault vector ")
                    .udec(ended.value().vector)
                    .add(" at ")
                    .hex(ended.value().address);
        }
        all_ended = clean && all_ended;
        (void)rt::release(abi::CapId{g_handles[i]});
    }
    suite.check("each ends when its endpoint's client goes", all_ended, detail);
}

void deep() {
    const test::GrantSpec grants[] = {test::copy_grant("spawner", g_spawner)};
    auto root = test::spawn(g_spawner, "exhaust-child", "exhaust-child", grants);
    if (!suite.check_ok("the root of a chain starts", root))
        return;
    auto ended = test::wait(root.value().handle.raw);
    int64_t length = ended.is_ok() && ended.value().exited ? ended.value().code : -100;
    suite.check("a chain of children grows until a spawn is refused (overloaded) and unwinds",
                length >= 8, Line("length ").dec(length));
    (void)rt::release(root.value().handle);
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    if (g_spawner == 0)
        return 2;
    for (int round = 0; round < 2; ++round) {
        wide();
        deep();
    }
    return suite.finish();
}
