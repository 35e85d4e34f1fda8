// Work due at a deadline, done by one kernel thread: a Deadline is armed
// for an uptime and, when it comes, taken off the list and expired.
//
// TimedAnswer is one: an answer owed until a deadline (Timer.sleep), a call
// taken with Invocation::defer() whose results are known at once but whose
// completion is posted only when uptime reaches the deadline, so the
// caller's other submissions, in the same cap_enter or later, go on
// meanwhile. When the caller's thread ends, its timed answers are dropped.
// A PARK's timeout is another (kernel/ipc/park.h).
#pragma once

#include "abi/ring.h"
#include "kernel/ipc/completion.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include <span>

namespace capos::kernel {

class Thread;

class Deadline : public IntrusiveListNode<Deadline> {
public:
    // Expires at `deadline_us` (uptime in microseconds; at once if it has
    // passed), in order of deadlines, equal ones in the order armed. Not
    // armed already.
    void arm(uint64_t deadline_us) CAPOS_REQUIRES(g_kernel_lock);
    // Takes it off the list if it is armed.
    void disarm() CAPOS_REQUIRES(g_kernel_lock);
    bool armed() const CAPOS_REQUIRES(g_kernel_lock);

    // Starts the thread that expires them (after the scheduler exists).
    static void start();

protected:
    Deadline() = default;
    ~Deadline() = default;
    // Its deadline came: it is off the list. Under the kernel lock.
    virtual void expire() = 0;
    // The thread a timed answer is owed to (TimedAnswer::cancel_all_of).
    virtual const Thread* owed_to() const { return nullptr; }

private:
    friend class TimedAnswer;
    [[noreturn]] static void run(void*);
    uint64_t m_deadline_us = 0;
};

class TimedAnswer final : public Deadline {
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
                        std::span<const capnp::Word> message) CAPOS_REQUIRES(g_kernel_lock);

    // Drops every timed answer owed to `thread` (it ended).
    static void cancel_all_of(const Thread& thread) CAPOS_REQUIRES(g_kernel_lock);

    TimedAnswer() = default; // through allocate()

private:
    static void destroy(TimedAnswer* answer);
    void expire() override;
    const Thread* owed_to() const override { return m_reply.thread(); }

    PendingReply m_reply;
    abi::CallStatus m_status = abi::CallStatus::Ok;
    uint32_t m_message_words = 0;
    capnp::Word m_message[max_message_words] = {};
};

} // namespace capos::kernel
