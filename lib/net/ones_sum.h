/* The Internet checksum's sum (RFC 1071) in one place for C and C++: lwIP
 * (C, through LWIP_CHKSUM in lib/net/lwip/port/lwipopts.h) and capOS's own
 * code (lib/net/checksum.h) both use capos_ones_sum.
 *
 * capos_ones_sum(data, length): the ones' complement sum of the bytes taken
 * as little-endian 16-bit words from the first byte (an odd last byte as a
 * word with a zero high byte), folded to 16 bits and not complemented: what
 * lwIP's LWIP_CHKSUM returns ("host order" on a little-endian machine: the
 * byte swap of the sum of big-endian words). Eight bytes a step: each step
 * adds the two 32-bit halves of a word to a 64-bit sum, which cannot carry
 * out for any length below 2^32; 2^32 and 2^16 are both 1 modulo 2^16 - 1,
 * so the halves fold to the same sum the 16-bit words make. Reads the
 * bytes at any alignment; nothing else. */
#ifndef CAPOS_LIB_NET_ONES_SUM_H
#define CAPOS_LIB_NET_ONES_SUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t capos_ones_sum(const void* data, size_t length) {
    const unsigned char* bytes = (const unsigned char*)data;
    uint64_t sum = 0;
    while (length >= 32) {
        uint64_t words[4];
        __builtin_memcpy(words, bytes, sizeof words);
        sum += (uint32_t)words[0] + (words[0] >> 32) + (uint32_t)words[1] + (words[1] >> 32) +
               (uint32_t)words[2] + (words[2] >> 32) + (uint32_t)words[3] + (words[3] >> 32);
        bytes += 32;
        length -= 32;
    }
    while (length >= 8) {
        uint64_t word;
        __builtin_memcpy(&word, bytes, 8);
        sum += (uint32_t)word + (word >> 32);
        bytes += 8;
        length -= 8;
    }
    if (length > 0) {
        uint64_t word = 0; /* the last bytes in their places, zeros after */
        for (size_t i = 0; i < length; ++i)
            word |= (uint64_t)bytes[i] << (8 * i);
        sum += (uint32_t)word + (word >> 32);
    }
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

#endif
