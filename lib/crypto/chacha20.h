// The ChaCha20 stream cipher as RFC 8439 specifies it: a 256-bit key, a 96-bit
// nonce and a 32-bit block counter. It exists for the kernel's CSPRNG (Csprng in
// lib/crypto/csprng.h), which uses the block function as its only primitive; the
// stream functions are here so that the RFC's own test vectors can check it.
//
// Freestanding: no allocation, no tables, no floating point, no SIMD. Bytes are
// read and written as little-endian by shifts, so the code does not depend on the
// host's byte order. Each call wipes the working copies of the key it made on the
// stack before returning; what the caller passes in, or gets back from
// initial_state(), is the caller's to erase.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lib/base/result.h"

namespace capos {

enum class ChaChaError : uint8_t {
    CounterOverflow, // the request needs a block counter past 2^32 - 1 (RFC 8439 §2.3)
};

const char* to_string(ChaChaError error);

// Overwrites bytes with zeros through volatile stores, which the compiler may not
// drop even when the bytes are never read again (as it may a plain memset of a
// dying local). For key material.
void secure_zero(std::span<uint8_t> bytes);

namespace chacha20 {

inline constexpr size_t key_size = 32;
inline constexpr size_t nonce_size = 12;
inline constexpr size_t block_size = 64;
// Blocks one (key, nonce) pair can produce: the 32-bit counter must not wrap.
inline constexpr uint64_t max_blocks = uint64_t{1} << 32;

using Key = std::span<const uint8_t, key_size>;
using Nonce = std::span<const uint8_t, nonce_size>;
// The sixteen 32-bit words of the ChaCha matrix, row by row (RFC 8439 §2.3).
using State = std::array<uint32_t, 16>;

// bits is 1 to 31.
constexpr uint32_t rotate_left(uint32_t value, int bits) {
    return value << bits | value >> (32 - bits);
}

// The quarter round on four words (RFC 8439 §2.1).
constexpr void quarter_round(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
    a += b;
    d ^= a;
    d = rotate_left(d, 16);
    c += d;
    b ^= c;
    b = rotate_left(b, 12);
    a += b;
    d ^= a;
    d = rotate_left(d, 8);
    c += d;
    b ^= c;
    b = rotate_left(b, 7);
}

// QUARTERROUND(a, b, c, d) on the words of state at those indices (RFC 8439 §2.2).
// The indices must be distinct and below 16.
constexpr void quarter_round(State& state, size_t a, size_t b, size_t c, size_t d) {
    quarter_round(state[a], state[b], state[c], state[d]);
}

// The block function's input matrix: constants, key, counter, nonce (§2.3).
State initial_state(Key key, uint32_t counter, Nonce nonce);

// The 20 rounds (ten column and diagonal round pairs) applied to state in place,
// without the final addition of the input (§2.3).
void run_rounds(State& state);

// One 64-byte keystream block: the rounds on initial_state(key, counter, nonce),
// the input added word by word, serialised little-endian (§2.3). Cannot fail.
void block(Key key, uint32_t counter, Nonce nonce, std::span<uint8_t, block_size> out);

// Writes the keystream for (key, nonce) starting at block initial_counter into
// out, using as many blocks as out needs; the unused rest of the last block is
// discarded (§2.4). CounterOverflow, with out untouched, when that would need a
// block counter above 2^32 - 1. An empty out always succeeds.
Result<void, ChaChaError> keystream(Key key, uint32_t initial_counter, Nonce nonce,
                                    std::span<uint8_t> out);

// Encrypts or decrypts data in place: XORs it with keystream() (§2.4). Fails, with
// data untouched, exactly when keystream() would.
Result<void, ChaChaError> xor_stream(Key key, uint32_t initial_counter, Nonce nonce,
                                     std::span<uint8_t> data);

} // namespace chacha20

} // namespace capos
