// Host tests for lib/crypto/chacha20 against the test vectors of RFC 8439: the
// quarter round (§2.1.1, §2.2.1), the block function (§2.3.2, Appendix A.1) and
// encryption (§2.4.2, Appendix A.2); then streaming across calls, the counter
// limit and secure_zero.
#include "lib/crypto/chacha20.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace capos {
namespace {

using chacha20::State;

// Bytes from hex digits; anything else (spaces, colons) separates them.
std::vector<uint8_t> hex(std::string_view text) {
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    std::vector<uint8_t> bytes;
    int high = -1;
    for (char c : text) {
        int value = digit(c);
        if (value < 0)
            continue;
        if (high < 0) {
            high = value;
        } else {
            bytes.push_back(static_cast<uint8_t>(high << 4 | value));
            high = -1;
        }
    }
    EXPECT_EQ(high, -1) << "odd number of hex digits";
    return bytes;
}

std::vector<uint8_t> bytes_of(std::string_view text) {
    return std::vector<uint8_t>(text.begin(), text.end());
}

chacha20::Key key_of(const std::vector<uint8_t>& bytes) {
    EXPECT_EQ(bytes.size(), chacha20::key_size);
    return chacha20::Key(bytes.data(), chacha20::key_size);
}

chacha20::Nonce nonce_of(const std::vector<uint8_t>& bytes) {
    EXPECT_EQ(bytes.size(), chacha20::nonce_size);
    return chacha20::Nonce(bytes.data(), chacha20::nonce_size);
}

std::vector<uint8_t> block_of(const std::vector<uint8_t>& key, uint32_t counter,
                              const std::vector<uint8_t>& nonce) {
    std::vector<uint8_t> out(chacha20::block_size);
    chacha20::block(key_of(key), counter, nonce_of(nonce),
                    std::span<uint8_t, chacha20::block_size>(out.data(), out.size()));
    return out;
}

std::vector<uint8_t> encrypt(const std::vector<uint8_t>& key, uint32_t counter,
                             const std::vector<uint8_t>& nonce, std::vector<uint8_t> data) {
    EXPECT_TRUE(chacha20::xor_stream(key_of(key), counter, nonce_of(nonce), data).is_ok());
    return data;
}

const std::vector<uint8_t> zero_key(32, 0);
const std::vector<uint8_t> zero_nonce(12, 0);
// The key of §2.3.2 and §2.4.2: 00 01 02 ... 1f.
const std::vector<uint8_t> counting_key =
    hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

// RFC 8439 §2.1.1.
TEST(ChaCha20, QuarterRound) {
    uint32_t a = 0x11111111, b = 0x01020304, c = 0x9b8d6f43, d = 0x01234567;
    chacha20::quarter_round(a, b, c, d);
    EXPECT_EQ(a, 0xea2a92f4u);
    EXPECT_EQ(b, 0xcb1cf8ceu);
    EXPECT_EQ(c, 0x4581472eu);
    EXPECT_EQ(d, 0x5881c4bbu);

    static_assert([] {
        uint32_t a = 0x11111111, b = 0x01020304, c = 0x9b8d6f43, d = 0x01234567;
        chacha20::quarter_round(a, b, c, d);
        return a == 0xea2a92f4 && b == 0xcb1cf8ce && c == 0x4581472e && d == 0x5881c4bb;
    }());
}

// RFC 8439 §2.2.1: QUARTERROUND(2, 7, 8, 13) changes only those four words.
TEST(ChaCha20, QuarterRoundOnState) {
    State state = {0x879531e0, 0xc5ecf37d, 0x516461b1, 0xc9a62f8a, 0x44c20ef3, 0x3390af7f,
                   0xd9fc690b, 0x2a5f714c, 0x53372767, 0xb00a5631, 0x974c541a, 0x359e9963,
                   0x5c971061, 0x3d631689, 0x2098d9d6, 0x91dbd320};
    chacha20::quarter_round(state, 2, 7, 8, 13);
    State expected = {0x879531e0, 0xc5ecf37d, 0xbdb886dc, 0xc9a62f8a, 0x44c20ef3, 0x3390af7f,
                      0xd9fc690b, 0xcfacafd2, 0xe46bea80, 0xb00a5631, 0x974c541a, 0x359e9963,
                      0x5c971061, 0xccc07c79, 0x2098d9d6, 0x91dbd320};
    EXPECT_EQ(state, expected);
}

// RFC 8439 §2.3.2, every intermediate matrix.
TEST(ChaCha20, BlockFunction) {
    std::vector<uint8_t> nonce = hex("000000090000004a00000000");

    State state = chacha20::initial_state(key_of(counting_key), 1, nonce_of(nonce));
    State setup = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, 0x03020100, 0x07060504,
                   0x0b0a0908, 0x0f0e0d0c, 0x13121110, 0x17161514, 0x1b1a1918, 0x1f1e1d1c,
                   0x00000001, 0x09000000, 0x4a000000, 0x00000000};
    EXPECT_EQ(state, setup);

