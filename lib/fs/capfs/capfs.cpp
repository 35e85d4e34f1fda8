#include "lib/fs/capfs/capfs.h"

#include "lib/base/crc32c.h"
#include "lib/base/u64_map.h"
#include "lib/base/vector.h"
#include "lib/fs/capfs/format.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace capos::fs::capfs {

namespace {

struct Block {
    alignas(64) uint8_t bytes[block_size];
};

// A dirty block's place: its level in the tree (0: data) and its index there.
constexpr uint64_t tree_key(uint32_t level, uint64_t index) {
    return (uint64_t{level} << 56) | index;
}
constexpr uint32_t key_level(uint64_t key) {
    return static_cast<uint32_t>(key >> 56);
}
constexpr uint64_t key_index(uint64_t key) {
    return key & ((uint64_t{1} << 56) - 1);
}
// Blocks a tree of `height` levels addresses.
constexpr uint64_t tree_capacity(uint32_t height) {
    return uint64_t{1} << (pointer_shift * height);
}

BlockPointer pointer_at(const uint8_t* node, uint32_t slot) {
    BlockPointer pointer;
    std::memcpy(&pointer, node + size_t{slot} * sizeof(BlockPointer), sizeof pointer);
    return pointer;
}
void set_pointer(uint8_t* node, uint32_t slot, const BlockPointer& pointer) {
    std::memcpy(node + size_t{slot} * sizeof(BlockPointer), &pointer, sizeof pointer);
}

uint64_t name_hash(std::string_view name) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (char c : name) {
        hash ^= static_cast<uint8_t>(c);
        hash *= 0x100000001b3ull;
    }
    return hash;
}

// One directory's names, in memory: where each entry lies (block, offset),
// found by the name's hash (several names may share one: each is compared),
// and the largest free run of each block, for inserts.
class DirIndex {
public:
    struct Place {
        uint32_t block;
        uint16_t offset;
    };

    ~DirIndex() { delete[] m_slots; }

    size_t count() const { return m_count; }
    Vector<uint16_t>& free_space() { return m_free; }

    [[nodiscard]] bool insert(uint64_t hash, Place place) {
        if ((m_count + m_removed + 1) * 4 > m_capacity * 3 && !grow())
            return false;
        for (size_t i = start(hash);; i = (i + 1) & (m_capacity - 1)) {
            Slot& slot = m_slots[i];
            if (slot.state != 1) {
                if (slot.state == 2)
                    --m_removed;
                slot = {hash, place.block, place.offset, 1};
                ++m_count;
                return true;
            }
        }
    }
    // Calls match(place) for each entry of `hash` until it returns true;
    // that slot's place, or none.
    template <typename F>
    bool find(uint64_t hash, F&& match, Place* found = nullptr, bool erase = false) {
        if (m_capacity == 0)
            return false;
        for (size_t i = start(hash), n = 0; n < m_capacity; i = (i + 1) & (m_capacity - 1), ++n) {
            Slot& slot = m_slots[i];
            if (slot.state == 0)
                return false;
            if (slot.state != 1 || slot.hash != hash)
                continue;
            Place place{slot.block, slot.offset};
            if (!match(place))
                continue;
            if (found)
                *found = place;
            if (erase) {
                slot.state = 2;
                --m_count;
                ++m_removed;
            }
            return true;
        }
        return false;
    }

private:
    struct Slot {
        uint64_t hash;
        uint32_t block;
        uint16_t offset;
        uint16_t state; // 0 empty, 1 full, 2 removed
    };
    size_t start(uint64_t hash) const { return static_cast<size_t>(hash) & (m_capacity - 1); }
    bool grow() {
        size_t capacity =
            m_count + 1 > m_capacity / 2 ? (m_capacity < 16 ? 16 : m_capacity * 2) : m_capacity;
        auto* slots = new (std::nothrow) Slot[capacity];
        if (slots == nullptr)
            return false;
        for (size_t i = 0; i < capacity; ++i)
            slots[i].state = 0;
        Slot* old = m_slots;
        size_t old_capacity = m_capacity;
        m_slots = slots;
        m_capacity = capacity;
        m_count = 0;
        m_removed = 0;
        for (size_t i = 0; i < old_capacity; ++i)
            if (old[i].state == 1)
                (void)insert(old[i].hash, {old[i].block, old[i].offset});
        delete[] old;
        return true;
    }

    Slot* m_slots = nullptr;
    size_t m_capacity = 0;
    size_t m_count = 0;
    size_t m_removed = 0;
    Vector<uint16_t> m_free; // per block: its largest free run, in bytes
};

// An inode in memory: its fields as they are now, its dirty blocks, the
// service's holds and, for a directory, its names.
struct Node {
    uint64_t number = 0;
    Inode inode{};
    bool dirty = false; // the inode's fields differ from the table's copy
    uint32_t holds = 0;
    U64Map<Block*> blocks; // dirty blocks by tree_key
    DirIndex* names = nullptr;

    ~Node() {
        blocks.for_each([](uint64_t, Block*& block) { delete block; });
        delete names;
    }
    InodeKind kind() const { return static_cast<InodeKind>(inode.kind); }
};

// A set of blocks as a bitmap in memory.
class Bitmap {
public:
    ~Bitmap() { delete[] m_words; }
    bool init(uint64_t bits) {
        m_bits = bits;
        m_words = new (std::nothrow) uint64_t[words()]();
        return m_words != nullptr;
    }
    size_t words() const { return static_cast<size_t>((m_bits + 63) / 64); }
    bool test(uint64_t bit) const { return (m_words[bit / 64] >> (bit % 64)) & 1; }
    void set(uint64_t bit) { m_words[bit / 64] |= uint64_t{1} << (bit % 64); }
    void clear(uint64_t bit) { m_words[bit / 64] &= ~(uint64_t{1} << (bit % 64)); }
    uint64_t* data() { return m_words; }
    const uint64_t* data() const { return m_words; }
    void copy_from(const Bitmap& other) {
        std::memcpy(m_words, other.m_words, words() * sizeof(uint64_t));
    }

private:
    uint64_t m_bits = 0;
    uint64_t* m_words = nullptr;
};

class CapfsVolume final : public Volume {
public:
    CapfsVolume(BlockIo& disk, Clock& clock, const Options& options)
        : m_disk(disk), m_clock(clock), m_options(options),
          m_sectors_per_block(block_size / disk.sector_size()) {}
    ~CapfsVolume() override;

    // Mount: the superblock of the newest valid slot, its bitmap, the
    // table and the root; orphans freed when writable.
    Result<void, FsError> load();
    // Format: an empty volume's state, committed.
    Result<void, FsError> create_empty();

    NodeId root() const override { return root_inode; }
    VolumeInfo info() const override {
        return {block_size, m_super.total_blocks,
                m_free_both - std::min(m_free_both, m_dirty_count), read_only(), "capfs"};
    }
    Result<NodeId, FsError> lookup(NodeId dir, std::string_view name) override;
    Result<NodeId, FsError> create(NodeId dir, std::string_view name, NodeKind kind) override;
    Result<void, FsError> remove(NodeId dir, std::string_view name) override;
    Result<void, FsError> rename(NodeId from_dir, std::string_view from, NodeId to_dir,
                                 std::string_view to) override;
    Result<uint64_t, FsError> list(NodeId dir, uint64_t cursor, ListVisitor& visitor) override;
    Result<size_t, FsError> read(NodeId file, uint64_t offset, std::span<uint8_t> out) override;
    Result<void, FsError> write(NodeId file, uint64_t offset,
                                std::span<const uint8_t> data) override;
    Result<void, FsError> truncate(NodeId file, uint64_t size) override;
    Result<NodeStat, FsError> stat(NodeId node) override;
    Result<void, FsError> sync() override { return commit(); }
    Result<void, FsError> hold(NodeId node) override;
    void release(NodeId node) override;

private:
    bool read_only() const { return m_options.mode == MountMode::ReadOnly || m_disk.read_only(); }
    Result<void, FsError> writable() const {
        if (m_failed)
            return Err{FsError::Io};
        if (read_only())
            return Err{FsError::ReadOnly};
        return {};
    }

    // The disk, in filesystem blocks.
    Result<void, FsError> disk_read(uint64_t block, uint32_t count, void* out) {
        return m_disk.read(block * m_sectors_per_block, count * m_sectors_per_block, out);
    }
    Result<void, FsError> disk_write(uint64_t block, uint32_t count, const void* data) {
        return m_disk.write(block * m_sectors_per_block, count * m_sectors_per_block, data);
    }

