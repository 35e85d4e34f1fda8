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
// A small file is Directory.open (createNew or existing, the File capability
// moved to this process with the answer), one File.write or File.read, and
// the capability's release (the service hears of it by the kernel's release
// notice and drops the file). Calls are a generated client's, one at a time,
// except in fs_read_small: there the calls of FS_IN_FLIGHT files are in
// flight together (rt::CallBatch), as a capOS program reading many files
// makes them; fs_read_small_serial, just before it, times the same reads one
// call at a time. Reads check every byte (fs_holds), so a wrong answer fails
// the figure.
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
#include "user/rt/batch.h"
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

// The directory "small", for the read figures: its CapId, or 0.
abi::CapId open_small(rt::Capability<Directory>& root) {
    auto opened = root->open_directory(FS_SMALL_DIRECTORY);
    if (!done(opened))
        return {};
    return rt::received_capability(opened.value().directory());
}

// fs_read_small_serial: each file opened, read whole in one call, checked,
// released, one call at a time.
bool read_small_serial(rt::Capability<Directory>& root, uint32_t count) {
    abi::CapId id = open_small(root);
    if (id.raw == 0)
        return fail("Directory.openDirectory");
    rt::Capability<Directory> small(id);
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

// fs_read_small: the same with the calls of FS_IN_FLIGHT files in flight
// together (rt::CallBatch): their opens in one batch, then their reads, each
// checked; their releases go with the next batch of opens.
constexpr uint32_t in_flight = FS_IN_FLIGHT;
using Batch = rt::CallBatch<in_flight, FS_SMALL_BYTES + 1024>;
alignas(Batch) unsigned char g_batch_storage[sizeof(Batch)];

bool read_small_batched(rt::Capability<Directory>& root, uint32_t count) {
    abi::CapId small = open_small(root);
    if (small.raw == 0)
        return fail("Directory.openDirectory");
    rt::Capability<Directory> owned(small);
    Batch& batch = *new (g_batch_storage) Batch(rt::ring());
    abi::CapId files[in_flight] = {};
    char name[FS_NAME_BYTES];
    for (uint32_t first = 0; first < count; first += in_flight) {
        uint32_t n = count - first < in_flight ? count - first : in_flight;
        batch.clear();
        for (uint32_t k = 0; k < n; ++k) {
            fs_small_name(first + k, name);
            if (!batch.add<Directory::OpenParams>(small.raw, Directory::interface_id,
                                                  uint16_t(Directory::Method::Open),
                                                  [&](Directory::OpenParams::Builder params) {
                                                      params.set_path({name, FS_NAME_BYTES});
                                                      params.set_mode(OpenMode::Existing);
                                                  }))
                return fail("CallBatch.add (open)");
        }
        batch.run(); // with the last batch's releases
        for (uint32_t k = 0; k < n; ++k) {
            auto opened = batch.results<Directory::OpenResults>(k);
            files[k] =
                done(opened) ? batch.received_capability(k, opened.value().file()) : abi::CapId{};
            if (files[k].raw == 0)
                return fail("Directory.open (existing)");
        }
        batch.clear();
        for (uint32_t k = 0; k < n; ++k)
            if (!batch.add<File::ReadParams>(files[k].raw, File::interface_id,
                                             uint16_t(File::Method::Read),
                                             [](File::ReadParams::Builder params) {
                                                 params.set_offset(0);
                                                 params.set_length(FS_SMALL_BYTES);
                                             }))
                return fail("CallBatch.add (read)");
        batch.run();
        for (uint32_t k = 0; k < n; ++k) {
            auto read = batch.results<File::ReadResults>(k);
            if (!done(read) || read.value().data().size() != FS_SMALL_BYTES ||
                !fs_holds(first + k + 1, 0, read.value().data().data(), FS_SMALL_BYTES))
                return fail("a file does not hold its bytes");
            if (!batch.release_with_next_run(files[k]))
                return fail("release");
        }
    }
    batch.clear();
    batch.run(); // the last releases
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

using Figure = bool (*)(rt::Capability<Directory>& root, uint32_t count);

// The markers the profiling plugin (bench/plugin) watches for, around the
// in-flight reads: instructions no compiler emits, which change nothing.
bool read_small_marked(rt::Capability<Directory>& root, uint32_t count) {
    asm volatile("xchg %%rbx, %%rbx" ::: "memory");
    bool ran = read_small_batched(root, count);
    asm volatile("xchg %%rcx, %%rcx" ::: "memory");
    return ran;
}

// Times one figure: `run` over `count` operations, one line named `name`.
void measure(rt::Capability<Directory>& root, const char* name, Figure run, uint32_t count) {
    uint64_t start = rdtsc();
    bool ran = run(root, count);
    uint64_t ticks = rdtsc() - start;
    if (!ran) {
        ++g_failures;
        Line() << "bench: " << name << " FAILED (" << g_why << ")";
        return;
    }
    ++g_figures;
    uint64_t per_op = bench::mul_div(ticks, 100, count); // hundredths of a tick
    rt::Line extra(" total_ticks=");
    extra.udec(ticks);
    bench::print_figure(g_rate, name, &per_op, 1, count, extra.view());
}

void measure(rt::Capability<Directory>& root, const fs_figure& figure) {
    uint32_t count = g_quick ? figure.quick_count : figure.count;
    switch (figure.op) {
    case FS_CREATE_SMALL:
        measure(root, figure.name, create_small, count);
        break;
    case FS_READ_SMALL:
        // One call at a time first (as the peer reads), then in flight.
        measure(root, FS_READ_SMALL_SERIAL, read_small_serial, count);
        measure(root, figure.name, read_small_marked, count);
        break;
    case FS_WRITE_SEQ:
        measure(root, figure.name, write_seq, count);
        break;
    case FS_READ_SEQ:
        measure(root, figure.name, read_seq, count);
        break;
    }
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
