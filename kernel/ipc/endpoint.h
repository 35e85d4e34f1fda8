// Endpoints: how one process calls a server in another.
//
// An endpoint's state (Endpoint) is reached through two kinds of capability,
// each its own object: EndpointOwner, which may RECV calls and RETURN answers
// (and CALL the kernel-served Endpoint.mint, kernel/cap/endpoint.cpp), and
// EndpointClient, which may only CALL. Attenuation is by handing out the
// narrower object, not by rights bits. Client facets carry a badge that every
// call through them delivers: 0 for the plain facet made with the endpoint,
// the minter's choice for those Endpoint.mint makes (each its own object,
// shared by every copy of it).
//
// A call's life (numbered across ring.cpp and endpoint.cpp):
//   1. CALL on a client facet: the kernel has the params (validated) in its
//      scratch buffer. If the owner waits in RECV, the call is delivered to it
//      at once (header + params copied straight into the owner's buffer) and
//      the owner is made to run next: direct handoff. Otherwise the params are
//      copied to the heap and the call queues (bounded; charged to the caller).
//   2. RECV on the owner: delivers the oldest queued call, or waits (up to
//      16 RECVs wait at once, answered oldest first).
//   3. RETURN on the owner: copies the answer into the caller's result buffer,
//      posts the caller's completion and makes the caller run next.
//   4. When the last owner capability goes (or its process ends), every queued
//      and in-flight call completes with Disconnected and later CALLs fail so.
//      When a caller ends, its queued calls are dropped and its in-flight calls
//      are answered into the void. When the last client facet goes and nothing
//      is queued, RECVs (waiting or new) complete with Disconnected: nobody
//      can call any more, so a server can end.
//   5. When the last reference to a minted facet goes (its last capability
//      released, its holders ended, a transfer holding the last copy
//      dropped), the facet's own memory becomes its release notice
//      (ReleaseNotice: nothing is allocated, so a release cannot fail): given
//      to the oldest waiting RECV, else queued behind the calls queued so far
//      (the facet's among them), and freed once a RECV has it, or dropped
//      when the owner goes (its memory then freed by the reclaim thread,
//      kernel/mm/reclaim.h: there may be thousands). The facet counts as a
//      client until its notice is placed.
// The queue, the in-flight set, the call ids and the rules above that decide
// where a call goes are pure logic: lib/ipc/endpoint_state.h. Endpoint keeps
// the rest (answers, copies, transfers, heap, charges) and asks it.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/object_lock.h"

#include "abi/ring.h"
#include "kernel/ipc/completion.h"
#include "kernel/ipc/service.h"
#include "kernel/ipc/transfer.h"
#include "kernel/mm/frame_ledger.h"
#include "kernel/object/kernel_object.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include "lib/ipc/endpoint_state.h"
#include "lib/ring/ring.h"
#include <optional>
#include <span>

namespace capos::kernel {

class Endpoint;
class Process;

// Links an EndpointCall into its caller's outgoing list (Process).
struct OutgoingCallLink;

// One call through an endpoint, from CALL until it is answered or dropped.
// The endpoint's own record when that is free, else one its caller kept from
// an earlier call, else a new one from the heap; its place in the endpoint's
// queue or in-flight set and its call id are the endpoint state's
// (ipc::EndpointCallRecord).
struct EndpointCall : ipc::EndpointCallRecord, IntrusiveListNode<OutgoingCallLink> {
    Process* home = nullptr; // the caller, which keeps the record when the call ends
    Endpoint* endpoint = nullptr;
    uint16_t method = 0;
    uint32_t badge = 0; // of the facet it came through
    uint64_t interface_id = 0;
    PendingReply reply;
    // The kernel's copy of the params while queued: in small_params when they
    // fit (what a call with inline params sends, and most small calls: a
    // File.read's, a Directory.open's of a short path), so such a call that
    // finds no receiver waiting allocates nothing (calls kept in flight
    // together mostly queue); on the heap otherwise.
    static constexpr size_t small_params_words = 8;
    static_assert(small_params_words * sizeof(capnp::Word) >= abi::sqe_inline_params_bytes);
    capnp::Word* params = nullptr;
    uint32_t params_words = 0;
    capnp::Word small_params[small_params_words];
    void drop_params();   // frees the copy, if on the heap
    Transfer transfer;    // capabilities sent with the call, until delivered
    bool charged = false; // on the caller's outstanding list (and its queued bytes)
};

struct EndpointPair;
class EndpointClient;

// A minted facet's release notice (step 5): a record in the facet's own
// memory, queued on its endpoint until a RECV takes it.
struct ReleaseNotice : ipc::EndpointNoticeRecord {
    explicit ReleaseNotice(uint32_t facet_badge) : badge(facet_badge) {}
    uint32_t badge;
};

// Why Endpoint::mint refused.
enum class MintError : uint8_t {
    TooMany,       // abi::endpoint_max_minted exist already
    QuotaExceeded, // the minter's frame ledger has no room
    NoMemory,
};

class Endpoint final : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::Endpoint;

