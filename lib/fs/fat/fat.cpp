// FAT32 as a Volume: the contracts are in fat.h. How it is done:
//  - Sectors are the volume's logical sectors (the boot sector's), each a
//    whole number of the disk's. The FAT and directories are read and
//    written through a small write-back cache of sectors (Cache below);
//    file data goes to the disk directly, and a direct write updates any
//    copy the cache holds so the two never disagree.
//  - A dirty FAT sector is written to every FAT copy when it leaves the
//    cache (or at sync).
//  - Chains are walked one FAT entry at a time. A few remembered positions
//    (first cluster, index, cluster) make a sequential read or an append
//    cost one step per cluster instead of a walk from the start; they are
//    forgotten whenever an existing link changes.
//  - A change that needs clusters allocates all of them before it changes
//    anything visible, and gives them back if it cannot have them all:
//    NoSpace leaves the volume as it was.
#include "lib/fs/fat/fat.h"

#include "lib/base/bytes.h"
#include "lib/fs/fat/names.h"

#include <new>
#include <optional>

namespace capos::fs::fat {

namespace {

using bytes::load_u16;
using bytes::load_u32;

constexpr uint32_t cluster_mask = 0x0FFFFFFF;
constexpr uint32_t first_end_of_chain = 0x0FFFFFF8;
constexpr uint32_t end_of_chain = 0x0FFFFFFF;
// Cluster numbers run from 2 to 0x0FFFFFF6 (0x0FFFFFF7 marks a bad cluster).
constexpr uint32_t max_cluster_count = 0x0FFFFFF5;
// A directory holds at most 65536 entries (2 MiB), as FAT's specification says.
constexpr uint32_t max_dir_entries = 65536;
constexpr uint64_t max_file_size = 0xFFFFFFFF;
constexpr NodeId root_id = 1;
constexpr size_t cache_slots = 32;
// The most sectors one disk call moves.
constexpr uint32_t max_io_sectors = 128;
constexpr uint32_t tail_bits = max_dir_entries + 2;

constexpr uint8_t attr_volume_id = 0x08;
constexpr uint8_t attr_directory = 0x10;
constexpr uint8_t attr_archive = 0x20;
constexpr uint8_t attr_long_name = 0x0F;
constexpr uint8_t deleted_mark = 0xE5;

constexpr uint32_t fsinfo_lead = 0x41615252;
constexpr uint32_t fsinfo_struct = 0x61417272;
constexpr uint32_t fsinfo_trail = 0xAA550000;

void store_u16(uint8_t* at, uint16_t value) {
    __builtin_memcpy(at, &value, sizeof value);
}
void store_u32(uint8_t* at, uint32_t value) {
    __builtin_memcpy(at, &value, sizeof value);
}

// The boot sector's numbers, checked against each other.
struct Geometry {
    uint32_t bytes_per_sector = 0;
    uint32_t sectors_per_cluster = 0;
    uint32_t reserved_sectors = 0;
    uint32_t fat_count = 0;
    uint32_t fat_sectors = 0;
    uint64_t total_sectors = 0;
    uint64_t data_start = 0;
    uint32_t cluster_count = 0;
    uint32_t root_cluster = 0;
    uint32_t fsinfo_sector = 0; // 0: none
    bool mirrored = true;
    uint32_t active_fat = 0;
};

Result<Geometry, FsError> parse_boot_sector(const uint8_t* boot, size_t size) {
    if (size < 512 || boot[510] != 0x55 || boot[511] != 0xAA)
        return Err{FsError::Corrupt};
    Geometry g;
    g.bytes_per_sector = load_u16(boot + 11);
    if (g.bytes_per_sector != 512 && g.bytes_per_sector != 1024 && g.bytes_per_sector != 2048 &&
        g.bytes_per_sector != 4096)
        return Err{FsError::Corrupt};
    g.sectors_per_cluster = boot[13];
    if (g.sectors_per_cluster == 0 || (g.sectors_per_cluster & (g.sectors_per_cluster - 1)) != 0)
        return Err{FsError::Corrupt};
    g.reserved_sectors = load_u16(boot + 14);
    g.fat_count = boot[16];
    uint8_t media = boot[21];
    if (g.reserved_sectors == 0 || g.fat_count == 0 || (media != 0xF0 && media < 0xF8))
        return Err{FsError::Corrupt};
    // FAT12 and FAT16 keep their FAT's size here (and a fixed root).
    if (load_u16(boot + 22) != 0)
        return Err{FsError::NotSupported};
    if (load_u16(boot + 17) != 0)
        return Err{FsError::Corrupt};
    uint16_t total16 = load_u16(boot + 19);
    g.total_sectors = total16 != 0 ? total16 : load_u32(boot + 32);
    g.fat_sectors = load_u32(boot + 36);
    if (g.total_sectors == 0 || g.fat_sectors == 0)
        return Err{FsError::Corrupt};
    uint16_t flags = load_u16(boot + 40);
    if (load_u16(boot + 42) != 0)
        return Err{FsError::NotSupported};
    g.mirrored = (flags & 0x80) == 0;
    g.active_fat = g.mirrored ? 0 : flags & 0x0F;
    if (g.active_fat >= g.fat_count)
        return Err{FsError::Corrupt};
    g.data_start = g.reserved_sectors + uint64_t{g.fat_count} * g.fat_sectors;
    if (g.data_start >= g.total_sectors)
        return Err{FsError::Corrupt};
    uint64_t clusters = (g.total_sectors - g.data_start) / g.sectors_per_cluster;
    uint64_t fat_entries = uint64_t{g.fat_sectors} * g.bytes_per_sector / 4;
    if (fat_entries < 3)
        return Err{FsError::Corrupt};
    if (clusters > fat_entries - 2)
        clusters = fat_entries - 2;
    if (clusters > max_cluster_count)
        clusters = max_cluster_count;
    if (clusters == 0)
        return Err{FsError::Corrupt};
    g.cluster_count = static_cast<uint32_t>(clusters);
    g.root_cluster = load_u32(boot + 44);
    if (g.root_cluster < 2 || g.root_cluster > g.cluster_count + 1)
        return Err{FsError::Corrupt};
    uint16_t fsinfo = load_u16(boot + 48);
    g.fsinfo_sector = fsinfo != 0 && fsinfo < g.reserved_sectors ? fsinfo : 0;
    return g;
}

// A directory entry's fields.
uint32_t entry_cluster(const uint8_t* entry) {
    return uint32_t{load_u16(entry + 20)} << 16 | load_u16(entry + 26);
}
void set_entry_cluster(uint8_t* entry, uint32_t cluster) {
    store_u16(entry + 20, static_cast<uint16_t>(cluster >> 16));
    store_u16(entry + 26, static_cast<uint16_t>(cluster));
}
uint32_t entry_size_field(const uint8_t* entry) {
    return load_u32(entry + 28);
}
bool is_long_entry(const uint8_t* entry) {
    return (entry[11] & 0x3F) == attr_long_name;
}
bool is_dot_entry(const uint8_t* entry) {
    return __builtin_memcmp(entry, ".          ", 11) == 0 ||
           __builtin_memcmp(entry, "..         ", 11) == 0;
}
bool is_dotdot_entry(const uint8_t* entry) {
    return __builtin_memcmp(entry, "..         ", 11) == 0;
}
// A file or directory (not free, not part of a long name, not the label).
bool is_node_entry(const uint8_t* entry) {
    return entry[0] != 0 && entry[0] != deleted_mark && !is_long_entry(entry) &&
           (entry[11] & attr_volume_id) == 0;
}
NodeKind kind_of(const uint8_t* entry) {
    return entry[11] & attr_directory ? NodeKind::Directory : NodeKind::File;
}
void set_modified(uint8_t* entry, Timestamp now) {
    store_u16(entry + 18, now.date);
    store_u16(entry + 22, now.time);
    store_u16(entry + 24, now.date);
}
// A short entry made now.
void make_entry(uint8_t* entry, const ShortName& name, uint8_t attributes, uint32_t cluster,
                Timestamp now) {
    __builtin_memset(entry, 0, entry_size);
    __builtin_memcpy(entry, name.bytes, sizeof name.bytes);
    entry[11] = attributes;
    entry[13] = now.hundredths;
    store_u16(entry + 14, now.time);
    store_u16(entry + 16, now.date);
    set_modified(entry, now);
    set_entry_cluster(entry, cluster);
}

class FatVolume final : public Volume {
public:
    FatVolume(BlockIo& disk, Clock& clock, const Geometry& geometry, bool read_only)
        : m_disk(disk), m_clock(clock), m_g(geometry), m_read_only(read_only) {
        m_bps = m_g.bytes_per_sector;
        m_ratio = m_g.bytes_per_sector / disk.sector_size();
        m_cluster_bytes = m_g.bytes_per_sector * m_g.sectors_per_cluster;
        m_entries_per_sector = m_bps / entry_size;
        m_entries_per_cluster = m_cluster_bytes / entry_size;
        m_max_cluster = m_g.cluster_count + 1;
        m_fat_start = m_g.reserved_sectors + uint64_t{m_g.active_fat} * m_g.fat_sectors;
    }
    ~FatVolume() override {
        delete[] m_cache_memory;
        delete[] m_scratch;
        delete[] m_zero;
        delete[] m_tails;
        delete[] m_held;
    }

