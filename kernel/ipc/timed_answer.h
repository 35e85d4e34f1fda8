// Answers owed until a deadline (Timer.sleep): a call taken with
// Invocation::defer() whose results are known at once but whose completion
// is posted only when uptime reaches the deadline. A kernel thread posts
// them, so the caller's other submissions, in the same cap_enter or later,
// go on meanwhile. When the caller ends, its timed answers are dropped.
#pragma once

#include "abi/ring.h"
#include "kernel/ipc/completion.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include <span>

namespace capos::kernel {

class Process;

class TimedAnswer : public IntrusiveListNode<TimedAnswer> {
public:
    // The largest results message a timed answer carries.
    static constexpr size_t max_message_words = 4;

    // Made before the call is deferred, so that running out of memory can
    // still be answered with an exception; dropping it unused frees it.
    class Slot {
    public:
        Slot() = default;
        Slot(Slot&& other) : m_answer(other.m_answer) { other.m_answer = nullptr; }
        Slot& operator=(Slot&&) = delete;
        ~Slot();

    private:
        friend class TimedAnswer;
        explicit Slot(TimedAnswer* answer) : m_answer(answer) {}
        TimedAnswer* m_answer = nullptr;
    };
    static Result<Slot, abi::TransportError> allocate();

    // Posts `reply` with `status` and `message` (at most max_message_words)
    // when uptime reaches `deadline_us` (at once if it has).
    static void post_at(Slot slot, uint64_t deadline_us, PendingReply reply, abi::CallStatus status,
                        std::span<const capnp::Word> message);

    // Drops every timed answer owed to `process` (it ended).
    static void cancel_all_of(const Process& process) CAPOS_REQUIRES(g_kernel_lock);

    // Starts the thread that posts them (after the scheduler exists).
    static void start();

    TimedAnswer() = default; // through allocate()

private:
    static void destroy(TimedAnswer* answer);
    [[noreturn]] static void run(void*);

    uint64_t m_deadline_us = 0;
    PendingReply m_reply;
    abi::CallStatus m_status = abi::CallStatus::Ok;
    uint32_t m_message_words = 0;
    capnp::Word m_message[max_message_words] = {};
};

} // namespace capos::kernel
