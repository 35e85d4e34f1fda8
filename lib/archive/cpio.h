// Reader for the boot archive: a cpio "newc" archive (see cpio(5)). Each entry is
// a 110-byte ASCII header (magic "070701" and 13 eight-digit hex fields), the NUL-
// terminated name padded so header plus name end on a 4-byte boundary, then the data
// padded to 4 bytes. The archive ends with an entry named "TRAILER!!!"; anything
// after the trailer (block padding) is ignored.
//
// The bytes are hostile. open() checks the whole archive before returning, with no
// side effects and no allocation; once it succeeds, iteration and lookup cannot fail
// and only hand out views into the caller's bytes, which must outlive the archive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "lib/base/result.h"

namespace capos {

enum class ArchiveErrorCode : uint8_t {
    Truncated,         // a header, name or name padding runs past the end of the bytes
    BadMagic,          // a header does not start with "070701"
    BadHexField,       // a header field holds a character that is not a hex digit
    NameTooLong,       // the name is longer than max_name_length
    NameNotTerminated, // the name does not end in its only NUL byte
    EmptyName,         // the name has no characters before its NUL
    DataOutOfBounds,   // the data or its padding runs past the end of the bytes
    MissingTrailer,    // the entries end without a "TRAILER!!!" entry
    DuplicateName,     // two entries share a name (or the writer was given the trailer's)
    TooManyEntries,    // more than max_entries entries
};

const char* to_string(ArchiveErrorCode code);

struct ArchiveError {
    ArchiveErrorCode code;
    size_t offset; // offset of the header of the entry that failed
};

struct ArchiveEntry {
    std::string_view name; // without the NUL
    std::span<const uint8_t> data;
    uint32_t mode; // st_mode bits as stored, e.g. 0100644
};

// Format constants shared with CpioWriter.
namespace cpio {
inline constexpr std::string_view magic = "070701";
inline constexpr std::string_view trailer_name = "TRAILER!!!";
inline constexpr size_t header_size = 110;
inline constexpr size_t field_count = 13;
inline constexpr size_t max_name_length = 255;
inline constexpr size_t max_entries = 4096;
// Headers, and the data after a name, start at multiples of 4 from the archive start.
constexpr size_t align4(size_t value) {
    return (value + 3) & ~size_t{3};
}
} // namespace cpio

class CpioArchive {
public:
    static constexpr size_t max_name_length = cpio::max_name_length;
    static constexpr size_t max_entries = cpio::max_entries;

    // Validates every header (magic, hex fields, name length and termination, data
    // bounds), the entry limit, the trailer, and that no two entries share a name.
    // The error names the first failing header's offset. Duplicate names are
    // found by comparing every pair after the structure checks pass: at most
    // max_entries^2 / 2 comparisons, each cut short by a length mismatch, which
    // needs no memory and is fast enough for a boot archive checked once.
    static Result<CpioArchive, ArchiveError> open(std::span<const uint8_t> bytes);

    // Entries before the trailer.
    size_t entry_count() const { return m_entry_count; }

    // The entry named exactly name, if any. Linear in the number of entries.
    std::optional<ArchiveEntry> find(std::string_view name) const;

    // Walks the entries in archive order, trailer excluded.
    class Iterator {
    public:
        ArchiveEntry operator*() const;
        Iterator& operator++();
        bool operator!=(const Iterator& other) const { return m_offset != other.m_offset; }
        bool operator==(const Iterator& other) const { return m_offset == other.m_offset; }

    private:
        friend class CpioArchive;
        Iterator(std::span<const uint8_t> bytes, size_t offset)
            : m_bytes(bytes), m_offset(offset) {}

        std::span<const uint8_t> m_bytes;
        size_t m_offset;
    };

    Iterator begin() const { return Iterator(m_bytes, 0); }
    Iterator end() const { return Iterator(m_bytes, m_trailer_offset); }

private:
    CpioArchive(std::span<const uint8_t> bytes, size_t entry_count, size_t trailer_offset)
        : m_bytes(bytes), m_entry_count(entry_count), m_trailer_offset(trailer_offset) {}

    std::span<const uint8_t> m_bytes;
    size_t m_entry_count;
    size_t m_trailer_offset; // offset of the trailer's header
};

} // namespace capos
