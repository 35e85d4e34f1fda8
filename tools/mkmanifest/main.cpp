// capos-mkmanifest: checks a compiled boot manifest before it is packed into a
// boot archive, so that a broken system fails the build instead of the boot.
//
//   capos-mkmanifest MANIFEST.bin [ARCHIVE-PATH...]
//
// MANIFEST.bin is the framed message `capnp eval --binary` produced. Checks:
// the encoding (every pointer in bounds), everything lib/manifest validates
// (names, binaries, grants, imports against exports, service limits within
// the kernel's maximums, only kernel capabilities the kernel serves: the
// rules the kernel applies again at boot), and that every binary's path is
// one of the ARCHIVE-PATHs that will be packed beside it.
#include "lib/capnp/wire.h"
#include "lib/manifest/validate.h"
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "capos-mkmanifest: %s\n", message.c_str());
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2)
        return fail("usage: capos-mkmanifest MANIFEST.bin [ARCHIVE-PATH...]");
    std::ifstream in(argv[1], std::ios::binary);
    if (!in)
        return fail(std::string("cannot read ") + argv[1]);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty() || bytes.size() % 8 != 0)
        return fail(std::string(argv[1]) + ": not a whole number of words");
    std::vector<capos::capnp::Word> words(bytes.size() / 8);
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(words.data()));

    std::span<const capos::capnp::Word> storage[64];
    auto segments = capos::capnp::parse_framed(words, storage);
    if (segments.is_error())
        return fail(std::string(argv[1]) + ": " + capos::capnp::to_string(segments.error()));
    capos::capnp::MessageReader message(segments.value());
    if (auto error = capos::capnp::validate(message); error != capos::capnp::WireError::None)
        return fail(std::string(argv[1]) + ": " + capos::capnp::to_string(error));

    capos::schema::SystemManifest::Reader manifest(message.root());
    auto valid = capos::manifest::validate(manifest);
    if (valid.is_error()) {
        std::string subject(valid.error().subject);
        return fail(std::string(argv[1]) + ": " + capos::manifest::to_string(valid.error().code) +
                    (subject.empty() ? "" : ": '" + subject + "'"));
    }
    std::vector<std::string> files(argv + 2, argv + argc);
    for (auto binary : manifest.binaries()) {
        std::string path(binary.path());
        if (std::find(files.begin(), files.end(), path) == files.end())
            return fail(std::string(argv[1]) + ": binary '" + std::string(binary.name()) +
                        "' is at '" + path + "', which is not packed into the archive");
    }
    return 0;
}
