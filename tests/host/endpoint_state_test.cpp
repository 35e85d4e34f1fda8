// lib/ipc/endpoint_state: the endpoint's queue, in-flight set, call ids,
// waiting receivers, clients and close, as the kernel's Endpoint drives them.
// Explicit cases for each rule and the tricky paths, misuse that traps, and a
// randomized run of CALL / RECV / RETURN / cancel / close / client changes /
// release notices against a plain reference model written with standard
// containers, checking every decision and every invariant after each step.
#include "lib/ipc/endpoint_state.h"
#include "lib/ring/ring.h"
#include "tests/host/traps.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>

#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace capos::ipc {
namespace {

// The kernel's EndpointCall stands in: a record with something of its own.
struct Call : EndpointCallRecord {
    explicit Call(uint64_t s = 0) : serial(s) {}
    uint64_t serial;
};

constexpr uint64_t small_call = 64; // delivered bytes of an ordinary call

template <typename T>
std::optional<TransportError> error_of(const Result<T, TransportError>& result) {
    if (result.is_ok())
        return std::nullopt;
    return result.error();
}

// A CALL the way the kernel makes it when nothing else fails: route, open,
// then deliver (Direct: the oldest waiting receiver answers with `outcome`,
// any next one takes it) or queue. Returns the call when it is queued or in
// flight, null when it was refused (and freed).
Call* make_call(EndpointState& state, std::vector<std::unique_ptr<Call>>& calls,
                Delivery outcome = Delivery::Delivered) {
    auto route = state.route_call(small_call);
    if (route.is_error())
        return nullptr;
    auto call = std::make_unique<Call>(calls.size());
    state.open(*call);
    if (route.value() == CallRoute::Direct) {
        for (;;) {
            auto after = state.delivered_direct(*call, outcome);
            if (after.is_error())
                return nullptr;
            if (after.value() == AfterDirect::InFlight) {
                calls.push_back(std::move(call));
                return calls.back().get();
            }
            if (after.value() == AfterDirect::Queue)
                break;
            outcome = Delivery::Delivered; // Again
        }
    }
    state.enqueue(*call);
    calls.push_back(std::move(call));
    return calls.back().get();
}

// A RECV the way the kernel makes it, every delivery succeeding: the call it
// got, or null when it waits or failed (`error`).
Call* receive(EndpointState& state, std::optional<TransportError>* error = nullptr) {
    if (error)
        *error = std::nullopt;
    if (auto begun = state.begin_receive(); begun.is_error()) {
        if (error)
            *error = begun.error();
        return nullptr;
    }
    if (EndpointCallRecord* call = state.oldest_queued()) {
        state.delivered_from_queue(*call, Delivery::Delivered);
        return static_cast<Call*>(call);
    }
    auto waiting = state.wait_for_call(true);
    if (error)
        *error = error_of(waiting);
    return nullptr;
}

void end_all(EndpointState& state) {
    state.close();
    while (state.take_closed_call()) {
    }
}

TEST(EndpointState, StartsOpenAndIdle) {
    EndpointState state;
    EXPECT_FALSE(state.closed());
    EXPECT_EQ(state.clients(), 0u);
    EXPECT_EQ(state.queued(), 0u);
    EXPECT_EQ(state.in_flight(), 0u);
    EXPECT_FALSE(state.receiver_waiting());
    EXPECT_TRUE(state.idle());
    EXPECT_EQ(state.oldest_queued(), nullptr);
}

TEST(EndpointState, RouteCall) {
    EndpointState state;
    state.add_client();
    auto routed = state.route_call(small_call);
    ASSERT_TRUE(routed.is_ok());
    EXPECT_EQ(routed.value(), CallRoute::Queue); // nobody waits
    // One that could never be received is refused before the queue is looked at.
    EXPECT_EQ(error_of(state.route_call(ring::max_message_bytes + 1)), TransportError::BadBuffer);
    EXPECT_TRUE(state.route_call(ring::max_message_bytes).is_ok());
    // A waiting receiver takes it directly.
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    EXPECT_EQ(state.route_call(small_call).value(), CallRoute::Direct);
    // Once the kernel has dropped it (its process ended), the call queues.
    state.receiver_dropped();
    EXPECT_EQ(state.route_call(small_call).value(), CallRoute::Queue);
    state.close();
    EXPECT_EQ(error_of(state.route_call(small_call)), TransportError::Disconnected);
    // Closed is checked first.
    EXPECT_EQ(error_of(state.route_call(ring::max_message_bytes + 1)),
              TransportError::Disconnected);
}

// An endpoint with one client, and the calls a test makes on it.
class EndpointStateWithClient : public ::testing::Test {
protected:
    void SetUp() override { state.add_client(); }