    // Clean blocks by address: a clock over a fixed set of buffers. A
    // pointer from load is valid until the next load.
    Result<const uint8_t*, FsError> load(const BlockPointer& pointer, bool metadata);
    void cache_forget(uint64_t block);
    // Frees the memory of the cache's last `count` slots (forgetting their
    // blocks) and stops its growth: for the rest of the volume, when the
    // heap has run out.
    void shrink_cache(uint32_t count);
    // A new T from the heap, or from what the cache gives back when the heap
    // has none. (No pointer into the cache may be held across it.)
    template <typename T>
    T* allocate();
    // An empty cache slot: the clock's next, its block forgotten.
    uint32_t take_slot();
    void cache_put(uint64_t block, const uint8_t* bytes);

    // Trees.
    Result<Node*, FsError> node(uint64_t number);
    Result<Node*, FsError> node_of_kind(uint64_t number, InodeKind kind);
    Result<BlockPointer, FsError> pointer_of(Node& node, uint32_t level, uint64_t index);
    // Block `index` of the node's data: its bytes, or null for a hole.
    Result<const uint8_t*, FsError> read_block(Node& node, uint64_t index);
    // A dirty copy of the tree's block at (level, index), made along with
    // every parent above it; `whole`: the caller writes all of it.
    Result<uint8_t*, FsError> dirty_block(Node& node, uint32_t level, uint64_t index, bool whole);
    Result<uint8_t*, FsError> write_block(Node& node, uint64_t index, bool whole) {
        return dirty_block(node, 0, index, whole);
    }
    bool is_metadata(const Node& node, uint32_t level) const {
        return level > 0 || node.number == table_inode || node.kind() == InodeKind::Directory;
    }
    Result<void, FsError> mark_dirty(Node& node);
    // Frees every block of the subtree at (level, index) whose pointer is
    // `pointer`, dirty copies included.
    Result<void, FsError> free_subtree(Node& node, uint32_t level, uint64_t index,
                                       BlockPointer pointer);
    // Cuts the node's data to its first `keep` blocks.
    Result<void, FsError> shrink(Node& node, uint64_t keep);
    Result<BlockPointer, FsError> shrink_at(Node& node, uint32_t level, uint64_t index,
                                            BlockPointer pointer, uint64_t keep);
    void free_block(uint64_t block);

    // Space: whether `blocks` more dirty blocks fit (committing first when
    // that helps); removals may use the reserve.
    enum class Use : uint8_t { Grow, Release };
    Result<void, FsError> reserve(uint64_t blocks, Use use = Use::Grow);
    uint64_t available() const { return m_free_both - std::min(m_free_both, m_dirty_count); }
    uint64_t estimate(uint64_t blocks) const;
    Result<void, FsError> after_change();

    // Inodes.
    Result<Node*, FsError> allocate_inode(InodeKind kind, uint64_t parent);
    Result<void, FsError> destroy(Node& node);
    Result<void, FsError> unlink_orphan(Node& node);
    Result<void, FsError> free_orphans();

    // Directories.
    // The entry at `offset` of a directory block, checked (every parse of a
    // block goes through it: a block read again may differ from the one
    // names() checked, when the disk is not what it should be).
    bool entry_at(const uint8_t* block, uint32_t offset, DirEntryHeader& header) const;
    Result<DirIndex*, FsError> names(Node& dir);
    struct Found {
        DirIndex::Place place;
        uint64_t inode;
        InodeKind kind;
    };
    Result<Found, FsError> find_entry(Node& dir, std::string_view name);
    Result<void, FsError> insert_entry(Node& dir, std::string_view name, uint64_t inode,
                                       InodeKind kind);
    Result<void, FsError> delete_entry(Node& dir, std::string_view name, DirIndex::Place place);
    Result<void, FsError> set_entry_inode(Node& dir, DirIndex::Place place, uint64_t inode,
                                          InodeKind kind);

    // Commit.
    Result<void, FsError> commit();
    Result<void, FsError> commit_steps();
    Result<void, FsError> flush_tree(Node& node);
    Result<void, FsError> stage(uint64_t block, const uint8_t* bytes);
    Result<void, FsError> flush_stage();
    Result<void, FsError> write_bitmap(uint32_t copy);
    Result<uint64_t, FsError> allocate_block();
    void evict_nodes();
    Result<void, FsError> create_caches();

    BlockIo& m_disk;
    Clock& m_clock;
    Options m_options;
    uint32_t m_sectors_per_block;
    Superblock m_super{};
    bool m_failed = false;

    Bitmap m_used_committed;
    Bitmap m_used_next;
    uint64_t m_free_both = 0; // clear in both: what a commit may allocate
    uint64_t m_free_next = 0; // clear in the next generation's
    uint64_t m_alloc_cursor = 0;
    Vector<uint64_t> m_bitmap_changed; // per bitmap block: the generation it last changed in

    U64Map<Node*> m_nodes;
    Vector<uint64_t> m_dirty_nodes;
    uint64_t m_dirty_count = 0;

    struct CacheSlot {
        uint64_t block; // 0: empty
        Block* data;
        bool referenced;
    };
    CacheSlot* m_cache = nullptr;
    uint32_t m_cache_size = 0;  // slots
    uint32_t m_cache_grown = 0; // of them, those with memory: [0, m_cache_grown)
    uint32_t m_cache_hand = 0;
    U64Map<uint32_t> m_cache_index;

    static constexpr uint32_t stage_blocks = 64;
    static constexpr uint32_t min_cache_blocks = 8;
    static constexpr uint32_t cache_shrink_step = 64;
    uint8_t* m_stage = nullptr;
    uint64_t m_stage_start = 0;
    uint32_t m_stage_count = 0;
};

CapfsVolume::~CapfsVolume() {
    m_nodes.for_each([](uint64_t, Node*& node) { delete node; });
    for (uint32_t i = 0; i < m_cache_grown; ++i)
        delete m_cache[i].data;
    delete[] m_cache;
    delete[] m_stage;
}

// ---------------------------------------------------------------------------
// The block cache

Result<const uint8_t*, FsError> CapfsVolume::load(const BlockPointer& pointer, bool metadata) {
    uint64_t block = pointer.block;
    if (block < m_super.data_start || block >= m_super.total_blocks)
        return Err{FsError::Corrupt};
    if (metadata && m_options.verify_checksums && !(pointer.flags & pointer_checked))
        return Err{FsError::Corrupt};
    if (const uint32_t* slot = m_cache_index.find(block)) {
        m_cache[*slot].referenced = true;
        return m_cache[*slot].data->bytes;
    }
    uint32_t victim = take_slot();
    CacheSlot& slot = m_cache[victim];
    TRY(disk_read(block, 1, slot.data->bytes));
    if (metadata && m_options.verify_checksums &&
        crc32c(slot.data->bytes, block_size) != pointer.crc)
        return Err{FsError::Corrupt};
    if (!m_cache_index.insert(block, victim))
        return Err{FsError::NoMemory};
    slot.block = block;
    slot.referenced = true;
    return slot.data->bytes;
}

void CapfsVolume::cache_forget(uint64_t block) {
    if (const uint32_t* slot = m_cache_index.find(block)) {
        m_cache[*slot].block = 0;
        m_cache[*slot].referenced = false;
        m_cache_index.erase(block);
    }
}

void CapfsVolume::shrink_cache(uint32_t count) {
    for (; count > 0 && m_cache_grown > min_cache_blocks; --count) {
        CacheSlot& slot = m_cache[--m_cache_grown];
        if (slot.block != 0)
            m_cache_index.erase(slot.block);
        delete slot.data;
        slot = {0, nullptr, false};
    }
    m_cache_size = m_cache_grown;
    if (m_cache_hand >= m_cache_grown)
        m_cache_hand = 0;
}

template <typename T>
T* CapfsVolume::allocate() {
    auto* made = new (std::nothrow) T;
    if (made == nullptr) {
        // The cache is only a cache: what the volume's own work needs comes first.
        shrink_cache(cache_shrink_step);
        made = new (std::nothrow) T;
    }
    return made;
}

uint32_t CapfsVolume::take_slot() {
    // The cache grows with use, a block at a time, up to its size or until
    // memory runs out (then it stays as large as it got).
    if (m_cache_grown < m_cache_size) {
        m_cache[m_cache_grown].data = new (std::nothrow) Block;
        if (m_cache[m_cache_grown].data != nullptr)
            return m_cache_grown++;
        m_cache_size = m_cache_grown;
    }
    // The clock: the next slot not referenced since the hand last passed it.
    uint32_t victim;
    for (;;) {
        victim = m_cache_hand;
        m_cache_hand = (m_cache_hand + 1) % m_cache_grown;
        if (!m_cache[victim].referenced)
            break;
        m_cache[victim].referenced = false;
    }
    CacheSlot& slot = m_cache[victim];
    if (slot.block != 0)
        m_cache_index.erase(slot.block);
    slot.block = 0;
    return victim;
}

