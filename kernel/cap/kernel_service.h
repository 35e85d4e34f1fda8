// A capability the kernel serves itself (Console, Timer, ...): one object per
// interface instance, answering calls synchronously inside cap_enter through
// the dispatch skeleton generated from schema/capos.capnp. Handlers follow the
// skeleton's contract: Result<void, gen::Exception> method(Params::Reader,
// Results::Builder).
#pragma once

#include "kernel/cap/completion.h"
#include "kernel/object/kernel_object.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "tools/capnpc-capos/runtime/rpc.h"
#include <span>

namespace capos::kernel {

class Process;

// One call as a kernel service sees it: the params are a validated message in
// kernel memory; the results are built in `results` (kernel memory too).
struct Invocation {
    Process& caller;
    uint16_t method;
    const capnp::MessageReader& params;
    std::span<capnp::Word> results;
    uint64_t user_data;     // of the submission
    ring::UserRange result; // the caller's result buffer
    // Set by defer(): the call is answered later (through the PendingReply);
    // the ring posts nothing now and ignores the dispatch result.
    bool deferred = false;
    // Set by a method that answers now but must hold its caller until then
    // (Timer.sleep): the ring copies the results out, then blocks the caller
    // until this uptime (microseconds) before posting the completion. Services
    // never block inside dispatch: the results scratch is shared.
    uint64_t hold_until_us = 0;

    // The call's answer, owed for later; nullopt when the caller is owed too
    // many already (the method must then fail at once).
    std::optional<PendingReply> defer();
};

class KernelService : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::KernelService;

    // The interface this object speaks (the schema's interface id).
    virtual uint64_t interface_id() const = 0;
    virtual gen::DispatchResult dispatch(Invocation& invocation) = 0;

protected:
    KernelService() : KernelObject(object_type) {}
};

// The skeleton's dispatch for a service class S of interface I.
template <typename Interface, typename Service>
class KernelServiceOf : public KernelService {
public:
    uint64_t interface_id() const override { return Interface::interface_id; }
    gen::DispatchResult dispatch(Invocation& invocation) override {
        Thread* thread = Scheduler::current();
        void* outer = thread->kernel_call();
        thread->set_kernel_call(&invocation);
        auto result = Interface::dispatch(static_cast<Service&>(*this), invocation.method,
                                          invocation.params, invocation.results);
        thread->set_kernel_call(outer);
        return result;
    }

protected:
    // The call being dispatched by the running thread (valid inside handlers
    // only). Kept by the thread, not the object: several threads may be in
    // calls of one object at once (one gave up the CPU at a preemption point).
    Invocation& invocation() {
        return *static_cast<Invocation*>(Scheduler::current()->kernel_call());
    }
};

inline gen::Exception invalid_argument(std::string_view message) {
    return {schema::ExceptionType::InvalidArgument, message};
}

} // namespace capos::kernel
