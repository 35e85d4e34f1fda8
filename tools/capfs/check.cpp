#include "tools/capfs/check.h"

#include "lib/base/crc32c.h"
#include "lib/fs/capfs/format.h"

#include <cstring>
#include <deque>
#include <set>
#include <string_view>

namespace capos::fs::capfs {

namespace {

class Checker {
public:
    explicit Checker(BlockIo& disk) : m_disk(disk), m_per_block(block_size / disk.sector_size()) {}

    Result<CheckReport, FsError> run();

private:
    template <typename... Parts>
    void problem(const Parts&... parts) {
        if (m_report.problems.size() >= 100)
            return;
        std::string text;
        ((text += to_text(parts)), ...);
        m_report.problems.push_back(text);
    }
    static std::string to_text(const std::string& s) { return s; }
    static std::string to_text(const char* s) { return s; }
    static std::string to_text(std::string_view s) { return std::string(s); }
    template <typename T>
    static std::string to_text(T n) {
        return std::to_string(n);
    }

    bool read_block(uint64_t block, uint8_t* out) {
        auto read = m_disk.read(block * m_per_block, m_per_block, out);
        if (read.is_error()) {
            m_io_failed = true;
            return false;
        }
        return true;
    }
    // Marks a block reached; false (and a problem) when it cannot be.
    bool reach(uint64_t block, const std::string& what) {
        if (block < m_super.data_start || block >= m_super.total_blocks) {
            problem(what, ": block ", block, " outside the data area");
            return false;
        }
        if (m_reached[block]) {
            problem(what, ": block ", block, " reached twice");
            return false;
        }
        m_reached[block] = true;
        return true;
    }
    // Walks a tree, calling leaf(index, bytes) for each data block it has
    // (metadata: checksums required on the leaves too); returns the blocks.
    template <typename Leaf>
    uint64_t walk(const BlockPointer& root, uint32_t height, bool metadata, const std::string& what,
                  Leaf&& leaf) {
        uint64_t blocks = 0;
        walk_at(root, height, 0, metadata, what, leaf, blocks);
        return blocks;
    }
    template <typename Leaf>
    void walk_at(const BlockPointer& pointer, uint32_t level, uint64_t index, bool metadata,
                 const std::string& what, Leaf& leaf, uint64_t& blocks) {
        if (pointer.block == 0)
            return;
        if (!reach(pointer.block, what))
            return;
        ++blocks;
        std::vector<uint8_t> bytes(block_size);
        if (!read_block(pointer.block, bytes.data()))
            return;
        bool checked = level > 0 || metadata;
        if (checked) {
            if (!(pointer.flags & pointer_checked)) {
                problem(what, ": block ", pointer.block, " has no checksum");
                return;
            }
            if (crc32c(bytes.data(), block_size) != pointer.crc) {
                problem(what, ": block ", pointer.block, " fails its checksum");
                return;
            }
        }
        if (level == 0) {
            leaf(index, bytes.data());
            return;
        }
        for (uint32_t slot = 0; slot < pointers_per_block; ++slot) {
            BlockPointer child;
            std::memcpy(&child, bytes.data() + slot * sizeof child, sizeof child);
            walk_at(child, level - 1, (index << pointer_shift) | slot, metadata, what, leaf,
                    blocks);
        }
    }

