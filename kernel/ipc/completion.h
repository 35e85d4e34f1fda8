// Completions: every submission a process's ring hands the kernel gets
// exactly one completion, posted at once or later (a call answered by a
// server, a wait answered when a process exits, a RECV answered when a call
// arrives). The kernel never drops one: before it takes a submission it makes
// sure the completion queue will have room for its answer, counting the
// answers it already owes (ring.cpp's admission check). A PendingReply is such
// an owed answer: it keeps the thread that submitted it (and so its process)
// alive, remembers where the answer goes, and holds one slot of that
// thread's completion queue until it is posted or dropped.
#pragma once

#include "kernel/lib/kernel_lock.h"

#include "abi/ring.h"
#include "kernel/object/kernel_object.h"
#include "lib/capnp/wire.h"
#include "lib/ring/ring.h"
#include <optional>
#include <span>
#include <utility>

namespace capos::kernel {

class Process;
class Thread;
class UserDestination;
template <uint32_t Capacity>
class TransferOf;
using Transfer = TransferOf<abi::max_transfers>;

// The completion of a submission answered at once with a transport error.
// Cold and out of line: the compiler then places every failure's path after
// the paths that succeed, so those stay together on few code pages (each
// refilled after every address-space switch).
[[gnu::cold, gnu::noinline]] inline abi::Cqe error_cqe(uint64_t user_data,
                                                       abi::TransportError error) {
    return abi::Cqe{.user_data = user_data, .result = int32_t(error)};
}

// How a process waiting in cap_enter is woken by a completion: queued behind
// the ready threads, or run next (the direct handoff of an endpoint call and
// its answer: the receiver runs before anything else that is ready).
enum class Wake : uint8_t { Queued, First };

// Posts `cqe` to `thread`'s completion queue and wakes the thread if it
// waits in cap_enter. Does nothing for a thread that has ended. The queue
// has room by the admission check, unless the process moved the CQ head
// to a value that cannot be true: then the completion is counted in
// cq_overflow and lost, which only the process itself caused.
// Under the kernel lock held shared (the thread is woken once this CPU holds
// it exclusively: run_deferred_work) or exclusively.
// `owed`: the completion settles one of the answers the thread is owed (in
// the same section of its ring).
void post_completion(Thread& thread, const abi::Cqe& cqe, Wake wake = Wake::Queued,
                     bool owed = false) CAPOS_REQUIRES_SHARED(g_kernel_lock);

// What a shared holder left for this CPU's next exclusive stretch, done now:
// the wakes post_completion decided (each thread woken if it still waits in
// cap_enter) and the objects whose last reference it dropped
// (kernel/lib/kernel_lock.h). Every exclusive stretch that follows a shared
// one on a CPU calls it: cap_enter's exclusive part and the return to user
// mode (after the timer's shared tick).
void run_deferred_work() CAPOS_REQUIRES(g_kernel_lock);

class PendingReply {
public:
    PendingReply() = default;
    // Owes `caller` (the thread that submitted it: the running one) the
    // completion of the submission `user_data`, whose
    // result buffer is `result` (and whose results may come in the
    // completion itself when small: SqeInlineResult); nullopt when the caller
    // is owed as many as it may be (abi::ring_max_owed): the submission must
    // then be answered at once (QuotaExceeded, or an overloaded exception).
    static std::optional<PendingReply> owe(Thread& caller, uint64_t user_data,
                                           ring::UserRange result, bool inline_result = false)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // The same without the bound, for an answer that may be posted at once
    // (a Recv that finds a call waiting); `keepable` tells whether it was
    // within the bound, which an answer kept for later must be.
    static PendingReply owe_unbounded(Thread& caller, uint64_t user_data, ring::UserRange result,
                                      bool& keepable) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Moves and drops cost a few instructions when empty (inline: they are on
    // every endpoint call's path).
    PendingReply(PendingReply&& other) noexcept
        : m_caller(std::exchange(other.m_caller, nullptr)), m_user_data(other.m_user_data),
          m_result(other.m_result), m_inline_result(other.m_inline_result) {}
    // (Moves and drops happen wherever a PendingReply lives, all of it kernel
    // state under the kernel lock, held shared at least; the analysis does
    // not follow implicit destructor calls, so these assert it.)
    PendingReply& operator=(PendingReply&& other) noexcept {
        g_kernel_lock.assert_shared();
        if (this != &other) {
            reset();
            m_caller = std::exchange(other.m_caller, nullptr);
            m_user_data = other.m_user_data;
            m_result = other.m_result;
            m_inline_result = other.m_inline_result;
        }
        return *this;
    }
    PendingReply(const PendingReply&) = delete;
    PendingReply& operator=(const PendingReply&) = delete;
    ~PendingReply() {
        g_kernel_lock.assert_shared();
        reset();
    }

    explicit operator bool() const { return m_caller != nullptr; }
    // The thread owed the answer, and its process.
    Thread* thread() const { return m_caller; }
    Process* caller() const;
    // Whether the answer would go nowhere: its thread or process has ended.
    bool caller_gone() const CAPOS_REQUIRES_SHARED(g_kernel_lock);
    uint64_t user_data() const { return m_user_data; }
    const ring::UserRange& result() const { return m_result; }

    // Each posts the completion (nothing if the caller has ended) and leaves
    // the PendingReply empty.
    void complete(abi::Cqe cqe, Wake wake = Wake::Queued) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    void complete_with_error(abi::TransportError error) CAPOS_REQUIRES_SHARED(g_kernel_lock) {
        complete(error_cqe(0, error));
    }
    // Writes `message` into the caller's result buffer and completes with
    // `status`; ResultTooSmall or BadBuffer instead when the buffer is too
    // small or no longer writable. (Results the caller may take in the
    // completion, small and without capabilities, go there instead.)
    void complete_with_message(abi::CallStatus status, std::span<const capnp::Word> message)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // The general form, for a message that carries capabilities: writes
    // `header`, then `message`, then one CapRecord per capability of
    // `transfer` into the caller's result buffer, committing the transfer to
    // the caller (which renumbers `message` in place), and posts `cqe` with
    // result_len (header and message bytes) and cap_count filled in. When the
    // buffer would not take it all, posts ResultTooSmall or BadBuffer instead
    // and leaves the transfer uncommitted. Posts nothing, and stays owed, only
    // when the caller's table has no room for the capabilities.
    enum class Answer : uint8_t {
        Delivered,      // posted with the message (nowhere, if the caller has ended)
        Refused,        // posted with the buffer's error instead
        TransferFailed, // nothing posted: the caller's table is full
    };
    Answer answer(abi::Cqe cqe, std::span<const std::byte> header, std::span<capnp::Word> message,
                  Transfer& transfer, Wake wake = Wake::Queued)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // Forgets the answer without posting it: only when the caller has ended,
    // or when the submission's completion is posted another way at once.
    void reset() CAPOS_REQUIRES_SHARED(g_kernel_lock) {
        if (m_caller)
            settle();
    }

private:
    // (The caller's owed count already counts it.)
    PendingReply(Thread& caller, uint64_t user_data, ring::UserRange result, bool inline_result)
        : m_caller(retain(&caller).leak()), m_user_data(user_data), m_result(result),
          m_inline_result(inline_result) {}
    // Completes with `message` in the completion itself (CallStatus::OkInline)
    // when the caller asked for that and it is results that fit; false, and
    // nothing done, otherwise.
    bool complete_inline(abi::Cqe& cqe, std::span<const capnp::Word> message, Wake wake)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Gives back the owed slot and the reference to the caller (set), and
    // forgets it.
    void settle() CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Opens the first `bytes` bytes of the caller's result buffer in `out`;
    // the error when they cannot be written (too small, not writable).
    std::optional<abi::TransportError> open(UserDestination& out, uint64_t bytes) const
        CAPOS_REQUIRES_SHARED(g_kernel_lock);

    Thread* m_caller = nullptr; // holds a reference (settle() drops it)
    uint64_t m_user_data = 0;
    ring::UserRange m_result{0, 0};
    bool m_inline_result = false;
};

} // namespace capos::kernel
