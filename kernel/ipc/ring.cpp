#include "kernel/ipc/ring.h"
#include "abi/syscall.h"
#include "kernel/ipc/completion.h"
#include "kernel/ipc/endpoint.h"
#include "kernel/ipc/park.h"
#include "kernel/ipc/service.h"
#include "kernel/ipc/transfer.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/lib/stage_clock.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/platform/cpus.h"
#include "kernel/sched/scheduler.h"
#include "lib/capnp/capabilities.h"
#include "lib/capnp/wire.h"
#include "lib/ring/ring.h"

namespace capos::kernel {

namespace {

using abi::TransportError;

// Scratch for one call's params and results, in kernel memory: a pair per
// CPU, so that no call on the ring path allocates. A call runs on one CPU
// from start to end (the scheduler keeps a thread whose call gave up the CPU
// at a preemption point on that CPU), and one at a time there. The boot
// CPU's pair is here; the others' come from the heap (ring_init).
CAPOS_HOT_LARGE_BSS alignas(8) capnp::Word g_params[ring::max_message_bytes / 8];
CAPOS_HOT_LARGE_BSS alignas(8) capnp::Word g_results[ring::max_message_bytes / 8];

capnp::Word* params_here() {
    return static_cast<capnp::Word*>(Scheduler::call_scratch_buffer(0));
}
capnp::Word* results_here() {
    return static_cast<capnp::Word*>(Scheduler::call_scratch_buffer(1));
}

// A reader of a message from user space: every pass over it is charged to a
// traversal budget proportional to its size, so no message, however its
// pointers are shared, makes the kernel work more than linearly in its length.
capnp::MessageReader reader_of(std::span<const capnp::Word> message) {
    return capnp::MessageReader(message, capnp::ReaderLimits::for_message(message.size()));
}

// Whether `message` (a submission's, in kernel memory) is well-formed;
// `capabilities` tells whether it holds a capability pointer. Empty is
// allowed.
[[gnu::always_inline]] inline bool valid_message(std::span<const capnp::Word> message,
                                                 bool& capabilities) {
    if (message.empty())
        return true;
    // validate()'s own shortcut, asked before a reader is built for the walk.
    if (capnp::is_shallow_struct_root(
            message, capnp::ReaderLimits::for_message(message.size()).traversal_words,
            capnp::ReaderLimits{}.nesting)) {
        capabilities = false;
        return true;
    }
    return capnp::validate(reader_of(message), &capabilities) == capnp::WireError::None;
}

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

// A submission's message in the kernel's scratch buffer, validated.
struct Message {
    std::span<capnp::Word> words;
    bool capabilities = false; // holds a capability pointer
};

// Copies a submission's message (CALL params, RETURN answer) into the kernel
// scratch buffer and checks it is a well-formed message. Empty is allowed.
// With `result`, the buffer a kernel service's answer will go to is probed in
// the same user-access window (the answer must be deliverable before the call
// runs), and `result_writable` tells how that went; the copy's and the
// message's errors come first, as if the probe came after them.
[[gnu::always_inline]] inline Result<Message, TransportError>
copy_in_message(const ring::UserRange& range, const ring::UserRange* result = nullptr,
                bool* result_writable = nullptr) {
    size_t words = range.length / 8;
    if (result == nullptr) {
        if (!UserSpan<capnp::Word>(range.address, words).copy_in(params_here()))
            return Err{TransportError::BadBuffer};
    } else {
        if (!user_range_valid(range.address, range.length) ||
            !user_range_valid(result->address, result->length))
            return Err{TransportError::BadBuffer}; // (decode_sqe refused them already)
        if (!arch::raw_user_copy_and_probe(
                params_here(), reinterpret_cast<const void*>(range.address), range.length,
                result->address, result->length, *result_writable))
            return Err{TransportError::BadBuffer};
    }
    Message message{{params_here(), words}};
    if (!valid_message(message.words, message.capabilities))
        return Err{TransportError::BadParams};
    return message;
}

// A CALL's params carried in its entry (SqeInlineParams): put in the scratch
// buffer and checked like any message, with no user access; with
// `result_writable`, the result buffer is probed as copy_in_message does
// (there is nothing to probe when it is absent, as such a call may leave it).
[[gnu::always_inline]] inline Result<Message, TransportError>
take_inline_message(const ring::DecodedSqe& sqe, bool* result_writable = nullptr) {
    capnp::Word* params = params_here();
    params[0] = sqe.inline_params[0];
    params[1] = sqe.inline_params[1];
    size_t words = sqe.params.length / 8;
    Message message{{params_here(), words}};
    if (!valid_message(message.words, message.capabilities))
        return Err{TransportError::BadParams};
    if (result_writable)
        *result_writable = arch::raw_user_writable(sqe.result.address, sqe.result.length);
    return message;
}

// The capabilities a submission sends through an endpoint (none unless it
// lists descriptors; then every capability pointer must be listed). A
// Return's mint descriptors are made by `minter`.
Result<Transfer, TransportError> prepare_transfer(Process& process, const ring::DecodedSqe& sqe,
                                                  const Message& message,
                                                  FacetMinter* minter = nullptr) {
    if (sqe.transfer_count == 0) {
        // No descriptors: the message must carry no capability pointer (the
        // validation walk saw every pointer), and a Return names no
        // interface (it has no facet to mint).
        if (message.capabilities || (sqe.opcode == abi::Opcode::Return && sqe.interface_id != 0))
            return Err{TransportError::BadTransfer};
        return Transfer{};
    }
    // Capabilities move only under the kernel lock held exclusively (the
    // shared part takes no submission with descriptors).
    VERIFY(g_kernel_lock.held_here());
    return Transfer::prepare(process, sqe, reader_of(message.words), minter);
}

// A call of a kernel service as the service's side of the ring sees it,
// whichever path decoded it.
struct ServiceCall {
    uint16_t method;
    bool inline_result; // SqeInlineResult: small results may come in the completion
    uint64_t user_data;
    ring::UserRange result; // the caller's result buffer (may be absent)
};

// How many words a kernel service may build its results in: the result
// buffer's size, or at least what fits the completion when the answer may
// come there.
[[gnu::always_inline]] inline size_t results_words(const ServiceCall& call) {
    size_t words = call.result.length / 8;
    constexpr size_t inline_words = abi::cqe_inline_bytes / 8;
    if (call.inline_result && words < inline_words)
        words = inline_words;
    return words;
}

// A kernel service answers at once (decode, then invoke), or later when the
// method deferred its answer (nullopt). `params` are in the scratch,
// validated: `params_words` of them.
[[gnu::always_inline]] inline std::optional<abi::Cqe>
call_kernel_service(Process& process, KernelService& service, const ServiceCall& call,
                    gen::CallParams params, size_t params_words) {
    Thread* thread = Scheduler::current();
    Invocation invocation{.caller = process,
                          .thread = *thread,
                          .method = call.method,
                          .params = params,
                          .results = std::span<capnp::Word>(results_here(), results_words(call)),
                          .user_data = call.user_data,
                          .result = call.result,
                          .inline_result = call.inline_result};
    // The scratch buffers stay this call's while it runs, even if it gives
    // up the CPU at a preemption point.
    Scheduler::set_call_scratch_use(params_words * sizeof(capnp::Word),
                                    invocation.results.size() * sizeof(capnp::Word));
    // The call the running thread is in, for the service's handlers
    // (KernelServiceOf::invocation); a handler never enters another.
    thread->set_kernel_call(&invocation);
    stage_clock::enter(stage_clock::Stage::Service);
    gen::DispatchResult outcome = service.dispatch(invocation);
    stage_clock::enter(stage_clock::Stage::Answer);
    thread->set_kernel_call(nullptr);
    Scheduler::set_call_scratch_use(0, 0);
    if (invocation.deferred)
        return std::nullopt;
    if (outcome.status() == gen::DispatchStatus::BufferFull)
        return error_cqe(call.user_data, TransportError::ResultTooSmall);
    size_t bytes = outcome.message().size() * sizeof(capnp::Word);
    if (call.inline_result && outcome.status() == gen::DispatchStatus::Results &&
        bytes <= abi::cqe_inline_bytes) {
        // The scratch buffer has room for both words (results_words); what
        // the message does not use is 0 in the completion, never what an
        // earlier call left in the scratch.
        const capnp::Word* words = outcome.message().data();
        abi::Cqe cqe{.user_data = call.user_data,
                     .result = int32_t(abi::CallStatus::OkInline),
                     .result_len = uint32_t(bytes)};
        abi::set_cqe_inline_words(cqe, bytes >= 8 ? words[0] : 0, bytes >= 16 ? words[1] : 0);
        return cqe;
    }
    if (bytes > call.result.length)
        return error_cqe(call.user_data, TransportError::ResultTooSmall);
    if (!UserSpan<capnp::Word>(call.result.address, outcome.message().size())
             .copy_out(outcome.message().data()))
        return error_cqe(call.user_data, TransportError::BadBuffer);
    auto status = outcome.status() == gen::DispatchStatus::Results ? abi::CallStatus::Ok
                                                                   : abi::CallStatus::Exception;
    return abi::Cqe{
        .user_data = call.user_data, .result = int32_t(status), .result_len = uint32_t(bytes)};
}

// The flags of a small call (below); when the command line asks for the
// general path only (ring=general), a value no flags byte has.
uint16_t g_small_call_flags = abi::SqeInlineParams | abi::SqeInlineResult;

// The fast path of the commonest call: a CALL of a kernel service whose
// params come in the entry and are flat (nothing, or a root struct without
// pointers) and whose results may come in the completion (SqeInlineParams |
// SqeInlineResult and no other flag: what the runtime sends whenever the
// params fit), with or without a result buffer for larger results. The
// general path checks these conditions one by one, building the decoded
// entry, a Result per step and the error each failure names; here the
// capability table is asked first (CapTable::find), then the raw entry's
// fields at once, then the result buffer is probed. A submission that fails
// any of them is the general path's, which finds its exact error: the two
// answer every submission alike (scenario.user_ring_general compares them). nullptr
// when the general path must take it.
[[gnu::always_inline]] inline KernelService* small_call_target(Process& process,
                                                               const abi::Sqe& raw)
    CAPOS_REQUIRES(g_kernel_lock) {
    // The target first: a call of an endpoint, never taken here, costs only this.
    RefPtr<KernelObject>* object =
        process.capabilities().find(abi::CapId{raw.cap}, raw.interface_id);
    auto* service = object ? downcast<KernelService>(object->get()) : nullptr;
    if (!service)
        return nullptr;
    uint64_t params[2];
    __builtin_memcpy(params,
                     reinterpret_cast<const std::byte*>(&raw) + abi::sqe_inline_params_offset,
                     sizeof params);
    uint32_t length = raw.params_len;
    // What the params do not use is 0, as decode_inline_call asks.
    uint64_t unused = (length < 16 ? params[1] : 0) | (length < 8 ? params[0] : 0);
    // Flat params: a root struct pointer (null included) whose data lies
    // inside the message, with no pointer section; validate()'s walk finds
    // such a message valid and without capabilities, and the service reads
    // it through capnp::StructReader::flat_root. (No message at all is the
    // general path's: the skeleton answers it with an exception.) The kind
    // and the pointer count are the mask's bits; the start, words after the
    // root pointer, is tested unsigned: below 0 it is huge.
    capnp::Word root = params[0];
    uint64_t words = length / 8;
    uint64_t start = uint64_t(1 + capnp::detail::offset_of(root));
    constexpr capnp::Word kind_and_pointers = 0xffff000000000003ull;
    bool flat = (root & kind_and_pointers) == 0 && start <= words &&
                capnp::detail::struct_data_words(root) <= words - start;
    bool plain = (raw.params_addr | unused) == 0 && length <= abi::sqe_inline_params_bytes &&
                 length % 8 == 0 && flat && raw.cap != 0 && raw.interface_id != 0 &&
                 ring::detail::valid_buffer(raw.result_addr, raw.result_len);
    if (!plain)
        return nullptr;
    // The result buffer's probe last: it opens a user-access window.
    if ((raw.result_addr | raw.result_len) != 0 &&
        !arch::raw_user_writable(raw.result_addr, raw.result_len))
        return nullptr;
    return service;
}

// A small call (small_call_target) on `service`: its params go to the
// scratch as the general path's inline params do, and the service is given
// their root struct, checked already (no reader of the message is needed).
[[gnu::always_inline]] inline std::optional<abi::Cqe>
small_call(Process& process, KernelService& service, const abi::Sqe& raw) {
    stage_clock::count_call();
    capnp::Word* params = params_here();
    __builtin_memcpy(params,
                     reinterpret_cast<const std::byte*>(&raw) + abi::sqe_inline_params_offset,
                     abi::sqe_inline_params_bytes);
    ServiceCall call{.method = raw.method,
                     .inline_result = true,
                     .user_data = raw.user_data,
                     .result = {raw.result_addr, raw.result_len}};
    return call_kernel_service(process, service, call, gen::CallParams::checked_flat(params),
                               raw.params_len / 8);
}

// A call's completion, or nullopt when it is answered later. Out of line:
// cap_enter keeps the loop, the NOP and the small call (its commonest
// entries) together on few code pages; this, an endpoint's CALL or a call
// the fast path did not take, is a call and a return away.
// A CALL of a kernel service the fast path did not take. Out of line, apart
// from an endpoint's CALL (call(), below), so that the round trip's code is
// not spread over this.
[[gnu::noinline]] std::optional<abi::Cqe> call_service(Process& process, KernelService& service,
                                                       const ring::DecodedSqe& sqe) {
    bool result_writable = false;
    bool inline_params = (sqe.flags & abi::SqeInlineParams) != 0;
    auto params = inline_params ? take_inline_message(sqe, &result_writable)
                                : copy_in_message(sqe.params, &sqe.result, &result_writable);
    if (params.is_error())
        return error_cqe(sqe.user_data, params.error());
    // Kernel services take capabilities as the caller's own ids in the
    // params (ProcessSpawner's grants), never through descriptors.
    if (sqe.transfer_count != 0)
        return error_cqe(sqe.user_data, TransportError::BadTransfer);
    // Decode includes the result buffer: a call whose answer could not be
    // delivered must fail before it does anything (a new capability, a mapping).
    // (Probed as the params were copied in.)
    if (!result_writable)
        return error_cqe(sqe.user_data, TransportError::BadBuffer);
    ServiceCall service_call{.method = sqe.method,
                             .inline_result = (sqe.flags & abi::SqeInlineResult) != 0,
                             .user_data = sqe.user_data,
                             .result = sqe.result};
    // The service reads the fields its code asks for, a bounded number of
    // times whatever the message's shape (validation above was the walk over
    // all of it, and the skeleton does not walk it again), so its reader
    // keeps the default budget: a proportional one would run dry in a method
    // that compares list entries pairwise.
    std::span<const capnp::Word> words = params.value().words;
    auto message = capnp::MessageReader::validated(words);
    return call_kernel_service(process, service, service_call, message, words.size());
}

// A message sent through an endpoint (a CALL's params, a RETURN's answer):
// in the scratch buffer, validated, with the capabilities it sends.
struct EndpointMessage {
    std::span<capnp::Word> words;
    Transfer transfer;
};
Result<EndpointMessage, TransportError>
take_endpoint_message(Process& process, const ring::DecodedSqe& sqe, FacetMinter* minter = nullptr)
    CAPOS_REQUIRES_SHARED(g_kernel_lock) {
    bool inline_params = (sqe.flags & abi::SqeInlineParams) != 0;
    auto message = inline_params ? take_inline_message(sqe) : copy_in_message(sqe.params);
    if (message.is_error())
        return Err{message.error()};
    auto transfer = prepare_transfer(process, sqe, message.value(), minter);
    if (transfer.is_error())
        return Err{transfer.error()};
    stage_clock::enter(stage_clock::Stage::Endpoint);
    return EndpointMessage{message.value().words, transfer.release_value()};
}

// A CALL of an endpoint (under the kernel lock held shared at least).
std::optional<abi::Cqe> call_endpoint(Process& process, EndpointClient& client,
                                      const ring::DecodedSqe& sqe)
    CAPOS_REQUIRES_SHARED(g_kernel_lock) {
    auto message = take_endpoint_message(process, sqe);
    if (message.is_error())
        return error_cqe(sqe.user_data, message.error());
    return client.endpoint().call(process, sqe, message.value().words,
                                  std::move(message.value().transfer), client.badge());
}

[[gnu::noinline]] std::optional<abi::Cqe> call(Process& process, const ring::DecodedSqe& sqe)
    CAPOS_REQUIRES(g_kernel_lock) {
    stage_clock::count_call();
    auto entry = process.capabilities().lookup(sqe.cap, sqe.interface_id);
    if (entry.is_error())
        return error_cqe(sqe.user_data, transport_error_of(entry.error()));
    KernelObject* object = entry.value().object.get();
    if (auto* service = downcast<KernelService>(object))
        return call_service(process, *service, sqe);
    auto* client = downcast<EndpointClient>(object);
    if (!client) {
        // An endpoint's owner speaks Endpoint, served here (its dispatch
        // goes by the method alone, so the interface is checked too).
        auto* owner = downcast<EndpointOwner>(object);
        if (owner && sqe.interface_id == schema::Endpoint::interface_id)
            return call_service(process, *owner, sqe);
        return error_cqe(sqe.user_data, TransportError::WrongInterface);
    }
    return call_endpoint(process, *client, sqe);
}

// RECV and RETURN: only on an endpoint's owner capability (under the kernel
// lock held shared at least: see Endpoint::receive for `exclusive_needed`).
[[gnu::noinline]] std::optional<abi::Cqe>
endpoint_operation(Process& process, const ring::DecodedSqe& sqe, bool* exclusive_needed = nullptr)
    CAPOS_REQUIRES_SHARED(g_kernel_lock) {
    auto entry = process.capabilities_to_look_up().lookup(sqe.cap);
    if (entry.is_error())
        return error_cqe(sqe.user_data, transport_error_of(entry.error()));
    auto* owner = downcast<EndpointOwner>(entry.value().object.get());
    if (!owner)
        return error_cqe(sqe.user_data, TransportError::WrongInterface);
    if (sqe.opcode == abi::Opcode::Recv) {
        stage_clock::enter(stage_clock::Stage::Endpoint);
        return owner->endpoint().receive(sqe, exclusive_needed);
    }
    // (A RETURN's answer is never inline: decode_sqe refuses the flag.)
    ReturnMinter minter(owner->endpoint(), process);
    auto message = take_endpoint_message(process, sqe, &minter);
    if (message.is_error())
        return error_cqe(sqe.user_data, message.error());
    return owner->endpoint().return_call(sqe, message.value().words,
                                         std::move(message.value().transfer));
}

// PARK and UNPARK: only on a ParkSpace (kernel/ipc/park.h).
[[gnu::noinline]] std::optional<abi::Cqe> park_operation(Process& process,
                                                         const ring::DecodedSqe& sqe)
    CAPOS_REQUIRES(g_kernel_lock) {
    auto entry = process.capabilities().lookup(sqe.cap);
    if (entry.is_error())
        return error_cqe(sqe.user_data, transport_error_of(entry.error()));
    auto* service = downcast<KernelService>(entry.value().object.get());
    if (!service || service->interface_id() != schema::ParkSpace::interface_id)
        return error_cqe(sqe.user_data, TransportError::WrongInterface);
    if (sqe.opcode == abi::Opcode::Park)
        return park(*Scheduler::current(), sqe);
    return unpark(sqe);
}

abi::Cqe release(Process& process, const ring::DecodedSqe& sqe) CAPOS_REQUIRES(g_kernel_lock) {
    auto removed = process.capabilities().remove(sqe.cap);
    if (removed.is_error())
        return error_cqe(sqe.user_data, transport_error_of(removed.error()));
    return abi::Cqe{.user_data = sqe.user_data, .result = 0};
}

// One submission: told by its opcode once (a NOP and a CALL first, then a
// switch on the rest), then decoded by that opcode's rules (ring::decode_sqe_as) and
// carried out. The cases are written
// out: the same through a helper taking each case's work as a lambda cost a
// kernel call 13 more instructions (the completion went through memory).
[[gnu::always_inline]] inline std::optional<abi::Cqe> handle(Process& process, const abi::Sqe& raw)
    CAPOS_REQUIRES(g_kernel_lock) {
    using abi::Opcode;
    // A NOP and a CALL first, the commonest entries, before the switch's
    // tree: the compiler then lays their paths out together, near the loop
    // (a jump to another page is a lookup of translated code under TCG).
    if (raw.opcode == uint8_t(Opcode::Nop)) {
        auto sqe = ring::decode_sqe_as<Opcode::Nop>(raw);
        if (sqe.is_error())
            return error_cqe(raw.user_data, sqe.error());
        return abi::Cqe{.user_data = raw.user_data, .result = 0};
    }
    if (raw.opcode == uint8_t(Opcode::Call)) [[likely]] {
        if (raw.flags == g_small_call_flags) {
            if (KernelService* service = small_call_target(process, raw))
                return small_call(process, *service, raw);
        }
        auto sqe = ring::decode_sqe_as<Opcode::Call>(raw);
        if (sqe.is_error())
            return error_cqe(raw.user_data, sqe.error());
        return call(process, sqe.value());
    }
    switch (raw.opcode) {
    case uint8_t(Opcode::Release): {
        auto sqe = ring::decode_sqe_as<Opcode::Release>(raw);
        if (sqe.is_error())
            return error_cqe(raw.user_data, sqe.error());
        return release(process, sqe.value());
    }
    case uint8_t(Opcode::Recv):
    case uint8_t(Opcode::Return): {
        auto sqe = raw.opcode == uint8_t(Opcode::Recv) ? ring::decode_sqe_as<Opcode::Recv>(raw)
                                                       : ring::decode_sqe_as<Opcode::Return>(raw);
        if (sqe.is_error())
            return error_cqe(raw.user_data, sqe.error());
        return endpoint_operation(process, sqe.value());
    }
    case uint8_t(Opcode::Park):
    case uint8_t(Opcode::Unpark): {
        auto sqe = raw.opcode == uint8_t(Opcode::Park) ? ring::decode_sqe_as<Opcode::Park>(raw)
                                                       : ring::decode_sqe_as<Opcode::Unpark>(raw);
        if (sqe.is_error())
            return error_cqe(raw.user_data, sqe.error());
        return park_operation(process, sqe.value());
    }
    }
    return error_cqe(raw.user_data, TransportError::BadOpcode);
}

// A completion of the process's own submission, answered at once inside its
// cap_enter: the process is running, not waiting in cap_enter, and reads
// nothing before cap_enter returns, which publishes the CQ tail once for the
// batch (post_completion publishes at once and wakes, for the others).
void post_own_completion(UserRing& ring, abi::RingPage& page, const abi::Cqe& cqe)
    CAPOS_REQUIRES(ring.lock) {
    RingState& state = ring.state;
    uint32_t user_head = __atomic_load_n(&page.header.cq_head, __ATOMIC_ACQUIRE);
    if (ring::free_completions(state.cq_tail, user_head, abi::ring_cq_entries) == 0) {
        ++state.cq_overflow; // published with the tail
        return;
    }
    page.cqes[state.cq_tail % abi::ring_cq_entries] = cqe;
    ++state.cq_tail;
}

uint32_t unread(const UserRing& ring, abi::RingPage& page) CAPOS_REQUIRES(ring.lock) {
    uint32_t user_head = __atomic_load_n(&page.header.cq_head, __ATOMIC_ACQUIRE);
    return ring::unread_completions(ring.state.cq_tail, user_head, abi::ring_cq_entries);
}

uint32_t unread_now(UserRing& ring, abi::RingPage& page) {
    ObjectLockGuard guard(ring.lock);
    return unread(ring, page);
}

// The fields the kernel owns are rewritten at every entry, whatever the
// process wrote into them; the SQ head and CQ tail are published here, once
// for the batch.
void publish(UserRing& ring, abi::RingPage& page) CAPOS_REQUIRES(ring.lock) {
    __atomic_store_n(&page.header.sq_head, ring.sq_head, __ATOMIC_RELEASE);
    __atomic_store_n(&page.header.cq_tail, ring.state.cq_tail, __ATOMIC_RELEASE);
    __atomic_store_n(&page.header.cq_overflow, ring.state.cq_overflow, __ATOMIC_RELAXED);
}

// How many submissions cap_enter may take now, at most `limit`: those
// waiting (nullopt when the queue's counters cannot be true), as many as
// the completion queue has room for beside the unread completions and those
// still owed (ring::completion_slots). The entries from the returned head on.
struct Admission {
    uint32_t head;
    uint32_t count;
};
[[gnu::always_inline]] inline std::optional<Admission> admit(UserRing& ring, abi::RingPage& page,
                                                             uint32_t limit) {
    ObjectLockGuard guard(ring.lock);
    uint32_t user_tail = __atomic_load_n(&page.header.sq_tail, __ATOMIC_ACQUIRE);
    auto pending = ring::pending_submissions(ring.sq_head, user_tail, abi::ring_sq_entries);
    if (!pending)
        return std::nullopt;
    uint32_t batch = *pending < limit ? *pending : limit;
    uint32_t slots =
        ring::completion_slots(unread(ring, page), ring.completions_owed, abi::ring_cq_entries);
    return Admission{ring.sq_head, batch < slots ? batch : slots};
}

// One copy of the entry at `head`: everything after this reads the copy, so
// the process cannot change an entry between its check and its use.
[[gnu::always_inline]] inline abi::Sqe copy_entry(abi::RingPage& page, uint32_t head) {
    abi::Sqe sqe;
    __builtin_memcpy(&sqe, &page.sqes[head % abi::ring_sq_entries], sizeof sqe);
    asm volatile("" ::: "memory");
    return sqe;
}

// Takes the entry at the head and posts its completion, if it has one now.
[[gnu::always_inline]] inline void consume(UserRing& ring, abi::RingPage& page,
                                           const std::optional<abi::Cqe>& completion) {
    ++ring.sq_head;
    if (completion) {
        ObjectLockGuard guard(ring.lock);
        post_own_completion(ring, page, *completion);
    }
}

// Whether the thread must wait for more completions (fewer than `wanted`
// are unread): then it says so on its ring, in the same section, so that a
// completion posted from now on wakes it.
bool start_wait(UserRing& ring, abi::RingPage& page, uint32_t wanted) {
    ObjectLockGuard guard(ring.lock);
    if (unread(ring, page) >= wanted)
        return false;
    ring.waiting_for = wanted;
    return true;
}

void end_wait(UserRing& ring) {
    ObjectLockGuard guard(ring.lock);
    ring.waiting_for = 0;
}

// What the shared part made of one submission: not taken (it is the
// exclusive part's, untouched), or taken with its completion now or later.
struct SharedOutcome {
    bool taken = false;
    std::optional<abi::Cqe> completion;
};

// One submission under the kernel lock held shared: a NOP, or an endpoint
// CALL, RECV or RETURN that sends no capabilities (decoded and carried out as
// handle() does; a decode error is answered here too). Anything else is not
// taken.
SharedOutcome handle_shared(Process& process, const abi::Sqe& raw)
    CAPOS_REQUIRES_SHARED(g_kernel_lock) {
    using abi::Opcode;
    switch (raw.opcode) {
    case uint8_t(Opcode::Nop): {
        auto sqe = ring::decode_sqe_as<Opcode::Nop>(raw);
        if (sqe.is_error())
            return {true, error_cqe(raw.user_data, sqe.error())};
        return {true, abi::Cqe{.user_data = raw.user_data, .result = 0}};
    }
    case uint8_t(Opcode::Call): {
        if (raw.transfer_count != 0)
            return {};
        RefPtr<KernelObject>* object =
            process.capabilities_to_look_up().find(abi::CapId{raw.cap}, raw.interface_id);
        auto* client = object ? downcast<EndpointClient>(object->get()) : nullptr;
        if (!client) {
            // A kernel service's, or an error the general path names.
            Scheduler::current()->ring().exclusive_hint = raw.cap;
            return {};
        }
        auto sqe = ring::decode_sqe_as<Opcode::Call>(raw);
        if (sqe.is_error())
            return {true, error_cqe(raw.user_data, sqe.error())};
        return {true, call_endpoint(process, *client, sqe.value())};
    }
    case uint8_t(Opcode::Recv):
    case uint8_t(Opcode::Return): {
        if (raw.transfer_count != 0)
            return {};
        auto sqe = raw.opcode == uint8_t(Opcode::Recv) ? ring::decode_sqe_as<Opcode::Recv>(raw)
                                                       : ring::decode_sqe_as<Opcode::Return>(raw);
        if (sqe.is_error())
            return {true, error_cqe(raw.user_data, sqe.error())};
        bool exclusive_needed = false;
        auto completion = endpoint_operation(process, sqe.value(), &exclusive_needed);
        if (exclusive_needed)
            return {};
        return {true, completion};
    }
    }
    return {};
}

} // namespace

std::optional<PendingReply> Invocation::defer() {
    auto reply = PendingReply::owe(thread, user_data, result, inline_result);
    deferred = reply.has_value();
    return reply;
}

void ring_init() {
    Scheduler::set_call_scratch_buffers(0, g_params, g_results);
    for (uint32_t cpu = 1; cpu < cpu_count(); ++cpu) {
        if (!cpu_record(cpu).online)
            continue;
        auto params = heap_allocate(ring::max_message_bytes);
        auto results = heap_allocate(ring::max_message_bytes);
        if (params.is_error() || results.is_error())
            panic("ring: no memory for the scratch buffers of CPU {}", cpu);
        Scheduler::set_call_scratch_buffers(cpu, params.value(), results.value());
    }
}

void ring_general_path_only() {
    g_small_call_flags = 0x100;
}

bool cap_enter_may_share(Thread& thread) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    // The thread's own ring, which only its own end takes away.
    UserRing& ring = thread.ring();
    abi::RingPage* page = ring.page;
    uint32_t head = ring.sq_head;
    if (__atomic_load_n(&page->header.sq_tail, __ATOMIC_RELAXED) == head)
        return true; // nothing submitted: a wait
    const abi::Sqe& first = page->sqes[head % abi::ring_sq_entries];
    uint8_t opcode = __atomic_load_n(&first.opcode, __ATOMIC_RELAXED);
    switch (opcode) {
    case uint8_t(abi::Opcode::Call):
        return __atomic_load_n(&first.cap, __ATOMIC_RELAXED) != ring.exclusive_hint;
    case uint8_t(abi::Opcode::Nop):
    case uint8_t(abi::Opcode::Recv):
    case uint8_t(abi::Opcode::Return):
        return true;
    }
    return false;
}

