// What the filesystem fuzz targets share (fat_fuzz, capfs_fuzz): a disk
// that traps on any request outside it, and the walk and the writes each
// target makes of whatever volume the input mounts as. Every answer must be
// a value or an error; names never hold '/', NUL, or are "." or "..";
// free space never exceeds the volume.
#pragma once

#include "fuzz/fuzz_checks.h"
#include "lib/fs/volume.h"
#include "tests/host/fs_memory_disk.h"

#include <string>
#include <vector>

namespace capos::fuzz::volume {

using namespace capos::fs;
using capos::Err;
using capos::Result;
using capos::fuzz::require;

// The disk, trapping on any request outside it.
class CheckedDisk final : public BlockIo {
public:
    explicit CheckedDisk(testing::MemoryDisk& disk) : m_disk(disk) {}
    uint32_t sector_size() const override { return m_disk.sector_size(); }
    uint64_t sectors() const override { return m_disk.sectors(); }
    bool read_only() const override { return false; }
    Result<void, FsError> read(uint64_t sector, uint32_t count, void* out) override {
        check(sector, count);
        return m_disk.read(sector, count, out);
    }
    Result<void, FsError> write(uint64_t sector, uint32_t count, const void* data) override {
        check(sector, count);
        return m_disk.write(sector, count, data);
    }
    Result<void, FsError> flush() override { return m_disk.flush(); }

private:
    void check(uint64_t sector, uint32_t count) const {
        require(count > 0 && sector < sectors() && count <= sectors() - sector);
    }
    testing::MemoryDisk& m_disk;
};

class Collect final : public ListVisitor {
public:
    bool entry(const DirEntry& entry) override {
        require(!entry.name.empty() && entry.name != "." && entry.name != "..");
        for (char c : entry.name)
            require(c != '/' && c != '\0');
        if (entries.size() >= 32)
            return false; // refused: the cursor names it
        entries.push_back({std::string(entry.name), entry.kind, entry.id});
        return true;
    }
    struct Item {
        std::string name;
        NodeKind kind;
        NodeId id;
    };
    std::vector<Item> entries;
};

inline void walk(Volume& volume, NodeId dir, int depth, int& budget) {
    if (depth > 6)
        return;
    uint64_t cursor = 0;
    for (int pages = 0; pages < 4 && cursor != Volume::end_of_listing; ++pages) {
        Collect collect;
        auto listed = volume.list(dir, cursor, collect);
        if (listed.is_error())
            return;
        require(listed.value() > cursor);
        cursor = listed.value();
        for (auto& item : collect.entries) {
            if (--budget <= 0)
                return;
            auto stat = volume.stat(item.id);
            if (stat.is_ok())
                require(stat.value().kind == item.kind);
            (void)volume.lookup(dir, item.name);
            if (item.kind == NodeKind::Directory) {
                walk(volume, item.id, depth + 1, budget);
                continue;
            }
            uint8_t bytes[4096];
            for (uint64_t at = 0; at < 64 * 1024; at += sizeof bytes) {
                auto got = volume.read(item.id, at, bytes);
                if (got.is_error() || got.value() < sizeof bytes)
                    break;
            }
        }
    }
}

inline void check_info(const Volume& volume) {
    VolumeInfo info = volume.info();
    require(info.free_blocks <= info.blocks && info.block_size >= 512);
}

inline void writes(Volume& volume) {
    NodeId root = volume.root();
    std::vector<uint8_t> data(3000);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(i);
    auto file = volume.create(root, "fuzz written file.bin", NodeKind::File);
    if (file.is_ok()) {
        (void)volume.hold(file.value());
        (void)volume.write(file.value(), 100, data);
        (void)volume.truncate(file.value(), 700);
        (void)volume.rename(root, "fuzz written file.bin", root, "RENAMED.BIN");
        (void)volume.remove(root, "RENAMED.BIN");
        (void)volume.write(file.value(), 5000, data);
        (void)volume.read(file.value(), 0, data);
        volume.release(file.value());
    }
    auto dir = volume.create(root, "fuzz dir", NodeKind::Directory);
    if (dir.is_ok()) {
        (void)volume.create(dir.value(), "inner", NodeKind::File);
        Collect collect;
        (void)volume.list(root, 0, collect);
        // Move what the root lists into the new directory, and one back.
        for (auto& item : collect.entries)
            (void)volume.rename(root, item.name, dir.value(), item.name);
        (void)volume.rename(dir.value(), "inner", root, "inner");
    }
    check_info(volume);
    (void)volume.sync();
}

} // namespace capos::fuzz::volume
