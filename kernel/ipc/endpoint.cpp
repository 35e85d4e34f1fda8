#include "kernel/ipc/endpoint.h"
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/reclaim.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"
#include <bit>
#include <cstddef>
#include <new>

namespace capos::kernel {

using abi::TransportError;

namespace {

// An endpoint and its two facets in one allocation, never across a page
// boundary: a call touches the client facet, the endpoint and its call
// record, the RETURN the owner facet and the same, all on one page. The
// facets hold references to the endpoint, which frees the block when the
// last goes.
struct EndpointBlock {
    alignas(Endpoint) std::byte endpoint[sizeof(Endpoint)];
    alignas(EndpointOwner) std::byte owner[sizeof(EndpointOwner)];
    alignas(EndpointClient) std::byte client[sizeof(EndpointClient)];
};
constexpr size_t endpoint_block_alignment = std::bit_ceil(sizeof(EndpointBlock));
static_assert(endpoint_block_alignment <= page_size);
static_assert(offsetof(EndpointBlock, endpoint) == 0);

// A minted facet and the release notice it becomes, in one allocation: the
// notice needs no memory of its own when the facet goes (step 5).
struct MintedFacet {
    alignas(EndpointClient) std::byte client[sizeof(EndpointClient)];
    alignas(ReleaseNotice) std::byte notice[sizeof(ReleaseNotice)];
};

MintedFacet* minted_facet_of(ReleaseNotice& notice) {
    return reinterpret_cast<MintedFacet*>(reinterpret_cast<std::byte*>(&notice) -
                                          offsetof(MintedFacet, notice));
}

ReleaseNotice& notice_of(EndpointClient* facet) {
    return *std::launder(reinterpret_cast<ReleaseNotice*>(
        reinterpret_cast<MintedFacet*>(reinterpret_cast<std::byte*>(facet))->notice));
}

// The ledger's side of freeing a minted facet, which only the kernel lock
// held exclusively may change: every path that frees one holds it so
// (destroys, close, a RECV of a notice: Endpoint::receive leaves that to the
// exclusive part), checked here instead of by the analysis, which cannot
// follow a shared holder's code that is reached only when it is exclusive.
void uncharge_exclusive(FrameLedger& ledger) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    VERIFY(g_kernel_lock.held_here());
    ledger.uncharge(1);
}

} // namespace

const uint32_t Endpoint::minted_facets_per_frame = page_size / sizeof(MintedFacet);

namespace {

// The frames `minted` facets are charged: one per minted_facets_per_frame,
// rounded up (what mint and free_minted keep charged).
uint32_t minted_frames(uint32_t minted) {
    return (minted + Endpoint::minted_facets_per_frame - 1) / Endpoint::minted_facets_per_frame;
}

} // namespace
// docs/abi.md ("Endpoints") states the charge.
static_assert(page_size / sizeof(MintedFacet) == 51);

Result<EndpointPair, TransportError> create_endpoint_pair() {
    auto memory = heap_allocate(sizeof(EndpointBlock), endpoint_block_alignment);
    if (memory.is_error())
        return Err{TransportError::NoMemory};
    auto* block = static_cast<EndpointBlock*>(memory.value());
    auto endpoint = RefPtr<Endpoint>::adopt(new (block->endpoint) Endpoint());
    auto* owner = new (block->owner) EndpointOwner(endpoint);
    auto* client = new (block->client) EndpointClient(std::move(endpoint));
    return EndpointPair{RefPtr<EndpointOwner>::adopt(owner), RefPtr<EndpointClient>::adopt(client)};
}

namespace {

EndpointCall* as_call(ipc::EndpointCallRecord* record) {
    return static_cast<EndpointCall*>(record);
}

} // namespace

// (Reached through KernelObject::release_reference, which the analysis does
// not follow: every reference is dropped under the kernel lock.)
void Endpoint::destroy() {
    g_kernel_lock.assert_held();
    ObjectLockGuard guard(m_lock); // (taken by no one: nothing else holds the endpoint)
    VERIFY(m_state.idle() && m_own_call_free && m_minted == 0);
    this->~Endpoint();
    heap_free(this); // the block, with the facets' memory
}

