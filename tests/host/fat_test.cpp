// lib/fs/fat: FAT32 as a Volume, against the host's FAT tools as oracles.
// Images are made by mkfs.fat and filled by mcopy/mmd; what the volume
// writes must pass fsck.fat -n and read back the same through mtype, mdir
// and mcopy. The tools run in a temporary directory (std::system, popen);
// a missing tool fails the test (Debian packages dosfstools and mtools,
// installed by scripts/deps.sh). Corrupt images, hand-made and random, must
// be refused or answered with errors, never crash or hang.
#include "lib/fs/fat/fat.h"
#include "lib/fs/fat/names.h"
#include "tests/host/fs_memory_disk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace capos;
using namespace capos::fs;
using capos::fs::testing::FixedClock;
using capos::fs::testing::MemoryDisk;

// --- Host tools -------------------------------------------------------------

const char* const tool_env =
    "PATH=\"$PATH:/sbin:/usr/sbin\" LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null ";

std::string quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'')
            quoted += "'\\''";
        else
            quoted += c;
    }
    return quoted + "'";
}

struct Output {
    int status = -1;
    std::string text;
};

Output run(const std::string& command) {
    Output output;
    std::string full = std::string(tool_env) + command + " 2>&1";
    FILE* pipe = popen(full.c_str(), "r");
    if (pipe == nullptr)
        return output;
    char buffer[4096];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0)
        output.text.append(buffer, got);
    int status = pclose(pipe);
    output.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return output;
}

bool have_tool(const char* tool) {
    return run(std::string("command -v ") + tool).status == 0;
}

std::vector<uint8_t> load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void save_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> pattern(size_t size, uint32_t seed) {
    std::vector<uint8_t> bytes(size);
    std::mt19937 random(seed);
    for (auto& byte : bytes)
        byte = static_cast<uint8_t>(random());
    return bytes;
}

// A temporary directory for one test's images and files, removed after it.
class FatTools : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* tool : {"mkfs.fat", "fsck.fat", "mcopy", "mdir", "mtype", "mmd"})
            ASSERT_TRUE(have_tool(tool))
                << tool << " is missing: install dosfstools and mtools (scripts/deps.sh)";
        char path[] = "/tmp/capos_fat_test.XXXXXX";
        ASSERT_NE(mkdtemp(path), nullptr);
        m_dir = path;
    }
    void TearDown() override {
        if (!m_dir.empty())
            std::system(("rm -rf " + quote(m_dir)).c_str());
    }

    std::string path(const std::string& name) const { return m_dir + "/" + name; }

    // An image made by mkfs.fat -F 32 of `kib` KiB (34000 KiB with one
    // sector a cluster is the smallest mtools takes as FAT32).
    std::string make_image(const std::string& name, unsigned kib,
                           const std::string& options = "-s 1") {
        std::string image = path(name);
        Output made =
            run("mkfs.fat -F 32 " + options + " -C " + quote(image) + " " + std::to_string(kib));
        EXPECT_EQ(made.status, 0) << made.text;
        return image;
    }
    void mcopy_in(const std::string& image, const std::vector<uint8_t>& bytes,
                  const std::string& to) {
        std::string local = path("in.bin");
        save_file(local, bytes);
        Output copied =
            run("mcopy -o -i " + quote(image) + " " + quote(local) + " " + quote("::" + to));
        ASSERT_EQ(copied.status, 0) << copied.text;
    }
    void mmd(const std::string& image, const std::string& dir) {
        Output made = run("mmd -i " + quote(image) + " " + quote("::" + dir));
        ASSERT_EQ(made.status, 0) << made.text;
    }
    std::vector<uint8_t> mcopy_out(const std::string& image, const std::string& from) {
        std::string local = path("out.bin");
        std::remove(local.c_str());
        Output copied =
            run("mcopy -o -i " + quote(image) + " " + quote("::" + from) + " " + quote(local));
        EXPECT_EQ(copied.status, 0) << from << ": " << copied.text;
        return load_file(local);
    }
    // fsck.fat -n: no change, status 0 when the volume is sound.
    void expect_clean(const std::string& image) {
        Output checked = run("fsck.fat -n " + quote(image));
        EXPECT_EQ(checked.status, 0) << checked.text;
    }
    // The names mdir -b lists under `dir` (full paths, directories ending in '/').
    std::set<std::string> mdir_names(const std::string& image, const std::string& dir) {
        Output listed = run("mdir -b -i " + quote(image) + " " + quote("::" + dir));
        EXPECT_EQ(listed.status, 0) << listed.text;
        std::set<std::string> names;
        size_t at = 0;
        while (at < listed.text.size()) {
            size_t end = listed.text.find('\n', at);
            if (end == std::string::npos)
                end = listed.text.size();
            std::string line = listed.text.substr(at, end - at);
            if (!line.empty())
                names.insert(line);
            at = end + 1;
        }
        return names;
    }

    std::string m_dir;
};

// --- Volume helpers ---------------------------------------------------------

struct Mounted {
    std::unique_ptr<MemoryDisk> disk;
    FixedClock clock;
    std::unique_ptr<Volume> volume;
};

std::unique_ptr<Mounted> mount_bytes(std::vector<uint8_t> bytes, uint32_t sector_size = 512,
                                     MountMode mode = MountMode::ReadWrite) {
    auto mounted = std::make_unique<Mounted>();
    mounted->disk = std::make_unique<MemoryDisk>(std::move(bytes), sector_size);
    auto volume = fat::mount(*mounted->disk, mounted->clock, mode);
    EXPECT_TRUE(volume.is_ok()) << (volume.is_ok() ? "" : to_string(volume.error()));
    if (volume.is_error())
        return nullptr;
    mounted->volume.reset(volume.value());
    return mounted;
}

FsError mount_error(std::vector<uint8_t> bytes, uint32_t sector_size = 512) {
    MemoryDisk disk(std::move(bytes), sector_size);
    FixedClock clock;
    auto volume = fat::mount(disk, clock, MountMode::ReadWrite);
    if (volume.is_ok()) {
        delete volume.value();
        ADD_FAILURE() << "the image mounted";
        return FsError::Invalid;
    }
    return volume.error();
}

std::vector<uint8_t> bytes_of(std::initializer_list<uint8_t> list) {
    return std::vector<uint8_t>(list);
}

template <typename T>
FsError error_of(const Result<T, FsError>& result) {
    EXPECT_TRUE(result.is_error());
    return result.is_error() ? result.error() : FsError::Invalid;
}

// The id of `path` ("a/b/c") from the root.
Result<NodeId, FsError> walk(Volume& volume, const std::string& path) {
    NodeId node = volume.root();
    size_t at = 0;
    while (at < path.size()) {
        size_t end = path.find('/', at);
        if (end == std::string::npos)
            end = path.size();
        node = TRY(volume.lookup(node, std::string_view(path).substr(at, end - at)));
        at = end + 1;
    }
    return node;
}

std::vector<uint8_t> read_all(Volume& volume, NodeId file) {
    auto stat = volume.stat(file);
    EXPECT_TRUE(stat.is_ok());
    std::vector<uint8_t> bytes(stat.is_ok() ? stat.value().size : 0);
    // Odd-sized reads at odd offsets: the volume's sector and cluster edges.
    size_t at = 0;
    while (at < bytes.size()) {
        size_t chunk = std::min<size_t>(bytes.size() - at, 7919);
        auto got = volume.read(file, at, std::span<uint8_t>(bytes.data() + at, chunk));
        EXPECT_TRUE(got.is_ok());
        if (got.is_error() || got.value() == 0)
            break;
        at += got.value();
    }
    return bytes;
}

