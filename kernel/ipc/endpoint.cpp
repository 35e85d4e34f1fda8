#include "kernel/ipc/endpoint.h"
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

using abi::TransportError;

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
        receiver.complete_with_error(TransportError::Disconnected);
    }
}

void Endpoint::release_charges(EndpointCall& call, Process* caller) {
    if (caller) {
        caller->uncharge_queued(uint64_t(call.params_words) * 8);
        caller->remove_outgoing(&call);
    }
    call.charged = false;
}

void Endpoint::end_call(EndpointCall* call, std::optional<abi::Cqe> answer, Wake wake) {
    if (call->charged)
        release_charges(*call, call->reply.caller());
    if (call->reply) {
        if (answer)
            call->reply.complete(*answer, wake);
        else
            call->reply.reset(); // its caller has ended
    }
    if (call->params)
        heap_free(call->params);
    heap_destroy(call);
}

Endpoint::Delivery Endpoint::deliver(EndpointCall& call, std::span<capnp::Word> params,
                                     PendingReply& receiver, bool from_queue) {
    abi::RecvHeader header{
        .call_id = call.call_id,
        .method = call.method,
        .cap_count = uint16_t(call.transfer.count()),
        .interface_id = call.interface_id,
        .caller = call.reply ? call.reply.caller()->id() : 0,
        .params_len = uint32_t(params.size() * sizeof(capnp::Word)),
    };
    abi::Cqe cqe{.call_id = call.call_id, .extra = header.caller};
    // The direct handoff (step 1): the receiver runs next.
    switch (receiver.answer(cqe, std::as_bytes(std::span(&header, 1)), params, call.transfer,
                            Wake::First)) {
    case PendingReply::Answer::Delivered:
        break;
    case PendingReply::Answer::Refused:
        return Delivery::ReceiverRefused;
    case PendingReply::Answer::TransferFailed:
        return Delivery::TransferFailed; // the receiver's table is full
    }
    if (from_queue) {
        m_queue_head = call.next;
        if (!m_queue_head)
            m_queue_tail = nullptr;
        --m_queued;
        if (Process* caller = call.reply.caller())
            caller->uncharge_queued(uint64_t(call.params_words) * 8);
        if (call.params)
            heap_free(call.params); // an empty call has none
        call.params = nullptr;
        call.params_words = 0;
    }
    call.next = m_in_flight;
    m_in_flight = &call;
    return Delivery::Delivered;
}

std::optional<abi::Cqe> Endpoint::call(Process& caller, const ring::DecodedSqe& sqe,
                                       std::span<capnp::Word> params, Transfer transfer) {
    if (m_closed)
        return error_cqe(sqe.user_data, TransportError::Disconnected);
    // A call must fit the largest receive buffer with its header and records,
    // or it could never be received and would block the queue behind it.
    uint64_t delivered_size = sizeof(abi::RecvHeader) + params.size() * sizeof(capnp::Word) +
                              uint64_t(transfer.count()) * sizeof(abi::CapRecord);
    if (delivered_size > ring::max_message_bytes)
        return error_cqe(sqe.user_data, TransportError::BadBuffer);
    bool direct = m_receiver.has_value() && !m_receiver->caller()->has_exited();
    uint64_t queued_bytes = direct ? 0 : params.size() * sizeof(capnp::Word);
    if (!direct && m_queued >= max_queued_calls)
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
    if (!caller.can_add_outgoing(queued_bytes))
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
    auto reply = PendingReply::owe(caller, sqe.user_data, sqe.result);
    if (!reply)
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);

    auto created = heap_create<EndpointCall>();
    if (created.is_error()) {
        reply->reset(); // answered at once
        return error_cqe(sqe.user_data, TransportError::NoMemory);
    }
    EndpointCall* call = created.value();
    call->endpoint = this;
    call->call_id = m_next_call_id++;
    if (m_next_call_id == 0)
        m_next_call_id = 1;
    call->method = sqe.method;
    call->interface_id = sqe.interface_id;
    call->reply = std::move(*reply);
    call->transfer = std::move(transfer);

    if (direct) {
        PendingReply receiver = std::move(*m_receiver);
        caller.add_outgoing(call);
        call->charged = true;
        switch (deliver(*call, params, receiver, /*from_queue=*/false)) {
        case Delivery::Delivered:
            m_receiver.reset();
            return std::nullopt;
        case Delivery::TransferFailed:
            // The receiver keeps waiting; the call fails and its capabilities
            // stay with the caller.
            m_receiver = std::move(receiver);
            end_call(call, std::nullopt); // answered at once below
            return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
        case Delivery::ReceiverRefused:
            // The receiver's RECV has failed; queue the call for the next one,
            // within the same bounds as any queued call.
            m_receiver.reset();
            release_charges(*call, call->reply.caller());
            if (m_queued >= max_queued_calls ||
                !caller.can_add_outgoing(params.size() * sizeof(capnp::Word))) {
                end_call(call, std::nullopt); // answered at once below
                return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
            }
            break;
        }
    }

    if (!params.empty()) {
        auto copy = heap_allocate(params.size() * sizeof(capnp::Word), alignof(capnp::Word));
        if (copy.is_error()) {
            end_call(call, std::nullopt); // answered at once below
            return error_cqe(sqe.user_data, TransportError::NoMemory);
        }
        call->params = static_cast<capnp::Word*>(copy.value());
        call->params_words = uint32_t(params.size());
        __builtin_memcpy(call->params, params.data(), params.size() * sizeof(capnp::Word));
    }
    caller.add_outgoing(call);
    caller.charge_queued(uint64_t(call->params_words) * 8);
    call->charged = true;
    if (m_queue_tail)
        m_queue_tail->next = call;
    else
        m_queue_head = call;
    m_queue_tail = call;
    ++m_queued;
    return std::nullopt;
}