// A facet's memory is the endpoint's block: its reference to the endpoint
// goes last, after the facet is gone.
void EndpointOwner::destroy() {
    g_kernel_lock.assert_held();
    m_endpoint->close();
    RefPtr<Endpoint> endpoint = std::move(m_endpoint);
    this->~EndpointOwner();
}

// A minted facet's memory outlives the facet as its notice, which the
// endpoint frees (kept alive meanwhile by its owner, or freeing the notice
// at once when the owner has gone).
void EndpointClient::destroy() {
    g_kernel_lock.assert_held();
    RefPtr<Endpoint> endpoint = std::move(m_endpoint);
    if (m_badge == 0) {
        endpoint->remove_client();
        this->~EndpointClient();
        return;
    }
    ReleaseNotice& notice = notice_of(this);
    bool discarded = m_discarded;
    this->~EndpointClient();
    if (discarded)
        endpoint->facet_discarded(notice);
    else
        endpoint->facet_released(notice);
}

void discard_unsent_facet(KernelObject& object) {
    auto* client = downcast<EndpointClient>(&object);
    VERIFY(client && client->badge() != 0);
    client->discard();
}

void Endpoint::facet_discarded(ReleaseNotice& notice) {
    ObjectLockGuard guard(m_lock);
    free_minted(notice);
    // It was a client while it lived (the last one: receivers learn now).
    uint32_t waiting = m_state.receivers_waiting();
    if (m_state.remove_client())
        disconnect_receivers(waiting);
}

Result<RefPtr<EndpointClient>, MintError> Endpoint::mint(FrameLedger& ledger, uint32_t badge) {
    VERIFY(badge != 0);
    void* client_memory;
    {
        ObjectLockGuard guard(m_lock);
        VERIFY(!m_state.closed());
        if (m_minted == abi::endpoint_max_minted)
            return Err{MintError::TooMany};
        // The owner's holder never changes (its capability does not move).
        VERIFY(!m_minted_ledger || m_minted_ledger.get() == &ledger);
        bool new_frame = m_minted % minted_facets_per_frame == 0;
        if (new_frame && !ledger.try_charge(1))
            return Err{MintError::QuotaExceeded};
        auto memory = heap_allocate(sizeof(MintedFacet), alignof(MintedFacet));
        if (memory.is_error()) {
            if (new_frame)
                ledger.uncharge(1);
            return Err{MintError::NoMemory};
        }
        if (!m_minted_ledger)
            m_minted_ledger = retain(&ledger);
        ++m_minted;
        auto* facet = static_cast<MintedFacet*>(memory.value());
        new (facet->notice) ReleaseNotice(badge);
        client_memory = facet->client;
    }
    // (Its constructor adds it as a client, under the lock.)
    auto* client = new (client_memory) EndpointClient(retain(this), badge);
    return RefPtr<EndpointClient>::adopt(client);
}

Result<RefPtr<KernelObject>, abi::TransportError> ReturnMinter::mint(uint32_t badge) {
    g_kernel_lock.assert_held();
    auto facet = m_endpoint.mint(m_owner.frame_ledger(), badge);
    if (facet.is_error())
        return Err{facet.error() == MintError::NoMemory ? abi::TransportError::NoMemory
                                                        : abi::TransportError::QuotaExceeded};
    return RefPtr<KernelObject>(facet.release_value());
}

void Endpoint::free_minted(ReleaseNotice& notice) {
    VERIFY(m_minted != 0);
    --m_minted;
    if (m_minted % minted_facets_per_frame == 0)
        uncharge_exclusive(*m_minted_ledger);
    static_assert(sizeof(MintedFacet) >= sizeof(HeapBlockToFree)); // (close)
    MintedFacet* facet = minted_facet_of(notice);
    notice.~ReleaseNotice();
    heap_free(facet);
}

