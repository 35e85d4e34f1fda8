// fs_bench: the filesystem figures of docs/performance.md, through the
// Directory and Files of a capfs volume served by the filesystem service
// (user/services/fs) over the virtio-blk driver (bench/manifests/
// bench_fs.capnp.in), the capOS side of the Linux peer's open/write/read/close
// on ext4 (bench/linux/peer_bench.c --fs) on a disk of the same size in the
// same QEMU. The workload, shared with the peer, is bench/fs_workload.h:
// 10,000 small files created (then the volume synced) and read back, and one
// file of 64 MiB written (then synced) and read back in calls of
// File.maxTransfer. One line per figure in ring_bench's format
// (user/bench/timing.h), each figure one timed run (batches=1); bench/
// run_bench.py turns them into files/s and MB/s.
//
// Every call is a generated client's call, one at a time, as a program
// using files makes them: a small file is Directory.open (createNew or
// existing, the File capability moved to this process with the answer), one
// File.write or File.read, and the capability's release (the service hears
// of it by the kernel's release notice and drops the file). Reads check
// every byte (fs_holds), so a wrong answer fails the figure.
//
// File.read and File.write of 32 KiB do not fit the runtime's standard
// transport (4 KiB messages): File calls go through a transport of their own
// with buffers for the largest (rt::RingTransportWith).
//
// The CapSet holds "console", "timer" and "root" (the volume's root
// Directory, the service's export), and, for the smoke test
// (bench.capos_fs_smoke), "bench-quick": the quick counts. Exits 0 when every
// figure ran.
#include "bench/fs_workload.h"
#include "schema/capos.capnp.capos.h"
#include "user/bench/timing.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

#include <new>

namespace {

using namespace capos;
using bench::rdtsc;
using schema::Directory;
using schema::File;
using schema::FileError;
using schema::OpenMode;
using Line = rt::PrintLine;

static_assert(FS_CALL_BYTES == File::max_transfer, "a call moves what File carries at most");
static_assert(FS_SMALL_BYTES <= FS_CALL_BYTES);

// File.write's params (the data and a few words around it) and File.read's
// results fit.
using FileTransport = rt::RingTransportWith<FS_CALL_BYTES + 4096>;
// Made by main over the thread's ring (not a global object: link-time
// optimization may run a global's constructor at build time, before the
// runtime has made the ring it reads).
alignas(FileTransport) unsigned char g_file_transport_storage[sizeof(FileTransport)];
FileTransport* g_file_transport = nullptr;
using FileClient = File::Client<rt::RingTransport>;

bench::TscRate g_rate;
uint32_t g_figures = 0;
uint32_t g_failures = 0;
bool g_quick = false;
alignas(8) uint8_t g_data[FS_CALL_BYTES];

// Why an operation failed, for the figure's FAILED line.
std::string_view g_why;

bool fail(std::string_view why) {
    g_why = why;
    return false;
}

// Whether a generated call's answer is a success with error none.
template <typename Answer>
bool done(const Answer& answer) {
    return answer.is_ok() && answer.value().error() == FileError::None;
}

// Opens `name` below `directory` as `mode`: the File's CapId, or 0.
abi::CapId open(rt::Capability<Directory>& directory, std::string_view name, OpenMode mode) {
    auto opened = directory->open(name, mode);
    if (!done(opened))
        return {};
    return rt::received_capability(opened.value().file());
}

// fs_create_small: the directory, the files (open, write, release), the sync.
bool create_small(rt::Capability<Directory>& root, uint32_t count) {
    auto made = root->make_directory(FS_SMALL_DIRECTORY);
    if (!done(made))
        return fail("Directory.makeDirectory");
    rt::Capability<Directory> small(rt::received_capability(made.value().directory()));
    char name[FS_NAME_BYTES];
    for (uint32_t i = 0; i < count; ++i) {
        fs_small_name(i, name);
        abi::CapId id = open(small, {name, FS_NAME_BYTES}, OpenMode::CreateNew);
        if (id.raw == 0)
            return fail("Directory.open (createNew)");
        fs_fill(i + 1, 0, g_data, FS_SMALL_BYTES);
        FileClient file(*g_file_transport, id.raw);
        bool wrote = done(file.write(0, {g_data, FS_SMALL_BYTES}));
        if (rt::release(id) != 0)
            return fail("release");
        if (!wrote)
            return fail("File.write");
    }
    if (!done(root->sync()))
        return fail("Directory.sync");
    return true;
}

// fs_read_small: each file opened, read whole in one call, checked, released.
bool read_small(rt::Capability<Directory>& root, uint32_t count) {
    auto opened = root->open_directory(FS_SMALL_DIRECTORY);
    if (!done(opened))
        return fail("Directory.openDirectory");
    rt::Capability<Directory> small(rt::received_capability(opened.value().directory()));
    char name[FS_NAME_BYTES];
    for (uint32_t i = 0; i < count; ++i) {
        fs_small_name(i, name);
        abi::CapId id = open(small, {name, FS_NAME_BYTES}, OpenMode::Existing);
        if (id.raw == 0)
            return fail("Directory.open (existing)");
        FileClient file(*g_file_transport, id.raw);
        auto read = file.read(0, FS_SMALL_BYTES);
        bool good = done(read) && read.value().data().size() == FS_SMALL_BYTES &&
                    fs_holds(i + 1, 0, read.value().data().data(), FS_SMALL_BYTES);
        if (rt::release(id) != 0)
            return fail("release");
        if (!good)
            return fail("a file does not hold its bytes");
    }
    return true;
}

// fs_write_seq: "big" made, `calls` writes of FS_CALL_BYTES, File.sync.
bool write_seq(rt::Capability<Directory>& root, uint32_t calls) {
    abi::CapId id = open(root, FS_BIG_FILE, OpenMode::CreateNew);
    if (id.raw == 0)
        return fail("Directory.open (createNew)");
    rt::Capability<File> owned(id);
    FileClient file(*g_file_transport, id.raw);
    for (uint32_t i = 0; i < calls; ++i) {
        uint64_t offset = uint64_t(i) * FS_CALL_BYTES;
        fs_fill(FS_BIG_KEY, offset, g_data, FS_CALL_BYTES);
        if (!done(file.write(offset, {g_data, FS_CALL_BYTES})))
            return fail("File.write");
    }
    if (!done(file.sync()))
        return fail("File.sync");
    return true;
}

// fs_read_seq: "big" read back in `calls` reads of FS_CALL_BYTES, checked.
bool read_seq(rt::Capability<Directory>& root, uint32_t calls) {
    abi::CapId id = open(root, FS_BIG_FILE, OpenMode::Existing);
    if (id.raw == 0)
        return fail("Directory.open (existing)");
    rt::Capability<File> owned(id);
    FileClient file(*g_file_transport, id.raw);
    for (uint32_t i = 0; i < calls; ++i) {
        uint64_t offset = uint64_t(i) * FS_CALL_BYTES;
        auto read = file.read(offset, FS_CALL_BYTES);
        if (!done(read) || read.value().data().size() != FS_CALL_BYTES)
            return fail("File.read");
        if (!fs_holds(FS_BIG_KEY, offset, read.value().data().data(), FS_CALL_BYTES))
            return fail("the file does not hold its bytes");
    }
    return true;
}

void measure(rt::Capability<Directory>& root, const fs_figure& figure) {
    uint32_t count = g_quick ? figure.quick_count : figure.count;
    uint64_t start = rdtsc();
    bool ran = false;
    switch (figure.op) {
    case FS_CREATE_SMALL:
        ran = create_small(root, count);
        break;
    case FS_READ_SMALL:
        ran = read_small(root, count);
        break;
    case FS_WRITE_SEQ:
        ran = write_seq(root, count);
        break;
    case FS_READ_SEQ:
        ran = read_seq(root, count);
        break;
    }
    uint64_t ticks = rdtsc() - start;
    if (!ran) {
        ++g_failures;
        Line() << "bench: " << figure.name << " FAILED (" << g_why << ")";
        return;
    }
    ++g_figures;
    uint64_t per_op = bench::mul_div(ticks, 100, count); // hundredths of a tick
    rt::Line extra(" total_ticks=");
    extra.udec(ticks);
    bench::print_figure(g_rate, figure.name, &per_op, 1, count, extra.view());
}

} // namespace

