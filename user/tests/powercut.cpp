// powercut (make test's `powercut.capfs`, make torture's long run;
// tools/capfs/powercut.py): the writing workload the host cuts the power
// of. Each boot it first reads every file of the volume and checks it holds
// one whole version of itself (each file says its name, version and length
// in its first bytes, and the rest follows from them); then it writes
// without end: new files, new versions of old ones (the same length, in one
// write), removals, with a sync after most steps. It says each step before
// it makes it ("writing", "removing") and each sync after it returned
// ("synced"), so the host knows what every file must hold after the cut:
// exactly its last synced version unless a later step had begun.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

#include <cstring>

using namespace capos;
using schema::Directory;
using schema::File;
using schema::FileError;
using schema::OpenMode;
using test::Line;

namespace {

constexpr uint32_t header_bytes = 16;
// One File.write, in one message the runtime's 4 KiB transport carries: a
// version is written whole or not at all.
constexpr uint32_t max_length = 3500;
constexpr uint32_t magic = 0x74756370; // "pcut"

// The content of version `version` of file `index`, `length` bytes: the
// header (magic, index, version, length), then bytes of xorshift64* seeded
// by index and version (tools/capfs/powercut.py makes the same).
void content(uint32_t index, uint32_t version, uint32_t length, uint8_t* out) {
    uint32_t header[4] = {magic, index, version, length};
    std::memcpy(out, header, header_bytes);
    uint64_t state = (uint64_t{index} << 32 | version) * 0x9E3779B97F4A7C15ull + 1;
    for (uint32_t i = header_bytes; i < length; ++i) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out[i] = static_cast<uint8_t>((state * 0x2545f4914f6cdd1dull) >> 56);
    }
}

uint8_t g_expected[max_length];
uint8_t g_read[max_length];

void say(const Line& line) {
    (void)line.print();
}

// Reads file `name` whole and checks it is one version of itself; its
// index and length when it is.
bool verify(rt::Capability<Directory>& root, std::string_view name, uint32_t& index,
            uint32_t& length) {
    auto opened = root->open(name, OpenMode::Existing);
    if (opened.is_error() || opened.value().error() != FileError::None)
        return false;
    rt::Capability<File> file(rt::received_capability(opened.value().file()));
    uint32_t size = 0;
    for (;;) {
        auto read = file->read(size, 2048);
        if (read.is_error() || read.value().error() != FileError::None)
            return false;
        auto data = read.value().data();
        if (data.empty())
            break;
        if (size + data.size() > max_length)
            return false;
        std::memcpy(g_read + size, data.data(), data.size());
        size += static_cast<uint32_t>(data.size());
    }
    if (size < header_bytes)
        return false;
    uint32_t header[4];
    std::memcpy(header, g_read, header_bytes);
    if (header[0] != magic || header[3] != size)
        return false;
    content(header[1], header[2], size, g_expected);
    index = header[1];
    length = size;
    return std::memcmp(g_expected, g_read, size) == 0;
}

struct Known {
    uint32_t index;
    uint32_t length;
    uint32_t version;
};
Known g_files[512];
uint32_t g_file_count = 0;

} // namespace

int main() {
    rt::Capability<Directory> root(abi::CapId{test::cap_id("root")});
    schema::Timer::Client<rt::RingTransport> timer(rt::transport(), test::cap_id("timer"));
    if (root.id().raw == 0) {
        say(Line("powercut: FAILED (no 'root' Directory)"));
        return 1;
    }
    // 1. What the last cut left: every file one whole version.
    uint32_t verified = 0, bad = 0, next_index = 1;
    uint64_t cursor = 0;
    char names[512][16];
    uint32_t name_count = 0;
    do {
        auto listed = root->list(cursor);
        if (listed.is_error() || listed.value().error() != FileError::None) {
            say(Line("powercut: FAILED (the root does not list)"));
            return 1;
        }
        for (auto entry : listed.value().entries()) {
            if (name_count < 512 && entry.name().size() < 16) {
                std::memcpy(names[name_count], entry.name().data(), entry.name().size());
                names[name_count][entry.name().size()] = 0;
                ++name_count;
            }
        }
        cursor = listed.value().next();
    } while (cursor != 0);
    for (uint32_t i = 0; i < name_count; ++i) {
        std::string_view name(names[i]);
        uint32_t index = 0, length = 0;
        if (!verify(root, name, index, length)) {
            ++bad;
            say(Line("powercut: FAILED: ").add(name).add(" is not one whole version of itself"));
            continue;
        }
        ++verified;
        if (index >= next_index)
            next_index = index + 1;
        if (g_file_count < 512)
            g_files[g_file_count++] = {index, length, 0};
    }
    say(Line("powercut: verified ").udec(verified).add(" files, ").udec(bad).add(" bad"));
    if (bad != 0)
        return 1;

    // 2. Write until the power goes.
    auto now = timer.now();
    test::Random random{(now.is_ok() ? now.value().ns() : 1) | 1};
    for (uint64_t step = 0;; ++step) {
        uint64_t action = random.below(10);
        // Removals keep up with creations once there are a few hundred files.
        uint32_t removals = g_file_count > 300 ? 5 : 2;
        char name[16];
        if (action < removals && g_file_count > 0) {
            // Remove one.
            uint32_t which = static_cast<uint32_t>(random.below(g_file_count));
            Known gone = g_files[which];
            size_t length = Line("f").udec(gone.index).view().size();
            std::memcpy(name, Line("f").udec(gone.index).view().data(), length);
            say(Line("powercut: removing ").add({name, length}));
            auto removed = root->remove({name, length});
            if (removed.is_error() || removed.value().error() != FileError::None) {
                say(Line("powercut: FAILED (remove)"));
                return 1;
            }
            g_files[which] = g_files[--g_file_count];
        } else {
            Known target;
            bool fresh = action >= 6 || g_file_count == 0 || g_file_count == 512;
            uint32_t which = 0;
            if (fresh && g_file_count < 512) {
                target = {next_index++,
                          header_bytes +
                              static_cast<uint32_t>(random.below(max_length - header_bytes)),
                          1};
            } else {
                which = static_cast<uint32_t>(random.below(g_file_count));
                target = g_files[which];
                target.version = static_cast<uint32_t>(step + 2);
                fresh = false;
            }
            size_t length = Line("f").udec(target.index).view().size();
            std::memcpy(name, Line("f").udec(target.index).view().data(), length);
            say(Line("powercut: writing ")
                    .add({name, length})
                    .add(" v")
                    .udec(target.version)
                    .add(" ")
                    .udec(target.length));
            auto opened =
                root->open({name, length}, fresh ? OpenMode::CreateNew : OpenMode::Existing);
            if (opened.is_error() || opened.value().error() != FileError::None) {
                say(Line("powercut: FAILED (open)"));
                return 1;
            }
            rt::Capability<File> file(rt::received_capability(opened.value().file()));
            content(target.index, target.version, target.length, g_expected);
            auto wrote = file->write(0, {g_expected, target.length});
            if (wrote.is_error() || wrote.value().error() != FileError::None) {
                say(Line("powercut: FAILED (write)"));
                return 1;
            }
            if (fresh)
                g_files[g_file_count++] = target;
            else
                g_files[which] = target;
        }
        // Most steps end in a sync; some leave their work for the next.
        if (random.below(4) != 0) {
            auto synced = root->sync();
            if (synced.is_error() || synced.value().error() != FileError::None) {
                say(Line("powercut: FAILED (sync)"));
                return 1;
            }
            say(Line("powercut: synced ").udec(step));
        }
    }
}