    EndpointState state;
    std::vector<std::unique_ptr<Call>> calls;
};

TEST_F(EndpointStateWithClient, QueueIsBoundedButADirectCallIsNot) {
    for (uint32_t i = 0; i < EndpointState::max_queued_calls; ++i)
        ASSERT_NE(make_call(state, calls), nullptr);
    EXPECT_EQ(state.queued(), EndpointState::max_queued_calls);
    EXPECT_EQ(error_of(state.route_call(small_call)), TransportError::QuotaExceeded);
    EXPECT_EQ(receive(state)->call_id(), 1u);
    ASSERT_NE(make_call(state, calls), nullptr); // room for one again
    EXPECT_EQ(error_of(state.route_call(small_call)), TransportError::QuotaExceeded);
    end_all(state);
}

TEST_F(EndpointStateWithClient, ReceiversWaitUpToTheBoundAndTakeCallsOldestFirst) {
    for (uint32_t i = 0; i < EndpointState::max_receivers; ++i) {
        std::optional<TransportError> error;
        ASSERT_EQ(receive(state, &error), nullptr);
        ASSERT_EQ(error, std::nullopt);
        ASSERT_EQ(state.receivers_waiting(), i + 1);
    }
    std::optional<TransportError> error;
    EXPECT_EQ(receive(state, &error), nullptr);
    EXPECT_EQ(error, TransportError::QuotaExceeded);
    EXPECT_EQ(state.receivers_waiting(), EndpointState::max_receivers);
    // One whose process ended, dropped by the kernel, makes room.
    state.receiver_dropped();
    EXPECT_TRUE(state.begin_receive().is_ok());
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    // Each call goes straight to a waiting receiver, none queues.
    for (uint32_t i = 0; i < EndpointState::max_receivers; ++i) {
        Call* call = make_call(state, calls);
        ASSERT_NE(call, nullptr);
        ASSERT_TRUE(state.is_in_flight(*call));
        ASSERT_EQ(state.receivers_waiting(), EndpointState::max_receivers - i - 1);
    }
    EXPECT_EQ(state.queued(), 0u);
    EXPECT_EQ(state.route_call(small_call).value(), CallRoute::Queue);
    end_all(state);
}

TEST_F(EndpointStateWithClient, CallsQueueInOrderAndRecvTakesTheOldest) {
    Call* a = make_call(state, calls);
    Call* b = make_call(state, calls);
    Call* c = make_call(state, calls);
    EXPECT_EQ(a->call_id(), 1u);
    EXPECT_EQ(b->call_id(), 2u);
    EXPECT_EQ(c->call_id(), 3u);
    EXPECT_TRUE(state.is_queued(*a));
    EXPECT_EQ(receive(state), a);
    EXPECT_TRUE(state.is_in_flight(*a));
    EXPECT_FALSE(state.is_queued(*a));
    EXPECT_EQ(receive(state), b);
    EXPECT_EQ(state.queued(), 1u);
    EXPECT_EQ(state.in_flight(), 2u);
    // RETURN in any order.
    auto found = state.find_in_flight(b->call_id());
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value(), b);
    EXPECT_FALSE(b->orphaned());
    state.finish(*b);
    EXPECT_EQ(error_of(state.find_in_flight(b->call_id())), TransportError::NoSuchCall);
    EXPECT_EQ(error_of(state.find_in_flight(c->call_id())), TransportError::NoSuchCall); // queued
    EXPECT_EQ(error_of(state.find_in_flight(0)), TransportError::NoSuchCall);
    EXPECT_EQ(state.find_in_flight(a->call_id()).value(), a);
    state.finish(*a);
    EXPECT_EQ(receive(state), c);
    state.finish(*c);
    EXPECT_TRUE(state.idle());
}

TEST_F(EndpointStateWithClient, DirectDeliveryToAWaitingReceiver) {
    std::optional<TransportError> error;
    EXPECT_EQ(receive(state, &error), nullptr);
    EXPECT_EQ(error, std::nullopt);
    EXPECT_TRUE(state.receiver_waiting());
    // A second RECV waits behind the first.
    EXPECT_EQ(receive(state, &error), nullptr);
    EXPECT_EQ(error, std::nullopt);
    EXPECT_EQ(state.receivers_waiting(), 2u);
    Call* call = make_call(state, calls);
    ASSERT_NE(call, nullptr);
    EXPECT_TRUE(state.is_in_flight(*call));
    EXPECT_EQ(state.receivers_waiting(), 1u);
    EXPECT_EQ(state.queued(), 0u);
    state.finish(*call);
    end_all(state);
}

TEST(EndpointState, DirectTransferFailureKeepsTheReceiverWaiting) {
    EndpointState state;
    state.add_client();
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    Call call;
    ASSERT_EQ(state.route_call(small_call).value(), CallRoute::Direct);
    state.open(call);
    EXPECT_EQ(error_of(state.delivered_direct(call, Delivery::TransferFailed)),
              TransportError::QuotaExceeded);
    EXPECT_TRUE(state.receiver_waiting());
    EXPECT_TRUE(state.idle());
    // The next call gets the next id.
    std::vector<std::unique_ptr<Call>> calls;
    EXPECT_EQ(make_call(state, calls)->call_id(), 2u);
    end_all(state);
}

TEST(EndpointState, DirectRefusalQueuesTheCallWithinTheBound) {
    EndpointState state;
    state.add_client();
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    Call call;
    state.open(call);
    auto after = state.delivered_direct(call, Delivery::ReceiverRefused);
    ASSERT_TRUE(after.is_ok());
    EXPECT_EQ(after.value(), AfterDirect::Queue);
    EXPECT_FALSE(state.receiver_waiting()); // its RECV has failed
    state.enqueue(call);
    EXPECT_EQ(state.oldest_queued(), &call);
    end_all(state);

    // With another receiver waiting, the refused call goes to it instead.
    EndpointState two;
    two.add_client();
    ASSERT_TRUE(two.wait_for_call(true).is_ok());
    ASSERT_TRUE(two.wait_for_call(true).is_ok());
    Call next;
    two.open(next);
    after = two.delivered_direct(next, Delivery::ReceiverRefused);
    ASSERT_TRUE(after.is_ok());
    EXPECT_EQ(after.value(), AfterDirect::Again);
    EXPECT_EQ(two.receivers_waiting(), 1u);
    after = two.delivered_direct(next, Delivery::Delivered);
    ASSERT_TRUE(after.is_ok());
    EXPECT_EQ(after.value(), AfterDirect::InFlight);
    EXPECT_FALSE(two.receiver_waiting());
    EXPECT_TRUE(two.is_in_flight(next));
    end_all(two);
}

TEST_F(EndpointStateWithClient, RecvRefusedBySmallBufferLeavesTheCallQueued) {
    Call* a = make_call(state, calls);
    Call* b = make_call(state, calls);
    ASSERT_TRUE(state.begin_receive().is_ok());
    ASSERT_EQ(state.oldest_queued(), a);
    state.delivered_from_queue(*a, Delivery::ReceiverRefused);
    EXPECT_TRUE(state.is_queued(*a));
    EXPECT_EQ(state.oldest_queued(), a); // still first
    EXPECT_EQ(state.queued(), 2u);
    EXPECT_FALSE(state.receiver_waiting());
    // A bigger buffer gets it, then b.
    EXPECT_EQ(receive(state), a);
    EXPECT_EQ(receive(state), b);
    end_all(state);
}