std::optional<int64_t> cap_enter_shared(Thread& thread, uint64_t min_complete,
                                        uint64_t timeout_ns) {
    Process& process = *thread.process();
    if (process.ending())
        return std::nullopt; // the exclusive part ends the thread
    UserRing& ring = thread.ring();
    abi::RingPage& page = *ring.page;
    auto admitted = admit(ring, page, abi::ring_max_batch);
    if (!admitted)
        return std::nullopt; // the exclusive part reports it
    uint32_t taken = 0;
    uint64_t message_bytes = 0;
    while (taken < admitted->count) {
        abi::Sqe sqe = copy_entry(page, admitted->head + taken);
        message_bytes += sqe.params_len;
        if (message_bytes > max_shared_message_bytes && taken != 0)
            break;
        SharedOutcome outcome = handle_shared(process, sqe);
        if (!outcome.taken)
            break;
        consume(ring, page, outcome.completion);
        ++taken;
    }
    // The exclusive part goes on when something is left for it: a
    // submission this part did not take, a wake or destroy, a wait with a
    // deadline.
    uint32_t user_tail = __atomic_load_n(&page.header.sq_tail, __ATOMIC_ACQUIRE);
    bool left = user_tail != admitted->head + taken || KernelLock::deferred_here();
    if (min_complete > abi::ring_cq_entries)
        min_complete = abi::ring_cq_entries;
    uint32_t wanted = timeout_ns == 0 ? 0 : uint32_t(min_complete);
    uint32_t unread_now;
    {
        ObjectLockGuard guard(ring.lock);
        publish(ring, page);
        unread_now = unread(ring, page);
        if (unread_now >= wanted)
            return left ? std::nullopt : std::optional<int64_t>(unread_now);
        if (left || timeout_ns != abi::no_timeout)
            return std::nullopt;
        // The wait without a deadline, here: said in the same section as
        // the count, so a completion posted from now on wakes the thread.
        ring.waiting_for = wanted;
    }
    // This CPU runs its next ready thread (first the one a handoff above
    // woke); a kill wakes the thread too.
    for (;;) {
        Scheduler::block_here();
        process.count_wake();
        ObjectLockGuard guard(ring.lock);
        unread_now = unread(ring, page);
        // (Switched back to, this CPU may have dropped the last reference
        // to the thread it switched from: the exclusive part destroys it.)
        if (unread_now >= wanted || process.ending() || KernelLock::deferred_here()) {
            ring.waiting_for = 0;
            break;
        }
    }
    // The exclusive part ends a thread whose process is ending, and
    // destroys what the thread this CPU switched from left.
    if (process.ending() || KernelLock::deferred_here())
        return std::nullopt;
    return unread_now;
}

