// Writes capfs_fuzz's seeds into the directory given: an empty volume of 64
// blocks, and one with directories, files of one and several blocks (an
// index block), a removed file and a rename, each made through lib/fs/capfs.
#include "lib/fs/capfs/capfs.h"
#include "tests/host/fs_memory_disk.h"

#include <cstdio>
#include <memory>
#include <string>

using namespace capos::fs;

namespace {

bool save(testing::MemoryDisk& disk, const std::string& path) {
    FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr)
        return false;
    bool ok = std::fwrite(disk.bytes().data(), 1, disk.bytes().size(), file) == disk.bytes().size();
    return std::fclose(file) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: capfs_fuzz_seedgen <directory>\n");
        return 2;
    }
    std::string dir = argv[1];
    testing::FixedClock clock;
    testing::MemoryDisk empty(512); // 64 blocks of 4096
    if (capfs::format(empty, clock).is_error() || !save(empty, dir + "/empty"))
        return 1;
    testing::MemoryDisk filled(512);
    if (capfs::format(filled, clock).is_error())
        return 1;
    {
        auto mounted = capfs::mount(filled, clock);
        if (mounted.is_error())
            return 1;
        std::unique_ptr<Volume> volume(mounted.value());
        NodeId root = volume->root();
        NodeId docs = volume->create(root, "docs", NodeKind::Directory).value();
        std::string bytes(9000, 'x');
        for (int i = 0; i < 6; ++i) {
            NodeId file = volume->create(docs, "file-" + std::to_string(i), NodeKind::File).value();
            (void)volume->write(file, 0,
                                {reinterpret_cast<const uint8_t*>(bytes.data()),
                                 static_cast<size_t>(100 + i * 1500)});
        }
        NodeId big = volume->create(root, "big", NodeKind::File).value();
        (void)volume->write(big, 300 * 1024, {reinterpret_cast<const uint8_t*>("end"), 3});
        (void)volume->remove(docs, "file-2");
        (void)volume->rename(docs, "file-3", root, "moved");
        if (volume->sync().is_error())
            return 1;
    }
    return save(filled, dir + "/filled") ? 0 : 1;
}