    BlockIo& m_disk;
    uint32_t m_per_block;
    Superblock m_super{};
    CheckReport m_report;
    std::vector<bool> m_reached;
    bool m_io_failed = false;
};

Result<CheckReport, FsError> Checker::run() {
    uint64_t disk_blocks = m_disk.sectors() / m_per_block;
    std::vector<uint8_t> block(block_size);
    bool found = false;
    for (uint32_t slot = 0; slot < 2 && slot < disk_blocks; ++slot) {
        if (!read_block(slot, block.data()))
            return Err{FsError::Io};
        Superblock candidate;
        std::memcpy(&candidate, block.data(), sizeof candidate);
        if (superblock_valid(candidate, slot, disk_blocks) &&
            (!found || candidate.generation > m_super.generation)) {
            m_super = candidate;
            found = true;
        }
    }
    if (!found) {
        problem("no valid superblock");
        return m_report;
    }
    m_report.generation = m_super.generation;
    m_report.total_blocks = m_super.total_blocks;
    m_reached.assign(m_super.total_blocks, false);

    // The inode table.
    std::vector<Inode> inodes(m_super.inode_capacity);
    uint64_t table_blocks =
        walk(m_super.table_root, m_super.table_height, true, "inode table",
             [&](uint64_t index, const uint8_t* bytes) {
                 for (uint32_t i = 0; i < inodes_per_block; ++i) {
                     uint64_t number = index * inodes_per_block + i;
                     if (number < inodes.size())
                         std::memcpy(&inodes[number], bytes + i * inode_size, inode_size);
                 }
             });
    if (m_io_failed)
        return Err{FsError::Io};
    if (table_blocks < m_super.inode_capacity / inodes_per_block)
        problem("inode table: ", table_blocks, " blocks for ", m_super.inode_capacity, " inodes");

    // Every inode's tree, and the names in directories.
    std::vector<uint32_t> references(inodes.size(), 0);
    std::vector<uint64_t> parent_of(inodes.size(), 0);
    uint64_t used = 0;
    for (uint64_t number = 1; number < inodes.size(); ++number) {
        const Inode& inode = inodes[number];
        if (inode.kind == static_cast<uint16_t>(InodeKind::Free))
            continue;
        ++used;
        std::string what = "inode " + std::to_string(number);
        if (inode.kind > static_cast<uint16_t>(InodeKind::Directory) || inode.height > max_height) {
            problem(what, ": bad kind or height");
            continue;
        }
        bool directory = inode.kind == static_cast<uint16_t>(InodeKind::Directory);
        if (directory)
            ++m_report.directories;
        else
            ++m_report.files;
        uint64_t size_blocks = (inode.size + block_size - 1) / block_size;
        if (size_blocks > (uint64_t{1} << (pointer_shift * inode.height)))
            problem(what, ": size ", inode.size, " past its tree");
        std::set<std::string> names;
        uint64_t blocks = walk(
            inode.root, inode.height, directory, what, [&](uint64_t index, const uint8_t* bytes) {
                if (index >= size_blocks) {
                    problem(what, ": block ", index, " past its size");
                    return;
                }
                if (!directory) {
                    // The part of the last block past the size reads as zeros.
                    if (index == size_blocks - 1 && inode.size % block_size != 0)
                        for (uint64_t i = inode.size % block_size; i < block_size; ++i)
                            if (bytes[i] != 0) {
                                problem(what, ": bytes past its size are not zero");
                                break;
                            }
                    return;
                }
                for (uint32_t offset = 0; offset < block_size;) {
                    DirEntryHeader header;
                    if (block_size - offset < dir_entry_header) {
                        problem(what, ": entry runs past its block");
                        return;
                    }
                    std::memcpy(&header, bytes + offset, sizeof header);
                    if (header.record_length < dir_entry_header || header.record_length % 8 ||
                        header.record_length > block_size - offset) {
                        problem(what, ": bad entry length at ", index * block_size + offset);
                        return;
                    }
                    if (header.inode != 0) {
                        std::string_view name(
                            reinterpret_cast<const char*>(bytes + offset + dir_entry_header),
                            header.name_length);
                        if (dir_entry_size(header.name_length) > header.record_length ||
                            check_name(name).is_error())
                            problem(what, ": bad name at ", index * block_size + offset);
                        else if (!names.insert(std::string(name)).second)
                            problem(what, ": name '", name, "' twice");
                        if (header.inode >= inodes.size() || header.inode <= root_inode) {
                            problem(what, ": entry '", name, "' names inode ", header.inode);
                        } else {
                            const Inode& child = inodes[header.inode];
                            if (child.kind != header.kind)
                                problem(what, ": entry '", name, "' kind differs from inode ",
                                        header.inode);
                            ++references[header.inode];
                            parent_of[header.inode] = number;
                        }
                    }
                    offset += header.record_length;
                }
            });
        if (m_io_failed)
            return Err{FsError::Io};
        if (blocks != inode.blocks)
            problem(what, ": counts ", inode.blocks, " blocks, has ", blocks);
        if (directory && inode.size % block_size != 0)
            problem(what, ": directory size ", inode.size);
    }
    if (used != m_super.inodes_used)
        problem("superblock counts ", m_super.inodes_used, " inodes, table has ", used);

    // Orphans: removed while open, freed at the next mount.
    std::set<uint64_t> orphans;
    for (uint64_t at = m_super.orphan_head; at != 0;) {
        if (at >= inodes.size() || !orphans.insert(at).second) {
            problem("orphan list broken at ", at);
            break;
        }
        if (inodes[at].kind == 0 || inodes[at].links != 0)
            problem("orphan ", at, " is not a removed inode");
        at = inodes[at].next;
    }
    // Every inode in use reached once, by the entry its links count.
    if (inodes.size() > root_inode &&
        inodes[root_inode].kind != static_cast<uint16_t>(InodeKind::Directory))
        problem("the root is not a directory");
    for (uint64_t number = 2; number < inodes.size(); ++number) {
        const Inode& inode = inodes[number];
        if (inode.kind == 0) {
            if (references[number] != 0)
                problem("free inode ", number, " is named");
            continue;
        }
        if (orphans.count(number)) {
            if (references[number] != 0)
                problem("orphan ", number, " is named");
            continue;
        }
        if (references[number] != 1 || inode.links != 1)
            problem("inode ", number, " named ", references[number], " times, links ", inode.links);
        if (inode.kind == static_cast<uint16_t>(InodeKind::Directory) &&
            inode.next != parent_of[number])
            problem("directory ", number, " says its parent is ", inode.next, ", not ",
                    parent_of[number]);
    }
    // Directories reach each other as a tree from the root (no cycle cut off).
    {
        std::vector<bool> seen(inodes.size(), false);
        std::deque<uint64_t> queue{root_inode};
        seen[root_inode] = true;
        std::vector<std::vector<uint64_t>> children(inodes.size());
        for (uint64_t number = 2; number < inodes.size(); ++number)
            if (references[number] == 1 && inodes[number].kind != 0)
                children[parent_of[number]].push_back(number);
        while (!queue.empty()) {
            uint64_t at = queue.front();
            queue.pop_front();
            for (uint64_t child : children[at])
                if (!seen[child]) {
                    seen[child] = true;
                    queue.push_back(child);
                }
        }
        for (uint64_t number = 2; number < inodes.size(); ++number)
            if (inodes[number].kind != 0 && !orphans.count(number) && !seen[number])
                problem("inode ", number, " cannot be reached from the root");
    }
    // The free inode chain: exactly the free inodes.
    {
        std::set<uint64_t> chain;
        for (uint64_t at = m_super.free_inode_head; at != 0;) {
            if (at >= inodes.size() || at < 2 || !chain.insert(at).second) {
                problem("free inode chain broken at ", at);
                break;
            }
            if (inodes[at].kind != 0)
                problem("free inode chain holds inode ", at, " in use");
            at = inodes[at].next;
        }
        for (uint64_t number = 2; number < inodes.size(); ++number)
            if (inodes[number].kind == 0 && !chain.count(number))
                problem("free inode ", number, " is not on the chain");
    }
    // The bitmap: exactly the blocks reached, and the metadata area.
    uint64_t copy = m_super.bitmap_start + (m_super.generation % 2) * m_super.bitmap_blocks;
    uint64_t free = 0, wrong = 0;
    for (uint64_t b = 0; b < m_super.bitmap_blocks; ++b) {
        if (!read_block(copy + b, block.data()))
            return Err{FsError::Io};
        for (uint64_t bit = 0; bit < bits_per_block; ++bit) {
            uint64_t number = b * bits_per_block + bit;
            bool set = (block[bit / 8] >> (bit % 8)) & 1;
            if (number >= m_super.total_blocks) {
                if (set)
                    ++wrong;
                continue;
            }
            bool in_use = number < m_super.data_start || m_reached[number];
            if (set != in_use) {
                if (++wrong <= 5)
                    problem("bitmap: block ", number,
                            set ? " marked but not reached" : " reached but not marked");
            }
            if (!set)
                ++free;
        }
    }
    if (wrong > 5)
        problem("bitmap: ", wrong, " blocks wrong in all");
    if (free != m_super.free_blocks)
        problem("superblock counts ", m_super.free_blocks, " free blocks, bitmap has ", free);
    m_report.used_blocks = m_super.total_blocks - free;
    m_report.reached = m_reached;
    return m_report;
}

} // namespace

Result<CheckReport, FsError> check(BlockIo& disk) {
    if (disk.sector_size() == 0 || block_size % disk.sector_size() != 0)
        return Err{FsError::NotSupported};
    Checker checker(disk);
    return checker.run();
}

} // namespace capos::fs::capfs