    // ring.cpp's entry points, under the kernel lock held shared at least
    // (they take the endpoint's own lock). Each returns the submitter's
    // completion, or nullopt when it comes later. `params` and `message` are
    // the kernel's own copies (capability pointers are renumbered in place on
    // delivery); under the kernel lock held shared, `transfer` must be empty.
    std::optional<abi::Cqe> call(Process& caller, const ring::DecodedSqe& sqe,
                                 std::span<capnp::Word> params, Transfer transfer, uint32_t badge)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Under the kernel lock held shared, a RECV that would deliver a queued
    // call carrying capabilities (which move only under the kernel lock held
    // exclusively), or a release notice (whose freeing gives frames back to
    // a ledger), does nothing and sets *exclusive_needed.
    std::optional<abi::Cqe> receive(const ring::DecodedSqe& sqe, bool* exclusive_needed = nullptr)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    abi::Cqe return_call(const ring::DecodedSqe& sqe, std::span<capnp::Word> message,
                         Transfer transfer) CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // The last owner capability is gone: step 4.
    void close() CAPOS_REQUIRES(g_kernel_lock);
    bool closed() CAPOS_REQUIRES_SHARED(g_kernel_lock) {
        ObjectLockGuard guard(m_lock);
        return m_state.closed();
    }

    // A caller ended: drop its queued call / forget its in-flight one.
    void cancel(EndpointCall* call) CAPOS_REQUIRES(g_kernel_lock);

    void add_client() CAPOS_REQUIRES(g_kernel_lock) {
        ObjectLockGuard guard(m_lock);
        m_state.add_client();
    }
    void remove_client() CAPOS_REQUIRES(g_kernel_lock);

    // Endpoint.mint: a new client facet whose calls carry `badge` (not 0),
    // counted against abi::endpoint_max_minted and charged to `ledger` (the
    // minter's: the owner's holder, always the same process) at one frame
    // per minted_facets_per_frame facets, rounded up. Only through the
    // owner, so the endpoint is open.
    Result<RefPtr<EndpointClient>, MintError> mint(FrameLedger& ledger, uint32_t badge)
        CAPOS_REQUIRES(g_kernel_lock);
    // Step 5: the minted facet whose notice `notice` is has lost its last
    // reference (its object is destroyed; the notice's memory stays).
    void facet_released(ReleaseNotice& notice) CAPOS_REQUIRES(g_kernel_lock);
    // The same for a facet a Return minted and never sent: freed with no
    // notice (the owner knows its answer failed).
    void facet_discarded(ReleaseNotice& notice) CAPOS_REQUIRES(g_kernel_lock);
    // Minted facets that fit one frame of their minter's ledger.
    static const uint32_t minted_facets_per_frame;

private:
    friend Result<EndpointPair, abi::TransportError> create_endpoint_pair();
    Endpoint() : KernelObject(object_type) {}
    void destroy() override;

