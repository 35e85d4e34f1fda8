// A client of scenario.disks_two_kinds: four disks, two on virtio-blk and
// two on NVMe functions, each served by a driver process of its own, and
// four clients (this program, started once for each) each granted one disk
// under that disk's name. Each checks that it holds its own disk and nothing
// else (its CapSet has the console and that one name), that the disk is the
// one the host made for that name (its model, size and every block it reads
// of the generation the host wrote there), and writes block 1 with a
// generation of its own, which the runner finds on that disk alone after the
// power-off (the scenario's drive-expect images).
#include "schema/capos.capnp.capos.h"
#include "tools/mkdisk/disk_pattern.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::BlockDevice;
namespace pattern = capos::disk_pattern;

namespace {

// The disks as the host made them (tests/scenarios/CMakeLists.txt,
// disks-two-*): every sector of generation `generation`, and the model each
// driver reports for its device's serial.
struct Known {
    std::string_view name;
    uint16_t generation;
    std::string_view model;
};
constexpr Known known_disks[] = {
    {"v0", 10, "capos-v0"},
    {"v1", 11, "capos-v1"},
    {"n0", 12, "QEMU NVMe Ctrl capos-n0"},
    {"n1", 13, "QEMU NVMe Ctrl capos-n1"},
};
constexpr uint64_t disk_sectors = 2048;
// The generation a client writes to block 1 of its disk: its disk's plus 8.
constexpr uint16_t written_offset = 8;

test::Suite suite("disk-owner");

bool holds(std::span<const uint8_t> data, uint64_t lba, uint16_t generation) {
    for (size_t at = 0; at < data.size(); at += pattern::sector_bytes) {
        if (pattern::first_difference(data.data() + at, lba + at / pattern::sector_bytes,
                                      generation) != pattern::sector_bytes)
            return false;
    }
    return !data.empty();
}

} // namespace

int main() {
    const Known* own = nullptr;
    uint32_t held = 0;
    for (const Known& disk : known_disks) {
        if (rt::find_capability(disk.name).is_ok()) {
            own = &disk;
            ++held;
        }
    }
    if (!suite.check("the CapSet names exactly one of the four disks", held == 1,
                     Line().udec(held).add(" named")))
        return suite.finish();
    Line prefix(own->name);
    prefix.add(": ");
    auto what = [&](std::string_view text) { return Line(prefix.view()).add(text); };

    // Nothing but the console and its own disk: no other disk's capability.
    const abi::CapSetPage& capset = rt::capset();
    uint32_t others = 0;
    for (uint32_t i = 0; i < capset.header.count; ++i) {
        std::string_view name(capset.entries[i].name);
        if (name != "console" && name != own->name)
            ++others;
    }
    suite.check(what("the CapSet holds only the console and this disk").view(), others == 0,
                Line().udec(others).add(" others"));

    auto disk = rt::lookup<BlockDevice>(own->name);
    if (!suite.check(what("the disk is a BlockDevice").view(), disk.is_ok()))
        return suite.finish();
    auto info = disk.value()->info();
    if (suite.check_ok(what("info").view(), info)) {
        Line detail;
        detail.udec(info.value().blocks()).add(" blocks, model '").add(info.value().model());
        detail.add('\'');
        suite.check(what("its model and size are this disk's").view(),
                    info.value().model() == own->model && info.value().blocks() == disk_sectors &&
                        info.value().block_size() == pattern::sector_bytes,
                    detail);
    }
    for (uint64_t lba : {uint64_t(0), disk_sectors / 2, disk_sectors - 8}) {
        auto read = disk.value()->read_blocks(lba, 8, 0, 0);
        Line detail;
        detail.add("blocks from ").udec(lba);
        suite.check(what("8 blocks read hold this disk's generation").view(),
                    read.is_ok() && holds(read.value().data(), lba, own->generation), detail);
    }
    uint8_t block[pattern::sector_bytes];
    uint16_t written = uint16_t(own->generation + written_offset);
    pattern::fill_sector(block, 1, written);
    suite.check_ok(what("write block 1").view(), disk.value()->write_blocks(1, 1, 0, 0, block));
    suite.check_ok(what("flush").view(), disk.value()->flush());
    auto read = disk.value()->read_blocks(1, 1, 0, 0);
    suite.check(what("block 1 reads back as written").view(),
                read.is_ok() && holds(read.value().data(), 1, written));
    return suite.finish();
}
