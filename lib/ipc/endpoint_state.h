// An endpoint's bookkeeping as pure logic: the queue of calls waiting for a
// RECV (and of release notices among them), the calls in flight (delivered,
// waiting for RETURN) with their ids, the waiting receivers (up to
// max_receivers RECVs, answered oldest first), the client count and the
// closed state, and every rule that decides what a CALL, RECV, RETURN, release
// notice, cancel or close does with them.
// The kernel's Endpoint (kernel/ipc/endpoint.h, whose header numbers the
// steps of a call's life) keeps what is not pure: the caller's owed answer,
// copying into user buffers, capability transfer, the heap copy of the params
// and the charges on the caller. It asks this state what to do and tells it
// what happened.
//
// A call is a record the kernel owns (its EndpointCall derives from
// EndpointCallRecord); this state links it, never allocates or frees it. A
// record goes:
//   open()  -> it has an id, on no list (the kernel may still refuse it and
//              free it: the id is used up all the same)
//           -> in flight     (delivered_direct: Delivered)
//           -> queued        (enqueue)
//   queued  -> in flight     (delivered_from_queue: Delivered)
//           -> off the queue (delivered_from_queue: TransferFailed; cancel;
//              take_closed_call): the kernel ends it
//   in flight -> orphaned    (cancel: its caller ended; a RETURN still finds
//                it and answers nobody)
//             -> off the set (finish; take_closed_call): the kernel ends it
//
// A release notice (EndpointNoticeRecord: a minted client facet's last
// capability has gone, step 5) is a record too, never opened: it has no id
// (0) and never goes in flight. It goes to the oldest waiting receiver, or
// queues behind the calls queued before it, so the owner receives every call
// its facet made that was queued by then first; a RECV takes it off the queue
// (delivered_from_queue), and so does close (take_closed_call): the kernel
// then frees it. Notices do not count against max_queued_calls (the kernel
// bounds the facets that can make them).
//
// Call ids run 1, 2, ... and wrap to 1, skipping 0. After the first wrap an id
// still held by a queued or in-flight call is skipped, so no two live calls
// ever share one (that look costs a walk of the queue and the in-flight set,
// only once ids have wrapped).
//
// Calls queue only while no receiver waits, and receivers wait only while no
// call is queued: a RECV takes the oldest queued call, and a CALL goes to the
// oldest waiting receiver.
//
// Misuse that cannot be recovered traps (__builtin_trap): a record opened
// twice, enqueued or delivered from the wrong place, a queue grown past its
// bound, a client removed that was never added, a receiver dropped that was
// not waiting, a notice opened, cancelled or found to have failed a transfer.
//
// Not thread-safe: the kernel serialises what happens to one endpoint (its
// lock).
#pragma once

#include "abi/ring.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/ring/ring.h"
#include <cstddef>
#include <cstdint>

