// Calls answered later: the caller's completion is posted when a server
// returns, a process exits, ... rather than inside the cap_enter that
// submitted the call. A PendingReply keeps the caller alive and remembers
// where the answer goes.
#pragma once

#include "abi/ring.h"
#include "kernel/object/kernel_object.h"
#include "lib/capnp/wire.h"
#include "lib/ring/ring.h"
#include <span>

namespace capos::kernel {

class Process;

struct PendingReply {
    RefPtr<Process> caller;
    uint64_t user_data = 0;
    ring::UserRange result{0, 0};
};

// Posts `cqe` to `process`'s completion queue (or counts it as overflow) and
// wakes the process if it waits in cap_enter. Does nothing for a process that
// has ended.
void post_completion(Process& process, const abi::Cqe& cqe);

// Writes `message` into the caller's result buffer and posts the completion
// with `status`; posts ResultTooSmall or BadBuffer instead when the buffer is
// too small or no longer writable.
void complete_with_message(PendingReply& reply, abi::CallStatus status,
                           std::span<const capnp::Word> message);
void complete_with_error(PendingReply& reply, abi::TransportError error);

} // namespace capos::kernel
