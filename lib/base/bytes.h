// Fields of byte structures that come from outside (firmware tables, device
// configuration space): little-endian loads that assume no alignment, and the
// bounds check every parser makes before it reads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::bytes {

// x86_64, the one target, is little-endian like the structures read.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);

// A field at `at`, which the caller has bounds-checked.
template <typename T>
inline T load(const uint8_t* at) {
    T value;
    __builtin_memcpy(&value, at, sizeof value);
    return value;
}
inline uint16_t load_u16(const uint8_t* at) {
    return load<uint16_t>(at);
}
inline uint32_t load_u32(const uint8_t* at) {
    return load<uint32_t>(at);
}
inline uint64_t load_u64(const uint8_t* at) {
    return load<uint64_t>(at);
}

// Whether [offset, offset + size) lies inside the first `length` bytes.
constexpr bool fits(size_t offset, size_t size, size_t length) {
    return offset <= length && size <= length - offset;
}

} // namespace capos::bytes
