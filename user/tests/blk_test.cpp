// BlockDevice through a disk driver, on the disks scenario.blk (and
// scenario.blk_iommu) attaches to virtio-blk functions
// (user/drivers/virtio_blk.cpp) and scenario.nvme (and nvme_iommu) to an
// NVMe controller (user/drivers/nvme.cpp): "disk", a read-write disk of
// disk_sectors 512-byte sectors holding the test pattern
// (tools/mkdisk/disk_pattern.h: each sector repeats its LBA), whose reads of
// block 7000 and writes of block 7001 the host fails; for virtio-blk also
// "ro", the same image read-only, without a serial. The build makes one
// program for each kind of driver from this file (CAPOS_BLK_TEST_KIND,
// user/tests/CMakeLists.txt): what differs between them is in `Kind`.
//
// Checked: info; reads of the first, middle and last blocks inline and of
// many pages through a transfer buffer (at offsets too); writes inline and
// from a transfer buffer, read back; flush; several reads and writes in
// flight at once, each answered with its own blocks; every bad request
// refused with its exception (counts of 0 and past maxBlocks, blocks past
// the end and near 2^64, ranges past a transfer buffer, unknown buffers,
// more than maxInline inline, data of the wrong size, writes to the
// read-only disk); the device's own errors answered as failed. The writes
// it leaves are inline_write, buffer_write, last_write and the six of
// check_in_flight (concurrent_generation): the scenario's drive-expect
// image (blk-expected, tests/scenarios/CMakeLists.txt) holds the same, and
// the runner compares the disk with it after the machine powers off.
#include "schema/capos.capnp.capos.h"
#include "tools/mkdisk/disk_pattern.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::BlockDevice;
using schema::ExceptionType;
namespace pattern = capos::disk_pattern;

