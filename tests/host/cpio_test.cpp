// Host tests for lib/archive: writer -> reader round trips, the writer's exact
// output, and one hand-made bad archive per reader error, plus truncation at every
// offset and random corruption (which must give errors, never crashes).
#include "lib/archive/cpio.h"
#include "lib/archive/cpio_writer.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace capos {
namespace {

using namespace std::string_literals;

struct TestEntry {
    std::string name;
    std::string data;
    uint32_t mode = CpioWriter::default_mode;
};

std::span<const uint8_t> as_bytes(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string_view as_text(std::span<const uint8_t> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// An archive of entries, built with CpioWriter.
std::string build(const std::vector<TestEntry>& entries) {
    size_t size = CpioWriter::trailer_size;
    for (const TestEntry& entry : entries)
        size += CpioWriter::encoded_size(entry.name, entry.data.size());
    std::vector<uint8_t> out(size, 0xee);
    CpioWriter writer;
    size_t at = 0;
    for (const TestEntry& entry : entries) {
        auto appended = writer.append(out, at, entry.name, as_bytes(entry.data), entry.mode);
        EXPECT_TRUE(appended.is_ok());
        EXPECT_EQ(appended.value(), at + CpioWriter::encoded_size(entry.name, entry.data.size()));
        at = appended.value();
    }
    auto finished = writer.finish(out, at);
    EXPECT_TRUE(finished.is_ok());
    EXPECT_EQ(finished.value(), size);
    return std::string(out.begin(), out.end());
}

// A raw 110-byte header with the given fields and zeros elsewhere.
std::string header(uint32_t name_size, uint32_t file_size, uint32_t mode = 0100644,
                   uint32_t ino = 1) {
    char text[cpio::header_size + 1];
    std::snprintf(text, sizeof text, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                  ino, mode, 0u, 0u, 1u, 0u, file_size, 0u, 0u, 0u, 0u, name_size, 0u);
    return std::string(text, cpio::header_size);
}

std::string zeros_to_align(size_t length) {
    return std::string(cpio::align4(length) - length, '\0');
}

// A raw entry: header, name bytes exactly as given (caller adds the NUL),
// padding, data, padding; name_size defaults to the name bytes' length.
std::string raw_entry(std::string_view name_bytes, std::string_view data, int64_t name_size = -1) {
    uint32_t declared =
        name_size < 0 ? static_cast<uint32_t>(name_bytes.size()) : static_cast<uint32_t>(name_size);
    std::string entry = header(declared, static_cast<uint32_t>(data.size()));
    entry += name_bytes;
    entry += zeros_to_align(entry.size());
    entry += data;
    entry += zeros_to_align(entry.size());
    return entry;
}

std::string trailer() {
    return raw_entry("TRAILER!!!\0"s, "");
}

Result<CpioArchive, ArchiveError> open(const std::string& bytes) {
    return CpioArchive::open(as_bytes(bytes));
}

// Opens bytes expecting failure with code at offset.
void expect_error(const std::string& bytes, ArchiveErrorCode code, size_t offset) {
    auto opened = open(bytes);
    ASSERT_TRUE(opened.is_error()) << "expected " << to_string(code);
    EXPECT_EQ(opened.error().code, code)
        << "got " << to_string(opened.error().code) << ", expected " << to_string(code);
    EXPECT_EQ(opened.error().offset, offset);
}

const std::vector<TestEntry> sample = {
    {"init",
     "\x7f"
     "ELF and more bytes",
     0100755},
    {"empty", ""},
    {"etc/motd.txt", "hello, capOS\n"},
    {"abc", "abcd"},
};

TEST(Cpio, RoundTrip) {
    std::string bytes = build(sample);
    auto opened = open(bytes);
    ASSERT_TRUE(opened.is_ok()) << to_string(opened.error().code);
    const CpioArchive& archive = opened.value();
    EXPECT_EQ(archive.entry_count(), sample.size());

    size_t index = 0;
    for (ArchiveEntry entry : archive) {
        ASSERT_LT(index, sample.size());
        EXPECT_EQ(entry.name, sample[index].name);
        EXPECT_EQ(as_text(entry.data), sample[index].data);
        EXPECT_EQ(entry.mode, sample[index].mode);
        // Data views point into the caller's bytes.
        EXPECT_GE(entry.data.data(), as_bytes(bytes).data());
        EXPECT_LE(entry.data.data() + entry.data.size(), as_bytes(bytes).data() + bytes.size());
        ++index;
    }
    EXPECT_EQ(index, sample.size());

    for (const TestEntry& expected : sample) {
        auto found = archive.find(expected.name);
        ASSERT_TRUE(found.has_value()) << expected.name;
        EXPECT_EQ(found->name, expected.name);
        EXPECT_EQ(as_text(found->data), expected.data);
        EXPECT_EQ(found->mode, expected.mode);
    }
    EXPECT_FALSE(archive.find("missing").has_value());
    EXPECT_FALSE(archive.find("ab").has_value());
    EXPECT_FALSE(archive.find("abcd").has_value());
    EXPECT_FALSE(archive.find("").has_value());
    EXPECT_FALSE(archive.find("TRAILER!!!").has_value());
}

TEST(Cpio, TrailerOnlyArchiveIsEmpty) {
    std::string bytes = build({});
    EXPECT_EQ(bytes.size(), CpioWriter::trailer_size);
    auto opened = open(bytes);
    ASSERT_TRUE(opened.is_ok());
    EXPECT_EQ(opened.value().entry_count(), 0u);
    EXPECT_FALSE(opened.value().begin() != opened.value().end());
    EXPECT_FALSE(opened.value().find("TRAILER!!!").has_value());
}

TEST(Cpio, WriterOutputIsExact) {
    std::string expected = "070701"
                           "00000001"
                           "000081A4"
                           "00000000"
                           "00000000"
                           "00000001"
                           "00000000"
                           "00000003"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000002"
                           "00000000"
                           "a\0"
                           "xyz\0"
                           "070701"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000001"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000000"
                           "00000000"
                           "0000000B"
                           "00000000"
                           "TRAILER!!!\0\0\0\0"s;
    std::string built = build({{"a", "xyz"}});
    EXPECT_EQ(built, expected);
    EXPECT_EQ(build(sample), build(sample)); // deterministic
    EXPECT_EQ(CpioWriter::encoded_size("a", 3), 116u);
    EXPECT_EQ(CpioWriter::trailer_size, 124u);
}

TEST(Cpio, InodesCountFromOne) {
    std::string bytes = build(sample);
    auto opened = open(bytes);
    ASSERT_TRUE(opened.is_ok());
    uint32_t ino = 1;
    for (ArchiveEntry entry : opened.value()) {
        size_t header_offset = static_cast<size_t>(
            reinterpret_cast<const char*>(entry.name.data()) - bytes.data() - cpio::header_size);
        char expected[9];
        std::snprintf(expected, sizeof expected, "%08X", ino++);
        EXPECT_EQ(bytes.substr(header_offset + 6, 8), expected);
    }
}

TEST(Cpio, AcceptsLowerCaseHexAndTrailingPadding) {
    std::string bytes = raw_entry("lower\0"s, "0123456789a");
    for (size_t i = 6; i < cpio::header_size; ++i)
        bytes[i] = static_cast<char>(std::tolower(bytes[i]));
    bytes += trailer();
    bytes += std::string(512 - bytes.size() % 512, '\0');
    bytes += "garbage after the trailer is not read";
    auto opened = open(bytes);
    ASSERT_TRUE(opened.is_ok());
    ASSERT_EQ(opened.value().entry_count(), 1u);
    EXPECT_EQ(as_text(opened.value().find("lower")->data), "0123456789a");
}

TEST(Cpio, NameOfMaximumLength) {
    std::string longest(cpio::max_name_length, 'n');
    std::string bytes = build({{longest, "x"}});
    auto opened = open(bytes);
    ASSERT_TRUE(opened.is_ok());
    EXPECT_TRUE(opened.value().find(longest).has_value());
}

TEST(Cpio, TruncatedAtEveryOffsetFails) {
    std::string bytes = build(sample);
    for (size_t length = 0; length < bytes.size(); ++length) {
        std::string prefix = bytes.substr(0, length);
        auto opened = open(prefix);
        ASSERT_TRUE(opened.is_error()) << "length " << length;
        EXPECT_LE(opened.error().offset, length);
    }
}

TEST(Cpio, Truncated) {
    std::string bytes = build(sample);
    expect_error(bytes.substr(0, 50), ArchiveErrorCode::Truncated, 0);
    // Header complete, name cut short.
    expect_error(bytes.substr(0, cpio::header_size + 2), ArchiveErrorCode::Truncated, 0);
    // The name's NUL present but not its padding.
    std::string entry = raw_entry("ab\0"s, "");
    expect_error(entry.substr(0, cpio::header_size + 3), ArchiveErrorCode::Truncated, 0);
}

TEST(Cpio, BadMagic) {
    std::string bytes = build(sample);
    std::string bad = bytes;
    bad[5] = '2'; // "070702", the CRC variant, is not accepted
    expect_error(bad, ArchiveErrorCode::BadMagic, 0);
    bad = bytes;
    bad[0] = 'x';
    expect_error(bad, ArchiveErrorCode::BadMagic, 0);
    // In a later header, the error names that header.
    size_t second = CpioWriter::encoded_size(sample[0].name, sample[0].data.size());
    bad = bytes;
    bad[second + 1] = '8';
    expect_error(bad, ArchiveErrorCode::BadMagic, second);
    expect_error(std::string(200, '\0'), ArchiveErrorCode::BadMagic, 0);
}

TEST(Cpio, BadHexFieldInEveryField) {
    std::string bytes = build(sample);
    for (size_t field = 0; field < cpio::field_count; ++field) {
        for (char bad_digit : {'g', 'G', ' ', 'x', '-', '\0', '\xff'}) {
            std::string bad = bytes;
            bad[6 + 8 * field + 3] = bad_digit;
            expect_error(bad, ArchiveErrorCode::BadHexField, 0);
        }
    }
}

TEST(Cpio, NameTooLong) {
    std::string name(cpio::max_name_length + 1, 'n');
    expect_error(raw_entry(name + '\0', "") + trailer(), ArchiveErrorCode::NameTooLong, 0);
    // A huge declared size is rejected before any bounds arithmetic.
    expect_error(header(0xffffffff, 0) + trailer(), ArchiveErrorCode::NameTooLong, 0);
}

TEST(Cpio, NameNotTerminated) {
    expect_error(raw_entry("abcd", "") + trailer(), ArchiveErrorCode::NameNotTerminated, 0);
    // An embedded NUL would make the name ambiguous.
    expect_error(raw_entry("a\0b\0"s, "") + trailer(), ArchiveErrorCode::NameNotTerminated, 0);
    // Name size one short of the NUL.
    expect_error(raw_entry("abc\0"s, "", 3) + trailer(), ArchiveErrorCode::NameNotTerminated, 0);
    // In the trailer itself.
    std::string first = raw_entry("ok\0"s, "data");
    expect_error(first + raw_entry("TRAILER!!!", ""), ArchiveErrorCode::NameNotTerminated,
                 first.size());
}

TEST(Cpio, EmptyName) {
    expect_error(raw_entry("", "") + trailer(), ArchiveErrorCode::EmptyName, 0);
    expect_error(raw_entry("\0"s, "") + trailer(), ArchiveErrorCode::EmptyName, 0);
}

TEST(Cpio, DataOutOfBounds) {
    std::string entry = raw_entry("file\0"s, "");
    // File size far past the end.
    std::string bad = header(5, 0xffffffff) + entry.substr(cpio::header_size) + trailer();
    expect_error(bad, ArchiveErrorCode::DataOutOfBounds, 0);
    // File size one byte past the end.
    std::string rest = entry.substr(cpio::header_size) + trailer();
    size_t room = rest.size() - cpio::align4(cpio::header_size + 5) + cpio::header_size;
    bad = header(5, static_cast<uint32_t>(room + 1)) + rest;
    expect_error(bad, ArchiveErrorCode::DataOutOfBounds, 0);
    // Data present but its padding missing.
    std::string one_byte = raw_entry("file\0"s, "z");
    expect_error(one_byte.substr(0, one_byte.size() - 3), ArchiveErrorCode::DataOutOfBounds, 0);
    // In a later entry.
    std::string first = raw_entry("first\0"s, "1234");
    expect_error(first + header(7, 1000) + "second\0"s + std::string(3, '\0') + trailer(),
                 ArchiveErrorCode::DataOutOfBounds, first.size());
}

TEST(Cpio, MissingTrailer) {
    expect_error("", ArchiveErrorCode::MissingTrailer, 0);
    std::string bytes = build(sample);
    size_t without_trailer = bytes.size() - CpioWriter::trailer_size;
    expect_error(bytes.substr(0, without_trailer), ArchiveErrorCode::MissingTrailer,
                 without_trailer);
}

TEST(Cpio, DuplicateName) {
    std::string a = raw_entry("a\0"s, "1");
    std::string ab = raw_entry("ab\0"s, "2");
    std::string b = raw_entry("b\0"s, "3");
    ASSERT_TRUE(open(a + ab + b + trailer()).is_ok());
    expect_error(a + ab + b + a + trailer(), ArchiveErrorCode::DuplicateName,
                 a.size() + ab.size() + b.size());
    // The first repeat is reported, even when an earlier name repeats later.
    expect_error(a + b + b + a + trailer(), ArchiveErrorCode::DuplicateName, a.size() + b.size());
}

std::string many_entries(size_t count) {
    std::string bytes;
    char name[16];
    for (size_t i = 0; i < count; ++i) {
        int length = std::snprintf(name, sizeof name, "f%05zu", i);
        bytes += raw_entry(std::string_view(name, static_cast<size_t>(length) + 1), "");
    }
    return bytes;
}

TEST(Cpio, TooManyEntries) {
    std::string limit = many_entries(cpio::max_entries);
    std::string full = limit + trailer();
    auto opened = open(full);
    ASSERT_TRUE(opened.is_ok());
    EXPECT_EQ(opened.value().entry_count(), cpio::max_entries);
    EXPECT_TRUE(opened.value().find("f04095").has_value());
    std::string over = limit + raw_entry("one-more\0"s, "") + trailer();
    expect_error(over, ArchiveErrorCode::TooManyEntries, limit.size());
}

TEST(Cpio, ErrorsHaveNames) {
    for (auto code : {ArchiveErrorCode::Truncated, ArchiveErrorCode::BadMagic,
                      ArchiveErrorCode::BadHexField, ArchiveErrorCode::NameTooLong,
                      ArchiveErrorCode::NameNotTerminated, ArchiveErrorCode::EmptyName,
                      ArchiveErrorCode::DataOutOfBounds, ArchiveErrorCode::MissingTrailer,
                      ArchiveErrorCode::DuplicateName, ArchiveErrorCode::TooManyEntries})
        EXPECT_STRNE(to_string(code), "unknown archive error");
}

TEST(CpioWriter, RejectsBadEntries) {
    std::vector<uint8_t> out(4096);
    std::span<const uint8_t> data = as_bytes("data");
    CpioWriter writer;
    EXPECT_EQ(writer.append(out, 0, "", data).error(), ArchiveErrorCode::EmptyName);
    EXPECT_EQ(writer.append(out, 0, std::string(256, 'n'), data).error(),
              ArchiveErrorCode::NameTooLong);
    EXPECT_EQ(writer.append(out, 0, "a\0b"s, data).error(), ArchiveErrorCode::NameNotTerminated);
    EXPECT_EQ(writer.append(out, 0, "TRAILER!!!", data).error(), ArchiveErrorCode::DuplicateName);
    EXPECT_EQ(writer.append(out, 2, "name", data).error(), ArchiveErrorCode::DataOutOfBounds);
    EXPECT_EQ(writer.append(std::span(out).first(100), 0, "name", data).error(),
              ArchiveErrorCode::Truncated);
    size_t needed = CpioWriter::encoded_size("name", 4);
    EXPECT_EQ(writer.append(std::span(out).first(needed - 1), 0, "name", data).error(),
              ArchiveErrorCode::Truncated);
    EXPECT_EQ(writer.append(out, 4096, "name", data).error(), ArchiveErrorCode::Truncated);
    EXPECT_EQ(writer.append(out, 8192, "name", data).error(), ArchiveErrorCode::Truncated);
    EXPECT_EQ(writer.entry_count(), 0u);
    EXPECT_EQ(writer.finish(std::span(out).first(CpioWriter::trailer_size - 1), 0).error(),
              ArchiveErrorCode::Truncated);
    EXPECT_EQ(writer.finish(out, 1).error(), ArchiveErrorCode::DataOutOfBounds);

    // A failed append leaves the writer as it was: the next entry is inode 1.
    size_t at = writer.append(std::span(out).first(needed), 0, "name", data).value();
    EXPECT_EQ(at, needed);
    size_t end = writer.finish(out, at).value();
    auto opened = CpioArchive::open(std::span(out).first(end));
    ASSERT_TRUE(opened.is_ok());
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out.data()) + 6, 8), "00000001");
}