void CapfsVolume::cache_put(uint64_t block, const uint8_t* bytes) {
    cache_forget(block);
    uint32_t victim = take_slot();
    CacheSlot& slot = m_cache[victim];
    if (!m_cache_index.insert(block, victim))
        return; // not kept: it is read again when needed
    std::memcpy(slot.data->bytes, bytes, block_size);
    slot.block = block;
    slot.referenced = false;
}

// ---------------------------------------------------------------------------
// Nodes and trees

Result<Node*, FsError> CapfsVolume::node(uint64_t number) {
    if (Node** found = m_nodes.find(number))
        return *found;
    if (number == table_inode || number >= m_super.inode_capacity)
        return Err{FsError::Invalid};
    Node* table = *m_nodes.find(table_inode);
    const uint8_t* bytes = TRY(read_block(*table, number / inodes_per_block));
    Inode inode{};
    if (bytes != nullptr)
        std::memcpy(&inode, bytes + (number % inodes_per_block) * inode_size, inode_size);
    // Untrusted: a kind, a height and a size the tree can hold.
    if (inode.kind > static_cast<uint16_t>(InodeKind::Directory) || inode.height > max_height ||
        inode.size > max_file_size ||
        (inode.size + block_size - 1) / block_size > tree_capacity(inode.height))
        return Err{FsError::Corrupt};
    if (inode.kind == static_cast<uint16_t>(InodeKind::Directory) &&
        (inode.size % block_size != 0 || inode.size / block_size > UINT32_MAX))
        return Err{FsError::Corrupt};
    auto* created = allocate<Node>();
    if (created == nullptr)
        return Err{FsError::NoMemory};
    created->number = number;
    created->inode = inode;
    if (!m_nodes.insert(number, created)) {
        delete created;
        return Err{FsError::NoMemory};
    }
    return created;
}

Result<Node*, FsError> CapfsVolume::node_of_kind(uint64_t number, InodeKind kind) {
    Node* found = TRY(node(number));
    if (found->kind() == InodeKind::Free)
        return Err{FsError::Invalid};
    if (found->kind() != kind)
        return Err{kind == InodeKind::Directory ? FsError::NotDirectory : FsError::IsDirectory};
    return found;
}

Result<BlockPointer, FsError> CapfsVolume::pointer_of(Node& node, uint32_t level, uint64_t index) {
    uint32_t height = node.inode.height;
    if (level > height || (index >> (pointer_shift * (height - level))) != 0)
        return BlockPointer{};
    BlockPointer pointer = node.inode.root;
    for (uint32_t at = height; at > level; --at) {
        uint64_t at_index = index >> (pointer_shift * (at - level));
        const uint8_t* bytes;
        if (Block** dirty = node.blocks.find(tree_key(at, at_index)))
            bytes = (*dirty)->bytes;
        else if (pointer.block == 0)
            return BlockPointer{};
        else
            bytes = TRY(load(pointer, true));
        uint32_t slot = (index >> (pointer_shift * (at - level - 1))) & (pointers_per_block - 1);
        pointer = pointer_at(bytes, slot);
    }
    return pointer;
}

Result<const uint8_t*, FsError> CapfsVolume::read_block(Node& node, uint64_t index) {
    if (Block** dirty = node.blocks.find(tree_key(0, index)))
        return (*dirty)->bytes;
    BlockPointer pointer = TRY(pointer_of(node, 0, index));
    if (pointer.block == 0)
        return static_cast<const uint8_t*>(nullptr);
    return load(pointer, is_metadata(node, 0));
}

Result<void, FsError> CapfsVolume::mark_dirty(Node& node) {
    if (node.dirty)
        return {};
    if (node.number != table_inode) {
        // The inode's table block is dirtied now, so that the commit makes
        // no block dirty it did not count.
        Node* table = *m_nodes.find(table_inode);
        TRY(write_block(*table, node.number / inodes_per_block, false));
        if (!m_dirty_nodes.append(node.number))
            return Err{FsError::NoMemory};
    }
    node.dirty = true;
    return {};
}

Result<uint8_t*, FsError> CapfsVolume::dirty_block(Node& node, uint32_t level, uint64_t index,
                                                   bool whole) {
    if (Block** dirty = node.blocks.find(tree_key(level, index)))
        return (*dirty)->bytes;
    // Grow the tree until it reaches the block: a new root over the old.
    while (level > node.inode.height ||
           (index >> (pointer_shift * (node.inode.height - level))) != 0) {
        if (node.inode.height == max_height)
            return Err{FsError::TooLarge};
        auto* root = new (std::nothrow) Block{};
        if (root == nullptr)
            return Err{FsError::NoMemory};
        uint32_t height = node.inode.height + 1;
        if (!node.blocks.insert(tree_key(height, 0), root)) {
            delete root;
            return Err{FsError::NoMemory};
        }
        set_pointer(root->bytes, 0, node.inode.root);
        node.inode.root = {};
        node.inode.height = height;
        ++node.inode.blocks;
        ++m_dirty_count;
    }
    // The parent first (made dirty on the way up), then this block.
    BlockPointer pointer;
    if (level == node.inode.height) {
        pointer = node.inode.root;
    } else {
        uint8_t* parent = TRY(dirty_block(node, level + 1, index >> pointer_shift, false));
        pointer = pointer_at(parent, index & (pointers_per_block - 1));
    }
    auto* block = allocate<Block>();
    if (block == nullptr)
        return Err{FsError::NoMemory};
    if (pointer.block != 0 && !whole) {
        auto bytes = load(pointer, is_metadata(node, level));
        if (bytes.is_error()) {
            delete block;
            return Err{bytes.error()};
        }
        std::memcpy(block->bytes, bytes.value(), block_size);
    } else {
        std::memset(block->bytes, 0, block_size);
    }
    if (!node.blocks.insert(tree_key(level, index), block)) {
        delete block;
        return Err{FsError::NoMemory};
    }
    if (pointer.block == 0)
        ++node.inode.blocks;
    ++m_dirty_count;
    TRY(mark_dirty(node));
    return block->bytes;
}

void CapfsVolume::free_block(uint64_t block) {
    if (block < m_super.data_start || block >= m_super.total_blocks || !m_used_next.test(block))
        return;
    m_used_next.clear(block);
    ++m_free_next;
    m_bitmap_changed[block / bits_per_block] = m_super.generation + 1;
    cache_forget(block);
}

Result<void, FsError> CapfsVolume::free_subtree(Node& node, uint32_t level, uint64_t index,
                                                BlockPointer pointer) {
    uint64_t key = tree_key(level, index);
    Block** dirty = node.blocks.find(key);
    // A block not in use is one this walk (or another tree) freed already: a
    // tree that reaches a block twice is broken, and walking it again could
    // take as long as the tree's whole span.
    if (pointer.block != 0 &&
        (pointer.block < m_super.data_start || pointer.block >= m_super.total_blocks ||
         !m_used_next.test(pointer.block)))
        return Err{FsError::Corrupt};
    if (level > 0 && (dirty != nullptr || pointer.block != 0)) {
        // Copy the pointers out: loading children may reuse the cache slot.
        auto* copy = allocate<Block>();
        if (copy == nullptr)
            return Err{FsError::NoMemory};
        if (dirty != nullptr) {
            std::memcpy(copy->bytes, (*dirty)->bytes, block_size);
        } else {
            auto bytes = load(pointer, true);
            if (bytes.is_error()) {
                delete copy;
                return Err{bytes.error()};
            }
            std::memcpy(copy->bytes, bytes.value(), block_size);
        }
        for (uint32_t slot = 0; slot < pointers_per_block; ++slot) {
            BlockPointer child = pointer_at(copy->bytes, slot);
            uint64_t child_index = (index << pointer_shift) | slot;
            if (child.block == 0 && node.blocks.find(tree_key(level - 1, child_index)) == nullptr)
                continue;
            auto freed = free_subtree(node, level - 1, child_index, child);
            if (freed.is_error()) {
                delete copy;
                return freed;
            }
        }
        delete copy;
        dirty = node.blocks.find(key);
    }
    if (dirty != nullptr) {
        delete *dirty;
        node.blocks.erase(key);
        --m_dirty_count;
    }
    if (pointer.block != 0 || dirty != nullptr)
        if (node.inode.blocks > 0)
            --node.inode.blocks;
    if (pointer.block != 0)
        free_block(pointer.block);
    return {};
}