ipc::Delivery Endpoint::deliver_notice(ReleaseNotice& notice, PendingReply& receiver,
                                       std::span<capnp::Word> more) {
    abi::RecvHeader header{.method = abi::endpoint_release_notice,
                           .params_len = uint32_t(more.size_bytes()),
                           .badge = notice.badge};
    Transfer none;
    // The releaser goes on: the owner learns of it in its turn.
    switch (receiver.answer(abi::Cqe{}, std::as_bytes(std::span(&header, 1)), more, none,
                            Wake::Queued)) {
    case PendingReply::Answer::Delivered:
        return ipc::Delivery::Delivered;
    case PendingReply::Answer::Refused:
        return ipc::Delivery::ReceiverRefused;
    case PendingReply::Answer::TransferFailed:
        break; // (nothing to transfer)
    }
    VERIFY(false);
    __builtin_unreachable();
}

void Endpoint::facet_released(ReleaseNotice& notice) {
    ObjectLockGuard guard(m_lock);
    drop_gone_oldest_receivers();
    switch (m_state.route_notice()) {
    case ipc::NoticeRoute::Drop:
        free_minted(notice);
        break;
    case ipc::NoticeRoute::Direct:
        for (;;) {
            PendingReply receiver = take_oldest_receiver();
            ipc::AfterNotice after =
                m_state.notice_delivered_direct(notice, deliver_notice(notice, receiver));
            if (after == ipc::AfterNotice::Delivered) {
                free_minted(notice);
                break;
            }
            if (after == ipc::AfterNotice::Again) {
                drop_gone_oldest_receivers();
                if (m_state.receiver_waiting())
                    continue;
            }
            m_state.enqueue_notice(notice);
            break;
        }
        break;
    case ipc::NoticeRoute::Queue:
        m_state.enqueue_notice(notice);
        break;
    }
    // The facet was a client until now: its notice comes before a RECV's
    // Disconnected.
    uint32_t waiting = m_state.receivers_waiting();
    if (m_state.remove_client())
        disconnect_receivers(waiting);
}

PendingReply Endpoint::take_oldest_receiver() {
    PendingReply receiver = std::move(m_receivers[m_oldest_receiver]);
    m_oldest_receiver = (m_oldest_receiver + 1) % max_receivers;
    return receiver;
}

void Endpoint::put_back_oldest_receiver(PendingReply receiver) {
    m_oldest_receiver = (m_oldest_receiver + max_receivers - 1) % max_receivers;
    m_receivers[m_oldest_receiver] = std::move(receiver);
}

// (Inlined: a call's path asks it once, and mostly finds nothing to drop.)
[[gnu::always_inline]] inline void Endpoint::drop_gone_oldest_receivers() {
    while (m_state.receiver_waiting() && m_receivers[m_oldest_receiver].caller_gone()) {
        take_oldest_receiver().reset(); // its answer goes nowhere
        m_state.receiver_dropped();
    }
}

void Endpoint::drop_gone_receivers() {
    uint32_t waiting = m_state.receivers_waiting();
    PendingReply live[max_receivers];
    uint32_t kept = 0;
    for (uint32_t i = 0; i < waiting; ++i) {
        PendingReply receiver = take_oldest_receiver();
        if (receiver.caller_gone()) {
            receiver.reset(); // its answer goes nowhere
            m_state.receiver_dropped();
            continue;
        }
        live[kept++] = std::move(receiver);
    }
    for (uint32_t i = 0; i < kept; ++i)
        m_receivers[(m_oldest_receiver + i) % max_receivers] = std::move(live[i]);
}

void Endpoint::disconnect_receivers(uint32_t waiting) {
    abi::Cqe disconnected{.result = int32_t(TransportError::Disconnected)};
    for (uint32_t i = 0; i < waiting; ++i)
        take_oldest_receiver().complete(disconnected);
}

void Endpoint::remove_client() {
    ObjectLockGuard guard(m_lock);
    uint32_t waiting = m_state.receivers_waiting();
    if (m_state.remove_client())
        disconnect_receivers(waiting);
}