    chacha20::run_rounds(state);
    State after_rounds = {0x837778ab, 0xe238d763, 0xa67ae21e, 0x5950bb2f, 0xc4f2d0c7, 0xfc62bb2f,
                          0x8fa018fc, 0x3f5ec7b7, 0x335271c2, 0xf29489f3, 0xeabda8fc, 0x82e46ebd,
                          0xd19c12b4, 0xb04e16de, 0x9e83d0cb, 0x4e3c50a2};
    EXPECT_EQ(state, after_rounds);

    EXPECT_EQ(block_of(counting_key, 1, nonce),
              hex("10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4"
                  "c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e"
                  "d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2"
                  "b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e"));
}

const std::string_view sunscreen = "Ladies and Gentlemen of the class of '99: If I could offer "
                                   "you only one tip for the future, sunscreen would be it.";

// RFC 8439 §2.4.2: two blocks and a partial third.
TEST(ChaCha20, EncryptionSunscreen) {
    std::vector<uint8_t> nonce = hex("000000000000004a00000000");
    std::vector<uint8_t> plaintext = bytes_of(sunscreen);
    ASSERT_EQ(plaintext.size(), 114u);
    EXPECT_EQ(plaintext, hex("4c 61 64 69 65 73 20 61 6e 64 20 47 65 6e 74 6c"
                             "65 6d 65 6e 20 6f 66 20 74 68 65 20 63 6c 61 73"
                             "73 20 6f 66 20 27 39 39 3a 20 49 66 20 49 20 63"
                             "6f 75 6c 64 20 6f 66 66 65 72 20 79 6f 75 20 6f"
                             "6e 6c 79 20 6f 6e 65 20 74 69 70 20 66 6f 72 20"
                             "74 68 65 20 66 75 74 75 72 65 2c 20 73 75 6e 73"
                             "63 72 65 65 6e 20 77 6f 75 6c 64 20 62 65 20 69"
                             "74 2e"));

    std::vector<uint8_t> stream(plaintext.size());
    ASSERT_TRUE(chacha20::keystream(key_of(counting_key), 1, nonce_of(nonce), stream).is_ok());
    EXPECT_EQ(stream, hex("22:4f:51:f3:40:1b:d9:e1:2f:de:27:6f:b8:63:1d:ed:8c:13:1f:82:3d:2c:06"
                          "e2:7e:4f:ca:ec:9e:f3:cf:78:8a:3b:0a:a3:72:60:0a:92:b5:79:74:cd:ed:2b"
                          "93:34:79:4c:ba:40:c6:3e:34:cd:ea:21:2c:4c:f0:7d:41:b7:69:a6:74:9f:3f"
                          "63:0f:41:22:ca:fe:28:ec:4d:c4:7e:26:d4:34:6d:70:b9:8c:73:f3:e9:c5:3a"
                          "c4:0c:59:45:39:8b:6e:da:1a:83:2c:89:c1:67:ea:cd:90:1d:7e:2b:f3:63"));

    std::vector<uint8_t> ciphertext = hex("6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81"
                                          "e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b"
                                          "f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57"
                                          "16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8"
                                          "07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e"
                                          "52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36"
                                          "5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42"
                                          "87 4d");
    EXPECT_EQ(encrypt(counting_key, 1, nonce, plaintext), ciphertext);
    EXPECT_EQ(encrypt(counting_key, 1, nonce, ciphertext), plaintext);
}

