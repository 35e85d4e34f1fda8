#include "lib/archive/cpio.h"

namespace capos {

namespace {

// Positions of the 13 hex fields after the magic, in header order.
enum class Field : size_t {
    Ino,
    Mode,
    Uid,
    Gid,
    Nlink,
    Mtime,
    FileSize,
    DevMajor,
    DevMinor,
    RdevMajor,
    RdevMinor,
    NameSize,
    Check,
};

constexpr size_t field_width = 8;
static_assert(cpio::magic.size() + cpio::field_count * field_width == cpio::header_size);

using cpio::align4;

constexpr int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// The header at bytes[offset], already known to be complete.
class Header {
public:
    Header(std::span<const uint8_t> bytes, size_t offset) : m_header(bytes.subspan(offset)) {}

    bool has_magic() const {
        for (size_t i = 0; i < cpio::magic.size(); ++i) {
            if (m_header[i] != static_cast<uint8_t>(cpio::magic[i]))
                return false;
        }
        return true;
    }

    bool field_is_hex(Field field) const {
        size_t start = cpio::magic.size() + static_cast<size_t>(field) * field_width;
        for (size_t i = 0; i < field_width; ++i) {
            if (hex_digit(m_header[start + i]) < 0)
                return false;
        }
        return true;
    }

