// fs-test (scenario.fs): the filesystem service (user/services/fs) as a
// program holding only its root Directory ("root") sees it: the files the
// host put in the image, a write/read/rename/remove workload through File
// and Directory capabilities, paths that would climb out refused, a
// sub-directory's capability reaching only what is below it, a file read
// after its name was removed, a listing in pieces, the content Store, and
// finally `survivor.txt` and `work/many/` synced for scenario.fs_reboot to
// find after the next boot, which it asks for (SystemControl.reboot). On
// that boot survivor.txt is there: it checks what the first boot left and
// powers the machine off.
#include "lib/crypto/sha256.h"
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

test::Suite suite("fs-test");

const char* error_name(FileError error) {
    switch (error) {
    case FileError::None:
        return "none";
    case FileError::NotFound:
        return "notFound";
    case FileError::Exists:
        return "exists";
    case FileError::NotDirectory:
        return "notDirectory";
    case FileError::IsDirectory:
        return "isDirectory";
    case FileError::NotEmpty:
        return "notEmpty";
    case FileError::BadName:
        return "badName";
    case FileError::NameTooLong:
        return "nameTooLong";
    case FileError::NoSpace:
        return "noSpace";
    case FileError::TooLarge:
        return "tooLarge";
    case FileError::ReadOnly:
        return "readOnly";
    case FileError::Corrupt:
        return "corrupt";
    case FileError::Io:
        return "io";
    case FileError::Invalid:
        return "invalid";
    case FileError::NotSupported:
        return "notSupported";
    case FileError::QuotaExceeded:
        return "quotaExceeded";
    }
    return "?";
}

// A typed call's outcome as one FileError (calls that fail in transport or
// by exception count as io, with the detail in the check's line).
template <typename R>
FileError outcome(const Result<R, gen::CallError>& result) {
    if (result.is_error())
        return FileError::Io;
    return result.value().error();
}

template <typename R>
bool expect(std::string_view what, const Result<R, gen::CallError>& result, FileError expected) {
    FileError got = outcome(result);
    Line detail("got ");
    detail.add(error_name(got));
    if (result.is_error())
        detail = test::describe(result.error());
    return suite.check(what, got == expected, got == expected ? Line{} : detail);
}

rt::Capability<File> open(rt::Capability<Directory>& dir, std::string_view path, OpenMode mode,
                          FileError expected = FileError::None, std::string_view shown = {}) {
    auto opened = dir->open(path, mode);
    // Taken before the check's line: the next call forgets what came with the reply.
    abi::CapId file = opened.is_ok() && opened.value().error() == FileError::None
                          ? rt::received_capability(opened.value().file())
                          : abi::CapId{};
    Line what("open ");
    what.add(shown.empty() ? path : shown);
    expect(what.view(), opened, expected);
    return rt::Capability<File>(file);
}

rt::Capability<Directory> open_dir(rt::Capability<Directory>& dir, std::string_view path,
                                   bool make = false) {
    Line what(make ? "make directory " : "open directory ");
    what.add(path);
    if (make) {
        auto made = dir->make_directory(path);
        abi::CapId id = made.is_ok() && made.value().error() == FileError::None
                            ? rt::received_capability(made.value().directory())
                            : abi::CapId{};
        expect(what.view(), made, FileError::None);
        return rt::Capability<Directory>(id);
    }
    auto opened = dir->open_directory(path);
    abi::CapId id = opened.is_ok() && opened.value().error() == FileError::None
                        ? rt::received_capability(opened.value().directory())
                        : abi::CapId{};
    expect(what.view(), opened, FileError::None);
    return rt::Capability<Directory>(id);
}

uint8_t pattern(uint64_t at) {
    return static_cast<uint8_t>(at * 31 + (at >> 12));
}

// Reads the whole file in pieces of `piece` bytes; true when it is `size`
// bytes of pattern() (or equal to `expected`, when given).
bool reads_back(rt::Capability<File>& file, uint64_t size, uint32_t piece,
                std::string_view expected = {}) {
    uint64_t at = 0;
    for (;;) {
        auto read = file->read(at, piece);
        if (read.is_error() || read.value().error() != FileError::None)
            return false;
        std::span<const uint8_t> data = read.value().data();
        if (data.empty())
            break;
        for (size_t i = 0; i < data.size(); ++i) {
            uint8_t want =
                expected.empty() ? pattern(at + i) : static_cast<uint8_t>(expected[at + i]);
            if (at + i >= size || data[i] != want)
                return false;
        }
        at += data.size();
    }
    return at == size;
}