std::optional<abi::Cqe> Endpoint::receive(Process& owner, const ring::DecodedSqe& sqe) {
    if (m_receiver.has_value() && !m_receiver->caller()->has_exited())
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded); // one RECV at a time
    // Answered at once when a call waits; kept (within the bound) otherwise.
    PendingReply receiver = PendingReply::owe_unbounded(owner, sqe.user_data, sqe.result);
    while (EndpointCall* call = m_queue_head) {
        std::span<capnp::Word> params(call->params, call->params_words);
        switch (deliver(*call, params, receiver, /*from_queue=*/true)) {
        case Delivery::Delivered:
        case Delivery::ReceiverRefused: // it stays queued; the RECV has failed
            return std::nullopt;        // deliver posted the completion
        case Delivery::TransferFailed:
            // The owner's table is full: this call fails back to its caller
            // with its capabilities restored, and the RECV takes the next.
            m_queue_head = call->next;
            if (!m_queue_head)
                m_queue_tail = nullptr;
            --m_queued;
            end_call(call, abi::Cqe{.result = int32_t(TransportError::QuotaExceeded)});
            continue;
        }
    }
    if (m_clients == 0 || !receiver.may_keep()) {
        receiver.reset(); // answered at once below
        return error_cqe(sqe.user_data, m_clients == 0 ? TransportError::Disconnected
                                                       : TransportError::QuotaExceeded);
    }
    m_receiver = std::move(receiver);
    return std::nullopt;
}

abi::Cqe Endpoint::return_call(const ring::DecodedSqe& sqe, std::span<capnp::Word> message,
                               Transfer transfer) {
    EndpointCall** link = &m_in_flight;
    while (*link && (*link)->call_id != sqe.call_id)
        link = &(*link)->next;
    EndpointCall* call = *link;
    if (!call)
        return error_cqe(sqe.user_data, TransportError::NoSuchCall);
    if (call->reply) {
        // Kept until the charges are released (answering drops the reply's
        // reference).
        RefPtr<Process> caller = retain(call->reply.caller());
        auto status = (sqe.flags & abi::SqeReturnException) ? abi::CallStatus::Exception
                                                            : abi::CallStatus::Ok;
        // The caller runs next (step 3).
        if (call->reply.answer(abi::Cqe{.result = int32_t(status)}, {}, message, transfer,
                               Wake::First) == PendingReply::Answer::TransferFailed)
            return error_cqe(sqe.user_data, TransportError::QuotaExceeded); // still in flight
        if (call->charged)
            release_charges(*call, caller.get());
    }
    *link = call->next;
    end_call(call, std::nullopt);
    return abi::Cqe{.user_data = sqe.user_data, .result = 0};
}

void Endpoint::close() {
    if (m_closed)
        return;
    m_closed = true;
    if (m_receiver.has_value()) {
        // The owner's own waiting RECV (it released its last owner capability).
        PendingReply receiver = std::move(*m_receiver);
        m_receiver.reset();
        if (receiver)
            receiver.complete_with_error(TransportError::Disconnected);
    }
    abi::Cqe disconnected{.result = int32_t(TransportError::Disconnected)};
    while (EndpointCall* call = m_queue_head) {
        m_queue_head = call->next;
        end_call(call, disconnected);
    }
    m_queue_tail = nullptr;
    m_queued = 0;
    while (EndpointCall* call = m_in_flight) {
        m_in_flight = call->next;
        end_call(call, disconnected);
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
        end_call(c, std::nullopt);
        return;
    }
    release_charges(*call, call->reply.caller());
    call->reply.reset();
}

} // namespace capos::kernel
