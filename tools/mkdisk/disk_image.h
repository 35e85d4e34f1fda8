// What capos-mkdisk writes: a raw disk image of the test pattern
// (disk_pattern.h), with runs of sectors of other generations laid over it:
// the image a test starts from, and the one it must leave after its writes.
#pragma once

#include "lib/base/result.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace capos::mkdisk {

// `count` sectors from `lba` hold generation `generation`.
struct Overlay {
    uint64_t lba = 0;
    uint64_t count = 0;
    uint16_t generation = 0;
};

// The largest image made: 1 GiB.
inline constexpr uint64_t max_sectors = uint64_t{1} << 21;

// "LBA+COUNT=GENERATION" in decimal (`100+2=1`), or nullopt; COUNT at least 1.
std::optional<Overlay> parse_overlay(std::string_view text);

// The image's bytes: `sectors` sectors (1 to max_sectors) of generation 0,
// then each overlay in order; an overlay past the end is an error.
Result<std::string, std::string> make_image(uint64_t sectors, std::span<const Overlay> overlays);

} // namespace capos::mkdisk
