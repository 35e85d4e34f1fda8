#include "kernel/cap/completion.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

void post_completion(Process& process, const abi::Cqe& cqe) {
    abi::RingPage* page = process.ring();
    if (!page)
        return; // ended: its ring is gone
    RingState& state = process.ring_state();
    uint32_t user_head = __atomic_load_n(&page->header.cq_head, __ATOMIC_ACQUIRE);
    if (ring::free_completions(state.cq_tail, user_head, abi::ring_cq_entries) == 0) {
        ++state.cq_overflow;
        __atomic_store_n(&page->header.cq_overflow, state.cq_overflow, __ATOMIC_RELAXED);
    } else {
        page->cqes[state.cq_tail % abi::ring_cq_entries] = cqe;
        ++state.cq_tail;
        __atomic_store_n(&page->header.cq_tail, state.cq_tail, __ATOMIC_RELEASE);
    }
    if (Thread* waiter = process.ring_waiter())
        Scheduler::wake(waiter);
}

void complete_with_message(PendingReply& reply, abi::CallStatus status,
                           std::span<const capnp::Word> message) {
    Process& caller = *reply.caller;
    if (caller.has_exited())
        return;
    size_t bytes = message.size() * sizeof(capnp::Word);
    abi::Cqe cqe{.user_data = reply.user_data};
    if (bytes > reply.result.length) {
        cqe.result = int32_t(abi::TransportError::ResultTooSmall);
    } else if (!copy_to_address_space(caller.page_tables(), reply.result.address, message.data(),
                                      bytes)) {
        cqe.result = int32_t(abi::TransportError::BadBuffer);
    } else {
        cqe.result = int32_t(status);
        cqe.result_len = uint32_t(bytes);
    }
    post_completion(caller, cqe);
}

void complete_with_error(PendingReply& reply, abi::TransportError error) {
    if (reply.caller->has_exited())
        return;
    post_completion(*reply.caller,
                    abi::Cqe{.user_data = reply.user_data, .result = int32_t(error)});
}

} // namespace capos::kernel
