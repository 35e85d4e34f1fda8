#include "kernel/object/endpoint.h"
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

using abi::TransportError;

namespace {

abi::Cqe error_cqe(uint64_t user_data, TransportError error) {
    return abi::Cqe{.user_data = user_data, .result = int32_t(error)};
}

// Lets `process`'s thread waiting in cap_enter run before anything else: the
// direct handoff of step 1 and step 3.
void hand_off_to(Process& process) {
    if (Thread* waiter = process.ring_waiter())
        Scheduler::wake_first(waiter);
}

} // namespace

Result<RefPtr<Endpoint>, TransportError> Endpoint::create() {
    auto memory = heap_allocate(sizeof(Endpoint), alignof(Endpoint));
    if (memory.is_error())
        return Err{TransportError::NoMemory};
    return RefPtr<Endpoint>::adopt(new (memory.value()) Endpoint());
}

Result<EndpointPair, TransportError> create_endpoint_pair() {
    RefPtr<Endpoint> endpoint = TRY(Endpoint::create());
    auto owner = heap_create<EndpointOwner>(endpoint);
    if (owner.is_error())
        return Err{TransportError::NoMemory};
    auto client = heap_create<EndpointClient>(std::move(endpoint));
    if (client.is_error()) {
        RefPtr<EndpointOwner>::adopt(owner.value()); // drops it
        return Err{TransportError::NoMemory};
    }
    return EndpointPair{RefPtr<EndpointOwner>::adopt(owner.value()),
                        RefPtr<EndpointClient>::adopt(client.value())};
}

void Endpoint::destroy() {
    VERIFY(m_queue_head == nullptr && m_in_flight == nullptr);
    this->~Endpoint();
    heap_free(this);
}

void EndpointOwner::destroy() {
    m_endpoint->close();
    this->~EndpointOwner();
    heap_free(this);
}

void EndpointClient::destroy() {
    m_endpoint->remove_client();
    this->~EndpointClient();
    heap_free(this);
}

void Endpoint::remove_client() {
    VERIFY(m_clients > 0);
    if (--m_clients == 0 && !m_queue_head && m_receiver.has_value()) {
        PendingReply receiver = std::move(*m_receiver);
        m_receiver.reset();
        complete_with_error(receiver, TransportError::Disconnected);
    }
}

void Endpoint::free_call(EndpointCall* call) {
    if (Process* caller = call->reply.caller.get()) {
        caller->uncharge_queued(uint64_t(call->params_words) * 8);
        caller->remove_outgoing(call);
    }
    if (call->params)
        heap_free(call->params);
    heap_destroy(call);
}

bool Endpoint::deliver(EndpointCall& call, std::span<const capnp::Word> params,
                       PendingReply& receiver, bool from_queue) {
    Process& owner = *receiver.caller;
    uint64_t params_bytes = params.size() * sizeof(capnp::Word);
    abi::RecvHeader header{
        .call_id = call.call_id,
        .method = call.method,
        .interface_id = call.interface_id,
        .caller = call.reply.caller ? call.reply.caller->id() : 0,
        .params_len = uint32_t(params_bytes),
    };
    abi::Cqe cqe{.user_data = receiver.user_data, .call_id = call.call_id, .extra = header.caller};
    bool delivered = false;
    if (sizeof header + params_bytes > receiver.result.length) {
        cqe.result = int32_t(TransportError::ResultTooSmall);
    } else if (!copy_to_address_space(owner.page_tables(), receiver.result.address, &header,
                                      sizeof header) ||
               !copy_to_address_space(owner.page_tables(), receiver.result.address + sizeof header,
                                      params.data(), params_bytes)) {
        cqe.result = int32_t(TransportError::BadBuffer);
    } else {
        cqe.result = 0;
        cqe.result_len = uint32_t(sizeof header + params_bytes);
        delivered = true;
    }
    post_completion(owner, cqe);
    if (!delivered)
        return false;
    if (from_queue) {
        m_queue_head = call.next;
        if (!m_queue_head)
            m_queue_tail = nullptr;
        --m_queued;
        if (call.reply.caller)
            call.reply.caller->uncharge_queued(uint64_t(call.params_words) * 8);
        heap_free(call.params);
        call.params = nullptr;
        call.params_words = 0;
    }
    call.next = m_in_flight;
    m_in_flight = &call;
    return true;
}

