// Cap'n Proto words assembled by hand for the host tests of lib/capnp. Written
// independently of lib/capnp/wire_internal.h, from the encoding spec, so that
// the library's codec is checked against it.
#pragma once

#include "lib/capnp/wire.h"
#include <cstdint>

namespace capos::capnp::hand {

constexpr Word struct_ptr(int32_t offset, uint16_t data_words, uint16_t pointer_count) {
    return Word{static_cast<uint32_t>(offset) << 2} | Word{data_words} << 32 |
           Word{pointer_count} << 48;
}
constexpr Word list_ptr(int32_t offset, ElementSize size, uint32_t count) {
    return Word{static_cast<uint32_t>(offset) << 2} | 1 | Word{static_cast<uint8_t>(size)} << 32 |
           Word{count} << 35;
}
constexpr Word far_ptr(bool is_double, uint32_t position, uint32_t segment) {
    return Word{position} << 3 | Word{is_double} << 2 | 2 | Word{segment} << 32;
}
constexpr Word cap_ptr(uint32_t index) {
    return 3 | Word{index} << 32;
}
constexpr Word tag_word(uint32_t count, uint16_t data_words, uint16_t pointer_count) {
    return Word{count} << 2 | Word{data_words} << 32 | Word{pointer_count} << 48;
}
constexpr Word empty_struct = 0xfffffffcu;

} // namespace capos::capnp::hand
