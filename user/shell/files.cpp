#include "user/shell/files.h"

#include "user/rt/line.h"
#include "user/rt/rt.h"

namespace capos::shell {

namespace {

using rt::Line;
using schema::Directory;
using schema::File;
using schema::FileError;
using schema::OpenMode;
template <typename Interface>
using ClientOf = typename Interface::template Client<rt::RingTransport>;

// A File's reads and writes go in pieces that fit the runtime's 4 KiB
// transport buffers.
constexpr uint32_t piece = 2048;

// Up to `max` words of `text`, split at spaces and tabs; false when there
// are more.
bool split(std::string_view text, std::string_view* words, size_t max, size_t& count) {
    count = 0;
    size_t at = 0;
    while (at < text.size()) {
        while (at < text.size() && (text[at] == ' ' || text[at] == '\t'))
            ++at;
        if (at == text.size())
            break;
        size_t end = at;
        while (end < text.size() && text[end] != ' ' && text[end] != '\t')
            ++end;
        if (count == max)
            return false;
        words[count++] = text.substr(at, end - at);
        at = end;
    }
    return true;
}

// Releases a capability when the scope ends.
struct Held {
    abi::CapId id;
    ~Held() {
        if (id.raw != 0)
            (void)rt::release(id);
    }
};

} // namespace

std::string_view file_error_text(FileError error) {
    switch (error) {
    case FileError::None:
        return "done";
    case FileError::NotFound:
        return "no such file or directory";
    case FileError::Exists:
        return "the name is taken";
    case FileError::NotDirectory:
        return "not a directory";
    case FileError::IsDirectory:
        return "is a directory";
    case FileError::NotEmpty:
        return "the directory is not empty";
    case FileError::BadName:
        return "not a name this volume takes (no '..', '.', empty parts or leading '/')";
    case FileError::NameTooLong:
        return "a name is too long";
    case FileError::NoSpace:
        return "no space left on the volume";
    case FileError::TooLarge:
        return "too large";
    case FileError::ReadOnly:
        return "the volume is read-only";
    case FileError::Corrupt:
        return "the volume is corrupt";
    case FileError::Io:
        return "the disk failed";
    case FileError::Invalid:
        return "not possible (a directory into itself?)";
    case FileError::NotSupported:
        return "not supported by this volume";
    case FileError::QuotaExceeded:
        return "over the quota";
    }
    return "unknown error";
}

void FileCommands::say(std::string_view text) {
    Line line(text);
    line.add('\n');
    m_host.write(line.view());
}

void FileCommands::fail(std::string_view command, std::string_view what, FileError error) {
    Line line("shell: ");
    line.add(command).add(": ").add(what).add(": ").add(file_error_text(error));
    say(line.view());
}

void FileCommands::fail_call(std::string_view command, std::string_view what,
                             std::string_view why) {
    Line line("shell: ");
    line.add(command).add(": ").add(what).add(": ").add(why);
    say(line.view());
}

bool FileCommands::place(std::string_view command, std::string_view argument, Place& out) {
    std::string_view cap = "home";
    std::string_view path = argument;
    if (!argument.empty() && argument[0] == '@') {
        size_t slash = argument.find('/');
        cap = argument.substr(1,
                              slash == std::string_view::npos ? std::string_view::npos : slash - 1);
        path = slash == std::string_view::npos ? std::string_view{} : argument.substr(slash + 1);
    }
    uint64_t interface_id = 0;
    if (!m_host.find_cap(cap, out.dir, interface_id)) {
        Line line("shell: ");
        line.add(command).add(": ");
        if (argument.empty() || argument[0] != '@')
            line.add("no home directory (@home): name one, as @dir/path (see caps)");
        else
            line.add("no capability '@").add(cap).add("' (see caps)");
        say(line.view());
        return false;
    }
    if (interface_id != 0 && interface_id != Directory::interface_id) {
        Line line("shell: ");
        line.add(command).add(": '@").add(cap).add("' is not a directory (see caps)");
        say(line.view());
        return false;
    }
    out.path = path;
    out.cap = cap;
    return true;
}

abi::CapId FileCommands::open(std::string_view command, const Place& where, std::string_view shown,
                              OpenMode mode) {
    ClientOf<Directory> dir(rt::transport(), where.dir.raw);
    auto opened = dir.open(where.path, mode);
    if (opened.is_error()) {
        fail_call(command, shown, rt::call_error_text(opened.error()));
        return {};
    }
    if (opened.value().error() != FileError::None) {
        fail(command, shown, opened.value().error());
        return {};
    }
    abi::CapId file = rt::received_capability(opened.value().file());
    if (file.raw == 0)
        fail_call(command, shown, "the reply carried no file");
    return file;
}

void FileCommands::ls(std::string_view rest) {
    std::string_view words[2];
    size_t count;
    if (!split(rest, words, 1, count)) {
        say("shell: ls: usage: ls [path] (a path: @dir/a/b, or a/b below @home)");
        return;
    }
    Place where;
    if (!place("ls", count == 0 ? std::string_view{} : words[0], where))
        return;
    std::string_view shown = count == 0 ? std::string_view("@home") : words[0];
    ClientOf<Directory> dir(rt::transport(), where.dir.raw);
    Held sub{};
    if (!where.path.empty()) {
        auto opened = dir.open_directory(where.path);
        if (opened.is_error()) {
            fail_call("ls", shown, rt::call_error_text(opened.error()));
            return;
        }
        if (opened.value().error() != FileError::None) {
            fail("ls", shown, opened.value().error());
            return;
        }
        sub.id = rt::received_capability(opened.value().directory());
    }
    ClientOf<Directory> listed(rt::transport(), sub.id.raw != 0 ? sub.id.raw : where.dir.raw);
    uint64_t cursor = 0;
    size_t entries = 0;
    do {
        auto page = listed.list(cursor);
        if (page.is_error()) {
            fail_call("ls", shown, rt::call_error_text(page.error()));
            return;
        }
        if (page.value().error() != FileError::None) {
            fail("ls", shown, page.value().error());
            return;
        }
        for (auto entry : page.value().entries()) {
            Line line("  ");
            line.add(entry.name());
            if (entry.kind() == schema::FileKind::Directory)
                line.add('/');
            say(line.view());
            ++entries;
        }
        cursor = page.value().next();
    } while (cursor != 0);
    if (entries == 0)
        say("  (empty)");
}

void FileCommands::cat(std::string_view rest) {
    std::string_view words[8];
    size_t count;
    if (!split(rest, words, 8, count) || count == 0) {
        say("shell: cat: usage: cat <file>... (a path: @dir/a/b, or a/b below @home)");
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        Place where;
        if (!place("cat", words[i], where))
            continue;
        Held file{open("cat", where, words[i], OpenMode::Existing)};
        if (file.id.raw == 0)
            continue;
        ClientOf<File> client(rt::transport(), file.id.raw);
        for (uint64_t offset = 0;;) {
            auto read = client.read(offset, piece);
            if (read.is_error()) {
                fail_call("cat", words[i], rt::call_error_text(read.error()));
                break;
            }
            if (read.value().error() != FileError::None) {
                fail("cat", words[i], read.value().error());
                break;
            }
            std::span<const uint8_t> data = read.value().data();
            if (data.empty())
                break;
            m_host.write({reinterpret_cast<const char*>(data.data()), data.size()});
            offset += data.size();
        }
    }
}

void FileCommands::write_text(std::string_view command, std::string_view path,
                              std::string_view text, bool append) {
    Place where;
    if (!place(command, path, where))
        return;
    Held file{open(command, where, path, append ? OpenMode::Create : OpenMode::Truncate)};
    if (file.id.raw == 0)
        return;
    ClientOf<File> client(rt::transport(), file.id.raw);
    uint64_t offset = 0;
    if (append) {
        auto stat = client.stat();
        if (stat.is_error() || stat.value().error() != FileError::None) {
            fail_call(command, path, "cannot stat it");
            return;
        }
        offset = stat.value().stat().size();
    }
    // The text, then a newline: in pieces of what one call carries.
    for (size_t at = 0; at <= text.size();) {
        size_t length = text.size() - at < piece ? text.size() - at : piece;
        uint8_t buffer[piece + 1];
        __builtin_memcpy(buffer, text.data() + at, length);
        bool last = at + length == text.size();
        if (last)
            buffer[length] = '\n';
        auto wrote = client.write(offset, {buffer, length + (last ? 1 : 0)});
        if (wrote.is_error()) {
            fail_call(command, path, rt::call_error_text(wrote.error()));
            return;
        }
        if (wrote.value().error() != FileError::None) {
            fail(command, path, wrote.value().error());
            return;
        }
        offset += length + (last ? 1 : 0);
        at += length;
        if (last)
            break;
    }
}

void FileCommands::write(std::string_view rest) {
    std::string_view words[1];
    size_t count;
    (void)split(rest, words, 1, count);
    if (count == 0) {
        say("shell: write: usage: write <file> [text...] (the text and a newline replace the "
            "file)");
        return;
    }
    // The text: the rest of the line after the path, as typed.
    size_t after = rest.find(words[0]) + words[0].size();
    while (after < rest.size() && (rest[after] == ' ' || rest[after] == '\t'))
        ++after;
    write_text("write", words[0], rest.substr(after), false);
}

bool FileCommands::copy(std::string_view command, const Place& from, std::string_view from_shown,
                        const Place& to, std::string_view to_shown) {
    Held source{open(command, from, from_shown, OpenMode::Existing)};
    if (source.id.raw == 0)
        return false;
    Held target{open(command, to, to_shown, OpenMode::Truncate)};
    if (target.id.raw == 0)
        return false;
    ClientOf<File> in(rt::transport(), source.id.raw);
    ClientOf<File> out(rt::transport(), target.id.raw);
    uint8_t buffer[piece];
    for (uint64_t offset = 0;;) {
        auto read = in.read(offset, piece);
        if (read.is_error() || read.value().error() != FileError::None) {
            read.is_error() ? fail_call(command, from_shown, rt::call_error_text(read.error()))
                            : fail(command, from_shown, read.value().error());
            return false;
        }
        size_t length = read.value().data().size();
        if (length == 0)
            return true;
        // The reply lives in the transport's buffer, which the write reuses.
        __builtin_memcpy(buffer, read.value().data().data(), length);
        auto wrote = out.write(offset, {buffer, length});
        if (wrote.is_error() || wrote.value().error() != FileError::None) {
            wrote.is_error() ? fail_call(command, to_shown, rt::call_error_text(wrote.error()))
                             : fail(command, to_shown, wrote.value().error());
            return false;
        }
        offset += length;
    }
}

void FileCommands::cp(std::string_view rest) {
    std::string_view words[3];
    size_t count;
    if (!split(rest, words, 2, count) || count != 2) {
        say("shell: cp: usage: cp <from> <to> (files; paths @dir/a/b, or a/b below @home)");
        return;
    }
    Place from, to;
    if (!place("cp", words[0], from) || !place("cp", words[1], to))
        return;
    (void)copy("cp", from, words[0], to, words[1]);
}

void FileCommands::mv(std::string_view rest) {
    std::string_view words[3];
    size_t count;
    if (!split(rest, words, 2, count) || count != 2) {
        say("shell: mv: usage: mv <from> <to> (paths @dir/a/b, or a/b below @home)");
        return;
    }
    Place from, to;
    if (!place("mv", words[0], from) || !place("mv", words[1], to))
        return;
    if (from.dir.raw == to.dir.raw) {
        ClientOf<Directory> dir(rt::transport(), from.dir.raw);
        auto renamed = dir.rename(from.path, to.path);
        if (renamed.is_error())
            fail_call("mv", words[0], rt::call_error_text(renamed.error()));
        else if (renamed.value().error() != FileError::None)
            fail("mv", words[0], renamed.value().error());
        return;
    }
    // Between two directories held apart: a copy, then the removal.
    if (!copy("mv", from, words[0], to, words[1]))
        return;
    ClientOf<Directory> dir(rt::transport(), from.dir.raw);
    auto removed = dir.remove(from.path);
    if (removed.is_error())
        fail_call("mv", words[0], rt::call_error_text(removed.error()));
    else if (removed.value().error() != FileError::None)
        fail("mv", words[0], removed.value().error());
}

void FileCommands::rm(std::string_view rest) {
    std::string_view words[8];
    size_t count;
    if (!split(rest, words, 8, count) || count == 0) {
        say("shell: rm: usage: rm <path>... (files and empty directories)");
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        Place where;
        if (!place("rm", words[i], where))
            continue;
        ClientOf<Directory> dir(rt::transport(), where.dir.raw);
        auto removed = dir.remove(where.path);
        if (removed.is_error())
            fail_call("rm", words[i], rt::call_error_text(removed.error()));
        else if (removed.value().error() != FileError::None)
            fail("rm", words[i], removed.value().error());
    }
}

void FileCommands::mkdir(std::string_view rest) {
    std::string_view words[8];
    size_t count;
    if (!split(rest, words, 8, count) || count == 0) {
        say("shell: mkdir: usage: mkdir <path>...");
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        Place where;
        if (!place("mkdir", words[i], where))
            continue;
        ClientOf<Directory> dir(rt::transport(), where.dir.raw);
        auto made = dir.make_directory(where.path);
        if (made.is_error()) {
            fail_call("mkdir", words[i], rt::call_error_text(made.error()));
            continue;
        }
        if (made.value().error() != FileError::None) {
            fail("mkdir", words[i], made.value().error());
            continue;
        }
        (void)rt::release(rt::received_capability(made.value().directory()));
    }
}

void FileCommands::stat(std::string_view rest) {
    std::string_view words[2];
    size_t count;
    if (!split(rest, words, 1, count) || count != 1) {
        say("shell: stat: usage: stat <path>");
        return;
    }
    Place where;
    if (!place("stat", words[0], where))
        return;
    ClientOf<Directory> dir(rt::transport(), where.dir.raw);
    auto stat = dir.stat(where.path);
    if (stat.is_error()) {
        fail_call("stat", words[0], rt::call_error_text(stat.error()));
        return;
    }
    if (stat.value().error() != FileError::None) {
        fail("stat", words[0], stat.value().error());
        return;
    }
    auto s = stat.value().stat();
    Line line("  ");
    line.add(words[0]).add(": ");
    line.add(s.kind() == schema::FileKind::Directory ? "directory" : "file");
    line.add(", ").udec(s.size()).add(s.size() == 1 ? " byte" : " bytes");
    line.add(", ").udec(s.links()).add(s.links() == 1 ? " link" : " links");
    say(line.view());
    Line times("  created ");
    times.udec(s.created_ns() / 1000000).add(" ms, modified ").udec(s.modified_ns() / 1000000);
    times.add(" ms (since boot: no wall clock)");
    say(times.view());
}

void FileCommands::df(std::string_view rest) {
    std::string_view words[2];
    size_t count;
    if (!split(rest, words, 1, count)) {
        say("shell: df: usage: df [@dir]");
        return;
    }
    Place where;
    if (!place("df", count == 0 ? std::string_view{} : words[0], where))
        return;
    ClientOf<Directory> dir(rt::transport(), where.dir.raw);
    auto info = dir.info();
    if (info.is_error()) {
        fail_call("df", count == 0 ? "@home" : words[0], rt::call_error_text(info.error()));
        return;
    }
    auto volume = info.value().info();
    uint64_t size = volume.blocks() * volume.block_size();
    uint64_t free = volume.free_blocks() * volume.block_size();
    say("  volume      format    size KiB    used KiB    free KiB");
    Line line("  @");
    line.add(where.cap);
    for (size_t column = where.cap.size() + 1; column < 12; ++column)
        line.add(' ');
    line.add(volume.format());
    for (size_t column = volume.format().size(); column < 6; ++column)
        line.add(' ');
    auto number = [&](uint64_t value) {
        Line digits;
        digits.udec(value);
        for (size_t column = digits.view().size(); column < 12; ++column)
            line.add(' ');
        line.add(digits.view());
    };
    number(size / 1024);
    number((size - free) / 1024);
    number(free / 1024);
    if (volume.read_only())
        line.add("  (read-only)");
    say(line.view());
    if (volume.quota() != 0) {
        Line quota("  @");
        quota.add(where.cap).add(" may add ").udec(volume.quota()).add(" bytes: ");
        quota.udec(volume.quota_used()).add(" used");
        say(quota.view());
    }
}

void FileCommands::sync(std::string_view rest) {
    std::string_view words[2];
    size_t count;
    if (!split(rest, words, 1, count)) {
        say("shell: sync: usage: sync [@dir]");
        return;
    }
    Place where;
    if (!place("sync", count == 0 ? std::string_view{} : words[0], where))
        return;
    ClientOf<Directory> dir(rt::transport(), where.dir.raw);
    auto synced = dir.sync();
    if (synced.is_error())
        fail_call("sync", count == 0 ? "@home" : words[0], rt::call_error_text(synced.error()));
    else if (synced.value().error() != FileError::None)
        fail("sync", count == 0 ? "@home" : words[0], synced.value().error());
}

bool FileCommands::directory_info(std::string_view command, std::string_view name) {
    abi::CapId id;
    uint64_t interface_id = 0;
    if (!m_host.find_cap(name, id, interface_id))
        return false;
    ClientOf<Directory> dir(rt::transport(), id.raw);
    auto info = dir.info();
    if (info.is_error()) {
        Line line("shell: ");
        line.add(command).add(": the filesystem service did not start: ");
        line.add(rt::call_error_text(info.error()));
        say(line.view());
        return false;
    }
    auto volume = info.value().info();
    Line line("mounted ");
    line.add(volume.format()).add(" as @").add(name).add(": ");
    line.udec(volume.blocks() * volume.block_size() / 1024).add(" KiB, ");
    line.udec(volume.free_blocks() * volume.block_size() / 1024).add(" KiB free");
    if (volume.read_only())
        line.add(" (read-only)");
    say(line.view());
    return true;
}

} // namespace capos::shell