struct BlockVector {
    const char* name;
    std::vector<uint8_t> key;
    std::vector<uint8_t> nonce;
    uint32_t counter;
    std::vector<uint8_t> keystream;
};

// RFC 8439 Appendix A.1, test vectors #1 to #5.
TEST(ChaCha20, AppendixA1BlockFunction) {
    std::vector<uint8_t> key_ending_1 = zero_key;
    key_ending_1[31] = 0x01;
    std::vector<uint8_t> key_ff_second = zero_key;
    key_ff_second[1] = 0xff;
    std::vector<uint8_t> nonce_ending_2 = zero_nonce;
    nonce_ending_2[11] = 0x02;

    const BlockVector vectors[] = {
        {"#1", zero_key, zero_nonce, 0,
         hex("76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28"
             "bd d2 19 b8 a0 8d ed 1a a8 36 ef cc 8b 77 0d c7"
             "da 41 59 7c 51 57 48 8d 77 24 e0 3f b8 d8 4a 37"
             "6a 43 b8 f4 15 18 a1 1c c3 87 b6 69 b2 ee 65 86")},
        {"#2", zero_key, zero_nonce, 1,
         hex("9f 07 e7 be 55 51 38 7a 98 ba 97 7c 73 2d 08 0d"
             "cb 0f 29 a0 48 e3 65 69 12 c6 53 3e 32 ee 7a ed"
             "29 b7 21 76 9c e6 4e 43 d5 71 33 b0 74 d8 39 d5"
             "31 ed 1f 28 51 0a fb 45 ac e1 0a 1f 4b 79 4d 6f")},
        {"#3", key_ending_1, zero_nonce, 1,
         hex("3a eb 52 24 ec f8 49 92 9b 9d 82 8d b1 ce d4 dd"
             "83 20 25 e8 01 8b 81 60 b8 22 84 f3 c9 49 aa 5a"
             "8e ca 00 bb b4 a7 3b da d1 92 b5 c4 2f 73 f2 fd"
             "4e 27 36 44 c8 b3 61 25 a6 4a dd eb 00 6c 13 a0")},
        {"#4", key_ff_second, zero_nonce, 2,
         hex("72 d5 4d fb f1 2e c4 4b 36 26 92 df 94 13 7f 32"
             "8f ea 8d a7 39 90 26 5e c1 bb be a1 ae 9a f0 ca"
             "13 b2 5a a2 6c b4 a6 48 cb 9b 9d 1b e6 5b 2c 09"
             "24 a6 6c 54 d5 45 ec 1b 73 74 f4 87 2e 99 f0 96")},
        {"#5", zero_key, nonce_ending_2, 0,
         hex("c2 c6 4d 37 8c d5 36 37 4a e2 04 b9 ef 93 3f cd"
             "1a 8b 22 88 b3 df a4 96 72 ab 76 5b 54 ee 27 c7"
             "8a 97 0e 0e 95 5c 14 f3 a8 8e 74 1b 97 c2 86 f7"
             "5f 8f c2 99 e8 14 83 62 fa 19 8a 39 53 1b ed 6d")},
    };
    for (const BlockVector& vector : vectors) {
        SCOPED_TRACE(vector.name);
        EXPECT_EQ(block_of(vector.key, vector.counter, vector.nonce), vector.keystream);
    }
}

