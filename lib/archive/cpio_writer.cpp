#include "lib/archive/cpio_writer.h"

namespace capos {

namespace {

constexpr size_t max_data_size = 0xffff'ffff;

// Writes value as eight upper-case hex digits.
void write_hex(uint8_t* out, uint32_t value) {
    constexpr char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < 8; ++i)
        out[i] = static_cast<uint8_t>(digits[(value >> (28 - 4 * i)) & 0xf]);
}

void write_zeros(uint8_t* out, size_t count) {
    for (size_t i = 0; i < count; ++i)
        out[i] = 0;
}

// Checks that an entry of encoded size `size` can go at out[at].
Result<void, ArchiveErrorCode> check_room(std::span<uint8_t> out, size_t at, size_t size) {
    if (at % 4 != 0)
        return Err{ArchiveErrorCode::DataOutOfBounds};
    if (at > out.size() || size > out.size() - at)
        return Err{ArchiveErrorCode::Truncated};
    return {};
}

} // namespace

size_t CpioWriter::write_entry(std::span<uint8_t> out, size_t at, std::string_view name,
                               std::span<const uint8_t> data, Fields fields) {
    uint8_t* header = out.data() + at;
    for (size_t i = 0; i < cpio::magic.size(); ++i)
        header[i] = static_cast<uint8_t>(cpio::magic[i]);
    const uint32_t values[cpio::field_count] = {
        fields.ino,
        fields.mode,
        0, // uid
        0, // gid
        1, // nlink
        0, // mtime
        fields.file_size,
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        static_cast<uint32_t>(name.size() + 1),
        0, // check
    };
    for (size_t i = 0; i < cpio::field_count; ++i)
        write_hex(header + cpio::magic.size() + 8 * i, values[i]);

    size_t offset = at + cpio::header_size;
    for (char c : name)
        out[offset++] = static_cast<uint8_t>(c);
    size_t data_offset = at + cpio::align4(cpio::header_size + name.size() + 1);
    write_zeros(out.data() + offset, data_offset - offset); // the NUL and the padding
    if (!data.empty())
        __builtin_memcpy(out.data() + data_offset, data.data(), data.size());
    size_t end = data_offset + cpio::align4(data.size());
    write_zeros(out.data() + data_offset + data.size(), end - data_offset - data.size());
    return end;
}

Result<size_t, ArchiveErrorCode> CpioWriter::append(std::span<uint8_t> out, size_t at,
                                                    std::string_view name,
                                                    std::span<const uint8_t> data, uint32_t mode) {
    if (m_entry_count >= cpio::max_entries)
        return Err{ArchiveErrorCode::TooManyEntries};
    if (name.empty())
        return Err{ArchiveErrorCode::EmptyName};
    if (name.size() > cpio::max_name_length)
        return Err{ArchiveErrorCode::NameTooLong};
    for (char c : name) {
        if (c == '\0')
            return Err{ArchiveErrorCode::NameNotTerminated};
    }
    if (name == cpio::trailer_name)
        return Err{ArchiveErrorCode::DuplicateName};
    if (data.size() > max_data_size)
        return Err{ArchiveErrorCode::DataOutOfBounds};
    TRY(check_room(out, at, encoded_size(name, data.size())));

    size_t end = write_entry(
        out, at, name, data,
        Fields{static_cast<uint32_t>(m_entry_count + 1), mode, static_cast<uint32_t>(data.size())});
    ++m_entry_count;
    return end;
}

Result<size_t, ArchiveErrorCode> CpioWriter::finish(std::span<uint8_t> out, size_t at) {
    TRY(check_room(out, at, trailer_size));
    return write_entry(out, at, cpio::trailer_name, {}, Fields{0, 0, 0});
}

} // namespace capos