    // Only meaningful once field_is_hex(field) holds.
    uint32_t field(Field field) const {
        size_t start = cpio::magic.size() + static_cast<size_t>(field) * field_width;
        uint32_t value = 0;
        for (size_t i = 0; i < field_width; ++i)
            value = value << 4 | static_cast<uint32_t>(hex_digit(m_header[start + i]));
        return value;
    }

private:
    std::span<const uint8_t> m_header;
};

// Where an entry's parts lie; all offsets are into the whole archive.
struct Layout {
    size_t name_offset;
    size_t name_length; // without the NUL
    size_t data_offset;
    size_t data_size;
    size_t next_offset; // the next header
    uint32_t mode;
};

// Decodes the entry at offset without checks: only for entries open() validated.
Layout layout_at(std::span<const uint8_t> bytes, size_t offset) {
    Header header(bytes, offset);
    size_t name_size = header.field(Field::NameSize);
    size_t data_size = header.field(Field::FileSize);
    size_t name_offset = offset + cpio::header_size;
    size_t data_offset = align4(name_offset + name_size);
    return Layout{name_offset,
                  name_size - 1,
                  data_offset,
                  data_size,
                  align4(data_offset + data_size),
                  header.field(Field::Mode)};
}

std::string_view name_of(std::span<const uint8_t> bytes, const Layout& layout) {
    return std::string_view(reinterpret_cast<const char*>(bytes.data() + layout.name_offset),
                            layout.name_length);
}

// Checks the entry whose header starts at offset (offset <= bytes.size(), a
// multiple of 4) and returns its layout.
Result<Layout, ArchiveErrorCode> check_entry(std::span<const uint8_t> bytes, size_t offset) {
    size_t available = bytes.size() - offset;
    if (available < cpio::header_size)
        return Err{ArchiveErrorCode::Truncated};
    Header header(bytes, offset);
    if (!header.has_magic())
        return Err{ArchiveErrorCode::BadMagic};
    for (size_t field = 0; field < cpio::field_count; ++field) {
        if (!header.field_is_hex(static_cast<Field>(field)))
            return Err{ArchiveErrorCode::BadHexField};
    }

    size_t name_size = header.field(Field::NameSize); // NUL included
    if (name_size == 0)
        return Err{ArchiveErrorCode::EmptyName};
    if (name_size - 1 > cpio::max_name_length)
        return Err{ArchiveErrorCode::NameTooLong};
    // Both values are below 2^9 here, so the sums cannot overflow.
    size_t data_start = align4(cpio::header_size + name_size);
    if (data_start > available)
        return Err{ArchiveErrorCode::Truncated};
    const uint8_t* name = bytes.data() + offset + cpio::header_size;
    for (size_t i = 0; i + 1 < name_size; ++i) {
        if (name[i] == 0)
            return Err{ArchiveErrorCode::NameNotTerminated};
    }
    if (name[name_size - 1] != 0)
        return Err{ArchiveErrorCode::NameNotTerminated};
    if (name_size == 1)
        return Err{ArchiveErrorCode::EmptyName};

    // data_size < 2^32 and data_start <= available, so nothing here overflows. The
    // padding after the data must be present too: the next header starts there.
    size_t data_size = header.field(Field::FileSize);
    if (align4(data_size) > available - data_start)
        return Err{ArchiveErrorCode::DataOutOfBounds};
    return layout_at(bytes, offset);
}

} // namespace

const char* to_string(ArchiveErrorCode code) {
    switch (code) {
    case ArchiveErrorCode::Truncated:
        return "archive truncated";
    case ArchiveErrorCode::BadMagic:
        return "bad cpio magic";
    case ArchiveErrorCode::BadHexField:
        return "bad hex field in cpio header";
    case ArchiveErrorCode::NameTooLong:
        return "entry name too long";
    case ArchiveErrorCode::NameNotTerminated:
        return "entry name not NUL-terminated";
    case ArchiveErrorCode::EmptyName:
        return "empty entry name";
    case ArchiveErrorCode::DataOutOfBounds:
        return "entry data out of bounds";
    case ArchiveErrorCode::MissingTrailer:
        return "archive trailer missing";
    case ArchiveErrorCode::DuplicateName:
        return "duplicate entry name";
    case ArchiveErrorCode::TooManyEntries:
        return "too many archive entries";
    }
    return "unknown archive error";
}

Result<CpioArchive, ArchiveError> CpioArchive::open(std::span<const uint8_t> bytes) {
    // 1. Structure: every header up to and including the trailer.
    size_t offset = 0;
    size_t count = 0;
    for (;;) {
        if (offset == bytes.size())
            return Err{ArchiveError{ArchiveErrorCode::MissingTrailer, offset}};
        auto checked = check_entry(bytes, offset);
        if (checked.is_error())
            return Err{ArchiveError{checked.error(), offset}};
        const Layout& layout = checked.value();
        if (name_of(bytes, layout) == cpio::trailer_name)
            break;
        if (count == max_entries)
            return Err{ArchiveError{ArchiveErrorCode::TooManyEntries, offset}};
        ++count;
        offset = layout.next_offset;
    }
    size_t trailer_offset = offset;

    // 2. Names: each entry against every earlier one, so the error names the first
    // entry that repeats a name.
    for (size_t later = 0; later != trailer_offset;) {
        Layout later_layout = layout_at(bytes, later);
        std::string_view later_name = name_of(bytes, later_layout);
        for (size_t earlier = 0; earlier != later;) {
            Layout earlier_layout = layout_at(bytes, earlier);
            if (earlier_layout.name_length == later_layout.name_length &&
                name_of(bytes, earlier_layout) == later_name)
                return Err{ArchiveError{ArchiveErrorCode::DuplicateName, later}};
            earlier = earlier_layout.next_offset;
        }
        later = later_layout.next_offset;
    }

    return CpioArchive(bytes, count, trailer_offset);
}

std::optional<ArchiveEntry> CpioArchive::find(std::string_view name) const {
    for (ArchiveEntry entry : *this) {
        if (entry.name == name)
            return entry;
    }
    return std::nullopt;
}

ArchiveEntry CpioArchive::Iterator::operator*() const {
    Layout layout = layout_at(m_bytes, m_offset);
    return ArchiveEntry{name_of(m_bytes, layout),
                        m_bytes.subspan(layout.data_offset, layout.data_size), layout.mode};
}

CpioArchive::Iterator& CpioArchive::Iterator::operator++() {
    m_offset = layout_at(m_bytes, m_offset).next_offset;
    return *this;
}

} // namespace capos
