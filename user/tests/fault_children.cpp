// Every user fault kind in one boot: init spawns each fault_<kind> program
// (fault.cpp) as a child holding copies of its console and VirtualMemory,
// waits on the child's ProcessHandle and checks the ExitStatus: faulted, with
// the vector and faulting instruction the kind must give. The parent itself
// must be untouched by its children's faults (its check lines keep coming) and
// exits 0.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

struct Expected {
    std::string_view kind;
    uint8_t vector;
    uint64_t rip; // fault.cpp's fixed code and data pages
};

constexpr uint64_t code_page = 0x100000000000;

const Expected g_expected[] = {
    {"pf_null", 14, code_page},
    {"pf_kernel", 14, code_page},
    {"pf_write_rodata", 14, code_page},
    {"pf_write_protected", 14, code_page},
    {"pf_exec_data", 14, code_page + 0x20000},
    {"pf_stack_overflow", 14, code_page + 0x11},
    {"gp_hlt", 13, code_page},
    {"gp_cli", 13, code_page},
    {"gp_port_io", 13, code_page},
    {"gp_noncanonical", 13, code_page},
    {"gp_int80", 13, code_page},
    {"ud", 6, code_page},
    {"de", 0, code_page},
    {"db_trap_flag", 1, code_page + 0xb},
    {"bp", 3, code_page + 1},
    {"mf", 16, code_page + 0xe},
};

} // namespace

int main() {
    test::Suite suite("faults");
    auto spawner = rt::lookup<schema::ProcessSpawner>("spawner");
    uint32_t console = test::cap_id("console");
    uint32_t vm = test::cap_id("vm");
    if (spawner.is_error() || console == 0 || vm == 0)
        return 2;

    for (const Expected& expected : g_expected) {
        char name[32] = "fault_";
        size_t length = 6;
        for (char c : expected.kind)
            if (length + 1 < sizeof name)
                name[length++] = c;
        std::string_view binary(name, length);

        auto spawned = spawner.value()->spawn([&](schema::ProcessSpawner::SpawnParams::Builder p) {
            p.set_name(binary);
            p.set_binary(binary);
            auto grants = p.init_grants(2);
            const char* names[2] = {"console", "vm"};
            uint32_t caps[2] = {console, vm};
            for (uint32_t i = 0; i < 2; ++i) {
                grants[i].set_name(names[i]);
                auto capability = grants[i].init_capability();
                capability.set_cap(caps[i]);
                capability.set_mode(schema::TransferMode::Copy);
            }
        });
        Line what;
        what.add(binary).add(" spawned");
        if (!suite.check_ok(what.view(), spawned))
            continue;
        rt::Capability<schema::ProcessHandle> handle(abi::CapId{spawned.value().handle()});
        auto waited = handle->wait();
        auto status = waited.is_ok() ? waited.value().status() : schema::ExitStatus::Reader{};
        bool faulted = waited.is_ok() && status.is_faulted();
        Line detail;
        if (waited.is_error())
            detail = test::describe(waited.error());
        else if (!faulted)
            detail.add("exited with ").dec(status.exited());
        else
            detail.add("vector ")
                .udec(status.faulted().vector())
                .add(" at ")
                .hex(status.faulted().address())
                .add(": ")
                .add(status.faulted().detail());
        Line check;
        check.add(binary)
            .add(" ended by vector ")
            .udec(expected.vector)
            .add(" at ")
            .hex(expected.rip);
        suite.check(check.view(),
                    faulted && status.faulted().vector() == expected.vector &&
                        status.faulted().address() == expected.rip,
                    detail);
    }

    return suite.finish();
}