TEST(CpioWriter, StopsAtTheEntryLimit) {
    std::vector<uint8_t> out(CpioWriter::encoded_size("f00000", 0));
    CpioWriter writer;
    for (size_t i = 0; i < cpio::max_entries; ++i)
        ASSERT_TRUE(writer.append(out, 0, "f00000", {}).is_ok());
    EXPECT_EQ(writer.append(out, 0, "f00000", {}).error(), ArchiveErrorCode::TooManyEntries);
}

// Random corruption of a valid archive: open() may accept or reject, but must
// never read out of bounds (ASan watches), and what it accepts must be consistent.
TEST(Cpio, SurvivesRandomCorruption) {
    const std::string valid = build(sample);
    std::mt19937 random(7);
    for (int round = 0; round < 20000; ++round) {
        std::string bytes = valid;
        int flips = static_cast<int>(random() % 4) + 1;
        for (int i = 0; i < flips; ++i) {
            size_t at = random() % bytes.size();
            switch (random() % 3) {
            case 0:
                bytes[at] = static_cast<char>(random());
                break;
            case 1:
                bytes[at] = "0123456789abcdefABCDEF"[random() % 22];
                break;
            case 2:
                bytes.resize(at);
                break;
            }
            if (bytes.empty())
                break;
        }
        // A private copy of exactly the right size, so ASan sees any overread.
        std::vector<uint8_t> exact(bytes.begin(), bytes.end());
        auto opened = CpioArchive::open(exact);
        if (opened.is_error()) {
            ASSERT_LE(opened.error().offset, exact.size());
            continue;
        }
        size_t count = 0;
        for (ArchiveEntry entry : opened.value()) {
            ++count;
            ASSERT_FALSE(entry.name.empty());
            ASSERT_LE(entry.name.size(), cpio::max_name_length);
            auto found = opened.value().find(entry.name);
            ASSERT_TRUE(found.has_value());
            ASSERT_EQ(found->data.data(), entry.data.data());
        }
        ASSERT_EQ(count, opened.value().entry_count());
    }
}

} // namespace
} // namespace capos
