// Where things are in a user address space, and the registers a process
// starts with.
//
//   0x0000000000000000 - 0x000000000000ffff  never mapped (null guard)
//   0x0000000000100000 - 0x000000000013f000  the rings of threads 1 to 63
//                                            (thread_ring_address)
//   0x00000000001f0000 - 0x00000000002f0000  main stack (grows down, guard below);
//                                            its top page holds the program's
//                                            arguments (abi/args.h), its TLS
//                                            block lies right below them
//   0x00000000002fd000                       CapSet page (read-only)
//   0x00000000002fe000                       ring page of the main thread (read-write)
//   0x0000000000300000 - ...                 the program's ELF segments
//   0x0000100000000000 - 0x00007ff000000000  VirtualMemory / MemoryObject maps
//   0x0000800000000000                       end of user space
//
// The stack, the CapSet and the ring lie just below the program, and user
// programs link at 0x300000: the top of the stack, the CapSet, the ring and
// the first megabyte of the program share one page table (and one of each
// level above), so a process's page walks touch few table pages (after an
// address-space switch QEMU refills each, docs/performance.md).
//
// Entry registers: rip = ELF entry, rsp = 16-byte aligned, below the main
// thread's TLS block, rdi = ring address, rsi = process id, rdx = CapSet
// address; all other general registers 0; rflags = IF only; FS base = the
// thread pointer (lib/elf/tls_layout.h). A thread started by ThreadSpawner
// starts the same way with its own ring, its argument in rsi, and rsp and FS
// base at the top of the stack it was given.
#pragma once

#include <cstdint>

namespace capos::abi {

inline constexpr uint64_t user_page_size = 4096;
inline constexpr uint64_t user_min_address = 0x0000000000010000;
inline constexpr uint64_t user_limit = 0x0000800000000000;

inline constexpr uint64_t user_map_base = 0x0000100000000000;
inline constexpr uint64_t user_map_limit = 0x00007ff000000000;

// The program's ELF segments lie in [user_image_base, user_map_base).
inline constexpr uint64_t user_image_base = 0x0000000000300000;

inline constexpr uint64_t user_stack_top = 0x00000000002f0000;
inline constexpr uint64_t user_stack_max_size = 1024 * 1024;
inline constexpr uint64_t user_stack_initial_size = 64 * 1024;
// The arguments block (abi/args.h): the top page of the stack; the stack
// proper starts below it.
inline constexpr uint64_t user_args_address = user_stack_top - user_page_size;

inline constexpr uint64_t user_capset_address = 0x00000000002fd000;
inline constexpr uint64_t user_ring_address = 0x00000000002fe000;

// Threads: each has a ring page of its own; the main thread's is
// user_ring_address, thread slot s > 0 has the page at thread_ring_address(s).
inline constexpr uint32_t max_threads = 64;
inline constexpr uint64_t user_thread_rings_base = 0x0000000000100000;
constexpr uint64_t thread_ring_address(uint32_t slot) {
    return slot == 0 ? user_ring_address : user_thread_rings_base + (slot - 1) * user_page_size;
}

static_assert(user_stack_top - user_stack_max_size >= user_min_address);
static_assert(user_thread_rings_base >= user_min_address);
// An unmapped page between the last thread ring and the lowest stack page.
static_assert(thread_ring_address(max_threads - 1) + 2 * user_page_size <=
              user_stack_top - user_stack_max_size);
static_assert(user_stack_top <= user_capset_address);
// An unmapped page between the ring and the program.
static_assert(user_ring_address + user_page_size < user_image_base);
static_assert(user_image_base < user_map_base);

} // namespace capos::abi
