// One CPU exception raised in user mode, chosen at build time: each fault_<kind>
// program (user/tests/CMakeLists.txt) is booted as init by its own scenario,
// which expects the kernel to end only this process, log
// "process 1 (fault_<kind>) killed: <mnemonic> <name> at rip=... ", report
// init's end as an exception, return every frame and power off.
//
// So that the kernel's line can be matched whole, the faulting instruction
// runs from a code page at a fixed address (code_page, mapped through
// VirtualMemory, written, then made read-execute), and the addresses it
// touches are fixed too where that is possible. The program announces the
// fault first; if it is still running afterwards it says so with FAILED
// (which the scenarios forbid) and exits 0.
#include "abi/user_layout.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

#ifndef CAPOS_FAULT_KIND
#error "build with -DCAPOS_FAULT_KIND=\"<kind>\""
#endif

using namespace capos;

namespace {

constexpr uint64_t page = 4096;
// Where the faulting code runs, and the pages it reads, writes or calls.
constexpr uint64_t code_page = abi::user_map_base;                 // 0x100000000000
constexpr uint64_t read_only_page = abi::user_map_base + 0x10000;  // 0x100000010000
constexpr uint64_t read_write_page = abi::user_map_base + 0x20000; // 0x100000020000

const uint64_t g_read_only_word = 42; // in the program's .rodata

struct Fault {
    std::string_view kind;
    std::string_view announcement;
    // Machine code placed at code_page; it ends in `ret` where it could return.
    const uint8_t* code;
    size_t code_size;
    uint64_t rcx;        // the operand register the code uses
    uint64_t target = 0; // where to call (0: code_page)
};

// mov (%rcx),%rax; ret
constexpr uint8_t load_rcx[] = {0x48, 0x8b, 0x01, 0xc3};
// mov %rax,(%rcx); ret
constexpr uint8_t store_rcx[] = {0x48, 0x89, 0x01, 0xc3};
constexpr uint8_t hlt[] = {0xf4, 0xc3};
constexpr uint8_t cli[] = {0xfa, 0xc3};
constexpr uint8_t out_f4[] = {0xe6, 0xf4, 0xc3}; // out %al,$0xf4 (the exit device)
constexpr uint8_t int80[] = {0xcd, 0x80, 0xc3};
constexpr uint8_t ud2[] = {0x0f, 0x0b, 0xc3};
constexpr uint8_t div_rcx[] = {0x48, 0xf7, 0xf1, 0xc3}; // div %rcx
// pushfq; orq $0x100,(%rsp); popfq; nop; nop; ret: the trap flag traps after
// the instruction that follows popfq.
constexpr uint8_t trap_flag[] = {0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01,
                                 0x00, 0x00, 0x9d, 0x90, 0x90, 0xc3};
constexpr uint8_t int3[] = {0xcc, 0xc3};
// push $0x37e; fldcw (%rsp) (invalid-operation unmasked); fldz; fldz; fdivrp
// (0/0, pending); fwait (offset 14: raises it); pop %rax; ret
// (QEMU's TCG does not raise the SSE counterpart, #XM, at all.)
constexpr uint8_t x87_invalid[] = {0x68, 0x7e, 0x03, 0x00, 0x00, 0xd9, 0x2c, 0x24, 0xd9,
                                   0xee, 0xd9, 0xee, 0xde, 0xf9, 0x9b, 0x58, 0xc3};
// movabs $user_stack_top,%rsp; 1: sub $0x1000,%rsp; movq $0,(%rsp); jmp 1b
constexpr uint8_t stack_overflow[] = {
    0x48, 0xbc, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, // movabs
    0x48, 0x81, 0xec, 0x00, 0x10, 0x00, 0x00,                   // sub (offset 10)
    0x48, 0xc7, 0x04, 0x24, 0x00, 0x00, 0x00, 0x00,             // movq (offset 17)
    0xeb, 0xef,                                                 // jmp to offset 10
};
static_assert(abi::user_stack_top == 0x00000000002f0000);

#define CODE(bytes) bytes, sizeof bytes

const Fault g_faults[] = {
    {"pf_null", "reading address 0", CODE(load_rcx), 0},
    {"pf_kernel", "reading kernel memory at 0xffffff8000100000", CODE(load_rcx),
     0xffffff8000100000ull},
    {"pf_write_rodata", "writing the program's read-only data", CODE(store_rcx),
     reinterpret_cast<uint64_t>(&g_read_only_word)},
    {"pf_write_protected", "writing a page protected read-only", CODE(store_rcx), read_only_page},
    {"pf_exec_data", "calling into a read-write page", CODE(ud2), 0, read_write_page},
    {"pf_stack_overflow", "running the stack into its guard", CODE(stack_overflow), 0},
    {"gp_hlt", "executing hlt", CODE(hlt), 0},
    {"gp_cli", "executing cli", CODE(cli), 0},
    {"gp_port_io", "writing I/O port 0xf4", CODE(out_f4), 0},
    {"gp_noncanonical", "reading the non-canonical address 0x8000000000000000", CODE(load_rcx),
     0x8000000000000000ull},
    {"gp_int80", "executing int $0x80 (a kernel-only gate)", CODE(int80), 0},
    {"ud", "executing ud2", CODE(ud2), 0},
    {"de", "dividing by zero", CODE(div_rcx), 0},
    {"db_trap_flag", "setting the trap flag", CODE(trap_flag), 0},
    {"bp", "executing int3", CODE(int3), 0},
    {"mf", "dividing 0 by 0 on the x87 with the invalid-operation exception unmasked",
     CODE(x87_invalid), 0},
};

void say(std::string_view what) {
    test::Line line;
    line.add("fault: ").add(CAPOS_FAULT_KIND).add(": ").add(what);
    (void)rt::debug_write_line(line.view());
}

// Maps `address` read-write and fills it with `bytes`, then gives it `access`.
bool place(rt::Capability<schema::VirtualMemory>::Client& vm, uint64_t address,
           const uint8_t* bytes, size_t size, schema::Access access) {
    auto mapped = vm.map(address, page, schema::Access::ReadWrite);
    if (mapped.is_error() || mapped.value().address() != address)
        return false;
    __builtin_memcpy(reinterpret_cast<void*>(address), bytes, size);
    return access == schema::Access::ReadWrite || vm.protect(address, page, access).is_ok();
}

} // namespace