std::optional<abi::Cqe> Endpoint::call(Process& caller, const ring::DecodedSqe& sqe,
                                       std::span<const capnp::Word> params) {
    if (m_closed)
        return error_cqe(sqe.user_data, TransportError::Disconnected);
    bool direct = m_receiver.has_value() && !m_receiver->caller->has_exited();
    uint64_t queued_bytes = direct ? 0 : params.size() * sizeof(capnp::Word);
    if (!direct && m_queued >= max_queued_calls)
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
    if (!caller.can_add_outgoing(queued_bytes))
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);

    auto created = heap_create<EndpointCall>();
    if (created.is_error())
        return error_cqe(sqe.user_data, TransportError::NoMemory);
    EndpointCall* call = created.value();
    call->endpoint = this;
    call->call_id = m_next_call_id++;
    if (m_next_call_id == 0)
        m_next_call_id = 1;
    call->method = sqe.method;
    call->interface_id = sqe.interface_id;
    call->reply = PendingReply{retain(&caller), sqe.user_data, sqe.result};

    if (direct) {
        PendingReply receiver = std::move(*m_receiver);
        m_receiver.reset();
        caller.add_outgoing(call);
        if (deliver(*call, params, receiver, /*from_queue=*/false)) {
            hand_off_to(*receiver.caller);
            return std::nullopt;
        }
        // The receiver's buffer would not take it: queue the call instead.
        caller.remove_outgoing(call);
    }

    if (!params.empty()) {
        auto copy = heap_allocate(params.size() * sizeof(capnp::Word), alignof(capnp::Word));
        if (copy.is_error()) {
            heap_destroy(call);
            return error_cqe(sqe.user_data, TransportError::NoMemory);
        }
        call->params = static_cast<capnp::Word*>(copy.value());
        call->params_words = uint32_t(params.size());
        __builtin_memcpy(call->params, params.data(), params.size() * sizeof(capnp::Word));
    }
    caller.add_outgoing(call);
    caller.charge_queued(uint64_t(call->params_words) * 8);
    if (m_queue_tail)
        m_queue_tail->next = call;
    else
        m_queue_head = call;
    m_queue_tail = call;
    ++m_queued;
    return std::nullopt;
}

std::optional<abi::Cqe> Endpoint::receive(Process& owner, const ring::DecodedSqe& sqe) {
    if (m_receiver.has_value() && !m_receiver->caller->has_exited())
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded); // one RECV at a time
    PendingReply receiver{retain(&owner), sqe.user_data, sqe.result};
    if (!m_queue_head && m_clients == 0)
        return error_cqe(sqe.user_data, TransportError::Disconnected);
    if (EndpointCall* call = m_queue_head) {
        std::span<const capnp::Word> params(call->params, call->params_words);
        if (!deliver(*call, params, receiver, /*from_queue=*/true))
            return std::nullopt; // too big for this buffer: it stays queued
        return std::nullopt;     // deliver posted the completion
    }
    m_receiver = std::move(receiver);
    return std::nullopt;
}

abi::Cqe Endpoint::return_call(const ring::DecodedSqe& sqe, std::span<const capnp::Word> message) {
    EndpointCall** link = &m_in_flight;
    while (*link && (*link)->call_id != sqe.call_id)
        link = &(*link)->next;
    EndpointCall* call = *link;
    if (!call)
        return error_cqe(sqe.user_data, TransportError::NoSuchCall);
    *link = call->next;
    if (call->reply.caller) {
        auto status = (sqe.flags & abi::SqeReturnException) ? abi::CallStatus::Exception
                                                            : abi::CallStatus::Ok;
        complete_with_message(call->reply, status, message);
        hand_off_to(*call->reply.caller);
    }
    free_call(call);
    return abi::Cqe{.user_data = sqe.user_data, .result = 0};
}

void Endpoint::close() {
    if (m_closed)
        return;
    m_closed = true;
    m_receiver.reset();
    while (EndpointCall* call = m_queue_head) {
        m_queue_head = call->next;
        if (call->reply.caller)
            complete_with_error(call->reply, TransportError::Disconnected);
        free_call(call);
    }
    m_queue_tail = nullptr;
    m_queued = 0;
    while (EndpointCall* call = m_in_flight) {
        m_in_flight = call->next;
        if (call->reply.caller)
            complete_with_error(call->reply, TransportError::Disconnected);
        free_call(call);
    }
}

void Endpoint::cancel(EndpointCall* call) {
    // Queued: unlink and free. In flight: forget the caller; a later RETURN
    // still finds the call (and answers nobody).
    EndpointCall* previous = nullptr;
    for (EndpointCall* c = m_queue_head; c; previous = c, c = c->next) {
        if (c != call)
            continue;
        if (previous)
            previous->next = c->next;
        else
            m_queue_head = c->next;
        if (m_queue_tail == c)
            m_queue_tail = previous;
        --m_queued;
        free_call(c);
        return;
    }
    if (Process* caller = call->reply.caller.get())
        caller->remove_outgoing(call);
    call->reply.caller.reset();
}

} // namespace capos::kernel
