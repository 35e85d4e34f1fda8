// Writes fat_fuzz's seeds into the directory given as the only argument:
// small FAT32 volumes (fat_fuzz.h) filled through lib/fs/fat itself with
// directories, long and short names, a name spanning several LFN entries,
// files of a few clusters, an empty file, a removed file and a held-open
// rename, each cut after its last non-zero byte (the fuzzer pads with
// zeros).
#include "fuzz/fat_fuzz.h"
#include "lib/fs/fat/fat.h"
#include "tests/host/fs_memory_disk.h"

#include <cstdio>
#include <memory>
#include <string>

namespace {

using namespace capos::fs;

bool fill(Volume& volume) {
    NodeId root = volume.root();
    auto dir = volume.create(root, "Directory with a long name", NodeKind::Directory);
    auto sub = dir.is_ok() ? volume.create(dir.value(), "SUB", NodeKind::Directory) : dir;
    if (sub.is_error())
        return false;
    std::vector<uint8_t> bytes(1500);
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<uint8_t>(i * 7);
    const char* names[] = {"README.TXT", "lower case.txt", "ünïcødé €", "x",
                           "a name long enough to need three LFN entries.data"};
    for (const char* name : names) {
        auto file = volume.create(root, name, NodeKind::File);
        if (file.is_error() || volume.write(file.value(), 0, bytes).is_error())
            return false;
    }
    auto empty = volume.create(sub.value(), "empty", NodeKind::File);
    auto deep = volume.create(sub.value(), "deep file", NodeKind::File);
    if (empty.is_error() || deep.is_error() || volume.write(deep.value(), 100, bytes).is_error())
        return false;
    if (volume.remove(root, "x").is_error() ||
        volume.rename(root, "README.TXT", dir.value(), "moved readme").is_error())
        return false;
    return volume.sync().is_ok();
}

bool write_seed(const std::string& path, uint32_t sector, uint32_t fat_sectors, bool filled) {
    auto disk = std::make_unique<testing::MemoryDisk>(
        capos::fuzz::fat_image::empty_volume(sector, fat_sectors));
    testing::FixedClock clock;
    if (filled) {
        auto mounted = fat::mount(*disk, clock, MountMode::ReadWrite);
        if (mounted.is_error())
            return false;
        std::unique_ptr<Volume> volume(mounted.value());
        if (!fill(*volume))
            return false;
    }
    const std::vector<uint8_t>& bytes = disk->bytes();
    size_t length = bytes.size();
    while (length > 0 && bytes[length - 1] == 0)
        --length;
    FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr)
        return false;
    bool ok = std::fwrite(bytes.data(), 1, length, out) == length;
    return std::fclose(out) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    bool ok = write_seed(dir + "/empty", 512, 2, false) &&
              write_seed(dir + "/filled", 512, 2, true) &&
              write_seed(dir + "/sector4096", 4096, 1, true);
    if (!ok)
        std::fprintf(stderr, "fat_fuzz_seedgen: could not make the seeds\n");
    return ok ? 0 : 1;
}