class Collect final : public ListVisitor {
public:
    explicit Collect(size_t stop_after = SIZE_MAX) : m_stop_after(stop_after) {}
    // Takes entries until it holds stop_after, then refuses the next (which
    // the cursor then names).
    bool entry(const DirEntry& entry) override {
        if (entries.size() >= m_stop_after)
            return false;
        entries.push_back({std::string(entry.name), entry.kind, entry.id});
        return true;
    }
    struct Item {
        std::string name;
        NodeKind kind;
        NodeId id;
    };
    std::vector<Item> entries;

private:
    size_t m_stop_after;
};

std::map<std::string, NodeKind> list_names(Volume& volume, NodeId dir) {
    Collect collect;
    auto listed = volume.list(dir, 0, collect);
    EXPECT_TRUE(listed.is_ok());
    std::map<std::string, NodeKind> names;
    for (auto& item : collect.entries)
        names[item.name] = item.kind;
    return names;
}

void write_bytes(Volume& volume, NodeId file, uint64_t offset, const std::vector<uint8_t>& bytes) {
    auto written = volume.write(file, offset, bytes);
    ASSERT_TRUE(written.is_ok()) << to_string(written.error());
}

// Creates `path` ("a/b/c", directories before it existing) with `bytes`.
void put_file(Volume& volume, const std::string& path, const std::vector<uint8_t>& bytes) {
    size_t slash = path.rfind('/');
    NodeId dir = volume.root();
    if (slash != std::string::npos)
        dir = walk(volume, path.substr(0, slash)).value();
    auto file =
        volume.create(dir, path.substr(slash == std::string::npos ? 0 : slash + 1), NodeKind::File);
    ASSERT_TRUE(file.is_ok()) << path;
    if (!bytes.empty())
        write_bytes(volume, file.value(), 0, bytes);
}

void make_dir(Volume& volume, const std::string& path) {
    size_t slash = path.rfind('/');
    NodeId dir = volume.root();
    if (slash != std::string::npos)
        dir = walk(volume, path.substr(0, slash)).value();
    ASSERT_TRUE(volume
                    .create(dir, path.substr(slash == std::string::npos ? 0 : slash + 1),
                            NodeKind::Directory)
                    .is_ok())
        << path;
}

// Mounts the image file, lets `fill` write through the volume, syncs and
// saves it: small images, which mtools does not take as FAT32.
template <typename Fill>
void populate(const std::string& image, uint32_t sector_size, Fill&& fill) {
    auto mounted = mount_bytes(load_file(image), sector_size);
    ASSERT_TRUE(mounted);
    fill(*mounted->volume);
    ASSERT_TRUE(mounted->volume->sync().is_ok());
    save_file(image, mounted->disk->bytes());
}

// --- Names ------------------------------------------------------------------

TEST(FatNames, LongNamesAreCheckedAndConverted) {
    fat::LongName name;
    ASSERT_TRUE(fat::to_long_name("Hello world.txt", name).is_ok());
    EXPECT_EQ(name.length, 15u);
    ASSERT_TRUE(fat::to_long_name("ünïcødé €", name).is_ok());
    EXPECT_EQ(name.length, 9u);
    EXPECT_EQ(name.units[8], 0x20AC);
    ASSERT_TRUE(fat::to_long_name("\xF0\x9F\x98\x80", name).is_ok()); // U+1F600: a surrogate pair
    EXPECT_EQ(name.length, 2u);
    char utf8[16];
    EXPECT_EQ(std::string(utf8, fat::to_utf8(name.view(), utf8)), "\xF0\x9F\x98\x80");

    for (const char* bad : {"a*b", "a?b", "a<b", "a>b", "a|b", "a\"b", "a:b", "a\\b", "tab\there",
                            "dot.", "space ", "\xC0\xAF", "\xED\xA0\x80", "\xFF", "abc\xE2\x82"}) {
        auto result = fat::to_long_name(bad, name);
        ASSERT_TRUE(result.is_error()) << bad;
        EXPECT_EQ(result.error(), FsError::BadName) << bad;
    }
    EXPECT_EQ(fat::to_long_name(std::string(255, 'a'), name).is_ok(), true);
    EXPECT_EQ(fat::to_long_name(std::string(256, 'a'), name).error(), FsError::NameTooLong);
}

TEST(FatNames, ShortNamesAndTails) {
    fat::LongName name;
    auto short_of = [&](const char* text) {
        EXPECT_TRUE(fat::to_long_name(text, name).is_ok());
        auto exact = fat::exact_short_name(name);
        return exact ? std::string(reinterpret_cast<const char*>(exact->bytes), 11) : std::string();
    };
    EXPECT_EQ(short_of("README.TXT"), "README  TXT");
    EXPECT_EQ(short_of("A"), "A          ");
    EXPECT_EQ(short_of("readme.txt"), "");
    EXPECT_EQ(short_of("TOOLONGNAME"), "");
    EXPECT_EQ(short_of("A.B.C"), "");
    EXPECT_EQ(short_of("A+B"), "");

    auto basis_of = [&](const char* text) {
        EXPECT_TRUE(fat::to_long_name(text, name).is_ok());
        auto basis = fat::short_basis(name);
        return std::string(reinterpret_cast<const char*>(basis.bytes), 11);
    };
    EXPECT_EQ(basis_of("A long file name.txt"), "ALONGFILTXT");
    EXPECT_EQ(basis_of(".bashrc"), "BASHRC     ");
    EXPECT_EQ(basis_of("x+y;z.tar.gz"), "X_Y_Z   GZ ");
    EXPECT_EQ(basis_of("été"), "_T_        ");

    fat::ShortName basis;
    std::memcpy(basis.bytes, "ALONGFILTXT", 11);
    auto tailed = fat::with_tail(basis, 1);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(tailed.bytes), 11), "ALONGF~1TXT");
    EXPECT_EQ(fat::tail_of(basis, tailed), 1u);
    tailed = fat::with_tail(basis, 12345);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(tailed.bytes), 11), "AL~12345TXT");
    EXPECT_EQ(fat::tail_of(basis, tailed), 12345u);
    std::memcpy(basis.bytes, "AB      C  ", 11);
    tailed = fat::with_tail(basis, 7);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(tailed.bytes), 11), "AB~7    C  ");
    fat::ShortName other;
    std::memcpy(other.bytes, "AB~7    D  ", 11);
    EXPECT_FALSE(fat::tail_of(basis, other).has_value());
    std::memcpy(other.bytes, "AB~07   C  ", 11);
    EXPECT_FALSE(fat::tail_of(basis, other).has_value());

    // The checksum Windows and Linux compute for "README  TXT".
    std::memcpy(basis.bytes, "README  TXT", 11);
    uint8_t sum = 0;
    for (uint8_t byte : basis.bytes)
        sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + byte);
    EXPECT_EQ(fat::short_checksum(basis), sum);
}

TEST(FatNames, TimesRoundTrip) {
    // 2026-01-01 00:00:00 UTC, and a time of day with odd seconds.
    uint64_t ns = 1'767'225'600ull * 1'000'000'000ull;
    fat::Timestamp stamp = fat::from_ns(ns);
    EXPECT_EQ(stamp.date, ((2026 - 1980) << 9) | (1 << 5) | 1);
    EXPECT_EQ(stamp.time, 0);
    EXPECT_EQ(fat::to_ns(stamp), ns);
    uint64_t later = ns + (13 * 3600 + 45 * 60 + 7) * 1'000'000'000ull + 250'000'000ull;
    stamp = fat::from_ns(later);
    EXPECT_EQ(stamp.hundredths, 125);
    EXPECT_EQ(fat::to_ns(stamp), later);
    EXPECT_EQ(fat::from_ns(0).date, (1 << 5) | 1);
    EXPECT_EQ(fat::to_ns({0, 0, 0}), 0u);                         // month 0
    EXPECT_EQ(fat::to_ns({(44 << 9) | (2 << 5) | 30, 0, 0}), 0u); // 2024-02-30
    EXPECT_NE(fat::to_ns({(44 << 9) | (2 << 5) | 29, 0, 0}), 0u); // 2024-02-29
}

