// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and
// btrfs use it: the checksum the capOS filesystem keeps of its metadata
// blocks. Table-driven, eight bytes a step; pure, for every build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos {

// The CRC-32C of `size` bytes at `data`, continuing from `crc` (the result
// of an earlier call; 0 to start). crc32c("123456789") is 0xE3069283.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

} // namespace capos
