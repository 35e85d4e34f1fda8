// Where things are in a user address space, and the registers a process
// starts with.
//
//   0x0000000000000000 - 0x000000000000ffff  never mapped (null guard)
//   0x0000000000010000 - ...                 the program's ELF segments
//   0x0000100000000000 - 0x00007ff000000000  VirtualMemory / MemoryObject maps
//   0x00007ffffff00000 - 0x00007fffffff0000  main stack (grows down, guard below);
//                                            its top page holds the program's
//                                            arguments (abi/args.h)
//   0x00007fffffffd000                       CapSet page (read-only)
//   0x00007fffffffe000                       ring page (read-write)
//   0x0000800000000000                       end of user space
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

inline constexpr uint64_t user_stack_top = 0x00007fffffff0000;
inline constexpr uint64_t user_stack_max_size = 1024 * 1024;
inline constexpr uint64_t user_stack_initial_size = 64 * 1024;
// The arguments block (abi/args.h): the top page of the stack; the stack
// proper starts below it.
inline constexpr uint64_t user_args_address = user_stack_top - user_page_size;

inline constexpr uint64_t user_capset_address = 0x00007fffffffd000;
inline constexpr uint64_t user_ring_address = 0x00007fffffffe000;

static_assert(user_stack_top <= user_capset_address);
static_assert(user_ring_address + user_page_size < user_limit);
static_assert(user_map_limit <= user_stack_top - user_stack_max_size);

} // namespace capos::abi
