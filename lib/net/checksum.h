// The Internet checksum (RFC 1071) as capOS's own code uses it: sums in the
// order the bytes are in a packet (the first byte of each 16-bit word the
// high one), for a driver completing a checksum its device left to it and
// for tests that check packets. The summing itself is lib/net/ones_sum.h's,
// which lwIP uses too.
#pragma once

#include "lib/net/ones_sum.h"

#include <cstdint>
#include <span>

namespace capos::net {

// `bytes` folded into `sum`: the 16-bit ones' complement sum of big-endian
// words (an odd last byte padded with a zero), not yet complemented.
inline uint32_t checksum_add(uint32_t sum, std::span<const uint8_t> bytes) {
    uint32_t native = capos_ones_sum(bytes.data(), bytes.size());
    uint64_t total = uint64_t(sum) + uint16_t(native << 8 | native >> 8);
    while (total >> 16)
        total = (total & 0xffff) + (total >> 16);
    return uint32_t(total);
}

// The final checksum of a sum: folded to 16 bits and complemented, in the
// byte order it is stored in the packet (first byte the high one).
inline uint16_t checksum_finish(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

} // namespace capos::net
