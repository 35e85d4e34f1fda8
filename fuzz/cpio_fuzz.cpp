// libFuzzer target for lib/archive/cpio: the boot archive reader must turn any
// bytes into either an error or an archive whose every entry is in bounds, named
// sensibly, findable by name, and re-encodes with CpioWriter into an archive that
// reads back the same. Any violation traps, which libFuzzer reports as a crash.
#include "lib/archive/cpio.h"
#include "lib/archive/cpio_writer.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i])
            return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    auto opened = capos::CpioArchive::open(bytes);
    if (opened.is_error()) {
        require(opened.error().offset <= size);
        return 0;
    }
    const capos::CpioArchive& archive = opened.value();

    size_t count = 0;
    size_t encoded = capos::CpioWriter::trailer_size;
    for (capos::ArchiveEntry entry : archive) {
        ++count;
        require(!entry.name.empty() && entry.name.size() <= capos::cpio::max_name_length);
        for (char c : entry.name)
            require(c != '\0');
        require(entry.data.data() >= data && entry.data.data() + entry.data.size() <= data + size);
        auto found = archive.find(entry.name);
        require(found.has_value() && found->data.data() == entry.data.data() &&
                found->data.size() == entry.data.size() && found->mode == entry.mode);
        encoded += capos::CpioWriter::encoded_size(entry.name, entry.data.size());
    }
    require(count == archive.entry_count());
    require(count <= capos::cpio::max_entries);

    // Re-encode and read back.
    std::vector<uint8_t> copy(encoded);
    capos::CpioWriter writer;
    size_t at = 0;
    for (capos::ArchiveEntry entry : archive) {
        auto appended = writer.append(copy, at, entry.name, entry.data, entry.mode);
        require(appended.is_ok());
        at = appended.value();
    }
    auto finished = writer.finish(copy, at);
    require(finished.is_ok() && finished.value() == copy.size());
    auto reopened = capos::CpioArchive::open(copy);
    require(reopened.is_ok() && reopened.value().entry_count() == count);
    auto original = archive.begin();
    for (capos::ArchiveEntry entry : reopened.value()) {
        capos::ArchiveEntry before = *original;
        require(entry.name == before.name && entry.mode == before.mode &&
                same_bytes(entry.data, before.data));
        ++original;
    }
    return 0;
}