void Endpoint::release_charges(EndpointCall& call, Process* caller) {
    if (caller) {
        caller->remove_outgoing(&call, uint64_t(call.params_words) * 8);
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
    call->drop_params();
    // Back to its endpoint, or its caller for the next call, as new; freed if
    // the caller has ended.
    Process* home = call->home;
    VERIFY(call->endpoint == this);
    if (call == &m_own_call) {
        call->~EndpointCall();
        new (call) EndpointCall{};
        m_own_call_free = true;
        return;
    }
    if (!home) {
        heap_destroy(call);
        return;
    }
    call->~EndpointCall();
    home->keep_spare_call(new (call) EndpointCall{});
}

void EndpointCall::drop_params() {
    if (params != nullptr && params != small_params) // null: never queued
        heap_free(params);
    params = nullptr;
    params_words = 0;
}

ipc::Delivery Endpoint::deliver(EndpointCall& call, std::span<capnp::Word> params,
                                PendingReply& receiver) {
    abi::RecvHeader header{
        .call_id = call.call_id(),
        .method = call.method,
        .cap_count = uint16_t(call.transfer.count()),
        .interface_id = call.interface_id,
        .caller = call.reply ? call.reply.caller()->id() : 0,
        .params_len = uint32_t(params.size() * sizeof(capnp::Word)),
        .badge = call.badge,
    };
    abi::Cqe cqe{.call_id = call.call_id(), .extra = header.caller};
    // The direct handoff (step 1): the receiver runs next.
    switch (receiver.answer(cqe, std::as_bytes(std::span(&header, 1)), params, call.transfer,
                            Wake::First)) {
    case PendingReply::Answer::Delivered:
        return ipc::Delivery::Delivered;
    case PendingReply::Answer::Refused:
        return ipc::Delivery::ReceiverRefused;
    case PendingReply::Answer::TransferFailed:
        return ipc::Delivery::TransferFailed; // the receiver's table is full
    }
    __builtin_unreachable();
}

std::optional<abi::Cqe> Endpoint::call(Process& caller, const ring::DecodedSqe& sqe,
                                       std::span<capnp::Word> params, Transfer transfer,
                                       uint32_t badge) {
    VERIFY(transfer.count() == 0 || g_kernel_lock.held_here());
    ObjectLockGuard guard(m_lock);
    uint64_t delivered_size = sizeof(abi::RecvHeader) + params.size() * sizeof(capnp::Word) +
                              uint64_t(transfer.count()) * sizeof(abi::CapRecord);
    drop_gone_oldest_receivers();
    auto route = m_state.route_call(delivered_size);
    if (route.is_error())
        return error_cqe(sqe.user_data, route.error());
    bool direct = route.value() == ipc::CallRoute::Direct;
    uint64_t queued_bytes = direct ? 0 : params.size() * sizeof(capnp::Word);
    if (!caller.can_add_outgoing(queued_bytes))
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
    auto reply = PendingReply::owe(*Scheduler::current(), sqe.user_data, sqe.result,
                                   (sqe.flags & abi::SqeInlineResult) != 0);
    if (!reply)
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);

    EndpointCall* call = take_call(caller);
    if (!call) {
        reply->reset(); // answered at once
        return error_cqe(sqe.user_data, TransportError::NoMemory);
    }
    call->home = &caller;
    call->endpoint = this;
    m_state.open(*call);
    call->method = sqe.method;
    call->badge = badge;
    call->interface_id = sqe.interface_id;
    call->reply = std::move(*reply);
    call->transfer = std::move(transfer);

    if (direct) {
        caller.add_outgoing(call, 0);
        call->charged = true;
        for (;;) {
            PendingReply receiver = take_oldest_receiver();
            ipc::Delivery delivery = deliver(*call, params, receiver);
            auto after = m_state.delivered_direct(*call, delivery);
            if (delivery == ipc::Delivery::TransferFailed)
                put_back_oldest_receiver(std::move(receiver)); // it keeps waiting
            if (after.is_error()) {
                // The call fails and its capabilities stay with the caller.
                end_call(call, std::nullopt); // answered at once below
                return error_cqe(sqe.user_data, after.error());
            }
            if (after.value() == ipc::AfterDirect::InFlight)
                return std::nullopt;
            // That receiver's RECV has failed: the next one waiting, if any
            // is live, takes the call.
            if (after.value() == ipc::AfterDirect::Queue)
                break;
            drop_gone_oldest_receivers();
            if (!m_state.receiver_waiting())
                break;
        }
        // None left: the call queues for the next RECV, within the same
        // bounds as any queued call.
        release_charges(*call, call->reply.caller());
        if (!caller.can_add_outgoing(params.size() * sizeof(capnp::Word))) {
            end_call(call, std::nullopt); // answered at once below
            return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
        }
    }

    return queue(call, caller, sqe.user_data, params);
}

