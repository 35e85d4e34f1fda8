// capos-mkdisk: writes a raw disk image of the block-device tests' pattern
// (disk_pattern.h) for QEMU to attach (a scenario's `drive:`), or the image a
// test must leave behind (its `drive-expect:`).
//
//   capos-mkdisk OUTPUT SECTORS [LBA+COUNT=GENERATION...]
#include "tools/mkdisk/disk_image.h"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <vector>

int main(int argc, char** argv) {
    using namespace capos::mkdisk;
    if (argc < 3) {
        std::fprintf(stderr, "usage: capos-mkdisk OUTPUT SECTORS [LBA+COUNT=GENERATION...]\n");
        return 2;
    }
    std::string_view count_text = argv[2];
    uint64_t sectors = 0;
    auto [end, error] =
        std::from_chars(count_text.data(), count_text.data() + count_text.size(), sectors);
    if (error != std::errc() || end != count_text.data() + count_text.size()) {
        std::fprintf(stderr, "capos-mkdisk: bad sector count '%s'\n", argv[2]);
        return 2;
    }
    std::vector<Overlay> overlays;
    for (int i = 3; i < argc; ++i) {
        auto overlay = parse_overlay(argv[i]);
        if (!overlay) {
            std::fprintf(stderr, "capos-mkdisk: bad overlay '%s' (want LBA+COUNT=GENERATION)\n",
                         argv[i]);
            return 2;
        }
        overlays.push_back(*overlay);
    }
    auto image = make_image(sectors, overlays);
    if (image.is_error()) {
        std::fprintf(stderr, "capos-mkdisk: %s\n", image.error().c_str());
        return 1;
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out.write(image.value().data(), std::streamsize(image.value().size()));
    out.close();
    if (!out) {
        std::fprintf(stderr, "capos-mkdisk: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
