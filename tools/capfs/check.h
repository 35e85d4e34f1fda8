// The capOS filesystem's checker (fsck), run on the host: an implementation
// of the format's rules apart from lib/fs/capfs, so that each checks the
// other (docs/storage.md, "Checking a volume"). It reads the newest valid
// superblock and walks everything it reaches: checksums, pointers inside
// the data area, no block reached twice, the bitmap exactly the blocks
// reached, every inode reached once (orphans on their list), the free
// inode chain exactly the free inodes, directory entries well formed with
// unique names, counts in the superblock and inodes as they are.
#pragma once

#include "lib/fs/volume.h"

#include <cstdint>
#include <string>
#include <vector>

namespace capos::fs::capfs {

struct CheckReport {
    std::vector<std::string> problems; // empty: consistent
    uint64_t generation = 0;
    uint64_t files = 0;
    uint64_t directories = 0;
    uint64_t used_blocks = 0;
    uint64_t total_blocks = 0;
    std::vector<bool> reached; // per block: reached from the superblock
    bool ok() const { return problems.empty(); }
};

// Io when the disk cannot be read; anything found on it is in the report.
Result<CheckReport, FsError> check(BlockIo& disk);

} // namespace capos::fs::capfs