// RFC 8439 Appendix A.1 #1 also gives the matrix at the end, before serialisation.
TEST(ChaCha20, AppendixA1StateAtTheEnd) {
    State input = chacha20::initial_state(key_of(zero_key), 0, nonce_of(zero_nonce));
    State state = input;
    chacha20::run_rounds(state);
    for (size_t i = 0; i < state.size(); ++i)
        state[i] += input[i];
    State expected = {0xade0b876, 0x903df1a0, 0xe56a5d40, 0x28bd8653, 0xb819d2bd, 0x1aed8da0,
                      0xccef36a8, 0xc70d778b, 0x7c5941da, 0x8d485751, 0x3fe02477, 0x374ad8b8,
                      0xf4b8436a, 0x1ca11815, 0x69b687c3, 0x8665eeb2};
    EXPECT_EQ(state, expected);
}

// RFC 8439 Appendix A.2 #1: one block of zeros encrypts to the keystream of A.1 #1.
TEST(ChaCha20, AppendixA2Vector1) {
    std::vector<uint8_t> ciphertext = hex("76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28"
                                          "bd d2 19 b8 a0 8d ed 1a a8 36 ef cc 8b 77 0d c7"
                                          "da 41 59 7c 51 57 48 8d 77 24 e0 3f b8 d8 4a 37"
                                          "6a 43 b8 f4 15 18 a1 1c c3 87 b6 69 b2 ee 65 86");
    EXPECT_EQ(encrypt(zero_key, 0, zero_nonce, std::vector<uint8_t>(64, 0)), ciphertext);
}

const std::string_view ietf_text =
    "Any submission to the IETF intended by the Contributor for publication as all or part of "
    "an IETF Internet-Draft or RFC and any statement made within the context of an IETF "
    "activity is considered an \"IETF Contribution\". Such statements include oral statements "
    "in IETF sessions, as well as written and electronic communications made at any time or "
    "place, which are addressed to";

// RFC 8439 Appendix A.2 #2: 375 bytes, five full blocks and a partial sixth.
TEST(ChaCha20, AppendixA2Vector2) {
    std::vector<uint8_t> key = zero_key;
    key[31] = 0x01;
    std::vector<uint8_t> nonce = zero_nonce;
    nonce[11] = 0x02;
    std::vector<uint8_t> plaintext = bytes_of(ietf_text);
    ASSERT_EQ(plaintext.size(), 375u);
    // Spot checks of the plaintext against the RFC's hex dump (first and last lines).
    EXPECT_EQ(std::vector<uint8_t>(plaintext.begin(), plaintext.begin() + 16),
              hex("41 6e 79 20 73 75 62 6d 69 73 73 69 6f 6e 20 74"));
    EXPECT_EQ(std::vector<uint8_t>(plaintext.begin() + 368, plaintext.end()),
              hex("73 73 65 64 20 74 6f"));

    std::vector<uint8_t> ciphertext = hex("a3 fb f0 7d f3 fa 2f de 4f 37 6c a2 3e 82 73 70"
                                          "41 60 5d 9f 4f 4f 57 bd 8c ff 2c 1d 4b 79 55 ec"
                                          "2a 97 94 8b d3 72 29 15 c8 f3 d3 37 f7 d3 70 05"
                                          "0e 9e 96 d6 47 b7 c3 9f 56 e0 31 ca 5e b6 25 0d"
                                          "40 42 e0 27 85 ec ec fa 4b 4b b5 e8 ea d0 44 0e"
                                          "20 b6 e8 db 09 d8 81 a7 c6 13 2f 42 0e 52 79 50"
                                          "42 bd fa 77 73 d8 a9 05 14 47 b3 29 1c e1 41 1c"
                                          "68 04 65 55 2a a6 c4 05 b7 76 4d 5e 87 be a8 5a"
                                          "d0 0f 84 49 ed 8f 72 d0 d6 62 ab 05 26 91 ca 66"
                                          "42 4b c8 6d 2d f8 0e a4 1f 43 ab f9 37 d3 25 9d"
                                          "c4 b2 d0 df b4 8a 6c 91 39 dd d7 f7 69 66 e9 28"
                                          "e6 35 55 3b a7 6c 5c 87 9d 7b 35 d4 9e b2 e6 2b"
                                          "08 71 cd ac 63 89 39 e2 5e 8a 1e 0e f9 d5 28 0f"
                                          "a8 ca 32 8b 35 1c 3c 76 59 89 cb cf 3d aa 8b 6c"
                                          "cc 3a af 9f 39 79 c9 2b 37 20 fc 88 dc 95 ed 84"
                                          "a1 be 05 9c 64 99 b9 fd a2 36 e7 e8 18 b0 4b 0b"
                                          "c3 9c 1e 87 6b 19 3b fe 55 69 75 3f 88 12 8c c0"
                                          "8a aa 9b 63 d1 a1 6f 80 ef 25 54 d7 18 9c 41 1f"
                                          "58 69 ca 52 c5 b8 3f a3 6f f2 16 b9 c1 d3 00 62"
                                          "be bc fd 2d c5 bc e0 91 19 34 fd a7 9a 86 f6 e6"
                                          "98 ce d7 59 c3 ff 9b 64 77 33 8f 3d a4 f9 cd 85"
                                          "14 ea 99 82 cc af b3 41 b2 38 4d d9 02 f3 d1 ab"
                                          "7a c6 1d d2 9c 6f 21 ba 5b 86 2f 37 30 e3 7c fd"
                                          "c4 fd 80 6c 22 f2 21");
    EXPECT_EQ(encrypt(key, 1, nonce, plaintext), ciphertext);
    EXPECT_EQ(encrypt(key, 1, nonce, ciphertext), plaintext);
}

