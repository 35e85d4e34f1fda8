// Where things are in a user address space, and the registers a process
// starts with.
//
//   0x0000000000000000 - 0x000000000000ffff  never mapped (null guard)
//   0x00000000001f0000 - 0x00000000002f0000  main stack (grows down, guard below);
//                                            its top page holds the program's
//                                            arguments (abi/args.h)
//   0x00000000002fd000                       CapSet page (read-only)
//   0x00000000002fe000                       ring page (read-write)
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
// Entry registers: rip = ELF entry, rsp = user_args_address (16-byte aligned),
// rdi = ring address, rsi = process id, rdx = CapSet address; all other
// general registers 0; rflags = IF only.
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

static_assert(user_stack_top - user_stack_max_size >= user_min_address);
static_assert(user_stack_top <= user_capset_address);
// An unmapped page between the ring and the program.
static_assert(user_ring_address + user_page_size < user_image_base);
static_assert(user_image_base < user_map_base);

} // namespace capos::abi
