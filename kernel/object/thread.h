// A thread: a kernel stack, saved CPU state and a place in the scheduler. A
// user thread belongs to a process and spends most of its life in user mode,
// entering the kernel on system calls and interrupts; a kernel thread (the idle
// thread) never leaves it.
#pragma once

#include "kernel/arch/arch.h"
#include "kernel/ipc/completion.h"
#include "kernel/ipc/park.h"
#include "kernel/ipc/ring.h"
#include "kernel/mm/kernel_stack.h"
#include "kernel/object/kernel_object.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"

namespace capos::kernel {

class Process;

enum class ThreadError : uint8_t { OutOfMemory };

// A thread's nodes on the scheduler's lists (a CPU's ready queue, and the
// threads blocked with a deadline) and on its process's list of threads.
// Guarded by the kernel lock.
struct ReadyLink;
struct SleeperLink;
struct ProcessThreadLink;

class Thread final : public KernelObject,
                     public IntrusiveListNode<ReadyLink>,
                     public IntrusiveListNode<SleeperLink>,
                     public IntrusiveListNode<ProcessThreadLink> {
public:
    static constexpr ObjectType object_type = ObjectType::Thread;
    static constexpr uint64_t stack_pages = 8;

    enum class State : uint8_t { Ready, Running, Blocked, Dead };

    // A thread that, once scheduled, runs entry(argument) in kernel mode.
    // `process` is null for kernel threads; a user thread's entry function
    // ends by entering user mode. A user thread keeps its process alive.
    static Result<RefPtr<Thread>, ThreadError> create(Process* process, void (*entry)(void*),
                                                      void* argument);

    Process* process() const { return m_process; }
    // A user thread's ring (its page is mapped by Process::add_thread).
    UserRing& ring() CAPOS_REQUIRES_SHARED(g_kernel_lock) { return m_ring; }
    // Its place among its process's threads (0: the main thread), which
    // fixes where its ring is (abi::thread_ring_address).
    uint32_t slot() const { return m_slot; }
    // The FS base it runs user code with (its thread pointer, abi/user_layout.h).
    uint64_t fs_base() const { return m_fs_base; }
    void set_fs_base(uint64_t base) { m_fs_base = base; }
    // Where its user code starts, and the argument it gets (Process::add_thread).
    uint64_t user_entry() const { return m_user_entry; }
    uint64_t user_stack() const { return m_user_stack; }
    uint64_t user_argument() const { return m_user_argument; }
    // Whether it has ended (its exit code then, for ThreadHandle.join).
    bool has_ended() const { return m_ended; }
    int64_t exit_code() const { return m_exit_code; }
    // Its place among parked threads (kernel/ipc/park.h).
    ParkWait& park_wait() CAPOS_REQUIRES(g_kernel_lock) { return m_park; }
    // The ThreadHandle.join waiting for its end, answered when it ends.
    const PendingReply& joiner() const { return m_joiner; }
    void set_joiner(PendingReply reply) CAPOS_REQUIRES(g_kernel_lock) {
        m_joiner = std::move(reply);
    }
    // The kernel-service call this thread is running (an Invocation, see
    // kernel/cap/kernel_service.h), if any: per thread, because a call can
    // give up the CPU at a preemption point while another thread calls the
    // same service object.
    void* kernel_call() const { return m_kernel_call; }
    void set_kernel_call(void* call) { m_kernel_call = call; }
    State state() const { return m_state; }
    // Where the stack starts: right below the thread itself, or below its
    // user state (Thread::create).
    uint64_t kernel_stack_top() const { return m_stack_top; }
    // A user thread's x87/SSE/AVX registers while it is off the CPU
    // (arch::user_state_save); null for kernel threads.
    void* user_state() const { return m_user_state; }

private:
    friend class Scheduler;
    Thread(Process* process, KernelStack stack)
        : KernelObject(object_type), m_process(process), m_stack(stack) {}
    void destroy() override;

    static void start(void* thread);

    Process* m_process;  // holds a reference (user threads)
    KernelStack m_stack; // holds the thread (at its top)
    UserRing m_ring;     // its fields say what guards them
    uint64_t m_stack_top = 0;
    void* m_user_state = nullptr; // in the stack's top page, below the thread
    void (*m_entry)(void*) = nullptr;
    void* m_argument = nullptr;
    arch::ThreadContext m_context;
    State m_state = State::Ready;
    void* m_kernel_call = nullptr;

    // Scheduler bookkeeping (guarded by the kernel lock).
    uint64_t m_deadline_us = UINT64_MAX;
    bool m_woken = false;
    uint32_t m_cpu = 0;         // the CPU it runs on, last ran on or is queued on
    bool m_left_shared = false; // it held the kernel lock shared when it last left a CPU
    bool m_pinned = false;      // gave up the CPU mid-call: resumes on m_cpu only
    // Fair queueing (lib/sched/fair.h), in cycles: virtual time on its CPU,
    // the lag it took when it left one, its weight's factor, and the CPU
    // time it used.
    uint64_t m_vtime = 0;
    int64_t m_lag = 0;
    uint64_t m_weight_factor = 0;
    uint64_t m_runtime_cycles = 0;
    // The CPU whose registers its user state was last loaded into.
    uint32_t m_user_state_cpu = UINT32_MAX;
    bool m_uses_user_state = false; // has run an x87/SSE/AVX instruction
    uint64_t m_fs_base = 0;

    // Its life in its process (Process::add_thread, Process::end_thread).
    friend class Process;
    uint32_t m_slot = 0;
    bool m_holds_process = false; // started: holds a reference to its process
    uint64_t m_user_entry = 0;
    uint64_t m_user_stack = 0;
    uint64_t m_user_argument = 0;
    bool m_ended = false;
    int64_t m_exit_code = 0;
    PendingReply m_joiner; // a ThreadHandle.join waiting for its end
    ParkWait m_park CAPOS_GUARDED_BY(g_kernel_lock);
};

} // namespace capos::kernel
