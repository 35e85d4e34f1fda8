// lib/freestanding/mem.cpp (the kernel's and user programs' memcpy, memset,
// memmove, memcmp, memchr, strlen) on the host, under other names so that the
// host's own C library stays in place: every length from 0 to 200 bytes (the
// 64-byte steps, the 8-byte steps and the byte tail, and each boundary
// between them) at every alignment of source and destination within a word,
// against a byte-by-byte reference; nothing outside the range is touched.
#define memcpy capos_memcpy
#define memmove capos_memmove
#define memset capos_memset
#define memcmp capos_memcmp
#define memchr capos_memchr
#define strlen capos_strlen
#include "lib/freestanding/mem.cpp"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef memchr
#undef strlen

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace {

constexpr size_t max_length = 200;
constexpr size_t guard = 16;

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = uint8_t(seed + i * 31);
    return bytes;
}

TEST(FreestandingMem, MemcpyEveryLengthAndAlignment) {
    for (size_t length = 0; length <= max_length; ++length) {
        for (size_t from = 0; from < 8; ++from) {
            for (size_t to = 0; to < 8; ++to) {
                std::vector<uint8_t> source = pattern(max_length + guard, 1);
                std::vector<uint8_t> destination = pattern(max_length + 2 * guard, 200);
                std::vector<uint8_t> expected = destination;
                for (size_t i = 0; i < length; ++i)
                    expected[guard + to + i] = source[from + i];
                void* result =
                    capos_memcpy(destination.data() + guard + to, source.data() + from, length);
                ASSERT_EQ(result, destination.data() + guard + to);
                ASSERT_EQ(destination, expected)
                    << "length " << length << " from +" << from << " to +" << to;
            }
        }
    }
}

TEST(FreestandingMem, MemsetEveryLengthAndAlignment) {
    for (size_t length = 0; length <= max_length; ++length) {
        for (size_t to = 0; to < 8; ++to) {
            std::vector<uint8_t> destination = pattern(max_length + 2 * guard, 9);
            std::vector<uint8_t> expected = destination;
            for (size_t i = 0; i < length; ++i)
                expected[guard + to + i] = 0xA5;
            void* result = capos_memset(destination.data() + guard + to, 0x1A5, length);
            ASSERT_EQ(result, destination.data() + guard + to);
            ASSERT_EQ(destination, expected) << "length " << length << " to +" << to;
        }
    }
}

TEST(FreestandingMem, MemmoveOverlapsBothWays) {
    for (size_t length = 0; length <= 100; ++length) {
        for (int shift : {-9, -8, -1, 1, 8, 9}) {
            std::vector<uint8_t> bytes = pattern(160, 3);
            std::vector<uint8_t> expected = bytes;
            size_t from = 30, to = size_t(30 + shift);
            std::vector<uint8_t> moved(bytes.begin() + from, bytes.begin() + from + length);
            for (size_t i = 0; i < length; ++i)
                expected[to + i] = moved[i];
            capos_memmove(bytes.data() + to, bytes.data() + from, length);
            ASSERT_EQ(bytes, expected) << "length " << length << " shift " << shift;
        }
    }
}

TEST(FreestandingMem, CompareFindAndLength) {
    const char text[] = "capability";
    EXPECT_EQ(capos_strlen(text), 10u);
    EXPECT_EQ(capos_strlen(""), 0u);
    EXPECT_EQ(capos_memchr(text, 'b', 10), text + 4);
    EXPECT_EQ(capos_memchr(text, 'z', 10), nullptr);
    EXPECT_EQ(capos_memcmp("abc", "abd", 3), -1);
    EXPECT_EQ(capos_memcmp("abd", "abc", 3), 1);
    EXPECT_EQ(capos_memcmp("abc", "abd", 2), 0);
}

} // namespace
