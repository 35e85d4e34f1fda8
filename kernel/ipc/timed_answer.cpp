#include "kernel/ipc/timed_answer.h"
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

// Earliest deadline first; equal deadlines in the order they were made.
constinit IntrusiveList<TimedAnswer, TimedAnswer> g_pending;
Thread* g_thread = nullptr;
uint64_t g_thread_deadline = no_deadline; // what the thread sleeps until

} // namespace

TimedAnswer::Slot::~Slot() {
    if (m_answer)
        TimedAnswer::destroy(m_answer);
}

Result<TimedAnswer::Slot, abi::TransportError> TimedAnswer::allocate() {
    auto created = heap_create<TimedAnswer>();
    if (created.is_error())
        return Err{abi::TransportError::NoMemory};
    return Slot(created.value());
}

void TimedAnswer::destroy(TimedAnswer* answer) {
    heap_destroy(answer);
}

void TimedAnswer::post_at(Slot slot, uint64_t deadline_us, PendingReply reply,
                          abi::CallStatus status, std::span<const capnp::Word> message) {
    VERIFY(message.size() <= max_message_words && reply);
    TimedAnswer* answer = std::exchange(slot.m_answer, nullptr);
    answer->m_deadline_us = deadline_us;
    answer->m_reply = std::move(reply);
    answer->m_status = status;
    answer->m_message_words = uint32_t(message.size());
    __builtin_memcpy(answer->m_message, message.data(), message.size_bytes());
    g_pending.insert_sorted(*answer, [](const TimedAnswer& a, const TimedAnswer& b) {
        return a.m_deadline_us < b.m_deadline_us;
    });
    // The thread sleeps until the earliest deadline it knew of: wake it to
    // look again when this one falls earlier.
    if (g_thread && deadline_us < g_thread_deadline)
        Scheduler::wake(g_thread);
}

void TimedAnswer::cancel_all_of(const Process& process) {
    while (TimedAnswer* answer = g_pending.find_if(
               [&](const TimedAnswer& a) { return a.m_reply.caller() == &process; })) {
        g_pending.remove(*answer);
        answer->m_reply.reset();
        destroy(answer);
    }
}

void TimedAnswer::run(void*) {
    g_kernel_lock.assert_held(); // a kernel thread: it has the CPU's lock whenever it runs
    for (;;) {
        while (TimedAnswer* first = g_pending.front()) {
            if (first->m_deadline_us > uptime_microseconds())
                break;
            g_pending.remove(*first);
            first->m_reply.complete_with_message(
                first->m_status, std::span(first->m_message, first->m_message_words));
            destroy(first);
            Scheduler::preemption_point();
        }
        TimedAnswer* first = g_pending.front();
        g_thread_deadline = first ? first->m_deadline_us : no_deadline;
        Scheduler::block(g_thread_deadline);
        g_thread_deadline = no_deadline;
    }
}

void TimedAnswer::start() {
    auto thread = Thread::create(nullptr, run, nullptr);
    if (thread.is_error())
        panic("timed answers: no memory for the thread");
    g_thread = thread.value().get();
    Scheduler::make_ready(thread.release_value());
}

} // namespace capos::kernel
