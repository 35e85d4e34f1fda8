// What the disk clients of the driver tests check of a block: that a read
// of block `lba` through `disk` holds generation `generation` of the test
// pattern (tools/mkdisk/disk_pattern.h), as one check of `suite`.
#pragma once

#include "schema/capos.capnp.capos.h"
#include "tools/mkdisk/disk_pattern.h"
#include "user/tests/common/test.h"

namespace capos::test {

inline bool block_reads(Suite& suite, rt::Capability<schema::BlockDevice>& disk,
                        std::string_view what, uint64_t lba, uint16_t generation) {
    auto read = disk->read_blocks(lba, 1, 0, 0);
    if (read.is_error())
        return suite.check_ok(what, read);
    std::span<const uint8_t> data = read.value().data();
    bool ok =
        data.size() == disk_pattern::sector_bytes &&
        disk_pattern::first_difference(data.data(), lba, generation) == disk_pattern::sector_bytes;
    return suite.check(what, ok, Line("block ").udec(lba).add(" differs"));
}

} // namespace capos::test