    Result<void, FsError> init();

    NodeId root() const override { return root_id; }
    VolumeInfo info() const override {
        VolumeInfo info;
        info.block_size = m_cluster_bytes;
        info.blocks = m_g.cluster_count;
        info.free_blocks = m_free;
        info.read_only = m_read_only;
        info.format = "fat32";
        return info;
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
    Result<void, FsError> sync() override;
    Result<void, FsError> hold(NodeId node) override;
    void release(NodeId node) override;

private:
    // A node as one call sees it: where its entry is, and the entry.
    struct Node {
        NodeKind kind = NodeKind::Directory;
        bool is_root = false;
        bool removed = false; // held after its entry went: the entry lives in m_held
        int held = -1;        // its slot in m_held
        uint32_t dir = 0;     // first cluster of the directory holding the entry
        uint32_t index = 0;   // the slot of its short entry there
        uint8_t entry[entry_size] = {};
        uint32_t first_cluster() const { return entry_cluster(entry); }
        uint32_t size() const { return entry_size_field(entry); }
    };
    // A node the service holds.
    struct Held {
        NodeId id = 0;
        uint32_t holds = 0;
        uint32_t dir = 0;
        uint32_t index = 0;
        bool removed = false;
        uint8_t entry[entry_size] = {};
    };
    // An entry found by name: its short entry's slot, the slot its long
    // name starts at, and the short entry.
    struct Found {
        uint32_t index = 0;
        uint32_t first_slot = 0;
        uint8_t entry[entry_size] = {};
    };
    struct Slot {
        uint64_t sector = 0;
        uint64_t used = 0;
        uint8_t* data = nullptr;
        bool valid = false;
        bool dirty = false;
    };
    struct Memo {
        uint32_t first = 0; // 0: unused
        uint32_t index = 0;
        uint32_t cluster = 0;
    };
    struct ChainEnd {
        uint32_t length = 0;
        uint32_t last = 0;
    };
    struct WalkEnd {
        uint32_t index = 0;  // the first slot not visited
        bool marker = false; // the walk met the end-of-directory mark
    };
    // Where a new entry goes: its short name, whether long-name entries
    // come before it, its slots, and how the directory must grow for them.
    struct Placement {
        ShortName short_name;
        bool long_entries = false;
        uint32_t start = 0;
        uint32_t slots = 0;
        uint32_t grow_clusters = 0;
        uint32_t last_cluster = 0;
    };
    enum class Io : uint8_t { Read, Write };

    // Disk access in the volume's sectors.
    Result<void, FsError> disk_read(uint64_t sector, uint32_t count, void* out);
    Result<void, FsError> disk_write(uint64_t sector, uint32_t count, const void* data);
    Result<void, FsError> read_direct(uint64_t sector, uint32_t count, uint8_t* out);
    Result<void, FsError> write_direct(uint64_t sector, uint32_t count, const uint8_t* data);
    // The cached copy of `sector`, valid until the next cache call; marked
    // dirty when `write`.
    Result<uint8_t*, FsError> cached(uint64_t sector, bool write);
    Result<void, FsError> write_back(Slot& slot);

    // The FAT.
    bool valid_cluster(uint32_t cluster) const { return cluster >= 2 && cluster <= m_max_cluster; }
    uint64_t cluster_sector(uint32_t cluster) const {
        return m_g.data_start + uint64_t{cluster - 2} * m_g.sectors_per_cluster;
    }
    static uint32_t clusters_for(uint64_t bytes, uint32_t cluster_bytes) {
        return static_cast<uint32_t>((bytes + cluster_bytes - 1) / cluster_bytes);
    }
    Result<uint32_t, FsError> fat_get(uint32_t cluster);
    Result<void, FsError> fat_set(uint32_t cluster, uint32_t value);
    Result<uint32_t, FsError> next_cluster(uint32_t cluster);
    Result<uint32_t, FsError> seek(uint32_t first, uint32_t index);
    Result<ChainEnd, FsError> chain_end(uint32_t first);
    const Memo* best_memo(uint32_t first, uint32_t index) const;
    void remember(uint32_t first, uint32_t index, uint32_t cluster);
    void forget_positions() {
        for (Memo& memo : m_memos)
            memo = Memo{};
    }
    Result<uint32_t, FsError> allocate(uint32_t count, bool zero);
    void free_chain(uint32_t first);
    Result<void, FsError> zero_cluster(uint32_t cluster);
    void set_free(uint32_t free) {
        m_free = free > m_g.cluster_count ? m_g.cluster_count : free;
        m_fsinfo_dirty = true;
    }

    // Directories.
    Result<bool, FsError> read_slot(uint32_t dir, uint32_t index, uint8_t* out);
    Result<void, FsError> write_slot(uint32_t dir, uint32_t index, const uint8_t* entry);
    template <typename Visit>
    Result<WalkEnd, FsError> walk_dir(uint32_t dir, uint32_t start, Visit&& visit);
    // Each named entry of `dir` from slot `start` (not "." or ".."):
    // visit(index, first_slot, entry, name, short_name), the name its long
    // name when it has one, else its short name (both as UTF-16 units), and
    // first_slot the first of its long-name slots (its own index without);
    // false stops the walk.
    template <typename Visit>
    Result<WalkEnd, FsError> walk_names(uint32_t dir, uint32_t start, Visit&& visit);
    Result<std::optional<Found>, FsError> find(uint32_t dir, const LongName& name);
    Result<bool, FsError> is_empty(uint32_t dir);
    Result<Placement, FsError> place(uint32_t dir, const LongName& name);
    Result<ShortName, FsError> unique_short_name(uint32_t dir, const LongName& name);
    Result<void, FsError> grow(const Placement& placement, uint32_t dir);
    Result<uint32_t, FsError> put_entries(uint32_t dir, const Placement& placement,
                                          const LongName& name, uint8_t* entry);
    Result<void, FsError> mark_deleted(uint32_t dir, uint32_t from, uint32_t to);
    Result<void, FsError> init_directory(uint32_t cluster, uint32_t parent, Timestamp now);
    Result<uint32_t, FsError> parent_of(uint32_t dir);
    Result<bool, FsError> is_within(uint32_t ancestor, uint32_t dir);
    // Gives up a node whose entry was removed: kept while held, else freed.
    void drop(uint32_t dir, uint32_t index, const uint8_t* entry);

    // Nodes.
    Result<Node, FsError> resolve(NodeId id);
    Result<uint32_t, FsError> directory_of(const Node& node);
    Result<uint32_t, FsError> open_directory(NodeId id);
    Result<void, FsError> store(const Node& node);
    NodeId id_for(uint32_t dir, uint32_t index) const;
    int find_held(NodeId id) const;
    int find_held_at(uint32_t dir, uint32_t index) const;

    // File data.
    Result<void, FsError> data_io(uint32_t first, uint64_t position, uint64_t length,
                                  uint8_t* buffer, Io io);
    Result<void, FsError> sectors_io(uint64_t sector, uint32_t offset, uint64_t length,
                                     uint8_t* buffer, Io io);
    Result<void, FsError> write_data(Node& node, uint64_t offset, const uint8_t* data,
                                     uint64_t length);

    Result<void, FsError> writable() const {
        if (m_read_only)
            return Err{FsError::ReadOnly};
        return {};
    }
    Timestamp now() { return from_ns(m_clock.now_ns()); }

    BlockIo& m_disk;
    Clock& m_clock;
    Geometry m_g;
    bool m_read_only;
    uint32_t m_bps = 0;
    uint32_t m_ratio = 1;
    uint32_t m_cluster_bytes = 0;
    uint32_t m_entries_per_sector = 0;
    uint32_t m_entries_per_cluster = 0;
    uint32_t m_max_cluster = 0;
    uint64_t m_fat_start = 0;

    uint32_t m_free = 0;
    uint32_t m_next_free = 2;
    bool m_fsinfo_valid = false;
    bool m_fsinfo_dirty = false;

    Slot m_slots[cache_slots];
    uint64_t m_tick = 0;
    uint8_t* m_cache_memory = nullptr;
    uint8_t* m_scratch = nullptr; // one sector
    uint8_t* m_zero = nullptr;    // one sector of zeros
    uint8_t* m_tails = nullptr;   // tail_bits bits
    Memo m_memos[4];
    uint32_t m_next_memo = 0;

    Held* m_held = nullptr;
    size_t m_held_count = 0;
    size_t m_held_capacity = 0;

    char m_name_utf8[max_utf8_name + 8];
};

// --- Disk and cache -------------------------------------------------------

Result<void, FsError> FatVolume::disk_read(uint64_t sector, uint32_t count, void* out) {
    if (count == 0 || sector > m_g.total_sectors || count > m_g.total_sectors - sector)
        return Err{FsError::Corrupt};
    return m_disk.read(sector * m_ratio, count * m_ratio, out);
}

Result<void, FsError> FatVolume::disk_write(uint64_t sector, uint32_t count, const void* data) {
    if (m_read_only)
        return Err{FsError::ReadOnly};
    if (count == 0 || sector > m_g.total_sectors || count > m_g.total_sectors - sector)
        return Err{FsError::Corrupt};
    return m_disk.write(sector * m_ratio, count * m_ratio, data);
}

Result<void, FsError> FatVolume::read_direct(uint64_t sector, uint32_t count, uint8_t* out) {
    TRY(disk_read(sector, count, out));
    // The cache holds the newest copy of what it holds.
    for (const Slot& slot : m_slots)
        if (slot.valid && slot.sector >= sector && slot.sector - sector < count)
            __builtin_memcpy(out + (slot.sector - sector) * m_bps, slot.data, m_bps);
    return {};
}

Result<void, FsError> FatVolume::write_direct(uint64_t sector, uint32_t count,
                                              const uint8_t* data) {
    TRY(disk_write(sector, count, data));
    for (Slot& slot : m_slots) {
        if (slot.valid && slot.sector >= sector && slot.sector - sector < count) {
            __builtin_memcpy(slot.data, data + (slot.sector - sector) * m_bps, m_bps);
            slot.dirty = false;
        }
    }
    return {};
}

Result<void, FsError> FatVolume::write_back(Slot& slot) {
    uint64_t fat_end = m_fat_start + m_g.fat_sectors;
    if (slot.sector >= m_fat_start && slot.sector < fat_end && m_g.mirrored) {
        uint64_t within = slot.sector - m_fat_start;
        for (uint32_t copy = 0; copy < m_g.fat_count; ++copy)
            TRY(disk_write(m_g.reserved_sectors + uint64_t{copy} * m_g.fat_sectors + within, 1,
                           slot.data));
    } else {
        TRY(disk_write(slot.sector, 1, slot.data));
    }
    slot.dirty = false;
    return {};
}

Result<uint8_t*, FsError> FatVolume::cached(uint64_t sector, bool write) {
    Slot* victim = nullptr;
    for (Slot& slot : m_slots) {
        if (slot.valid && slot.sector == sector) {
            slot.used = ++m_tick;
            slot.dirty = slot.dirty || write;
            return slot.data;
        }
        if (victim == nullptr || (!slot.valid && victim->valid) ||
            (slot.valid == victim->valid && slot.used < victim->used))
            victim = &slot;
    }
    if (victim->valid && victim->dirty)
        TRY(write_back(*victim));
    victim->valid = false;
    TRY(disk_read(sector, 1, victim->data));
    victim->valid = true;
    victim->sector = sector;
    victim->dirty = write;
    victim->used = ++m_tick;
    return victim->data;
}

// --- FAT and chains ---------------------------------------------------------

Result<uint32_t, FsError> FatVolume::fat_get(uint32_t cluster) {
    uint64_t byte = uint64_t{cluster} * 4;
    const uint8_t* sector = TRY(cached(m_fat_start + byte / m_bps, false));
    return load_u32(sector + byte % m_bps) & cluster_mask;
}

Result<void, FsError> FatVolume::fat_set(uint32_t cluster, uint32_t value) {
    uint64_t byte = uint64_t{cluster} * 4;
    uint8_t* sector = TRY(cached(m_fat_start + byte / m_bps, true));
    uint32_t old = load_u32(sector + byte % m_bps);
    // A link that changes may be on a remembered path.
    if (valid_cluster(old & cluster_mask))
        forget_positions();
    store_u32(sector + byte % m_bps, (old & ~cluster_mask) | (value & cluster_mask));
    return {};
}

Result<uint32_t, FsError> FatVolume::next_cluster(uint32_t cluster) {
    uint32_t value = TRY(fat_get(cluster));
    if (value >= first_end_of_chain)
        return 0u;
    // Free, reserved, bad or out of range in the middle of a chain.
    if (!valid_cluster(value))
        return Err{FsError::Corrupt};
    return value;
}

const FatVolume::Memo* FatVolume::best_memo(uint32_t first, uint32_t index) const {
    const Memo* best = nullptr;
    for (const Memo& memo : m_memos)
        if (memo.first == first && memo.index <= index && (!best || memo.index > best->index))
            best = &memo;
    return best;
}

void FatVolume::remember(uint32_t first, uint32_t index, uint32_t cluster) {
    for (Memo& memo : m_memos) {
        if (memo.first == first) {
            memo = {first, index, cluster};
            return;
        }
    }
    m_memos[m_next_memo] = {first, index, cluster};
    m_next_memo = (m_next_memo + 1) % (sizeof m_memos / sizeof m_memos[0]);
}

// The cluster at `index` of the chain from `first`, 0 when the chain is
// shorter. No chain is longer than the volume, so the walk is bounded.
Result<uint32_t, FsError> FatVolume::seek(uint32_t first, uint32_t index) {
    if (!valid_cluster(first))
        return Err{FsError::Corrupt};
    if (index >= m_g.cluster_count)
        return 0u;
    uint32_t cluster = first;
    uint32_t at = 0;
    if (const Memo* memo = best_memo(first, index)) {
        cluster = memo->cluster;
        at = memo->index;
    }
    while (at < index) {
        uint32_t next = TRY(next_cluster(cluster));
        if (next == 0)
            return 0u;
        cluster = next;
        ++at;
    }
    if (index > 0)
        remember(first, index, cluster);
    return cluster;
}

// The length and last cluster of the chain from `first` (0: none); Corrupt
// for a chain that breaks or is longer than the volume (a loop).
Result<FatVolume::ChainEnd, FsError> FatVolume::chain_end(uint32_t first) {
    if (first == 0)
        return ChainEnd{};
    if (!valid_cluster(first))
        return Err{FsError::Corrupt};
    uint32_t cluster = first;
    uint32_t at = 0;
    if (const Memo* memo = best_memo(first, ~0u)) {
        cluster = memo->cluster;
        at = memo->index;
    }
    while (true) {
        uint32_t next = TRY(next_cluster(cluster));
        if (next == 0)
            break;
        cluster = next;
        if (++at >= m_g.cluster_count)
            return Err{FsError::Corrupt};
    }
    if (at > 0)
        remember(first, at, cluster);
    return ChainEnd{at + 1, cluster};
}

// A new chain of `count` clusters (zeroed when `zero`), or NoSpace and the
// FAT as it was.
Result<uint32_t, FsError> FatVolume::allocate(uint32_t count, bool zero) {
    if (count == 0)
        return 0u;
    if (count > m_free)
        return Err{FsError::NoSpace};
    uint32_t first = 0;
    uint32_t last = 0;
    uint32_t got = 0;
    uint32_t cluster = valid_cluster(m_next_free) ? m_next_free : 2;
    auto undo = [&](FsError error) -> Result<uint32_t, FsError> {
        free_chain(first);
        return Err{error};
    };
    for (uint32_t scanned = 0; scanned < m_g.cluster_count && got < count; ++scanned) {
        auto value = fat_get(cluster);
        if (value.is_error())
            return undo(value.error());
        if (value.value() == 0) {
            auto linked = fat_set(cluster, end_of_chain);
            if (linked.is_ok() && last != 0)
                linked = fat_set(last, cluster);
            if (linked.is_error())
                return undo(linked.error());
            if (first == 0)
                first = cluster;
            last = cluster;
            ++got;
            set_free(m_free - 1);
        }
        cluster = cluster == m_max_cluster ? 2 : cluster + 1;
    }
    if (got < count) {
        // The free count was a wrong hint: the whole FAT was scanned.
        free_chain(first);
        set_free(got);
        return Err{FsError::NoSpace};
    }
    m_next_free = cluster;
    if (zero) {
        for (uint32_t c = first, i = 0; i < count; ++i) {
            auto zeroed = zero_cluster(c);
            if (zeroed.is_error())
                return undo(zeroed.error());
            auto next = next_cluster(c);
            if (next.is_error())
                return undo(next.error());
            c = next.value();
        }
    }
    return first;
}

// Frees the chain from `first` as far as it goes; a chain that breaks
// stops the walk (the rest is left as it is: fsck's to find).
void FatVolume::free_chain(uint32_t first) {
    uint32_t cluster = first;
    for (uint32_t steps = 0; valid_cluster(cluster) && steps < m_g.cluster_count; ++steps) {
        auto value = fat_get(cluster);
        if (value.is_error() || value.value() == 0)
            return;
        if (fat_set(cluster, 0).is_error())
            return;
        set_free(m_free + 1);
        if (value.value() >= first_end_of_chain)
            return;
        cluster = value.value();
    }
}

Result<void, FsError> FatVolume::zero_cluster(uint32_t cluster) {
    uint64_t sector = cluster_sector(cluster);
    for (uint32_t i = 0; i < m_g.sectors_per_cluster; ++i)
        TRY(write_direct(sector + i, 1, m_zero));
    return {};
}

// --- Directories ------------------------------------------------------------

// Entry `index` of directory `dir`: false when the directory's chain ends
// before it.
Result<bool, FsError> FatVolume::read_slot(uint32_t dir, uint32_t index, uint8_t* out) {
    uint32_t cluster = TRY(seek(dir, index / m_entries_per_cluster));
    if (cluster == 0)
        return false;
    uint32_t within = index % m_entries_per_cluster;
    const uint8_t* sector =
        TRY(cached(cluster_sector(cluster) + within / m_entries_per_sector, false));
    __builtin_memcpy(out, sector + (within % m_entries_per_sector) * entry_size, entry_size);
    return true;
}

Result<void, FsError> FatVolume::write_slot(uint32_t dir, uint32_t index, const uint8_t* entry) {
    uint32_t cluster = TRY(seek(dir, index / m_entries_per_cluster));
    if (cluster == 0)
        return Err{FsError::Corrupt};
    uint32_t within = index % m_entries_per_cluster;
    uint8_t* sector = TRY(cached(cluster_sector(cluster) + within / m_entries_per_sector, true));
    __builtin_memcpy(sector + (within % m_entries_per_sector) * entry_size, entry, entry_size);
    return {};
}

// Calls visit(index, entry) for the slots of `dir` from `start` until
// visit returns false, the end-of-directory mark (a slot starting with 0),
// the end of the chain, or max_dir_entries.
template <typename Visit>
Result<FatVolume::WalkEnd, FsError> FatVolume::walk_dir(uint32_t dir, uint32_t start,
                                                        Visit&& visit) {
    uint32_t index = start;
    if (index >= max_dir_entries)
        return WalkEnd{index, false};
    uint32_t cluster = TRY(seek(dir, index / m_entries_per_cluster));
    if (cluster == 0)
        return WalkEnd{index, false};
    uint8_t entry[entry_size];
    for (; index < max_dir_entries; ++index) {
        uint32_t within = index % m_entries_per_cluster;
        if (within == 0 && index != start) {
            cluster = TRY(next_cluster(cluster));
            if (cluster == 0)
                return WalkEnd{index, false};
        }
        const uint8_t* sector =
            TRY(cached(cluster_sector(cluster) + within / m_entries_per_sector, false));
        __builtin_memcpy(entry, sector + (within % m_entries_per_sector) * entry_size, entry_size);
        if (entry[0] == 0)
            return WalkEnd{index, true};
        if (!visit(index, static_cast<const uint8_t*>(entry)))
            return WalkEnd{index, false};
    }
    return WalkEnd{index, false};
}

template <typename Visit>
Result<FatVolume::WalkEnd, FsError> FatVolume::walk_names(uint32_t dir, uint32_t start,
                                                          Visit&& visit) {
    LfnAssembler assembler;
    return walk_dir(dir, start, [&](uint32_t index, const uint8_t* entry) {
        if (entry[0] == deleted_mark) {
            assembler.reset();
            return true;
        }
        if (is_long_entry(entry)) {
            assembler.add(entry, index);
            return true;
        }
        bool has_long = assembler.complete_for(entry);
        uint32_t first_slot = has_long ? assembler.first_index() : index;
        assembler.reset();
        if (!is_node_entry(entry) || is_dot_entry(entry))
            return true;
        uint16_t short_units[12];
        std::span<const uint16_t> short_name{short_units, short_to_units(entry, short_units)};
        return visit(index, first_slot, entry, has_long ? assembler.name() : short_name,
                     short_name);
    });
}

Result<std::optional<FatVolume::Found>, FsError> FatVolume::find(uint32_t dir,
                                                                 const LongName& name) {
    std::optional<Found> found;
    TRY(walk_names(dir, 0,
                   [&](uint32_t index, uint32_t first_slot, const uint8_t* entry,
                       std::span<const uint16_t> units, std::span<const uint16_t> short_name) {
                       if (!same_name(units, name.view()) && !same_name(short_name, name.view()))
                           return true;
                       found.emplace();
                       found->index = index;
                       found->first_slot = first_slot;
                       __builtin_memcpy(found->entry, entry, entry_size);
                       return false;
                   }));
    return found;
}

Result<bool, FsError> FatVolume::is_empty(uint32_t dir) {
    bool empty = true;
    TRY(walk_dir(dir, 0, [&](uint32_t, const uint8_t* entry) {
        if (is_node_entry(entry) && !is_dot_entry(entry))
            empty = false;
        return empty;
    }));
    return empty;
}

// A short name for `name` no entry of `dir` has: the basis itself when it
// says the whole name (in upper case) and is free, else the basis with the
// smallest free tail. A directory holds at most max_dir_entries entries, so
// one of the first max_dir_entries + 1 tails is free.
Result<ShortName, FsError> FatVolume::unique_short_name(uint32_t dir, const LongName& name) {
    ShortName basis = short_basis(name);
    LongName upper = name;
    for (size_t i = 0; i < upper.length; ++i)
        if (upper.units[i] >= 'a' && upper.units[i] <= 'z')
            upper.units[i] = static_cast<uint16_t>(upper.units[i] - 'a' + 'A');
    std::optional<ShortName> exact = exact_short_name(upper);
    bool lossless = exact.has_value() && *exact == basis;
    bool basis_taken = false;
    __builtin_memset(m_tails, 0, tail_bits / 8 + 1);
    TRY(walk_dir(dir, 0, [&](uint32_t, const uint8_t* entry) {
        if (entry[0] == deleted_mark || is_long_entry(entry))
            return true;
        ShortName existing;
        __builtin_memcpy(existing.bytes, entry, sizeof existing.bytes);
        if (existing == basis)
            basis_taken = true;
        if (auto tail = tail_of(basis, existing); tail && *tail < tail_bits)
            m_tails[*tail / 8] |= static_cast<uint8_t>(1u << (*tail % 8));
        return true;
    }));
    if (lossless && !basis_taken)
        return basis;
    for (uint32_t n = 1; n < tail_bits; ++n)
        if ((m_tails[n / 8] & (1u << (n % 8))) == 0)
            return with_tail(basis, n);
    return Err{FsError::TooLarge};
}

Result<FatVolume::Placement, FsError> FatVolume::place(uint32_t dir, const LongName& name) {
    Placement placement;
    if (auto exact = exact_short_name(name)) {
        placement.short_name = *exact;
        placement.slots = 1;
    } else {
        placement.short_name = TRY(unique_short_name(dir, name));
        placement.long_entries = true;
        placement.slots = static_cast<uint32_t>(lfn_entries(name)) + 1;
    }
    // The first run of free slots long enough; the slots from the end mark
    // on are free, and the run may go on into clusters the directory grows.
    uint32_t run_start = 0;
    uint32_t run_length = 0;
    uint32_t wanted = placement.slots;
    WalkEnd end = TRY(walk_dir(dir, 0, [&](uint32_t index, const uint8_t* entry) {
        if (entry[0] != deleted_mark) {
            run_length = 0;
            return true;
        }
        if (run_length++ == 0)
            run_start = index;
        return run_length < wanted;
    }));
    if (run_length == wanted) {
        placement.start = run_start;
        return placement;
    }
    ChainEnd chain = TRY(chain_end(dir));
    uint64_t chain_slots = uint64_t{chain.length} * m_entries_per_cluster;
    if (run_length == 0)
        run_start = end.index;
    if (end.marker && chain_slots > end.index)
        run_length += static_cast<uint32_t>(chain_slots - end.index);
    placement.start = run_start;
    placement.last_cluster = chain.last;
    if (uint64_t{run_start} + wanted > max_dir_entries)
        return Err{FsError::TooLarge};
    if (run_length < wanted)
        placement.grow_clusters =
            (wanted - run_length + m_entries_per_cluster - 1) / m_entries_per_cluster;
    return placement;
}

// Grows `dir` by the placement's clusters (zeroed, so that their slots read
// as the end of the directory).
Result<void, FsError> FatVolume::grow(const Placement& placement, uint32_t) {
    if (placement.grow_clusters == 0)
        return {};
    uint32_t added = TRY(allocate(placement.grow_clusters, true));
    auto linked = fat_set(placement.last_cluster, added);
    if (linked.is_error()) {
        free_chain(added);
        return linked;
    }
    return {};
}

// Writes the long-name entries and the short entry `entry` (its name set
// here) at the placement's slots; returns the short entry's slot.
Result<uint32_t, FsError> FatVolume::put_entries(uint32_t dir, const Placement& placement,
                                                 const LongName& name, uint8_t* entry) {
    __builtin_memcpy(entry, placement.short_name.bytes, sizeof placement.short_name.bytes);
    entry[12] = 0;
    uint32_t index = placement.start;
    if (placement.long_entries) {
        uint8_t checksum = short_checksum(placement.short_name);
        uint8_t long_entry[entry_size];
        for (size_t ordinal = lfn_entries(name); ordinal > 0; --ordinal) {
            put_lfn_entry(long_entry, name, static_cast<unsigned>(ordinal), checksum);
            TRY(write_slot(dir, index++, long_entry));
        }
    }
    TRY(write_slot(dir, index, entry));
    return index;
}

Result<void, FsError> FatVolume::mark_deleted(uint32_t dir, uint32_t from, uint32_t to) {
    uint8_t entry[entry_size];
    for (uint32_t index = from; index <= to; ++index) {
        if (!TRY(read_slot(dir, index, entry)))
            return Err{FsError::Corrupt};
        entry[0] = deleted_mark;
        TRY(write_slot(dir, index, entry));
    }
    return {};
}

// A new directory's first cluster: "." and ".." (the parent's cluster, 0
// for the root), the rest zeros.
Result<void, FsError> FatVolume::init_directory(uint32_t cluster, uint32_t parent,
                                                Timestamp stamp) {
    __builtin_memset(m_scratch, 0, m_bps);
    ShortName dot;
    __builtin_memcpy(dot.bytes, ".          ", 11);
    make_entry(m_scratch, dot, attr_directory, cluster, stamp);
    __builtin_memcpy(dot.bytes, "..         ", 11);
    make_entry(m_scratch + entry_size, dot, attr_directory, parent == m_g.root_cluster ? 0 : parent,
               stamp);
    uint64_t sector = cluster_sector(cluster);
    TRY(write_direct(sector, 1, m_scratch));
    for (uint32_t i = 1; i < m_g.sectors_per_cluster; ++i)
        TRY(write_direct(sector + i, 1, m_zero));
    return {};
}

// The first cluster of the directory holding `dir`, from its ".." entry.
Result<uint32_t, FsError> FatVolume::parent_of(uint32_t dir) {
    uint8_t entry[entry_size];
    if (!TRY(read_slot(dir, 1, entry)) || !is_dotdot_entry(entry))
        return Err{FsError::Corrupt};
    uint32_t parent = entry_cluster(entry);
    if (parent == 0)
        return m_g.root_cluster;
    if (!valid_cluster(parent))
        return Err{FsError::Corrupt};
    return parent;
}

// Whether directory `dir` is `ancestor` or lies below it; the walk up is
// bounded (a loop of ".." entries is Corrupt).
Result<bool, FsError> FatVolume::is_within(uint32_t ancestor, uint32_t dir) {
    for (uint32_t steps = 0; steps <= m_g.cluster_count; ++steps) {
        if (dir == ancestor)
            return true;
        if (dir == m_g.root_cluster)
            return false;
        dir = TRY(parent_of(dir));
    }
    return Err{FsError::Corrupt};
}

void FatVolume::drop(uint32_t dir, uint32_t index, const uint8_t* entry) {
    int held = find_held_at(dir, index);
    if (held >= 0) {
        m_held[held].removed = true;
        __builtin_memcpy(m_held[held].entry, entry, entry_size);
        return;
    }
    free_chain(entry_cluster(entry));
}

// --- Nodes ------------------------------------------------------------------

int FatVolume::find_held(NodeId id) const {
    for (size_t i = 0; i < m_held_count; ++i)
        if (m_held[i].id == id)
            return static_cast<int>(i);
    return -1;
}

int FatVolume::find_held_at(uint32_t dir, uint32_t index) const {
    for (size_t i = 0; i < m_held_count; ++i)
        if (!m_held[i].removed && m_held[i].dir == dir && m_held[i].index == index)
            return static_cast<int>(i);
    return -1;
}

// Ids: the root is 1; any other node is named by its entry's place, bits
// 16-43 the directory's first cluster and 0-15 the slot. A held node keeps
// its id when it moves or goes; a place whose id a held node still carries
// gets the same place with a salt in bits 44-62 that no held id has.
NodeId FatVolume::id_for(uint32_t dir, uint32_t index) const {
    int held = find_held_at(dir, index);
    if (held >= 0)
        return m_held[held].id;
    for (uint64_t salt = 0;; ++salt) {
        NodeId id = salt << 44 | uint64_t{dir} << 16 | index;
        if (find_held(id) < 0)
            return id;
    }
}

Result<FatVolume::Node, FsError> FatVolume::resolve(NodeId id) {
    Node node;
    if (id == root_id) {
        node.is_root = true;
        node.kind = NodeKind::Directory;
        node.entry[11] = attr_directory;
        set_entry_cluster(node.entry, m_g.root_cluster);
        return node;
    }
    node.held = find_held(id);
    if (node.held >= 0) {
        const Held& held = m_held[node.held];
        if (held.removed) {
            node.removed = true;
            __builtin_memcpy(node.entry, held.entry, entry_size);
            node.kind = kind_of(node.entry);
            return node;
        }
        node.dir = held.dir;
        node.index = held.index;
    } else {
        node.index = static_cast<uint32_t>(id & 0xFFFF);
        node.dir = static_cast<uint32_t>(id >> 16) & cluster_mask;
        if ((id >> 63) != 0 || !valid_cluster(node.dir))
            return Err{FsError::Invalid};
    }
    bool present = TRY(read_slot(node.dir, node.index, node.entry));
    if (!present || !is_node_entry(node.entry) || is_dot_entry(node.entry))
        return Err{node.held >= 0 ? FsError::Corrupt : FsError::Invalid};
    node.kind = kind_of(node.entry);
    return node;
}

// The first cluster of directory `node`.
Result<uint32_t, FsError> FatVolume::directory_of(const Node& node) {
    if (node.kind != NodeKind::Directory)
        return Err{FsError::NotDirectory};
    if (node.removed)
        return Err{FsError::NotFound};
    uint32_t first = node.first_cluster();
    if (!valid_cluster(first))
        return Err{FsError::Corrupt};
    return first;
}

Result<uint32_t, FsError> FatVolume::open_directory(NodeId id) {
    Node node = TRY(resolve(id));
    return directory_of(node);
}

Result<void, FsError> FatVolume::store(const Node& node) {
    if (node.is_root)
        return {};
    if (node.removed) {
        __builtin_memcpy(m_held[node.held].entry, node.entry, entry_size);
        return {};
    }
    return write_slot(node.dir, node.index, node.entry);
}

// --- File data --------------------------------------------------------------

// Reads or writes `length` bytes at `position` of the chain from `first`
// (a null buffer writes zeros); Corrupt where the chain ends first.
// Clusters that follow each other on the disk go in one call.
Result<void, FsError> FatVolume::data_io(uint32_t first, uint64_t position, uint64_t length,
                                         uint8_t* buffer, Io io) {
    const uint64_t max_run = uint64_t{max_io_sectors} * m_bps;
    while (length > 0) {
        uint32_t index = static_cast<uint32_t>(position / m_cluster_bytes);
        uint32_t cluster = TRY(seek(first, index));
        if (cluster == 0)
            return Err{FsError::Corrupt};
        uint32_t within = static_cast<uint32_t>(position % m_cluster_bytes);
        uint64_t run = m_cluster_bytes - within;
        if (run > length)
            run = length;
        uint32_t last = cluster;
        while (run < length && run + m_cluster_bytes <= max_run) {
            uint32_t next = TRY(next_cluster(last));
            if (next != last + 1)
                break;
            last = next;
            ++index;
            run += length - run < m_cluster_bytes ? length - run : m_cluster_bytes;
        }
        if (last != cluster)
            remember(first, index, last);
        TRY(sectors_io(cluster_sector(cluster) + within / m_bps, within % m_bps, run, buffer, io));
        position += run;
        length -= run;
        if (buffer != nullptr)
            buffer += run;
    }
    return {};
}

// `length` bytes from byte `offset` of `sector` on, on consecutive sectors.
Result<void, FsError> FatVolume::sectors_io(uint64_t sector, uint32_t offset, uint64_t length,
                                            uint8_t* buffer, Io io) {
    // A partial sector: read, change, write back.
    auto partial = [&](uint64_t at, uint32_t from, uint32_t count) -> Result<void, FsError> {
        TRY(read_direct(at, 1, m_scratch));
        if (io == Io::Read) {
            __builtin_memcpy(buffer, m_scratch + from, count);
            return {};
        }
        if (buffer != nullptr)
            __builtin_memcpy(m_scratch + from, buffer, count);
        else
            __builtin_memset(m_scratch + from, 0, count);
        return write_direct(at, 1, m_scratch);
    };
    if (offset != 0) {
        uint32_t count = static_cast<uint32_t>(length < m_bps - offset ? length : m_bps - offset);
        TRY(partial(sector, offset, count));
        ++sector;
        length -= count;
        if (buffer != nullptr)
            buffer += count;
    }
    while (length >= m_bps) {
        uint64_t whole = length / m_bps;
        uint32_t count = static_cast<uint32_t>(whole < max_io_sectors ? whole : max_io_sectors);
        if (io == Io::Read) {
            TRY(read_direct(sector, count, buffer));
        } else if (buffer != nullptr) {
            TRY(write_direct(sector, count, buffer));
        } else {
            count = 1;
            TRY(write_direct(sector, 1, m_zero));
        }
        sector += count;
        length -= uint64_t{count} * m_bps;
        if (buffer != nullptr)
            buffer += uint64_t{count} * m_bps;
    }
    if (length > 0)
        TRY(partial(sector, 0, static_cast<uint32_t>(length)));
    return {};
}

// Writes `length` bytes of `data` (zeros when null) at `offset` of file
// `node`, zeros in any gap from its end; every cluster it needs is
// allocated before anything else changes.
Result<void, FsError> FatVolume::write_data(Node& node, uint64_t offset, const uint8_t* data,
                                            uint64_t length) {
    if (offset > max_file_size || length > max_file_size - offset)
        return Err{FsError::TooLarge};
    uint64_t end = offset + length;
    uint32_t size = node.size();
    uint32_t first = node.first_cluster();
    if ((first == 0 && size != 0) || (first != 0 && !valid_cluster(first)))
        return Err{FsError::Corrupt};
    ChainEnd chain = TRY(chain_end(first));
    if (chain.length < clusters_for(size, m_cluster_bytes))
        return Err{FsError::Corrupt};
    uint64_t new_size = end > size ? end : size;
    uint32_t wanted = clusters_for(new_size, m_cluster_bytes);
    if (wanted > chain.length) {
        uint32_t added = TRY(allocate(wanted - chain.length, false));
        if (first == 0) {
            first = added;
            set_entry_cluster(node.entry, first);
            auto stored = store(node);
            if (stored.is_error()) {
                free_chain(added);
                return stored;
            }
        } else {
            auto linked = fat_set(chain.last, added);
            if (linked.is_error()) {
                free_chain(added);
                return linked;
            }
        }
    }
    if (offset > size)
        TRY(data_io(first, size, offset - size, nullptr, Io::Write));
    TRY(data_io(first, offset, length, const_cast<uint8_t*>(data), Io::Write));
    store_u32(node.entry + 28, static_cast<uint32_t>(new_size));
    set_modified(node.entry, now());
    node.entry[11] |= attr_archive;
    return store(node);
}

// --- Volume calls -----------------------------------------------------------

Result<NodeId, FsError> FatVolume::lookup(NodeId dir_id, std::string_view name) {
    LongName long_name;
    TRY(to_long_name(name, long_name));
    uint32_t dir = TRY(open_directory(dir_id));
    std::optional<Found> found = TRY(find(dir, long_name));
    if (!found)
        return Err{FsError::NotFound};
    return id_for(dir, found->index);
}

Result<NodeId, FsError> FatVolume::create(NodeId dir_id, std::string_view name, NodeKind kind) {
    TRY(writable());
    LongName long_name;
    TRY(to_long_name(name, long_name));
    uint32_t dir = TRY(open_directory(dir_id));
    if (TRY(find(dir, long_name)))
        return Err{FsError::Exists};
    Placement placement = TRY(place(dir, long_name));
    bool directory = kind == NodeKind::Directory;
    if (placement.grow_clusters + (directory ? 1u : 0u) > m_free)
        return Err{FsError::NoSpace};
    Timestamp stamp = now();
    uint32_t cluster = 0;
    if (directory) {
        cluster = TRY(allocate(1, false));
        auto made = init_directory(cluster, dir, stamp);
        if (made.is_error()) {
            free_chain(cluster);
            return Err{made.error()};
        }
    }
    auto grown = grow(placement, dir);
    if (grown.is_error()) {
        free_chain(cluster);
        return Err{grown.error()};
    }
    uint8_t entry[entry_size];
    make_entry(entry, placement.short_name, directory ? attr_directory : attr_archive, cluster,
               stamp);
    uint32_t index = TRY(put_entries(dir, placement, long_name, entry));
    return id_for(dir, index);
}

Result<void, FsError> FatVolume::remove(NodeId dir_id, std::string_view name) {
    TRY(writable());
    LongName long_name;
    TRY(to_long_name(name, long_name));
    uint32_t dir = TRY(open_directory(dir_id));
    std::optional<Found> found = TRY(find(dir, long_name));
    if (!found)
        return Err{FsError::NotFound};
    if (kind_of(found->entry) == NodeKind::Directory) {
        uint32_t cluster = entry_cluster(found->entry);
        if (cluster != 0) {
            if (!valid_cluster(cluster))
                return Err{FsError::Corrupt};
            if (!TRY(is_empty(cluster)))
                return Err{FsError::NotEmpty};
        }
    }
    TRY(mark_deleted(dir, found->first_slot, found->index));
    drop(dir, found->index, found->entry);
    return {};
}

Result<void, FsError> FatVolume::rename(NodeId from_dir, std::string_view from, NodeId to_dir,
                                        std::string_view to) {
    TRY(writable());
    LongName from_name;
    LongName to_name;
    TRY(to_long_name(from, from_name));
    TRY(to_long_name(to, to_name));
    uint32_t source_dir = TRY(open_directory(from_dir));
    uint32_t target_dir = TRY(open_directory(to_dir));
    std::optional<Found> source = TRY(find(source_dir, from_name));
    if (!source)
        return Err{FsError::NotFound};
    bool moving_directory = kind_of(source->entry) == NodeKind::Directory;
    uint32_t moved_cluster = entry_cluster(source->entry);
    if (moving_directory) {
        if (!valid_cluster(moved_cluster))
            return Err{FsError::Corrupt};
        if (TRY(is_within(moved_cluster, target_dir)))
            return Err{FsError::Invalid};
    }
    std::optional<Found> target = TRY(find(target_dir, to_name));
    if (target && target_dir == source_dir && target->index == source->index) {
        // The same entry: a no-op, or a new spelling of its name.
        bool identical = from_name.length == to_name.length;
        for (size_t i = 0; identical && i < to_name.length; ++i)
            identical = from_name.units[i] == to_name.units[i];
        if (identical)
            return {};
        target.reset();
    }
    if (target) {
        bool target_directory = kind_of(target->entry) == NodeKind::Directory;
        if (!moving_directory && target_directory)
            return Err{FsError::IsDirectory};
        if (moving_directory && !target_directory)
            return Err{FsError::NotDirectory};
        uint32_t cluster = entry_cluster(target->entry);
        if (target_directory && cluster != 0) {
            if (!valid_cluster(cluster))
                return Err{FsError::Corrupt};
            if (!TRY(is_empty(cluster)))
                return Err{FsError::NotEmpty};
        }
    }
    Placement placement = TRY(place(target_dir, to_name));
    if (placement.grow_clusters > m_free)
        return Err{FsError::NoSpace};
    TRY(grow(placement, target_dir));
    uint8_t entry[entry_size];
    __builtin_memcpy(entry, source->entry, entry_size);
    uint32_t index = TRY(put_entries(target_dir, placement, to_name, entry));
    TRY(mark_deleted(source_dir, source->first_slot, source->index));
    int held = find_held_at(source_dir, source->index);
    if (held >= 0) {
        m_held[held].dir = target_dir;
        m_held[held].index = index;
    }
    if (moving_directory && source_dir != target_dir) {
        uint8_t dotdot[entry_size];
        if (TRY(read_slot(moved_cluster, 1, dotdot)) && is_dotdot_entry(dotdot)) {
            set_entry_cluster(dotdot, target_dir == m_g.root_cluster ? 0 : target_dir);
            TRY(write_slot(moved_cluster, 1, dotdot));
        }
    }
    if (target) {
        TRY(mark_deleted(target_dir, target->first_slot, target->index));
        drop(target_dir, target->index, target->entry);
    }
    return {};
}

Result<uint64_t, FsError> FatVolume::list(NodeId dir_id, uint64_t cursor, ListVisitor& visitor) {
    Node node = TRY(resolve(dir_id));
    if (node.kind != NodeKind::Directory)
        return Err{FsError::NotDirectory};
    if (node.removed || cursor >= max_dir_entries)
        return end_of_listing;
    uint32_t dir = TRY(directory_of(node));
    uint64_t next = end_of_listing;
    TRY(walk_names(dir, static_cast<uint32_t>(cursor),
                   [&](uint32_t index, uint32_t first_slot, const uint8_t* entry,
                       std::span<const uint16_t> units, std::span<const uint16_t>) {
                       size_t length = to_utf8(units, m_name_utf8);
                       std::string_view name(m_name_utf8, length);
                       // A name no call could use (from a broken entry) is not listed.
                       if (name.empty() || name == "." || name == ".." ||
                           name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
                           return true;
                       DirEntry listed{name, kind_of(entry), id_for(dir, index)};
                       if (!visitor.entry(listed)) {
                           // Refused: the next listing starts at its first slot.
                           next = first_slot;
                           return false;
                       }
                       return true;
                   }));
    return next;
}

Result<size_t, FsError> FatVolume::read(NodeId file, uint64_t offset, std::span<uint8_t> out) {
    Node node = TRY(resolve(file));
    if (node.kind != NodeKind::File)
        return Err{FsError::IsDirectory};
    uint32_t size = node.size();
    if (offset >= size || out.empty())
        return size_t{0};
    uint64_t count = size - offset < out.size() ? size - offset : out.size();
    uint32_t first = node.first_cluster();
    if (!valid_cluster(first) || clusters_for(size, m_cluster_bytes) > m_g.cluster_count)
        return Err{FsError::Corrupt};
    TRY(data_io(first, offset, count, out.data(), Io::Read));
    return static_cast<size_t>(count);
}

Result<void, FsError> FatVolume::write(NodeId file, uint64_t offset,
                                       std::span<const uint8_t> data) {
    TRY(writable());
    Node node = TRY(resolve(file));
    if (node.kind != NodeKind::File)
        return Err{FsError::IsDirectory};
    if (data.empty())
        return {};
    return write_data(node, offset, data.data(), data.size());
}

Result<void, FsError> FatVolume::truncate(NodeId file, uint64_t size) {
    TRY(writable());
    Node node = TRY(resolve(file));
    if (node.kind != NodeKind::File)
        return Err{FsError::IsDirectory};
    if (size > max_file_size)
        return Err{FsError::TooLarge};
    uint32_t old_size = node.size();
    if (size == old_size)
        return {};
    if (size > old_size)
        return write_data(node, old_size, nullptr, size - old_size);
    uint32_t first = node.first_cluster();
    if (first != 0) {
        ChainEnd chain = TRY(chain_end(first));
        if (chain.length < clusters_for(old_size, m_cluster_bytes))
            return Err{FsError::Corrupt};
        uint32_t keep = clusters_for(size, m_cluster_bytes);
        if (keep == 0) {
            free_chain(first);
            set_entry_cluster(node.entry, 0);
        } else if (keep < chain.length) {
            uint32_t last = TRY(seek(first, keep - 1));
            if (last == 0)
                return Err{FsError::Corrupt};
            uint32_t rest = TRY(next_cluster(last));
            TRY(fat_set(last, end_of_chain));
            free_chain(rest);
        }
    }
    store_u32(node.entry + 28, static_cast<uint32_t>(size));
    set_modified(node.entry, now());
    node.entry[11] |= attr_archive;
    return store(node);
}

Result<NodeStat, FsError> FatVolume::stat(NodeId id) {
    Node node = TRY(resolve(id));
    NodeStat stat;
    stat.id = id;
    stat.kind = node.kind;
    if (node.kind == NodeKind::File) {
        stat.size = node.size();
    } else {
        uint32_t first = node.first_cluster();
        if (!valid_cluster(first))
            return Err{FsError::Corrupt};
        stat.size = uint64_t{TRY(chain_end(first)).length} * m_cluster_bytes;
    }
    if (!node.is_root) {
        stat.created_ns =
            to_ns({load_u16(node.entry + 16), load_u16(node.entry + 14), node.entry[13]});
        stat.modified_ns = to_ns({load_u16(node.entry + 24), load_u16(node.entry + 22), 0});
    }
    return stat;
}

Result<void, FsError> FatVolume::sync() {
    if (m_read_only)
        return {};
    for (Slot& slot : m_slots)
        if (slot.valid && slot.dirty)
            TRY(write_back(slot));
    if (m_fsinfo_valid && m_fsinfo_dirty) {
        TRY(read_direct(m_g.fsinfo_sector, 1, m_scratch));
        store_u32(m_scratch + 488, m_free);
        store_u32(m_scratch + 492, m_next_free);
        TRY(write_direct(m_g.fsinfo_sector, 1, m_scratch));
        m_fsinfo_dirty = false;
    }
    return m_disk.flush();
}

Result<void, FsError> FatVolume::hold(NodeId id) {
    if (id == root_id)
        return {};
    int held = find_held(id);
    if (held >= 0) {
        ++m_held[held].holds;
        return {};
    }
    Node node = TRY(resolve(id));
    // A place another held id names now: `id` is from before it moved there.
    if (find_held_at(node.dir, node.index) >= 0)
        return Err{FsError::Invalid};
    if (m_held_count == m_held_capacity) {
        size_t capacity = m_held_capacity == 0 ? 8 : m_held_capacity * 2;
        Held* grown = new (std::nothrow) Held[capacity];
        if (grown == nullptr)
            return Err{FsError::NoMemory};
        for (size_t i = 0; i < m_held_count; ++i)
            grown[i] = m_held[i];
        delete[] m_held;
        m_held = grown;
        m_held_capacity = capacity;
    }
    Held& entry = m_held[m_held_count++];
    entry = Held{};
    entry.id = id;
    entry.holds = 1;
    entry.dir = node.dir;
    entry.index = node.index;
    return {};
}

void FatVolume::release(NodeId id) {
    int held = find_held(id);
    if (held < 0 || --m_held[held].holds > 0)
        return;
    bool removed = m_held[held].removed;
    uint32_t cluster = entry_cluster(m_held[held].entry);
    m_held[held] = m_held[--m_held_count];
    if (removed && !m_read_only)
        free_chain(cluster);
}

Result<void, FsError> FatVolume::init() {
    m_cache_memory = new (std::nothrow) uint8_t[cache_slots * m_bps];
    m_scratch = new (std::nothrow) uint8_t[m_bps];
    m_zero = new (std::nothrow) uint8_t[m_bps];
    m_tails = new (std::nothrow) uint8_t[tail_bits / 8 + 1];
    if (!m_cache_memory || !m_scratch || !m_zero || !m_tails)
        return Err{FsError::NoMemory};
    __builtin_memset(m_zero, 0, m_bps);
    for (size_t i = 0; i < cache_slots; ++i)
        m_slots[i].data = m_cache_memory + i * m_bps;

    bool counted = false;
    if (m_g.fsinfo_sector != 0) {
        TRY(disk_read(m_g.fsinfo_sector, 1, m_scratch));
        m_fsinfo_valid = load_u32(m_scratch) == fsinfo_lead &&
                         load_u32(m_scratch + 484) == fsinfo_struct &&
                         load_u32(m_scratch + 508) == fsinfo_trail;
        if (m_fsinfo_valid) {
            uint32_t free = load_u32(m_scratch + 488);
            uint32_t next = load_u32(m_scratch + 492);
            if (free <= m_g.cluster_count) {
                m_free = free;
                counted = true;
            }
            if (valid_cluster(next))
                m_next_free = next;
        }
    }
    if (!counted) {
        // Count the free clusters, a run of FAT sectors at a time (the
        // cache's memory, empty until now, is the buffer).
        uint32_t free = 0;
        uint64_t entries_per_sector = m_bps / 4;
        uint64_t needed =
            (uint64_t{m_max_cluster} + 1 + entries_per_sector - 1) / entries_per_sector;
        for (uint64_t sector = 0; sector < needed;) {
            uint32_t count = static_cast<uint32_t>(needed - sector < cache_slots ? needed - sector
                                                                                 : cache_slots);
            TRY(disk_read(m_fat_start + sector, count, m_cache_memory));
            for (uint64_t i = 0; i < count * entries_per_sector; ++i) {
                uint64_t cluster = sector * entries_per_sector + i;
                if (cluster >= 2 && cluster <= m_max_cluster &&
                    (load_u32(m_cache_memory + i * 4) & cluster_mask) == 0)
                    ++free;
            }
            sector += count;
        }
        m_free = free;
        m_fsinfo_dirty = true;
    }
    return {};
}

} // namespace

bool probe(const uint8_t* first_sector, size_t size) {
    return first_sector != nullptr && parse_boot_sector(first_sector, size).is_ok();
}

Result<Volume*, FsError> mount(BlockIo& disk, Clock& clock, MountMode mode) {
    uint32_t sector_size = disk.sector_size();
    if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096)
        return Err{FsError::NotSupported};
    if (disk.sectors() == 0)
        return Err{FsError::Corrupt};
    uint8_t* boot = new (std::nothrow) uint8_t[sector_size];
    if (boot == nullptr)
        return Err{FsError::NoMemory};
    auto read = disk.read(0, 1, boot);
    if (read.is_error()) {
        delete[] boot;
        return Err{read.error()};
    }
    Result<Geometry, FsError> parsed = parse_boot_sector(boot, sector_size);
    delete[] boot;
    Geometry geometry = TRY(parsed);
    if (geometry.bytes_per_sector < sector_size || geometry.bytes_per_sector % sector_size != 0)
        return Err{FsError::NotSupported};
    uint32_t ratio = geometry.bytes_per_sector / sector_size;
    if (geometry.total_sectors > disk.sectors() / ratio)
        return Err{FsError::Corrupt};
    bool read_only = mode == MountMode::ReadOnly || disk.read_only();
    auto* volume = new (std::nothrow) FatVolume(disk, clock, geometry, read_only);
    if (volume == nullptr)
        return Err{FsError::NoMemory};
    auto ready = volume->init();
    if (ready.is_error()) {
        delete volume;
        return Err{ready.error()};
    }
    return static_cast<Volume*>(volume);
}

} // namespace capos::fs::fat
