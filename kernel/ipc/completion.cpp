#include "kernel/ipc/completion.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

void post_completion(Process& process, const abi::Cqe& cqe, Wake wake) {
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
    if (Thread* waiter = process.ring_waiter()) {
        if (wake == Wake::First)
            Scheduler::wake_first(waiter);
        else
            Scheduler::wake(waiter);
    }
}

std::optional<PendingReply> PendingReply::owe(Process& caller, uint64_t user_data,
                                              ring::UserRange result) {
    if (!ring::may_owe(caller.completions_owed()))
        return std::nullopt;
    return PendingReply(caller, user_data, result);
}

bool PendingReply::may_keep() const {
    // Owed already counts this one.
    return m_caller && ring::may_owe(m_caller->completions_owed() - 1);
}

PendingReply::PendingReply(Process& caller, uint64_t user_data, ring::UserRange result)
    : m_caller(retain(&caller)), m_user_data(user_data), m_result(result) {
    caller.owe_completion();
}

PendingReply::~PendingReply() {
    reset();
}

PendingReply::PendingReply(PendingReply&& other) noexcept
    : m_caller(std::move(other.m_caller)), m_user_data(other.m_user_data),
      m_result(other.m_result) {}

PendingReply& PendingReply::operator=(PendingReply&& other) noexcept {
    if (this != &other) {
        reset();
        m_caller = std::move(other.m_caller);
        m_user_data = other.m_user_data;
        m_result = other.m_result;
    }
    return *this;
}

void PendingReply::reset() {
    if (m_caller) {
        m_caller->settle_completion();
        m_caller.reset();
    }
}

void PendingReply::complete(abi::Cqe cqe, Wake wake) {
    VERIFY(m_caller);
    cqe.user_data = m_user_data;
    // Settled first: the completion now occupies the queue slot it reserved.
    RefPtr<Process> caller = std::move(m_caller);
    caller->settle_completion();
    post_completion(*caller, cqe, wake);
}

void PendingReply::complete_with_error(abi::TransportError error) {
    complete(abi::Cqe{.result = int32_t(error)});
}

void PendingReply::complete_with_message(abi::CallStatus status,
                                         std::span<const capnp::Word> message) {
    VERIFY(m_caller);
    size_t bytes = message.size() * sizeof(capnp::Word);
    abi::Cqe cqe{};
    if (m_caller->has_exited()) {
        // Nothing to write into; the completion goes nowhere.
    } else if (bytes > m_result.length) {
        cqe.result = int32_t(abi::TransportError::ResultTooSmall);
    } else if (!copy_to_address_space(m_caller->page_tables(), m_result.address, message.data(),
                                      bytes)) {
        cqe.result = int32_t(abi::TransportError::BadBuffer);
    } else {
        cqe.result = int32_t(status);
        cqe.result_len = uint32_t(bytes);
    }
    complete(cqe);
}

} // namespace capos::kernel
