#include "lib/crypto/csprng.h"

namespace capos {

namespace {

using chacha20::block_size;
using chacha20::nonce_size;

// The first nonce word: keeps absorbing and output from ever feeding the block
// function the same (key, counter, nonce).
enum class Domain : uint32_t {
    Absorb = 1,
    Output = 2,
};

using NonceBytes = std::array<uint8_t, nonce_size>;

void store_le32(uint8_t* bytes, uint32_t value) {
    for (size_t i = 0; i < 4; ++i)
        bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}

NonceBytes make_nonce(Domain domain, uint32_t word1, uint32_t word2) {
    NonceBytes nonce;
    store_le32(nonce.data(), static_cast<uint32_t>(domain));
    store_le32(nonce.data() + 4, word1);
    store_le32(nonce.data() + 8, word2);
    return nonce;
}

// LE32(1) | LE32(length) | LE32(0).
NonceBytes absorb_nonce(size_t chunk_length) {
    return make_nonce(Domain::Absorb, static_cast<uint32_t>(chunk_length), 0);
}

// LE32(2) | LE64(generation).
NonceBytes output_nonce(uint64_t generation) {
    return make_nonce(Domain::Output, static_cast<uint32_t>(generation),
                      static_cast<uint32_t>(generation >> 32));
}

constexpr size_t min(size_t a, size_t b) {
    return a < b ? a : b;
}

} // namespace

const char* to_string(CsprngError error) {
    switch (error) {
    case CsprngError::NotSeeded:
        return "random generator not seeded";
    case CsprngError::NoEntropy:
        return "no entropy given";
    case CsprngError::ShortSeed:
        return "first seed too short";
    }
    return "unknown random generator error";
}

Result<void, CsprngError> Csprng::reseed(std::span<const uint8_t> entropy) {
    if (entropy.empty())
        return Err{CsprngError::NoEntropy};
    if (!m_seeded && entropy.size() < min_seed_size)
        return Err{CsprngError::ShortSeed};
    while (!entropy.empty()) {
        size_t length = min(entropy.size(), key_size);
        absorb_chunk(entropy.first(length));
        entropy = entropy.subspan(length);
    }
    m_seeded = true;
    ++m_generation;
    return {};
}

Result<void, CsprngError> Csprng::fill(std::span<uint8_t> out) {
    if (!m_seeded)
        return Err{CsprngError::NotSeeded};
    while (!out.empty()) {
        size_t length = min(out.size(), max_chunk_size);
        generate_chunk(out.first(length));
        out = out.subspan(length);
    }
    return {};
}

void Csprng::absorb_chunk(std::span<const uint8_t> chunk) {
    std::array<uint8_t, key_size> mixed = m_key;
    for (size_t i = 0; i < chunk.size(); ++i)
        mixed[i] ^= chunk[i];
    std::array<uint8_t, block_size> block;
    chacha20::block(mixed, 0, absorb_nonce(chunk.size()), block);
    __builtin_memcpy(m_key.data(), block.data(), key_size);
    secure_zero(mixed);
    secure_zero(block);
}

void Csprng::generate_chunk(std::span<uint8_t> out) {
    static_assert(max_chunk_size / block_size + 1 < chacha20::max_blocks,
                  "a chunk must not run out of block counters");
    NonceBytes nonce = output_nonce(m_generation);

    // Block 0: the next key, then the first output bytes.
    std::array<uint8_t, block_size> block;
    chacha20::block(m_key, 0, nonce, block);
    std::array<uint8_t, key_size> next_key;
    __builtin_memcpy(next_key.data(), block.data(), key_size);
    size_t done = min(out.size(), block_size - key_size);
    __builtin_memcpy(out.data(), block.data() + key_size, done);

    // Blocks 1, 2, ...: whole blocks straight into out, a partial one through block.
    for (uint32_t counter = 1; done < out.size(); ++counter) {
        size_t length = min(out.size() - done, block_size);
        if (length == block_size) {
            chacha20::block(m_key, counter, nonce, out.subspan(done).first<block_size>());
        } else {
            chacha20::block(m_key, counter, nonce, block);
            __builtin_memcpy(out.data() + done, block.data(), length);
        }
        done += length;
    }

    // Fast key erasure: the key that made this output is replaced by keystream that
    // was never output.
    m_key = next_key;
    ++m_generation;
    secure_zero(next_key);
    secure_zero(block);
}

} // namespace capos