bool write_pattern(rt::Capability<File>& file, uint64_t size, uint32_t piece) {
    static uint8_t buffer[2048];
    for (uint64_t at = 0; at < size; at += piece) {
        uint32_t length = static_cast<uint32_t>(size - at < piece ? size - at : piece);
        for (uint32_t i = 0; i < length; ++i)
            buffer[i] = pattern(at + i);
        auto wrote = file->write(at, {buffer, length});
        if (wrote.is_error() || wrote.value().error() != FileError::None)
            return false;
    }
    return true;
}

size_t count_entries(rt::Capability<Directory>& dir, size_t& calls) {
    size_t count = 0;
    uint64_t cursor = 0;
    calls = 0;
    do {
        auto listed = dir->list(cursor);
        if (listed.is_error() || listed.value().error() != FileError::None)
            return 0;
        count += listed.value().entries().size();
        cursor = listed.value().next();
        ++calls;
    } while (cursor != 0 && calls < 10000);
    return count;
}

} // namespace

int main() {
    rt::Capability<Directory> root(abi::CapId{test::cap_id("root")});
    schema::SystemControl::Client<rt::RingTransport> system(rt::transport(),
                                                            test::cap_id("system"));
    if (root.id().raw == 0) {
        suite.check("holds a 'root' Directory", false);
        return suite.finish();
    }
    auto there = root->stat("survivor.txt");
    if (there.is_ok() && there.value().error() == FileError::None) {
        suite.note("after the reboot");
        auto survivor = open(root, "survivor.txt", OpenMode::Existing);
        suite.check("survivor.txt holds what was synced before the reboot",
                    reads_back(survivor, 34, 4096, "written before the reboot, synced\n"));
        auto many = open_dir(root, "work/many");
        size_t calls = 0;
        suite.check("work/many still lists 200 entries", count_entries(many, calls) == 200);
        open(root, "work/b.bin", OpenMode::Existing, FileError::NotFound);
        open(root, "work/t", OpenMode::Existing);
        int failed = suite.finish();
        if (failed == 0)
            (void)system.halt();
        return failed;
    }

    // The volume, and what the host put on it.
    auto info = root->info();
    suite.check("info: a capfs volume with free space",
                info.is_ok() && info.value().info().format() == "capfs" &&
                    info.value().info().free_blocks() > 100 && !info.value().info().read_only());
    {
        auto hello = open(root, "hello.txt", OpenMode::Existing);
        suite.check("hello.txt holds what the host wrote",
                    reads_back(hello, 21, 4096, "hello from the build\n"));
        auto deep = open(root, "docs/deeper/note", OpenMode::Existing);
        suite.check("a file two directories down reads", reads_back(deep, 5, 100, "deep\n"));
    }

    // Write, read, rename, remove.
    auto work = open_dir(root, "work", true);
    {
        auto file = open(root, "work/a.bin", OpenMode::CreateNew);
        suite.check("100,000 bytes written in pieces of 2,000", write_pattern(file, 100000, 2000));
        auto stat = file->stat();
        suite.check("stat: a file of 100,000 bytes",
                    stat.is_ok() && stat.value().stat().size() == 100000 &&
                        stat.value().stat().kind() == schema::FileKind::File &&
                        stat.value().stat().links() == 1);
        suite.check("read back in pieces of 3,000", reads_back(file, 100000, 3000));
        open(root, "work/a.bin", OpenMode::CreateNew, FileError::Exists);
    }
    expect("rename work/a.bin to work/b.bin", root->rename("work/a.bin", "work/b.bin"),
           FileError::None);
    open(root, "work/a.bin", OpenMode::Existing, FileError::NotFound);
    {
        auto b = open(root, "work/b.bin", OpenMode::Existing);
        expect("remove work/b.bin while it is open", root->remove("work/b.bin"), FileError::None);
        open(root, "work/b.bin", OpenMode::Existing, FileError::NotFound);
        suite.check("the open file still reads after its removal", reads_back(b, 100000, 3000));
        auto stat = b->stat();
        suite.check("and counts no links", stat.is_ok() && stat.value().stat().links() == 0);
    }
    {
        auto t = open(root, "work/t", OpenMode::Create);
        suite.check("write 5,000 bytes", write_pattern(t, 5000, 2000));
        expect("truncate to 1,000", t->truncate(1000), FileError::None);
        suite.check("1,000 bytes left", reads_back(t, 1000, 4000));
        auto again = open(root, "work/t", OpenMode::Truncate);
        auto stat = t->stat();
        suite.check("open with truncate cuts it to 0",
                    stat.is_ok() && stat.value().stat().size() == 0);
    }

    // Names and paths that are refused: nothing above a directory is named.
    open(root, "../hello.txt", OpenMode::Existing, FileError::BadName);
    open(root, "/hello.txt", OpenMode::Existing, FileError::BadName);
    open(root, "work//t", OpenMode::Existing, FileError::BadName);
    open(root, "work/./t", OpenMode::Existing, FileError::BadName);
    open(root, "work/", OpenMode::Create, FileError::BadName);
    open(root, std::string_view("a\0b", 3), OpenMode::Create, FileError::BadName);
    {
        // (A name of 10 KB does not fit the runtime's 4 KiB message: the
        // longest this client can send is refused by the service.)
        static char long_name[4000];
        std::memset(long_name, 'n', sizeof long_name);
        open(root, {long_name, sizeof long_name}, OpenMode::Create, FileError::NameTooLong,
             "a name of 4,000 bytes");
        open(root, {long_name, 256}, OpenMode::Create, FileError::NameTooLong,
             "a name of 256 bytes");
        auto longest =
            open(root, {long_name, 255}, OpenMode::Create, FileError::None, "a name of 255 bytes");
        expect("remove the 255-byte name", root->remove({long_name, 255}), FileError::None);
    }
    open(root, "work", OpenMode::Existing, FileError::IsDirectory);
    open(root, "hello.txt/x", OpenMode::Create, FileError::NotDirectory);
    expect("a non-empty directory is not removed", root->remove("work"), FileError::NotEmpty);
    expect("a directory is not moved below itself", root->rename("work", "work/inner"),
           FileError::Invalid);
    expect("the root is not removed", root->remove(""), FileError::BadName);

    // A sub-directory's capability reaches what is below it and nothing else.
    {
        auto sub = open_dir(root, "work");
        open(sub, "t", OpenMode::Existing);
        open(sub, "../hello.txt", OpenMode::Existing, FileError::BadName);
        open(sub, "hello.txt", OpenMode::Existing, FileError::NotFound);
        auto made = open(sub, "from-sub", OpenMode::CreateNew);
        open(root, "work/from-sub", OpenMode::Existing);
    }

    // 200 entries listed in pieces.
    {
        auto many = open_dir(root, "work/many", true);
        bool all = true;
        for (int i = 0; i < 200; ++i) {
            Line name("entry-with-a-longer-name-");
            name.udec(uint64_t(i));
            auto made = many->open(name.view(), OpenMode::CreateNew);
            all = all && made.is_ok() && made.value().error() == FileError::None;
            if (made.is_ok() && made.value().error() == FileError::None)
                (void)rt::release(abi::CapId{made.value().file()});
        }
        suite.check("200 files made (each capability released)", all);
        size_t calls = 0;
        size_t count = count_entries(many, calls);
        suite.check("list: 200 entries, in several calls", count == 200 && calls > 3,
                    Line().udec(count).add(" entries in ").udec(calls).add(" calls"));
    }

    // The content store over a directory.
    {
        auto blobs = open_dir(root, "blobs", true);
        auto made = blobs->store();
        rt::Capability<schema::Store> store(
            made.is_ok() ? rt::received_capability(made.value().store()) : abi::CapId{});
        static const char text[] = "the same bytes are kept once";
        std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(text), sizeof text - 1);
        crypto::Sha256Digest key = crypto::Sha256::of(data.data(), data.size());
        auto put = store->put(data);
        suite.check("put returns the SHA-256 of the bytes",
                    put.is_ok() && put.value().error() == FileError::None &&
                        put.value().key().size() == 32 &&
                        std::memcmp(put.value().key().data(), key.data(), 32) == 0);
        auto has = store->has({key.data(), 32});
        suite.check("has: present", has.is_ok() && has.value().present());
        auto get = store->get({key.data(), 32}, 4, 4);
        suite.check("get 4 bytes from offset 4",
                    get.is_ok() && get.value().size() == data.size() &&
                        get.value().data().size() == 4 &&
                        std::memcmp(get.value().data().data(), "same", 4) == 0);
        expect("put the same bytes again", store->put(data), FileError::None);
        size_t calls = 0;
        suite.check("the directory holds one blob", count_entries(blobs, calls) == 1);
        expect("a key of 5 bytes", store->has({key.data(), 5}), FileError::BadName);
        expect("delete", store->delete_({key.data(), 32}), FileError::None);
        auto gone = store->has({key.data(), 32});
        suite.check("has: gone", gone.is_ok() && !gone.value().present());
        expect("get of a deleted blob", store->get({key.data(), 32}, 0, 10), FileError::NotFound);
    }

    // A limited directory: 5,000 bytes for everything reached through it.
    {
        auto area = open_dir(root, "limited", true);
        auto limited_made = area->limit(5000);
        rt::Capability<Directory> limited(
            limited_made.is_ok() && limited_made.value().error() == FileError::None
                ? rt::received_capability(limited_made.value().directory())
                : abi::CapId{});
        suite.check("limit a directory to 5,000 bytes", limited.id().raw != 0);
        auto a = open(limited, "a", OpenMode::CreateNew);
        suite.check("write 3,000 bytes through it", write_pattern(a, 3000, 1000));
        auto b = open(limited, "b", OpenMode::CreateNew);
        static uint8_t bytes[3000];
        expect("2,001 bytes more: quotaExceeded", b->write(0, {bytes, 2001}),
               FileError::QuotaExceeded);
        auto b_stat = b->stat();
        suite.check("nothing of them was written",
                    b_stat.is_ok() && b_stat.value().stat().size() == 0);
        expect("rewriting bytes already counted costs nothing", a->write(0, {bytes, 3000}),
               FileError::None);
        expect("growing with truncate past it: quotaExceeded", b->truncate(2001),
               FileError::QuotaExceeded);
        expect("up to it exactly", b->truncate(2000), FileError::None);
        auto info = limited->info();
        suite.check("info: quota 5,000, used 5,000", info.is_ok() &&
                                                         info.value().info().quota() == 5000 &&
                                                         info.value().info().quota_used() == 5000);
        // A directory opened through it counts against the same limit;
        // a limit made under it, against both.
        auto sub = open_dir(limited, "sub", true);
        auto c = open(sub, "c", OpenMode::CreateNew);
        expect("one byte more through a sub-directory: quotaExceeded", c->write(0, {bytes, 1}),
               FileError::QuotaExceeded);
        expect("remove b through the limited directory", limited->remove("b"), FileError::None);
        expect("the room comes back", c->write(0, {bytes, 1500}), FileError::None);
        auto inner_made = sub->limit(250);
        rt::Capability<Directory> inner(
            inner_made.is_ok() && inner_made.value().error() == FileError::None
                ? rt::received_capability(inner_made.value().directory())
                : abi::CapId{});
        auto d = open(inner, "d", OpenMode::CreateNew);
        expect("a nested limit of 250: 251 bytes refused", d->write(0, {bytes, 251}),
               FileError::QuotaExceeded);
        expect("250 taken", d->write(0, {bytes, 250}), FileError::None);
        // Limits nest at most 16 deep (every write walks the chain): 14
        // more under the 250 one, then the next is refused.
        abi::CapId chain[14] = {};
        uint32_t depth = 2;
        abi::CapId deepest = inner.id();
        for (abi::CapId& link : chain) {
            Directory::Client<rt::RingTransport> dir(rt::transport(), deepest.raw);
            auto made = dir.limit(1 << 20);
            if (made.is_error() || made.value().error() != FileError::None)
                break;
            link = deepest = rt::received_capability(made.value().directory());
            ++depth;
        }
        suite.check("limits nest 16 deep", depth == 16);
        Directory::Client<rt::RingTransport> last(rt::transport(), deepest.raw);
        auto too_deep = last.limit(1);
        suite.check("a 17th limit under them is overloaded",
                    too_deep.is_error() && too_deep.error().kind == gen::CallErrorKind::Exception &&
                        too_deep.error().exception.type == schema::ExceptionType::Overloaded);
        for (abi::CapId link : chain)
            if (link.raw != 0)
                (void)rt::release(link);
        auto outer = limited->info();
        suite.check("the outer limit counted them too",
                    outer.is_ok() && outer.value().info().quota_used() == 4750);
        auto plain = open(area, "e", OpenMode::CreateNew);
        expect("the unlimited directory writes past it", plain->write(0, {bytes, 3000}),
               FileError::None);
        auto root_info = root->info();
        suite.check("the root has no quota",
                    root_info.is_ok() && root_info.value().info().quota() == 0);
    }

    // What the next boot must find.
    {
        auto survivor = open(root, "survivor.txt", OpenMode::CreateNew);
        static const char text[] = "written before the reboot, synced\n";
        expect("write survivor.txt",
               survivor->write(0, {reinterpret_cast<const uint8_t*>(text), sizeof text - 1}),
               FileError::None);
        expect("sync", survivor->sync(), FileError::None);
    }
    int failed = suite.finish();
    if (failed == 0) {
        suite.note("rebooting");
        (void)system.reboot();
    }
    return failed;
}
