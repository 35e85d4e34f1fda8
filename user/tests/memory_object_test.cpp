// FrameAllocator and MemoryObject: allocate, info, map, write and read through
// mappings that share frames, unmap, RELEASE; contiguous objects; refused
// sizes, ranges and accesses; the per-process table of object mappings; W^X
// across two processes sharing an object (with wx_child). It
// exits with an object mapped whose capability it released, on purpose: the
// mapping alone keeps the frames, and teardown must return them.
#include "abi/user_layout.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"
#include "user/tests/wx_child.h"

using namespace capos;
using capos::test::Line;
using schema::Access;
using schema::ExceptionType;

namespace {

constexpr uint64_t page = 4096;

test::Suite suite("memory");

using Memory = rt::Capability<schema::MemoryObject>;

bool zeroed(uint64_t address, uint64_t length) {
    auto* words = reinterpret_cast<volatile uint64_t*>(address);
    for (uint64_t i = 0; i < length / 8; ++i)
        if (words[i] != 0)
            return false;
    return true;
}

// One distinct word per page.
void mark(uint64_t address, uint32_t pages, uint64_t seed) {
    for (uint32_t i = 0; i < pages; ++i)
        *reinterpret_cast<volatile uint64_t*>(address + i * page + 8 * i) = seed + i;
}

bool marked(uint64_t address, uint32_t pages, uint64_t seed, uint32_t first_page = 0) {
    for (uint32_t i = 0; i < pages; ++i) {
        uint32_t p = first_page + i;
        if (*reinterpret_cast<volatile uint64_t*>(address + i * page + 8 * p) != seed + p)
            return false;
    }
    return true;
}

// A raw Info call on `id`, to see the transport error of a released id.
int32_t raw_info(uint32_t id) {
    alignas(8) static capnp::Word params[1] = {0};
    alignas(8) static capnp::Word result[16];
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = id;
    sqe.interface_id = schema::MemoryObject::interface_id;
    sqe.method = uint16_t(schema::MemoryObject::Method::Info);
    sqe.user_data = 0x1f0;
    sqe.params_addr = reinterpret_cast<uint64_t>(params);
    sqe.params_len = sizeof params;
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = sizeof result;
    return test::raw::run(sqe).result;
}

// Starts wx_child with a copy of `object` granted as `name` (user/tests/
// wx_child.h) and waits for it: whether it ran every check and all passed.
bool child_passes(uint32_t spawner, std::string_view name, uint32_t object) {
    const test::GrantSpec grants[] = {test::copy_grant("console", test::cap_id("console")),
                                      test::copy_grant(name, object)};
    auto spawned = test::spawn(spawner, "wx-child", "wx-child", grants);
    if (spawned.is_error())
        return false;
    auto ended = test::wait(spawned.value().handle.raw);
    (void)rt::release(spawned.value().handle);
    return ended.is_ok() && ended.value().exited && ended.value().code == 0;
}

// W^X for one object across two address spaces: the child's mappings and
// this process's count together, and a child's mappings stop counting when
// it is gone.
void across_processes(rt::Capability<schema::FrameAllocator>::Client& frames, uint32_t spawner) {
    auto allocated = frames.allocate(1, false);
    if (!suite.check_ok("allocate a 1-page object to share with a child", allocated))
        return;
    Memory shared(abi::CapId{allocated.value().memory()});
    uint32_t id = shared.id().raw;
    // Addresses are copied out at once: a result reader points into the
    // transport's buffer, which the next call overwrites.
    auto writable = shared->map(0, 0, 1, Access::ReadWrite);
    if (!suite.check_ok("map it read-write here", writable))
        return;
    uint64_t address = writable.value().address();
    suite.check("a child given a copy cannot map it read-execute while it is read-write here",
                child_passes(spawner, test::wx::while_writable, id));
    suite.check_ok("unmap it here", shared->unmap(address));

    auto executable = shared->map(0, 0, 1, Access::ReadExecute);
    if (!suite.check_ok("map it read-execute here", executable))
        return;
    address = executable.value().address();
    suite.check("a child given a copy cannot map it read-write while it is read-execute here",
                child_passes(spawner, test::wx::while_executable, id));
    suite.check_ok("unmap it again", shared->unmap(address));

    suite.check("a child maps it read-write, writes to it and exits with the mapping in place",
                child_passes(spawner, test::wx::to_write, id));
    auto after = shared->map(0, 0, 1, Access::ReadExecute);
    uint64_t seen =
        after.is_ok() ? *reinterpret_cast<volatile uint64_t*>(after.value().address()) : 0;
    suite.check("once the child is gone, read-execute here works and shows its write",
                after.is_ok() && seen == test::wx::written, Line("read ").hex(seen));
    // Released with that mapping in place: teardown drops it.
}

} // namespace