const std::string_view jabberwocky = "'Twas brillig, and the slithy toves\n"
                                     "Did gyre and gimble in the wabe:\n"
                                     "All mimsy were the borogoves,\n"
                                     "And the mome raths outgrabe.";

// RFC 8439 Appendix A.2 #3: a random key and a counter of 42.
TEST(ChaCha20, AppendixA2Vector3) {
    std::vector<uint8_t> key = hex("1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0"
                                   "47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0");
    std::vector<uint8_t> nonce = zero_nonce;
    nonce[11] = 0x02;
    std::vector<uint8_t> plaintext = bytes_of(jabberwocky);
    EXPECT_EQ(plaintext, hex("27 54 77 61 73 20 62 72 69 6c 6c 69 67 2c 20 61"
                             "6e 64 20 74 68 65 20 73 6c 69 74 68 79 20 74 6f"
                             "76 65 73 0a 44 69 64 20 67 79 72 65 20 61 6e 64"
                             "20 67 69 6d 62 6c 65 20 69 6e 20 74 68 65 20 77"
                             "61 62 65 3a 0a 41 6c 6c 20 6d 69 6d 73 79 20 77"
                             "65 72 65 20 74 68 65 20 62 6f 72 6f 67 6f 76 65"
                             "73 2c 0a 41 6e 64 20 74 68 65 20 6d 6f 6d 65 20"
                             "72 61 74 68 73 20 6f 75 74 67 72 61 62 65 2e"));

    std::vector<uint8_t> ciphertext = hex("62 e6 34 7f 95 ed 87 a4 5f fa e7 42 6f 27 a1 df"
                                          "5f b6 91 10 04 4c 0d 73 11 8e ff a9 5b 01 e5 cf"
                                          "16 6d 3d f2 d7 21 ca f9 b2 1e 5f b1 4c 61 68 71"
                                          "fd 84 c5 4f 9d 65 b2 83 19 6c 7f e4 f6 05 53 eb"
                                          "f3 9c 64 02 c4 22 34 e3 2a 35 6b 3e 76 43 12 a6"
                                          "1a 55 32 05 57 16 ea d6 96 25 68 f8 7d 3f 3f 77"
                                          "04 c6 a8 d1 bc d1 bf 4d 50 d6 15 4b 6d a7 31 b1"
                                          "87 b5 8d fd 72 8a fa 36 75 7a 79 7a c1 88 d1");
    EXPECT_EQ(encrypt(key, 42, nonce, plaintext), ciphertext);
    EXPECT_EQ(encrypt(key, 42, nonce, ciphertext), plaintext);
}