namespace capos::ipc {

using abi::TransportError;

// Links a record into an endpoint's queue or its in-flight set (one at a time).
struct EndpointLink;

class EndpointCallRecord : public IntrusiveListNode<EndpointLink> {
public:
    EndpointCallRecord() = default;
    // 0 until open() (always, for a notice).
    uint32_t call_id() const { return m_call_id; }
    // In flight and its caller has ended: a RETURN answers nobody.
    bool orphaned() const { return m_orphaned; }
    // A release notice (EndpointNoticeRecord), not a call.
    bool is_notice() const { return m_notice; }

protected:
    struct NoticeTag {};
    explicit EndpointCallRecord(NoticeTag) : m_notice(true) {}

private:
    friend class EndpointState;
    uint32_t m_call_id = 0;
    bool m_orphaned = false;
    bool m_notice = false;
};

// A release notice's record (see the header): queued like a call, never
// opened or in flight.
class EndpointNoticeRecord : public EndpointCallRecord {
public:
    EndpointNoticeRecord() : EndpointCallRecord(NoticeTag{}) {}
};

// What became of a delivery the kernel tried (header, params and capability
// records into the receiver's buffer).
enum class Delivery : uint8_t {
    Delivered,       // the receiver has the call
    ReceiverRefused, // the receiver's buffer would not take it: its RECV failed
    TransferFailed,  // the receiver's table had no room for the capabilities
};

// Where a CALL goes.
enum class CallRoute : uint8_t {
    Direct, // deliver it to the waiting receiver (step 1's direct handoff)
    Queue,  // queue it for a later RECV
};

// What a CALL delivered straight to the receiver became.
enum class AfterDirect : uint8_t {
    InFlight, // delivered
    Again,    // the receiver refused it: deliver it to the next waiting one
    Queue,    // the receiver refused it and none is left: queue it (room was checked)
};

// What cancel() did with a call whose caller ended.
enum class Cancelled : uint8_t {
    Dropped,  // it was queued: off the queue, the kernel frees it
    Orphaned, // it is in flight: it stays so, answered into the void
};

// Where a release notice goes.
enum class NoticeRoute : uint8_t {
    Drop,   // the endpoint is closed: nobody to tell, the kernel frees it
    Direct, // deliver it to the oldest waiting receiver
    Queue,  // queue it for a later RECV (behind the calls queued already)
};

// What a notice delivered straight to a receiver became.
enum class AfterNotice : uint8_t {
    Delivered, // the receiver has it: the kernel frees it
    Again,     // the receiver refused it: deliver it to the next waiting one
    Queue,     // the receiver refused it and none is left: enqueue_notice
};

// What close() found.
enum class Closing : uint8_t {
    AlreadyClosed,      // nothing to do
    Closed,             // end every call take_closed_call() gives
    ClosedWithReceiver, // the same, and every waiting receiver completes with Disconnected
};

class EndpointState {
public:
    static constexpr uint32_t max_queued_calls = abi::endpoint_max_queued_calls;
    static constexpr uint32_t max_receivers = abi::endpoint_max_receivers;

    EndpointState() = default;
    EndpointState(const EndpointState&) = delete;
    EndpointState& operator=(const EndpointState&) = delete;

    bool closed() const { return m_closed; }
    uint32_t clients() const { return m_clients; }
    // Records queued: calls and notices.
    size_t queued() const { return m_queue.size(); }
    // Of those, the notices; the calls are the rest (what max_queued_calls bounds).
    size_t queued_notices() const { return m_notices; }
    size_t queued_calls() const { return m_queue.size() - m_notices; }
    size_t in_flight() const { return m_in_flight.size(); }
    // RECVs waiting (their processes may have ended since: the kernel knows).
    uint32_t receivers_waiting() const { return m_receivers; }
    bool receiver_waiting() const { return m_receivers != 0; }
    // Nothing is queued or in flight: the endpoint may be destroyed.
    bool idle() const { return m_queue.empty() && m_in_flight.empty(); }
    bool is_queued(const EndpointCallRecord& call) const { return m_queue.contains(call); }
    bool is_in_flight(const EndpointCallRecord& call) const { return m_in_flight.contains(call); }
    // The oldest queued call, or null.
    EndpointCallRecord* oldest_queued() { return m_queue.front(); }
    // The release notices at the head of the queue, oldest first, up to
    // `most` of them, into `out`: how many (a RECV takes them together,
    // each then delivered_from_queue in turn).
    size_t leading_notices(EndpointCallRecord** out, size_t most) {
        size_t count = 0;
        for (auto it = m_queue.begin(); it != m_queue.end() && count < most; ++it) {
            if (!(*it).is_notice())
                break;
            out[count++] = &*it;
        }
        return count;
    }

    // Step 1, CALL. First, before the kernel takes anything for the call:
    // Disconnected once closed; BadBuffer when the call (`delivered_bytes`:
    // header, params and capability records) would not fit the largest
    // receive buffer, so it could never be received and would block the
    // queue behind it; Direct when a receiver waits (the kernel first drops
    // the oldest ones whose processes have ended: receiver_dropped);
    // QuotaExceeded when the queue is full; else Queue.
    Result<CallRoute, TransportError> route_call(uint64_t delivered_bytes) const;
    // Gives a new record its call id (see the header).
    void open(EndpointCallRecord& call);
    // After the kernel tried to deliver an open call routed Direct:
    //   Delivered: it is in flight; the receiver is no longer waiting.
    //   TransferFailed: QuotaExceeded; the call fails (its capabilities stay
    //     with the caller) and the receiver keeps waiting.
    //   ReceiverRefused: the receiver's RECV has failed and no longer waits;
    //     the call goes to the next waiting receiver (Again), else queues
    //     like any other (Queue), or QuotaExceeded when the queue is full.
    Result<AfterDirect, TransportError> delivered_direct(EndpointCallRecord& call,
                                                         Delivery outcome);
    // Queues an open call (route_call or delivered_direct said Queue).
    void enqueue(EndpointCallRecord& call);

