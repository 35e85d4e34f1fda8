#include "tools/mkdisk/disk_image.h"

#include "tools/mkdisk/disk_pattern.h"

#include <charconv>

namespace capos::mkdisk {
namespace {

// A decimal number that is all of `text`.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
    T value = 0;
    if (text.empty())
        return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace

std::optional<Overlay> parse_overlay(std::string_view text) {
    size_t plus = text.find('+');
    size_t equals = text.find('=');
    if (plus == std::string_view::npos || equals == std::string_view::npos || equals < plus)
        return std::nullopt;
    auto lba = parse_number<uint64_t>(text.substr(0, plus));
    auto count = parse_number<uint64_t>(text.substr(plus + 1, equals - plus - 1));
    auto generation = parse_number<uint16_t>(text.substr(equals + 1));
    if (!lba || !count || !generation || *count == 0)
        return std::nullopt;
    return Overlay{*lba, *count, *generation};
}

Result<std::string, std::string> make_image(uint64_t sectors, std::span<const Overlay> overlays) {
    if (sectors == 0 || sectors > max_sectors)
        return Err{std::string("an image is 1 to ") + std::to_string(max_sectors) + " sectors"};
    for (const Overlay& overlay : overlays) {
        if (overlay.lba >= sectors || overlay.count > sectors - overlay.lba)
            return Err{"sectors " + std::to_string(overlay.lba) + "+" +
                       std::to_string(overlay.count) + " run past the image's " +
                       std::to_string(sectors)};
    }
    std::string image(sectors * disk_pattern::sector_bytes, '\0');
    auto* bytes = reinterpret_cast<uint8_t*>(image.data());
    for (uint64_t lba = 0; lba < sectors; ++lba)
        disk_pattern::fill_sector(bytes + lba * disk_pattern::sector_bytes, lba, 0);
    for (const Overlay& overlay : overlays) {
        for (uint64_t lba = overlay.lba; lba < overlay.lba + overlay.count; ++lba)
            disk_pattern::fill_sector(bytes + lba * disk_pattern::sector_bytes, lba,
                                      overlay.generation);
    }
    return image;
}

} // namespace capos::mkdisk