Result<BlockPointer, FsError> CapfsVolume::shrink_at(Node& node, uint32_t level, uint64_t index,
                                                     BlockPointer pointer, uint64_t keep) {
    uint64_t span = tree_capacity(level);
    uint64_t first = index * span;
    if (first >= keep) {
        TRY(free_subtree(node, level, index, pointer));
        return BlockPointer{};
    }
    if (level == 0 || first + span <= keep)
        return pointer;
    if (pointer.block == 0 && node.blocks.find(tree_key(level, index)) == nullptr)
        return pointer;
    uint8_t* bytes = TRY(dirty_block(node, level, index, false));
    for (uint32_t slot = 0; slot < pointers_per_block; ++slot) {
        uint64_t child_index = (index << pointer_shift) | slot;
        BlockPointer child = pointer_at(bytes, slot);
        BlockPointer kept = TRY(shrink_at(node, level - 1, child_index, child, keep));
        // The dirty block stays where it is: dirty blocks are not moved.
        bytes = (*node.blocks.find(tree_key(level, index)))->bytes;
        set_pointer(bytes, slot, kept);
    }
    return pointer;
}

Result<void, FsError> CapfsVolume::shrink(Node& node, uint64_t keep) {
    uint32_t height = node.inode.height;
    if (keep == 0) {
        TRY(free_subtree(node, height, 0, node.inode.root));
        node.inode.root = {};
        node.inode.height = 0;
        return {};
    }
    if (keep >= tree_capacity(height))
        return {};
    BlockPointer root = TRY(shrink_at(node, height, 0, node.inode.root, keep));
    node.inode.root = root;
    return {};
}

// ---------------------------------------------------------------------------
// Space

uint64_t CapfsVolume::estimate(uint64_t blocks) const {
    // Data blocks, the index blocks above them at every level a tree may
    // have, the inode's table block and the table's own path.
    uint64_t total = blocks;
    for (uint32_t level = 1; level <= max_height; ++level)
        total += (blocks >> (pointer_shift * level)) + 2;
    return total + 2 * (m_super.table_height + 2);
}

Result<void, FsError> CapfsVolume::reserve(uint64_t blocks, Use use) {
    // Removals may dip into the last 1/64 of the disk (at least 32 blocks).
    uint64_t kept = use == Use::Release ? 0 : std::max<uint64_t>(32, m_super.total_blocks / 64);
    if (available() >= blocks + kept)
        return {};
    if (m_dirty_count > 0) {
        TRY(commit());
        if (available() >= blocks + kept)
            return {};
    }
    return Err{FsError::NoSpace};
}

Result<void, FsError> CapfsVolume::after_change() {
    if (m_dirty_count >= m_options.dirty_limit)
        return commit();
    return {};
}

Result<uint64_t, FsError> CapfsVolume::allocate_block() {
    uint64_t total = m_super.total_blocks;
    for (uint64_t n = 0; n < total; ++n) {
        uint64_t block = m_alloc_cursor;
        m_alloc_cursor = m_alloc_cursor + 1 >= total ? m_super.data_start : m_alloc_cursor + 1;
        if (block < m_super.data_start)
            continue;
        // Whole words at a time where both bitmaps are full.
        if (block % 64 == 0 && block + 64 <= total &&
            (m_used_next.data()[block / 64] | m_used_committed.data()[block / 64]) ==
                ~uint64_t{0}) {
            m_alloc_cursor = block + 64 >= total ? m_super.data_start : block + 64;
            n += 63;
            continue;
        }
        if (!m_used_next.test(block) && !m_used_committed.test(block)) {
            m_used_next.set(block);
            --m_free_next;
            --m_free_both;
            m_bitmap_changed[block / bits_per_block] = m_super.generation + 1;
            return block;
        }
    }
    return Err{FsError::NoSpace};
}

// ---------------------------------------------------------------------------
// Inodes

Result<Node*, FsError> CapfsVolume::allocate_inode(InodeKind kind, uint64_t parent) {
    Node* table = *m_nodes.find(table_inode);
    if (m_super.free_inode_head == 0) {
        // A new table block: 32 more inodes, chained as free.
        uint64_t first = m_super.inode_capacity;
        if (first / inodes_per_block >= tree_capacity(max_height))
            return Err{FsError::NoSpace};
        uint8_t* bytes = TRY(write_block(*table, first / inodes_per_block, true));
        uint64_t start = first == 0 ? 2 : first; // slot 0 is the table's, 1 the root's
        for (uint64_t number = start; number < first + inodes_per_block; ++number) {
            Inode free{};
            free.next = number + 1 < first + inodes_per_block ? number + 1 : 0;
            std::memcpy(bytes + (number % inodes_per_block) * inode_size, &free, inode_size);
        }
        m_super.inode_capacity = first + inodes_per_block;
        table->inode.size = m_super.inode_capacity * inode_size;
        m_super.free_inode_head = start;
        if (first == 0) {
            // Formatting: the root is inode 1, taken directly.
            m_super.free_inode_head = 2;
            auto* root = new (std::nothrow) Node;
            if (root == nullptr)
                return Err{FsError::NoMemory};
            root->number = root_inode;
            if (!m_nodes.insert(root_inode, root)) {
                delete root;
                return Err{FsError::NoMemory};
            }
            root->inode.kind = static_cast<uint16_t>(kind);
            root->inode.links = 1;
            root->inode.next = root_inode;
            root->inode.created_ns = root->inode.modified_ns = root->inode.changed_ns =
                m_clock.now_ns();
            TRY(mark_dirty(*root));
            ++m_super.inodes_used;
            return root;
        }
    }
    Node* created = TRY(node(m_super.free_inode_head));
    if (created->kind() != InodeKind::Free || created->inode.next >= m_super.inode_capacity)
        return Err{FsError::Corrupt};
    m_super.free_inode_head = created->inode.next;
    uint64_t now = m_clock.now_ns();
    created->inode = Inode{};
    created->inode.kind = static_cast<uint16_t>(kind);
    created->inode.links = 1;
    created->inode.next = kind == InodeKind::Directory ? parent : 0;
    created->inode.created_ns = created->inode.modified_ns = created->inode.changed_ns = now;
    TRY(mark_dirty(*created));
    ++m_super.inodes_used;
    return created;
}

Result<void, FsError> CapfsVolume::destroy(Node& node) {
    TRY(free_subtree(node, node.inode.height, 0, node.inode.root));
    delete node.names;
    node.names = nullptr;
    node.inode = Inode{};
    node.inode.next = m_super.free_inode_head;
    m_super.free_inode_head = node.number;
    if (m_super.inodes_used > 0)
        --m_super.inodes_used;
    return mark_dirty(node);
}

Result<void, FsError> CapfsVolume::unlink_orphan(Node& orphan) {
    if (m_super.orphan_head == orphan.number) {
        m_super.orphan_head = orphan.inode.next;
        return {};
    }
    uint64_t at = m_super.orphan_head;
    for (uint64_t steps = 0; at != 0 && steps < m_super.inode_capacity; ++steps) {
        Node* previous = TRY(node(at));
        if (previous->inode.next == orphan.number) {
            TRY(mark_dirty(*previous));
            previous->inode.next = orphan.inode.next;
            return {};
        }
        at = previous->inode.next;
    }
    return Err{FsError::Corrupt};
}

Result<void, FsError> CapfsVolume::free_orphans() {
    for (uint64_t steps = 0; m_super.orphan_head != 0; ++steps) {
        if (steps >= m_super.inode_capacity)
            return Err{FsError::Corrupt};
        Node* orphan = TRY(node(m_super.orphan_head));
        if (orphan->kind() == InodeKind::Free || orphan->inode.links != 0)
            return Err{FsError::Corrupt};
        m_super.orphan_head = orphan->inode.next;
        TRY(destroy(*orphan));
    }
    return {};
}

// ---------------------------------------------------------------------------
// Directories

bool CapfsVolume::entry_at(const uint8_t* block, uint32_t offset, DirEntryHeader& header) const {
    if (offset >= block_size || block_size - offset < dir_entry_header)
        return false;
    std::memcpy(&header, block + offset, sizeof header);
    if (header.record_length < dir_entry_header || header.record_length % 8 != 0 ||
        header.record_length > block_size - offset)
        return false;
    if (header.inode == 0)
        return true;
    return dir_entry_size(header.name_length) <= header.record_length && header.name_length != 0 &&
           header.inode < m_super.inode_capacity && header.inode != table_inode &&
           (header.kind == static_cast<uint8_t>(InodeKind::File) ||
            header.kind == static_cast<uint8_t>(InodeKind::Directory));
}