namespace {

constexpr uint64_t disk_sectors = 8192;
constexpr uint32_t block = 512;

// What the disk's driver is: the model it reports for "disk" (the
// scenario's serial), whether a read-only "ro" disk is granted beside it,
// and the offsets in a transfer buffer its device can start a transfer at
// (NVMe's PRP entries start on a dword).
struct Kind {
    std::string_view name;
    std::string_view model;
    bool read_only_disk;
    uint32_t data_alignment;
};
constexpr Kind kinds[] = {
    {"virtio-blk", "capos-disk0", true, 1},
    {"nvme", "QEMU NVMe Ctrl capos-nvme0", false, 4},
};
constexpr Kind kind_named(std::string_view name) {
    for (const Kind& kind : kinds) {
        if (kind.name == name)
            return kind;
    }
    return {};
}
constexpr Kind kind = kind_named(CAPOS_BLK_TEST_KIND);
static_assert(!kind.name.empty(), "CAPOS_BLK_TEST_KIND names no kind of driver");
constexpr uint64_t page = 4096;

test::Suite suite("blk");

// A transport with room for BlockDevice's largest inline messages (maxInline
// bytes of data and the call's fields), which the runtime's own, a page
// each way, has not; and for a write of twice that, which the driver must
// take whole to refuse.
class LargeTransport {
public:
    std::span<capnp::Word> params_buffer() { return m_params; }
    gen::Reply call(uint32_t capability, uint64_t interface_id, uint16_t method,
                    std::span<const capnp::Word> params) {
        abi::Cqe cqe =
            rt::ring().run(rt::call_sqe(capability, interface_id, method, params, m_results));
        if (cqe.result < 0)
            return {gen::ReplyKind::TransportError, cqe.result, {}};
        std::span<const capnp::Word> message(m_results, cqe.result_len / 8);
        if (cqe.result == int32_t(abi::CallStatus::Exception))
            return {gen::ReplyKind::Exception, 0, message, true};
        return {gen::ReplyKind::Results, 0, message, true};
    }

private:
    alignas(8) capnp::Word m_params[(2 * BlockDevice::max_inline + 1024) / 8];
    alignas(8) capnp::Word m_results[(BlockDevice::max_inline + 1024) / 8];
};

LargeTransport g_transport;
using Disk = BlockDevice::Client<LargeTransport>;

// Whether `count` blocks at `data` hold generation `generation` of the
// blocks from `lba`; the detail names the first that does not.
bool holds(const uint8_t* data, uint64_t lba, uint64_t count, uint16_t generation, Line& detail) {
    for (uint64_t i = 0; i < count; ++i) {
        size_t at = pattern::first_difference(data + i * block, lba + i, generation);
        if (at != pattern::sector_bytes) {
            detail.add("block ").udec(lba + i).add(" byte ").udec(at).add(" is ");
            detail.hex(data[i * block + at]);
            return false;
        }
    }
    return true;
}

void fill(uint8_t* data, uint64_t lba, uint64_t count, uint16_t generation) {
    for (uint64_t i = 0; i < count; ++i)
        pattern::fill_sector(data + i * block, lba + i, generation);
}

// Reads `count` blocks from `lba` inline and checks them against `generation`.
void check_inline_read(Disk& disk, std::string_view what, uint64_t lba, uint32_t count,
                       uint16_t generation) {
    auto read = disk.read_blocks(lba, count, 0, 0);
    if (!suite.check_ok(what, read))
        return;
    Line detail;
    std::span<const uint8_t> data = read.value().data();
    bool ok = data.size() == uint64_t(count) * block &&
              holds(data.data(), lba, count, generation, detail);
    if (data.size() != uint64_t(count) * block)
        detail.add("data of ").udec(data.size()).add(" bytes");
    suite.check(Line(what).add(": the blocks hold their pattern").view(), ok, detail);
}

// The writes this test leaves on "disk": lba, count, generation. The
// scenario's expected image (tests/scenarios/CMakeLists.txt, blk-expected)
// lays the same over the pattern.
struct Write {
    uint64_t lba;
    uint32_t count;
    uint16_t generation;
};
constexpr Write inline_write{100, 2, 1};
constexpr Write buffer_write{6000, 128, 2};
constexpr Write last_write{disk_sectors - 1, 1, 3};
constexpr uint16_t concurrent_generation = 4; // blocks 200 to 205, one call each

// A call made by hand, so that several are outstanding at once.
struct RawCall {
    alignas(8) capnp::Word params[(block + 256) / 8];
    alignas(8) capnp::Word results[(BlockDevice::max_inline + 256) / 8];
    uint64_t ticket = 0;
    uint64_t lba = 0;
    uint32_t count = 0;
    bool write = false;
};

uint64_t submit_raw(uint32_t cap, RawCall& call) {
    capnp::MessageBuilder builder(call.params);
    uint16_t method;
    if (call.write) {
        using Params = BlockDevice::WriteBlocksParams;
        Params::Builder params(builder.init_root(Params::data_words, Params::pointer_count));
        params.set_lba(call.lba);
        params.set_count(call.count);
        auto data = params.init_data(call.count * block);
        fill(data.data(), call.lba, call.count, concurrent_generation);
        method = uint16_t(BlockDevice::Method::WriteBlocks);
    } else {
        using Params = BlockDevice::ReadBlocksParams;
        Params::Builder params(builder.init_root(Params::data_words, Params::pointer_count));
        params.set_lba(call.lba);
        params.set_count(call.count);
        method = uint16_t(BlockDevice::Method::ReadBlocks);
    }
    CAPOS_ASSERT(builder.error() == capnp::WireError::None);
    return rt::ring().submit(
        rt::call_sqe(cap, BlockDevice::interface_id, method, builder.words(), call.results));
}

void check_info(Disk& disk) {
    auto info = disk.info();
    if (!suite.check_ok("info", info))
        return;
    Line detail;
    detail.add("block size ").udec(info.value().block_size()).add(", ");
    detail.udec(info.value().blocks()).add(" blocks, at most ").udec(info.value().max_blocks());
    detail.add(", model '").add(info.value().model()).add('\'');
    suite.check(Line("info: ").add(detail.view()).view(),
                info.value().block_size() == block && info.value().blocks() == disk_sectors &&
                    info.value().max_blocks() == 512 && !info.value().read_only() &&
                    info.value().model() == kind.model,
                detail);
}

void check_transfer_buffer(Disk& disk) {
    // 65 pages: maxBlocks (512 blocks, 256 KiB) and a page more.
    constexpr uint32_t pages = 65;
    auto made = disk.transfer_buffer(pages);
    if (!suite.check_ok("transferBuffer(65)", made))
        return;
    uint32_t id = made.value().buffer();
    rt::Capability<schema::MemoryObject> memory(abi::CapId{made.value().memory()});
    suite.check("transferBuffer: the buffer's id is not 0", id != 0);
    auto mapped = memory->map(0, 0, pages, schema::Access::ReadWrite);
    if (!suite.check_ok("the transfer buffer maps", mapped))
        return;
    auto* data = reinterpret_cast<uint8_t*>(mapped.value().address());

    // The most one request moves, straight into the buffer.
    auto read = disk.read_blocks(1000, 512, id, 0);
    suite.check_ok("read 512 blocks (256 KiB) from block 1000 into the buffer", read);
    Line detail;
    suite.check("they hold blocks 1000 to 1511", holds(data, 1000, 512, 0, detail), detail);
    suite.check("an answer through a buffer carries no data",
                read.is_ok() && read.value().data().empty());
    // At an offset that is no page boundary, up to the buffer's last byte.
    uint64_t offset = pages * page - 8 * block;
    read = disk.read_blocks(disk_sectors - 8, 8, id, offset);
    suite.check_ok("read the last 8 blocks to the buffer's last 4 KiB", read);
    detail = Line();
    suite.check(
        "they hold the last blocks (the last one as written before)",
        holds(data + offset, disk_sectors - 8, 7, 0, detail) &&
            holds(data + offset + 7 * block, last_write.lba, 1, last_write.generation, detail),
        detail);
    // At an offset the device can start at that is no block's: an odd one
    // where any is, else the first past a block its alignment allows.
    if (kind.data_alignment == 1) {
        read = disk.read_blocks(7, 1, id, 3 * block + 1);
        suite.check_ok("read a block at an odd offset", read);
    } else {
        suite.check_exception("an odd offset is invalidArgument (the device's alignment)",
                              disk.read_blocks(7, 1, id, 3 * block + 1),
                              ExceptionType::InvalidArgument);
        read = disk.read_blocks(7, 1, id, 3 * block + kind.data_alignment);
        suite.check_ok("read a block at an offset of the device's alignment", read);
    }
    detail = Line();
    uint64_t at = 3 * block + kind.data_alignment;
    suite.check("it holds block 7", holds(data + at, 7, 1, 0, detail), detail);

    // A write from the buffer, read back into a cleared buffer.
    fill(data, buffer_write.lba, buffer_write.count, buffer_write.generation);
    suite.check_ok("write 128 blocks from the buffer at block 6000",
                   disk.write_blocks(buffer_write.lba, buffer_write.count, id, 0, {}));
    __builtin_memset(data, 0, buffer_write.count * block);
    suite.check_ok("read them back", disk.read_blocks(buffer_write.lba, buffer_write.count, id, 0));
    detail = Line();
    suite.check("they hold what was written",
                holds(data, buffer_write.lba, buffer_write.count, buffer_write.generation, detail),
                detail);
    check_inline_read(disk, "and inline, the first 8 of them", buffer_write.lba, 8,
                      buffer_write.generation);
    check_inline_read(disk, "and the block after them, unchanged",
                      buffer_write.lba + buffer_write.count, 1, 0);

    // What is refused with a buffer.
    suite.check_exception("count maxBlocks + 1 (513) is invalidArgument",
                          disk.read_blocks(0, 513, id, 0), ExceptionType::InvalidArgument);
    suite.check_exception("blocks past the buffer's end are invalidArgument",
                          disk.read_blocks(0, 9, id, offset), ExceptionType::InvalidArgument);
    suite.check_exception("an offset past the buffer is invalidArgument",
                          disk.read_blocks(0, 1, id, UINT64_MAX), ExceptionType::InvalidArgument);
    suite.check_exception("an offset and a count that wrap are invalidArgument",
                          disk.read_blocks(0, 512, id, UINT64_MAX - 4096),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a buffer that was never given is invalidArgument",
                          disk.read_blocks(0, 1, id + 7, 0), ExceptionType::InvalidArgument);
    uint8_t extra[block] = {};
    suite.check_exception("data with a transfer buffer is invalidArgument",
                          disk.write_blocks(0, 1, id, 0, extra), ExceptionType::InvalidArgument);
    suite.check_exception("transferBuffer(0) is invalidArgument", disk.transfer_buffer(0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("transferBuffer(513) is invalidArgument", disk.transfer_buffer(513),
                          ExceptionType::InvalidArgument);
    (void)memory->unmap(mapped.value().address());
}

void check_writes(Disk& disk) {
    uint8_t data[BlockDevice::max_inline];
    fill(data, inline_write.lba, inline_write.count, inline_write.generation);
    suite.check_ok("write 2 blocks inline at block 100",
                   disk.write_blocks(inline_write.lba, inline_write.count, 0, 0,
                                     {data, inline_write.count * block}));
    check_inline_read(disk, "read them back", inline_write.lba, inline_write.count,
                      inline_write.generation);
    check_inline_read(disk, "the blocks around them are unchanged", inline_write.lba - 1, 1, 0);
    check_inline_read(disk, "(after them)", inline_write.lba + inline_write.count, 1, 0);
    fill(data, last_write.lba, last_write.count, last_write.generation);
    suite.check_ok("write the last block inline",
                   disk.write_blocks(last_write.lba, last_write.count, 0, 0, {data, block}));
    check_inline_read(disk, "read it back", last_write.lba, 1, last_write.generation);
    // maxInline bytes of data, the largest inline write, of the pattern as it is.
    fill(data, 16, 8, 0);
    suite.check_ok("write 8 blocks (maxInline bytes) inline",
                   disk.write_blocks(16, 8, 0, 0, {data, sizeof data}));
    suite.check_ok("flush", disk.flush());
}

void check_in_flight(Disk& disk, uint32_t cap) {
    // Six writes of one block and six reads of 1 to 6 blocks, all submitted
    // before any answer is waited for; the answers are taken in the order
    // of the calls whatever order they come in.
    static RawCall calls[12];
    for (uint32_t i = 0; i < 12; ++i) {
        RawCall& call = calls[i];
        call.write = i % 2 == 0;
        call.lba = call.write ? 200 + i / 2 : 300 + 10 * (i / 2);
        call.count = call.write ? 1 : 1 + i / 2;
        call.ticket = submit_raw(cap, call);
    }
    uint32_t answered = 0;
    for (RawCall& call : calls) {
        abi::Cqe cqe = rt::ring().wait(call.ticket);
        if (cqe.result != int32_t(abi::CallStatus::Ok))
            continue;
        if (call.write) {
            ++answered;
            continue;
        }
        capnp::MessageReader reader(std::span<const capnp::Word>(call.results, cqe.result_len / 8));
        BlockDevice::ReadBlocksResults::Reader results(reader.root());
        Line detail;
        if (results.data().size() == call.count * block &&
            holds(results.data().data(), call.lba, call.count, 0, detail))
            ++answered;
    }
    suite.check("12 calls in flight at once (6 reads, 6 writes): each answered with its own blocks",
                answered == 12, Line().udec(answered).add(" answered rightly"));
    check_inline_read(disk, "the 6 blocks written at once read back", 200, 6,
                      concurrent_generation);
}

void check_refused(Disk& disk) {
    auto refused = [&](std::string_view what, uint64_t lba, uint32_t count) {
        suite.check_exception(what, disk.read_blocks(lba, count, 0, 0),
                              ExceptionType::InvalidArgument);
    };
    refused("a count of 0 is invalidArgument", 0, 0);
    refused("block 8192 (past the end) is invalidArgument", disk_sectors, 1);
    refused("2 blocks from the last one are invalidArgument", disk_sectors - 1, 2);
    refused("block 2^64 - 1 is invalidArgument", UINT64_MAX, 1);
    refused("9 blocks inline (more than maxInline) are invalidArgument", 0, 9);
    suite.check_exception("an offset without a transfer buffer is invalidArgument",
                          disk.read_blocks(0, 1, 0, 512), ExceptionType::InvalidArgument);
    uint8_t data[2 * block] = {};
    suite.check_exception("data of 1 block for 2 is invalidArgument",
                          disk.write_blocks(0, 2, 0, 0, {data, block}),
                          ExceptionType::InvalidArgument);
    suite.check_exception("data of 2 blocks for 1 is invalidArgument",
                          disk.write_blocks(0, 1, 0, 0, {data, 2 * block}),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a write past the end is invalidArgument",
                          disk.write_blocks(disk_sectors, 1, 0, 0, {data, block}),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a write of 0 blocks is invalidArgument",
                          disk.write_blocks(5, 0, 0, 0, {}), ExceptionType::InvalidArgument);
    // A call larger than the driver's small receive buffers: passed over
    // them to its large one, taken whole and refused by its content.
    static uint8_t twice[2 * BlockDevice::max_inline] = {};
    suite.check_exception("16 blocks of inline data (twice maxInline) are invalidArgument",
                          disk.write_blocks(0, 16, 0, 0, {twice, sizeof twice}),
                          ExceptionType::InvalidArgument);
}

// The scenario makes the device fail every read that covers block 7000 and
// every write that covers block 7001 (the runner's read-error= and
// write-error=): the device's error status comes back as `failed`, and the
// disk goes on serving.
void check_device_errors(Disk& disk) {
    suite.check_exception("a read the device fails (block 7000) is failed",
                          disk.read_blocks(7000, 1, 0, 0), ExceptionType::Failed);
    suite.check_exception("so is one that covers it (blocks 6998 to 7001)",
                          disk.read_blocks(6998, 4, 0, 0), ExceptionType::Failed);
    uint8_t data[block];
    fill(data, 7001, 1, 9);
    suite.check_exception("a write the device fails (block 7001) is failed",
                          disk.write_blocks(7001, 1, 0, 0, data), ExceptionType::Failed);
    check_inline_read(disk, "then block 6999 reads as ever", 6999, 1, 0);
    check_inline_read(disk, "and block 7001 is unchanged", 7001, 1, 0);
}

void check_read_only(uint32_t cap) {
    Disk disk(g_transport, cap);
    auto info = disk.info();
    if (suite.check_ok("ro: info", info)) {
        Line detail;
        detail.udec(info.value().blocks()).add(" blocks, model '").add(info.value().model());
        detail.add('\'');
        suite.check("ro: read-only, the image's size, a model named by its kind",
                    info.value().read_only() && info.value().blocks() == disk_sectors &&
                        info.value().model() == "virtio-blk",
                    detail);
    }
    check_inline_read(disk, "ro: read block 5", 5, 1, 0);
    uint8_t data[block] = {};
    suite.check_exception("ro: a write is permissionDenied", disk.write_blocks(5, 1, 0, 0, data),
                          ExceptionType::PermissionDenied);
    suite.check_ok("ro: flush", disk.flush());
}

} // namespace

int main() {
    auto found = rt::find_capability("disk");
    auto read_only = rt::find_capability("ro");
    if (kind.read_only_disk &&
        !suite.check("the CapSet has 'disk' and 'ro'", found.is_ok() && read_only.is_ok()))
        return suite.finish();
    if (!kind.read_only_disk && !suite.check("the CapSet has 'disk'", found.is_ok()))
        return suite.finish();
    uint32_t cap = found.value().id.raw;
    Disk disk(g_transport, cap);
    check_info(disk);
    check_inline_read(disk, "read block 0 inline", 0, 1, 0);
    check_inline_read(disk, "read the last block inline", disk_sectors - 1, 1, 0);
    check_inline_read(disk, "read 8 blocks (maxInline bytes) from block 4096", 4096, 8, 0);
    check_writes(disk);
    check_transfer_buffer(disk);
    check_in_flight(disk, cap);
    check_refused(disk);
    check_device_errors(disk);
    suite.check_exception("another interface's method is unimplemented",
                          schema::Echo::Client<LargeTransport>(g_transport, cap).echo("x"),
                          ExceptionType::Unimplemented);
    if (kind.read_only_disk)
        check_read_only(read_only.value().id.raw);
    return suite.finish();
}