EndpointCall* Endpoint::take_call(Process& caller) {
    if (m_own_call_free) {
        m_own_call_free = false;
        return &m_own_call;
    }
    if (EndpointCall* call = caller.take_spare_call())
        return call;
    auto created = heap_create<EndpointCall>();
    return created.is_error() ? nullptr : created.value();
}

[[gnu::noinline]] bool Endpoint::deliver_queued(PendingReply& receiver) {
    while (ipc::EndpointCallRecord* record = m_state.oldest_queued()) {
        if (record->is_notice()) {
            // (Only under the kernel lock held exclusively: receive.) The
            // notices waiting one after another go together, as many as
            // the receiver's buffer holds (abi::notice_max_badges at most).
            ipc::EndpointCallRecord* run[abi::notice_max_badges];
            uint64_t room = receiver.result().length > sizeof(abi::RecvHeader)
                                ? (receiver.result().length - sizeof(abi::RecvHeader)) / 8 * 2
                                : 0;
            size_t most = room + 1 < abi::notice_max_badges ? size_t(room + 1)
                                                            : size_t(abi::notice_max_badges);
            size_t count = m_state.leading_notices(run, most);
            auto notice_at = [&](size_t i) -> ReleaseNotice& {
                return static_cast<ReleaseNotice&>(
                    static_cast<ipc::EndpointNoticeRecord&>(*run[i]));
            };
            alignas(capnp::Word) uint32_t badges[abi::notice_max_badges + 1] = {};
            for (size_t i = 1; i < count; ++i)
                badges[i - 1] = notice_at(i).badge;
            std::span<capnp::Word> more(reinterpret_cast<capnp::Word*>(badges),
                                        count / 2); // (count - 1) badges, padded
            ipc::Delivery delivery = deliver_notice(notice_at(0), receiver, more);
            if (delivery != ipc::Delivery::Delivered) {
                m_state.delivered_from_queue(notice_at(0), delivery);
                return true; // the RECV failed
            }
            for (size_t i = 0; i < count; ++i) {
                m_state.delivered_from_queue(notice_at(i), delivery);
                free_minted(notice_at(i));
            }
            return true;
        }
        EndpointCall* call = as_call(record);
        std::span<capnp::Word> params(call->params, call->params_words);
        ipc::Delivery delivery = deliver(*call, params, receiver);
        m_state.delivered_from_queue(*call, delivery);
        switch (delivery) {
        case ipc::Delivery::Delivered:
            // In flight: the heap copy of its params has served.
            if (Process* caller = call->reply.caller())
                caller->uncharge_queued(uint64_t(call->params_words) * 8);
            call->drop_params();
            return true;
        case ipc::Delivery::ReceiverRefused: // it stays queued; the RECV has failed
            return true;                     // deliver posted the completion
        case ipc::Delivery::TransferFailed:
            // The owner's table is full: this call fails back to its caller
            // with its capabilities restored, and the RECV takes the next.
            end_call(call, abi::Cqe{.result = int32_t(TransportError::QuotaExceeded)});
            continue;
        }
    }
    return false;
}

[[gnu::noinline]] std::optional<abi::Cqe> Endpoint::queue(EndpointCall* call, Process& caller,
                                                          uint64_t user_data,
                                                          std::span<capnp::Word> params) {
    if (params.size() > std::size(call->small_params)) {
        auto copy = heap_allocate(params.size() * sizeof(capnp::Word), alignof(capnp::Word));
        if (copy.is_error()) {
            end_call(call, std::nullopt); // answered at once below
            return error_cqe(user_data, TransportError::NoMemory);
        }
        call->params = static_cast<capnp::Word*>(copy.value());
    } else {
        call->params = call->small_params;
    }
    call->params_words = uint32_t(params.size());
    __builtin_memcpy(call->params, params.data(), params.size() * sizeof(capnp::Word));
    caller.add_outgoing(call, uint64_t(call->params_words) * 8);
    call->charged = true;
    m_state.enqueue(*call);
    return std::nullopt;
}

