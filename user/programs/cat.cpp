// cat [file...]: writes each file named, in order, on its standard output
// (the shell's StdIO, user/rt/stdio.h), reading them through the Directory
// granted as "dir" (paths below it, nothing above: docs/storage.md) or, when
// it holds none, the read-only BootFiles capability granted as "files" (the
// boot archive's files). A file that cannot
// be read gets one line on standard error ("cat: <file>: <why>") and the next
// is tried. Without a file name it copies its standard input, line by line,
// until end of input (Ctrl-D). Exits 0 when everything was written, 1 when a
// file could not be or a capability is missing, 130 when the input was
// interrupted.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

namespace {

using capos::rt::Line;
using capos::schema::BootFiles;
using capos::schema::Directory;
using capos::schema::File;
using capos::schema::FileError;

// Half of BootFiles.maxRead: the reply, with its message around the data,
// stays well inside the runtime's result buffer.
constexpr uint32_t chunk = BootFiles::max_read / 2;

// Writes what `read(offset)` returns, piece after piece, on standard
// output, until it returns no bytes (or `size` is reached); `read` gives
// the piece's bytes, or says why it failed and gives nothing valid.
template <typename Read>
bool copy_out(Read&& read) {
    for (uint64_t offset = 0;;) {
        bool failed = false;
        uint64_t size = UINT64_MAX;
        std::span<const uint8_t> data = read(offset, failed, size);
        if (failed)
            return false;
        if (data.empty())
            return true;
        // Copied out first: the write reuses the buffer the reply lies in.
        static char text[chunk];
        size_t length = data.size() < sizeof text ? data.size() : sizeof text;
        __builtin_memcpy(text, data.data(), length);
        if (!capos::rt::write_output({text, length}))
            return false;
        offset += length;
        if (offset >= size)
            return true;
    }
}

bool say(std::string_view name, std::string_view why) {
    Line line("cat: ");
    line.add(name).add(": ").add(why);
    capos::rt::write_error_line(line.view());
    return false;
}

// Writes the file `name` on standard output; false (with the line said) when
// it could not be read.
bool cat(capos::rt::Capability<BootFiles>& files, std::string_view name) {
    return copy_out([&](uint64_t offset, bool& failed, uint64_t& size) {
        auto read = files->read(name, offset, chunk);
        if (read.is_error()) {
            failed = !say(name, capos::rt::call_error_text(read.error()));
            return std::span<const uint8_t>{};
        }
        size = read.value().size();
        return read.value().data();
    });
}

// The same through a Directory: the file at `path` below it.
bool cat(capos::rt::Capability<Directory>& dir, std::string_view path) {
    auto opened = dir->open(path, capos::schema::OpenMode::Existing);
    if (opened.is_error())
        return say(path, capos::rt::call_error_text(opened.error()));
    if (opened.value().error() == FileError::NotFound)
        return say(path, "no such file");
    if (opened.value().error() != FileError::None)
        return say(path, "cannot open it");
    capos::rt::Capability<File> file(capos::rt::received_capability(opened.value().file()));
    return copy_out([&](uint64_t offset, bool& failed, uint64_t&) {
        auto read = file->read(offset, chunk);
        if (read.is_error() || read.value().error() != FileError::None) {
            failed = !say(path, read.is_error() ? capos::rt::call_error_text(read.error())
                                                : "cannot read it");
            return std::span<const uint8_t>{};
        }
        return read.value().data();
    });
}

// Copies standard input to standard output until it ends.
int copy_input() {
    static char buffer[capos::schema::StdIO::max_line];
    for (;;) {
        auto line = capos::rt::read_input_line(buffer);
        switch (line.end) {
        case capos::schema::StdInputEnd::Line:
            if (!capos::rt::write_output_line(line.text))
                return 1;
            break;
        case capos::schema::StdInputEnd::Interrupted:
            return 130;
        default:
            return 0;
        }
    }
}

} // namespace

int main() {
    auto args = capos::rt::arguments();
    if (args.count() == 0)
        return copy_input();
    auto dir = capos::rt::lookup<Directory>("dir");
    if (dir.is_ok()) {
        int status = 0;
        for (size_t i = 0; i < args.count(); ++i) {
            if (!cat(dir.value(), args[i]))
                status = 1;
        }
        return status;
    }
    auto files = capos::rt::lookup<BootFiles>("files");
    if (files.is_error()) {
        capos::rt::debug_write_line(
            "cat: no 'dir' (Directory) or 'files' capability (BootFiles) to read from");
        return 1;
    }
    int status = 0;
    for (size_t i = 0; i < args.count(); ++i) {
        if (!cat(files.value(), args[i]))
            status = 1;
    }
    return status;
}
