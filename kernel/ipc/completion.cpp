#include "kernel/ipc/completion.h"
#include "kernel/ipc/transfer.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

// The wakes a CPU decided while it held the kernel lock shared, each with a
// reference to its thread (the shared part of cap_enter takes a bounded
// number of submissions, each deciding at most one wake).
constexpr uint32_t max_deferred_wakes = 64;
static_assert(max_deferred_wakes >= abi::ring_max_batch,
              "a shared part takes at most a batch, each submission deciding at most one wake");
struct DeferredWake {
    Thread* thread;
    Wake wake;
};
// Each CPU's (their count: KernelLock::PerCpu::deferred_wakes).
CAPOS_LARGE_BSS DeferredWake g_deferred_wakes[KernelLock::max_cpus][max_deferred_wakes];

// (This CPU holds the kernel lock exclusively, checked: the analysis cannot
// tell a shared holder that found it so.)
void wake_now(Thread& thread, Wake wake) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    VERIFY(g_kernel_lock.held_here());
    if (wake == Wake::First)
        Scheduler::wake_first(&thread);
    else
        Scheduler::wake(&thread);
}

} // namespace

void post_completion(Thread& thread, const abi::Cqe& cqe, Wake wake, bool owed) {
    UserRing& ring = thread.ring();
    abi::RingPage* page = ring.page;
    bool waiting;
    {
        ObjectLockGuard guard(ring.lock);
        if (owed) {
            VERIFY(ring.completions_owed > 0);
            --ring.completions_owed;
        }
        if (!page)
            return; // ended: its ring is gone
        RingState& state = ring.state;
        uint32_t user_head = __atomic_load_n(&page->header.cq_head, __ATOMIC_ACQUIRE);
        bool lost = false;
        if (ring::free_completions(state.cq_tail, user_head, abi::ring_cq_entries) == 0) {
            ++state.cq_overflow;
            __atomic_store_n(&page->header.cq_overflow, state.cq_overflow, __ATOMIC_RELAXED);
            lost = true;
        } else {
            page->cqes[state.cq_tail % abi::ring_cq_entries] = cqe;
            ++state.cq_tail;
            __atomic_store_n(&page->header.cq_tail, state.cq_tail, __ATOMIC_RELEASE);
        }
        // Woken when what it waits for has come (a loss it must hear of at
        // once); before that, the completion waits in its queue.
        waiting = ring.waiting_for != 0 &&
                  (lost || ring::unread_completions(state.cq_tail, user_head,
                                                    abi::ring_cq_entries) >= ring.waiting_for);
    }
    // Seen waiting, the thread is blocked in cap_enter's wait, or about to
    // block there on another CPU, or was woken since by someone else (which a
    // wake then finds).
    if (!waiting)
        return;
    if (!g_kernel_lock.shared_here()) {
        wake_now(thread, wake);
        return;
    }
    // The handoff to a thread that last ran here is done here (the exclusive
    // part would find nothing else to do); other wakes wait for it. Not once
    // a wake waits already: handoffs take effect in the order they were
    // made, so the thread handed the CPU last runs first (a handoff done
    // here after a deferred one would be overtaken by it).
    uint32_t cpu = arch::current_cpu_index();
    uint32_t& count = KernelLock::s_cpus[cpu].deferred_wakes;
    if (wake == Wake::First && count == 0 && Scheduler::wake_first_here(&thread))
        return;
    VERIFY(count < max_deferred_wakes);
    g_deferred_wakes[cpu][count++] = {retain(&thread).leak(), wake};
}

void run_deferred_work() {
    if (!KernelLock::deferred_here()) [[likely]]
        return;
    KernelObject::destroy_deferred();
    uint32_t cpu = arch::current_cpu_index();
    uint32_t& count = KernelLock::s_cpus[cpu].deferred_wakes;
    for (uint32_t i = 0; i < count; ++i) {
        DeferredWake& later = g_deferred_wakes[cpu][i];
        RefPtr<Thread> thread = RefPtr<Thread>::adopt(later.thread);
        // Still waiting in cap_enter (a thread woken since and waiting again
        // there looks at its ring again: the wake costs it nothing more).
        bool waiting;
        {
            UserRing& ring = thread->ring();
            ObjectLockGuard guard(ring.lock);
            waiting = ring.waiting_for != 0;
        }
        if (waiting)
            wake_now(*thread, later.wake);
    }
    count = 0;
}

std::optional<PendingReply> PendingReply::owe(Thread& caller, uint64_t user_data,
                                              ring::UserRange result, bool inline_result) {
    {
        ObjectLockGuard guard(caller.ring().lock);
        if (!ring::may_owe(caller.ring().completions_owed))
            return std::nullopt;
        ++caller.ring().completions_owed;
    }
    return PendingReply(caller, user_data, result, inline_result);
}

