// exhaust_child: the children of exhaust_test. Holding "work" (an endpoint
// it owns), it serves nothing and ends when its last client goes: one of many
// children alive at once. Holding "spawner", it starts one more of itself
// and waits for it: a chain that grows until the kernel refuses a spawn. Its
// exit code is the length of the chain below and including it (1 for the one
// whose spawn was refused with `overloaded`), or negative when something else
// went wrong.
#include "user/rt/rt.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;

int main() {
    if (uint32_t work = test::cap_id("work")) {
        alignas(8) static capnp::Word buffer[64];
        abi::Sqe recv{};
        recv.opcode = uint8_t(abi::Opcode::Recv);
        recv.cap = work;
        recv.result_addr = reinterpret_cast<uint64_t>(buffer);
        recv.result_len = sizeof buffer;
        abi::Cqe cqe = test::raw::run(recv);
        return cqe.result == int32_t(abi::TransportError::Disconnected) ? 0 : -1;
    }
    uint32_t spawner = test::cap_id("spawner");
    if (spawner == 0)
        return -2;
    const test::GrantSpec grants[] = {test::copy_grant("spawner", spawner)};
    auto child = test::spawn(spawner, "exhaust-child", "exhaust-child", grants);
    if (child.is_error()) {
        bool overloaded = child.error().kind == gen::CallErrorKind::Exception &&
                          child.error().exception.type == schema::ExceptionType::Overloaded;
        return overloaded ? 1 : -3;
    }
    auto ended = test::wait(child.value().handle.raw);
    if (ended.is_error() || !ended.value().exited)
        return -4;
    int64_t below = ended.value().code;
    return below > 0 ? int(below + 1) : int(below);
}
