#include "lib/base/crc32c.h"

namespace capos {

namespace {

struct Tables {
    uint32_t t[8][256];
};

constexpr Tables make_tables() {
    Tables tables{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
        tables.t[0][i] = crc;
    }
    for (uint32_t i = 0; i < 256; ++i)
        for (int k = 1; k < 8; ++k)
            tables.t[k][i] = (tables.t[k - 1][i] >> 8) ^ tables.t[0][tables.t[k - 1][i] & 0xff];
    return tables;
}

constexpr Tables tables = make_tables();

} // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    crc = ~crc;
    while (size >= 8) {
        uint64_t word;
        __builtin_memcpy(&word, bytes, 8);
        word ^= crc;
        crc = tables.t[7][word & 0xff] ^ tables.t[6][(word >> 8) & 0xff] ^
              tables.t[5][(word >> 16) & 0xff] ^ tables.t[4][(word >> 24) & 0xff] ^
              tables.t[3][(word >> 32) & 0xff] ^ tables.t[2][(word >> 40) & 0xff] ^
              tables.t[1][(word >> 48) & 0xff] ^ tables.t[0][word >> 56];
        bytes += 8;
        size -= 8;
    }
    while (size-- > 0)
        crc = (crc >> 8) ^ tables.t[0][(crc ^ *bytes++) & 0xff];
    return ~crc;
}

} // namespace capos
