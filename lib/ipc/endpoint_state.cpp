#include "lib/ipc/endpoint_state.h"

namespace capos::ipc {

bool EndpointState::id_in_use(uint32_t id) {
    auto has_id = [id](const EndpointCallRecord& call) { return call.m_call_id == id; };
    return m_queue.find_if(has_id) || m_in_flight.find_if(has_id);
}

uint32_t EndpointState::next_free_call_id() {
    uint32_t id;
    do {
        id = m_next_call_id++;
        if (m_next_call_id == 0) {
            m_next_call_id = 1;
            m_ids_wrapped = true;
        }
    } while (m_ids_wrapped && id_in_use(id));
    return id;
}

void EndpointState::skip_call_ids(uint64_t count) {
    // Ids run over 1 .. 2^32 - 1: a cycle of 2^32 - 1. Whole cycles change
    // nothing: the ids from the new position up to the top were never given
    // out unless the ids had wrapped already.
    constexpr uint64_t cycle = (uint64_t(1) << 32) - 1;
    uint64_t position = uint64_t(m_next_call_id - 1) + count % cycle;
    if (position >= cycle)
        m_ids_wrapped = true;
    m_next_call_id = uint32_t(position % cycle + 1);
}

Cancelled EndpointState::cancel(EndpointCallRecord& call) {
    if (call.m_notice)
        __builtin_trap(); // a notice has no caller
    if (m_queue.contains(call)) {
        m_queue.remove(call);
        return Cancelled::Dropped;
    }
    if (!m_in_flight.contains(call) || call.m_orphaned)
        __builtin_trap(); // neither queued nor in flight, or cancelled twice
    call.m_orphaned = true;
    return Cancelled::Orphaned;
}

Closing EndpointState::close() {
    if (m_closed)
        return Closing::AlreadyClosed;
    m_closed = true;
    if (m_receivers == 0)
        return Closing::Closed;
    m_receivers = 0;
    return Closing::ClosedWithReceiver;
}

EndpointCallRecord* EndpointState::take_closed_call() {
    if (!m_closed)
        __builtin_trap();
    if (EndpointCallRecord* call = m_queue.pop_front()) {
        if (call->m_notice)
            --m_notices;
        return call;
    }
    return m_in_flight.pop_front();
}

NoticeRoute EndpointState::route_notice() const {
    if (m_closed)
        return NoticeRoute::Drop;
    if (m_receivers != 0)
        return NoticeRoute::Direct;
    return NoticeRoute::Queue;
}

AfterNotice EndpointState::notice_delivered_direct(EndpointNoticeRecord& notice, Delivery outcome) {
    if (m_closed || m_receivers == 0 ||
        IntrusiveList<EndpointCallRecord, EndpointLink>::is_linked(notice))
        __builtin_trap(); // not routed Direct
    switch (outcome) {
    case Delivery::Delivered:
        --m_receivers;
        return AfterNotice::Delivered;
    case Delivery::ReceiverRefused:
        break;
    case Delivery::TransferFailed:
        __builtin_trap(); // a notice carries no capabilities
    }
    if (--m_receivers != 0)
        return AfterNotice::Again;
    return AfterNotice::Queue;
}

void EndpointState::enqueue_notice(EndpointNoticeRecord& notice) {
    if (m_closed || m_receivers != 0)
        __builtin_trap();      // dropped when closed; a waiting receiver takes it
    m_queue.push_back(notice); // traps if queued already
    ++m_notices;
}

bool EndpointState::remove_client() {
    if (m_clients == 0)
        __builtin_trap(); // more removed than added
    if (--m_clients != 0 || m_receivers == 0)
        return false;
    m_receivers = 0;
    return true;
}

} // namespace capos::ipc
