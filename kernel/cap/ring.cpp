#include "kernel/cap/ring.h"
#include "abi/syscall.h"
#include "kernel/cap/kernel_service.h"
#include "kernel/lib/log.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"
#include "lib/capnp/wire.h"
#include "lib/ring/ring.h"

namespace capos::kernel {

namespace {

using abi::TransportError;

// Scratch for one call's params and results, in kernel memory. One CPU, and
// calls run with interrupts off, so one pair serves every call without any
// allocation on the ring path.
alignas(8) capnp::Word g_params[ring::max_message_bytes / 8];
alignas(8) capnp::Word g_results[ring::max_message_bytes / 8];

TransportError transport_error_of(CapError error) {
    switch (error) {
    case CapError::Stale:
        return TransportError::StaleCap;
    case CapError::WrongInterface:
        return TransportError::WrongInterface;
    case CapError::InvalidId:
    case CapError::Pending:
    case CapError::NotTransferable:
    case CapError::TableFull:
        break;
    }
    return TransportError::InvalidCap;
}

abi::Cqe error_completion(uint64_t user_data, TransportError error) {
    return abi::Cqe{.user_data = user_data, .result = int32_t(error)};
}

abi::Cqe call(Process& process, const ring::DecodedSqe& sqe) {
    auto entry = process.capabilities().lookup(sqe.cap, sqe.interface_id);
    if (entry.is_error())
        return error_completion(sqe.user_data, transport_error_of(entry.error()));
    auto* service = downcast<KernelService>(entry.value().object.get());
    if (!service)
        return error_completion(sqe.user_data, TransportError::WrongInterface);

    // Decode: copy the params into kernel memory and check the whole message
    // before the service sees any of it.
    size_t params_words = sqe.params.length / 8;
    if (!UserSpan<capnp::Word>(sqe.params.address, params_words).copy_in(g_params))
        return error_completion(sqe.user_data, TransportError::BadBuffer);
    capnp::MessageReader params(std::span<const capnp::Word>(g_params, params_words));
    if (params_words > 0 && capnp::validate(params) != capnp::WireError::None)
        return error_completion(sqe.user_data, TransportError::BadParams);

    // Invoke.
    Invocation invocation{process, sqe.method, params,
                          std::span<capnp::Word>(g_results, sqe.result.length / 8)};
    gen::DispatchResult outcome = service->dispatch(invocation);
    if (outcome.status == gen::DispatchStatus::BufferFull)
        return error_completion(sqe.user_data, TransportError::ResultTooSmall);
    if (!UserSpan<capnp::Word>(sqe.result.address, outcome.message.size())
             .copy_out(outcome.message.data()))
        return error_completion(sqe.user_data, TransportError::BadBuffer);
    auto status = outcome.status == gen::DispatchStatus::Results ? abi::CallStatus::Ok
                                                                 : abi::CallStatus::Exception;
    // A method that holds its caller (Timer.sleep) does so now, after its
    // results left the shared scratch buffers.
    while (uptime_microseconds() < invocation.hold_until_us)
        Scheduler::block(invocation.hold_until_us);
    return abi::Cqe{.user_data = sqe.user_data,
                    .result = int32_t(status),
                    .result_len = uint32_t(outcome.message.size() * 8)};
}

abi::Cqe release(Process& process, const ring::DecodedSqe& sqe) {
    auto removed = process.capabilities().remove(sqe.cap);
    if (removed.is_error())
        return error_completion(sqe.user_data, transport_error_of(removed.error()));
    return abi::Cqe{.user_data = sqe.user_data, .result = 0};
}

abi::Cqe handle(Process& process, const abi::Sqe& raw) {
    auto decoded = ring::decode_sqe(raw);
    if (decoded.is_error())
        return error_completion(raw.user_data, decoded.error());
    const ring::DecodedSqe& sqe = decoded.value();
    switch (sqe.opcode) {
    case abi::Opcode::Nop:
        return abi::Cqe{.user_data = sqe.user_data, .result = 0};
    case abi::Opcode::Call:
        return call(process, sqe);
    case abi::Opcode::Release:
        return release(process, sqe);
    case abi::Opcode::Recv:
    case abi::Opcode::Return: {
        // Only endpoint owners receive and return; no kernel service is one.
        auto entry = process.capabilities().lookup(sqe.cap);
        if (entry.is_error())
            return error_completion(sqe.user_data, transport_error_of(entry.error()));
        return error_completion(sqe.user_data, TransportError::WrongInterface);
    }
    }
    return error_completion(sqe.user_data, TransportError::BadOpcode);
}

// Appends a completion, or counts it as overflow when the process has left no
// room. The shared header only ever receives the kernel's own counters.
void post(Process& process, abi::RingPage& page, const abi::Cqe& cqe) {
    RingState& state = process.ring_state();
    uint32_t user_head = __atomic_load_n(&page.header.cq_head, __ATOMIC_ACQUIRE);
    if (ring::free_completions(state.cq_tail, user_head, abi::ring_cq_entries) == 0) {
        ++state.cq_overflow;
        __atomic_store_n(&page.header.cq_overflow, state.cq_overflow, __ATOMIC_RELAXED);
        return;
    }
    page.cqes[state.cq_tail % abi::ring_cq_entries] = cqe;
    ++state.cq_tail;
    __atomic_store_n(&page.header.cq_tail, state.cq_tail, __ATOMIC_RELEASE);
}

uint32_t unread(Process& process, abi::RingPage& page) {
    uint32_t user_head = __atomic_load_n(&page.header.cq_head, __ATOMIC_ACQUIRE);
    return ring::unread_completions(process.ring_state().cq_tail, user_head, abi::ring_cq_entries);
}

} // namespace

int64_t cap_enter(Process& process, uint64_t min_complete, uint64_t timeout_ns) {
    abi::RingPage& page = *process.ring();
    RingState& state = process.ring_state();

    uint32_t user_tail = __atomic_load_n(&page.header.sq_tail, __ATOMIC_ACQUIRE);
    auto pending = ring::pending_submissions(state.sq_head, user_tail, abi::ring_sq_entries);
    if (!pending) {
        // Restore the head the process may have scribbled over and tell it.
        __atomic_store_n(&page.header.sq_head, state.sq_head, __ATOMIC_RELEASE);
        return int64_t(TransportError::RingCorrupted);
    }
    uint32_t batch = *pending < abi::ring_max_batch ? *pending : abi::ring_max_batch;
    for (uint32_t i = 0; i < batch; ++i) {
        // One copy of the entry: everything after this reads the copy, so the
        // process cannot change an entry between its check and its use.
        abi::Sqe sqe;
        __builtin_memcpy(&sqe, &page.sqes[state.sq_head % abi::ring_sq_entries], sizeof sqe);
        asm volatile("" ::: "memory");
        ++state.sq_head;
        __atomic_store_n(&page.header.sq_head, state.sq_head, __ATOMIC_RELEASE);
        post(process, page, handle(process, sqe));
    }

    if (min_complete > abi::ring_cq_entries)
        min_complete = abi::ring_cq_entries;
    if (timeout_ns != 0 && unread(process, page) < min_complete) {
        uint64_t deadline = no_deadline;
        if (timeout_ns != abi::no_timeout)
            deadline = uptime_microseconds() + (timeout_ns + 999) / 1000;
        while (unread(process, page) < min_complete && uptime_microseconds() < deadline)
            Scheduler::block(deadline);
    }
    return unread(process, page);
}

} // namespace capos::kernel
