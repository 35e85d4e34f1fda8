// What the ring dispatches a CALL on a kernel-served capability to: an object
// that speaks one interface and answers through an Invocation. The services
// themselves (kernel/cap) derive from KernelServiceOf (kernel/cap/kernel_service.h),
// which binds the generated dispatch skeleton to this interface.
#pragma once

#include "kernel/ipc/completion.h"
#include "kernel/object/kernel_object.h"
#include "lib/capnp/wire.h"
#include "lib/rpc/rpc.h"
#include <optional>
#include <span>

namespace capos::kernel {

class Process;
class Thread;

// One call as a kernel service sees it: the params are a validated message in
// kernel memory, or its root struct (the small call's flat params); the
// results are built in `results` (kernel memory too).
struct Invocation {
    Process& caller;
    Thread& thread; // the caller's thread that submitted it
    uint16_t method;
    gen::CallParams params;
    std::span<capnp::Word> results;
    uint64_t user_data;     // of the submission
    ring::UserRange result; // the caller's result buffer
    bool inline_result;     // a small answer may come in the completion (SqeInlineResult)

    // The one way a kernel service answers later (a wait answered when a
    // process ends, a sleep answered at its deadline): it takes the call's
    // answer, owed, and posts it through the PendingReply when it can; the
    // ring then posts nothing now and ignores the dispatch's result (so
    // anything that can still fail must be done before). nullopt when the
    // caller is owed too many answers already: the method must then fail at
    // once. Services never block inside dispatch.
    std::optional<PendingReply> defer() CAPOS_REQUIRES(g_kernel_lock);
    bool deferred = false; // set by defer()
};

class KernelService : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::KernelService;

    // One method of the service's interface, as the generated skeleton runs
    // it (decode, invoke, encode): KernelServiceOf fills the table.
    using Method = gen::DispatchResult (*)(KernelService& service, Invocation& invocation);

    // The interface this object speaks (the schema's interface id).
    virtual uint64_t interface_id() const = 0;
    // Runs the call's method: one indirect call to that method's own code (a
    // method without callees needs no stack frame), not a switch over all of
    // them in one function.
    gen::DispatchResult dispatch(Invocation& invocation) {
        size_t last = m_methods.size() - 1; // the table ends with "unimplemented"
        return m_methods[invocation.method < last ? invocation.method : last](*this, invocation);
    }

protected:
    // `methods`: by ordinal, then one that answers any other ordinal.
    explicit KernelService(std::span<const Method> methods) : KernelService(object_type, methods) {}
    // An object of another type whose CALLs the kernel serves too (an
    // endpoint's owner, also the target of RECV and RETURN): downcasts to
    // KernelService do not find it, so the ring asks for its type itself.
    KernelService(ObjectType type, std::span<const Method> methods)
        : KernelObject(type), m_methods(methods) {}

private:
    std::span<const Method> m_methods;
};

} // namespace capos::kernel
