// libFuzzer target for lib/fs/capfs: the input is the first bytes of a disk
// of 64 filesystem blocks (256 KiB; the rest zeros), mounted as the capOS
// filesystem with its metadata checksums not checked (so that mutations
// reach the parsers behind them), then again with them checked. Whatever the
// bytes, the mount is refused (Corrupt) or the volume answers every call
// with a value or an error, never touches the disk outside its sectors,
// never hangs, never crashes; the walk and writes are volume_fuzz.h's. The
// seeds (capfs_fuzz_seeds.cpp) are volumes made and filled through
// lib/fs/capfs.
#include "fuzz/volume_fuzz.h"
#include "lib/fs/capfs/capfs.h"

#include <memory>

using namespace capos::fs;
using namespace capos::fuzz::volume;

namespace {

constexpr size_t disk_bytes = 64 * 4096;

void run(const std::vector<uint8_t>& image, bool verify) {
    testing::MemoryDisk memory{std::vector<uint8_t>(image)};
    CheckedDisk disk(memory);
    testing::FixedClock clock;
    capfs::Options options;
    options.verify_checksums = verify;
    options.cache_blocks = 8;
    options.dirty_limit = 16;
    auto mounted = capfs::mount(disk, clock, options);
    if (mounted.is_error()) {
        FsError error = mounted.error();
        require(error == FsError::Corrupt || error == FsError::NoMemory ||
                error == FsError::Invalid);
        return;
    }
    {
        std::unique_ptr<Volume> volume(mounted.value());
        check_info(*volume);
        int budget = 128;
        walk(*volume, volume->root(), 0, budget);
        writes(*volume);
    }
    options.mode = MountMode::ReadOnly;
    auto again = capfs::mount(disk, clock, options);
    if (again.is_ok()) {
        std::unique_ptr<Volume> volume(again.value());
        int budget = 128;
        walk(*volume, volume->root(), 0, budget);
        check_info(*volume);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> image(disk_bytes, 0);
    std::memcpy(image.data(), data, size < image.size() ? size : image.size());
    run(image, false);
    run(image, true);
    return 0;
}