    // Step 2, RECV. First: QuotaExceeded when max_receivers wait already
    // (the kernel drops those whose processes ended first). Then the kernel
    // delivers oldest_queued() (a call or a notice), if any, and reports with
    // delivered_from_queue; when nothing is queued, it asks wait_for_call.
    Result<void, TransportError> begin_receive() const;
    // After the kernel tried to deliver the oldest queued call `call`:
    //   Delivered: it is in flight (a notice: off the queue, the kernel frees
    //     it); the RECV is done.
    //   ReceiverRefused: it stays queued; the RECV is done (it failed).
    //   TransferFailed: it is off the queue, and the kernel fails it back to
    //     its caller (QuotaExceeded); the RECV takes the next one. (Never a
    //     notice's: it carries no capabilities.)
    void delivered_from_queue(EndpointCallRecord& call, Delivery outcome);
    // Nothing is queued: Disconnected when no client is left (nobody can call
    // any more); QuotaExceeded when the kernel may not keep the RECV's answer
    // for later (`may_keep`); else the receiver waits, after those waiting.
    Result<void, TransportError> wait_for_call(bool may_keep);
    // A waiting receiver went without a call: its process ended, or its
    // answer could not be kept.
    void receiver_dropped();

    // Step 3, RETURN: the in-flight call `call_id` names, or NoSuchCall. The
    // kernel answers its caller unless it is orphaned, then finish()es it
    // (when the answer cannot be delivered it stays in flight).
    Result<EndpointCallRecord*, TransportError> find_in_flight(uint32_t call_id);
    // Takes an answered in-flight call off the set; the kernel ends it.
    void finish(EndpointCallRecord& call);

    // A queued or in-flight call's caller has ended.
    Cancelled cancel(EndpointCallRecord& call);

    // Step 4: the last owner is gone. Later CALLs fail with Disconnected.
    Closing close();
    // After close(): each call to end with Disconnected (or notice to free),
    // taken off its list, the queued ones oldest first, then the in-flight
    // ones newest first; null when none is left.
    EndpointCallRecord* take_closed_call();

    // Step 5, a minted client facet's last capability went: where its
    // notice goes (Direct when a receiver waits: the kernel first drops the
    // oldest ones whose processes ended, receiver_dropped). The kernel then
    // removes the facet as a client (remove_client), after the notice, so a
    // RECV learns of the facet before it learns that no client is left.
    NoticeRoute route_notice() const;
    // After the kernel tried to deliver a notice routed Direct (a notice
    // carries no capabilities: never TransferFailed).
    AfterNotice notice_delivered_direct(EndpointNoticeRecord& notice, Delivery outcome);
    // Queues a notice (route_notice or notice_delivered_direct said Queue).
    void enqueue_notice(EndpointNoticeRecord& notice);

    // Moves the call ids on as if `count` calls had been opened and ended
    // since (tests reach the wrap with it).
    void skip_call_ids(uint64_t count);

    void add_client() { ++m_clients; }
    // True when the waiting receivers must complete with Disconnected now:
    // the last client went (and then nothing is queued). None waits then.
    bool remove_client();

private:
    bool id_in_use(uint32_t id);
    // open()'s id once the ids wrap (or are about to): the next one no live
    // call holds.
    uint32_t next_free_call_id();

