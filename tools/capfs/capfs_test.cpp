// lib/fs/capfs against the checker (tools/capfs/check.h) and against a
// model of what each file should hold: calls, remounts, power cuts at every
// write of a workload, a full disk, bad names, corrupted images.
#include "lib/fs/capfs/capfs.h"
#include "lib/fs/capfs/format.h"
#include "tests/host/fs_memory_disk.h"
#include "tools/capfs/check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <malloc.h>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

// The heap as a process sees it: the bytes in use are counted, and the
// nothrow allocations (what lib/fs/capfs makes all of its own with) fail past
// g_heap_limit, as a process's heap does at its frames limit; what is freed
// can be allocated again. (The other allocations, the test's own, are never
// refused.)
namespace {
size_t g_heap_in_use = 0;
size_t g_heap_limit = SIZE_MAX;

void* counted(std::size_t size, bool may_refuse, std::size_t alignment = 0) {
    if (may_refuse && size > g_heap_limit - std::min(g_heap_limit, g_heap_in_use))
        return nullptr;
    if (size == 0)
        size = 1;
    void* made =
        alignment == 0
            ? std::malloc(size)
            : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (made != nullptr)
        g_heap_in_use += malloc_usable_size(made);
    return made;
}
void uncount(void* pointer) {
    if (pointer == nullptr)
        return;
    g_heap_in_use -= malloc_usable_size(pointer);
    std::free(pointer);
}
void* counted_or_throw(std::size_t size, std::size_t alignment = 0) {
    void* made = counted(size, false, alignment);
    if (made == nullptr)
        throw std::bad_alloc();
    return made;
}
} // namespace

