// lib/block/request.h: the checks every block driver makes of a call before
// the device sees it.
#include "lib/block/request.h"

#include <gtest/gtest.h>

namespace {

using namespace capos::block;

template <typename T>
RequestError error_of(const capos::Result<T, RequestError>& result) {
    EXPECT_TRUE(result.is_error());
    return result.is_error() ? result.error() : RequestError::CountZero;
}

Geometry disk_of(uint64_t blocks, uint32_t max_blocks, uint32_t alignment = 1) {
    Geometry geometry;
    geometry.block_size = 512;
    geometry.blocks = blocks;
    geometry.max_blocks = max_blocks;
    geometry.data_alignment = alignment;
    geometry.max_inline = 4096;
    return geometry;
}

TEST(BlockRequest, RangesStopAtTheDisksEnd) {
    Geometry disk = disk_of(100, 16);
    EXPECT_TRUE(check_range(disk, 0, 1).is_ok());
    EXPECT_TRUE(check_range(disk, 99, 1).is_ok());
    EXPECT_TRUE(check_range(disk, 84, 16).is_ok());
    EXPECT_EQ(error_of(check_range(disk, 0, 0)), RequestError::CountZero);
    EXPECT_EQ(error_of(check_range(disk, 0, 17)), RequestError::TooManyBlocks);
    EXPECT_EQ(error_of(check_range(disk, 100, 1)), RequestError::PastEnd);
    EXPECT_EQ(error_of(check_range(disk, 85, 16)), RequestError::PastEnd);
    // A sum that would wrap is still past the end.
    EXPECT_EQ(error_of(check_range(disk, UINT64_MAX, 2)), RequestError::PastEnd);
    EXPECT_EQ(error_of(check_range(disk, UINT64_MAX - 1, 16)), RequestError::PastEnd);
    disk.blocks = 0;
    EXPECT_EQ(error_of(check_range(disk, 0, 1)), RequestError::PastEnd);

    EXPECT_TRUE(fits_buffer(4096, 0, 4096));
    EXPECT_TRUE(fits_buffer(4096, 4096, 0));
    EXPECT_TRUE(fits_buffer(8192, 512, 4096));
    EXPECT_FALSE(fits_buffer(4096, 1, 4096));
    EXPECT_FALSE(fits_buffer(4096, 4097, 0));
    EXPECT_FALSE(fits_buffer(4096, UINT64_MAX, 2));
    EXPECT_FALSE(fits_buffer(4096, 2, UINT64_MAX));
}

TEST(BlockRequest, BuffersAreGivenWithinTheirLimits) {
    TransferBuffer storage[3];
    TransferBuffers buffers(storage, TransferLimits{8, 12});
    EXPECT_EQ(buffers.check_grant(0).error(), GrantError::PageCount);
    EXPECT_EQ(buffers.check_grant(9).error(), GrantError::PageCount);
    ASSERT_TRUE(buffers.check_grant(8).is_ok());
    EXPECT_EQ(buffers.add({0x10000, 8 * 4096, 7}, 8), 1u);
    // 4 pages of the budget are left.
    EXPECT_EQ(buffers.check_grant(5).error(), GrantError::Exhausted);
    EXPECT_EQ(buffers.add({0x30000, 2 * 4096, 9}, 2), 2u);
    EXPECT_EQ(buffers.add({0x40000, 4096, 7}, 1), 3u);
    // Every place taken, though a page is left.
    EXPECT_EQ(buffers.check_grant(1).error(), GrantError::Exhausted);
    EXPECT_EQ(buffers.count(), 3u);

    ASSERT_NE(buffers.find(1, 7), nullptr);
    EXPECT_EQ(buffers.find(1, 7)->device_address, 0x10000u);
    EXPECT_EQ(buffers.find(3, 7)->device_address, 0x40000u);
    EXPECT_EQ(buffers.find(2, 9)->bytes, 8192u);
    // Another process's buffer, id 0, ids never given.
    EXPECT_EQ(buffers.find(2, 7), nullptr);
    EXPECT_EQ(buffers.find(1, 9), nullptr);
    EXPECT_EQ(buffers.find(0, 7), nullptr);
    EXPECT_EQ(buffers.find(4, 7), nullptr);
    EXPECT_EQ(buffers.find(UINT32_MAX, 7), nullptr);
}

TEST(BlockRequest, ReadsInlineOrInTheCallersBuffer) {
    TransferBuffer storage[2];
    TransferBuffers buffers(storage, TransferLimits{});
    (void)buffers.add({0x100000, 65 * 4096, 5}, 65);
    Geometry disk = disk_of(8192, 512);

    auto inline_read = place_read(disk, buffers, 5, {10, 8, 0, 0});
    ASSERT_TRUE(inline_read.is_ok());
    EXPECT_TRUE(inline_read.value().inline_data);
    EXPECT_EQ(inline_read.value().bytes, 4096u);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {10, 9, 0, 0})), RequestError::InlineTooLarge);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {10, 1, 0, 512})),
              RequestError::OffsetWithoutBuffer);

    auto buffered = place_read(disk, buffers, 5, {1000, 512, 1, 4096});
    ASSERT_TRUE(buffered.is_ok());
    EXPECT_FALSE(buffered.value().inline_data);
    EXPECT_EQ(buffered.value().device_address, 0x101000u);
    EXPECT_EQ(buffered.value().bytes, 512u * 512);
    // Up to the buffer's last byte, not past it.
    EXPECT_TRUE(place_read(disk, buffers, 5, {0, 8, 1, 65 * 4096 - 4096}).is_ok());
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {0, 9, 1, 65 * 4096 - 4096})),
              RequestError::PastBufferEnd);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {0, 1, 1, UINT64_MAX})),
              RequestError::PastBufferEnd);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {0, 512, 1, UINT64_MAX - 4096})),
              RequestError::PastBufferEnd);
    EXPECT_EQ(error_of(place_read(disk, buffers, 6, {0, 1, 1, 0})), RequestError::NoSuchBuffer);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {0, 1, 2, 0})), RequestError::NoSuchBuffer);
    // The range is checked first, whatever the data.
    EXPECT_EQ(error_of(place_read(disk, buffers, 6, {8192, 1, 9, 7})), RequestError::PastEnd);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {0, 0, 0, 0})), RequestError::CountZero);
    EXPECT_EQ(error_of(place_read(disk, buffers, 5, {0, 513, 1, 0})), RequestError::TooManyBlocks);
}

