// capnpc-capos: the Cap'n Proto compiler plugin that generates capOS's freestanding
// C++ from schema files. Run by the capnp tool, never by hand:
//   capnp compile -o<path to capnpc-capos>:<output dir> --src-prefix=<dir> file.capnp
// reads the CodeGeneratorRequest on stdin and writes `<file>.capos.h` for each
// requested file (its path relative to the source prefix) under the output
// directory, which capnp makes the working directory. cmake/capnp.cmake wraps this.
#include "tools/capnpc-capos/generator.h"

#include <capnp/serialize.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <kj/exception.h>
#include <unistd.h>

namespace {

bool write_file(const capnpc_capos::GeneratedFile& file) {
    std::filesystem::path path(file.path);
    std::error_code error;
    if (path.has_parent_path())
        std::filesystem::create_directories(path.parent_path(), error);
    if (error) {
        std::fprintf(stderr, "capnpc-capos: cannot create %s: %s\n", path.parent_path().c_str(),
                     error.message().c_str());
        return false;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << file.contents;
    out.close();
    if (!out) {
        std::fprintf(stderr, "capnpc-capos: cannot write %s\n", path.c_str());
        return false;
    }
    return true;
}

int run() {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = uint64_t{1} << 40; // the request is trusted
    options.nestingLimit = 256;
    capnp::StreamFdMessageReader message(STDIN_FILENO, options);
    auto request = message.getRoot<capnp::schema::CodeGeneratorRequest>();

    capnpc_capos::Generator generator(request);
    std::vector<capnpc_capos::GeneratedFile> files;
    for (auto file : request.getRequestedFiles())
        files.push_back(generator.generate(file));
    if (!generator.errors().empty()) {
        for (const std::string& error : generator.errors())
            std::fprintf(stderr, "capnpc-capos: error: %s\n", error.c_str());
        return 1;
    }
    for (const auto& file : files) {
        if (!write_file(file))
            return 1;
    }
    return 0;
}

} // namespace

int main() {
    int status = 1;
    // libcapnp reports a malformed request by throwing; turn that into a message.
    KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] { status = run(); })) {
        std::fprintf(stderr, "capnpc-capos: %s\n", exception->getDescription().cStr());
        return 1;
    }
    return status;
}
