// lib/crypto/sha256 against FIPS 180-4's examples and the host's sha256sum.
#include "lib/crypto/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace capos::crypto {
namespace {

std::string hex(const Sha256Digest& digest) {
    std::string out;
    char two[3];
    for (uint8_t byte : digest) {
        std::snprintf(two, sizeof two, "%02x", byte);
        out += two;
    }
    return out;
}

TEST(Sha256, KnownDigests) {
    EXPECT_EQ(hex(Sha256::of("", 0)),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hex(Sha256::of("abc", 3)),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char* two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    EXPECT_EQ(hex(Sha256::of(two_blocks, 56)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    Sha256 million;
    std::string a(1000, 'a');
    for (int i = 0; i < 1000; ++i)
        million.update(a.data(), a.size());
    EXPECT_EQ(hex(million.finish()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Random lengths around the block and padding edges, fed in random pieces,
// against sha256sum.
TEST(Sha256, MatchesTheHostTool) {
    std::mt19937 random(5);
    for (size_t length : {1u, 55u, 56u, 63u, 64u, 65u, 119u, 120u, 1000u, 70000u}) {
        std::string data(length, '\0');
        for (auto& c : data)
            c = static_cast<char>(random());
        Sha256 pieces;
        for (size_t at = 0; at < length;) {
            size_t piece = std::min<size_t>(length - at, 1 + random() % 100);
            pieces.update(data.data() + at, piece);
            at += piece;
        }
        std::string path = testing::TempDir() + "sha256_input";
        FILE* file = std::fopen(path.c_str(), "wb");
        ASSERT_NE(file, nullptr);
        std::fwrite(data.data(), 1, data.size(), file);
        std::fclose(file);
        FILE* tool = popen(("sha256sum " + path).c_str(), "r");
        ASSERT_NE(tool, nullptr);
        char line[128] = {};
        ASSERT_NE(std::fgets(line, sizeof line, tool), nullptr);
        pclose(tool);
        EXPECT_EQ(hex(pieces.finish()), std::string(line, 64)) << length;
    }
}

} // namespace
} // namespace capos::crypto
