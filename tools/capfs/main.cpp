// capos-capfs: capOS filesystem images on the host.
//
//   capos-capfs make <image> <MiB> [<directory>]  a new image, holding a copy
//                                                of the directory's tree
//   capos-capfs ls <image> [<path>]              the tree below a path
//   capos-capfs cat <image> <path>               a file's bytes to stdout
//   capos-capfs extract <image> <directory>      the whole tree into a directory
//   capos-capfs check <image>                    the checker: exit 1 on problems
//
// The image is a plain file of 512-byte sectors (what QEMU's raw drives read).
#include "lib/fs/capfs/capfs.h"
#include "tools/capfs/check.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace capos;
using namespace capos::fs;

namespace {

class FileDisk final : public BlockIo {
public:
    explicit FileDisk(int fd, uint64_t bytes, bool read_only)
        : m_fd(fd), m_bytes(bytes), m_read_only(read_only) {}
    uint32_t sector_size() const override { return 512; }
    uint64_t sectors() const override { return m_bytes / 512; }
    bool read_only() const override { return m_read_only; }
    Result<void, FsError> read(uint64_t sector, uint32_t count, void* out) override {
        size_t length = size_t{count} * 512;
        if (pread(m_fd, out, length, static_cast<off_t>(sector * 512)) !=
            static_cast<ssize_t>(length))
            return Err{FsError::Io};
        return {};
    }
    Result<void, FsError> write(uint64_t sector, uint32_t count, const void* data) override {
        size_t length = size_t{count} * 512;
        if (pwrite(m_fd, data, length, static_cast<off_t>(sector * 512)) !=
            static_cast<ssize_t>(length))
            return Err{FsError::Io};
        return {};
    }
    Result<void, FsError> flush() override {
        if (fsync(m_fd) != 0)
            return Err{FsError::Io};
        return {};
    }

private:
    int m_fd;
    uint64_t m_bytes;
    bool m_read_only;
};

class HostClock final : public Clock {
public:
    uint64_t now_ns() override {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    }
};

int fail(const std::string& message) {
    std::fprintf(stderr, "capos-capfs: %s\n", message.c_str());
    return 1;
}

struct Image {
    int fd = -1;
    std::unique_ptr<FileDisk> disk;
    ~Image() {
        if (fd >= 0)
            close(fd);
    }
};

bool open_image(const char* path, bool writable, Image& image, std::string& error) {
    image.fd = open(path, writable ? O_RDWR : O_RDONLY);
    if (image.fd < 0) {
        error = std::string(path) + ": " + std::strerror(errno);
        return false;
    }
    struct stat st;
    fstat(image.fd, &st);
    image.disk = std::make_unique<FileDisk>(image.fd, static_cast<uint64_t>(st.st_size), !writable);
    return true;
}

std::unique_ptr<Volume> mount_image(Image& image, HostClock& clock, MountMode mode,
                                    std::string& error) {
    capfs::Options options;
    options.mode = mode;
    auto mounted = capfs::mount(*image.disk, clock, options);
    if (mounted.is_error()) {
        error = std::string("cannot mount: ") + to_string(mounted.error());
        return nullptr;
    }
    return std::unique_ptr<Volume>(mounted.value());
}

std::string copy_in(Volume& volume, NodeId dir, const std::string& host) {
    DIR* listing = opendir(host.c_str());
    if (listing == nullptr)
        return host + ": " + std::strerror(errno);
    std::vector<std::string> names;
    while (dirent* entry = readdir(listing))
        if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0)
            names.push_back(entry->d_name);
    closedir(listing);
    for (const auto& name : names) {
        std::string path = host + "/" + name;
        struct stat st;
        if (lstat(path.c_str(), &st) != 0)
            return path + ": " + std::strerror(errno);
        if (S_ISDIR(st.st_mode)) {
            auto created = volume.create(dir, name, NodeKind::Directory);
            if (created.is_error())
                return path + ": " + to_string(created.error());
            std::string error = copy_in(volume, created.value(), path);
            if (!error.empty())
                return error;
        } else if (S_ISREG(st.st_mode)) {
            auto created = volume.create(dir, name, NodeKind::File);
            if (created.is_error())
                return path + ": " + to_string(created.error());
            int fd = open(path.c_str(), O_RDONLY);
            if (fd < 0)
                return path + ": " + std::strerror(errno);
            std::vector<uint8_t> buffer(1 << 20);
            uint64_t offset = 0;
            for (;;) {
                ssize_t got = ::read(fd, buffer.data(), buffer.size());
                if (got < 0) {
                    close(fd);
                    return path + ": " + std::strerror(errno);
                }
                if (got == 0)
                    break;
                auto wrote = volume.write(created.value(), offset,
                                          {buffer.data(), static_cast<size_t>(got)});
                if (wrote.is_error()) {
                    close(fd);
                    return path + ": " + to_string(wrote.error());
                }
                offset += static_cast<uint64_t>(got);
            }
            close(fd);
        } else {
            std::fprintf(stderr, "capos-capfs: %s: not a file or directory, left out\n",
                         path.c_str());
        }
    }
    return {};
}

struct Entries final : ListVisitor {
    std::vector<std::pair<std::string, DirEntry>> all;
    bool entry(const DirEntry& entry) override {
        all.push_back({std::string(entry.name), entry});
        return true;
    }
};

std::string entries_of(Volume& volume, NodeId dir, Entries& out) {
    auto listed = volume.list(dir, 0, out);
    if (listed.is_error())
        return to_string(listed.error());
    return {};
}