// The keystream is the blocks for counter, counter + 1, ... laid end to end, so it
// can be produced a block-aligned piece at a time.
TEST(ChaCha20, KeystreamIsConsecutiveBlocks) {
    std::vector<uint8_t> nonce = hex("000000000000004a00000000");
    std::vector<uint8_t> whole(5 * 64 + 17);
    ASSERT_TRUE(chacha20::keystream(key_of(counting_key), 7, nonce_of(nonce), whole).is_ok());
    for (uint32_t i = 0; i < 5; ++i) {
        std::vector<uint8_t> expected = block_of(counting_key, 7 + i, nonce);
        EXPECT_TRUE(std::equal(expected.begin(), expected.end(), whole.begin() + 64 * i)) << i;
    }
    std::vector<uint8_t> last = block_of(counting_key, 12, nonce);
    EXPECT_TRUE(std::equal(whole.begin() + 5 * 64, whole.end(), last.begin()));

    // Every length up to three blocks is a prefix of the longer stream.
    for (size_t length = 0; length <= 3 * 64; ++length) {
        std::vector<uint8_t> prefix(length, 0xaa);
        ASSERT_TRUE(chacha20::keystream(key_of(counting_key), 7, nonce_of(nonce), prefix).is_ok());
        EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), whole.begin())) << length;
    }
}

// The counter must not wrap: the block for 2^32 - 1 is the last one.
TEST(ChaCha20, CounterOverflow) {
    std::vector<uint8_t> last_block(64, 0x5a);
    EXPECT_TRUE(chacha20::keystream(key_of(zero_key), 0xffffffff, nonce_of(zero_nonce), last_block)
                    .is_ok());
    EXPECT_EQ(last_block, block_of(zero_key, 0xffffffff, zero_nonce));

    std::vector<uint8_t> too_long(65, 0x5a);
    auto result = chacha20::keystream(key_of(zero_key), 0xffffffff, nonce_of(zero_nonce), too_long);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error(), ChaChaError::CounterOverflow);
    EXPECT_EQ(too_long, std::vector<uint8_t>(65, 0x5a)) << "output touched on error";

    std::vector<uint8_t> data(129, 0x33);
    auto xored = chacha20::xor_stream(key_of(zero_key), 0xfffffffe, nonce_of(zero_nonce), data);
    ASSERT_TRUE(xored.is_error());
    EXPECT_EQ(xored.error(), ChaChaError::CounterOverflow);
    EXPECT_EQ(data, std::vector<uint8_t>(129, 0x33)) << "data touched on error";
    data.resize(128);
    EXPECT_TRUE(
        chacha20::xor_stream(key_of(zero_key), 0xfffffffe, nonce_of(zero_nonce), data).is_ok());

    std::vector<uint8_t> empty;
    EXPECT_TRUE(
        chacha20::keystream(key_of(zero_key), 0xffffffff, nonce_of(zero_nonce), empty).is_ok());
    EXPECT_STREQ(to_string(ChaChaError::CounterOverflow), "ChaCha20 block counter overflow");
}

TEST(ChaCha20, SecureZero) {
    std::vector<uint8_t> bytes(37, 0xee);
    secure_zero(std::span(bytes).subspan(1, 35));
    EXPECT_EQ(bytes.front(), 0xee);
    EXPECT_EQ(bytes.back(), 0xee);
    for (size_t i = 1; i < 36; ++i)
        EXPECT_EQ(bytes[i], 0) << i;
    secure_zero({});
}

} // namespace
} // namespace capos
