/* The Internet checksum's sum (RFC 1071) in one place for C and C++: lwIP
 * (C, through LWIP_CHKSUM in lib/net/lwip/port/lwipopts.h) and capOS's own
 * code (lib/net/checksum.h) both use capos_ones_sum.
 *
 * capos_ones_sum(data, length): the ones' complement sum of the bytes taken
 * as little-endian 16-bit words from the first byte (an odd last byte as a
 * word with a zero high byte), folded to 16 bits and not complemented: what
 * lwIP's LWIP_CHKSUM returns ("host order" on a little-endian machine: the
 * byte swap of the sum of big-endian words). Eight bytes a step, 64-bit
 * words added with their carries (one chain of add-with-carry, the carry
 * out of each word added back into the sum: 2^64 is 1 modulo 2^16 - 1, so
 * a 64-bit ones' complement sum folds to the same 16-bit sum the 16-bit
 * words make); a sum of words is one instruction a word, which matters
 * under QEMU's TCG, where every received TCP segment is summed once. Reads
 * the bytes at any alignment; nothing else. */
#ifndef CAPOS_LIB_NET_ONES_SUM_H
#define CAPOS_LIB_NET_ONES_SUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t capos_ones_sum(const void* data, size_t length) {
    const unsigned char* bytes = (const unsigned char*)data;
    unsigned long long sum = 0;
    unsigned long long carry = 0; /* the carry out of the last addition */
    while (length >= 64) {
        unsigned long long words[8];
        __builtin_memcpy(words, bytes, sizeof words);
        for (int i = 0; i < 8; ++i)
            sum = __builtin_addcll(sum, words[i], carry, &carry);
        bytes += 64;
        length -= 64;
    }
    while (length >= 8) {
        unsigned long long word;
        __builtin_memcpy(&word, bytes, 8);
        sum = __builtin_addcll(sum, word, carry, &carry);
        bytes += 8;
        length -= 8;
    }
    if (length > 0) {
        unsigned long long word = 0; /* the last bytes in their places, zeros after */
        for (size_t i = 0; i < length; ++i)
            word |= (unsigned long long)bytes[i] << (8 * i);
        sum = __builtin_addcll(sum, word, carry, &carry);
    }
    sum = __builtin_addcll(sum, 0, carry, &carry);
    sum += carry; /* (a carry out of adding 1 leaves 0: no second one) */
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

#endif
