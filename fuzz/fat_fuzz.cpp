// libFuzzer target for lib/fs/fat: the input is the first bytes of a 128 KiB
// disk (fat_fuzz.h; the rest zeros), mounted as FAT32. Whatever the bytes,
// the mount is refused or the volume answers every call with a value or an
// error; it never touches the disk outside its sectors, never reports more
// free clusters than it has, never hangs, never crashes. The walk lists and
// stats every node, looks each up by its listed name and reads every file;
// then a few writes (create, write, truncate, rename, remove, a directory),
// a sync, and the walk again on a fresh mount of what was written.
#include "fuzz/fat_fuzz.h"
#include "fuzz/fuzz_checks.h"
#include "lib/fs/fat/fat.h"
#include "tests/host/fs_memory_disk.h"

#include <memory>
#include <string>
#include <vector>

namespace {

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
        entries.push_back({std::string(entry.name), entry.kind, entry.id});
        return entries.size() < 32;
    }
    struct Item {
        std::string name;
        NodeKind kind;
        NodeId id;
    };
    std::vector<Item> entries;
};

void walk(Volume& volume, NodeId dir, int depth, int& budget) {
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

void check_info(const Volume& volume) {
    VolumeInfo info = volume.info();
    require(info.free_blocks <= info.blocks && info.block_size >= 512);
}

void writes(Volume& volume) {
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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace capos::fuzz::fat_image;
    std::vector<uint8_t> bytes(disk_sectors * disk_sector, 0);
    std::memcpy(bytes.data(), data, size < bytes.size() ? size : bytes.size());
    bool probed = fat::probe(bytes.data(), disk_sector);
    testing::MemoryDisk memory(std::move(bytes));
    CheckedDisk disk(memory);
    testing::FixedClock clock;
    auto mounted = fat::mount(disk, clock, MountMode::ReadWrite);
    if (mounted.is_error()) {
        FsError error = mounted.error();
        require(error == FsError::Corrupt || error == FsError::NotSupported);
        return 0;
    }
    require(probed);
    {
        std::unique_ptr<Volume> volume(mounted.value());
        check_info(*volume);
        int budget = 128;
        walk(*volume, volume->root(), 0, budget);
        writes(*volume);
    }
    auto again = fat::mount(disk, clock, MountMode::ReadOnly);
    if (again.is_ok()) {
        std::unique_ptr<Volume> volume(again.value());
        int budget = 128;
        walk(*volume, volume->root(), 0, budget);
        check_info(*volume);
    }
    return 0;
}