Result<DirIndex*, FsError> CapfsVolume::names(Node& dir) {
    if (dir.names != nullptr)
        return dir.names;
    auto* index = new (std::nothrow) DirIndex;
    if (index == nullptr)
        return Err{FsError::NoMemory};
    uint64_t blocks = dir.inode.size / block_size;
    if (!index->free_space().resize(blocks)) {
        delete index;
        return Err{FsError::NoMemory};
    }
    for (uint64_t b = 0; b < blocks; ++b) {
        auto bytes = read_block(dir, b);
        if (bytes.is_error()) {
            delete index;
            return Err{bytes.error()};
        }
        const uint8_t* data = bytes.value();
        if (data == nullptr) {
            delete index;
            return Err{FsError::Corrupt};
        }
        uint16_t largest = 0;
        for (uint32_t offset = 0; offset < block_size;) {
            DirEntryHeader header;
            if (!entry_at(data, offset, header)) {
                delete index;
                return Err{FsError::Corrupt};
            }
            uint32_t free = header.inode == 0
                                ? header.record_length
                                : header.record_length - dir_entry_size(header.name_length);
            largest = std::max<uint16_t>(largest, static_cast<uint16_t>(free));
            if (header.inode != 0) {
                std::string_view name(
                    reinterpret_cast<const char*>(data + offset + dir_entry_header),
                    header.name_length);
                if (!index->insert(name_hash(name),
                                   {static_cast<uint32_t>(b), static_cast<uint16_t>(offset)})) {
                    delete index;
                    return Err{FsError::NoMemory};
                }
            }
            offset += header.record_length;
        }
        index->free_space()[b] = largest;
    }
    dir.names = index;
    return index;
}

Result<CapfsVolume::Found, FsError> CapfsVolume::find_entry(Node& dir, std::string_view name) {
    DirIndex* index = TRY(names(dir));
    Found found{};
    FsError error = FsError::NotFound;
    bool hit = index->find(name_hash(name), [&](DirIndex::Place place) {
        auto bytes = read_block(dir, place.block);
        if (bytes.is_error() || bytes.value() == nullptr) {
            error = bytes.is_error() ? bytes.error() : FsError::Corrupt;
            return false;
        }
        DirEntryHeader header;
        if (!entry_at(bytes.value(), place.offset, header) || header.inode == 0) {
            error = FsError::Corrupt;
            return false;
        }
        if (header.name_length != name.size() ||
            std::memcmp(bytes.value() + place.offset + dir_entry_header, name.data(),
                        name.size()) != 0)
            return false;
        found = {place, header.inode, static_cast<InodeKind>(header.kind)};
        return true;
    });
    if (!hit)
        return Err{error};
    return found;
}

Result<void, FsError> CapfsVolume::insert_entry(Node& dir, std::string_view name, uint64_t inode,
                                                InodeKind kind) {
    DirIndex* index = TRY(names(dir));
    uint32_t need = dir_entry_size(static_cast<uint32_t>(name.size()));
    Vector<uint16_t>& free = index->free_space();
    uint64_t block = free.size();
    for (uint64_t b = free.size(); b-- > 0;)
        if (free[b] >= need) {
            block = b;
            break;
        }
    if (block == free.size()) {
        if (block >= UINT32_MAX || dir.inode.size + block_size > max_file_size)
            return Err{FsError::TooLarge};
        if (!free.append(0))
            return Err{FsError::NoMemory};
        uint8_t* bytes = TRY(write_block(dir, block, true));
        DirEntryHeader empty{0, static_cast<uint16_t>(block_size), 0, 0};
        std::memcpy(bytes, &empty, sizeof empty);
        dir.inode.size += block_size;
        free[block] = block_size;
    }
    uint8_t* bytes = TRY(write_block(dir, block, false));
    // The first run of at least `need` bytes: a free entry, or the slack
    // after a used one.
    uint16_t largest = 0;
    bool placed = false;
    uint32_t placed_at = 0;
    for (uint32_t offset = 0; offset < block_size;) {
        DirEntryHeader header;
        if (!entry_at(bytes, offset, header))
            return Err{FsError::Corrupt};
        uint32_t used = header.inode == 0 ? 0 : dir_entry_size(header.name_length);
        uint32_t slack = header.record_length - used;
        uint32_t next = offset + header.record_length;
        if (!placed && slack >= need) {
            uint32_t at = offset + used;
            if (used != 0) {
                header.record_length = static_cast<uint16_t>(used);
                std::memcpy(bytes + offset, &header, sizeof header);
            }
            DirEntryHeader entry{inode, static_cast<uint16_t>(slack),
                                 static_cast<uint8_t>(name.size()), static_cast<uint8_t>(kind)};
            std::memcpy(bytes + at, &entry, sizeof entry);
            std::memcpy(bytes + at + dir_entry_header, name.data(), name.size());
            placed = true;
            placed_at = at;
            largest = std::max<uint16_t>(largest, static_cast<uint16_t>(slack - need));
        } else {
            largest = std::max<uint16_t>(largest, static_cast<uint16_t>(slack));
        }
        offset = next;
    }
    if (!placed)
        return Err{FsError::Corrupt};
    free[block] = largest;
    if (!index->insert(name_hash(name),
                       {static_cast<uint32_t>(block), static_cast<uint16_t>(placed_at)}))
        return Err{FsError::NoMemory};
    uint64_t now = m_clock.now_ns();
    dir.inode.modified_ns = dir.inode.changed_ns = now;
    return mark_dirty(dir);
}

Result<void, FsError> CapfsVolume::delete_entry(Node& dir, std::string_view name,
                                                DirIndex::Place place) {
    DirIndex* index = TRY(names(dir));
    uint8_t* bytes = TRY(write_block(dir, place.block, false));
    // Join the entry to the one before it (or free it, first in its block).
    uint32_t previous = block_size;
    uint32_t offset = 0;
    DirEntryHeader header;
    while (offset < place.offset) {
        if (!entry_at(bytes, offset, header))
            return Err{FsError::Corrupt};
        previous = offset;
        offset += header.record_length;
    }
    if (offset != place.offset || !entry_at(bytes, offset, header))
        return Err{FsError::Corrupt};
    if (previous == block_size) {
        header.inode = 0;
        header.name_length = 0;
        header.kind = 0;
        std::memcpy(bytes + place.offset, &header, sizeof header);
    } else {
        DirEntryHeader before;
        std::memcpy(&before, bytes + previous, sizeof before);
        before.record_length = static_cast<uint16_t>(before.record_length + header.record_length);
        std::memcpy(bytes + previous, &before, sizeof before);
    }
    index->find(
        name_hash(name),
        [&](DirIndex::Place at) { return at.block == place.block && at.offset == place.offset; },
        nullptr, true);
    uint16_t largest = 0;
    for (offset = 0; offset < block_size;) {
        if (!entry_at(bytes, offset, header))
            return Err{FsError::Corrupt};
        uint32_t used = header.inode == 0 ? 0 : dir_entry_size(header.name_length);
        largest = std::max<uint16_t>(largest, static_cast<uint16_t>(header.record_length - used));
        offset += header.record_length;
    }
    index->free_space()[place.block] = largest;
    uint64_t now = m_clock.now_ns();
    dir.inode.modified_ns = dir.inode.changed_ns = now;
    return mark_dirty(dir);
}

Result<void, FsError> CapfsVolume::set_entry_inode(Node& dir, DirIndex::Place place, uint64_t inode,
                                                   InodeKind kind) {
    uint8_t* bytes = TRY(write_block(dir, place.block, false));
    DirEntryHeader header;
    if (!entry_at(bytes, place.offset, header) || header.inode == 0)
        return Err{FsError::Corrupt};
    header.inode = inode;
    header.kind = static_cast<uint8_t>(kind);
    std::memcpy(bytes + place.offset, &header, sizeof header);
    dir.inode.modified_ns = dir.inode.changed_ns = m_clock.now_ns();
    return mark_dirty(dir);
}

// ---------------------------------------------------------------------------
// Volume calls

Result<NodeId, FsError> CapfsVolume::lookup(NodeId dir_id, std::string_view name) {
    if (m_failed)
        return Err{FsError::Io};
    TRY(check_name(name));
    Node* dir = TRY(node_of_kind(dir_id, InodeKind::Directory));
    Found found = TRY(find_entry(*dir, name));
    return found.inode;
}