// Resolves a path of names below the root ("" or "/": the root).
Result<NodeId, FsError> resolve(Volume& volume, const std::string& path) {
    NodeId at = volume.root();
    size_t start = 0;
    while (start < path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        if (end > start)
            at = TRY(volume.lookup(at, std::string_view(path).substr(start, end - start)));
        start = end + 1;
    }
    return at;
}

std::string list_tree(Volume& volume, NodeId dir, const std::string& prefix) {
    Entries entries;
    std::string error = entries_of(volume, dir, entries);
    if (!error.empty())
        return prefix + ": " + error;
    for (auto& [name, entry] : entries.all) {
        std::string path = prefix + "/" + name;
        auto stat = volume.stat(entry.id);
        if (stat.is_error())
            return path + ": " + to_string(stat.error());
        if (entry.kind == NodeKind::Directory) {
            std::printf("%s/\n", path.c_str());
            error = list_tree(volume, entry.id, path);
            if (!error.empty())
                return error;
        } else {
            std::printf("%s %llu\n", path.c_str(),
                        static_cast<unsigned long long>(stat.value().size));
        }
    }
    return {};
}

std::string copy_out(Volume& volume, NodeId node, const std::string& host, bool directory) {
    if (!directory) {
        int fd = open(host.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return host + ": " + std::strerror(errno);
        std::vector<uint8_t> buffer(1 << 20);
        for (uint64_t offset = 0;;) {
            auto got = volume.read(node, offset, buffer);
            if (got.is_error()) {
                close(fd);
                return host + ": " + to_string(got.error());
            }
            if (got.value() == 0)
                break;
            if (::write(fd, buffer.data(), got.value()) != static_cast<ssize_t>(got.value())) {
                close(fd);
                return host + ": " + std::strerror(errno);
            }
            offset += got.value();
        }
        close(fd);
        return {};
    }
    if (mkdir(host.c_str(), 0755) != 0 && errno != EEXIST)
        return host + ": " + std::strerror(errno);
    Entries entries;
    std::string error = entries_of(volume, node, entries);
    if (!error.empty())
        return host + ": " + error;
    for (auto& [name, entry] : entries.all) {
        error = copy_out(volume, entry.id, host + "/" + name, entry.kind == NodeKind::Directory);
        if (!error.empty())
            return error;
    }
    return {};
}

int usage() {
    std::fprintf(stderr, "usage: capos-capfs make <image> <MiB> [<directory>]\n"
                         "       capos-capfs ls <image> [<path>]\n"
                         "       capos-capfs cat <image> <path>\n"
                         "       capos-capfs extract <image> <directory>\n"
                         "       capos-capfs check <image>\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3)
        return usage();
    std::string command = argv[1];
    const char* path = argv[2];
    HostClock clock;
    Image image;
    std::string error;
    if (command == "make") {
        if (argc < 4 || argc > 5)
            return usage();
        char* end = nullptr;
        unsigned long long mib = std::strtoull(argv[3], &end, 10);
        if (end == argv[3] || *end != '\0' || mib == 0 || mib > (1ull << 22))
            return fail(std::string("bad size '") + argv[3] + "' (MiB)");
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate(fd, static_cast<off_t>(mib << 20)) != 0)
            return fail(std::string(path) + ": " + std::strerror(errno));
        close(fd);
        if (!open_image(path, true, image, error))
            return fail(error);
        auto formatted = capfs::format(*image.disk, clock);
        if (formatted.is_error())
            return fail(std::string("cannot format: ") + to_string(formatted.error()));
        if (argc == 5) {
            auto volume = mount_image(image, clock, MountMode::ReadWrite, error);
            if (!volume)
                return fail(error);
            error = copy_in(*volume, volume->root(), argv[4]);
            if (!error.empty())
                return fail(error);
            auto synced = volume->sync();
            if (synced.is_error())
                return fail(std::string("cannot sync: ") + to_string(synced.error()));
        }
        return 0;
    }
    if (command == "check") {
        if (argc != 3 || !open_image(path, false, image, error))
            return argc != 3 ? usage() : fail(error);
        auto report = capfs::check(*image.disk);
        if (report.is_error())
            return fail(std::string("cannot read: ") + to_string(report.error()));
        for (const auto& problem : report.value().problems)
            std::printf("%s\n", problem.c_str());
        std::printf("%s: generation %llu, %llu files, %llu directories, %llu of %llu blocks used, "
                    "%s\n",
                    path, static_cast<unsigned long long>(report.value().generation),
                    static_cast<unsigned long long>(report.value().files),
                    static_cast<unsigned long long>(report.value().directories),
                    static_cast<unsigned long long>(report.value().used_blocks),
                    static_cast<unsigned long long>(report.value().total_blocks),
                    report.value().ok() ? "consistent" : "INCONSISTENT");
        return report.value().ok() ? 0 : 1;
    }
    if (!open_image(path, false, image, error))
        return fail(error);
    auto volume = mount_image(image, clock, MountMode::ReadOnly, error);
    if (!volume)
        return fail(error);
    if (command == "ls") {
        std::string below = argc > 3 ? argv[3] : "";
        auto node = resolve(*volume, below);
        if (node.is_error())
            return fail(below + ": " + to_string(node.error()));
        error = list_tree(*volume, node.value(), below.empty() || below == "/" ? "" : "/" + below);
        return error.empty() ? 0 : fail(error);
    }
    if (command == "cat" && argc == 4) {
        auto node = resolve(*volume, argv[3]);
        if (node.is_error())
            return fail(std::string(argv[3]) + ": " + to_string(node.error()));
        error = copy_out(*volume, node.value(), "/dev/stdout", false);
        return error.empty() ? 0 : fail(error);
    }
    if (command == "extract" && argc == 4) {
        error = copy_out(*volume, volume->root(), argv[3], true);
        return error.empty() ? 0 : fail(error);
    }
    return usage();
}
