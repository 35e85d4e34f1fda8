// A program's arguments: the block the kernel writes at user_args_address (the
// top page of the initial stack, abi/user_layout.h) before the process runs,
// from ProcessSpawner.spawn's `args`. Always present: a process started with
// no arguments finds a count of 0.
//
//   ArgsHeader, then `count` ArgEntry, then the bytes of each argument, each
//   followed by a NUL (not counted in its length).
//
// The block belongs to the process (it is stack memory): the runtime checks it
// before use like any other memory the process could have written.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::abi {

inline constexpr uint32_t args_magic = 0x53475241; // "ARGS"
inline constexpr size_t args_block_size = 4096;
inline constexpr size_t args_max_count = 64;

struct ArgsHeader {
    uint32_t magic; // args_magic
    uint32_t count; // entries that follow
};
static_assert(sizeof(ArgsHeader) == 8);

struct ArgEntry {
    uint32_t offset; // of the argument's first byte, from the block's start
    uint32_t length; // bytes, without the NUL after them
};
static_assert(sizeof(ArgEntry) == 8);

// The bytes every argument's text and NUL may use together, with the most
// entries there can be: what spawn accepts.
inline constexpr size_t args_max_text =
    args_block_size - sizeof(ArgsHeader) - args_max_count * sizeof(ArgEntry);

} // namespace capos::abi