TEST(BlockRequest, OffsetsTheDeviceCannotStartAtAreRefused) {
    TransferBuffer storage[1];
    TransferBuffers buffers(storage, TransferLimits{});
    (void)buffers.add({0x200000, 4 * 4096, 1}, 4);
    Geometry anywhere = disk_of(64, 64, 1);
    Geometry dwords = disk_of(64, 64, 4);
    EXPECT_TRUE(place_read(anywhere, buffers, 1, {0, 1, 1, 1537}).is_ok());
    EXPECT_EQ(error_of(place_read(dwords, buffers, 1, {0, 1, 1, 1537})), RequestError::Misaligned);
    EXPECT_EQ(error_of(place_read(dwords, buffers, 1, {0, 1, 1, 1538})), RequestError::Misaligned);
    auto aligned = place_read(dwords, buffers, 1, {0, 1, 1, 1540});
    ASSERT_TRUE(aligned.is_ok());
    EXPECT_EQ(aligned.value().device_address, 0x200000u + 1540);
}

TEST(BlockRequest, WritesCarryExactlyTheirBlocks) {
    TransferBuffer storage[1];
    TransferBuffers buffers(storage, TransferLimits{});
    (void)buffers.add({0x300000, 4096, 3}, 1);
    Geometry disk = disk_of(100, 16);
    EXPECT_TRUE(place_write(disk, buffers, 3, {0, 2, 0, 0}, 1024).is_ok());
    EXPECT_EQ(error_of(place_write(disk, buffers, 3, {0, 2, 0, 0}, 512)), RequestError::DataSize);
    EXPECT_EQ(error_of(place_write(disk, buffers, 3, {0, 1, 0, 0}, 1024)), RequestError::DataSize);
    EXPECT_TRUE(place_write(disk, buffers, 3, {0, 8, 1, 0}, 0).is_ok());
    EXPECT_EQ(error_of(place_write(disk, buffers, 3, {0, 1, 1, 0}, 512)),
              RequestError::DataWithBuffer);
    EXPECT_EQ(error_of(place_write(disk, buffers, 3, {100, 1, 0, 0}, 512)), RequestError::PastEnd);
    EXPECT_EQ(error_of(place_write(disk, buffers, 3, {5, 0, 0, 0}, 0)), RequestError::CountZero);
}

TEST(BlockRequest, EveryErrorIsNamed) {
    for (uint8_t error = 0; error <= uint8_t(RequestError::DataWithBuffer); ++error)
        EXPECT_STRNE(to_string(RequestError(error)), "unknown request error") << int(error);
}

} // namespace
