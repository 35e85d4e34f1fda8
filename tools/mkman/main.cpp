// capos-mkman -o OUT REQUEST [PAGE...]
//
// Writes the manual (etc/man.bin, the format of lib/man/manual.h): section 2
// made from REQUEST, the CodeGeneratorRequest of the schema (`capnp compile
// -o-`), one page per interface; each PAGE a hand-written text file named
// <section>/<title>.txt (man/1/help.txt, man/7/ring.txt). Fails, naming it,
// when an interface or a method has no doc comment or a page is malformed,
// and then writes nothing.
#include "tools/mkman/pages.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

constexpr std::string_view usage = "usage: capos-mkman -o OUT REQUEST [SECTION/TITLE.txt...]\n";

int fail(const std::string& message) {
    std::cerr << "capos-mkman: " << message << '\n';
    return 1;
}

bool read_file(const std::string& path, std::string& data) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

} // namespace

int main(int argc, char** argv) {
    std::string output;
    std::vector<std::string> inputs;
    for (int i = 1; i < argc; ++i) {
        std::string_view argument = argv[i];
        if (argument == "-o" && i + 1 < argc)
            output = argv[++i];
        else if (!argument.empty() && argument[0] == '-')
            return fail("unknown option " + std::string(argument) + "\n" + std::string(usage));
        else
            inputs.emplace_back(argument);
    }
    if (output.empty() || inputs.empty())
        return fail(std::string(usage));

    std::string request;
    if (!read_file(inputs[0], request))
        return fail("cannot read " + inputs[0]);
    if (request.size() % sizeof(capos::capnp::Word) != 0)
        return fail(inputs[0] + ": not a framed Cap'n Proto message");
    std::vector<capos::capnp::Word> words(request.size() / sizeof(capos::capnp::Word));
    std::copy(request.begin(), request.end(), reinterpret_cast<char*>(words.data()));
    auto pages = capos::mkman::interface_pages(words);
    if (pages.is_error())
        return fail(inputs[0] + ": " + pages.error());

    for (size_t i = 1; i < inputs.size(); ++i) {
        std::filesystem::path path(inputs[i]);
        std::string section = path.parent_path().filename().string();
        if (section.size() != 1 || section[0] < '1' || section[0] > '9' ||
            path.extension() != ".txt")
            return fail(inputs[i] + ": pages are named <section>/<title>.txt");
        std::string text;
        if (!read_file(inputs[i], text))
            return fail("cannot read " + inputs[i]);
        auto page = capos::mkman::text_page(static_cast<uint8_t>(section[0] - '0'),
                                            path.stem().string(), std::move(text));
        if (page.is_error())
            return fail(inputs[i] + ": " + page.error());
        pages.value().push_back(page.release_value());
    }

    auto packed = capos::mkman::pack(pages.release_value());
    if (packed.is_error())
        return fail(packed.error());
    std::string temporary = output + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(packed.value().data()),
                  static_cast<std::streamsize>(packed.value().size()));
        if (!out)
            return fail("cannot write " + temporary);
    }
    std::error_code error;
    std::filesystem::rename(temporary, output, error);
    if (error)
        return fail("cannot write " + output);
    return 0;
}
