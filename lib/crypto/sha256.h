// SHA-256 (FIPS 180-4): the key of a blob in the content store
// (schema/capos.capnp, Store). Incremental, allocation-free, for every build.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace capos::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    // The digest of everything updated so far; the hasher is spent after.
    Sha256Digest finish();

    static Sha256Digest of(const void* data, size_t size) {
        Sha256 hasher;
        hasher.update(data, size);
        return hasher.finish();
    }

private:
    void block(const uint8_t* bytes);

    uint32_t m_state[8];
    uint64_t m_length = 0; // bytes
    uint8_t m_buffer[64];
    size_t m_buffered = 0;
};

} // namespace capos::crypto
