// A client of a driver whose device stops answering (scenario.blk_timeout):
// "disk", a BlockDevice served by virtio_blk_hung (the virtio-blk driver
// built to give the device nothing from its third request on, with
// requests timing out after 2 s), which init starts again once
// (restarts = 1); "supervisor", init's Supervisor for this process.
//
// Checked: a write flushed before the device stops answering; three reads
// in flight when it has (the driver's third, fourth and fifth requests) are
// each answered, none left waiting: disconnected, saying that the driver
// gave up on its device; reconnect hands the new driver's disk once init has
// started it again, through which the flushed write reads back. Nothing here
// waits for time to pass: each step waits for an answer.
#include "schema/capos.capnp.capos.h"
#include "tools/mkdisk/disk_pattern.h"
#include "user/tests/common/disk_check.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::BlockDevice;
using schema::CapException;
using schema::ExceptionType;
using schema::Supervisor;
namespace pattern = capos::disk_pattern;

namespace {

constexpr uint32_t block = 512;
constexpr uint64_t written_lba = 100;
constexpr uint16_t written_generation = 5;

test::Suite suite("blk-timeout");

// A read of one block inline kept in flight beside others.
struct InFlight {
    alignas(8) capnp::Word params[8];
    alignas(8) capnp::Word results[(BlockDevice::max_inline + 256) / 8];
    uint64_t ticket = 0;
};

uint64_t submit_read(uint32_t cap, uint64_t lba, InFlight& call) {
    capnp::MessageBuilder builder(call.params);
    using Params = BlockDevice::ReadBlocksParams;
    Params::Builder params(builder.init_root(Params::data_words, Params::pointer_count));
    params.set_lba(lba);
    params.set_count(1);
    CAPOS_ASSERT(builder.error() == capnp::WireError::None);
    return rt::ring().submit(rt::call_sqe(cap, BlockDevice::interface_id,
                                          uint16_t(BlockDevice::Method::ReadBlocks),
                                          builder.words(), call.results));
}

// Whether `call`'s answer is a disconnected exception saying the driver gave
// up on its device; `detail` says what came otherwise.
bool gave_up(const InFlight& call, const abi::Cqe& cqe, Line& detail) {
    if (cqe.result != int32_t(abi::CallStatus::Exception)) {
        detail.add("result ").add(abi::cqe_result_name(cqe.result));
        return false;
    }
    capnp::MessageReader reader(std::span<const capnp::Word>(call.results, cqe.result_len / 8));
    CapException::Reader exception(reader.root());
    std::string_view message = exception.message();
    if (exception.type() != ExceptionType::Disconnected ||
        message.find("gave up on its device") == std::string_view::npos ||
        message.find("had no answer from the device") == std::string_view::npos) {
        detail.add("exception '").add(message).add('\'');
        return false;
    }
    return true;
}

} // namespace

int main() {
    auto disk = rt::lookup<BlockDevice>("disk");
    auto supervisor = rt::lookup<Supervisor>("supervisor");
    if (!suite.check("the disk and the supervisor are granted", disk.is_ok() && supervisor.is_ok()))
        return suite.finish();

    // Requests 1 and 2 of the first driver: a write and a flush.
    uint8_t data[block];
    pattern::fill_sector(data, written_lba, written_generation);
    suite.check_ok("write block 100",
                   disk.value()->write_blocks(written_lba, 1, 0, 0, std::span(data, block)));
    suite.check_ok("flush", disk.value()->flush());

    // Requests 3 to 5: the device never sees them. Each is answered once the
    // first has been on the device past the driver's bound.
    static InFlight calls[3];
    for (uint32_t i = 0; i < 3; ++i)
        calls[i].ticket = submit_read(disk.value().id().raw, 10 + i, calls[i]);
    uint32_t answered = 0;
    Line detail;
    for (InFlight& call : calls) {
        if (gave_up(call, rt::ring().wait(call.ticket), detail))
            ++answered;
    }
    suite.check("three reads in flight when the device stops answering: each answered "
                "disconnected, the driver having given up on its device",
                answered == 3, detail);

    auto again = supervisor.value()->reconnect("disk");
    if (!suite.check_ok("reconnect once init has started the driver again", again))
        return suite.finish();
    rt::Capability<BlockDevice> second(abi::CapId{again.value().cap()});
    test::block_reads(suite, second, "the flushed write reads back through the new driver",
                      written_lba, written_generation);
    test::block_reads(suite, second, "a block around it holds its pattern", written_lba + 1, 0);
    return suite.finish();
}
