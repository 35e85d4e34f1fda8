// What the parser fuzz targets share: a failed invariant traps (libFuzzer
// reports it as a crash), and fields are read back the plain way, byte by
// byte, to compare with what a parser read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::fuzz {

inline void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

// The little-endian field of `size` bytes at `at`, which the caller checked.
inline uint64_t read_le(std::span<const uint8_t> bytes, size_t at, size_t size) {
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i)
        value |= static_cast<uint64_t>(bytes[at + i]) << (8 * i);
    return value;
}

} // namespace capos::fuzz