Result<NodeId, FsError> CapfsVolume::create(NodeId dir_id, std::string_view name, NodeKind kind) {
    TRY(writable());
    TRY(check_name(name));
    Node* dir = TRY(node_of_kind(dir_id, InodeKind::Directory));
    auto existing = find_entry(*dir, name);
    if (existing.is_ok())
        return Err{FsError::Exists};
    if (existing.error() != FsError::NotFound)
        return Err{existing.error()};
    // The new inode's table block (and a new one), the directory's block
    // and paths.
    TRY(reserve(estimate(2) + 4));
    dir = TRY(node_of_kind(dir_id, InodeKind::Directory)); // a commit may have evicted it
    InodeKind inode_kind = kind == NodeKind::Directory ? InodeKind::Directory : InodeKind::File;
    Node* created = TRY(allocate_inode(inode_kind, dir_id));
    auto inserted = insert_entry(*dir, name, created->number, inode_kind);
    if (inserted.is_error()) {
        (void)destroy(*created);
        return Err{inserted.error()};
    }
    TRY(after_change());
    return created->number;
}

Result<void, FsError> CapfsVolume::remove(NodeId dir_id, std::string_view name) {
    TRY(writable());
    TRY(check_name(name));
    Node* dir = TRY(node_of_kind(dir_id, InodeKind::Directory));
    Found found = TRY(find_entry(*dir, name));
    Node* target = TRY(node(found.inode));
    if (target->kind() == InodeKind::Free)
        return Err{FsError::Corrupt};
    if (target->kind() == InodeKind::Directory && TRY(names(*target))->count() != 0)
        return Err{FsError::NotEmpty};
    TRY(reserve(estimate(1) + 4, Use::Release));
    dir = TRY(node_of_kind(dir_id, InodeKind::Directory));
    target = TRY(node(found.inode));
    TRY(delete_entry(*dir, name, found.place));
    target->inode.links = 0;
    target->inode.changed_ns = m_clock.now_ns();
    if (target->holds == 0) {
        TRY(destroy(*target));
    } else {
        TRY(mark_dirty(*target));
        target->inode.next = m_super.orphan_head;
        m_super.orphan_head = target->number;
    }
    return after_change();
}

Result<void, FsError> CapfsVolume::rename(NodeId from_dir_id, std::string_view from,
                                          NodeId to_dir_id, std::string_view to) {
    TRY(writable());
    TRY(check_name(from));
    TRY(check_name(to));
    Node* from_dir = TRY(node_of_kind(from_dir_id, InodeKind::Directory));
    TRY(node_of_kind(to_dir_id, InodeKind::Directory));
    Found moving = TRY(find_entry(*from_dir, from));
    if (from_dir_id == to_dir_id && from == to)
        return {};
    if (moving.kind == InodeKind::Directory) {
        // Not below itself: walk up from the destination.
        uint64_t at = to_dir_id;
        for (uint64_t steps = 0;; ++steps) {
            if (at == moving.inode)
                return Err{FsError::Invalid};
            if (at == root_inode)
                break;
            if (steps >= m_super.inode_capacity)
                return Err{FsError::Corrupt};
            Node* up = TRY(node_of_kind(at, InodeKind::Directory));
            at = up->inode.next;
        }
    }
    Node* to_dir = TRY(node_of_kind(to_dir_id, InodeKind::Directory));
    auto replaced = find_entry(*to_dir, to);
    if (replaced.is_error() && replaced.error() != FsError::NotFound)
        return Err{replaced.error()};
    if (replaced.is_ok()) {
        Node* target = TRY(node(replaced.value().inode));
        if (target->number == moving.inode)
            return {};
        if (moving.kind == InodeKind::Directory && target->kind() != InodeKind::Directory)
            return Err{FsError::NotDirectory};
        if (moving.kind != InodeKind::Directory && target->kind() == InodeKind::Directory)
            return Err{FsError::IsDirectory};
        if (target->kind() == InodeKind::Directory && TRY(names(*target))->count() != 0)
            return Err{FsError::NotEmpty};
    }
    TRY(reserve(2 * estimate(1) + 8));
    from_dir = TRY(node_of_kind(from_dir_id, InodeKind::Directory));
    to_dir = TRY(node_of_kind(to_dir_id, InodeKind::Directory));
    // Places may have changed with a commit: find them again.
    moving = TRY(find_entry(*from_dir, from));
    replaced = find_entry(*to_dir, to);
    if (replaced.is_ok()) {
        uint64_t old = replaced.value().inode;
        TRY(set_entry_inode(*to_dir, replaced.value().place, moving.inode, moving.kind));
        Node* target = TRY(node(old));
        target->inode.links = 0;
        if (target->holds == 0) {
            TRY(destroy(*target));
        } else {
            TRY(mark_dirty(*target));
            target->inode.next = m_super.orphan_head;
            m_super.orphan_head = target->number;
        }
    } else {
        TRY(insert_entry(*to_dir, to, moving.inode, moving.kind));
    }
    from_dir = TRY(node_of_kind(from_dir_id, InodeKind::Directory));
    moving = TRY(find_entry(*from_dir, from));
    TRY(delete_entry(*from_dir, from, moving.place));
    Node* moved = TRY(node(moving.inode));
    TRY(mark_dirty(*moved));
    moved->inode.changed_ns = m_clock.now_ns();
    if (moving.kind == InodeKind::Directory)
        moved->inode.next = to_dir_id;
    return after_change();
}

Result<uint64_t, FsError> CapfsVolume::list(NodeId dir_id, uint64_t cursor, ListVisitor& visitor) {
    if (m_failed)
        return Err{FsError::Io};
    Node* dir = TRY(node_of_kind(dir_id, InodeKind::Directory));
    TRY(names(*dir)); // checks every entry
    uint64_t blocks = dir->inode.size / block_size;
    for (uint64_t b = cursor / block_size; b < blocks; ++b) {
        const uint8_t* bytes = TRY(read_block(*dir, b));
        if (bytes == nullptr)
            return Err{FsError::Corrupt};
        for (uint32_t offset = 0; offset < block_size;) {
            DirEntryHeader header;
            if (!entry_at(bytes, offset, header))
                return Err{FsError::Corrupt};
            uint64_t here = b * block_size + offset;
            offset += header.record_length;
            if (header.inode == 0 || here < cursor)
                continue;
            DirEntry entry{std::string_view(reinterpret_cast<const char*>(
                                                bytes + here % block_size + dir_entry_header),
                                            header.name_length),
                           header.kind == static_cast<uint8_t>(InodeKind::Directory)
                               ? NodeKind::Directory
                               : NodeKind::File,
                           header.inode};
            if (!visitor.entry(entry))
                return here;
        }
    }
    return end_of_listing;
}

Result<size_t, FsError> CapfsVolume::read(NodeId file_id, uint64_t offset, std::span<uint8_t> out) {
    if (m_failed)
        return Err{FsError::Io};
    Node* file = TRY(node_of_kind(file_id, InodeKind::File));
    uint64_t size = file->inode.size;
    if (offset >= size)
        return size_t{0};
    size_t length = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
    size_t done = 0;
    while (done < length) {
        uint64_t at = offset + done;
        uint64_t index = at / block_size;
        uint32_t within = static_cast<uint32_t>(at % block_size);
        size_t piece = std::min<size_t>(block_size - within, length - done);
        // Whole clean blocks go straight from the disk, in runs.
        if (within == 0 && piece == block_size &&
            file->blocks.find(tree_key(0, index)) == nullptr) {
            BlockPointer first = TRY(pointer_of(*file, 0, index));
            if (first.block != 0 && m_cache_index.find(first.block) == nullptr) {
                uint32_t run = 1;
                while (done + size_t{run + 1} * block_size <= length && run < stage_blocks &&
                       file->blocks.find(tree_key(0, index + run)) == nullptr) {
                    BlockPointer next = TRY(pointer_of(*file, 0, index + run));
                    if (next.block != first.block + run || m_cache_index.find(next.block))
                        break;
                    ++run;
                }
                if (first.block < m_super.data_start || first.block + run > m_super.total_blocks)
                    return Err{FsError::Corrupt};
                TRY(disk_read(first.block, run, out.data() + done));
                // Kept: the next read of them comes from memory.
                for (uint32_t i = 0; i < run; ++i)
                    cache_put(first.block + i, out.data() + done + size_t{i} * block_size);
                done += size_t{run} * block_size;
                continue;
            }
        }
        const uint8_t* bytes = TRY(read_block(*file, index));
        if (bytes == nullptr)
            std::memset(out.data() + done, 0, piece);
        else
            std::memcpy(out.data() + done, bytes + within, piece);
        done += piece;
    }
    return length;
}

