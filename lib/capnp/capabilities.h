// The capability pointers of a message: finding and renumbering them. The
// kernel uses this when a message carries capabilities from one process to
// another: the sender's capability pointers name its own CapIds, and on the
// way the kernel rewrites each to the id the receiver got.
#pragma once

#include "lib/capnp/wire.h"

namespace capos::capnp {

// Called once for each capability pointer reachable from the root (in any
// order, possibly several times for one index); may replace `index`. Returns
// false to stop the walk.
using CapabilityVisitor = bool (*)(void* context, uint32_t& index);

enum class CapabilityWalk : uint8_t { Read, Rewrite };

// Walks `message` (which must pass validate(); every pointer is followed with
// the message's own limits). With Rewrite, an index the visitor changes is
// written back into the message: its segments must be writable memory the
// caller owns (the kernel's own copy), which is why they are taken mutable
// here. Returns WireError::None, the message's first wire error, or
// CapabilityPointer when the visitor stopped the walk.
WireError for_each_capability(const MessageReader& message, CapabilityWalk mode,
                              CapabilityVisitor visit, void* context);

template <typename F>
WireError for_each_capability(const MessageReader& message, CapabilityWalk mode, F&& visit) {
    return for_each_capability(
        message, mode,
        [](void* context, uint32_t& index) { return (*static_cast<F*>(context))(index); }, &visit);
}

} // namespace capos::capnp