// --- Reading what mtools wrote ----------------------------------------------

TEST_F(FatTools, ReadsWhatMtoolsWrote) {
    std::string image = make_image("read.img", 34000);
    auto big = pattern(3 * 1024 * 1024 + 777, 1);
    auto small = pattern(1000, 2);
    mcopy_in(image, big, "big.bin");
    mcopy_in(image, small, "A long file name with spaces.txt");
    mcopy_in(image, {}, "empty");
    mcopy_in(image, pattern(513, 3), "README.TXT");
    mmd(image, "Sub Dir");
    mmd(image, "Sub Dir/deeper");
    mcopy_in(image, pattern(4097, 4), "Sub Dir/deeper/nested file.dat");
    mcopy_in(image, pattern(10, 5), "Sub Dir/x");
    mcopy_in(image, pattern(20, 6), "ünïcødé file name.txt");

    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    VolumeInfo info = volume.info();
    EXPECT_EQ(info.format, "fat32");
    EXPECT_EQ(info.block_size, 512u);
    EXPECT_EQ(info.blocks, 66922u);

    auto root = list_names(volume, volume.root());
    std::map<std::string, NodeKind> expected = {
        {"big.bin", NodeKind::File},      {"A long file name with spaces.txt", NodeKind::File},
        {"empty", NodeKind::File},        {"README.TXT", NodeKind::File},
        {"Sub Dir", NodeKind::Directory}, {"ünïcødé file name.txt", NodeKind::File}};
    EXPECT_EQ(root, expected);

    EXPECT_EQ(read_all(volume, walk(volume, "big.bin").value()), big);
    EXPECT_EQ(read_all(volume, walk(volume, "a LONG file name with spaces.TXT").value()), small);
    EXPECT_EQ(read_all(volume, walk(volume, "readme.txt").value()), pattern(513, 3));
    EXPECT_EQ(read_all(volume, walk(volume, "Sub Dir/deeper/nested file.dat").value()),
              pattern(4097, 4));
    EXPECT_EQ(read_all(volume, walk(volume, "sub dir/X").value()), pattern(10, 5));
    EXPECT_EQ(read_all(volume, walk(volume, "ünïcødé file name.txt").value()), pattern(20, 6));
    // The short alias names the same file.
    auto alias = walk(volume, "ALONGF~1.TXT");
    ASSERT_TRUE(alias.is_ok());
    EXPECT_EQ(read_all(volume, alias.value()), small);

    auto empty = walk(volume, "empty");
    ASSERT_TRUE(empty.is_ok());
    auto stat = volume.stat(empty.value());
    ASSERT_TRUE(stat.is_ok());
    EXPECT_EQ(stat.value().size, 0u);
    EXPECT_EQ(stat.value().kind, NodeKind::File);
    EXPECT_GT(stat.value().modified_ns, 315'532'800ull * 1'000'000'000ull);
    uint8_t byte;
    EXPECT_EQ(volume.read(empty.value(), 0, {&byte, 1}).value(), 0u);

    // A read past the end and one across it.
    auto file = walk(volume, "README.TXT").value();
    std::vector<uint8_t> tail(100);
    EXPECT_EQ(volume.read(file, 500, tail).value(), 13u);
    EXPECT_EQ(volume.read(file, 513, tail).value(), 0u);
    EXPECT_EQ(volume.read(file, 1u << 31, tail).value(), 0u);

    EXPECT_EQ(error_of(volume.lookup(volume.root(), "missing")), FsError::NotFound);
    EXPECT_EQ(error_of(volume.lookup(file, "x")), FsError::NotDirectory);
    EXPECT_EQ(error_of(volume.read(walk(volume, "Sub Dir").value(), 0, tail)),
              FsError::IsDirectory);
}

// --- Writing what mtools and fsck.fat read -----------------------------------

TEST_F(FatTools, WritesWhatMtoolsReads) {
    std::string image = make_image("write.img", 34000);
    mcopy_in(image, pattern(3000, 9), "old.txt");
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    NodeId root = volume.root();
    uint64_t free_before = volume.info().free_blocks;

    std::map<std::string, std::vector<uint8_t>> files; // what mtools must read
    auto create_file = [&](NodeId dir, const std::string& name, const std::vector<uint8_t>& bytes) {
        auto file = volume.create(dir, name, NodeKind::File);
        EXPECT_TRUE(file.is_ok()) << name << ": " << (file.is_ok() ? "" : to_string(file.error()));
        if (file.is_ok() && !bytes.empty())
            write_bytes(volume, file.value(), 0, bytes);
        return file.is_ok() ? file.value() : NodeId{0};
    };

    // Plain and long names, an empty file, a big file written in pieces.
    files["PLAIN.TXT"] = pattern(100, 10);
    create_file(root, "PLAIN.TXT", files["PLAIN.TXT"]);
    files["lower.txt"] = pattern(600, 11);
    create_file(root, "lower.txt", files["lower.txt"]);
    files["A rather long file name; with nothing odd.data"] = pattern(1, 12);
    create_file(root, "A rather long file name; with nothing odd.data",
                files["A rather long file name; with nothing odd.data"]);
    files["empty"] = {};
    create_file(root, "empty", {});
    files["ünïcødé €.txt"] = pattern(77, 13);
    create_file(root, "ünïcødé €.txt", files["ünïcødé €.txt"]);
    std::string longest(255, 'n');
    files[longest] = pattern(5, 14);
    create_file(root, longest, files[longest]);

    auto big = pattern(2 * 1024 * 1024 + 1234, 15);
    NodeId big_file = create_file(root, "big.bin", {});
    for (size_t at = 0; at < big.size(); at += 65536 + 3) {
        size_t count = std::min<size_t>(big.size() - at, 65536 + 3);
        write_bytes(volume, big_file, at,
                    std::vector<uint8_t>(big.begin() + at, big.begin() + at + count));
    }
    files["big.bin"] = big;
    EXPECT_EQ(read_all(volume, big_file), big);

    // A gap reads as zeros; overwrite in the middle.
    NodeId sparse = create_file(root, "sparse", {});
    write_bytes(volume, sparse, 5000, {1, 2, 3});
    write_bytes(volume, sparse, 10, {9, 9});
    std::vector<uint8_t> sparse_bytes(5003, 0);
    sparse_bytes[10] = sparse_bytes[11] = 9;
    sparse_bytes[5000] = 1, sparse_bytes[5001] = 2, sparse_bytes[5002] = 3;
    files["sparse"] = sparse_bytes;

    // Truncate down then up: the cut part comes back as zeros.
    auto cut = pattern(3000, 16);
    NodeId truncated = create_file(root, "truncated", cut);
    ASSERT_TRUE(volume.truncate(truncated, 700).is_ok());
    ASSERT_TRUE(volume.truncate(truncated, 2000).is_ok());
    cut.resize(700);
    cut.resize(2000, 0);
    files["truncated"] = cut;
    NodeId to_zero = create_file(root, "to zero", pattern(5000, 17));
    ASSERT_TRUE(volume.truncate(to_zero, 0).is_ok());
    files["to zero"] = {};

    // Directories, nested, with files.
    auto dir = volume.create(root, "New Directory", NodeKind::Directory);
    ASSERT_TRUE(dir.is_ok());
    auto inner = volume.create(dir.value(), "inner", NodeKind::Directory);
    ASSERT_TRUE(inner.is_ok());
    files["New Directory/inner/deep file.txt"] = pattern(1500, 18);
    create_file(inner.value(), "deep file.txt", files["New Directory/inner/deep file.txt"]);
    auto other = volume.create(root, "other", NodeKind::Directory);
    ASSERT_TRUE(other.is_ok());

    // Many files in one directory: it spans clusters; names share a basis.
    auto many = volume.create(root, "many", NodeKind::Directory);
    ASSERT_TRUE(many.is_ok());
    for (int i = 0; i < 120; ++i) {
        std::string name = "many files with a long name " + std::to_string(i) + ".txt";
        files["many/" + name] = pattern(i, 100 + i);
        create_file(many.value(), name, files["many/" + name]);
    }
    EXPECT_EQ(list_names(volume, many.value()).size(), 120u);

    // Renames: in place, case only, across directories, over a file, a
    // directory moved (its ".." changes).
    NodeId moving = create_file(root, "before.txt", pattern(50, 19));
    ASSERT_TRUE(volume.rename(root, "before.txt", root, "after rename.txt").is_ok());
    files["after rename.txt"] = pattern(50, 19);
    ASSERT_TRUE(volume.rename(root, "lower.txt", root, "LOWER.txt").is_ok());
    files["LOWER.txt"] = files["lower.txt"];
    files.erase("lower.txt");
    ASSERT_TRUE(volume.rename(root, "PLAIN.TXT", other.value(), "moved plain.txt").is_ok());
    files["other/moved plain.txt"] = files["PLAIN.TXT"];
    files.erase("PLAIN.TXT");
    create_file(root, "victim", pattern(4000, 20));
    ASSERT_TRUE(volume.rename(root, "after rename.txt", root, "victim").is_ok());
    files["victim"] = files["after rename.txt"];
    files.erase("after rename.txt");
    (void)moving;
    ASSERT_TRUE(volume.rename(dir.value(), "inner", other.value(), "inner moved").is_ok());
    files["other/inner moved/deep file.txt"] = files["New Directory/inner/deep file.txt"];
    files.erase("New Directory/inner/deep file.txt");

    // Removals: a file, an empty directory; a full one refuses.
    create_file(root, "doomed.bin", pattern(9000, 21));
    ASSERT_TRUE(volume.remove(root, "doomed.bin").is_ok());
    ASSERT_TRUE(volume.remove(root, "old.txt").is_ok());
    ASSERT_TRUE(volume.create(root, "doomed dir", NodeKind::Directory).is_ok());
    ASSERT_TRUE(volume.remove(root, "doomed dir").is_ok());
    EXPECT_EQ(error_of(volume.remove(root, "other")), FsError::NotEmpty);

    ASSERT_TRUE(volume.sync().is_ok());
    save_file(image, mounted->disk->bytes());
    expect_clean(image);

    for (auto& [name, bytes] : files)
        EXPECT_EQ(mcopy_out(image, name), bytes) << name;
    Output typed = run("mtype -i " + quote(image) + " ::sparse | od -An -tx1 | head -1");
    EXPECT_EQ(typed.status, 0);
    EXPECT_NE(typed.text.find("00 00 00 00 00 00 00 00 00 00 09 09"), std::string::npos)
        << typed.text;

    std::set<std::string> root_names = mdir_names(image, "");
    std::set<std::string> expected_root;
    for (const char* name : {"A rather long file name; with nothing odd.data", "empty",
                             "ünïcødé €.txt", "big.bin", "sparse", "truncated", "to zero",
                             "New Directory/", "other/", "many/", "victim", "LOWER.txt"})
        expected_root.insert(std::string("::/") + name);
    expected_root.insert("::/" + longest);
    EXPECT_EQ(root_names, expected_root);
    EXPECT_EQ(mdir_names(image, "other").count("::/other/inner moved/"), 1u);
    EXPECT_EQ(mdir_names(image, "many").size(), 120u);

    // The volume's own counts agree with fsck's after a remount.
    uint64_t free_after = volume.info().free_blocks;
    EXPECT_LT(free_after, free_before);
    auto again = mount_bytes(load_file(image));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->volume->info().free_blocks, free_after);
    Output checked = run("fsck.fat -n " + quote(image));
    EXPECT_NE(checked.text.find("/66922 clusters"), std::string::npos);
    uint64_t used = 66922 - free_after;
    EXPECT_NE(checked.text.find(std::to_string(used) + "/66922 clusters"), std::string::npos)
        << checked.text << " used " << used;

    // The moved directory's ".." names its new parent: mtools walks it.
    Output dotdot = run("mdir -i " + quote(image) + " " + quote("::other/inner moved/.."));
    EXPECT_EQ(dotdot.status, 0) << dotdot.text;
    EXPECT_NE(dotdot.text.find("moved plain"), std::string::npos) << dotdot.text;
}

