// libFuzzer target for lib/fs/fat: the input is the first bytes of a 128 KiB
// disk (fat_fuzz.h; the rest zeros), mounted as FAT32. Whatever the bytes,
// the mount is refused or the volume answers every call with a value or an
// error; it never touches the disk outside its sectors, never reports more
// free clusters than it has, never hangs, never crashes. The walk lists and
// stats every node, looks each up by its listed name and reads every file;
// then a few writes (create, write, truncate, rename, remove, a directory),
// a sync, and the walk again on a fresh mount of what was written.
#include "fuzz/fat_fuzz.h"
#include "fuzz/volume_fuzz.h"
#include "lib/fs/fat/fat.h"
#include "tests/host/fs_memory_disk.h"

#include <memory>
#include <string>
#include <vector>

using namespace capos::fs;
using namespace capos::fuzz::volume;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace capos::fuzz::fat_image;
    std::vector<uint8_t> bytes(disk_sectors * disk_sector, 0);
    std::memcpy(bytes.data(), data, size < bytes.size() ? size : bytes.size());
    bool probed = fat::probe(bytes.data(), disk_sector);
    testing::MemoryDisk memory(std::move(bytes));
    CheckedDisk disk(memory);
    testing::FixedClock clock;
    auto mounted = fat::mount(disk, clock, MountMode::ReadWrite);
    if (mounted.is_error()) {
        FsError error = mounted.error();
        require(error == FsError::Corrupt || error == FsError::NotSupported);
        return 0;
    }
    require(probed);
    {
        std::unique_ptr<Volume> volume(mounted.value());
        check_info(*volume);
        int budget = 128;
        walk(*volume, volume->root(), 0, budget);
        writes(*volume);
    }
    auto again = fat::mount(disk, clock, MountMode::ReadOnly);
    if (again.is_ok()) {
        std::unique_ptr<Volume> volume(again.value());
        int budget = 128;
        walk(*volume, volume->root(), 0, budget);
        check_info(*volume);
    }
    return 0;
}
