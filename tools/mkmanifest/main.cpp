// capos-mkmanifest: checks a compiled boot manifest before it is packed into a
// boot archive, so that a broken system fails the build instead of the boot.
//
//   capos-mkmanifest MANIFEST.bin [ARCHIVE-PATH...]
//
// MANIFEST.bin is the framed message `capnp eval --binary` produced. Checks
// it as the kernel and init read it (lib/manifest/read.h: size, framing, the
// encoding with every pointer in bounds), everything lib/manifest validates
// (names, binaries, grants, imports against exports, service limits within
// the kernel's maximums, only kernel capabilities the kernel serves: the
// rules the kernel applies again at boot), and that every binary's path is
// one of the ARCHIVE-PATHs that will be packed beside it.
#include "lib/capnp/wire.h"
#include "lib/manifest/read.h"
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
    std::vector<capos::capnp::Word> words((bytes.size() + 7) / 8);
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(words.data()));

    // The kernel's and init's own reading: what passes here boots.
    if (auto size = capos::manifest::check_size(bytes.size()); size.is_error())
        return fail(std::string(argv[1]) + ": the manifest " +
                    std::string(capos::manifest::to_string(size.error().kind)));
    capos::manifest::FramedManifest framed;
    auto read = framed.read(words);
    if (read.is_error()) {
        const capos::manifest::ReadError& error = read.error();
        std::string why(capos::manifest::reason(error));
        if (error.kind == capos::manifest::ReadErrorKind::Invalid) {
            std::string subject(error.invalid.subject);
            return fail(std::string(argv[1]) + ": " + why +
                        (subject.empty() ? "" : ": '" + subject + "'"));
        }
        return fail(std::string(argv[1]) + ": the manifest " +
                    std::string(capos::manifest::to_string(error.kind)) +
                    (why.empty() ? "" : ": " + why));
    }
    capos::schema::SystemManifest::Reader manifest = read.value();
    std::vector<std::string> files(argv + 2, argv + argc);
    for (auto binary : manifest.binaries()) {
        std::string path(binary.path());
        if (std::find(files.begin(), files.end(), path) == files.end())
            return fail(std::string(argv[1]) + ": binary '" + std::string(binary.name()) +
                        "' is at '" + path + "', which is not packed into the archive");
    }
    return 0;
}