int main() {
    auto frames_cap = rt::lookup<schema::FrameAllocator>("frames");
    auto vm_cap = rt::lookup<schema::VirtualMemory>("vm");
    if (frames_cap.is_error() || vm_cap.is_error())
        return 2;
    auto& frames = frames_cap.value().client();
    auto& vm = vm_cap.value().client();

    auto allocated = frames.allocate(4, false);
    suite.check_ok("allocate 4 pages", allocated);
    if (allocated.is_error())
        return suite.finish();
    Memory memory(abi::CapId{allocated.value().memory()});
    suite.check("the result carries a capability", memory.id().raw != 0);

    auto info = memory->info();
    suite.check("info: 4 pages, not contiguous",
                info.is_ok() && info.value().pages() == 4 && !info.value().contiguous());

    auto mapped = memory->map(0, 0, 4, Access::ReadWrite);
    suite.check_ok("map all 4 pages read-write anywhere", mapped);
    uint64_t a = mapped.is_ok() ? mapped.value().address() : 0;
    suite.check("the mapping is in the map region",
                a >= abi::user_map_base && a + 4 * page <= abi::user_map_limit && a % page == 0,
                Line("address ").hex(a));
    if (a == 0)
        return suite.finish();
    suite.check("a new object is zeroed", zeroed(a, 4 * page));
    mark(a, 4, 0x1000);
    suite.check("written through the mapping, read back", marked(a, 4, 0x1000));

    // A second, read-only mapping of pages 1..2 at a chosen address shares
    // the frames.
    const uint64_t fixed = abi::user_map_base + 0x20000000;
    auto second = memory->map(fixed, 1, 2, Access::Read);
    suite.check("map pages 1-2 read-only at a chosen address",
                second.is_ok() && second.value().address() == fixed);
    suite.check("the second mapping sees the first one's writes", marked(fixed, 2, 0x1000, 1));
    mark(a, 4, 0x2000);
    suite.check("and later writes too", marked(fixed, 2, 0x2000, 1));
    suite.check_exception("VirtualMemory.unmap of an object mapping is invalidArgument",
                          vm.unmap(fixed, 2 * page), ExceptionType::InvalidArgument);
    suite.check_ok("unmap the second mapping", memory->unmap(fixed));
    suite.check_exception("unmap it again is invalidArgument", memory->unmap(fixed),
                          ExceptionType::InvalidArgument);
    suite.check_exception("unmap of an address that is no mapping's start is invalidArgument",
                          memory->unmap(a + page), ExceptionType::InvalidArgument);
    suite.check("the first mapping is untouched", marked(a, 4, 0x2000));

    // W^X holds for the object across its mappings: writable in one place and
    // executable in another would let code written through the first run
    // through the second (a regression test: both were allowed).
    suite.check_exception("map read-execute while mapped read-write is permissionDenied",
                          memory->map(0, 0, 1, Access::ReadExecute),
                          ExceptionType::PermissionDenied);
    auto code_object = frames.allocate(1, false);
    if (suite.check_ok("allocate a 1-page object for code", code_object)) {
        Memory code(abi::CapId{code_object.value().memory()});
        auto writable = code->map(0, 0, 1, Access::ReadWrite);
        uint64_t written = writable.is_ok() ? writable.value().address() : 0;
        if (written != 0) {
            // mov eax, 42; ret
            const uint8_t program[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
            auto* bytes = reinterpret_cast<volatile uint8_t*>(written);
            for (size_t i = 0; i < sizeof program; ++i)
                bytes[i] = program[i];
        }
        suite.check_exception("a fresh object written through a read-write mapping cannot "
                              "be mapped read-execute beside it",
                              code->map(0, 0, 1, Access::ReadExecute),
                              ExceptionType::PermissionDenied);
        suite.check_ok("unmap the writable mapping", code->unmap(written));
        auto executable = code->map(0, 0, 1, Access::ReadExecute);
        suite.check_ok("then map it read-execute", executable);
        if (executable.is_ok()) {
            uint64_t entry = executable.value().address();
            int result = reinterpret_cast<int (*)()>(entry)();
            suite.check("the code runs", result == 42, Line("returned ").dec(result));
            suite.check_exception("map read-write while mapped read-execute is permissionDenied",
                                  code->map(0, 0, 1, Access::ReadWrite),
                                  ExceptionType::PermissionDenied);
            suite.check_ok("a read-only mapping beside it is fine",
                           code->map(0, 0, 1, Access::Read));
            suite.check_exception("VirtualMemory.protect cannot make the object writable",
                                  vm.protect(entry, page, Access::ReadWrite),
                                  ExceptionType::InvalidArgument);
        }
        // Released with its mappings in place: teardown drops them.
    }
    across_processes(frames, test::cap_id("spawner"));

    // Refused ranges and accesses.
    auto refuses = [&](std::string_view what, uint64_t address, uint32_t offset, uint32_t pages,
                       Access access) {
        suite.check_exception(what, memory->map(address, offset, pages, access),
                              ExceptionType::InvalidArgument);
    };
    refuses("map of 0 pages is invalidArgument", 0, 0, 0, Access::Read);
    refuses("map from offset 4 (past the end) is invalidArgument", 0, 4, 1, Access::Read);
    refuses("map of pages 2-4 of 4 is invalidArgument", 0, 2, 3, Access::Read);
    refuses("map with an offset that overflows is invalidArgument", 0, 0xffffffff, 2, Access::Read);
    refuses("map with access 3 (write+execute) is invalidArgument", 0, 0, 1,
            static_cast<Access>(3));
    refuses("map over the program is invalidArgument", abi::user_image_base, 0, 1, Access::Read);
    refuses("map over the ring page is invalidArgument", abi::user_ring_address, 0, 1,
            Access::ReadWrite);
    refuses("map over an existing mapping is invalidArgument", a + page, 0, 1, Access::Read);
    refuses("map at an unaligned address is invalidArgument", fixed + 12, 0, 1, Access::Read);

    // Contiguous objects.
    auto contiguous = frames.allocate(16, true);
    suite.check_ok("allocate 16 contiguous pages", contiguous);
    if (contiguous.is_ok()) {
        Memory run(abi::CapId{contiguous.value().memory()});
        auto run_info = run->info();
        suite.check("info: 16 pages, contiguous", run_info.is_ok() &&
                                                      run_info.value().pages() == 16 &&
                                                      run_info.value().contiguous());
        auto run_map = run->map(0, 0, 16, Access::ReadWrite);
        uint64_t r = run_map.is_ok() ? run_map.value().address() : 0;
        suite.check("a contiguous object is zeroed", r != 0 && zeroed(r, 16 * page));
        if (r != 0)
            mark(r, 16, 0x3000);
        suite.check("written and read through its mapping", r != 0 && marked(r, 16, 0x3000));
        suite.check_ok("unmap it", run->unmap(r));
        // `run` goes out of scope: RELEASE, and with no mapping left the
        // object and its frames are gone.
    }

    // Sizes.
    suite.check_exception("allocate of 0 pages is invalidArgument", frames.allocate(0, false),
                          ExceptionType::InvalidArgument);
    suite.check_exception("allocate of 65537 pages is invalidArgument",
                          frames.allocate(65537, false), ExceptionType::InvalidArgument);
    suite.check_exception("allocate of 2^32-1 pages is invalidArgument",
                          frames.allocate(0xffffffff, true), ExceptionType::InvalidArgument);
    suite.check_exception("allocate of 256 MiB contiguous (more than the machine) is overloaded",
                          frames.allocate(65536, true), ExceptionType::Overloaded);

    // The table of object mappings is bounded: map one page until refused,
    // then take every mapping down again.
    auto small = frames.allocate(1, false);
    if (small.is_ok()) {
        Memory one(abi::CapId{small.value().memory()});
        uint64_t addresses[80];
        uint32_t count = 0;
        Result<schema::MemoryObject::MapResults::Reader, gen::CallError> last =
            Err{gen::CallError{}};
        while (count < 80) {
            last = one->map(0, 0, 1, Access::Read);
            if (last.is_error())
                break;
            addresses[count++] = last.value().address();
        }
        suite.check("object mappings are bounded (at most 64 per process)",
                    count > 0 && count <= 64, Line("mapped ").udec(count));
        suite.check_exception("the mapping past the bound is overloaded", last,
                              ExceptionType::Overloaded);
        bool all_unmapped = true;
        for (uint32_t i = 0; i < count; ++i)
            all_unmapped &= one->unmap(addresses[i]).is_ok();
        suite.check("every one of them unmaps", all_unmapped);
        suite.check("mapping works again after unmapping", one->map(0, 0, 1, Access::Read).is_ok());
        // `one` is released with that last mapping still in place.
    }

    // RELEASE while mapped: the mapping keeps the object alive.
    uint32_t id = memory.leak().raw;
    suite.check_result("RELEASE the 4-page object while mapped", rt::release(abi::CapId{id}), 0);
    mark(a, 4, 0x4000);
    suite.check("the mapping still works after RELEASE", marked(a, 4, 0x4000));
    suite.check_result("info on the released id is StaleCap", raw_info(id),
                       abi::TransportError::StaleCap);

    // Left behind on purpose: the 4-page mapping (its capability released)
    // and the 1-page object's last mapping. Teardown returns their frames.
    return suite.finish();
}
