// Writer for cpio "newc" archives in the subset CpioArchive reads, for host tools
// that build the boot archive. The output depends only on the names, data and modes
// given: mtime 0, uid/gid 0, nlink 1, inode numbers 1, 2, ... in append order,
// upper-case hex. It writes into a caller-supplied buffer and allocates nothing;
// size the buffer with encoded_size() per entry plus trailer_size.
//
// Usage: offset = 0; for each entry offset = TRY(writer.append(out, offset, ...));
// then end = TRY(writer.finish(out, offset)). Every offset passed in must be one the
// writer returned (or 0): the format pads relative to the archive's start.
// The writer does not remember names; callers that need unique names (every
// archive CpioArchive::open() accepts) check that themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "lib/archive/cpio.h"
#include "lib/base/result.h"

namespace capos {

class CpioWriter {
public:
    static constexpr uint32_t default_mode = 0100644; // regular file, rw-r--r--

    // Bytes append() writes for an entry: header, name, NUL, padding, data, padding.
    static constexpr size_t encoded_size(std::string_view name, size_t data_size) {
        return cpio::align4(cpio::header_size + name.size() + 1) + cpio::align4(data_size);
    }
    // Bytes finish() writes.
    static constexpr size_t trailer_size =
        cpio::align4(cpio::header_size + cpio::trailer_name.size() + 1);

    // Writes one entry at out[at] and returns the offset just past it. Errors, with
    // nothing written: TooManyEntries past CpioArchive::max_entries; EmptyName,
    // NameTooLong, NameNotTerminated (the name holds a NUL), DuplicateName (the
    // name is the trailer's); DataOutOfBounds for data of 4 GiB or more or an
    // offset that is not a multiple of 4; Truncated when out is too small.
    Result<size_t, ArchiveErrorCode> append(std::span<uint8_t> out, size_t at,
                                            std::string_view name, std::span<const uint8_t> data,
                                            uint32_t mode = default_mode);

    // Writes the trailer at out[at] and returns the archive's total size. Errors as
    // append() (Truncated, DataOutOfBounds).
    Result<size_t, ArchiveErrorCode> finish(std::span<uint8_t> out, size_t at);

    size_t entry_count() const { return m_entry_count; }

private:
    struct Fields {
        uint32_t ino;
        uint32_t mode;
        uint32_t file_size;
    };
    // Writes header, name and data; the caller has checked everything.
    static size_t write_entry(std::span<uint8_t> out, size_t at, std::string_view name,
                              std::span<const uint8_t> data, Fields fields);

    size_t m_entry_count = 0;
};

} // namespace capos
