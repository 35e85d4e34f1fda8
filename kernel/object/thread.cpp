#include "kernel/object/thread.h"
#include "kernel/mm/heap.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

Result<RefPtr<Thread>, ThreadError> Thread::create(Process* process, void (*entry)(void*),
                                                   void* argument) {
    auto stack = allocate_kernel_stack(stack_pages);
    if (stack.is_error())
        return Err{ThreadError::OutOfMemory};
    auto memory = heap_allocate(sizeof(Thread), alignof(Thread));
    if (memory.is_error()) {
        free_kernel_stack(stack.value());
        return Err{ThreadError::OutOfMemory};
    }
    auto* thread = new (memory.value()) Thread(process, stack.value());
    thread->m_entry = entry;
    thread->m_argument = argument;
    thread->m_context = arch::make_thread_context(stack.value().top, start, thread);
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
    KernelStack stack = m_stack;
    this->~Thread();
    heap_free(this);
    free_kernel_stack(stack);
}

} // namespace capos::kernel
