// TLB shootdown: each CPU caches translations of the tables it has loaded
// (and of the kernel half, whose pages are global, whatever it has loaded).
// When tables change, every other CPU that may cache the old entries flushes
// them before the change counts as done: the CPU that changed them (it holds
// the kernel lock) asks each by an interprocessor interrupt and waits. A CPU
// waiting for the kernel lock serves the request from its spin loop.
#pragma once

#include <cstdint>

namespace capos::kernel::x86 {

// Loads the tables at `root` on this CPU, and notes them as loaded here.
void load_root(uint64_t root);

// This CPU takes part in shootdowns from now on (its interrupt controller
// is up).
void tlb_cpu_ready();

inline constexpr uint64_t flush_everything = UINT64_MAX;

// Entries were removed or narrowed in the tables at `root` (user addresses)
// or in the kernel half (`kernel_half`), covering `pages` 4 KiB pages from
// `first` (flush_everything: anywhere). Every other CPU that may cache them
// flushes them; returns when all have.
void shootdown(uint64_t root, bool kernel_half, uint64_t first, uint64_t pages);

// The tables at `root` are about to be taken apart: every other CPU that has
// them loaded loads `replacement` (the kernel's) instead.
void shootdown_unload(uint64_t root, uint64_t replacement);

} // namespace capos::kernel::x86