    bool m_closed = false;
    bool m_ids_wrapped = false;
    uint32_t m_receivers = 0;
    uint32_t m_clients = 0;
    uint32_t m_notices = 0; // of m_queue
    uint32_t m_next_call_id = 1;
    IntrusiveList<EndpointCallRecord, EndpointLink> m_queue;     // oldest first
    IntrusiveList<EndpointCallRecord, EndpointLink> m_in_flight; // newest first
};

// The steps of every call, inline: they are the IPC path.

inline Result<CallRoute, TransportError> EndpointState::route_call(uint64_t delivered_bytes) const {
    if (m_closed)
        return Err{TransportError::Disconnected};
    if (delivered_bytes > ring::max_message_bytes)
        return Err{TransportError::BadBuffer};
    if (m_receivers != 0)
        return CallRoute::Direct;
    if (queued_calls() >= max_queued_calls)
        return Err{TransportError::QuotaExceeded};
    return CallRoute::Queue;
}

inline void EndpointState::open(EndpointCallRecord& call) {
    if (call.m_call_id != 0 || call.m_notice ||
        IntrusiveList<EndpointCallRecord, EndpointLink>::is_linked(call))
        __builtin_trap(); // opened twice, or a notice
    // Until the ids wrap, every id is fresh.
    if (m_ids_wrapped || m_next_call_id == UINT32_MAX) [[unlikely]] {
        call.m_call_id = next_free_call_id();
        return;
    }
    call.m_call_id = m_next_call_id++;
}

inline Result<AfterDirect, TransportError> EndpointState::delivered_direct(EndpointCallRecord& call,
                                                                           Delivery outcome) {
    if (call.m_call_id == 0 || m_receivers == 0)
        __builtin_trap(); // not opened, or not routed Direct
    switch (outcome) {
    case Delivery::Delivered:
        --m_receivers;
        m_in_flight.push_front(call);
        return AfterDirect::InFlight;
    case Delivery::TransferFailed:
        return Err{TransportError::QuotaExceeded};
    case Delivery::ReceiverRefused:
        break;
    }
    if (--m_receivers != 0)
        return AfterDirect::Again;
    if (queued_calls() >= max_queued_calls)
        return Err{TransportError::QuotaExceeded};
    return AfterDirect::Queue;
}

inline void EndpointState::enqueue(EndpointCallRecord& call) {
    if (call.m_call_id == 0 || queued_calls() >= max_queued_calls || m_receivers != 0)
        __builtin_trap(); // not opened, routed past the bound, or a receiver waits for it
    m_queue.push_back(call);
}

inline Result<void, TransportError> EndpointState::begin_receive() const {
    if (m_receivers >= max_receivers)
        return Err{TransportError::QuotaExceeded};
    return {};
}

inline void EndpointState::delivered_from_queue(EndpointCallRecord& call, Delivery outcome) {
    if (&call != m_queue.front())
        __builtin_trap(); // only the oldest queued call is delivered
    switch (outcome) {
    case Delivery::Delivered:
        m_queue.remove(call);
        if (call.m_notice) [[unlikely]] {
            --m_notices;
            return;
        }
        m_in_flight.push_front(call);
        return;
    case Delivery::ReceiverRefused:
        return;
    case Delivery::TransferFailed:
        if (call.m_notice)
            __builtin_trap(); // a notice carries no capabilities
        m_queue.remove(call);
        return;
    }
}

inline Result<void, TransportError> EndpointState::wait_for_call(bool may_keep) {
    if (!m_queue.empty())
        __builtin_trap(); // a queued call is delivered first
    if (m_clients == 0)
        return Err{TransportError::Disconnected};
    if (!may_keep)
        return Err{TransportError::QuotaExceeded};
    if (m_receivers >= max_receivers)
        __builtin_trap(); // begin_receive refuses it first
    ++m_receivers;
    return {};
}

inline void EndpointState::receiver_dropped() {
    if (m_receivers == 0)
        __builtin_trap();
    --m_receivers;
}

inline Result<EndpointCallRecord*, TransportError> EndpointState::find_in_flight(uint32_t call_id) {
    EndpointCallRecord* call =
        m_in_flight.find_if([call_id](const auto& c) { return c.m_call_id == call_id; });
    if (!call)
        return Err{TransportError::NoSuchCall};
    return call;
}

inline void EndpointState::finish(EndpointCallRecord& call) {
    m_in_flight.remove(call); // traps unless in flight here
}

} // namespace capos::ipc