// At the start of a page: its loop, the NOP and the small call then share
// one code page (under TCG a jump to another page is a lookup of translated
// code on every pass); bench/profile.py --ordering fills the page before it.
[[gnu::aligned(4096)]] int64_t cap_enter(Thread& thread, uint64_t min_complete,
                                         uint64_t timeout_ns) {
    // What a shared part left (kernel/lib/kernel_lock.h).
    run_deferred_work();
    Process& process = *thread.process();
    UserRing& ring = thread.ring();
    abi::RingPage& page = *ring.page;

    auto admitted = admit(ring, page, abi::ring_max_batch);
    if (!admitted) {
        // Restore what the process may have scribbled over and tell it.
        ObjectLockGuard guard(ring.lock);
        publish(ring, page);
        return int64_t(TransportError::RingCorrupted);
    }
    for (uint32_t i = 0; i < admitted->count; ++i) {
        abi::Sqe sqe = copy_entry(page, admitted->head + i);
        stage_clock::enter(stage_clock::Stage::Submission);
        auto completion = handle(process, sqe);
        stage_clock::enter(stage_clock::Stage::Answer);
        consume(ring, page, completion);
        stage_clock::enter(stage_clock::Stage::Ring);
        // Between submissions nothing is held: a good place to let
        // interrupts in and, when the slice is over, other threads run.
        Scheduler::preemption_point();
    }
    {
        ObjectLockGuard guard(ring.lock);
        publish(ring, page);
    }

    if (min_complete > abi::ring_cq_entries)
        min_complete = abi::ring_cq_entries;
    if (timeout_ns != 0 && unread_now(ring, page) < min_complete) {
        uint64_t deadline = no_deadline;
        if (timeout_ns != abi::no_timeout)
            deadline = deadline_after_ns(timeout_ns);
        while (uptime_microseconds() < deadline && !process.ending() &&
               start_wait(ring, page, uint32_t(min_complete))) {
            Scheduler::block(deadline);
            process.count_wake();
            end_wait(ring);
        }
    }
    return unread_now(ring, page);
}

} // namespace capos::kernel
