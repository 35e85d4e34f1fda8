// cat <file>...: writes each boot-archive file named, in order, on the
// console it is granted as "console", reading them through the read-only
// BootFiles capability granted as "files". A file that cannot be read gets
// one line ("cat: <file>: <why>") and the next is tried. Exits 0 when every
// file was written, 1 when one was not or a capability is missing (said on
// the console when there is one), 2 without a file name.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

namespace {

using capos::rt::Line;
using capos::schema::BootFiles;
using capos::schema::Console;

// Half of BootFiles.maxRead: the reply, with its message around the data,
// stays well inside the runtime's result buffer.
constexpr uint32_t chunk = BootFiles::max_read / 2;

// Writes the file `name` on `console`; false (with the line said) when it
// could not be read.
bool cat(capos::rt::Capability<BootFiles>& files, capos::rt::Capability<Console>& console,
         std::string_view name) {
    uint64_t offset = 0;
    for (;;) {
        auto read = files->read(name, offset, chunk);
        if (read.is_error()) {
            Line line("cat: ");
            line.add(name).add(": ").add(capos::rt::call_error_text(read.error()));
            line.print();
            return false;
        }
        auto data = read.value().data();
        if (data.size() == 0)
            return true;
        std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
        if (console->write(text).is_error())
            return false;
        offset += data.size();
        if (offset >= read.value().size())
            return true;
    }
}

} // namespace

int main() {
    auto args = capos::rt::arguments();
    auto console = capos::rt::lookup<Console>("console");
    if (console.is_error())
        return 1;
    if (args.count() == 0) {
        capos::rt::debug_write_line("usage: cat <file>...");
        return 2;
    }
    auto files = capos::rt::lookup<BootFiles>("files");
    if (files.is_error()) {
        capos::rt::debug_write_line("cat: no 'files' capability (BootFiles) to read from");
        return 1;
    }
    int status = 0;
    for (size_t i = 0; i < args.count(); ++i) {
        if (!cat(files.value(), console.value(), args[i]))
            status = 1;
    }
    return status;
}
