// lib/args: the arguments block a new process finds (abi/args.h), written and
// read back, at the limits and corrupted.
#include "lib/args/args_block.h"
#include <array>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {

using capos::args::fits;
using capos::args::Reader;
using capos::args::write;
namespace abi = capos::abi;

std::array<uint8_t, abi::args_block_size> block_of(const std::vector<std::string>& args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    EXPECT_TRUE(fits(views));
    std::array<uint8_t, abi::args_block_size> block;
    block.fill(0xa5);
    write(block, views);
    return block;
}

TEST(ArgsBlock, RoundTrip) {
    std::vector<std::string> args = {"sleep", "", "5", std::string("a\0b", 3), "last"};
    auto block = block_of(args);
    Reader reader(block);
    ASSERT_EQ(reader.count(), args.size());
    for (size_t i = 0; i < args.size(); ++i) {
        EXPECT_EQ(reader[i], args[i]);
        // Each argument is followed by a NUL.
        EXPECT_EQ(reader[i].data()[reader[i].size()], '\0');
    }
    EXPECT_EQ(reader[args.size()], "");
    EXPECT_EQ(Reader(block_of({})).count(), 0u);
}

TEST(ArgsBlock, Limits) {
    // The most arguments, and the most bytes, fit; one more of either does not.
    std::vector<std::string> most(abi::args_max_count, "x");
    EXPECT_EQ(Reader(block_of(most)).count(), abi::args_max_count);
    most.push_back("x");
    std::vector<std::string_view> views(most.begin(), most.end());
    EXPECT_FALSE(fits(views));

    std::string longest(abi::args_max_text - 1, 'y');
    auto block = block_of({longest});
    EXPECT_EQ(Reader(block)[0], longest);
    std::string longer = longest + "y";
    std::string_view too_long[] = {longer};
    EXPECT_FALSE(fits(too_long));
    std::string half(abi::args_max_text / 2 - 1, 'z');
    std::string_view two_halves[] = {half, half};
    EXPECT_TRUE(fits(two_halves));
    std::string_view just_over[] = {half, half, ""};
    EXPECT_FALSE(fits(just_over));
}

TEST(ArgsBlock, CorruptBlocksReadAsNothingOrEmpty) {
    auto block = block_of({"one", "two"});
    auto bad_magic = block;
    bad_magic[0] ^= 1;
    EXPECT_EQ(Reader(bad_magic).count(), 0u);
    auto too_many = block;
    uint32_t count = abi::args_max_count + 1;
    __builtin_memcpy(too_many.data() + 4, &count, 4);
    EXPECT_EQ(Reader(too_many).count(), 0u);
    // Entries pointing outside the block read as empty, never beyond it.
    auto outside = block;
    abi::ArgEntry entry{uint32_t(abi::args_block_size - 2), 3};
    __builtin_memcpy(outside.data() + sizeof(abi::ArgsHeader), &entry, sizeof entry);
    EXPECT_EQ(Reader(outside)[0], "");
    entry = {uint32_t(abi::args_block_size - 2), 2};
    __builtin_memcpy(outside.data() + sizeof(abi::ArgsHeader), &entry, sizeof entry);
    EXPECT_EQ(Reader(outside)[0].size(), 2u);
    entry = {0xffffffffu, 0xffffffffu};
    __builtin_memcpy(outside.data() + sizeof(abi::ArgsHeader), &entry, sizeof entry);
    EXPECT_EQ(Reader(outside)[0], "");
    EXPECT_EQ(Reader(outside)[1], "two");
}

} // namespace