Result<void, FsError> CapfsVolume::write(NodeId file_id, uint64_t offset,
                                         std::span<const uint8_t> data) {
    TRY(writable());
    Node* file = TRY(node_of_kind(file_id, InodeKind::File));
    if (offset > max_file_size || data.size() > max_file_size - offset)
        return Err{FsError::TooLarge};
    if (data.empty())
        return {};
    // Large writes go in pieces of half the dirty limit, each reserved
    // whole; a commit may come between them.
    size_t piece_limit =
        std::max<size_t>(size_t{m_options.dirty_limit / 2} * block_size, block_size);
    size_t done = 0;
    while (done < data.size()) {
        uint64_t at = offset + done;
        size_t piece = std::min(piece_limit, data.size() - done);
        uint64_t first = at / block_size;
        uint64_t last = (at + piece - 1) / block_size;
        TRY(reserve(estimate(last - first + 1)));
        file = TRY(node_of_kind(file_id, InodeKind::File));
        uint64_t old_size = file->inode.size;
        for (uint64_t index = first; index <= last; ++index) {
            uint64_t block_start = index * block_size;
            uint64_t from = std::max<uint64_t>(block_start, at);
            uint64_t to = std::min<uint64_t>(block_start + block_size, at + piece);
            bool whole = (from == block_start && to == block_start + block_size) ||
                         (block_start >= old_size && from == block_start);
            uint8_t* bytes = TRY(write_block(*file, index, whole));
            if (whole && to - from < block_size)
                std::memset(bytes + (to - block_start), 0, block_start + block_size - to);
            std::memcpy(bytes + (from - block_start), data.data() + (from - offset), to - from);
        }
        file->inode.size = std::max<uint64_t>(old_size, at + piece);
        file->inode.modified_ns = file->inode.changed_ns = m_clock.now_ns();
        TRY(mark_dirty(*file));
        done += piece;
        TRY(after_change());
    }
    return {};
}

Result<void, FsError> CapfsVolume::truncate(NodeId file_id, uint64_t size) {
    TRY(writable());
    Node* file = TRY(node_of_kind(file_id, InodeKind::File));
    if (size > max_file_size)
        return Err{FsError::TooLarge};
    if (size < file->inode.size) {
        TRY(reserve(2 * (max_height + 1) + 4, Use::Release));
        file = TRY(node_of_kind(file_id, InodeKind::File));
        uint64_t keep = (size + block_size - 1) / block_size;
        TRY(shrink(*file, keep));
        if (size % block_size != 0) {
            // The rest of the last block reads as zeros from now on.
            BlockPointer last = TRY(pointer_of(*file, 0, size / block_size));
            if (last.block != 0 || file->blocks.find(tree_key(0, size / block_size))) {
                uint8_t* bytes = TRY(write_block(*file, size / block_size, false));
                std::memset(bytes + size % block_size, 0, block_size - size % block_size);
            }
        }
    } else {
        TRY(reserve(4));
        file = TRY(node_of_kind(file_id, InodeKind::File));
    }
    file->inode.size = size;
    file->inode.modified_ns = file->inode.changed_ns = m_clock.now_ns();
    TRY(mark_dirty(*file));
    return after_change();
}

Result<NodeStat, FsError> CapfsVolume::stat(NodeId id) {
    if (m_failed)
        return Err{FsError::Io};
    Node* found = TRY(node(id));
    if (found->kind() == InodeKind::Free)
        return Err{FsError::Invalid};
    return NodeStat{id,
                    found->kind() == InodeKind::Directory ? NodeKind::Directory : NodeKind::File,
                    found->inode.size,
                    found->inode.created_ns,
                    found->inode.modified_ns,
                    found->inode.links};
}

Result<void, FsError> CapfsVolume::hold(NodeId id) {
    Node* found = TRY(node(id));
    if (found->kind() == InodeKind::Free)
        return Err{FsError::Invalid};
    ++found->holds;
    return {};
}

void CapfsVolume::release(NodeId id) {
    Node** found = m_nodes.find(id);
    if (found == nullptr || (*found)->holds == 0)
        return;
    Node& held = **found;
    if (--held.holds > 0 || held.inode.links != 0 || held.kind() == InodeKind::Free)
        return;
    // The last hold of a removed node: its storage goes now.
    if (read_only() || m_failed)
        return;
    if (unlink_orphan(held).is_ok())
        (void)destroy(held);
}

// ---------------------------------------------------------------------------
// Commit

Result<void, FsError> CapfsVolume::stage(uint64_t block, const uint8_t* bytes) {
    if (m_stage_count > 0 &&
        (m_stage_start + m_stage_count != block || m_stage_count == stage_blocks))
        TRY(flush_stage());
    if (m_stage_count == 0)
        m_stage_start = block;
    std::memcpy(m_stage + size_t{m_stage_count} * block_size, bytes, block_size);
    ++m_stage_count;
    return {};
}

Result<void, FsError> CapfsVolume::flush_stage() {
    if (m_stage_count == 0)
        return {};
    uint32_t count = m_stage_count;
    m_stage_count = 0;
    return disk_write(m_stage_start, count, m_stage);
}

Result<void, FsError> CapfsVolume::flush_tree(Node& node) {
    Vector<uint64_t> keys;
    if (!keys.reserve(node.blocks.size()))
        return Err{FsError::NoMemory};
    node.blocks.for_each([&](uint64_t key, Block*&) { (void)keys.append(key); });
    std::sort(keys.begin(), keys.end());
    for (uint64_t key : keys) {
        uint32_t level = key_level(key);
        uint64_t index = key_index(key);
        Block* block = *node.blocks.find(key);
        uint64_t address = TRY(allocate_block());
        bool metadata = is_metadata(node, level);
        BlockPointer fresh{address, metadata ? crc32c(block->bytes, block_size) : 0,
                           metadata ? pointer_checked : 0};
        TRY(stage(address, block->bytes));
        BlockPointer old;
        if (level == node.inode.height) {
            old = node.inode.root;
            node.inode.root = fresh;
        } else {
            Block** parent = node.blocks.find(tree_key(level + 1, index >> pointer_shift));
            if (parent == nullptr)
                return Err{FsError::Corrupt}; // a dirty block's parent is dirty
            uint32_t slot = index & (pointers_per_block - 1);
            old = pointer_at((*parent)->bytes, slot);
            set_pointer((*parent)->bytes, slot, fresh);
        }
        if (old.block != 0)
            free_block(old.block);
        // What was written is what a read finds next (data too).
        cache_put(address, block->bytes);
    }
    // (The stage goes on into the next tree: blocks allocated one after
    // another, whichever trees they belong to, go to the disk together.)
    for (uint64_t key : keys) {
        delete *node.blocks.find(key);
        node.blocks.erase(key);
    }
    m_dirty_count -= keys.size();
    return {};
}

Result<void, FsError> CapfsVolume::write_bitmap(uint32_t copy) {
    uint64_t first = m_super.bitmap_start + copy * m_super.bitmap_blocks;
    const auto* bytes = reinterpret_cast<const uint8_t*>(m_used_next.data());
    size_t total = m_used_next.words() * sizeof(uint64_t);
    for (uint64_t b = 0; b < m_super.bitmap_blocks; ++b) {
        // The copy holds the generation before last: write what changed since.
        if (m_bitmap_changed[b] + 1 < m_super.generation + 1)
            continue;
        uint8_t block[block_size] = {};
        size_t from = b * block_size;
        if (from < total)
            std::memcpy(block, bytes + from, std::min<size_t>(block_size, total - from));
        TRY(stage(first + b, block));
    }
    return flush_stage();
}

Result<void, FsError> CapfsVolume::commit_steps() {
    // 1. Every inode's tree, children before parents, its inode then
    //    copied into its (already dirty) table block.
    std::sort(m_dirty_nodes.begin(), m_dirty_nodes.end());
    Node* table = *m_nodes.find(table_inode);
    // First fit from the start of the data area: holes fill first, and
    // blocks freed since the last commit are met (and must be passed over).
    m_alloc_cursor = m_super.data_start;
    for (uint64_t number : m_dirty_nodes) {
        Node* dirty = *m_nodes.find(number);
        TRY(flush_tree(*dirty));
        Block** slot = table->blocks.find(tree_key(0, number / inodes_per_block));
        if (slot == nullptr)
            return Err{FsError::Corrupt};
        std::memcpy((*slot)->bytes + (number % inodes_per_block) * inode_size, &dirty->inode,
                    inode_size);
        dirty->dirty = false;
    }
    m_dirty_nodes.clear();
    // 2. The table's tree, whose root the superblock holds.
    TRY(flush_tree(*table));
    table->dirty = false;
    // 3. The bitmap copy of the next generation, then everything flushed.
    uint64_t generation = m_super.generation + 1;
    TRY(write_bitmap(static_cast<uint32_t>(generation % 2)));
    TRY(m_disk.flush());
    // 4. The commit point: the superblock into the other slot.
    Superblock next = m_super;
    next.generation = generation;
    next.free_blocks = m_free_next;
    next.table_root = table->inode.root;
    next.table_height = table->inode.height;
    next.committed_ns = m_clock.now_ns();
    next.crc = superblock_crc(next);
    uint8_t block[block_size] = {};
    std::memcpy(block, &next, sizeof next);
    TRY(disk_write(generation % 2, 1, block));
    TRY(m_disk.flush());
    m_super = next;
    m_used_committed.copy_from(m_used_next);
    m_free_both = m_free_next;
    return {};
}

