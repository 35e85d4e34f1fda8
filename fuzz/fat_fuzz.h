// What fat_fuzz and its seed generator share: the disk the fuzzer mounts (the
// input is its first bytes, the rest zeros) and a small FAT32 volume made by
// hand to fill it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace capos::fuzz::fat_image {

inline constexpr size_t disk_sector = 512;
inline constexpr size_t disk_sectors = 256; // 128 KiB

inline void put16(std::vector<uint8_t>& image, size_t at, uint16_t value) {
    std::memcpy(image.data() + at, &value, 2);
}
inline void put32(std::vector<uint8_t>& image, size_t at, uint32_t value) {
    std::memcpy(image.data() + at, &value, 4);
}

// An empty FAT32 volume over the whole disk: `sector` bytes a logical
// sector, 4 reserved sectors (boot, FSInfo), two FATs of `fat_sectors`, one
// sector a cluster, the root at cluster 2.
inline std::vector<uint8_t> empty_volume(uint32_t sector, uint32_t fat_sectors) {
    std::vector<uint8_t> image(disk_sectors * disk_sector, 0);
    uint32_t total = static_cast<uint32_t>(image.size() / sector);
    uint32_t reserved = 4;
    uint32_t data_start = reserved + 2 * fat_sectors;
    uint32_t clusters = total - data_start;
    const uint8_t jump[] = {0xEB, 0x58, 0x90};
    std::memcpy(image.data(), jump, sizeof jump);
    std::memcpy(image.data() + 3, "CAPOS   ", 8);
    put16(image, 11, static_cast<uint16_t>(sector));
    image[13] = 1;
    put16(image, 14, static_cast<uint16_t>(reserved));
    image[16] = 2;
    image[21] = 0xF8;
    put32(image, 32, total);
    put32(image, 36, fat_sectors);
    put32(image, 44, 2);
    put16(image, 48, 1);
    image[66] = 0x29;
    std::memcpy(image.data() + 71, "NO NAME    FAT32   ", 19);
    image[510] = 0x55;
    image[511] = 0xAA;
    size_t fsinfo = sector;
    put32(image, fsinfo, 0x41615252);
    put32(image, fsinfo + 484, 0x61417272);
    put32(image, fsinfo + 488, clusters - 1);
    put32(image, fsinfo + 492, 3);
    put32(image, fsinfo + 508, 0xAA550000);
    for (uint32_t copy = 0; copy < 2; ++copy) {
        size_t fat = (reserved + copy * fat_sectors) * size_t{sector};
        put32(image, fat, 0x0FFFFFF8);
        put32(image, fat + 4, 0x0FFFFFFF);
        put32(image, fat + 8, 0x0FFFFFFF);
    }
    return image;
}

} // namespace capos::fuzz::fat_image
