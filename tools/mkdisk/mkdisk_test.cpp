// capos-mkdisk's image and overlay syntax, and the pattern the guest test
// checks (disk_pattern.h).
#include "tools/mkdisk/disk_image.h"
#include "tools/mkdisk/disk_pattern.h"

#include <cstring>
#include <gtest/gtest.h>

namespace capos::mkdisk {
namespace {

uint64_t word_at(const std::string& image, size_t offset) {
    uint64_t word;
    std::memcpy(&word, image.data() + offset, sizeof word);
    return word;
}

TEST(MkdiskTest, EachSectorRepeatsItsLba) {
    auto image = make_image(3, {});
    ASSERT_TRUE(image.is_ok());
    ASSERT_EQ(image.value().size(), 3u * 512);
    for (uint64_t lba = 0; lba < 3; ++lba) {
        for (size_t word = 0; word < 64; ++word)
            EXPECT_EQ(word_at(image.value(), lba * 512 + word * 8), lba);
    }
    // Little-endian: sector 1 starts 01 00 00 ...
    EXPECT_EQ(image.value()[512], '\x01');
    EXPECT_EQ(image.value()[513], '\0');
}

TEST(MkdiskTest, OverlaysSetTheirGenerationInOrder) {
    Overlay overlays[] = {{1, 2, 7}, {2, 1, 9}};
    auto image = make_image(4, overlays);
    ASSERT_TRUE(image.is_ok());
    EXPECT_EQ(word_at(image.value(), 0 * 512), 0u);
    EXPECT_EQ(word_at(image.value(), 1 * 512 + 504), disk_pattern::sector_word(1, 7));
    EXPECT_EQ(word_at(image.value(), 2 * 512), disk_pattern::sector_word(2, 9));
    EXPECT_EQ(word_at(image.value(), 3 * 512), 3u);
    EXPECT_EQ(disk_pattern::sector_word(2, 9), (uint64_t{9} << 48) | 2);
    auto* bytes = reinterpret_cast<const uint8_t*>(image.value().data());
    EXPECT_EQ(disk_pattern::first_difference(bytes + 512, 1, 7), disk_pattern::sector_bytes);
    EXPECT_EQ(disk_pattern::first_difference(bytes + 512, 1, 0), 6u);
}

TEST(MkdiskTest, RefusesWhatDoesNotFit) {
    Overlay past[] = {{3, 2, 1}};
    EXPECT_TRUE(make_image(4, past).is_error());
    Overlay wraps[] = {{1, UINT64_MAX, 1}};
    EXPECT_TRUE(make_image(4, wraps).is_error());
    EXPECT_TRUE(make_image(0, {}).is_error());
    EXPECT_TRUE(make_image(max_sectors + 1, {}).is_error());
}

TEST(MkdiskTest, OverlaySyntax) {
    auto overlay = parse_overlay("100+2=1");
    ASSERT_TRUE(overlay);
    EXPECT_EQ(overlay->lba, 100u);
    EXPECT_EQ(overlay->count, 2u);
    EXPECT_EQ(overlay->generation, 1u);
    for (const char* bad : {"", "100", "100+2", "100=1+2", "100+0=1", "x+1=1", "1+1=70000",
                            "1+1=1x", "-1+1=1", "1+ 1=1"})
        EXPECT_FALSE(parse_overlay(bad)) << bad;
}

} // namespace
} // namespace capos::mkdisk
