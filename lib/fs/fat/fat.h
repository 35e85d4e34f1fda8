// FAT32 as a Volume (lib/fs/volume.h): volumes made by mkfs.fat, Windows or
// a camera, read and written in place, so that capOS can exchange files with
// other systems (an EFI system partition, a USB stick, a disk image made on
// the host).
//
// What the volume promises for FAT:
//  - Long names (VFAT) read and written, UTF-8 at the interface and UTF-16
//    on the disk; names are compared as Windows does (ASCII letters without
//    case). A name FAT cannot hold (control characters, "*/:<>?\|, a trailing
//    dot or space) is BadName. Every long name gets a unique short name
//    (NAME~1.EXT).
//  - Ids: an entry's id is its place (the directory's first cluster and the
//    entry's slot). A held id keeps naming its node across renames; a removed
//    file or directory that is held keeps its clusters until the last
//    release, then they are freed.
//  - Memory is bounded: a write-back cache of a few FAT and directory
//    sectors, one sector of scratch, an 8 KiB bitmap for short-name tails,
//    and the table of held nodes. The volume never loads a whole FAT or
//    directory. It is not thread-safe: one call at a time (as the service
//    makes them).
//  - Not crash-safe. FAT has no journal; the cache holds FAT and directory
//    sectors until sync (or until it needs the room). A power cut may lose
//    or corrupt anything written since the last sync: clusters lost or
//    shared, an entry pointing at clusters not yet linked, a rename seen
//    under both names (fsck.fat repairs these). rename is not atomic.
//  - The FSInfo sector's free count and next free cluster are hints: kept
//    up to date in memory and written at sync; counted from the FAT at mount
//    when FSInfo is missing or impossible.
//  - Both (all) FAT copies are written, unless the volume turned mirroring
//    off; then only the active one.
//  - Every number read from the disk is checked: a volume whose boot sector
//    is impossible, or that claims more sectors than the disk has, is
//    refused (Corrupt); a broken chain, a chain that loops, a file longer
//    than its chain, an entry naming a cluster out of range is Corrupt on the
//    call that meets it. Every chain walk is bounded by the cluster count.
//  - FAT12 and FAT16 volumes are refused (NotSupported); so are volumes of
//    an unknown FAT32 version, and logical sectors smaller than the disk's.
//  - Timestamps: FAT keeps local time without a zone; they are taken as UTC.
//    A directory's size is its clusters' bytes; the root has no timestamps.
#pragma once

#include "lib/base/result.h"
#include "lib/fs/volume.h"

#include <cstddef>
#include <cstdint>

namespace capos::fs::fat {

// Whether the disk's first sector (at least 512 bytes) looks like the boot
// sector of a FAT32 volume. Cheap: nothing but the bytes given is read.
bool probe(const uint8_t* first_sector, size_t size);

// Mounts the FAT32 volume on `disk`. The caller owns the returned volume
// (delete it after a sync to keep what was written). A read-only disk is
// mounted read-only whatever `mode` says. Corrupt for a volume that cannot be
// FAT32, NotSupported for FAT12/16, Io, NoMemory.
Result<Volume*, FsError> mount(BlockIo& disk, Clock& clock, MountMode mode);

} // namespace capos::fs::fat