Result<void, FsError> CapfsVolume::commit() {
    if (m_failed)
        return Err{FsError::Io};
    if (read_only())
        return {};
    if (m_dirty_count == 0 && m_dirty_nodes.empty())
        return {};
    auto committed = commit_steps();
    if (committed.is_error()) {
        // What the disk holds is the last commit; memory is half-way.
        m_failed = true;
        return Err{committed.error() == FsError::NoMemory ? FsError::NoMemory : FsError::Io};
    }
    evict_nodes();
    return {};
}

void CapfsVolume::evict_nodes() {
    // Clean nodes nobody holds, beyond a few thousand, are read again when needed.
    if (m_nodes.size() <= 4096)
        return;
    Vector<uint64_t> gone;
    m_nodes.for_each([&](uint64_t number, Node*& node) {
        if (number != table_inode && number != root_inode && node->holds == 0 && !node->dirty &&
            node->blocks.size() == 0)
            (void)gone.append(number);
    });
    for (uint64_t number : gone) {
        delete *m_nodes.find(number);
        m_nodes.erase(number);
    }
}

// ---------------------------------------------------------------------------
// Mount and format

Result<void, FsError> CapfsVolume::load() {
    uint64_t disk_blocks = m_disk.sectors() / m_sectors_per_block;
    Superblock best{};
    bool found = false;
    uint8_t block[block_size];
    for (uint32_t slot = 0; slot < 2 && slot < disk_blocks; ++slot) {
        TRY(disk_read(slot, 1, block));
        Superblock candidate;
        std::memcpy(&candidate, block, sizeof candidate);
        if (superblock_valid(candidate, slot, disk_blocks) &&
            (!found || candidate.generation > best.generation)) {
            best = candidate;
            found = true;
        }
    }
    if (!found)
        return Err{FsError::Corrupt};
    m_super = best;
    if (!m_used_committed.init(m_super.total_blocks) || !m_used_next.init(m_super.total_blocks) ||
        !m_bitmap_changed.resize(m_super.bitmap_blocks))
        return Err{FsError::NoMemory};
    uint64_t copy = m_super.bitmap_start + (m_super.generation % 2) * m_super.bitmap_blocks;
    auto* words = reinterpret_cast<uint8_t*>(m_used_next.data());
    size_t total = m_used_next.words() * sizeof(uint64_t);
    for (uint64_t b = 0; b < m_super.bitmap_blocks; ++b) {
        TRY(disk_read(copy + b, 1, block));
        size_t from = b * block_size;
        std::memcpy(words + from, block, std::min<size_t>(block_size, total - from));
        m_bitmap_changed[b] = m_super.generation;
    }
    // Bits past the end are clear; the metadata area is in use.
    for (uint64_t bit = m_super.total_blocks; bit < m_used_next.words() * 64; ++bit)
        if (m_used_next.test(bit))
            return Err{FsError::Corrupt};
    m_free_next = 0;
    for (uint64_t b = 0; b < m_super.total_blocks; ++b) {
        if (b < m_super.data_start && !m_used_next.test(b))
            return Err{FsError::Corrupt};
        if (!m_used_next.test(b))
            ++m_free_next;
    }
    m_used_committed.copy_from(m_used_next);
    m_free_both = m_free_next;
    m_alloc_cursor = m_super.data_start;
    TRY(create_caches());
    auto* table = new (std::nothrow) Node;
    if (table == nullptr)
        return Err{FsError::NoMemory};
    table->number = table_inode;
    table->inode.kind = static_cast<uint16_t>(InodeKind::File);
    table->inode.root = m_super.table_root;
    table->inode.height = static_cast<uint16_t>(m_super.table_height);
    table->inode.size = m_super.inode_capacity * inode_size;
    if (!m_nodes.insert(table_inode, table)) {
        delete table;
        return Err{FsError::NoMemory};
    }
    Node* root = TRY(node(root_inode));
    if (root->kind() != InodeKind::Directory)
        return Err{FsError::Corrupt};
    TRY(names(*root));
    if (!read_only() && m_super.orphan_head != 0) {
        TRY(free_orphans());
        TRY(commit());
    }
    return {};
}

Result<void, FsError> CapfsVolume::create_caches() {
    m_cache_size = std::max<uint32_t>(m_options.cache_blocks, min_cache_blocks);
    m_cache = new (std::nothrow) CacheSlot[m_cache_size];
    if (m_cache == nullptr) {
        m_cache_size = 0;
        return Err{FsError::NoMemory};
    }
    for (uint32_t i = 0; i < m_cache_size; ++i)
        m_cache[i] = {0, nullptr, false};
    // The first few now, so that the cache always has room to work in.
    for (; m_cache_grown < min_cache_blocks; ++m_cache_grown) {
        m_cache[m_cache_grown].data = new (std::nothrow) Block;
        if (m_cache[m_cache_grown].data == nullptr)
            return Err{FsError::NoMemory};
    }
    m_stage = new (std::nothrow) uint8_t[size_t{stage_blocks} * block_size];
    if (m_stage == nullptr)
        return Err{FsError::NoMemory};
    return {};
}

Result<void, FsError> CapfsVolume::create_empty() {
    uint64_t total = m_disk.sectors() / m_sectors_per_block;
    Layout layout = layout_for(total);
    m_super = Superblock{};
    m_super.magic = superblock_magic;
    m_super.version = format_version;
    m_super.block_size = block_size;
    m_super.generation = 0;
    m_super.total_blocks = total;
    m_super.bitmap_start = layout.bitmap_start;
    m_super.bitmap_blocks = layout.bitmap_blocks;
    m_super.data_start = layout.data_start;
    m_super.created_ns = m_clock.now_ns();
    if (!m_used_committed.init(total) || !m_used_next.init(total) ||
        !m_bitmap_changed.resize(layout.bitmap_blocks))
        return Err{FsError::NoMemory};
    for (uint64_t b = 0; b < layout.data_start; ++b) {
        m_used_next.set(b);
        m_used_committed.set(b);
    }
    m_free_next = m_free_both = total - layout.data_start;
    m_alloc_cursor = layout.data_start;
    TRY(create_caches());
    // Both superblock slots invalid, both bitmap copies written whole by
    // the first two commits (every block marked as changed).
    uint8_t zero[block_size] = {};
    TRY(disk_write(0, 1, zero));
    TRY(disk_write(1, 1, zero));
    auto* table = new (std::nothrow) Node;
    if (table == nullptr)
        return Err{FsError::NoMemory};
    table->number = table_inode;
    table->inode.kind = static_cast<uint16_t>(InodeKind::File);
    if (!m_nodes.insert(table_inode, table)) {
        delete table;
        return Err{FsError::NoMemory};
    }
    TRY(allocate_inode(InodeKind::Directory, root_inode));
    TRY(commit());
    // The other bitmap copy too, so that either slot's is whole.
    for (auto& changed : m_bitmap_changed)
        changed = m_super.generation + 1;
    Node* root = *m_nodes.find(root_inode);
    TRY(mark_dirty(*root));
    return commit();
}

} // namespace

Result<void, FsError> format(BlockIo& disk, Clock& clock) {
    if (disk.sector_size() == 0 || block_size % disk.sector_size() != 0)
        return Err{FsError::NotSupported};
    if (disk.sectors() / (block_size / disk.sector_size()) < min_blocks)
        return Err{FsError::Invalid};
    if (disk.read_only())
        return Err{FsError::ReadOnly};
    Options options;
    options.cache_blocks = 16;
    CapfsVolume volume(disk, clock, options);
    return volume.create_empty();
}

Result<Volume*, FsError> mount(BlockIo& disk, Clock& clock, const Options& options) {
    if (disk.sector_size() == 0 || block_size % disk.sector_size() != 0)
        return Err{FsError::NotSupported};
    auto* volume = new (std::nothrow) CapfsVolume(disk, clock, options);
    if (volume == nullptr)
        return Err{FsError::NoMemory};
    auto loaded = volume->load();
    if (loaded.is_error()) {
        delete volume;
        return Err{loaded.error()};
    }
    return static_cast<Volume*>(volume);
}

bool probe(const uint8_t* first_block, size_t size) {
    uint64_t magic;
    if (size < sizeof magic)
        return false;
    std::memcpy(&magic, first_block, sizeof magic);
    return magic == superblock_magic;
}

} // namespace capos::fs::capfs
