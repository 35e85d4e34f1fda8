// irqoff_test: kernel work whose size the caller chooses, each at the largest
// size this process's limits allow, booted with `irqoff=1000` under QEMU's
// -icount (guest time counted in instructions, so host load changes
// nothing): no stretch of kernel work may hold interrupts off for more than
// 1 ms (docs/status.md). Map, protect, unmap and decommit tens of MiB;
// memory objects of 32 MiB, contiguous and not, mapped and unmapped; a long
// console text; batches of 16 big submissions; a child whose 60 MiB are torn
// down when it exits.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using schema::Access;
using test::Line;

namespace {

test::Suite suite("irqoff");
constexpr uint64_t page = 4096;
constexpr uint64_t big = 15360 * page; // 60 MiB of the default 64 MiB

void touch(uint64_t address, uint64_t length) {
    for (uint64_t at = 0; at < length; at += page)
        reinterpret_cast<volatile uint8_t*>(address)[at] = 1;
}

} // namespace

int main() {
    auto vm_cap = rt::lookup<schema::VirtualMemory>("vm");
    auto frames_cap = rt::lookup<schema::FrameAllocator>("frames");
    auto console_cap = rt::lookup<schema::Console>("console");
    uint32_t spawner = test::cap_id("spawner");
    if (vm_cap.is_error() || frames_cap.is_error() || console_cap.is_error() || spawner == 0)
        return 2;
    auto& vm = vm_cap.value().client();
    auto& frames = frames_cap.value().client();

    // A child first: it maps 60 MiB and exits; its teardown frees them.
    if (uint32_t child_vm = test::cap_id("vm")) {
        const test::GrantSpec grants[] = {
            test::copy_grant("vm", child_vm),
            test::copy_grant("console", console_cap.value().id().raw)};
        auto child = test::spawn(spawner, "irqoff-child", "irqoff-child", grants);
        if (suite.check_ok("a child that maps 60 MiB starts", child)) {
            auto ended = test::wait(child.value().handle.raw);
            suite.check("it exits with its memory mapped (torn down by the kernel)",
                        ended.is_ok() && ended.value().exited && ended.value().code == 0);
        }
    }

    auto mapped = vm.map(0, big, Access::ReadWrite);
    uint64_t at = mapped.is_ok() ? mapped.value().address() : 0;
    suite.check("map 60 MiB", at != 0);
    if (at != 0) {
        touch(at, big);
        suite.check_ok("protect them read-only", vm.protect(at, big, Access::Read));
        suite.check_ok("unmap them", vm.unmap(at, big));
    }

    auto reserved = vm.reserve(0, 2 * big);
    uint64_t r = reserved.is_ok() ? reserved.value().address() : 0;
    suite.check("reserve 120 MiB", r != 0);
    if (r != 0) {
        suite.check_ok("commit 60 MiB of it", vm.commit(r, big, Access::ReadWrite));
        suite.check_ok("decommit all of it", vm.decommit(r, 2 * big));
    }

    for (bool contiguous : {false, true}) {
        auto object = frames.allocate(8192, contiguous);
        if (!suite.check_ok(contiguous ? "a 32 MiB contiguous memory object"
                                       : "a 32 MiB memory object",
                            object))
            continue;
        rt::Capability<schema::MemoryObject> memory(abi::CapId{object.value().memory()});
        auto in = memory->map(0, 0, 8192, Access::ReadWrite);
        uint64_t where = in.is_ok() ? in.value().address() : 0;
        suite.check("mapped whole", where != 0);
        if (where != 0)
            suite.check_ok("and unmapped", memory->unmap(where));
    }

    // 16 maps of 256 pages in one cap_enter, then their unmaps.
    alignas(8) static capnp::Word params[16][8];
    alignas(8) static capnp::Word results[16][8];
    uint64_t tickets[16];
    for (int i = 0; i < 16; ++i) {
        capnp::MessageBuilder message(params[i]);
        schema::VirtualMemory::MapParams::Builder p(
            message.init_root(schema::VirtualMemory::MapParams::data_words,
                              schema::VirtualMemory::MapParams::pointer_count));
        p.set_address(0);
        p.set_length(256 * page);
        p.set_access(Access::ReadWrite);
        abi::Sqe sqe{};
        sqe.opcode = uint8_t(abi::Opcode::Call);
        sqe.cap = vm_cap.value().id().raw;
        sqe.interface_id = schema::VirtualMemory::interface_id;
        sqe.method = uint16_t(schema::VirtualMemory::Method::Map);
        sqe.params_addr = reinterpret_cast<uint64_t>(message.words().data());
        sqe.params_len = uint32_t(message.words().size() * 8);
        sqe.result_addr = reinterpret_cast<uint64_t>(results[i]);
        sqe.result_len = sizeof results[i];
        tickets[i] = rt::ring().submit(sqe);
    }
    int mapped_all = 0;
    for (int i = 0; i < 16; ++i) {
        abi::Cqe cqe = rt::ring().wait(tickets[i]);
        if (cqe.result != 0)
            continue;
        capnp::MessageReader reader(std::span<const capnp::Word>(results[i], cqe.result_len / 8));
        uint64_t address = schema::VirtualMemory::MapResults::Reader(reader.root()).address();
        mapped_all += vm.unmap(address, 256 * page).is_ok();
    }
    suite.check("16 maps of 1 MiB in one cap_enter, each unmapped", mapped_all == 16,
                Line().dec(mapped_all).add(" of 16"));

    // A long text (48 lines) in one write.
    static char text[48 * 64];
    for (int line = 0; line < 48; ++line) {
        for (int c = 0; c < 63; ++c)
            text[line * 64 + c] = c == 0 ? '|' : '.';
        text[line * 64 + 63] = '\n';
    }
    suite.check_ok("a 3 KiB console text in one write",
                   console_cap.value()->write(std::string_view(text, sizeof text)));
    // The longest text there can be (60 KiB of lines, within the ring's
    // largest message) through the terminal, which writes to the same port.
    static char long_text[960 * 64];
    for (int line = 0; line < 960; ++line) {
        for (int c = 0; c < 63; ++c)
            long_text[line * 64 + c] = c == 0 ? '|' : ':';
        long_text[line * 64 + 63] = '\n';
    }
    // (Beyond what a generated client's params buffer holds: a raw CALL.)
    auto terminal = rt::find_capability("terminal");
    if (suite.check("a terminal", terminal.is_ok())) {
        alignas(8) static capnp::Word params[sizeof long_text / 8 + 8];
        capnp::MessageBuilder message(params);
        schema::TerminalSession::WriteParams::Builder(
            message.init_root(schema::TerminalSession::WriteParams::data_words,
                              schema::TerminalSession::WriteParams::pointer_count))
            .set_text(std::string_view(long_text, sizeof long_text));
        alignas(8) static capnp::Word results[8];
        abi::Sqe sqe{};
        sqe.opcode = uint8_t(abi::Opcode::Call);
        sqe.cap = terminal.value().id.raw;
        sqe.interface_id = schema::TerminalSession::interface_id;
        sqe.method = uint16_t(schema::TerminalSession::Method::Write);
        sqe.params_addr = reinterpret_cast<uint64_t>(message.words().data());
        sqe.params_len = uint32_t(message.words().size_bytes());
        sqe.result_addr = reinterpret_cast<uint64_t>(results);
        sqe.result_len = sizeof results;
        abi::Cqe cqe = rt::ring().run(sqe);
        suite.check("a 60 KiB terminal text in one write",
                    message.error() == capnp::WireError::None &&
                        cqe.result == int32_t(abi::CallStatus::Ok),
                    Line("result ").dec(cqe.result));
    }
    return suite.finish();
}