TEST_F(EndpointStateWithClient, TransferFailureAtRecvFailsThatCallAndTakesTheNext) {
    Call* a = make_call(state, calls);
    Call* b = make_call(state, calls);
    Call* c = make_call(state, calls);
    ASSERT_TRUE(state.begin_receive().is_ok());
    state.delivered_from_queue(*a, Delivery::TransferFailed);
    EXPECT_FALSE(state.is_queued(*a));
    EXPECT_FALSE(state.is_in_flight(*a)); // the kernel ends it
    ASSERT_EQ(state.oldest_queued(), b);
    state.delivered_from_queue(*b, Delivery::TransferFailed);
    ASSERT_EQ(state.oldest_queued(), c);
    state.delivered_from_queue(*c, Delivery::Delivered);
    EXPECT_TRUE(state.is_in_flight(*c));
    EXPECT_EQ(state.queued(), 0u);
    EXPECT_EQ(state.in_flight(), 1u);
    // Every queued call failing: the RECV then waits.
    Call* d = make_call(state, calls);
    ASSERT_TRUE(state.begin_receive().is_ok());
    state.delivered_from_queue(*d, Delivery::TransferFailed);
    EXPECT_EQ(state.oldest_queued(), nullptr);
    EXPECT_TRUE(state.wait_for_call(true).is_ok());
    EXPECT_TRUE(state.receiver_waiting());
    end_all(state);
}

TEST(EndpointState, RecvWithNoClientsIsDisconnected) {
    EndpointState state;
    std::optional<TransportError> error;
    EXPECT_EQ(receive(state, &error), nullptr);
    EXPECT_EQ(error, TransportError::Disconnected);
    EXPECT_FALSE(state.receiver_waiting());
    // A RECV whose answer could not be kept is refused (with a client).
    state.add_client();
    EXPECT_EQ(error_of(state.wait_for_call(false)), TransportError::QuotaExceeded);
    EXPECT_FALSE(state.receiver_waiting());
    // Disconnected wins over the kernel's bound.
    EndpointState none;
    EXPECT_EQ(error_of(none.wait_for_call(false)), TransportError::Disconnected);
}

TEST_F(EndpointStateWithClient, QueuedCallsAreReceivedAfterTheLastClientGoes) {
    Call* a = make_call(state, calls);
    EXPECT_FALSE(state.remove_client()); // nobody waits
    EXPECT_EQ(receive(state), a);
    std::optional<TransportError> error;
    EXPECT_EQ(receive(state, &error), nullptr);
    EXPECT_EQ(error, TransportError::Disconnected);
    state.finish(*a);
}

TEST(EndpointState, LastClientGoingEndsTheWaitingReceive) {
    EndpointState state;
    state.add_client();
    state.add_client();
    ASSERT_EQ(receive(state), nullptr);
    ASSERT_TRUE(state.receiver_waiting());
    EXPECT_FALSE(state.remove_client()); // one is left
    EXPECT_TRUE(state.receiver_waiting());
    EXPECT_TRUE(state.remove_client());
    EXPECT_FALSE(state.receiver_waiting());
    EXPECT_EQ(state.clients(), 0u);
    // Without a waiting receiver nothing is ended.
    state.add_client();
    EXPECT_FALSE(state.remove_client());
}

TEST(EndpointState, LastClientGoingEndsEveryWaitingReceive) {
    EndpointState state;
    state.add_client();
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(receive(state), nullptr);
    ASSERT_EQ(state.receivers_waiting(), 3u);
    EXPECT_TRUE(state.remove_client());
    EXPECT_FALSE(state.receiver_waiting());
}

TEST_F(EndpointStateWithClient, CancelQueuedDropsIt) {
    Call* a = make_call(state, calls);
    Call* b = make_call(state, calls);
    Call* c = make_call(state, calls);
    EXPECT_EQ(state.cancel(*b), Cancelled::Dropped);
    EXPECT_FALSE(state.is_queued(*b));
    EXPECT_EQ(state.queued(), 2u);
    EXPECT_EQ(receive(state), a);
    EXPECT_EQ(receive(state), c);
    end_all(state);
}

TEST_F(EndpointStateWithClient, CancelInFlightOrphansItAndReturnStillFindsIt) {
    Call* a = make_call(state, calls);
    EXPECT_EQ(receive(state), a);
    EXPECT_EQ(state.cancel(*a), Cancelled::Orphaned);
    EXPECT_TRUE(a->orphaned());
    EXPECT_TRUE(state.is_in_flight(*a));
    auto found = state.find_in_flight(a->call_id());
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value(), a);
    EXPECT_TRUE(found.value()->orphaned()); // answered into the void
    state.finish(*a);
    EXPECT_TRUE(state.idle());
}

TEST_F(EndpointStateWithClient, CloseEndsEverythingAndTheWaitingReceiver) {
    Call* a = make_call(state, calls);
    Call* b = make_call(state, calls);
    Call* c = make_call(state, calls);
    Call* d = make_call(state, calls);
    EXPECT_EQ(receive(state), a);
    EXPECT_EQ(receive(state), b);
    EXPECT_EQ(state.close(), Closing::Closed);
    // Queued oldest first, then in flight newest first.
    EXPECT_EQ(state.take_closed_call(), c);
    EXPECT_EQ(state.take_closed_call(), d);
    EXPECT_EQ(state.take_closed_call(), b);
    EXPECT_EQ(state.take_closed_call(), a);
    EXPECT_EQ(state.take_closed_call(), nullptr);
    EXPECT_TRUE(state.idle());
    EXPECT_EQ(state.close(), Closing::AlreadyClosed);
    EXPECT_EQ(error_of(state.route_call(small_call)), TransportError::Disconnected);

    EndpointState waiting;
    waiting.add_client();
    ASSERT_TRUE(waiting.wait_for_call(true).is_ok());
    ASSERT_TRUE(waiting.wait_for_call(true).is_ok());
    EXPECT_EQ(waiting.close(), Closing::ClosedWithReceiver);
    EXPECT_FALSE(waiting.receiver_waiting());
    EXPECT_EQ(waiting.take_closed_call(), nullptr);
    // The last client going now ends no receiver.
    EXPECT_FALSE(waiting.remove_client());
}

