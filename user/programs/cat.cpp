// cat [file...]: writes each boot-archive file named, in order, on its
// standard output (the shell's StdIO, user/rt/stdio.h), reading them through
// the read-only BootFiles capability granted as "files". A file that cannot
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

// Half of BootFiles.maxRead: the reply, with its message around the data,
// stays well inside the runtime's result buffer.
constexpr uint32_t chunk = BootFiles::max_read / 2;

// Writes the file `name` on standard output; false (with the line said) when
// it could not be read.
bool cat(capos::rt::Capability<BootFiles>& files, std::string_view name) {
    uint64_t offset = 0;
    for (;;) {
        auto read = files->read(name, offset, chunk);
        if (read.is_error()) {
            Line line("cat: ");
            line.add(name).add(": ").add(capos::rt::call_error_text(read.error()));
            capos::rt::write_error_line(line.view());
            return false;
        }
        auto data = read.value().data();
        if (data.size() == 0)
            return true;
        // Copied out first: the write reuses the buffer the reply lies in.
        static char text[chunk];
        size_t length = data.size() < sizeof text ? data.size() : sizeof text;
        __builtin_memcpy(text, data.data(), length);
        if (!capos::rt::write_output({text, length}))
            return false;
        offset += length;
        if (offset >= read.value().size())
            return true;
    }
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
    auto files = capos::rt::lookup<BootFiles>("files");
    if (files.is_error()) {
        capos::rt::debug_write_line("cat: no 'files' capability (BootFiles) to read from");
        return 1;
    }
    int status = 0;
    for (size_t i = 0; i < args.count(); ++i) {
        if (!cat(files.value(), args[i]))
            status = 1;
    }
    return status;
}