int main() {
    Line() << "bench: fs main tsc=" << rdtsc();
    auto timer = rt::find_capability("timer");
    auto root_found = rt::find_capability("root");
    if (timer.is_error() || root_found.is_error()) {
        (void)rt::debug_write_line("bench: FAILED (needs timer and root)");
        return 1;
    }
    g_quick = rt::find_capability("bench-quick").is_ok();
    uint64_t files = g_quick ? fs_figures[0].quick_count : fs_figures[0].count;
    uint64_t seq_calls = g_quick ? fs_figures[2].quick_count : fs_figures[2].count;
    Line() << "bench: config fs files=" << files << " seq_bytes=" << seq_calls * FS_CALL_BYTES
           << (g_quick ? " (quick)" : "");
    if (!g_rate.calibrate(timer.value().id.raw, g_quick ? 10 : 50)) {
        (void)rt::debug_write_line("bench: FAILED (cannot calibrate the TSC against Timer.now)");
        return 1;
    }
    g_file_transport = new (g_file_transport_storage) FileTransport(rt::ring());
    rt::Capability<Directory> root(root_found.value().id);
    auto info = root->info();
    if (!done(info)) {
        (void)rt::debug_write_line("bench: FAILED (Directory.info)");
        return 1;
    }
    Line() << "bench: fs volume " << info.value().info().format()
           << " blocks=" << info.value().info().blocks()
           << " block_size=" << uint64_t(info.value().info().block_size());
    for (const fs_figure& figure : fs_figures)
        measure(root, figure);
    Line() << "bench: done, " << uint64_t(g_figures) << " figures, " << uint64_t(g_failures)
           << " failed, tsc=" << rdtsc();
    return g_failures == 0 ? 0 : 1;
}
