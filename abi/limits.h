// Per-process resource limits (schema/capos.capnp ResourceLimits): the
// defaults a process gets where its manifest entry or spawn request says 0,
// and the largest values the kernel grants. One source for the kernel (which
// enforces them at spawn), lib/manifest (which refuses a manifest asking for
// more, at build time and again at boot) and init.
#pragma once

#include "abi/capset.h"
#include "abi/ring.h"
#include <cstdint>

namespace capos::abi {

// Capabilities a process may hold at once (its table's slots).
inline constexpr uint32_t default_capability_slots = 256;
inline constexpr uint32_t max_capability_slots = 4096;

// Calls a process may have outstanding through endpoints. Every one of them
// ends in a completion, and all of them may end at once (the server dies):
// the completion queue must hold them all beside the answers owed for other
// reasons, so the bound is what the kernel may owe at all (abi/ring.h).
inline constexpr uint32_t default_outstanding_calls = ring_max_owed;
inline constexpr uint32_t max_outstanding_calls = ring_max_owed;

// Bytes of call params the kernel holds for a process's outstanding calls.
inline constexpr uint64_t default_queued_bytes = 256 * 1024;
inline constexpr uint64_t max_queued_bytes = 16 * 1024 * 1024;

// 4 KiB frames a process may hold (anonymous memory and MemoryObjects).
inline constexpr uint64_t default_frames = 16384; // 64 MiB
inline constexpr uint64_t max_frames = 1048576;   // 4 GiB

// A thread's CPU weight (lib/sched/fair.h, which takes its bounds from here).
inline constexpr uint32_t default_cpu_weight = 100;
inline constexpr uint32_t max_cpu_weight = 10000;

static_assert(default_capability_slots >= 1 && default_capability_slots <= max_capability_slots);
// A process must be able to hold everything its CapSet can list.
static_assert(default_capability_slots >= capset_max_entries);
static_assert(default_outstanding_calls >= 1 && default_outstanding_calls <= max_outstanding_calls);
static_assert(max_outstanding_calls <= ring_cq_entries);
static_assert(default_queued_bytes <= max_queued_bytes);
static_assert(default_frames <= max_frames);

// Whether limits with every default already applied (no field 0 standing for
// "the default") are ones the kernel grants.
constexpr bool limits_within_maximums(uint32_t capability_slots, uint32_t outstanding_calls,
                                      uint64_t queued_bytes, uint64_t frames, uint32_t cpu_weight) {
    return capability_slots >= 1 && capability_slots <= max_capability_slots &&
           outstanding_calls <= max_outstanding_calls && queued_bytes <= max_queued_bytes &&
           frames <= max_frames && cpu_weight >= 1 && cpu_weight <= max_cpu_weight;
}

static_assert(limits_within_maximums(default_capability_slots, default_outstanding_calls,
                                     default_queued_bytes, default_frames, default_cpu_weight));
static_assert(limits_within_maximums(max_capability_slots, max_outstanding_calls, max_queued_bytes,
                                     max_frames, max_cpu_weight));
static_assert(!limits_within_maximums(0, default_outstanding_calls, default_queued_bytes,
                                      default_frames, default_cpu_weight));
static_assert(!limits_within_maximums(default_capability_slots, default_outstanding_calls,
                                      default_queued_bytes, default_frames, max_cpu_weight + 1));

} // namespace capos::abi