int main() {
    const Fault* fault = nullptr;
    for (const Fault& f : g_faults)
        if (f.kind == CAPOS_FAULT_KIND)
            fault = &f;
    if (!fault) {
        say("unknown fault kind ... FAILED");
        return 1;
    }
    auto vm = rt::lookup<schema::VirtualMemory>("vm");
    if (vm.is_error()) {
        say("no VirtualMemory capability ... FAILED");
        return 1;
    }
    static const uint8_t ud2_page[] = {0x0f, 0x0b};
    bool placed = place(vm.value().client(), code_page, fault->code, fault->code_size,
                        schema::Access::ReadExecute) &&
                  place(vm.value().client(), read_only_page, ud2_page, sizeof ud2_page,
                        schema::Access::Read) &&
                  place(vm.value().client(), read_write_page, ud2_page, sizeof ud2_page,
                        schema::Access::ReadWrite);
    if (!placed) {
        say("could not map the code and data pages ... FAILED");
        return 1;
    }

    say(fault->announcement);
    uint64_t target = fault->target != 0 ? fault->target : code_page;
    uint64_t rax = 0;
    uint64_t rcx = fault->rcx;
    uint64_t rdx = 0;
    // Past the red zone first: the call pushes a return address.
    asm volatile("sub $128, %%rsp\n\t"
                 "call *%[target]\n\t"
                 "add $128, %%rsp"
                 : "+a"(rax), "+c"(rcx), "+d"(rdx)
                 : [target] "r"(target)
                 : "memory", "cc", "rsi", "rdi", "r8", "r9", "r10", "r11");
    say("still running after the fault ... FAILED");
    return 0;
}
