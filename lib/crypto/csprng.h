// The kernel's cryptographically secure random generator: a 256-bit key and the
// ChaCha20 block function (lib/crypto/chacha20.h), with fast key erasure. It turns
// entropy the caller gathered (RDSEED, interrupt timing, a boot-loader seed) into
// any amount of unpredictable output; it gathers none itself and cannot judge how
// much entropy the bytes it is given hold.
//
// Construction. K is the key, g the generation (a counter of key replacements),
// ChaCha20(k, c, n) the 64-byte block for key k, block counter c and nonce n, and
// LE32/LE64 little-endian encodings. Nonces start with a domain tag so that the
// two uses of the block function never share an input.
//
//   Absorbing entropy e (reseed): e is cut into chunks of 32 bytes, the last
//   possibly shorter; for each chunk c of length l, in order,
//       K = first 32 bytes of ChaCha20(K xor pad(c), 0, LE32(1) | LE32(l) | LE32(0))
//   where pad(c) is c followed by zeros to 32 bytes. Each chunk passes through the
//   block function before the next is mixed in, so chunks cannot cancel each other
//   (a plain XOR fold of e would let two equal chunks erase each other), and the
//   chunk lengths bind where e ends ("ab" and "ab\0" absorb differently).
//
//   Output (fill), per chunk of at most max_chunk_size bytes: with n = LE32(2) |
//   LE64(g), the keystream of ChaCha20(K, 0, n), ChaCha20(K, 1, n), ... is split as
//       bytes [0, 32)       the next key,
//       bytes [32, 32 + m)  the m output bytes;
//   then K is overwritten with the next key and g advances. The key that produced
//   some output is gone before fill() returns, so a later compromise of the state
//   reveals nothing about output already handed out (forward secrecy); a long
//   request is cut into chunks so that this holds within it too.
//
// Soundness rests on ChaCha20's block function behaving as a pseudorandom function
// of its key, the same assumption the cipher itself makes. Someone who knows K but
// not e cannot predict K after absorbing e beyond guessing e; someone who chose e
// but does not know K learns nothing, since K xor pad(c) stays secret. As with any
// generator of this kind, recovery after a state compromise needs a reseed whose
// bytes carry enough entropy in one call to resist guessing (Fortuna's pools solve
// this for dribbling sources; gathering that much first is the caller's job).
//
// Not thread-safe: the caller serialises every call (the kernel holds it under a
// lock). No allocation; every buffer is the caller's or on the stack, and stack
// copies of key material are wiped before each call returns.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lib/base/result.h"
#include "lib/crypto/chacha20.h"

namespace capos {

enum class CsprngError : uint8_t {
    NotSeeded, // fill() before the first successful reseed()
    NoEntropy, // reseed() with no bytes
    ShortSeed, // the first reseed() with fewer than min_seed_size bytes
};

const char* to_string(CsprngError error);

// Defined only by the host tests, to read the key and check its erasure.
struct CsprngTestPeer;

class Csprng {
public:
    static constexpr size_t key_size = chacha20::key_size;
    // The first reseed must bring at least this many bytes. Length is not entropy:
    // this only catches the plain mistake of seeding from a few bytes; the caller
    // must still supply at least 256 bits of real entropy.
    static constexpr size_t min_seed_size = key_size;
    // Output bytes produced from one key before it is replaced.
    static constexpr size_t max_chunk_size = 1024;

    // Unseeded, with an all-zero key. constexpr so that the kernel can keep the
    // generator in a constinit global.
    constexpr Csprng() = default;
    // Copying would duplicate the state and so repeat the output.
    Csprng(const Csprng&) = delete;
    Csprng& operator=(const Csprng&) = delete;

    // Mixes entropy into the key as the file header describes and advances the
    // generation; the first success makes the generator seeded. NoEntropy for an
    // empty span; ShortSeed for fewer than min_seed_size bytes while unseeded. On
    // error nothing changes. Reseeding never lowers unpredictability: the old key
    // stays part of the new one.
    Result<void, CsprngError> reseed(std::span<const uint8_t> entropy);

    // Overwrites out with fresh output, replacing the key after every
    // max_chunk_size bytes and once more at the end. NotSeeded, with out and the
    // state untouched, before the first reseed. Filling an empty span succeeds and
    // changes nothing.
    Result<void, CsprngError> fill(std::span<uint8_t> out);

    bool seeded() const { return m_seeded; }

    // How many times the key has been replaced: once per reseed() and once per
    // chunk of output. Never wraps in practice (2^64 replacements).
    uint64_t generation() const { return m_generation; }

private:
    friend struct CsprngTestPeer;

    // K = the first 32 bytes of ChaCha20(K xor pad(chunk), ...); chunk is 1 to 32 bytes.
    void absorb_chunk(std::span<const uint8_t> chunk);
    // Writes out (at most max_chunk_size bytes) from the current key, then replaces it.
    void generate_chunk(std::span<uint8_t> out);

    std::array<uint8_t, key_size> m_key{};
    uint64_t m_generation = 0;
    bool m_seeded = false;
};

} // namespace capos
