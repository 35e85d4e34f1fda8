// disk_bench: the disk figures of docs/performance.md, through BlockDevice
// (schema/capos.capnp, "Storage") served by a disk driver (the virtio-blk
// driver, user/drivers/virtio_blk.cpp, or the NVMe driver,
// user/drivers/nvme.cpp: one system for each, bench/manifests/
// bench_disk.capnp.in), the capOS side of the Linux peer's O_DIRECT reads and
// writes of the same disk (/dev/vda or /dev/nvme0n1, bench/linux/peer_bench.c
// --disk) on the same image in the same QEMU. The workload, shared with the peer, is
// bench/disk_workload.h: 4 KiB random reads at several queue depths, 1 MiB
// sequential reads and writes, a fixed count per batch, the same offsets in
// the same order. One line per figure in ring_bench's format
// (user/bench/timing.h), ns per operation; bench/run_bench.py turns them into
// IOPS and MB/s.
//
// Data moves zero-copy through one transfer buffer (transferBuffer) of 1 MiB:
// random read k of those in flight lands in its page k, a sequential
// operation uses the whole buffer. Calls are raw CALL entries on the ring,
// each with its own params and result buffer, so that several are in flight;
// a completion frees its call's place for the next operation. The driver
// takes at most maxBlocks blocks a call (256 KiB here): a 1 MiB operation is
// that many calls, issued together, and done when all are answered (Linux's
// block layer splits its 1 MiB requests by the device's limits too).
//
// Depth: every figure runs at the depth it asks for (a process may have
// more calls outstanding through endpoints than the deepest asks,
// abi/limits.h), and both drivers put up to 32 requests on the device at once
// (their request slots), so each line's depth= is the figure's.
//
// The CapSet holds "console", "timer" and "disk" (the driver's export), and,
// for the smoke tests (bench.capos_disk_smoke, bench.capos_disk_nvme_smoke),
// "bench-quick": a small count of each figure instead of the full run. Exits
// 0 when every figure ran.
#include "abi/limits.h"
#include "abi/ring.h"
#include "bench/disk_workload.h"
#include "schema/capos.capnp.capos.h"
#include "user/bench/raw_ring.h"
#include "user/bench/timing.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/syscall.h"