PendingReply PendingReply::owe_unbounded(Thread& caller, uint64_t user_data, ring::UserRange result,
                                         bool& keepable) {
    {
        ObjectLockGuard guard(caller.ring().lock);
        keepable = ring::may_owe(caller.ring().completions_owed);
        ++caller.ring().completions_owed;
    }
    return PendingReply(caller, user_data, result, false);
}

Process* PendingReply::caller() const {
    return m_caller ? m_caller->process() : nullptr;
}

bool PendingReply::caller_gone() const {
    return m_caller->ring().page == nullptr || m_caller->process()->has_exited();
}

bool PendingReply::complete_inline(abi::Cqe& cqe, std::span<const capnp::Word> message, Wake wake) {
    uint64_t bytes = message.size() * sizeof(capnp::Word);
    if (!m_inline_result || cqe.result != int32_t(abi::CallStatus::Ok) ||
        bytes > abi::cqe_inline_bytes)
        return false;
    cqe.result = int32_t(abi::CallStatus::OkInline);
    cqe.result_len = uint32_t(bytes);
    abi::set_cqe_inline_words(cqe, bytes >= 8 ? message[0] : 0, bytes >= 16 ? message[1] : 0);
    complete(cqe, wake);
    return true;
}

void PendingReply::settle() {
    {
        UserRing& ring = m_caller->ring();
        ObjectLockGuard guard(ring.lock);
        VERIFY(ring.completions_owed > 0);
        --ring.completions_owed;
    }
    RefPtr<Thread>::adopt(std::exchange(m_caller, nullptr)); // drops the reference
}

void PendingReply::complete(abi::Cqe cqe, Wake wake) {
    VERIFY(m_caller);
    cqe.user_data = m_user_data;
    // Settled first: the completion now occupies the queue slot it reserved.
    RefPtr<Thread> caller = RefPtr<Thread>::adopt(std::exchange(m_caller, nullptr));
    post_completion(*caller, cqe, wake, true);
}

std::optional<abi::TransportError> PendingReply::open(UserDestination& out, uint64_t bytes) const {
    if (bytes > m_result.length)
        return abi::TransportError::ResultTooSmall;
    if (!out.open(m_caller->process()->address_space(), m_result.address, bytes))
        return abi::TransportError::BadBuffer;
    return std::nullopt;
}

void PendingReply::complete_with_message(abi::CallStatus status,
                                         std::span<const capnp::Word> message) {
    VERIFY(m_caller);
    if (caller_gone())
        return complete({}); // nothing to write into; the completion goes nowhere
    abi::Cqe inline_cqe{.result = int32_t(status)};
    if (complete_inline(inline_cqe, message, Wake::Queued))
        return;
    uint64_t bytes = message.size() * sizeof(capnp::Word);
    UserDestination out;
    if (auto error = open(out, bytes))
        return complete_with_error(*error);
    out.write(message.data(), bytes);
    complete(abi::Cqe{.result = int32_t(status), .result_len = uint32_t(bytes)});
}

PendingReply::Answer PendingReply::answer(abi::Cqe cqe, std::span<const std::byte> header,
                                          std::span<capnp::Word> message, Transfer& transfer,
                                          Wake wake) {
    VERIFY(m_caller);
    Process& caller = *m_caller->process();
    if (caller_gone()) {
        complete({}, wake); // goes nowhere; the transfer is dropped by its owner
        return Answer::Delivered;
    }
    uint32_t cap_count = transfer.count();
    if (cap_count == 0 && header.empty() && complete_inline(cqe, message, wake))
        return Answer::Delivered;
    uint64_t message_bytes = message.size() * sizeof(capnp::Word);
    uint64_t records_bytes = uint64_t(cap_count) * sizeof(abi::CapRecord);
    // Decode: the buffer must take everything before anything moves.
    UserDestination out;
    if (auto error = open(out, header.size() + message_bytes + records_bytes)) {
        cqe.result = int32_t(*error);
        complete(cqe, wake);
        return Answer::Refused;
    }
    abi::CapRecord records[abi::max_transfers];
    if (cap_count != 0) {
        // Capabilities move only under the kernel lock held exclusively (the
        // shared part of cap_enter takes no submission that sends any).
        VERIFY(g_kernel_lock.held_here());
        g_kernel_lock.assert_held();
        if (transfer.commit(caller, message, records).is_error())
            return Answer::TransferFailed;
    }
    // Invoke: nothing can fail from here (the buffer was checked above).
    out.write(header.data(), header.size());
    out.write(message.data(), message_bytes);
    out.write(records, records_bytes);
    cqe.result_len = uint32_t(header.size() + message_bytes);
    cqe.cap_count = cap_count;
    complete(cqe, wake);
    return Answer::Delivered;
}

} // namespace capos::kernel