void* operator new(std::size_t size) {
    return counted_or_throw(size);
}
void* operator new[](std::size_t size) {
    return counted_or_throw(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return counted(size, true);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return counted(size, true);
}
// (lib/fs/capfs's blocks are aligned to 64 bytes: the aligned forms.)
void* operator new(std::size_t size, std::align_val_t alignment) {
    return counted_or_throw(size, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
    return counted_or_throw(size, static_cast<std::size_t>(alignment));
}
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return counted(size, true, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return counted(size, true, static_cast<std::size_t>(alignment));
}
void operator delete(void* pointer, std::align_val_t) noexcept {
    uncount(pointer);
}
void operator delete[](void* pointer, std::align_val_t) noexcept {
    uncount(pointer);
}
void operator delete(void* pointer, std::size_t, std::align_val_t) noexcept {
    uncount(pointer);
}
void operator delete[](void* pointer, std::size_t, std::align_val_t) noexcept {
    uncount(pointer);
}
void operator delete(void* pointer, std::align_val_t, const std::nothrow_t&) noexcept {
    uncount(pointer);
}
void operator delete[](void* pointer, std::align_val_t, const std::nothrow_t&) noexcept {
    uncount(pointer);
}
void operator delete(void* pointer) noexcept {
    uncount(pointer);
}
void operator delete[](void* pointer) noexcept {
    uncount(pointer);
}
void operator delete(void* pointer, const std::nothrow_t&) noexcept {
    uncount(pointer);
}
void operator delete[](void* pointer, const std::nothrow_t&) noexcept {
    uncount(pointer);
}
void operator delete(void* pointer, std::size_t) noexcept {
    uncount(pointer);
}
void operator delete[](void* pointer, std::size_t) noexcept {
    uncount(pointer);
}

namespace capos::fs::capfs {
namespace {

using testing::FixedClock;
using testing::MemoryDisk;

struct Mounted {
    std::unique_ptr<Volume> volume;
};

std::unique_ptr<Volume> mount_ok(MemoryDisk& disk, FixedClock& clock, Options options = {}) {
    auto mounted = mount(disk, clock, options);
    EXPECT_TRUE(mounted.is_ok()) << (mounted.is_ok() ? "" : to_string(mounted.error()));
    return std::unique_ptr<Volume>(mounted.is_ok() ? mounted.value() : nullptr);
}

void expect_consistent(MemoryDisk& disk) {
    auto report = check(disk);
    ASSERT_TRUE(report.is_ok());
    for (const auto& problem : report.value().problems)
        ADD_FAILURE() << problem;
}

std::span<const uint8_t> bytes_of(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string read_all(Volume& volume, NodeId file) {
    auto stat = volume.stat(file);
    EXPECT_TRUE(stat.is_ok());
    std::string out(stat.value().size, '\0');
    auto read = volume.read(file, 0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
    EXPECT_TRUE(read.is_ok());
    EXPECT_EQ(read.value(), out.size());
    return out;
}

struct Collect final : ListVisitor {
    std::map<std::string, NodeKind> names;
    size_t limit = SIZE_MAX;
    bool entry(const DirEntry& entry) override {
        if (names.size() >= limit)
            return false;
        names[std::string(entry.name)] = entry.kind;
        return true;
    }
};

TEST(Capfs, FormatsAndMountsAnEmptyRoot) {
    MemoryDisk disk(4096); // 2 MiB of 512-byte sectors
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    expect_consistent(disk);
    auto volume = mount_ok(disk, clock);
    ASSERT_TRUE(volume);
    Collect all;
    auto listed = volume->list(volume->root(), 0, all);
    ASSERT_TRUE(listed.is_ok());
    EXPECT_EQ(listed.value(), Volume::end_of_listing);
    EXPECT_TRUE(all.names.empty());
    VolumeInfo info = volume->info();
    EXPECT_EQ(info.block_size, 4096u);
    EXPECT_EQ(info.blocks, 512u);
    EXPECT_EQ(info.format, "capfs");
    EXPECT_GT(info.free_blocks, 490u);
}

TEST(Capfs, RefusesWhatIsNoCapfs) {
    MemoryDisk disk(4096);
    FixedClock clock;
    auto mounted = mount(disk, clock);
    ASSERT_TRUE(mounted.is_error());
    EXPECT_EQ(mounted.error(), FsError::Corrupt);
    MemoryDisk tiny(64);
    EXPECT_EQ(format(tiny, clock).error(), FsError::Invalid);
    MemoryDisk odd(4096, 1024 + 512);
    EXPECT_EQ(format(odd, clock).error(), FsError::NotSupported);
}

TEST(Capfs, FilesAndDirectoriesSurviveARemount) {
    MemoryDisk disk(16384);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    {
        auto volume = mount_ok(disk, clock);
        NodeId docs = volume->create(volume->root(), "docs", NodeKind::Directory).value();
        NodeId note = volume->create(docs, "note.txt", NodeKind::File).value();
        ASSERT_TRUE(volume->write(note, 0, bytes_of("hello, capOS")).is_ok());
        NodeId big = volume->create(volume->root(), "big", NodeKind::File).value();
        std::string pattern(300000, '\0');
        for (size_t i = 0; i < pattern.size(); ++i)
            pattern[i] = static_cast<char>(i * 7 + i / 4096);
        ASSERT_TRUE(volume->write(big, 0, bytes_of(pattern)).is_ok());
        EXPECT_EQ(read_all(*volume, big), pattern);
        EXPECT_EQ(volume->lookup(volume->root(), "docs").value(), docs);
        EXPECT_EQ(volume->create(docs, "note.txt", NodeKind::File).error(), FsError::Exists);
        ASSERT_TRUE(volume->sync().is_ok());
    }
    expect_consistent(disk);
    auto volume = mount_ok(disk, clock);
    NodeId docs = volume->lookup(volume->root(), "docs").value();
    NodeId note = volume->lookup(docs, "note.txt").value();
    EXPECT_EQ(read_all(*volume, note), "hello, capOS");
    auto stat = volume->stat(note).value();
    EXPECT_EQ(stat.kind, NodeKind::File);
    EXPECT_EQ(stat.size, 12u);
    EXPECT_GT(stat.modified_ns, 1'700'000'000ull * 1'000'000'000ull);
    NodeId big = volume->lookup(volume->root(), "big").value();
    std::string got = read_all(*volume, big);
    ASSERT_EQ(got.size(), 300000u);
    for (size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(got[i], static_cast<char>(i * 7 + i / 4096)) << i;
    // A read from the middle, across blocks, and past the end.
    uint8_t piece[10];
    ASSERT_EQ(volume->read(big, 4090, piece).value(), 10u);
    for (size_t i = 0; i < 10; ++i)
        EXPECT_EQ(piece[i], static_cast<uint8_t>((4090 + i) * 7 + (4090 + i) / 4096));
    EXPECT_EQ(volume->read(big, 300000, piece).value(), 0u);
    EXPECT_EQ(volume->read(big, 299995, piece).value(), 5u);
}

TEST(Capfs, WhatWasNotSyncedIsNotThereAfterACut) {
    MemoryDisk disk(8192);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    {
        auto volume = mount_ok(disk, clock);
        NodeId kept = volume->create(volume->root(), "kept", NodeKind::File).value();
        ASSERT_TRUE(volume->write(kept, 0, bytes_of("synced")).is_ok());
        ASSERT_TRUE(volume->sync().is_ok());
        ASSERT_TRUE(volume->write(kept, 0, bytes_of("SYNCED and more")).is_ok());
        ASSERT_TRUE(volume->create(volume->root(), "lost", NodeKind::File).is_ok());
        // The volume is dropped without a sync: a power cut.
    }
    expect_consistent(disk);
    auto volume = mount_ok(disk, clock);
    EXPECT_EQ(read_all(*volume, volume->lookup(volume->root(), "kept").value()), "synced");
    EXPECT_EQ(volume->lookup(volume->root(), "lost").error(), FsError::NotFound);
}

TEST(Capfs, RenameRemoveAndTruncate) {
    MemoryDisk disk(16384);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    auto volume = mount_ok(disk, clock);
    NodeId root = volume->root();
    NodeId a = volume->create(root, "a", NodeKind::Directory).value();
    NodeId b = volume->create(a, "b", NodeKind::Directory).value();
    NodeId f = volume->create(b, "f", NodeKind::File).value();
    ASSERT_TRUE(volume->write(f, 0, bytes_of(std::string(10000, 'x'))).is_ok());
    // A directory below itself, or onto itself's child.
    EXPECT_EQ(volume->rename(root, "a", b, "a2").error(), FsError::Invalid);
    EXPECT_EQ(volume->rename(root, "a", a, "x").error(), FsError::Invalid);
    // Kinds must agree when replacing.
    NodeId g = volume->create(root, "g", NodeKind::File).value();
    EXPECT_EQ(volume->rename(root, "g", a, "b").error(), FsError::IsDirectory);
    EXPECT_EQ(volume->rename(root, "a", root, "g").error(), FsError::NotDirectory);
    EXPECT_EQ(volume->remove(root, "a").error(), FsError::NotEmpty);
    // Move the file up, replacing g.
    ASSERT_TRUE(volume->rename(b, "f", root, "g").is_ok());
    EXPECT_EQ(volume->lookup(root, "g").value(), f);
    EXPECT_EQ(volume->lookup(b, "f").error(), FsError::NotFound);
    EXPECT_EQ(volume->stat(g).is_error(), true); // replaced and freed
    // Move a directory across, then remove the empty one.
    ASSERT_TRUE(volume->rename(a, "b", root, "b").is_ok());
    ASSERT_TRUE(volume->remove(root, "a").is_ok());
    EXPECT_EQ(volume->remove(root, "a").error(), FsError::NotFound);
    // Truncate down into a block and up again: zeros after the cut.
    ASSERT_TRUE(volume->truncate(f, 5000).is_ok());
    ASSERT_TRUE(volume->truncate(f, 9000).is_ok());
    std::string got = read_all(*volume, f);
    EXPECT_EQ(got, std::string(5000, 'x') + std::string(4000, '\0'));
    ASSERT_TRUE(volume->truncate(f, 0).is_ok());
    EXPECT_EQ(read_all(*volume, f), "");
    ASSERT_TRUE(volume->sync().is_ok());
    expect_consistent(disk);
    Collect all;
    ASSERT_TRUE(volume->list(root, 0, all).is_ok());
    EXPECT_EQ(all.names.size(), 2u);
    EXPECT_EQ(all.names["b"], NodeKind::Directory);
    EXPECT_EQ(all.names["g"], NodeKind::File);
}

TEST(Capfs, ListsInPiecesWithACursor) {
    MemoryDisk disk(16384);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    auto volume = mount_ok(disk, clock);
    for (int i = 0; i < 500; ++i)
        ASSERT_TRUE(volume
                        ->create(volume->root(),
                                 "file-" + std::to_string(i) + std::string(i % 40, 'n'),
                                 NodeKind::File)
                        .is_ok());
    std::map<std::string, NodeKind> seen;
    uint64_t cursor = 0;
    int calls = 0;
    while (cursor != Volume::end_of_listing) {
        Collect some;
        some.limit = 7;
        cursor = volume->list(volume->root(), cursor, some).value();
        for (auto& [name, kind] : some.names)
            EXPECT_TRUE(seen.emplace(name, kind).second) << name;
        ++calls;
    }
    EXPECT_EQ(seen.size(), 500u);
    EXPECT_GE(calls, 500 / 7);
}

TEST(Capfs, RefusesBadNames) {
    MemoryDisk disk(4096);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    auto volume = mount_ok(disk, clock);
    NodeId root = volume->root();
    EXPECT_EQ(volume->create(root, "", NodeKind::File).error(), FsError::BadName);
    EXPECT_EQ(volume->create(root, ".", NodeKind::File).error(), FsError::BadName);
    EXPECT_EQ(volume->create(root, "..", NodeKind::File).error(), FsError::BadName);
    EXPECT_EQ(volume->create(root, "a/b", NodeKind::File).error(), FsError::BadName);
    EXPECT_EQ(volume->create(root, std::string("a\0b", 3), NodeKind::File).error(),
              FsError::BadName);
    EXPECT_EQ(volume->create(root, std::string(10000, 'n'), NodeKind::File).error(),
              FsError::NameTooLong);
    EXPECT_EQ(volume->create(root, std::string(256, 'n'), NodeKind::File).error(),
              FsError::NameTooLong);
    ASSERT_TRUE(volume->create(root, std::string(255, 'n'), NodeKind::File).is_ok());
    EXPECT_EQ(volume->lookup(root, "..").error(), FsError::BadName);
    Collect all;
    ASSERT_TRUE(volume->list(root, 0, all).is_ok());
    EXPECT_EQ(all.names.size(), 1u);
}

TEST(Capfs, AFullDiskRefusesAndChangesNothing) {
    MemoryDisk disk(4096); // 512 blocks
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    auto volume = mount_ok(disk, clock);
    NodeId f = volume->create(volume->root(), "fill", NodeKind::File).value();
    std::string chunk(64 * 1024, 'f');
    uint64_t written = 0;
    for (;;) {
        auto wrote = volume->write(f, written, bytes_of(chunk));
        if (wrote.is_error()) {
            EXPECT_EQ(wrote.error(), FsError::NoSpace);
            break;
        }
        written += chunk.size();
        ASSERT_LT(written, 4u << 20);
    }
    EXPECT_GT(written, 1u << 20);
    EXPECT_EQ(volume->stat(f).value().size, written);
    // Small writes run out too, then removal still works.
    NodeId g = volume->create(volume->root(), "g", NodeKind::File).value();
    for (int i = 0; i < 1000; ++i)
        if (volume->write(g, uint64_t(i) * 4096, bytes_of(std::string(4096, 'g'))).is_error())
            break;
    ASSERT_TRUE(volume->sync().is_ok());
    expect_consistent(disk);
    uint64_t free_before = volume->info().free_blocks;
    ASSERT_TRUE(volume->remove(volume->root(), "fill").is_ok());
    ASSERT_TRUE(volume->sync().is_ok());
    EXPECT_GT(volume->info().free_blocks, free_before + 200);
    expect_consistent(disk);
}

TEST(Capfs, ARemovedFileStaysReadableWhileHeld) {
    MemoryDisk disk(8192);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    NodeId f;
    {
        auto volume = mount_ok(disk, clock);
        f = volume->create(volume->root(), "open", NodeKind::File).value();
        ASSERT_TRUE(volume->write(f, 0, bytes_of("still here")).is_ok());
        ASSERT_TRUE(volume->hold(f).is_ok());
        ASSERT_TRUE(volume->remove(volume->root(), "open").is_ok());
        ASSERT_TRUE(volume->sync().is_ok());
        expect_consistent(disk); // an orphan, on its list
        EXPECT_EQ(read_all(*volume, f), "still here");
        // A cut while it is held: the next mount frees it.
    }
    {
        auto volume = mount_ok(disk, clock);
        ASSERT_TRUE(volume->sync().is_ok());
        expect_consistent(disk);
        EXPECT_EQ(volume->stat(f).is_error(), true);
        // Held and released: freed at once.
        NodeId g = volume->create(volume->root(), "g", NodeKind::File).value();
        ASSERT_TRUE(volume->hold(g).is_ok());
        ASSERT_TRUE(volume->remove(volume->root(), "g").is_ok());
        volume->release(g);
        ASSERT_TRUE(volume->sync().is_ok());
        expect_consistent(disk);
        EXPECT_EQ(volume->stat(g).is_error(), true);
    }
}

TEST(Capfs, SparseFileOfAGibibyte) {
    MemoryDisk disk(16384);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    auto volume = mount_ok(disk, clock);
    NodeId f = volume->create(volume->root(), "sparse", NodeKind::File).value();
    uint64_t gib = uint64_t{1} << 30;
    ASSERT_TRUE(volume->write(f, gib - 5, bytes_of("tail!")).is_ok());
    ASSERT_TRUE(volume->write(f, 12345, bytes_of("head")).is_ok());
    ASSERT_TRUE(volume->sync().is_ok());
    expect_consistent(disk);
    EXPECT_EQ(volume->stat(f).value().size, gib);
    uint8_t buffer[8];
    ASSERT_EQ(volume->read(f, gib - 8, buffer).value(), 8u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), 8), std::string("\0\0\0tail!", 8));
    ASSERT_EQ(volume->read(f, 12344, buffer).value(), 8u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), 8), std::string("\0head\0\0\0", 8));
    ASSERT_EQ(volume->read(f, 500'000'000, buffer).value(), 8u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), 8), std::string(8, '\0'));
    EXPECT_EQ(volume->write(f, max_file_size, bytes_of("x")).error(), FsError::TooLarge);
    ASSERT_TRUE(volume->truncate(f, 100).is_ok());
    ASSERT_TRUE(volume->sync().is_ok());
    expect_consistent(disk);
}

// A workload of creates, writes, renames and removes, with a sync after
// each step, run once on a disk that logs every write; then the disk as a
// power cut after each write would leave it must mount, check clean and
// hold every file as the last sync before the cut left it. Writes between
// two flushes may reach the disk in any order: each cut also applies a
// random subset of the writes since the last flush.
TEST(Capfs, EveryPowerCutLeavesTheLastSync) {
    // Small enough that allocation wraps around and reuses freed blocks.
    MemoryDisk disk(1024, 512);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    disk.start_log();
    using Model = std::map<std::string, std::string>;
    std::vector<Model> synced{Model{}};
    std::vector<size_t> synced_at{0}; // log entries when each sync returned
    int refused = 0;
    {
        Options options;
        options.dirty_limit = 64;
        auto volume = mount_ok(disk, clock, options);
        Model model;
        std::mt19937 random(7);
        NodeId root = volume->root();
        // Ballast, so that free blocks are few and the allocator comes round
        // to blocks freed since the last commit often.
        NodeId ballast = volume->create(root, "ballast", NodeKind::File).value();
        ASSERT_TRUE(volume->write(ballast, 0, bytes_of(std::string(50 * 4096, 'B'))).is_ok());
        model["ballast"] = std::string(50 * 4096, 'B');
        ASSERT_TRUE(volume->sync().is_ok());
        synced.push_back(model);
        synced_at.push_back(disk.log().size());
        for (int step = 0; step < 120; ++step) {
            std::string name = "f" + std::to_string(random() % 8);
            int action = random() % 4;
            if (action == 0 && model.count(name)) {
                ASSERT_TRUE(volume->remove(root, name).is_ok());
                model.erase(name);
            } else if (action == 1 && model.count(name)) {
                std::string to = "f" + std::to_string(random() % 8);
                auto renamed = volume->rename(root, name, root, to);
                if (renamed.is_error()) {
                    ASSERT_EQ(renamed.error(), FsError::NoSpace);
                    ++refused;
                } else if (to != name) {
                    std::string contents = model[name];
                    model.erase(name);
                    model[to] = contents;
                }
            } else {
                NodeId file;
                if (model.count(name)) {
                    file = volume->lookup(root, name).value();
                } else {
                    auto created = volume->create(root, name, NodeKind::File);
                    if (created.is_error()) {
                        ASSERT_EQ(created.error(), FsError::NoSpace);
                        ++refused;
                        ASSERT_TRUE(volume->sync().is_ok());
                        synced.push_back(model);
                        synced_at.push_back(disk.log().size());
                        continue;
                    }
                    file = created.value();
                    model[name] = "";
                }
                size_t length = random() % 6000;
                size_t offset = model[name].empty() ? 0 : random() % model[name].size();
                std::string data(length, static_cast<char>('a' + step % 26));
                auto wrote = volume->write(file, offset, bytes_of(data));
                if (wrote.is_error()) {
                    // Nearly full: refused whole, nothing written.
                    ASSERT_EQ(wrote.error(), FsError::NoSpace);
                    ++refused;
                    ASSERT_TRUE(volume->sync().is_ok());
                    synced.push_back(model);
                    synced_at.push_back(disk.log().size());
                    continue;
                }
                std::string& contents = model[name];
                if (contents.size() < offset + length)
                    contents.resize(offset + length, '\0');
                contents.replace(offset, length, data);
            }
            ASSERT_TRUE(volume->sync().is_ok());
            synced.push_back(model);
            synced_at.push_back(disk.log().size());
        }
    }
    const auto& log = disk.log();
    ASSERT_GT(log.size(), 100u);
    EXPECT_GT(refused, 0); // the disk did fill up
    // Copy-on-write itself: until a superblock is written, no write touches
    // a block the last one reaches.
    {
        MemoryDisk start(disk.image_after(0));
        std::vector<bool> reached = check(start).value().reached;
        size_t writes = 0;
        for (size_t i = 0; i < log.size(); ++i) {
            if (log[i].sector == MemoryDisk::flush_mark)
                continue;
            uint64_t first = log[i].sector / 8,
                     last = (log[i].sector * 512 + log[i].data.size() - 1) / 4096;
            if (first <= 1) {
                // A superblock: what it reaches from now on.
                MemoryDisk now(disk.image_after(i + 1));
                reached = check(now).value().reached;
                continue;
            }
            for (uint64_t block = first; block <= last; ++block)
                ASSERT_FALSE(block < reached.size() && reached[block])
                    << "write " << i << " overwrites block " << block << " of the last commit";
            ++writes;
        }
        EXPECT_GT(writes, 100u);
    }
    std::mt19937 random(11);
    for (size_t cut = 0; cut <= log.size(); ++cut) {
        for (int variant = 0; variant < 2; ++variant) {
            std::vector<uint8_t> image = disk.image_after(cut);
            if (variant == 1) {
                // Some of the writes after the cut, since the last flush.
                for (size_t i = cut; i < log.size() && log[i].sector != MemoryDisk::flush_mark; ++i)
                    if (random() % 2)
                        std::memcpy(image.data() + log[i].sector * 512, log[i].data.data(),
                                    log[i].data.size());
            }
            MemoryDisk after(std::move(image));
            auto report = check(after);
            ASSERT_TRUE(report.is_ok());
            ASSERT_TRUE(report.value().ok())
                << "cut " << cut << ": " << report.value().problems.front();
            // The last sync that returned before the cut.
            size_t last = 0;
            while (last + 1 < synced_at.size() && synced_at[last + 1] <= cut)
                ++last;
            FixedClock later;
            auto mounted = mount(after, later);
            ASSERT_TRUE(mounted.is_ok()) << "cut " << cut;
            std::unique_ptr<Volume> volume(mounted.value());
            // The state is that sync's, or the next one's (cut inside its commit, after the
            // superblock was written).
            auto matches = [&](const Model& model) {
                Collect all;
                if (volume->list(volume->root(), 0, all).is_error() ||
                    all.names.size() != model.size())
                    return false;
                for (auto& [name, contents] : model) {
                    auto file = volume->lookup(volume->root(), name);
                    if (file.is_error() || read_all(*volume, file.value()) != contents)
                        return false;
                }
                return true;
            };
            bool ok =
                matches(synced[last]) || (last + 1 < synced.size() && matches(synced[last + 1]));
            ASSERT_TRUE(ok) << "cut " << cut << " after sync " << last;
        }
    }
}

TEST(Capfs, ManyEntriesInOneDirectory) {
    MemoryDisk disk(uint64_t{64} << 11); // 64 MiB
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    const int count = 100000;
    {
        auto volume = mount_ok(disk, clock);
        NodeId dir = volume->create(volume->root(), "many", NodeKind::Directory).value();
        for (int i = 0; i < count; ++i)
            ASSERT_TRUE(volume->create(dir, "entry-" + std::to_string(i), NodeKind::File).is_ok())
                << i;
        ASSERT_TRUE(volume->sync().is_ok());
    }
    expect_consistent(disk);
    auto volume = mount_ok(disk, clock);
    NodeId dir = volume->lookup(volume->root(), "many").value();
    for (int i = 0; i < count; i += 997)
        EXPECT_TRUE(volume->lookup(dir, "entry-" + std::to_string(i)).is_ok()) << i;
    EXPECT_EQ(volume->lookup(dir, "entry-100000").error(), FsError::NotFound);
    Collect all;
    ASSERT_EQ(volume->list(dir, 0, all).value(), Volume::end_of_listing);
    EXPECT_EQ(all.names.size(), size_t(count));
    for (int i = 0; i < count; i += 2)
        ASSERT_TRUE(volume->remove(dir, "entry-" + std::to_string(i)).is_ok());
    ASSERT_TRUE(volume->sync().is_ok());
    expect_consistent(disk);
}

// The block cache grows as it is used; when the heap has nothing left, what
// the volume's own work needs (dirty blocks, nodes) is taken back from the
// cache, and writes and the commit go on.
TEST(Capfs, TheCacheGivesItsMemoryBackWhenTheHeapRunsOut) {
    MemoryDisk disk(16384);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    Options options;
    options.cache_blocks = 4096;
    auto volume = mount_ok(disk, clock, options);
    ASSERT_NE(volume, nullptr);
    // 512 blocks of file data written, committed (so kept in the cache) and read.
    auto big = volume->create(volume->root(), "big", NodeKind::File);
    ASSERT_TRUE(big.is_ok());
    std::string data(512 * 4096, 'c');
    ASSERT_TRUE(volume->write(big.value(), 0, bytes_of(data)).is_ok());
    ASSERT_TRUE(volume->sync().is_ok());
    EXPECT_EQ(read_all(*volume, big.value()), data);
    // No more heap: the next writes' dirty blocks, new nodes and the commit
    // live on what the cache held.
    std::string more(64 * 4096, 'd');
    g_heap_limit = g_heap_in_use + 16 * 1024;
    auto written = volume->write(big.value(), 0, bytes_of(more));
    auto small = volume->lookup(volume->root(), "big");
    auto synced = volume->sync();
    g_heap_limit = SIZE_MAX;
    ASSERT_TRUE(written.is_ok()) << to_string(written.error());
    ASSERT_TRUE(small.is_ok());
    ASSERT_TRUE(synced.is_ok()) << to_string(synced.error());
    std::string expected = more + data.substr(more.size());
    EXPECT_EQ(read_all(*volume, big.value()), expected);
    volume.reset();
    expect_consistent(disk);
    auto again = mount_ok(disk, clock);
    ASSERT_NE(again, nullptr);
    auto found = again->lookup(again->root(), "big");
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(read_all(*again, found.value()), expected);
}

TEST(Capfs, ADiskThatFailsLeavesTheLastCommit) {
    MemoryDisk disk(8192);
    FixedClock clock;
    ASSERT_TRUE(format(disk, clock).is_ok());
    {
        auto volume = mount_ok(disk, clock);
        NodeId f = volume->create(volume->root(), "f", NodeKind::File).value();
        ASSERT_TRUE(volume->write(f, 0, bytes_of("one")).is_ok());
        ASSERT_TRUE(volume->sync().is_ok());
        ASSERT_TRUE(volume->write(f, 0, bytes_of("two")).is_ok());
        disk.fail_writes_after(1);
        EXPECT_EQ(volume->sync().error(), FsError::Io);
        EXPECT_EQ(volume->create(volume->root(), "g", NodeKind::File).error(), FsError::Io);
        disk.fail_writes_after(-1);
    }
    expect_consistent(disk);
    auto volume = mount_ok(disk, clock);
    EXPECT_EQ(read_all(*volume, volume->lookup(volume->root(), "f").value()), "one");
}

// Random bytes over a valid image's blocks: every mount is refused or its
// calls answer; none crashes or hangs (checksums off, to reach the parsers).
TEST(Capfs, CorruptedImagesAreRefusedOrAnswered) {
    MemoryDisk base(2048);
    FixedClock clock;
    ASSERT_TRUE(format(base, clock).is_ok());
    {
        auto volume = mount_ok(base, clock);
        NodeId d = volume->create(volume->root(), "d", NodeKind::Directory).value();
        for (int i = 0; i < 40; ++i) {
            NodeId f = volume->create(d, "file" + std::to_string(i), NodeKind::File).value();
            ASSERT_TRUE(volume->write(f, 0, bytes_of(std::string(i * 300, 'z'))).is_ok());
        }
        ASSERT_TRUE(volume->sync().is_ok());
    }
    std::mt19937 random(3);
    for (int round = 0; round < 3000; ++round) {
        MemoryDisk disk(std::vector<uint8_t>(base.bytes()));
        int flips = 1 + random() % 8;
        for (int i = 0; i < flips; ++i) {
            // Mostly the metadata near the start, where the structures are.
            size_t span = random() % 2 ? 64 * 4096 : disk.bytes().size();
            disk.bytes()[random() % span] ^= static_cast<uint8_t>(1 + random() % 255);
        }
        Options options;
        options.verify_checksums = round % 2 == 0;
        options.cache_blocks = 8;
        auto mounted = mount(disk, clock, options);
        if (mounted.is_error())
            continue;
        std::unique_ptr<Volume> volume(mounted.value());
        Collect all;
        (void)volume->list(volume->root(), 0, all);
        auto d = volume->lookup(volume->root(), "d");
        if (d.is_ok()) {
            Collect files;
            (void)volume->list(d.value(), 0, files);
            for (auto& [name, kind] : files.names) {
                auto f = volume->lookup(d.value(), name);
                if (f.is_error())
                    continue;
                uint8_t buffer[4096];
                (void)volume->read(f.value(), 0, buffer);
                (void)volume->write(f.value(), 100, bytes_of("x"));
            }
            (void)volume->create(d.value(), "new", NodeKind::File);
            (void)volume->rename(d.value(), "file3", volume->root(), "moved");
            (void)volume->remove(d.value(), "file5");
        }
        (void)volume->sync();
    }
}

} // namespace
} // namespace capos::fs::capfs