// --- Full disk, names, ids ----------------------------------------------------

TEST_F(FatTools, FullDiskChangesNothing) {
    // A small FAT32 (mkfs warns; fsck.fat takes it).
    std::string image = make_image("full.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    uint64_t clusters = volume.info().free_blocks;
    ASSERT_GT(clusters, 100u);
    auto file = volume.create(volume.root(), "filler", NodeKind::File);
    ASSERT_TRUE(file.is_ok());
    write_bytes(volume, file.value(), 0, pattern(100 * 512, 30));
    ASSERT_TRUE(volume.sync().is_ok());
    uint64_t free_before = volume.info().free_blocks;

    // Too much at once: NoSpace, size and free count unchanged.
    auto too_much = pattern((free_before + 1) * 512, 31);
    EXPECT_EQ(error_of(volume.write(file.value(), 100 * 512, too_much)), FsError::NoSpace);
    EXPECT_EQ(volume.stat(file.value()).value().size, 100u * 512);
    EXPECT_EQ(volume.info().free_blocks, free_before);
    EXPECT_EQ(error_of(volume.truncate(file.value(), (100 + free_before + 1) * 512)),
              FsError::NoSpace);
    ASSERT_TRUE(volume.sync().is_ok());
    EXPECT_EQ(volume.info().free_blocks, free_before);
    save_file(image, mounted->disk->bytes());
    expect_clean(image);

    // Exactly full, then nothing more fits: not a new directory either.
    write_bytes(volume, file.value(), 100 * 512, pattern(free_before * 512, 32));
    EXPECT_EQ(volume.info().free_blocks, 0u);
    EXPECT_EQ(error_of(volume.write(file.value(), (100 + free_before) * 512, bytes_of({1}))),
              FsError::NoSpace);
    EXPECT_EQ(error_of(volume.create(volume.root(), "dir", NodeKind::Directory)), FsError::NoSpace);
    // A file fits while the root has a free slot.
    EXPECT_TRUE(volume.create(volume.root(), "E", NodeKind::File).is_ok());
    ASSERT_TRUE(volume.sync().is_ok());
    save_file(image, mounted->disk->bytes());
    expect_clean(image);
    auto again = mount_bytes(mounted->disk->bytes());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->volume->info().free_blocks, 0u);
    EXPECT_EQ(read_all(*again->volume, walk(*again->volume, "filler").value()).size(),
              (100 + free_before) * 512);

    // Freed again by removal: the count comes back whole.
    ASSERT_TRUE(volume.remove(volume.root(), "filler").is_ok());
    EXPECT_EQ(volume.info().free_blocks, clusters);
    ASSERT_TRUE(volume.sync().is_ok());
    save_file(image, mounted->disk->bytes());
    expect_clean(image);
}

