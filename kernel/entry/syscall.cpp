// The two system calls and user faults: the glue between the architecture's
// trap paths and processes. The ring itself is handled in ring.cpp.
#include "abi/syscall.h"
#include "abi/ring.h"
#include "abi/user_layout.h"
#include "kernel/arch/arch.h"
#include "kernel/ipc/completion.h"
#include "kernel/ipc/ring.h"
#include "kernel/lib/log.h"
#include "kernel/lib/stage_clock.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

// cap_enter's shared part (kernel/ipc/ring.h), under the kernel lock held
// shared; everything else, and what the shared part leaves, is
// handle_syscall's.
bool arch::syscall_may_share(const SyscallArguments& call) {
    return static_cast<abi::Syscall>(call.number) == abi::Syscall::CapEnter &&
           call.return_address < abi::user_limit && cap_enter_may_share(*Scheduler::running());
}

std::optional<int64_t> arch::handle_syscall_shared(const SyscallArguments& call) {
    g_kernel_lock.assert_shared();
    return cap_enter_shared(*Scheduler::current(), call.arguments[0], call.arguments[1]);
}

// Inlined into the architecture's system-call entry (the kernel is built with
// LTO): a call and its return each cost TCG a jump-cache lookup.
// The entries from the architecture's trap paths, each of which took the
// kernel lock (kernel/lib/kernel_lock.h).
[[gnu::always_inline]] int64_t arch::handle_syscall(const SyscallArguments& call) {
    g_kernel_lock.assert_held();
    stage_clock::enter(stage_clock::Stage::Ring);
    Process* process = Process::current();
    VERIFY(process != nullptr);
    // sysret to a non-canonical address would fault in kernel mode: a process
    // can only get here with one by executing syscall in the last bytes below
    // the user limit, which it never maps. Refuse it all the same.
    if (call.return_address >= abi::user_limit) {
        log_warn("process {} ({}): system call from {} outside user space; ended", process->id(),
                 process->name(), Hex{call.return_address});
        Process::terminate_current({.kind = ExitStatus::Kind::Faulted,
                                    .vector = 13,
                                    .address = call.return_address,
                                    .detail = "system call outside user space"});
    }
    switch (static_cast<abi::Syscall>(call.number)) {
    case abi::Syscall::Exit:
        log_debug("process {} ({}) exited with {}", process->id(), process->name(),
                  int64_t(call.arguments[0]));
        Process::terminate_current(
            {.kind = ExitStatus::Kind::Exited, .code = int64_t(call.arguments[0])});
    case abi::Syscall::CapEnter: {
        int64_t result = cap_enter(*Scheduler::current(), call.arguments[0], call.arguments[1]);
        if (process->ending()) [[unlikely]]
            Process::end_current_if_killed();
        stage_clock::enter(stage_clock::Stage::User);
        return result;
    }
    }
    return int64_t(abi::TransportError::BadOpcode);
}

void arch::handle_user_state_trap() {
    Scheduler::user_state_first_use();
}

void arch::handle_return_to_user() {
    g_kernel_lock.assert_held();
    run_deferred_work(); // what the timer's shared tick left
    Process::end_current_if_killed();
}

void arch::handle_user_fault(const UserFault& fault) {
    g_kernel_lock.assert_held();
    Process* process = Process::current();
    VERIFY(process != nullptr);
    if (fault.vector == 14) {
        log_error("process {} ({}) killed: {} {} at rip={} address={} error={}", process->id(),
                  process->name(), fault.mnemonic, fault.name, Hex{fault.rip}, Hex{fault.address},
                  Hex{fault.error_code});
    } else {
        log_error("process {} ({}) killed: {} {} at rip={} error={}", process->id(),
                  process->name(), fault.mnemonic, fault.name, Hex{fault.rip},
                  Hex{fault.error_code});
    }
    Process::terminate_current({.kind = ExitStatus::Kind::Faulted,
                                .vector = fault.vector,
                                .address = fault.rip,
                                .detail = fault.name});
}

} // namespace capos::kernel
