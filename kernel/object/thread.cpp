#include "kernel/object/thread.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"
#include "lib/sched/fair.h"
#include <new>

namespace capos::kernel {

Result<RefPtr<Thread>, ThreadError> Thread::create(Process* process, void (*entry)(void*),
                                                   void* argument) {
    auto stack = allocate_kernel_stack(stack_pages);
    if (stack.is_error())
        return Err{ThreadError::OutOfMemory};
    // The thread lives at the top of its own kernel stack, which grows down
    // from below it: every entry into the kernel touches the stack's top page,
    // so the thread's fields cost no page of their own after an address-space
    // switch (docs/performance.md).
    static_assert(sizeof(Thread) <= 1024, "a thread takes a small part of its stack's top page");
    uint64_t at =
        (stack.value().top - sizeof(Thread)) & ~uint64_t{alignof(Thread) - 1} & ~uint64_t{15};
    auto* thread = new (reinterpret_cast<void*>(at)) Thread(process, stack.value());
    thread->m_stack_top = at;
    thread->m_weight_factor =
        sched::weight_factor(process ? process->limits().cpu_weight : sched::default_weight);
    if (process) {
        // The user state right below: 832 bytes for x87, SSE and AVX.
        uint64_t state = (at - arch::user_state_size()) & ~uint64_t{arch::user_state_alignment - 1};
        thread->m_user_state = reinterpret_cast<void*>(state);
        arch::user_state_clear(thread->m_user_state);
        thread->m_stack_top = state;
    }
    thread->m_entry = entry;
    thread->m_argument = argument;
    thread->m_context = arch::make_thread_context(thread->kernel_stack_top(), start, thread);
    return RefPtr<Thread>::adopt(thread);
}

// Every thread's first instructions: finish the switch that started it (as a
// switch returning in an older thread would), then run its entry function.
void Thread::start(void* argument) {
    auto* thread = static_cast<Thread*>(argument);
    Scheduler::finish_switch();
    thread->m_entry(thread->m_argument);
    panic("thread entry function returned");
}

void Thread::destroy() {
    Scheduler::forget_user_state(this);
    KernelStack stack = m_stack;
    Process* process = m_holds_process ? m_process : nullptr;
    this->~Thread();
    free_kernel_stack(stack); // the thread's own memory with it
    if (process)
        process->release_reference();
}

} // namespace capos::kernel
