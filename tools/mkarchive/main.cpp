// capos-mkarchive -o OUT.cpio NAME=PATH [NAME=PATH...]
//
// Packs each PATH into a cpio "newc" archive under NAME, in the order given, with
// lib/archive/cpio_writer.h. The output depends only on the names and the files'
// bytes (no timestamps, owners or host modes), so builds are reproducible. Every
// argument and file is checked before anything is written; on any error the tool
// prints why, exits nonzero, and leaves OUT untouched.
#include "lib/archive/cpio.h"
#include "lib/archive/cpio_writer.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view usage = "usage: capos-mkarchive -o OUT.cpio NAME=PATH [NAME=PATH...]\n";

struct Input {
    std::string name;
    std::string path;
    std::vector<uint8_t> data;
};

int fail(const std::string& message) {
    std::cerr << "capos-mkarchive: " << message << '\n';
    return 1;
}

bool read_file(const std::string& path, std::vector<uint8_t>& data) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        return false;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

} // namespace

int main(int argc, char** argv) {
    std::string output;
    std::vector<Input> inputs;
    for (int i = 1; i < argc; ++i) {
        std::string_view argument = argv[i];
        if (argument == "-h" || argument == "--help") {
            std::cout << usage;
            return 0;
        }
        if (argument == "-o") {
            if (i + 1 >= argc)
                return fail("-o needs a file name\n" + std::string(usage));
            if (!output.empty())
                return fail("-o given twice");
            output = argv[++i];
            if (output.empty())
                return fail("-o needs a file name");
            continue;
        }
        if (argument.starts_with("-"))
            return fail("unknown option '" + std::string(argument) + "'\n" + std::string(usage));
        size_t equals = argument.find('=');
        if (equals == std::string_view::npos)
            return fail("'" + std::string(argument) + "' is not NAME=PATH");
        std::string name(argument.substr(0, equals));
        std::string path(argument.substr(equals + 1));
        if (name.empty())
            return fail("'" + std::string(argument) + "': empty name");
        if (name.size() > capos::cpio::max_name_length)
            return fail("'" + name + "': name longer than " +
                        std::to_string(capos::cpio::max_name_length) + " bytes");
        if (name == capos::cpio::trailer_name)
            return fail("'" + name + "' is reserved for the archive trailer");
        if (path.empty())
            return fail("'" + std::string(argument) + "': empty path");
        inputs.push_back(Input{name, path, {}});
    }
    if (output.empty())
        return fail("no output file (-o OUT.cpio)\n" + std::string(usage));
    if (inputs.size() > capos::cpio::max_entries)
        return fail("too many entries (" + std::to_string(inputs.size()) + ", at most " +
                    std::to_string(capos::cpio::max_entries) + ")");

    std::set<std::string_view> names;
    for (const Input& input : inputs) {
        if (!names.insert(input.name).second)
            return fail("duplicate name '" + input.name + "'");
    }

    size_t size = capos::CpioWriter::trailer_size;
    for (Input& input : inputs) {
        if (!read_file(input.path, input.data))
            return fail("cannot read '" + input.path + "' (for '" + input.name +
                        "'): missing or not a regular file");
        if (input.data.size() > 0xffffffffu)
            return fail("'" + input.path + "' is 4 GiB or larger");
        size += capos::CpioWriter::encoded_size(input.name, input.data.size());
    }

    std::vector<uint8_t> archive(size);
    capos::CpioWriter writer;
    size_t at = 0;
    for (const Input& input : inputs) {
        auto appended = writer.append(archive, at, input.name, input.data);
        if (appended.is_error())
            return fail("cannot add '" + input.name + "': " + to_string(appended.error()));
        at = appended.value();
    }
    auto finished = writer.finish(archive, at);
    if (finished.is_error())
        return fail(std::string("cannot finish the archive: ") + to_string(finished.error()));

    // Check what we wrote with the reader the kernel uses.
    auto check = capos::CpioArchive::open(archive);
    if (check.is_error())
        return fail(std::string("internal error: the archive does not read back: ") +
                    to_string(check.error().code));

    // Write beside the target and rename, so a failed write leaves no partial OUT.
    std::string temporary = output + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out)
            return fail("cannot create '" + temporary + "'");
        out.write(reinterpret_cast<const char*>(archive.data()),
                  static_cast<std::streamsize>(archive.size()));
        out.close();
        if (!out) {
            std::remove(temporary.c_str());
            return fail("cannot write '" + temporary + "'");
        }
    }
    if (std::rename(temporary.c_str(), output.c_str()) != 0) {
        std::remove(temporary.c_str());
        return fail("cannot rename '" + temporary + "' to '" + output + "'");
    }
    return 0;
}
