// Threads on x86_64: context switching, entering user mode, the per-CPU area
// and the syscall/sysret machinery.
#include "abi/user_layout.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/trap_frame.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"

extern "C" void capos_context_switch(uint64_t* save_stack_pointer, uint64_t load_stack_pointer);
extern "C" void capos_thread_trampoline();
extern "C" [[noreturn]] void capos_enter_trap_frame(capos::kernel::x86::TrapFrame* frame);
extern "C" void capos_syscall_entry();

namespace capos::kernel::x86 {

namespace {

constexpr uint32_t msr_star = 0xC0000081;
constexpr uint32_t msr_lstar = 0xC0000082;
constexpr uint32_t msr_fmask = 0xC0000084;
constexpr uint32_t msr_kernel_gs_base = 0xC0000102;
constexpr uint64_t efer_sce = 1;

constexpr uint64_t rflags_reserved = 1 << 1;

} // namespace

extern "C" void syscall_dispatch(TrapFrame* frame) {
    interrupts_off::begin();
    arch::SyscallArguments call{frame->rax, {frame->rdi, frame->rsi}, frame->rip};
    // The shared part first (several CPUs at once); the rest, if any, under
    // the lock held exclusively (kernel/lib/kernel_lock.h).
    if (arch::syscall_may_share(call)) {
        g_kernel_lock.enter_shared();
        std::optional<int64_t> done = arch::handle_syscall_shared(call);
        g_kernel_lock.leave_shared();
        if (done) {
            frame->rax = uint64_t(*done);
            interrupts_off::end(); // sysret turns them on
            return;
        }
    }
    g_kernel_lock.enter();
    frame->rax = uint64_t(arch::handle_syscall(call));
    g_kernel_lock.leave();
    interrupts_off::end(); // sysret turns them on
}

} // namespace capos::kernel::x86

namespace capos::kernel::arch {

void context_switch(ThreadContext& from, const ThreadContext& to) {
    capos_context_switch(&from.stack_pointer, to.stack_pointer);
}

ThreadContext make_thread_context(uint64_t stack_top, void (*entry)(void*), void* argument) {
    // The top of the stack is where interrupts and system calls from user mode
    // push their TrapFrame (and enter_user_mode builds the first one): the
    // kernel-mode entry function starts below it.
    auto* slot = reinterpret_cast<uint64_t*>(stack_top - sizeof(x86::TrapFrame));
    *--slot = 0; // a zero return address ends stack traces
    *--slot = reinterpret_cast<uint64_t>(capos_thread_trampoline);
    *--slot = 0;                                    // rbp
    *--slot = 0;                                    // rbx
    *--slot = reinterpret_cast<uint64_t>(entry);    // r12
    *--slot = reinterpret_cast<uint64_t>(argument); // r13
    *--slot = 0;                                    // r14
    *--slot = 0;                                    // r15
    return ThreadContext{reinterpret_cast<uint64_t>(slot)};
}

void set_user_fs_base(uint64_t base) {
    x86::wrmsr(0xC0000100, base); // IA32_FS_BASE
}

void set_kernel_stack(uint64_t stack_top) {
    x86::this_cpu().kernel_stack = stack_top;
    x86::set_tss_kernel_stack(stack_top);
}

// Ends the stretch the CPU began on some entry (the lock goes with the CPU).
void enter_user_mode(const UserEntry& entry,
                     uint64_t kernel_stack_top) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    auto* frame = reinterpret_cast<x86::TrapFrame*>(kernel_stack_top - sizeof(x86::TrapFrame));
    *frame = {};
    frame->rip = entry.instruction_pointer;
    frame->cs = x86::selector_user_code;
    frame->rflags = x86::rflags_interrupts | x86::rflags_reserved;
    frame->rsp = entry.stack_pointer;
    frame->ss = x86::selector_user_data;
    frame->rdi = entry.arguments[0];
    frame->rsi = entry.arguments[1];
    frame->rdx = entry.arguments[2];
    set_kernel_stack(kernel_stack_top);
    g_kernel_lock.leave();
    interrupts_off::end(); // iret turns them on
    capos_enter_trap_frame(frame);
}

void syscall_init() {
    // The GS base is this CPU's area already (cpu_tables_load); user mode
    // starts with a zero one.
    x86::wrmsr(x86::msr_kernel_gs_base, 0);

    x86::wrmsr(x86::msr_efer, x86::rdmsr(x86::msr_efer) | x86::efer_sce);
    // sysret loads CS from STAR[63:48] + 16 and SS from STAR[63:48] + 8.
    uint64_t sysret_base = x86::selector_user_data - 8;
    x86::wrmsr(x86::msr_star, (sysret_base << 48) | (uint64_t(x86::selector_kernel_code) << 32));
    x86::wrmsr(x86::msr_lstar, reinterpret_cast<uint64_t>(capos_syscall_entry));
    // Cleared on entry: IF, TF, DF, AC.
    x86::wrmsr(x86::msr_fmask, (1 << 9) | (1 << 8) | (1 << 10) | (1 << 18));
    // rdtscp and rdpid give user mode this CPU's index (docs/abi.md): a hint
    // of where a thread runs, never authority.
    if (x86::cpuid(0x80000001).edx & (1u << 27))
        x86::wrmsr(x86::msr_tsc_aux, x86::this_cpu().index);
}

} // namespace capos::kernel::arch
