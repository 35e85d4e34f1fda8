// lib/shell/format.h: sizes in binary units, typed numbers, hexdumps in
// hexdump -C's form (compared with what `hexdump -C` prints for the same
// bytes).
#include "lib/shell/format.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace capos::shell {
namespace {

std::string size_of(uint64_t bytes) {
    char text[size_text_max];
    return std::string(text, format_size(bytes, text));
}

TEST(ShellFormat, SizesInTheLargestUnitReached) {
    EXPECT_EQ(size_of(0), "0 B");
    EXPECT_EQ(size_of(512), "512 B");
    EXPECT_EQ(size_of(1023), "1023 B");
    EXPECT_EQ(size_of(1024), "1.0 KiB");
    EXPECT_EQ(size_of(1536), "1.5 KiB");
    EXPECT_EQ(size_of(2047), "1.9 KiB"); // rounded down
    EXPECT_EQ(size_of(4 << 20), "4.0 MiB");
    EXPECT_EQ(size_of((uint64_t{3} << 30) / 2), "1.5 GiB");
    EXPECT_EQ(size_of(uint64_t{1} << 40), "1.0 TiB");
    EXPECT_EQ(size_of(uint64_t{1023} << 50), "1023.0 PiB");
    EXPECT_EQ(size_of(UINT64_MAX), "15.9 EiB");
}

TEST(ShellFormat, NumbersAsTyped) {
    EXPECT_EQ(parse_number("0"), 0u);
    EXPECT_EQ(parse_number("8191"), 8191u);
    EXPECT_EQ(parse_number("0x1fff"), 0x1fffu);
    EXPECT_EQ(parse_number("0X1FFF"), 0x1fffu);
    EXPECT_EQ(parse_number("007"), 7u);
    EXPECT_EQ(parse_number("18446744073709551615"), UINT64_MAX);
    EXPECT_EQ(parse_number("0xffffffffffffffff"), UINT64_MAX);
    for (const char* bad :
         {"", "-1", "+1", " 1", "1 ", "1a", "0x", "0x1g", "ff", "18446744073709551616",
          "0x10000000000000000", "99999999999999999999", "1.5", "x1"})
        EXPECT_FALSE(parse_number(bad)) << bad;
}

struct Lines final : HexdumpOutput {
    void line(std::string_view text) override { lines.emplace_back(text); }
    std::vector<std::string> lines;
};

std::vector<std::string> dump(const std::vector<uint8_t>& bytes, uint64_t base = 0) {
    Lines out;
    hexdump(bytes, base, out);
    return out.lines;
}

TEST(ShellFormat, HexdumpAsHexdumpCPrintsIt) {
    // printf 'Hello, capOS!\n\0\1\2\3\x7f\x80\xff' | hexdump -C
    std::string text = "Hello, capOS!\n";
    std::vector<uint8_t> bytes(text.begin(), text.end());
    for (uint8_t b : {0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff})
        bytes.push_back(b);
    EXPECT_EQ(
        dump(bytes),
        (std::vector<std::string>{
            "00000000  48 65 6c 6c 6f 2c 20 63  61 70 4f 53 21 0a 00 01  |Hello, capOS!...|",
            "00000010  02 03 7f 80 ff                                    |.....|", "00000015"}));
}

TEST(ShellFormat, HexdumpStarsRepeatedLines) {
    // A 512-byte sector repeating the 64-bit word 1 (the disk pattern of block 1).
    std::vector<uint8_t> sector(512);
    for (size_t i = 0; i < sector.size(); i += 8)
        sector[i] = 1;
    EXPECT_EQ(dump(sector),
              (std::vector<std::string>{
                  "00000000  01 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  |................|",
                  "*", "00000200"}));
    // A different line ends the run; the same one again starts a new star.
    sector[0x40] = 'A';
    EXPECT_EQ(
        dump(sector),
        (std::vector<std::string>{
            "00000000  01 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  |................|", "*",
            "00000040  41 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  |A...............|",
            "00000050  01 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  |................|", "*",
            "00000200"}));
    // A short last line equal to the start of the one before is still written.
    std::vector<uint8_t> short_tail(20, 0);
    EXPECT_EQ(
        dump(short_tail),
        (std::vector<std::string>{
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|",
            "00000010  00 00 00 00                                       |....|", "00000014"}));
}

TEST(ShellFormat, HexdumpOffsetsFromTheBaseAndPastEightDigits) {
    EXPECT_EQ(dump({}, 0x200), (std::vector<std::string>{"00000200"}));
    EXPECT_EQ(
        dump({0x41}, 0x123456789),
        (std::vector<std::string>{
            "123456789  41                                                |A|", "12345678a"}));
}

} // namespace
} // namespace capos::shell