TEST_F(EndpointStateWithClient, CallIdsWrapSkippingZero) {
    state.skip_call_ids(0xFFFF'FFFDu); // the next id is 0xFFFFFFFE
    Call* a = make_call(state, calls);
    Call* b = make_call(state, calls);
    Call* c = make_call(state, calls);
    EXPECT_EQ(a->call_id(), 0xFFFF'FFFEu);
    EXPECT_EQ(b->call_id(), 0xFFFF'FFFFu);
    EXPECT_EQ(c->call_id(), 1u);
    end_all(state);
}

TEST_F(EndpointStateWithClient, WrappedIdsSkipCallsStillLive) {
    Call* one = make_call(state, calls);   // id 1, queued
    Call* two = make_call(state, calls);   // id 2
    Call* three = make_call(state, calls); // id 3
    EXPECT_EQ(two->call_id(), 2u);
    EXPECT_EQ(receive(state), one);                      // 1 in flight, 2 and 3 queued
    ASSERT_EQ(state.cancel(*three), Cancelled::Dropped); // 3 is free again
    // Round the whole cycle: the next id would be 1 again.
    state.skip_call_ids(0xFFFF'FFFFull - 3);
    Call* next = make_call(state, calls);
    EXPECT_EQ(next->call_id(), 3u); // 1 (in flight) and 2 (queued) are skipped
    EXPECT_EQ(make_call(state, calls)->call_id(), 4u);
    state.finish(*one);
    // Once 1 is answered, it is given again when its turn comes.
    state.skip_call_ids(0xFFFF'FFFFull - 4);
    EXPECT_EQ(make_call(state, calls)->call_id(), 1u);
    EXPECT_EQ(make_call(state, calls)->call_id(), 5u); // 2, 3, 4 are still live
    end_all(state);
}

TEST(EndpointState, SkipCallIdsCountsTheWholeCycle) {
    EndpointState state;
    std::vector<std::unique_ptr<Call>> calls;
    state.add_client();
    state.skip_call_ids(0xFFFF'FFFFull); // a whole cycle: back at 1
    EXPECT_EQ(make_call(state, calls)->call_id(), 1u);
    state.skip_call_ids(0xFFFF'FFFFull * 3 + 5); // three cycles and 5: at 7
    EXPECT_EQ(make_call(state, calls)->call_id(), 7u);
    end_all(state);
}

// A minted facet's release notice (the kernel's ReleaseNotice stands in).
struct Notice : EndpointNoticeRecord {};

TEST_F(EndpointStateWithClient, NoticeQueuesBehindCallsOutsideTheBound) {
    for (uint32_t i = 0; i < EndpointState::max_queued_calls; ++i)
        ASSERT_NE(make_call(state, calls), nullptr);
    Notice notice;
    EXPECT_TRUE(notice.is_notice());
    EXPECT_EQ(notice.call_id(), 0u);
    ASSERT_EQ(state.route_notice(), NoticeRoute::Queue);
    state.enqueue_notice(notice);
    EXPECT_EQ(state.queued(), EndpointState::max_queued_calls + 1);
    EXPECT_EQ(state.queued_notices(), 1u);
    EXPECT_EQ(state.queued_calls(), EndpointState::max_queued_calls);
    // The queue of calls is still full; the notice took nothing of it.
    EXPECT_EQ(error_of(state.route_call(small_call)), TransportError::QuotaExceeded);
    // Every call queued before it is received first.
    for (uint32_t i = 0; i < EndpointState::max_queued_calls; ++i) {
        Call* received = receive(state);
        ASSERT_NE(received, nullptr);
        EXPECT_FALSE(received->is_notice());
        EXPECT_EQ(received, calls[i].get());
    }
    EXPECT_EQ(state.oldest_queued(), &notice);
    // With room in the queue again, a call queues behind the notice.
    Call* behind = make_call(state, calls);
    ASSERT_NE(behind, nullptr);
    state.delivered_from_queue(notice, Delivery::Delivered);
    EXPECT_EQ(state.queued_notices(), 0u);
    EXPECT_FALSE(state.is_in_flight(notice)); // never in flight
    EXPECT_EQ(state.oldest_queued(), behind);
    // Nothing answers a notice: no call has id 0.
    EXPECT_EQ(error_of(state.find_in_flight(0)), TransportError::NoSuchCall);
    end_all(state);
}

TEST_F(EndpointStateWithClient, NoticeRefusedByASmallBufferStaysQueued) {
    Notice notice;
    state.enqueue_notice(notice);
    ASSERT_TRUE(state.begin_receive().is_ok());
    state.delivered_from_queue(notice, Delivery::ReceiverRefused);
    EXPECT_TRUE(state.is_queued(notice));
    EXPECT_EQ(state.queued_notices(), 1u);
    state.delivered_from_queue(notice, Delivery::Delivered);
    EXPECT_TRUE(state.idle());
}

TEST_F(EndpointStateWithClient, NoticeGoesToTheOldestWaitingReceiver) {
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    Notice notice;
    ASSERT_EQ(state.route_notice(), NoticeRoute::Direct);
    EXPECT_EQ(state.notice_delivered_direct(notice, Delivery::Delivered), AfterNotice::Delivered);
    EXPECT_EQ(state.receivers_waiting(), 1u);
    EXPECT_TRUE(state.idle());
    // Refused by the one left: none waits, so it queues.
    Notice second;
    ASSERT_EQ(state.route_notice(), NoticeRoute::Direct);
    EXPECT_EQ(state.notice_delivered_direct(second, Delivery::ReceiverRefused), AfterNotice::Queue);
    EXPECT_EQ(state.route_notice(), NoticeRoute::Queue);
    state.enqueue_notice(second);
    EXPECT_EQ(state.oldest_queued(), &second);
    end_all(state);
}

TEST_F(EndpointStateWithClient, RefusedNoticeGoesToTheNextReceiver) {
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    Notice notice;
    EXPECT_EQ(state.notice_delivered_direct(notice, Delivery::ReceiverRefused), AfterNotice::Again);
    EXPECT_EQ(state.notice_delivered_direct(notice, Delivery::Delivered), AfterNotice::Delivered);
    EXPECT_FALSE(state.receiver_waiting());
}

TEST(EndpointState, TheLastFacetsNoticeComesBeforeDisconnected) {
    // Receivers waiting: the oldest gets the notice, then the facet stops
    // being a client and the others are told Disconnected.
    EndpointState state;
    state.add_client(); // the minted facet
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    ASSERT_TRUE(state.wait_for_call(true).is_ok());
    Notice notice;
    ASSERT_EQ(state.route_notice(), NoticeRoute::Direct);
    ASSERT_EQ(state.notice_delivered_direct(notice, Delivery::Delivered), AfterNotice::Delivered);
    EXPECT_TRUE(state.remove_client());
    EXPECT_FALSE(state.receiver_waiting());

    // None waiting: the notice queues, and a RECV gets it before it is told
    // Disconnected.
    EndpointState quiet;
    quiet.add_client();
    Notice queued;
    ASSERT_EQ(quiet.route_notice(), NoticeRoute::Queue);
    quiet.enqueue_notice(queued);
    EXPECT_FALSE(quiet.remove_client());
    ASSERT_TRUE(quiet.begin_receive().is_ok());
    ASSERT_EQ(quiet.oldest_queued(), &queued);
    quiet.delivered_from_queue(queued, Delivery::Delivered);
    EXPECT_EQ(error_of(quiet.wait_for_call(true)), TransportError::Disconnected);
}

TEST_F(EndpointStateWithClient, CloseDropsNoticesQueuedAndLater) {
    std::vector<Call*> queued;
    queued.push_back(make_call(state, calls));
    Notice notice;
    state.enqueue_notice(notice);
    queued.push_back(make_call(state, calls));
    EXPECT_EQ(state.close(), Closing::Closed);
    // Taken off in queue order, notices among the calls.
    EXPECT_EQ(state.take_closed_call(), queued[0]);
    EXPECT_EQ(state.take_closed_call(), &notice);
    EXPECT_EQ(state.queued_notices(), 0u);
    EXPECT_EQ(state.take_closed_call(), queued[1]);
    EXPECT_EQ(state.take_closed_call(), nullptr);
    EXPECT_EQ(state.route_notice(), NoticeRoute::Drop);
    EXPECT_TRUE(state.idle());
}

using EndpointStateDeathTest = ::testing::Test;

TEST(EndpointStateDeathTest, MisuseTraps) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_TRAPS({
        EndpointState state;
        Call call;
        state.open(call);
        state.open(call); // opened twice
    });
    EXPECT_TRAPS({
        EndpointState state;
        Call call;
        state.enqueue(call); // never opened
    });
    EXPECT_TRAPS({
        EndpointState state;
        Call call;
        state.open(call);
        (void)state.delivered_direct(call, Delivery::Delivered); // nobody waits
    });
    EXPECT_TRAPS({
        EndpointState state;
        std::vector<std::unique_ptr<Call>> calls;
        state.add_client();
        make_call(state, calls);
        Call* second = make_call(state, calls);
        state.delivered_from_queue(*second, Delivery::Delivered); // not the oldest
    });
    EXPECT_TRAPS({
        EndpointState state;
        std::vector<std::unique_ptr<Call>> calls;
        for (uint32_t i = 0; i <= EndpointState::max_queued_calls; ++i) {
            auto call = std::make_unique<Call>();
            state.open(*call);
            state.enqueue(*call); // the last is past the bound
            calls.push_back(std::move(call));
        }
    });
    EXPECT_TRAPS({
        EndpointState state;
        Call call;
        state.open(call);
        state.finish(call); // not in flight
    });
    EXPECT_TRAPS({
        EndpointState state;
        Call call;
        state.open(call);
        (void)state.cancel(call); // neither queued nor in flight
    });
    EXPECT_TRAPS({
        EndpointState state;
        std::vector<std::unique_ptr<Call>> calls;
        state.add_client();
        Call* call = make_call(state, calls);
        receive(state);
        (void)state.cancel(*call);
        (void)state.cancel(*call); // cancelled twice
    });
    EXPECT_TRAPS({
        EndpointState state;
        std::vector<std::unique_ptr<Call>> calls;
        state.add_client();
        make_call(state, calls);
        (void)state.wait_for_call(true); // a call is queued
    });
    EXPECT_TRAPS({
        EndpointState state;
        (void)state.remove_client(); // none was added
    });
    EXPECT_TRAPS({
        EndpointState state;
        Call call;
        state.add_client();
        (void)state.wait_for_call(true);
        state.open(call);
        state.enqueue(call); // a receiver waits: the call goes to it
    });
    EXPECT_TRAPS({
        EndpointState state;
        state.receiver_dropped(); // none waits
    });
    EXPECT_TRAPS({
        EndpointState state;
        state.add_client();
        for (uint32_t i = 0; i <= EndpointState::max_receivers; ++i)
            (void)state.wait_for_call(true); // begin_receive refuses the last
    });
    EXPECT_TRAPS({
        EndpointState state;
        state.take_closed_call(); // not closed
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        state.open(notice); // a notice has no id
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        state.enqueue_notice(notice);
        (void)state.cancel(notice); // a notice has no caller
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        state.enqueue_notice(notice);
        state.delivered_from_queue(notice, Delivery::TransferFailed); // it carries nothing
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        state.enqueue_notice(notice);
        state.enqueue_notice(notice); // queued twice
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        (void)state.notice_delivered_direct(notice, Delivery::Delivered); // nobody waits
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        state.add_client();
        (void)state.wait_for_call(true);
        state.enqueue_notice(notice); // a receiver waits: the notice goes to it
    });
    EXPECT_TRAPS({
        EndpointState state;
        Notice notice;
        state.close();
        state.enqueue_notice(notice); // closed: dropped, never queued
    });
}

// The reference model: the same bookkeeping written plainly.
struct Model {
    bool closed = false;
    uint32_t waiting = 0; // receivers
    bool wrapped = false;
    uint32_t clients = 0;
    uint32_t next_id = 1;
    std::deque<EndpointCallRecord*> queue; // oldest first: calls and notices
    std::deque<Call*> in_flight;           // newest first
    std::set<Call*> orphaned;
    size_t skipped = 0; // ids passed over because a live call held them

    size_t queued_notices() const {
        return size_t(std::count_if(queue.begin(), queue.end(),
                                    [](EndpointCallRecord* r) { return r->is_notice(); }));
    }
    size_t queued_calls() const { return queue.size() - queued_notices(); }
    bool id_live(uint32_t id) const {
        auto has = [id](EndpointCallRecord* c) { return c->call_id() == id; };
        return std::any_of(queue.begin(), queue.end(), has) ||
               std::any_of(in_flight.begin(), in_flight.end(), has);
    }
    uint32_t take_id() {
        for (;;) {
            uint32_t id = next_id;
            next_id = next_id == 0xFFFF'FFFFu ? 1 : next_id + 1;
            if (id == 0xFFFF'FFFFu)
                wrapped = true;
            if (!wrapped || !id_live(id))
                return id;
            ++skipped;
        }
    }
    void skip(uint64_t count) {
        uint64_t cycle = 0xFFFF'FFFFull;
        if ((next_id - 1) + count % cycle >= cycle)
            wrapped = true;
        next_id = uint32_t(((next_id - 1) + count % cycle) % cycle + 1);
    }
    Call* in_flight_with(uint32_t id) const {
        for (Call* c : in_flight)
            if (c->call_id() == id)
                return c;
        return nullptr;
    }
};

class Driver {
public:
    explicit Driver(uint64_t seed) : m_random(seed) {}
    // Whatever a failed run left linked is unlinked before it is freed.
    ~Driver() {
        m_state->close();
        while (m_state->take_closed_call()) {
        }
    }

    void run(size_t steps) {
        for (m_step = 0; m_step < steps; ++m_step) {
            SCOPED_TRACE("step " + std::to_string(m_step));
            step();
            SCOPED_TRACE(m_op);
            check();
            if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure())
                return;
        }
        m_state->close();
        while (EndpointCallRecord* record = m_state->take_closed_call())
            free_record(record);
    }

    size_t delivered() const { return m_delivered; }
    size_t notices_received() const { return m_notices_received; }
    size_t wraps() const { return m_wraps; }
    size_t skipped() const { return m_skipped + m_model.skipped; }

private:
    uint64_t pick(uint64_t n) { return m_random() % n; }
    bool chance(uint64_t one_in) { return pick(one_in) == 0; }

    // The kernel dropping waiting receivers whose processes ended: the
    // oldest before a call, or any when they fill the bound.
    void drop_receivers(uint32_t most) {
        uint32_t dropped = chance(5) ? uint32_t(pick(uint64_t(most) + 1)) : 0;
        for (uint32_t i = 0; i < dropped; ++i) {
            m_state->receiver_dropped();
            --m_model.waiting;
        }
    }

    Delivery pick_delivery() {
        switch (pick(6)) {
        case 0:
            return Delivery::ReceiverRefused;
        case 1:
            return Delivery::TransferFailed;
        default:
            return Delivery::Delivered;
        }
    }

    Call* new_call() {
        auto call = std::make_unique<Call>(m_serial++);
        Call* raw = call.get();
        m_calls[raw] = std::move(call);
        return raw;
    }
    void free_call(Call* call) {
        EXPECT_FALSE(m_state->is_queued(*call));
        EXPECT_FALSE(m_state->is_in_flight(*call));
        m_calls.erase(call);
    }
    Notice* new_notice() {
        auto notice = std::make_unique<Notice>();
        Notice* raw = notice.get();
        m_notices[raw] = std::move(notice);
        return raw;
    }
    void free_notice(Notice* notice) {
        EXPECT_FALSE(m_state->is_queued(*notice));
        EXPECT_FALSE(m_state->is_in_flight(*notice));
        m_notices.erase(notice);
    }
    void free_record(EndpointCallRecord* record) {
        if (record->is_notice())
            free_notice(static_cast<Notice*>(record));
        else
            free_call(static_cast<Call*>(record));
    }

    void step() {
        m_op = "other";
        switch (pick(20)) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
            return call();
        case 5:
        case 6:
        case 7:
        case 8:
            return receive();
        case 9:
        case 10:
        case 11:
            return return_call();
        case 12:
        case 13:
            return cancel();
        case 14:
        case 15:
            m_state->add_client();
            ++m_model.clients;
            return;
        case 16:
            if (chance(2))
                return release_notice();
            return remove_client();
        case 17:
            if (chance(8))
                return close();
            return;
        case 18: // jump the ids on, often right up to the wrap
            if (chance(4)) {
                uint64_t count = chance(2) ? 0xFFFF'FFFFull - m_model.next_id + pick(3)
                                           : pick(uint64_t(1) << 33);
                bool was_wrapped = m_model.wrapped;
                m_state->skip_call_ids(count);
                m_model.skip(count);
                m_wraps += !was_wrapped && m_model.wrapped;
            }
            return;
        default:
            if (m_model.closed && chance(3))
                return renew();
            return;
        }
    }

    void call() {
        m_op = "CALL";
        uint64_t bytes = chance(20) ? ring::max_message_bytes + 1 + pick(64) : 16 + pick(4096);
        drop_receivers(m_model.waiting);
        auto route = m_state->route_call(bytes);
        std::optional<TransportError> expected;
        CallRoute expected_route = CallRoute::Queue;
        if (m_model.closed)
            expected = TransportError::Disconnected;
        else if (bytes > ring::max_message_bytes)
            expected = TransportError::BadBuffer;
        else if (m_model.waiting != 0)
            expected_route = CallRoute::Direct;
        else if (m_model.queued_calls() >= EndpointState::max_queued_calls)
            expected = TransportError::QuotaExceeded;
        ASSERT_EQ(error_of(route), expected);
        if (expected)
            return;
        ASSERT_EQ(route.value(), expected_route);
        if (chance(10))
            return; // the kernel refused it before opening (caller's quota, memory)
        Call* c = new_call();
        m_state->open(*c);
        uint32_t id = m_model.take_id();
        ASSERT_EQ(c->call_id(), id);
        ASSERT_NE(id, 0u);
        for (bool direct = expected_route == CallRoute::Direct; direct;) {
            Delivery outcome = pick_delivery();
            auto after = m_state->delivered_direct(*c, outcome);
            switch (outcome) {
            case Delivery::Delivered:
                ASSERT_TRUE(after.is_ok() && after.value() == AfterDirect::InFlight);
                --m_model.waiting;
                m_model.in_flight.push_front(c);
                ++m_delivered;
                return;
            case Delivery::TransferFailed:
                ASSERT_EQ(error_of(after), TransportError::QuotaExceeded);
                free_call(c);
                return;
            case Delivery::ReceiverRefused:
                --m_model.waiting;
                if (m_model.waiting != 0) {
                    ASSERT_TRUE(after.is_ok() && after.value() == AfterDirect::Again);
                    // The kernel drops the next ones whose processes ended.
                    drop_receivers(m_model.waiting);
                    direct = m_model.waiting != 0;
                    break;
                }
                // (Receivers waited: nothing was queued.)
                ASSERT_TRUE(after.is_ok() && after.value() == AfterDirect::Queue);
                direct = false;
                break;
            }
        }
        if (chance(10)) {
            free_call(c); // the kernel could not copy the params or charge them
            return;
        }
        m_state->enqueue(*c);
        m_model.queue.push_back(c);
    }

    void receive() {
        m_op = "RECV";
        if (m_model.waiting == EndpointState::max_receivers)
            drop_receivers(m_model.waiting);
        auto begun = m_state->begin_receive();
        if (m_model.waiting == EndpointState::max_receivers) {
            ASSERT_EQ(error_of(begun), TransportError::QuotaExceeded);
            return;
        }
        ASSERT_TRUE(begun.is_ok());
        for (;;) {
            EndpointCallRecord* oldest = m_state->oldest_queued();
            ASSERT_EQ(oldest, m_model.queue.empty() ? nullptr : m_model.queue.front());
            if (!oldest)
                break;
            if (oldest->is_notice()) {
                // Received (and freed) or refused by a small buffer; a
                // notice carries no capabilities.
                bool refused = chance(6);
                m_state->delivered_from_queue(*oldest, refused ? Delivery::ReceiverRefused
                                                               : Delivery::Delivered);
                if (!refused) {
                    m_model.queue.pop_front();
                    free_notice(static_cast<Notice*>(oldest));
                    ++m_notices_received;
                }
                return;
            }
            Call* c = static_cast<Call*>(oldest);
            Delivery outcome = pick_delivery();
            m_state->delivered_from_queue(*c, outcome);
            switch (outcome) {
            case Delivery::Delivered:
                m_model.queue.pop_front();
                m_model.in_flight.push_front(c);
                ++m_delivered;
                return;
            case Delivery::ReceiverRefused:
                return;
            case Delivery::TransferFailed:
                m_model.queue.pop_front();
                free_call(c);
                continue;
            }
        }
        bool may_keep = !chance(8);
        auto waiting = m_state->wait_for_call(may_keep);
        std::optional<TransportError> expected;
        if (m_model.clients == 0)
            expected = TransportError::Disconnected;
        else if (!may_keep)
            expected = TransportError::QuotaExceeded;
        else
            ++m_model.waiting;
        ASSERT_EQ(error_of(waiting), expected);
    }

    void return_call() {
        m_op = "RETURN";
        uint32_t id;
        switch (pick(4)) {
        case 0:
        case 1:
            if (!m_model.in_flight.empty()) {
                id = m_model.in_flight[pick(m_model.in_flight.size())]->call_id();
                break;
            }
            [[fallthrough]];
        case 2:
            if (!m_model.queue.empty()) {
                id = m_model.queue[pick(m_model.queue.size())]->call_id();
                break;
            }
            [[fallthrough]];
        default:
            id = chance(2) ? uint32_t(m_random()) : m_model.next_id - 1 - uint32_t(pick(4));
            break;
        }
        auto found = m_state->find_in_flight(id);
        Call* expected = m_model.in_flight_with(id);
        if (!expected) {
            ASSERT_EQ(error_of(found), TransportError::NoSuchCall);
            return;
        }
        ASSERT_TRUE(found.is_ok());
        ASSERT_EQ(found.value(), expected);
        ASSERT_EQ(expected->orphaned(), m_model.orphaned.count(expected) == 1);
        if (!expected->orphaned() && chance(6))
            return; // the caller's table was full: it stays in flight
        m_state->finish(*expected);
        m_model.in_flight.erase(
            std::find(m_model.in_flight.begin(), m_model.in_flight.end(), expected));
        m_model.orphaned.erase(expected);
        free_call(expected);
    }

    void cancel() {
        m_op = "cancel";
        std::vector<Call*> candidates;
        for (EndpointCallRecord* r : m_model.queue)
            if (!r->is_notice())
                candidates.push_back(static_cast<Call*>(r));
        for (Call* c : m_model.in_flight)
            if (!m_model.orphaned.count(c))
                candidates.push_back(c);
        if (candidates.empty())
            return;
        Call* c = candidates[pick(candidates.size())];
        Cancelled result = m_state->cancel(*c);
        auto queued = std::find(m_model.queue.begin(), m_model.queue.end(), c);
        if (queued != m_model.queue.end()) {
            ASSERT_EQ(result, Cancelled::Dropped);
            m_model.queue.erase(queued);
            free_call(c);
            return;
        }
        ASSERT_EQ(result, Cancelled::Orphaned);
        m_model.orphaned.insert(c);
    }

    void remove_client() {
        m_op = "remove_client";
        if (m_model.clients == 0)
            return;
        bool ends_receiver = m_state->remove_client();
        --m_model.clients;
        bool expected = m_model.clients == 0 && m_model.waiting != 0;
        ASSERT_EQ(ends_receiver, expected);
        if (expected)
            m_model.waiting = 0;
    }

    void close() {
        m_op = "close";
        Closing closing = m_state->close();
        if (m_model.closed) {
            // Nothing changes (nothing can be queued or in flight by now).
            ASSERT_EQ(closing, Closing::AlreadyClosed);
        } else {
            ASSERT_EQ(closing,
                      m_model.waiting != 0 ? Closing::ClosedWithReceiver : Closing::Closed);
            m_model.closed = true;
            m_model.waiting = 0;
        }
        std::vector<EndpointCallRecord*> expected(m_model.queue.begin(), m_model.queue.end());
        expected.insert(expected.end(), m_model.in_flight.begin(), m_model.in_flight.end());
        for (EndpointCallRecord* r : expected) {
            ASSERT_EQ(m_state->take_closed_call(), r);
            free_record(r);
        }
        ASSERT_EQ(m_state->take_closed_call(), nullptr);
        m_model.queue.clear();
        m_model.in_flight.clear();
        m_model.orphaned.clear();
    }

    // A minted facet's last capability goes: its notice, then it stops
    // being a client.
    void release_notice() {
        m_op = "release notice";
        if (m_model.clients == 0)
            return;
        drop_receivers(m_model.waiting);
        NoticeRoute route = m_state->route_notice();
        NoticeRoute expected = m_model.closed         ? NoticeRoute::Drop
                               : m_model.waiting != 0 ? NoticeRoute::Direct
                                                      : NoticeRoute::Queue;
        ASSERT_EQ(route, expected);
        Notice* notice = new_notice();
        bool queue = route == NoticeRoute::Queue;
        if (route == NoticeRoute::Direct) {
            for (;;) {
                bool refused = chance(5);
                AfterNotice after = m_state->notice_delivered_direct(
                    *notice, refused ? Delivery::ReceiverRefused : Delivery::Delivered);
                --m_model.waiting;
                if (!refused) {
                    ASSERT_EQ(after, AfterNotice::Delivered);
                    ++m_notices_received;
                    break;
                }
                if (m_model.waiting != 0) {
                    ASSERT_EQ(after, AfterNotice::Again);
                    drop_receivers(m_model.waiting);
                    if (m_model.waiting != 0)
                        continue;
                } else {
                    ASSERT_EQ(after, AfterNotice::Queue);
                }
                queue = true;
                break;
            }
        }
        if (queue) {
            m_state->enqueue_notice(*notice);
            m_model.queue.push_back(notice);
        } else {
            free_notice(notice);
        }
        remove_client();
        m_op = "release notice";
    }

    // The endpoint is gone (closed, idle); a new one takes its place.
    void renew() {
        m_op = "renew";
        ASSERT_TRUE(m_state->idle());
        m_skipped += m_model.skipped;
        m_state = std::make_unique<EndpointState>();
        m_model = Model{};
    }

    void check() {
        const EndpointState& s = *m_state;
        ASSERT_EQ(s.closed(), m_model.closed);
        ASSERT_EQ(s.receivers_waiting(), m_model.waiting);
        ASSERT_EQ(s.receiver_waiting(), m_model.waiting != 0);
        // Calls queue only while no receiver waits.
        ASSERT_TRUE(m_model.waiting == 0 || m_model.queue.empty());
        ASSERT_EQ(s.clients(), m_model.clients);
        ASSERT_EQ(s.queued(), m_model.queue.size());
        ASSERT_EQ(s.queued_notices(), m_model.queued_notices());
        ASSERT_LE(s.queued_calls(), EndpointState::max_queued_calls);
        for (EndpointCallRecord* r : m_model.queue)
            ASSERT_TRUE(s.is_queued(*r));
        ASSERT_EQ(m_notices.size(), m_model.queued_notices());
        ASSERT_EQ(s.in_flight(), m_model.in_flight.size());
        ASSERT_EQ(s.idle(), m_model.queue.empty() && m_model.in_flight.empty());
        // Every live call: where the model has it, a nonzero id, no two alike.
        std::set<uint32_t> ids;
        ASSERT_EQ(m_calls.size(), m_model.queued_calls() + m_model.in_flight.size());
        for (auto& [raw, owned] : m_calls) {
            bool queued = std::find(m_model.queue.begin(), m_model.queue.end(),
                                    static_cast<EndpointCallRecord*>(raw)) != m_model.queue.end();
            ASSERT_EQ(s.is_queued(*raw), queued);
            ASSERT_EQ(s.is_in_flight(*raw), !queued);
            ASSERT_EQ(raw->orphaned(), m_model.orphaned.count(raw) == 1);
            ASSERT_NE(raw->call_id(), 0u);
            ASSERT_TRUE(ids.insert(raw->call_id()).second) << "two live calls share an id";
        }
    }

    std::mt19937_64 m_random;
    std::unique_ptr<EndpointState> m_state = std::make_unique<EndpointState>();
    Model m_model;
    std::map<Call*, std::unique_ptr<Call>> m_calls;       // every call queued or in flight
    std::map<Notice*, std::unique_ptr<Notice>> m_notices; // every notice queued
    size_t m_notices_received = 0;
    uint64_t m_serial = 0;
    size_t m_step = 0;
    size_t m_delivered = 0;
    size_t m_wraps = 0;
    size_t m_skipped = 0;
    const char* m_op = ""; // the last step's operation, for failure messages
};

TEST(EndpointState, RandomizedAgainstModel) {
    size_t delivered = 0;
    size_t notices = 0;
    size_t wraps = 0;
    size_t skipped = 0;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Driver driver(seed);
        driver.run(5000);
        if (HasFailure())
            return;
        delivered += driver.delivered();
        notices += driver.notices_received();
        wraps += driver.wraps();
        skipped += driver.skipped();
    }
    // The runs reached the interesting states.
    EXPECT_GT(delivered, 10000u);
    EXPECT_GT(notices, 1000u);
    EXPECT_GT(wraps, 100u);
    EXPECT_GT(skipped, 500u);
    std::printf("delivered %zu, notices %zu, id wraps %zu, live ids skipped %zu\n", delivered,
                notices, wraps, skipped);
}

} // namespace
} // namespace capos::ipc