TEST_F(FatTools, BothFatsAndFsinfoAreKept) {
    std::string image = make_image("copies.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    for (int i = 0; i < 30; ++i)
        put_file(volume, "file " + std::to_string(i), pattern(i * 700, i));
    ASSERT_TRUE(volume.remove(volume.root(), "file 7").is_ok());
    ASSERT_TRUE(volume.sync().is_ok());
    EXPECT_GE(mounted->disk->flushes(), 1u);
    const auto& bytes = mounted->disk->bytes();
    uint16_t reserved;
    uint32_t fat_sectors, free;
    std::memcpy(&reserved, bytes.data() + 14, 2);
    std::memcpy(&fat_sectors, bytes.data() + 36, 4);
    std::memcpy(&free, bytes.data() + 512 + 488, 4);
    size_t fat = reserved * 512u, length = fat_sectors * 512u;
    EXPECT_TRUE(std::equal(bytes.begin() + fat, bytes.begin() + fat + length,
                           bytes.begin() + fat + length));
    EXPECT_EQ(free, volume.info().free_blocks);
    save_file(image, bytes);
    expect_clean(image);
}

TEST_F(FatTools, DiskErrorsAreIo) {
    std::string image = make_image("io.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    put_file(volume, "a file", pattern(5000, 80));
    mounted->disk->fail_writes_after(0);
    EXPECT_EQ(error_of(volume.sync()), FsError::Io);
    EXPECT_EQ(error_of(volume.write(walk(volume, "a file").value(), 0, pattern(4096, 81))),
              FsError::Io);
    mounted->disk->fail_writes_after(-1);
    EXPECT_TRUE(volume.sync().is_ok());
    mounted->disk->fail_reads(true);
    std::vector<uint8_t> out(100);
    // Whatever is cached still answers; the file's data needs the disk.
    EXPECT_EQ(error_of(volume.read(walk(volume, "a file").value(), 0, out)), FsError::Io);
    MemoryDisk failing(load_file(image));
    failing.fail_reads(true);
    FixedClock clock;
    auto refused = fat::mount(failing, clock, MountMode::ReadWrite);
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error(), FsError::Io);
}

TEST_F(FatTools, BadNamesAreRefused) {
    std::string image = make_image("names.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    NodeId root = volume.root();
    for (std::string bad :
         {std::string("/"), std::string("a/b"), std::string("a\0b", 3), std::string(""),
          std::string("."), std::string(".."), std::string("a*"), std::string("?"),
          std::string("<x>"), std::string("a|b"), std::string("\"q\""), std::string("c:"),
          std::string("back\\slash"), std::string("trailing."), std::string("trailing "),
          std::string("\x01"), std::string("\xFF\xFE")}) {
        EXPECT_EQ(error_of(volume.create(root, bad, NodeKind::File)), FsError::BadName) << bad;
        EXPECT_EQ(error_of(volume.lookup(root, bad)), FsError::BadName) << bad;
    }
    std::string huge(10 * 1024, 'x');
    EXPECT_EQ(error_of(volume.create(root, huge, NodeKind::File)), FsError::NameTooLong);
    EXPECT_EQ(error_of(volume.create(root, std::string(256, 'x'), NodeKind::File)),
              FsError::NameTooLong);
    EXPECT_TRUE(volume.create(root, std::string(255, 'x'), NodeKind::File).is_ok());
    auto file = volume.create(root, "f", NodeKind::File);
    ASSERT_TRUE(file.is_ok());
    EXPECT_EQ(error_of(volume.rename(root, "f", root, "bad?")), FsError::BadName);
    EXPECT_EQ(error_of(volume.remove(root, "..")), FsError::BadName);
    // Case-insensitive as Windows: the same name in another case exists.
    EXPECT_EQ(error_of(volume.create(root, "F", NodeKind::File)), FsError::Exists);
    EXPECT_EQ(volume.lookup(root, "F").value(), file.value());
    ASSERT_TRUE(volume.sync().is_ok());
    save_file(image, mounted->disk->bytes());
    expect_clean(image);
}

TEST_F(FatTools, HeldNodesSurviveRenamesAndRemoval) {
    std::string image = make_image("held.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    NodeId root = volume.root();
    auto dir = volume.create(root, "dir", NodeKind::Directory).value();
    auto file = volume.create(root, "held file", NodeKind::File).value();
    write_bytes(volume, file, 0, pattern(5000, 40));
    ASSERT_TRUE(volume.hold(file).is_ok());
    ASSERT_TRUE(volume.hold(dir).is_ok());
    ASSERT_TRUE(volume.rename(root, "held file", dir, "moved").is_ok());
    ASSERT_TRUE(volume.rename(root, "dir", root, "dir2").is_ok());
    EXPECT_EQ(read_all(volume, file), pattern(5000, 40));
    EXPECT_EQ(volume.lookup(dir, "moved").value(), file);
    EXPECT_EQ(volume.lookup(root, "dir2").value(), dir);
    // A new entry where the held one used to be gets an id of its own.
    auto newcomer = volume.create(root, "held file", NodeKind::File).value();
    EXPECT_NE(newcomer, file);
    EXPECT_EQ(volume.stat(newcomer).value().size, 0u);
    EXPECT_EQ(volume.stat(file).value().size, 5000u);

    // Removed while held: readable and writable, its clusters kept until the
    // release.
    uint64_t free_held = volume.info().free_blocks;
    ASSERT_TRUE(volume.remove(dir, "moved").is_ok());
    EXPECT_EQ(error_of(volume.lookup(dir, "moved")), FsError::NotFound);
    EXPECT_EQ(volume.info().free_blocks, free_held);
    EXPECT_EQ(read_all(volume, file), pattern(5000, 40));
    write_bytes(volume, file, 5000, pattern(1000, 41));
    EXPECT_EQ(volume.stat(file).value().size, 6000u);
    uint64_t free_grown = volume.info().free_blocks;
    EXPECT_EQ(free_grown, free_held - 2);
    ASSERT_TRUE(volume.hold(file).is_ok());
    volume.release(file);
    EXPECT_EQ(volume.info().free_blocks, free_grown);
    volume.release(file);
    EXPECT_EQ(volume.info().free_blocks, free_held + 10);

    // A held empty directory removed: it lists empty and takes no entries.
    ASSERT_TRUE(volume.remove(root, "dir2").is_ok());
    Collect collect;
    EXPECT_EQ(volume.list(dir, 0, collect).value(), Volume::end_of_listing);
    EXPECT_EQ(error_of(volume.create(dir, "x", NodeKind::File)), FsError::NotFound);
    volume.release(dir);
    EXPECT_EQ(volume.info().free_blocks, free_held + 11);
    EXPECT_EQ(error_of(volume.hold(uint64_t{1} << 62)), FsError::Invalid);

    ASSERT_TRUE(volume.sync().is_ok());
    save_file(image, mounted->disk->bytes());
    expect_clean(image);
}

TEST_F(FatTools, RenameRules) {
    std::string image = make_image("rename.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    NodeId root = volume.root();
    auto a = volume.create(root, "a", NodeKind::Directory).value();
    auto b = volume.create(a, "b", NodeKind::Directory).value();
    ASSERT_TRUE(volume.create(root, "file", NodeKind::File).is_ok());
    ASSERT_TRUE(volume.create(root, "empty dir", NodeKind::Directory).is_ok());
    ASSERT_TRUE(volume.create(b, "inside", NodeKind::File).is_ok());
    EXPECT_EQ(error_of(volume.rename(root, "a", b, "loop")), FsError::Invalid);
    EXPECT_EQ(error_of(volume.rename(root, "a", a, "self")), FsError::Invalid);
    EXPECT_EQ(error_of(volume.rename(root, "file", root, "a")), FsError::IsDirectory);
    EXPECT_EQ(error_of(volume.rename(root, "empty dir", root, "file")), FsError::NotDirectory);
    EXPECT_EQ(error_of(volume.rename(a, "b", root, "a")), FsError::NotEmpty);
    EXPECT_EQ(error_of(volume.rename(root, "nothing", root, "x")), FsError::NotFound);
    EXPECT_EQ(error_of(volume.rename(root, "file", volume.lookup(root, "file").value(), "x")),
              FsError::NotDirectory);
    // A directory over an empty one; a no-op rename.
    ASSERT_TRUE(volume.rename(a, "b", root, "empty dir").is_ok());
    EXPECT_TRUE(volume.lookup(volume.lookup(root, "empty dir").value(), "inside").is_ok());
    ASSERT_TRUE(volume.rename(root, "file", root, "file").is_ok());
    EXPECT_EQ(list_names(volume, root).size(), 3u);
    ASSERT_TRUE(volume.sync().is_ok());
    save_file(image, mounted->disk->bytes());
    expect_clean(image);
    auto again = mount_bytes(load_file(image));
    ASSERT_TRUE(again);
    EXPECT_TRUE(walk(*again->volume, "empty dir/inside").is_ok());
}

TEST_F(FatTools, ListingResumesFromItsCursor) {
    std::string image = make_image("list.img", 1024);
    auto mounted = mount_bytes(load_file(image));
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    std::set<std::string> created;
    for (int i = 0; i < 40; ++i) {
        std::string name =
            i % 2 ? "F" + std::to_string(i) : "long name number " + std::to_string(i);
        ASSERT_TRUE(volume.create(volume.root(), name, NodeKind::File).is_ok());
        created.insert(name);
    }
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0;
    while (cursor != Volume::end_of_listing && calls++ < 100) {
        Collect one(3);
        auto next = volume.list(volume.root(), cursor, one);
        ASSERT_TRUE(next.is_ok());
        for (auto& item : one.entries) {
            EXPECT_TRUE(seen.insert(item.name).second) << item.name;
            EXPECT_EQ(volume.lookup(volume.root(), item.name).value(), item.id);
        }
        cursor = next.value();
    }
    EXPECT_EQ(seen, created);
}

TEST_F(FatTools, ReadOnlyMountsTakeNoWrites) {
    std::string image = make_image("ro.img", 1024);
    populate(image, 512, [](Volume& volume) { put_file(volume, "f", pattern(10, 50)); });
    auto mounted = mount_bytes(load_file(image), 512, MountMode::ReadOnly);
    ASSERT_TRUE(mounted);
    Volume& volume = *mounted->volume;
    EXPECT_TRUE(volume.info().read_only);
    auto file = volume.lookup(volume.root(), "f").value();
    EXPECT_EQ(error_of(volume.write(file, 0, bytes_of({1}))), FsError::ReadOnly);
    EXPECT_EQ(error_of(volume.create(volume.root(), "g", NodeKind::File)), FsError::ReadOnly);
    EXPECT_EQ(error_of(volume.remove(volume.root(), "f")), FsError::ReadOnly);
    EXPECT_EQ(error_of(volume.truncate(file, 0)), FsError::ReadOnly);
    EXPECT_EQ(error_of(volume.rename(volume.root(), "f", volume.root(), "g")), FsError::ReadOnly);
    EXPECT_TRUE(volume.sync().is_ok());
    EXPECT_EQ(mounted->disk->writes(), 0u);

    MemoryDisk disk(load_file(image));
    disk.set_read_only(true);
    FixedClock clock;
    auto ro = fat::mount(disk, clock, MountMode::ReadWrite);
    ASSERT_TRUE(ro.is_ok());
    std::unique_ptr<Volume> owned(ro.value());
    EXPECT_TRUE(owned->info().read_only);
}

TEST_F(FatTools, LargeSectorsAndClusters) {
    // 4096-byte logical sectors, on a 4096-byte disk and on a 512-byte one;
    // 4 KiB clusters on 512-byte sectors.
    struct Case {
        const char* options;
        uint32_t disk_sector;
    } cases[] = {{"-S 4096", 4096}, {"-S 4096", 512}, {"-s 8", 512}};
    for (const Case& c : cases) {
        std::string image = make_image("large.img", 8192, c.options);
        auto mounted = mount_bytes(load_file(image), c.disk_sector);
        ASSERT_TRUE(mounted) << c.options;
        Volume& volume = *mounted->volume;
        EXPECT_EQ(volume.info().block_size, 4096u);
        put_file(volume, "first.bin", pattern(20000, 60));
        EXPECT_EQ(read_all(volume, walk(volume, "first.bin").value()), pattern(20000, 60));
        auto dir = volume.create(volume.root(), "a directory", NodeKind::Directory).value();
        for (int i = 0; i < 200; ++i) {
            auto file =
                volume.create(dir, "file with a long name " + std::to_string(i), NodeKind::File);
            ASSERT_TRUE(file.is_ok());
            write_bytes(volume, file.value(), 0, pattern(i * 37, i));
        }
        auto file = volume.lookup(dir, "file with a long name 199").value();
        EXPECT_EQ(read_all(volume, file), pattern(199 * 37, 199));
        ASSERT_TRUE(volume.sync().is_ok());
        save_file(image, mounted->disk->bytes());
        expect_clean(image);
        // Read back by a fresh mount (mtools takes no FAT32 this small).
        auto again = mount_bytes(load_file(image), c.disk_sector);
        ASSERT_TRUE(again);
        EXPECT_EQ(read_all(*again->volume,
                           walk(*again->volume, "a directory/file with a long name 150").value()),
                  pattern(150 * 37, 150));
        EXPECT_EQ(list_names(*again->volume, walk(*again->volume, "a directory").value()).size(),
                  200u);
        std::remove(image.c_str());
    }
}

// --- Refusals and corruption ----------------------------------------------------

class FatCorrupt : public FatTools {
protected:
    void SetUp() override {
        FatTools::SetUp();
        std::string image = make_image("base.img", 1024);
        populate(image, 512, [](Volume& volume) {
            make_dir(volume, "dir");
            put_file(volume, "dir/file.bin", pattern(3000, 70));
            put_file(volume, "SECOND.BIN", pattern(1500, 71));
        });
        m_base = load_file(image);
    }
    static void put16(std::vector<uint8_t>& image, size_t at, uint16_t value) {
        std::memcpy(image.data() + at, &value, 2);
    }
    static void put32(std::vector<uint8_t>& image, size_t at, uint32_t value) {
        std::memcpy(image.data() + at, &value, 4);
    }
    static uint32_t get32(const std::vector<uint8_t>& image, size_t at) {
        uint32_t value;
        std::memcpy(&value, image.data() + at, 4);
        return value;
    }
    static uint16_t get16(const std::vector<uint8_t>& image, size_t at) {
        uint16_t value;
        std::memcpy(&value, image.data() + at, 2);
        return value;
    }
    // Where things are in the base image (512-byte sectors, one a cluster).
    size_t fat_offset() const { return get16(m_base, 14) * 512u; }
    size_t data_offset() const {
        return (get16(m_base, 14) + m_base[16] * get32(m_base, 36)) * 512u;
    }
    size_t cluster_offset(uint32_t cluster) const { return data_offset() + (cluster - 2) * 512u; }
    // The byte offset of the short entry named `short_name` in the directory at `cluster`.
    size_t entry_offset(uint32_t cluster, const char* short_name) const {
        size_t at = cluster_offset(cluster);
        for (size_t i = 0; i < 16; ++i)
            if (std::memcmp(m_base.data() + at + i * 32, short_name, 11) == 0)
                return at + i * 32;
        ADD_FAILURE() << short_name << " not found";
        return at;
    }
    uint32_t cluster_of(size_t entry) const {
        return uint32_t{get16(m_base, entry + 20)} << 16 | get16(m_base, entry + 26);
    }

    std::vector<uint8_t> m_base;
};

TEST_F(FatCorrupt, BadBootSectorsAreRefused) {
    struct Case {
        const char* what;
        void (*change)(std::vector<uint8_t>&);
        FsError error;
    } cases[] = {
        {"no signature", [](auto& i) { i[510] = 0; }, FsError::Corrupt},
        {"bytes per sector 0", [](auto& i) { put16(i, 11, 0); }, FsError::Corrupt},
        {"bytes per sector 1000", [](auto& i) { put16(i, 11, 1000); }, FsError::Corrupt},
        {"bytes per sector 256", [](auto& i) { put16(i, 11, 256); }, FsError::Corrupt},
        {"sectors per cluster 0", [](auto& i) { i[13] = 0; }, FsError::Corrupt},
        {"sectors per cluster 3", [](auto& i) { i[13] = 3; }, FsError::Corrupt},
        {"no reserved sectors", [](auto& i) { put16(i, 14, 0); }, FsError::Corrupt},
        {"no FATs", [](auto& i) { i[16] = 0; }, FsError::Corrupt},
        {"bad media", [](auto& i) { i[21] = 0x12; }, FsError::Corrupt},
        {"FAT size 0", [](auto& i) { put32(i, 36, 0); }, FsError::Corrupt},
        {"FATs past the end", [](auto& i) { put32(i, 36, 0x7FFFFFFF); }, FsError::Corrupt},
        {"no sectors",
         [](auto& i) {
             put16(i, 19, 0);
             put32(i, 32, 0);
         },
         FsError::Corrupt},
        {"sectors past the disk",
         [](auto& i) {
             put32(i, 32, static_cast<uint32_t>(i.size() / 512 + 1));
             put16(i, 19, 0);
         },
         FsError::Corrupt},
        {"sectors far past the disk",
         [](auto& i) {
             put16(i, 19, 0);
             put32(i, 32, 0xFFFFFFFF);
         },
         FsError::Corrupt},
        {"root cluster 0", [](auto& i) { put32(i, 44, 0); }, FsError::Corrupt},
        {"root cluster 1", [](auto& i) { put32(i, 44, 1); }, FsError::Corrupt},
        {"root cluster out of range", [](auto& i) { put32(i, 44, 0x0FFFFFF0); }, FsError::Corrupt},
        {"fixed root entries", [](auto& i) { put16(i, 17, 512); }, FsError::Corrupt},
        {"FAT16 size field", [](auto& i) { put16(i, 22, 8); }, FsError::NotSupported},
        {"version 1", [](auto& i) { put16(i, 42, 1); }, FsError::NotSupported},
        {"active FAT out of range", [](auto& i) { put16(i, 40, 0x80 | 5); }, FsError::Corrupt},
    };
    for (const Case& c : cases) {
        auto image = m_base;
        c.change(image);
        EXPECT_EQ(mount_error(image), c.error) << c.what;
        // The boot sector alone cannot tell the disk's size.
        if (std::string(c.what).find("past the disk") == std::string::npos)
            EXPECT_FALSE(fat::probe(image.data(), 512)) << c.what;
    }
    EXPECT_TRUE(fat::probe(m_base.data(), 512));
    EXPECT_FALSE(fat::probe(m_base.data(), 100));

    // A truncated image: the disk is smaller than the boot sector says.
    auto truncated = m_base;
    truncated.resize(truncated.size() / 2);
    EXPECT_EQ(mount_error(truncated), FsError::Corrupt);
    // A boot sector alone.
    EXPECT_EQ(mount_error(std::vector<uint8_t>(m_base.begin(), m_base.begin() + 512)),
              FsError::Corrupt);
    EXPECT_EQ(mount_error(std::vector<uint8_t>(4096, 0)), FsError::Corrupt);
    // Logical sectors smaller than the disk's.
    EXPECT_EQ(mount_error(m_base, 4096), FsError::NotSupported);
}

TEST_F(FatCorrupt, Fat12And16AreNotSupported) {
    for (const char* options : {"-F 12 -C old.img 2048", "-F 16 -C old.img 16384"}) {
        std::string image = path("old.img");
        std::remove(image.c_str());
        Output made = run("cd " + quote(m_dir) + " && mkfs.fat " + options);
        ASSERT_EQ(made.status, 0) << made.text;
        EXPECT_EQ(mount_error(load_file(image)), FsError::NotSupported) << options;
        EXPECT_FALSE(fat::probe(load_file(image).data(), 512));
    }
}

TEST_F(FatCorrupt, InvalidFsinfoIsCounted) {
    auto image = m_base;
    auto good = mount_bytes(image);
    ASSERT_TRUE(good);
    uint64_t free = good->volume->info().free_blocks;
    put32(image, 512 + 488, 0xFFFFFFFF); // unknown
    EXPECT_EQ(mount_bytes(image)->volume->info().free_blocks, free);
    put32(image, 512 + 488, 12345678); // impossible
    EXPECT_EQ(mount_bytes(image)->volume->info().free_blocks, free);
    put32(image, 512, 0); // no signature
    EXPECT_EQ(mount_bytes(image)->volume->info().free_blocks, free);
    put16(image, 48, 0); // no FSInfo at all
    EXPECT_EQ(mount_bytes(image)->volume->info().free_blocks, free);
}

TEST_F(FatCorrupt, BrokenChainsAreCorrupt) {
    uint32_t root = get32(m_base, 44);
    size_t second = entry_offset(root, "SECOND  BIN");
    uint32_t first = cluster_of(second);
    auto read_second = [&](std::vector<uint8_t> image) {
        auto mounted = mount_bytes(std::move(image));
        if (!mounted)
            return FsError::Invalid;
        Volume& volume = *mounted->volume;
        auto file = volume.lookup(volume.root(), "second.bin");
        if (file.is_error())
            return file.error();
        std::vector<uint8_t> bytes(4000);
        auto got = volume.read(file.value(), 0, bytes);
        // Writes and truncation meet the same chain.
        auto written = volume.write(file.value(), 2999, bytes_of({1, 2}));
        auto cut = volume.truncate(file.value(), 10);
        EXPECT_TRUE(written.is_error() || got.is_ok());
        (void)cut;
        (void)volume.stat(file.value());
        return got.is_error() ? got.error() : FsError::Invalid;
    };
    {
        auto image = m_base; // the first cluster out of range
        put16(image, second + 26, 0xFFF0);
        put16(image, second + 20, 0x0FFF);
        EXPECT_EQ(read_second(image), FsError::Corrupt);
    }
    {
        auto image = m_base; // the first cluster 0 with a size
        put16(image, second + 26, 0);
        put16(image, second + 20, 0);
        EXPECT_EQ(read_second(image), FsError::Corrupt);
    }
    {
        auto image = m_base; // a link out of range
        put32(image, fat_offset() + first * 4, 0x0FFFFFF0);
        EXPECT_EQ(read_second(image), FsError::Corrupt);
    }
    {
        auto image = m_base; // a free cluster in the chain
        put32(image, fat_offset() + first * 4, 0);
        EXPECT_EQ(read_second(image), FsError::Corrupt);
    }
    {
        auto image = m_base; // a loop: the second cluster points back to the first
        uint32_t next = get32(image, fat_offset() + first * 4);
        put32(image, fat_offset() + next * 4, first);
        auto mounted = mount_bytes(image);
        ASSERT_TRUE(mounted);
        auto file = mounted->volume->lookup(mounted->volume->root(), "second.bin").value();
        EXPECT_EQ(error_of(mounted->volume->write(file, 0, bytes_of({1}))), FsError::Corrupt);
        EXPECT_EQ(error_of(mounted->volume->truncate(file, 1)), FsError::Corrupt);
        put32(image, get16(image, 14) * 512u + first * 4, first); // a cluster pointing to itself
        mounted = mount_bytes(image);
        ASSERT_TRUE(mounted);
        file = mounted->volume->lookup(mounted->volume->root(), "second.bin").value();
        EXPECT_EQ(error_of(mounted->volume->write(file, 5000, bytes_of({1}))), FsError::Corrupt);
    }
    {
        auto image = m_base; // a size past the chain
        put32(image, second + 28, 100000);
        EXPECT_EQ(read_second(image), FsError::Corrupt);
        put32(image, second + 28, 0xFFFFFFFF);
        EXPECT_EQ(read_second(image), FsError::Corrupt);
    }
}

TEST_F(FatCorrupt, BrokenDirectoriesEnd) {
    uint32_t root = get32(m_base, 44);
    size_t dir_entry = entry_offset(root, "DIR        ");
    uint32_t dir = cluster_of(dir_entry);
    {
        // The root's chain loops on itself, and no end mark: listing ends.
        auto image = m_base;
        put32(image, fat_offset() + root * 4, root);
        size_t used = 0;
        while (used < 16 && image[cluster_offset(root) + used * 32] != 0)
            ++used;
        for (size_t i = used; i < 16; ++i) {
            std::memset(image.data() + cluster_offset(root) + i * 32, 'A', 32);
            image[cluster_offset(root) + i * 32 + 11] = 0x20;
        }
        auto mounted = mount_bytes(image);
        ASSERT_TRUE(mounted);
        Volume& volume = *mounted->volume;
        Collect collect;
        (void)volume.list(volume.root(), 0, collect);
        EXPECT_EQ(error_of(volume.lookup(volume.root(), "nothing here")), FsError::NotFound);
        EXPECT_TRUE(volume.create(volume.root(), "new name", NodeKind::File).is_error());
        EXPECT_EQ(error_of(volume.stat(volume.root())), FsError::Corrupt);
    }
    {
        // A subdirectory whose entry names the root: its ".." walk ends.
        auto image = m_base;
        put16(image, dir_entry + 26, static_cast<uint16_t>(root));
        put16(image, dir_entry + 20, static_cast<uint16_t>(root >> 16));
        auto mounted = mount_bytes(image);
        ASSERT_TRUE(mounted);
        Volume& volume = *mounted->volume;
        auto sub = volume.lookup(volume.root(), "dir").value();
        EXPECT_TRUE(list_names(volume, sub).count("dir"));
        EXPECT_TRUE(volume.rename(volume.root(), "second.bin", sub, "x").is_ok() ||
                    true); // whatever it answers, it ends
        auto moved = volume.rename(volume.root(), "dir", sub, "dir2");
        EXPECT_TRUE(moved.is_error());
    }
    {
        // A ".." loop: the directory's parent is itself.
        auto image = m_base;
        size_t dotdot = cluster_offset(dir) + 32;
        put16(image, dotdot + 26, static_cast<uint16_t>(dir));
        put16(image, dotdot + 20, static_cast<uint16_t>(dir >> 16));
        auto mounted = mount_bytes(image);
        ASSERT_TRUE(mounted);
        Volume& volume = *mounted->volume;
        ASSERT_TRUE(volume.create(volume.root(), "other", NodeKind::Directory).is_ok());
        auto sub = volume.lookup(volume.root(), "dir").value();
        auto moved = volume.rename(volume.root(), "other", sub, "other");
        EXPECT_EQ(error_of(moved), FsError::Corrupt);
    }
    {
        // Entries whose names no call could use are not listed.
        auto image = m_base;
        size_t second = entry_offset(root, "SECOND  BIN");
        image[second + 1] = '/';
        image[entry_offset(root, "DIR        ") + 2] = 0; // a NUL in the name
        auto mounted = mount_bytes(image);
        ASSERT_TRUE(mounted);
        auto names = list_names(*mounted->volume, mounted->volume->root());
        // "dir" keeps its long name (its checksum covers the NUL; the LFN
        // entries are intact): only the short-named file goes.
        EXPECT_EQ(names.size(), 0u + (names.count("dir") ? 1 : 0));
        EXPECT_EQ(names.count("SECOND.BIN") + names.count("S/COND.BIN"), 0u);
    }
}

// Random mutations of a small valid image: every mount and walk ends, and
// nothing crashes (ASan watches in the _san build). Deterministic.
void walk_everything(Volume& volume, NodeId dir, int depth, int& budget) {
    if (depth > 6 || budget <= 0)
        return;
    Collect collect(64);
    auto listed = volume.list(dir, 0, collect);
    if (listed.is_error())
        return;
    for (auto& item : collect.entries) {
        if (--budget <= 0)
            return;
        (void)volume.stat(item.id);
        (void)volume.lookup(dir, item.name);
        if (item.kind == NodeKind::Directory) {
            walk_everything(volume, item.id, depth + 1, budget);
        } else {
            std::vector<uint8_t> bytes(4096);
            for (uint64_t at = 0; at < 64 * 1024; at += bytes.size()) {
                auto got = volume.read(item.id, at, bytes);
                if (got.is_error() || got.value() < bytes.size())
                    break;
            }
        }
    }
}

TEST_F(FatCorrupt, RandomMutationsNeverCrash) {
    // A smaller image with more in it.
    std::string image = make_image("mutate.img", 400);
    populate(image, 512, [](Volume& volume) {
        make_dir(volume, "d1");
        make_dir(volume, "d1/d2");
        for (int i = 0; i < 12; ++i)
            put_file(volume, (i % 3 ? "d1/" : "") + std::string("file number ") + std::to_string(i),
                     pattern(i * 300, i));
        put_file(volume, "d1/d2/deep", pattern(7000, 99));
    });
    const std::vector<uint8_t> base = load_file(image);
    uint32_t data_start = (get16(base, 14) + base[16] * get32(base, 36)) * 512u;
    size_t hot = std::min<size_t>(base.size(), data_start + 64 * 512);

    std::mt19937 random(12345);
    std::vector<uint8_t> mutated = base;
    for (int iteration = 0; iteration < 3000; ++iteration) {
        mutated = base;
        int changes = 1 + static_cast<int>(random() % 8);
        for (int i = 0; i < changes; ++i) {
            size_t at;
            switch (random() % 4) {
            case 0:
                at = random() % 512;
                break; // the boot sector
            case 1:
                at = 512 + random() % 512;
                break; // FSInfo
            default:
                at = random() % hot;
                break; // FATs, root, first clusters
            }
            switch (random() % 3) {
            case 0:
                mutated[at] = static_cast<uint8_t>(random());
                break;
            case 1:
                mutated[at] ^= static_cast<uint8_t>(1u << (random() % 8));
                break;
            default:
                mutated[at] = random() % 2 ? 0 : 0xFF;
                break;
            }
        }
        MemoryDisk disk(mutated);
        FixedClock clock;
        auto mounted = fat::mount(disk, clock, MountMode::ReadWrite);
        if (mounted.is_error())
            continue;
        std::unique_ptr<Volume> volume(mounted.value());
        int budget = 200;
        walk_everything(*volume, volume->root(), 0, budget);
        if (iteration % 4 == 0) {
            // A few writes too.
            auto file = volume->create(volume->root(), "new file name", NodeKind::File);
            if (file.is_ok()) {
                (void)volume->write(file.value(), 100, pattern(2000, iteration));
                (void)volume->truncate(file.value(), 10);
            }
            (void)volume->rename(volume->root(), "d1", volume->root(), "renamed d1");
            (void)volume->remove(volume->root(), "file number 0");
            auto d1 = volume->lookup(volume->root(), "renamed d1");
            if (d1.is_ok())
                (void)volume->rename(d1.value(), "file number 1", volume->root(), "up");
            (void)volume->sync();
            int again = 100;
            walk_everything(*volume, volume->root(), 0, again);
        }
    }
}

} // namespace
