// The capOS filesystem's on-disk format (docs/storage.md): every structure,
// its offsets and the checks a reader makes of it. Little-endian throughout;
// the filesystem's block is 4096 bytes whatever the disk's sector.
//
//   block 0, 1        superblock slots (the valid one of the higher
//                     generation is the filesystem)
//   bitmap_start ...  two copies of the free-space bitmap, bitmap_blocks
//                     each; generation g's is copy g % 2
//   data_start ...    every other block: trees of index blocks over data,
//                     written copy-on-write
//
// Every inode (the inode table too, whose tree the superblock roots) is a
// radix tree of `height` levels of index blocks (256 pointers each) over
// its data blocks: height 0 points at data block 0 itself. A pointer names
// a block and, for metadata (index, inode-table and directory blocks), the
// CRC-32C of its contents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::fs::capfs {

inline constexpr uint32_t block_size = 4096;
inline constexpr uint32_t block_shift = 12;
inline constexpr uint64_t superblock_magic = 0x317366534f706163ull; // "capOSfs1"
inline constexpr uint32_t format_version = 1;
inline constexpr uint32_t pointers_per_block = 256;
inline constexpr uint32_t pointer_shift = 8;
inline constexpr uint32_t max_height = 4; // 2^32 blocks: 16 TiB a file
inline constexpr uint32_t inode_size = 128;
inline constexpr uint32_t inodes_per_block = block_size / inode_size;
inline constexpr uint64_t table_inode = 0; // the inode table's own number
inline constexpr uint64_t root_inode = 1;
// The largest file: what a tree of max_height addresses, in bytes.
inline constexpr uint64_t max_file_size =
    (uint64_t{1} << (pointer_shift * max_height)) * block_size;
// Bitmap bits in one block.
inline constexpr uint64_t bits_per_block = uint64_t{block_size} * 8;

struct BlockPointer {
    uint64_t block; // 0: none (a hole reads as zeros)
    uint32_t crc;   // CRC-32C of the block, when flags has checked
    uint32_t flags;
};
static_assert(sizeof(BlockPointer) == 16);
inline constexpr uint32_t pointer_checked = 1;

struct Superblock {
    uint64_t magic;
    uint32_t version;
    uint32_t block_size;
    uint64_t generation; // commits so far; slot generation % 2
    uint64_t total_blocks;
    uint64_t bitmap_start;
    uint64_t bitmap_blocks; // per copy
    uint64_t data_start;
    uint64_t free_blocks;
    uint64_t inode_capacity;  // slots in the inode table
    uint64_t free_inode_head; // first free inode (0: none), chained by Inode::next
    uint64_t inodes_used;     // the table's own slot 0 not counted
    BlockPointer table_root;
    uint32_t table_height;
    uint32_t reserved0;
    uint64_t orphan_head; // removed inodes still open at the commit, chained by Inode::next
    uint64_t created_ns;
    uint64_t committed_ns;
    uint8_t reserved[116];
    uint32_t crc; // CRC-32C of the bytes before it
};
static_assert(sizeof(Superblock) == 256);

enum class InodeKind : uint16_t { Free = 0, File = 1, Directory = 2 };

struct Inode {
    uint16_t kind; // InodeKind
    uint16_t height;
    uint32_t links;
    uint64_t size;
    BlockPointer root;
    uint64_t next;   // a directory: its parent; a free or orphan inode: the next one
    uint64_t blocks; // data and index blocks in its tree
    uint64_t created_ns;
    uint64_t modified_ns;
    uint64_t changed_ns;
    uint8_t reserved[56];
};
static_assert(sizeof(Inode) == inode_size);

// A directory's data: blocks tiled by entries, each 8-aligned; an entry of
// inode 0 is free space. An entry never crosses a block.
struct [[gnu::packed]] DirEntryHeader {
    uint64_t inode;
    uint16_t record_length; // bytes to the next entry (a multiple of 8)
    uint8_t name_length;
    uint8_t kind; // InodeKind
};
static_assert(sizeof(DirEntryHeader) == 12);
inline constexpr uint32_t dir_entry_header = sizeof(DirEntryHeader);

// The bytes an entry of a name of `length` bytes needs.
constexpr uint32_t dir_entry_size(uint32_t length) {
    return (dir_entry_header + length + 7) & ~7u;
}

// Superblock slot, bitmap and data positions for a disk of `total_blocks`.
struct Layout {
    uint64_t total_blocks;
    uint64_t bitmap_start;
    uint64_t bitmap_blocks;
    uint64_t data_start;
};
constexpr Layout layout_for(uint64_t total_blocks) {
    uint64_t bitmap_blocks = (total_blocks + bits_per_block - 1) / bits_per_block;
    return {total_blocks, 2, bitmap_blocks, 2 + 2 * bitmap_blocks};
}
// The fewest blocks a capfs volume has: superblocks, bitmaps, a root
// directory's table block and some room.
inline constexpr uint64_t min_blocks = 16;

// Whether a superblock read from slot `slot` is one: magic, version, block
// size, checksum, the generation's slot, and a layout that fits a disk of
// `disk_blocks` blocks with every field in range.
bool superblock_valid(const Superblock& superblock, uint32_t slot, uint64_t disk_blocks);
uint32_t superblock_crc(const Superblock& superblock);

} // namespace capos::fs::capfs