    // A release notice into `receiver`'s buffer: the header, then `more`,
    // the badges of the notices that go with it (abi::endpoint_release_notice).
    static ipc::Delivery deliver_notice(ReleaseNotice& notice, PendingReply& receiver,
                                        std::span<capnp::Word> more = {})
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Frees a minted facet's memory (its notice, delivered or dropped) and
    // gives back its share of the ledger: under the kernel lock held
    // exclusively (checked when it runs).
    void free_minted(ReleaseNotice& notice) CAPOS_REQUIRES(m_lock)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // The record for a new call by `caller` (the endpoint's own first), or
    // null when the heap has none.
    EndpointCall* take_call(Process& caller) CAPOS_REQUIRES(m_lock)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // Copies `call` (header, params, capability records) to the waiting
    // receiver; the endpoint state is told what came of it.
    static ipc::Delivery deliver(EndpointCall& call, std::span<capnp::Word> params,
                                 PendingReply& receiver) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    static constexpr uint32_t max_receivers = ipc::EndpointState::max_receivers;
    // The waiting receivers, oldest first: takes the oldest out / puts it
    // back in front (the endpoint state is told by the caller).
    PendingReply take_oldest_receiver() CAPOS_REQUIRES(m_lock) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    void put_back_oldest_receiver(PendingReply receiver) CAPOS_REQUIRES(m_lock)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Drops the oldest waiting receivers whose thread or process has ended,
    // up to the first that can still be answered.
    void drop_gone_oldest_receivers() CAPOS_REQUIRES(m_lock) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Drops every waiting receiver whose thread or process has ended.
    void drop_gone_receivers() CAPOS_REQUIRES(m_lock) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Completes the `waiting` receivers with Disconnected (the state has
    // let them go).
    void disconnect_receivers(uint32_t waiting) CAPOS_REQUIRES(m_lock)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Gives back what `call` charged `caller` (outstanding list, queued
    // bytes); `caller` is the call's, or null when it has ended.
    static void release_charges(EndpointCall& call, Process* caller)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Ends `call`, one of this endpoint's: releases its charges, posts
    // `answer` to its caller (or forgets the answer when there is none: the
    // caller has ended, or the submission is answered another way), frees
    // it. It is on no list of the endpoint state any more.
    void end_call(EndpointCall* call, std::optional<abi::Cqe> answer, Wake wake = Wake::Queued)
        CAPOS_REQUIRES(m_lock) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Queues `call` (its params copied) until a RECV takes it; the answer to
    // the submission comes later, or now when that fails. Out of line: a call
    // that finds its receiver waiting, a round trip's, does not run it.
    std::optional<abi::Cqe> queue(EndpointCall* call, Process& caller, uint64_t user_data,
                                  std::span<capnp::Word> params) CAPOS_REQUIRES(m_lock)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // A RECV's side of that: delivers queued calls to `receiver`, oldest
    // first, until one is taken (true: the RECV is answered) or none is left.
    // Out of line for the same reason.
    bool deliver_queued(PendingReply& receiver) CAPOS_REQUIRES(m_lock)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);

    // Guarded by its own lock: the shared part of cap_enter calls, receives
    // and returns on several CPUs at once (kernel/lib/object_lock.h).
    ObjectLock m_lock;
    ipc::EndpointState m_state CAPOS_GUARDED_BY(m_lock);
    // The owner's waiting RECVs, m_state.receivers_waiting() of them from
    // m_oldest_receiver on (a ring), oldest first.
    PendingReply m_receivers[max_receivers] CAPOS_GUARDED_BY(m_lock);
    uint32_t m_oldest_receiver CAPOS_GUARDED_BY(m_lock) = 0;
    // A record of its own, which a round trip uses: it lies on the page of
    // the endpoint and its facets, which the round trip touches anyway (every
    // page touched after an address-space switch costs QEMU a refill,
    // docs/performance.md). Free whenever the endpoint is idle.
    EndpointCall m_own_call CAPOS_GUARDED_BY(m_lock);
    bool m_own_call_free CAPOS_GUARDED_BY(m_lock) = true;
    // Minted facets whose memory is held (live, or their notice not yet
    // received), and the ledger they are charged to (the first minter's).
    uint32_t m_minted CAPOS_GUARDED_BY(m_lock) = 0;
    RefPtr<FrameLedger> m_minted_ledger CAPOS_GUARDED_BY(m_lock);
};

// The methods of the Endpoint interface, which the kernel serves on an
// owner capability (kernel/cap/endpoint.cpp).
std::span<const KernelService::Method> endpoint_owner_methods();

// The receiving side of an endpoint (a capability, speaking Endpoint). When
// the last reference goes, the endpoint closes. Its CALLs are kernel-served
// (Endpoint.mint); downcasts to KernelService do not find it.
// A Return's mint descriptors (abi::transfer_mint): facets of the endpoint
// answered on, charged to its owner's ledger as Endpoint.mint's are.
class ReturnMinter final : public FacetMinter {
public:
    ReturnMinter(Endpoint& endpoint, Process& owner) : m_endpoint(endpoint), m_owner(owner) {}
    // (Under the kernel lock held exclusively: descriptors are taken only so.)
    Result<RefPtr<KernelObject>, abi::TransportError> mint(uint32_t badge) override;

private:
    Endpoint& m_endpoint;
    Process& m_owner;
};

class EndpointOwner final : public KernelService {
public:
    static constexpr ObjectType object_type = ObjectType::EndpointOwner;
    explicit EndpointOwner(RefPtr<Endpoint> endpoint)
        : KernelService(object_type, endpoint_owner_methods()), m_endpoint(std::move(endpoint)) {}
    Endpoint& endpoint() { return *m_endpoint; }
    uint64_t interface_id() const override { return schema::Endpoint::interface_id; }

private:
    void destroy() override;
    RefPtr<Endpoint> m_endpoint;
};

// The calling side of an endpoint (a capability): the plain facet (badge
// 0, in the endpoint's block) or a minted one (its own block, with the
// ReleaseNotice it becomes).
class EndpointClient final : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::EndpointClient;
    explicit EndpointClient(RefPtr<Endpoint> endpoint, uint32_t badge = 0)
        : KernelObject(object_type), m_endpoint(std::move(endpoint)), m_badge(badge) {
        m_endpoint->add_client();
    }
    Endpoint& endpoint() { return *m_endpoint; }
    uint32_t badge() const { return m_badge; }
    // A minted facet that was never sent (discard_unsent_facet): its end
    // queues no release notice.
    void discard() { m_discarded = true; }

private:
    void destroy() override;
    RefPtr<Endpoint> m_endpoint;
    uint32_t m_badge;
    bool m_discarded = false;
};

struct EndpointPair {
    RefPtr<EndpointOwner> owner;
    RefPtr<EndpointClient> client;
};
Result<EndpointPair, abi::TransportError> create_endpoint_pair();

} // namespace capos::kernel
