#include "lib/fs/capfs/format.h"

#include "lib/base/crc32c.h"

namespace capos::fs::capfs {

uint32_t superblock_crc(const Superblock& superblock) {
    return crc32c(&superblock, offsetof(Superblock, crc));
}

bool superblock_valid(const Superblock& s, uint32_t slot, uint64_t disk_blocks) {
    if (s.magic != superblock_magic || s.version != format_version || s.block_size != block_size)
        return false;
    if (s.crc != superblock_crc(s) || s.generation % 2 != slot)
        return false;
    if (s.total_blocks < min_blocks || s.total_blocks > disk_blocks)
        return false;
    Layout layout = layout_for(s.total_blocks);
    if (s.bitmap_start != layout.bitmap_start || s.bitmap_blocks != layout.bitmap_blocks ||
        s.data_start != layout.data_start || s.data_start >= s.total_blocks)
        return false;
    if (s.free_blocks > s.total_blocks - s.data_start)
        return false;
    if (s.table_height > max_height || s.inode_capacity % inodes_per_block != 0 ||
        s.inode_capacity == 0)
        return false;
    // The table's blocks must be addressable by its tree.
    uint64_t table_blocks = s.inode_capacity / inodes_per_block;
    if (table_blocks > (uint64_t{1} << (pointer_shift * s.table_height)))
        return false;
    if (s.free_inode_head >= s.inode_capacity || s.orphan_head >= s.inode_capacity ||
        s.inodes_used >= s.inode_capacity)
        return false;
    if (s.table_root.block != 0 &&
        (s.table_root.block < s.data_start || s.table_root.block >= s.total_blocks))
        return false;
    return true;
}

} // namespace capos::fs::capfs