namespace {

using namespace capos;
using bench::rdtsc;
using schema::BlockDevice;
using Line = rt::PrintLine;

// Calls in flight at most: the deepest figure's depth.
constexpr uint32_t max_in_flight = DISK_MAX_DEPTH;
static_assert(max_in_flight <= abi::default_outstanding_calls,
              "the deepest figure's calls may all be outstanding at once");
constexpr uint32_t buffer_pages = DISK_SEQ_BYTES / DISK_PAGE_BYTES;
static_assert(max_in_flight <= buffer_pages, "each random read in flight has a page of its own");

bench::TscRate g_rate;
uint32_t g_figures = 0;
uint32_t g_failures = 0;
bool g_quick = false;

void failed(std::string_view name, std::string_view why) {
    ++g_failures;
    Line() << "bench: " << name << " FAILED (" << why << ")";
}

// The disk as the driver describes it, and the transfer buffer.
struct Disk {
    uint32_t cap = 0;
    uint32_t block_size = 0;
    uint64_t bytes = 0;
    uint32_t max_call_bytes = 0; // maxBlocks blocks
    uint32_t buffer = 0;         // the transfer buffer's id
    uint8_t* data = nullptr;     // and where it is mapped
};
Disk g_disk;

// ---------------------------------------------------------------------------
// The raw ring (as ring_bench does it): every completion caused here is
// consumed here, so the runtime's RingClient never sees one.

abi::RingPage& page() {
    return bench::ring_page();
}

// One call's place: its params and results, while it is in flight.
struct Call {
    alignas(8) capnp::Word params[8];
    alignas(8) capnp::Word results[64]; // room for an exception's message
};
Call g_calls[max_in_flight];

// The part of an operation one call moves: `bytes` at byte `offset` of the
// disk, to or from byte `at` of the transfer buffer.
struct Piece {
    bool write;
    uint64_t offset;
    uint32_t bytes;
    uint64_t at;
};

// Whether the SQ has room for one more entry (the kernel takes at most
// ring_sq_entries a cap_enter).
bool sq_has_room() {
    abi::RingHeader& header = page().header;
    return header.sq_tail - __atomic_load_n(&header.sq_head, __ATOMIC_ACQUIRE) <
           abi::ring_sq_entries;
}

// Puts the call moving `piece` on the SQ (which has room). False when its
// params do not encode.
bool push(uint32_t slot, const Piece& piece) {
    abi::RingHeader& header = page().header;
    uint32_t tail = header.sq_tail;
    capnp::MessageBuilder builder(g_calls[slot].params);
    uint64_t lba = piece.offset / g_disk.block_size;
    uint32_t count = piece.bytes / g_disk.block_size;
    // The two methods' params have the same fields (no inline data here).
    auto fill = [&]<typename Params>(Params*) {
        typename Params::Builder params(
            builder.init_root(Params::data_words, Params::pointer_count));
        params.set_lba(lba);
        params.set_count(count);
        params.set_buffer(g_disk.buffer);
        params.set_offset(piece.at);
    };
    uint16_t method;
    if (piece.write) {
        fill(static_cast<BlockDevice::WriteBlocksParams*>(nullptr));
        method = uint16_t(BlockDevice::Method::WriteBlocks);
    } else {
        fill(static_cast<BlockDevice::ReadBlocksParams*>(nullptr));
        method = uint16_t(BlockDevice::Method::ReadBlocks);
    }
    if (builder.error() != capnp::WireError::None)
        return false;
    abi::Sqe& sqe = page().sqes[tail % abi::ring_sq_entries];
    sqe = abi::Sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.method = method;
    sqe.cap = g_disk.cap;
    sqe.interface_id = BlockDevice::interface_id;
    sqe.user_data = slot;
    sqe.params_addr = reinterpret_cast<uint64_t>(builder.words().data());
    sqe.params_len = uint32_t(builder.words().size_bytes());
    sqe.result_addr = reinterpret_cast<uint64_t>(g_calls[slot].results);
    sqe.result_len = sizeof g_calls[slot].results;
    __atomic_store_n(&header.sq_tail, tail + 1, __ATOMIC_RELEASE);
    return true;
}

using bench::pop;

// Issues `count` calls, piece_of(i, slot) for i = 0, 1, ... in that order,
// keeping up to `depth` in flight (slot: the call's place, 0 to depth - 1,
// no two in flight at once share it), and waits for all of them. False when
// one fails.
template <typename PieceOf>
bool run_calls(uint64_t count, uint32_t depth, PieceOf&& piece_of) {
    uint32_t free_slots[max_in_flight];
    uint32_t free_count = 0;
    for (uint32_t slot = depth; slot > 0; --slot)
        free_slots[free_count++] = slot - 1;
    uint64_t issued = 0, done = 0;
    while (done < count) {
        // (Room first: piece_of draws the next random page, which must go
        // to the next call issued.)
        while (issued < count && free_count > 0 && sq_has_room()) {
            uint32_t slot = free_slots[--free_count];
            if (!push(slot, piece_of(issued, slot)))
                return false;
            ++issued;
        }
        // Wait for a completion once nothing more can be issued; otherwise
        // only hand the kernel what was pushed.
        bool wait = free_count == 0 || issued == count;
        if (rt::cap_enter(wait ? 1 : 0, abi::no_timeout) < 0)
            return false;
        abi::Cqe cqe;
        while (pop(cqe)) {
            if (cqe.result != int32_t(abi::CallStatus::Ok) || cqe.user_data >= depth)
                return false;
            free_slots[free_count++] = uint32_t(cqe.user_data);
            ++done;
        }
    }
    return true;
}

// ---------------------------------------------------------------------------
// Figures

// Operations first to first + n - 1 of `figure`; `random` is the figure's
// generator, where the operation before `first` left it.
bool run_ops(const disk_figure& figure, uint64_t first, uint64_t n, uint64_t& random) {
    uint32_t depth = figure.depth;
    if (figure.op == DISK_RANDOM_READ) {
        uint64_t pages = g_disk.bytes / DISK_PAGE_BYTES;
        // Each call in flight reads into its slot's page of the buffer.
        return run_calls(n, depth, [&](uint64_t, uint32_t slot) {
            return Piece{false, disk_random_page(&random, pages) * DISK_PAGE_BYTES, DISK_PAGE_BYTES,
                         uint64_t(slot) * DISK_PAGE_BYTES};
        });
    }
    bool write = figure.op == DISK_SEQ_WRITE;
    uint32_t pieces = DISK_SEQ_BYTES / g_disk.max_call_bytes;
    uint32_t pieces_in_flight = pieces < max_in_flight ? pieces : max_in_flight;
    for (uint64_t op = first; op < first + n; ++op) {
        uint64_t offset = disk_seq_offset(op, g_disk.bytes);
        if (!run_calls(pieces, pieces_in_flight, [&](uint64_t i, uint32_t) {
                return Piece{write, offset + i * g_disk.max_call_bytes, g_disk.max_call_bytes,
                             i * g_disk.max_call_bytes};
            }))
            return false;
    }
    return true;
}

void measure(const disk_figure& figure) {
    uint32_t batches = g_quick ? DISK_QUICK_BATCHES : DISK_BATCHES;
    uint64_t per_batch = g_quick ? figure.quick_per_batch : figure.per_batch;
    if (figure.depth < 1 || figure.depth > max_in_flight)
        return failed(figure.name, "a depth of 0 or past DISK_MAX_DEPTH");
    uint64_t random = DISK_SEED;
    uint64_t per_op[DISK_BATCHES]; // hundredths of a tick
    uint64_t op = 0;
    // The untimed batch first.
    for (uint32_t b = 0; b <= batches; ++b, op += per_batch) {
        uint64_t start = rdtsc();
        if (!run_ops(figure, op, per_batch, random))
            return failed(figure.name, "a call failed");
        if (b > 0)
            per_op[b - 1] = bench::mul_div(rdtsc() - start, 100, per_batch);
    }
    ++g_figures;
    rt::Line depth(" depth=");
    depth.udec(figure.depth);
    bench::print_figure(g_rate, figure.name, per_op, batches, per_batch, depth.view());
}

// Reads one random page (the first of the random figures' sequence) and
// checks it holds the image's pattern.
bool check_pattern(uint64_t& page_offset) {
    uint64_t random = DISK_SEED;
    page_offset = disk_random_page(&random, g_disk.bytes / DISK_PAGE_BYTES) * DISK_PAGE_BYTES;
    uint64_t offset = page_offset;
    if (!run_calls(1, 1, [&](uint64_t, uint32_t) {
            return Piece{false, offset, DISK_PAGE_BYTES, 0};
        }))
        return false;
    return disk_page_holds_pattern(g_disk.data, page_offset) != 0;
}

bool open_disk() {
    auto found = rt::find_capability("disk");
    if (found.is_error()) {
        failed("disk", "no 'disk' in the CapSet");
        return false;
    }
    g_disk.cap = found.value().id.raw;
    BlockDevice::Client<rt::RingTransport> disk(rt::transport(), g_disk.cap);
    auto info = disk.info();
    if (info.is_error()) {
        failed("disk", "BlockDevice.info failed");
        return false;
    }
    // (The reader lasts until the transport's next call.)
    uint64_t blocks = info.value().blocks();
    g_disk.block_size = info.value().block_size();
    g_disk.bytes = blocks * g_disk.block_size;
    g_disk.max_call_bytes = info.value().max_blocks() * g_disk.block_size;
    // 1 MiB must be whole calls, and a 4 KiB page whole blocks; the disk
    // whole MiB (the sequential figures wrap at its end).
    if (g_disk.block_size == 0 || DISK_PAGE_BYTES % g_disk.block_size != 0 ||
        g_disk.max_call_bytes < DISK_PAGE_BYTES || DISK_SEQ_BYTES % g_disk.max_call_bytes != 0 ||
        g_disk.bytes == 0 || g_disk.bytes % DISK_SEQ_BYTES != 0 || info.value().read_only()) {
        failed("disk", "the disk's geometry does not fit the workload");
        return false;
    }
    auto made = disk.transfer_buffer(buffer_pages);
    if (made.is_error()) {
        failed("disk", "BlockDevice.transferBuffer failed");
        return false;
    }
    g_disk.buffer = made.value().buffer();
    rt::Capability<schema::MemoryObject> memory(abi::CapId{made.value().memory()});
    auto mapped = memory->map(0, 0, buffer_pages, schema::Access::ReadWrite);
    if (mapped.is_error()) {
        failed("disk", "the transfer buffer does not map");
        return false;
    }
    g_disk.data = reinterpret_cast<uint8_t*>(mapped.value().address());
    Line() << "bench: disk blocks=" << blocks << " block_size=" << uint64_t(g_disk.block_size)
           << " call_bytes=" << uint64_t(g_disk.max_call_bytes)
           << " max_in_flight=" << uint64_t(max_in_flight);
    return true;
}

} // namespace

int main() {
    Line() << "bench: disk main tsc=" << rdtsc();
    auto timer = rt::find_capability("timer");
    if (timer.is_error()) {
        (void)rt::debug_write_line("bench: FAILED (needs timer)");
        return 1;
    }
    g_quick = rt::find_capability("bench-quick").is_ok();
    uint32_t batches = g_quick ? DISK_QUICK_BATCHES : DISK_BATCHES;
    Line() << "bench: config disk batches=" << uint64_t(batches) << (g_quick ? " (quick)" : "");
    if (!g_rate.calibrate(timer.value().id.raw, g_quick ? 10 : 50)) {
        (void)rt::debug_write_line("bench: FAILED (cannot calibrate the TSC against Timer.now)");
        return 1;
    }
    if (open_disk()) {
        uint64_t checked = 0;
        if (check_pattern(checked)) {
            Line() << "bench: disk pattern ok at byte " << checked;
            for (const disk_figure& figure : disk_figures)
                measure(figure);
        } else {
            failed("disk", "a read does not hold the image's pattern");
        }
    }
    Line() << "bench: done, " << uint64_t(g_figures) << " figures, " << uint64_t(g_failures)
           << " failed, tsc=" << rdtsc();
    return g_failures == 0 ? 0 : 1;
}
