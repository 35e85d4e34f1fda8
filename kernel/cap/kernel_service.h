// A capability the kernel serves itself (Console, Timer, ...): one object per
// interface instance, answering calls synchronously inside cap_enter through
// the dispatch skeleton generated from schema/capos.capnp. Handlers follow the
// skeleton's contract: Result<void, gen::Exception> method(Params::Reader,
// Results::Builder).
#pragma once

#include "abi/schema.h"
#include "kernel/ipc/service.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"
#include "lib/capnp/wire.h"
#include "lib/manifest/limits.h"
#include "lib/rpc/rpc.h"
#include "schema/capos.capnp.capos.h"
#include <array>
#include <span>
#include <utility>

namespace capos::kernel {

// The skeleton's dispatch for a service class S of interface I.
template <typename Interface, typename Service>
class KernelServiceOf : public KernelService {
    // The capability table accepts a call in an interface this one extends
    // (lib/cap/cap_table.h), and such a call must be dispatched by its
    // interface id, which Invocation does not carry: a kernel-served interface
    // extends nothing, so the ring's exact-match call path stays as it is.
    static_assert(Interface::ancestor_count == 0,
                  "a kernel-served interface that extends another needs the call's interface id");

public:
    uint64_t interface_id() const override { return Interface::interface_id; }

protected:
    KernelServiceOf() : KernelService(methods) {}

    // The call being dispatched by the running thread (valid inside handlers
    // only). Kept by the thread, not the object: several threads may be in
    // calls of one object at once (one gave up the CPU at a preemption point).
    // The ring sets it around the dispatch (kernel/ipc/ring.cpp).
    Invocation& invocation() {
        return *static_cast<Invocation*>(Scheduler::current()->kernel_call());
    }

private:
    // The skeleton's method `Ordinal` on this service (an ordinal from
    // method_count on is unimplemented). Params whose root the ring read
    // already (the small call's) are decoded here; a message is another
    // function's, called last: a method whose handler calls nothing then
    // runs no call at all, and needs no registers saved.
    template <uint16_t Ordinal>
    static gen::DispatchResult method(KernelService& service, Invocation& invocation) {
        if (invocation.params.message())
            return method_of_message<Ordinal>(service, invocation);
        return Interface::template dispatch_method<Ordinal>(static_cast<Service&>(service),
                                                            invocation.params, invocation.results);
    }
    template <uint16_t Ordinal>
    [[gnu::noinline]] static gen::DispatchResult method_of_message(KernelService& service,
                                                                   Invocation& invocation) {
        return Interface::template dispatch_method<Ordinal>(static_cast<Service&>(service),
                                                            invocation.params, invocation.results);
    }
    template <uint16_t... Ordinals>
    static constexpr std::array<Method, sizeof...(Ordinals) + 1>
    method_table(std::integer_sequence<uint16_t, Ordinals...>) {
        return {&method<Ordinals>..., &method<Interface::method_count>};
    }
    static constexpr auto methods =
        method_table(std::make_integer_sequence<uint16_t, Interface::method_count>{});
};

// The exceptions kernel services answer with: every service builds its
// CapException through these. `message` must be static text (a literal or a
// constexpr manifest::LimitText): it is copied into the reply only after the
// handler has returned.
inline gen::Exception exception(schema::ExceptionType type, std::string_view message) {
    return {type, message};
}
// The call cannot complete and retrying will not help.
inline gen::Exception failed(std::string_view message) {
    return exception(schema::ExceptionType::Failed, message);
}
// A resource (memory, a quota, a table) is exhausted for now.
inline gen::Exception overloaded(std::string_view message) {
    return exception(schema::ExceptionType::Overloaded, message);
}
// The params are well-formed but make no sense.
inline gen::Exception invalid_argument(std::string_view message) {
    return exception(schema::ExceptionType::InvalidArgument, message);
}
// The caller lacks the authority the call needs.
inline gen::Exception permission_denied(std::string_view message) {
    return exception(schema::ExceptionType::PermissionDenied, message);
}

} // namespace capos::kernel
