// The contents of the disk images the block-device tests attach (made on the
// host by capos-mkdisk, checked in the guest by user/tests/blk_test.cpp and on
// the host again after the run, tools/qemu-runner's drive-expect): every
// 512-byte sector repeats one 64-bit little-endian word, the sector's LBA in
// the low 48 bits and a generation above it. An image as made holds generation
// 0 everywhere (each sector its LBA); a test writes other generations, so a
// sector read back says which write it came from and where it belongs.
//
// Header-only and freestanding: the guest test includes it too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::disk_pattern {

inline constexpr size_t sector_bytes = 512;
inline constexpr uint64_t lba_mask = (uint64_t{1} << 48) - 1;

// The word sector `lba` of generation `generation` repeats.
constexpr uint64_t sector_word(uint64_t lba, uint16_t generation) {
    return uint64_t{generation} << 48 | (lba & lba_mask);
}

// Byte `offset` (0 to 511) of that sector.
constexpr uint8_t sector_byte(uint64_t lba, uint16_t generation, size_t offset) {
    return uint8_t(sector_word(lba, generation) >> (8 * (offset % 8)));
}

// Fills the 512 bytes at `sector` with the sector's pattern.
inline void fill_sector(uint8_t* sector, uint64_t lba, uint16_t generation) {
    for (size_t offset = 0; offset < sector_bytes; ++offset)
        sector[offset] = sector_byte(lba, generation, offset);
}

// The offset of the first byte of the 512 at `sector` that is not the
// sector's pattern, or sector_bytes when all are.
inline size_t first_difference(const uint8_t* sector, uint64_t lba, uint16_t generation) {
    for (size_t offset = 0; offset < sector_bytes; ++offset) {
        if (sector[offset] != sector_byte(lba, generation, offset))
            return offset;
    }
    return sector_bytes;
}

static_assert(sector_byte(0x0102, 0, 0) == 0x02 && sector_byte(0x0102, 0, 1) == 0x01);
static_assert(sector_byte(5, 0x0a0b, 6) == 0x0b && sector_byte(5, 0x0a0b, 15) == 0x0a);

} // namespace capos::disk_pattern
