// The shell's file commands: ls, cat, write, echo's `> file`, cp, mv, rm,
// mkdir, stat, df, sync (man/1). A path names a file through a Directory
// the shell holds: `@name/a/b` is a/b below the capability @name (`@name`
// alone: that directory), and a path without `@` lies below @home. Nothing
// else is reachable: the filesystem service refuses any path that would
// climb out of the directory it is given.
#pragma once

#include "abi/capability.h"
#include "schema/capos.capnp.capos.h"

#include <string_view>

namespace capos::shell {

// What the file commands need of the shell.
class FileHost {
public:
    // The capability `name` (without '@'): its id and interface; false when
    // the shell holds none of that name.
    virtual bool find_cap(std::string_view name, abi::CapId& id, uint64_t& interface_id) = 0;
    // Text onto the terminal as it is.
    virtual void write(std::string_view text) = 0;

protected:
    ~FileHost() = default;
};

// The words for a FileError ("no such file or directory", ...).
std::string_view file_error_text(schema::FileError error);

class FileCommands {
public:
    explicit FileCommands(FileHost& host) : m_host(host) {}

    // Each takes the line after the command's name.
    void ls(std::string_view rest);
    void cat(std::string_view rest);
    void write(std::string_view rest);
    void cp(std::string_view rest);
    void mv(std::string_view rest);
    void rm(std::string_view rest);
    void mkdir(std::string_view rest);
    void stat(std::string_view rest);
    void df(std::string_view rest);
    void sync(std::string_view rest);
    // echo's `words > path` (append: `>>`): the text and a newline into the
    // file, made when missing. `command` names who says the errors.
    void write_text(std::string_view command, std::string_view path, std::string_view text,
                    bool append);
    // Whether `@name` is a Directory the shell holds (what mount checks).
    bool directory_info(std::string_view command, std::string_view name);

private:
    struct Place {
        abi::CapId dir;
        std::string_view path; // below dir ("" : dir itself)
        std::string_view cap;  // the capability's name, for messages
    };
    // A path as the user wrote it, resolved to a directory held and a path
    // below it; false (said) when it names no directory the shell holds.
    bool place(std::string_view command, std::string_view argument, Place& out);
    void say(std::string_view text);
    void fail(std::string_view command, std::string_view what, schema::FileError error);
    void fail_call(std::string_view command, std::string_view what, std::string_view why);
    // The File at `where` (mode as Directory.open), or 0 (said).
    abi::CapId open(std::string_view command, const Place& where, std::string_view shown,
                    schema::OpenMode mode);
    // Copies the file at `from` to `to` (made or cut); false (said) on failure.
    bool copy(std::string_view command, const Place& from, std::string_view from_shown,
              const Place& to, std::string_view to_shown);

    FileHost& m_host;
};

} // namespace capos::shell
