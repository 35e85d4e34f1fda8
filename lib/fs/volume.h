// A mounted filesystem as the storage service serves it, whatever its format:
// the capOS filesystem (lib/fs/capfs) and FAT32 (lib/fs/fat) both implement
// Volume over a BlockIo, and the service (user/services/fs) turns nodes into
// Directory and File capabilities (schema/capos.capnp, "Storage").
//
// Nodes are named by 64-bit ids the volume chooses. An id returned by
// lookup, create or list names its node until the next call that changes the
// volume; an id the caller holds (hold) names it, across renames, until it
// is released, even after the node was removed (its storage is freed at the
// release). The service holds every node a capability names.
//
// Names are one path component: 1 to max_name bytes, not "." or "..", no
// '/' and no NUL (BadName, NameTooLong); a format may refuse more (FAT:
// characters it cannot store). No call takes a path: a directory reaches only
// what lies below it.
//
// Every call is atomic as the service sees it (one process serves a volume,
// one call at a time); what a call changed is seen by every later call.
// Durability is the format's: sync puts everything changed so far on stable
// storage, and a format says what a power cut before it leaves
// (docs/storage.md).
//
// Bytes read from the disk are never trusted: a volume that finds its
// structures broken answers Corrupt (or refuses the mount), and never reads
// or writes outside the disk, loops or crashes.
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::fs {

enum class FsError : uint8_t {
    NotFound,     // no entry of that name
    Exists,       // the name is taken
    NotDirectory, // a directory was needed
    IsDirectory,  // a file was needed
    NotEmpty,     // a directory with entries cannot be removed or replaced
    BadName,      // not a name this volume can store (see the header)
    NameTooLong,  // more than max_name bytes (or the format's own limit)
    NoSpace,      // the volume is full; nothing was changed
    TooLarge,     // past the largest file or directory the format holds
    ReadOnly,     // the volume (or the disk) takes no writes
    Corrupt,      // the volume's structures are broken
    Io,           // the disk failed a read, write or flush
    NoMemory,     // the service ran out of memory; nothing was changed
    Invalid,      // the call makes no sense (a directory moved into itself,
                  // an id not held, an offset past what the format counts)
    NotSupported, // the format has no such thing (a volume label, say)
};
const char* to_string(FsError error);

inline constexpr size_t max_name = 255;

// Whether `name` is one path component every volume may be asked for:
// BadName, NameTooLong, or success.
Result<void, FsError> check_name(std::string_view name);

enum class NodeKind : uint8_t { File, Directory };

using NodeId = uint64_t;

struct NodeStat {
    NodeId id = 0;
    NodeKind kind = NodeKind::File;
    uint64_t size = 0;        // bytes (a directory: what the format counts)
    uint64_t created_ns = 0;  // since the Unix epoch; 0 when the format keeps none
    uint64_t modified_ns = 0; // the contents last changed
    uint32_t links = 1;       // directory entries naming it
};

struct VolumeInfo {
    uint32_t block_size = 0; // the unit of allocation, in bytes
    uint64_t blocks = 0;     // of the volume
    uint64_t free_blocks = 0;
    bool read_only = false;
    std::string_view format; // "capfs", "fat32"
};

struct DirEntry {
    std::string_view name; // valid during the visit only
    NodeKind kind;
    NodeId id;
};

class ListVisitor {
public:
    // One entry; false: not taken (no room, say): the listing stops, and
    // the cursor list returns names this entry.
    virtual bool entry(const DirEntry& entry) = 0;

protected:
    ~ListVisitor() = default;
};

// The disk under a volume, in its own sectors.
class BlockIo {
public:
    virtual uint32_t sector_size() const = 0; // 512 or 4096
    virtual uint64_t sectors() const = 0;
    virtual bool read_only() const = 0;
    // Io when the disk fails; a range past the end is a caller's bug (Invalid).
    virtual Result<void, FsError> read(uint64_t sector, uint32_t count, void* out) = 0;
    virtual Result<void, FsError> write(uint64_t sector, uint32_t count, const void* data) = 0;
    // Returns once every write before it is on stable storage.
    virtual Result<void, FsError> flush() = 0;

protected:
    ~BlockIo() = default;
};

// Wall-clock time for timestamps: nanoseconds since the Unix epoch, 0 when
// the machine does not know the date.
class Clock {
public:
    virtual uint64_t now_ns() = 0;

protected:
    ~Clock() = default;
};

enum class MountMode : uint8_t { ReadWrite, ReadOnly };

class Volume {
public:
    virtual ~Volume() = default;

    virtual NodeId root() const = 0;
    virtual VolumeInfo info() const = 0;

    // The entry `name` of directory `dir`.
    virtual Result<NodeId, FsError> lookup(NodeId dir, std::string_view name) = 0;
    // A new empty file or directory `name` in `dir` (Exists when taken).
    virtual Result<NodeId, FsError> create(NodeId dir, std::string_view name, NodeKind kind) = 0;
    // Removes entry `name` of `dir`: a file, or an empty directory (NotEmpty).
    virtual Result<void, FsError> remove(NodeId dir, std::string_view name) = 0;
    // Moves entry `from` of `from_dir` to `to` of `to_dir`, replacing a file
    // there, or an empty directory when a directory moves (NotEmpty; a file
    // over a directory IsDirectory, a directory over a file NotDirectory); a
    // directory moved below itself is Invalid. Atomic: after a power cut
    // the entry is under one name or the other (formats that can promise it).
    virtual Result<void, FsError> rename(NodeId from_dir, std::string_view from, NodeId to_dir,
                                         std::string_view to) = 0;
    // The entries of `dir` from `cursor` (0: the first), one visit each,
    // until the visitor refuses one or none is left; returns the cursor of
    // the refused entry (pass it back to go on), or end_of_listing. Entries added
    // or removed between two calls may or may not be seen; none is visited
    // twice.
    static constexpr uint64_t end_of_listing = ~uint64_t{0};
    virtual Result<uint64_t, FsError> list(NodeId dir, uint64_t cursor, ListVisitor& visitor) = 0;

    // Up to out.size() bytes of `file` from `offset`: fewer only at its end.
    virtual Result<size_t, FsError> read(NodeId file, uint64_t offset, std::span<uint8_t> out) = 0;
    // Writes all of `data` at `offset`, growing the file (a gap reads as
    // zeros); NoSpace or TooLarge and nothing written when it cannot.
    virtual Result<void, FsError> write(NodeId file, uint64_t offset,
                                        std::span<const uint8_t> data) = 0;
    // Sets the file's size, cutting it or growing it with zeros.
    virtual Result<void, FsError> truncate(NodeId file, uint64_t size) = 0;
    virtual Result<NodeStat, FsError> stat(NodeId node) = 0;
    // Everything changed so far on stable storage when it returns.
    virtual Result<void, FsError> sync() = 0;

    // The service keeps `node` while a capability names it (counted: as
    // many releases as holds). Invalid for an id that names nothing.
    virtual Result<void, FsError> hold(NodeId node) = 0;
    virtual void release(NodeId node) = 0;
};

} // namespace capos::fs