std::optional<abi::Cqe> Endpoint::receive(const ring::DecodedSqe& sqe, bool* exclusive_needed) {
    ObjectLockGuard guard(m_lock);
    if (g_kernel_lock.shared_here()) {
        ipc::EndpointCallRecord* oldest = m_state.oldest_queued();
        if (oldest && (oldest->is_notice() || as_call(oldest)->transfer.count() != 0)) {
            VERIFY(exclusive_needed != nullptr);
            *exclusive_needed = true;
            return std::nullopt;
        }
    }
    if (m_state.receivers_waiting() == max_receivers)
        drop_gone_receivers();
    auto begun = m_state.begin_receive();
    if (begun.is_error())
        return error_cqe(sqe.user_data, begun.error());
    // Answered at once when a call waits; kept (within the bound) otherwise.
    bool keepable = false;
    PendingReply receiver =
        PendingReply::owe_unbounded(*Scheduler::current(), sqe.user_data, sqe.result, keepable);
    if (m_state.oldest_queued() && deliver_queued(receiver))
        return std::nullopt;
    auto waiting = m_state.wait_for_call(keepable);
    if (waiting.is_error()) {
        receiver.reset(); // answered at once below
        return error_cqe(sqe.user_data, waiting.error());
    }
    uint32_t last = (m_oldest_receiver + m_state.receivers_waiting() - 1) % max_receivers;
    m_receivers[last] = std::move(receiver);
    return std::nullopt;
}

abi::Cqe Endpoint::return_call(const ring::DecodedSqe& sqe, std::span<capnp::Word> message,
                               Transfer transfer) {
    VERIFY(transfer.count() == 0 || g_kernel_lock.held_here());
    ObjectLockGuard guard(m_lock);
    auto found = m_state.find_in_flight(sqe.call_id);
    if (found.is_error())
        return error_cqe(sqe.user_data, found.error());
    EndpointCall* call = as_call(found.value());
    if (!call->orphaned()) {
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
    m_state.finish(*call);
    end_call(call, std::nullopt);
    return abi::Cqe{.user_data = sqe.user_data, .result = 0};
}

void Endpoint::close() {
    ObjectLockGuard guard(m_lock);
    uint32_t waiting = m_state.receivers_waiting();
    ipc::Closing closing = m_state.close();
    if (closing == ipc::Closing::AlreadyClosed)
        return;
    // The owner's own waiting RECVs (it released its last owner capability).
    if (closing == ipc::Closing::ClosedWithReceiver)
        disconnect_receivers(waiting);
    abi::Cqe disconnected{.result = int32_t(TransportError::Disconnected)};
    uint32_t frames_before = minted_frames(m_minted);
    while (ipc::EndpointCallRecord* record = m_state.take_closed_call()) {
        // Notices go with nobody left to tell: up to endpoint_max_minted of
        // them, so their memory goes back through the reclaim thread (a
        // heap free each would hold interrupts off for milliseconds) and
        // their charge all at once.
        if (record->is_notice()) {
            auto& notice =
                static_cast<ReleaseNotice&>(static_cast<ipc::EndpointNoticeRecord&>(*record));
            --m_minted;
            MintedFacet* facet = minted_facet_of(notice);
            notice.~ReleaseNotice();
            free_heap_block_later(facet);
            continue;
        }
        end_call(as_call(record), disconnected);
    }
    if (uint32_t freed = frames_before - minted_frames(m_minted))
        m_minted_ledger->uncharge(freed);
}

void Endpoint::cancel(EndpointCall* call) {
    ObjectLockGuard guard(m_lock);
    // Queued: off the queue and freed. In flight: forget the caller; a later
    // RETURN still finds the call (and answers nobody).
    if (m_state.cancel(*call) == ipc::Cancelled::Dropped) {
        end_call(call, std::nullopt);
        return;
    }
    release_charges(*call, call->reply.caller());
    call->reply.reset();
    call->home = nullptr; // its caller is ending: freed when answered
}

} // namespace capos::kernel
