// Endpoint: what the kernel serves on an endpoint's owner capability beside
// RECV and RETURN (kernel/ipc/endpoint.h): mint, which makes badged client
// facets. The owner is not a KernelServiceOf (it is an EndpointOwner, which
// the ring's RECV and RETURN look for by its own type), so its method table
// is built here with a handler made for each call.
#include "kernel/ipc/endpoint.h"
#include "kernel/cap/kernel_service.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::Endpoint;

// The skeleton's handler for one call on `owner`.
class OwnerHandler {
public:
    OwnerHandler(EndpointOwner& owner, Invocation& invocation)
        : m_owner(owner), m_invocation(invocation) {}

    Result<void, gen::Exception> mint(Endpoint::MintParams::Reader params,
                                      Endpoint::MintResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (params.badge() == 0)
            return Err{invalid_argument("badge 0 is the plain facet's")};
        Process& caller = m_invocation.caller;
        // The slot first: a full table refuses before anything is made.
        auto slot = caller.capabilities().reserve();
        if (slot.is_error())
            return Err{overloaded("capability table full")};
        auto facet = m_owner.endpoint().mint(caller.frame_ledger(), params.badge());
        if (facet.is_error()) {
            switch (facet.error()) {
            case MintError::TooMany:
                return Err{overloaded("too many minted facets on this endpoint")};
            case MintError::QuotaExceeded:
                return Err{overloaded("memory quota exceeded")};
            case MintError::NoMemory:
                break;
            }
            return Err{overloaded("out of memory")};
        }
        RefPtr<KernelObject> object(facet.release_value());
        abi::CapId id = caller.capabilities().commit(slot.release_value(), std::move(object),
                                                     params.interface_id(), CapFlags::Transferable);
        results.set_client(id.raw);
        return {};
    }

private:
    EndpointOwner& m_owner;
    Invocation& m_invocation;
};

template <uint16_t Ordinal>
gen::DispatchResult owner_method(KernelService& service, Invocation& invocation) {
    OwnerHandler handler(static_cast<EndpointOwner&>(service), invocation);
    return Endpoint::dispatch_method<Ordinal>(handler, invocation.params, invocation.results);
}

// By ordinal, then the one that answers any other (KernelService's layout).
template <uint16_t... Ordinals>
constexpr std::array<KernelService::Method, sizeof...(Ordinals) + 1>
owner_method_table(std::integer_sequence<uint16_t, Ordinals...>) {
    return {&owner_method<Ordinals>..., &owner_method<Endpoint::method_count>};
}

constexpr auto owner_methods =
    owner_method_table(std::make_integer_sequence<uint16_t, Endpoint::method_count>{});

} // namespace

std::span<const KernelService::Method> endpoint_owner_methods() {
    return owner_methods;
}

} // namespace capos::kernel
