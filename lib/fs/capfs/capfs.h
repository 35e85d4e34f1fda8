// The capOS filesystem (format: lib/fs/capfs/format.h, docs/storage.md): a
// writable, crash-consistent filesystem served as a Volume.
//
// Copy-on-write: no block the last commit reaches is ever written. Changes
// collect in memory (dirty blocks, keyed by their place in an inode's tree);
// a commit gives each a new block, writes them children before parents, then
// the free-space bitmap's other copy, flushes, writes the superblock of the
// next generation into the other slot and flushes again. The superblock
// write is the commit point: a power cut at any moment leaves the last
// commit whose superblock was written whole, with everything it reaches.
// A commit happens at sync, when dirty blocks pass the limit, and before a
// call that would otherwise not fit.
//
// Space: every dirty block needs one free block at the commit, so a call
// that would dirty more than the free blocks (after a commit, and keeping a
// reserve for removals) is refused with NoSpace before it changes anything.
// A disk failure during a commit leaves the volume refusing every call
// (Io); what the disk holds is still the last commit.
#pragma once

#include "lib/fs/volume.h"

namespace capos::fs::capfs {

struct Options {
    MountMode mode = MountMode::ReadWrite;
    // Metadata blocks are checked against the CRC-32C their pointer holds
    // (false only for the fuzz targets, to reach the parsers behind).
    bool verify_checksums = true;
    // Clean blocks kept in memory.
    uint32_t cache_blocks = 1024;
    // A commit once this many blocks are dirty.
    uint32_t dirty_limit = 4096;
};

// Writes an empty filesystem (a root directory) over the whole disk.
// Invalid for a disk smaller than min_blocks, ReadOnly, Io.
Result<void, FsError> format(BlockIo& disk, Clock& clock);

// The filesystem on `disk`, or Corrupt when no superblock slot holds a valid
// one, NotSupported for a sector size that does not divide 4096. The caller
// deletes the volume (which commits nothing by itself: sync first).
Result<Volume*, FsError> mount(BlockIo& disk, Clock& clock, const Options& options = {});

// Whether the first 4096 bytes of a disk look like capfs (magic only).
bool probe(const uint8_t* first_block, size_t size);

} // namespace capos::fs::capfs
