// lib/capnp/capabilities: finding and renumbering capability pointers.
#include "lib/capnp/capabilities.h"
#include <gtest/gtest.h>
#include <set>
#include <vector>

namespace capos::capnp {
namespace {

// root { cap, struct { cap }, list(pointer) [cap, null, cap], list(struct) [{cap}, {cap}] }
class CapabilityMessage : public ::testing::Test {
protected:
    void SetUp() override {
        MessageBuilder builder(m_buffer);
        StructBuilder root = builder.init_root(0, 4);
        root.pointer_field(0).set_capability(10);
        root.pointer_field(1).init_struct(1, 1).pointer_field(0).set_capability(11);
        ListBuilder pointers = root.pointer_field(2).init_list(ElementSize::Pointer, 3);
        pointers.get_pointer(0).set_capability(12);
        pointers.get_pointer(2).set_capability(13);
        ListBuilder structs = root.pointer_field(3).init_struct_list(2, 1, 1);
        structs.get_struct(0).pointer_field(0).set_capability(14);
        structs.get_struct(1).pointer_field(0).set_capability(15);
        ASSERT_EQ(builder.error(), WireError::None);
        std::span<const Word> words = builder.words();
        m_words.assign(words.begin(), words.end());
    }

    std::vector<Word> m_words;

private:
    Word m_buffer[64];
};

TEST_F(CapabilityMessage, ReadFindsEveryCapability) {
    MessageReader message{std::span<const Word>(m_words)};
    std::multiset<uint32_t> seen;
    EXPECT_EQ(for_each_capability(message, CapabilityWalk::Read,
                                  [&](uint32_t& index) {
                                      seen.insert(index);
                                      return true;
                                  }),
              WireError::None);
    EXPECT_EQ(seen, (std::multiset<uint32_t>{10, 11, 12, 13, 14, 15}));
}

TEST_F(CapabilityMessage, RewriteRenumbersInPlace) {
    MessageReader message{std::span<const Word>(m_words)};
    EXPECT_EQ(for_each_capability(message, CapabilityWalk::Rewrite,
                                  [](uint32_t& index) {
                                      index += 100;
                                      return true;
                                  }),
              WireError::None);
    MessageReader again{std::span<const Word>(m_words)};
    std::multiset<uint32_t> seen;
    EXPECT_EQ(for_each_capability(again, CapabilityWalk::Read,
                                  [&](uint32_t& index) {
                                      seen.insert(index);
                                      return true;
                                  }),
              WireError::None);
    EXPECT_EQ(seen, (std::multiset<uint32_t>{110, 111, 112, 113, 114, 115}));
}

TEST_F(CapabilityMessage, ReadDoesNotWrite) {
    std::vector<Word> before = m_words;
    MessageReader message{std::span<const Word>(m_words)};
    EXPECT_EQ(for_each_capability(message, CapabilityWalk::Read,
                                  [](uint32_t& index) {
                                      index = 99;
                                      return true;
                                  }),
              WireError::None);
    EXPECT_EQ(m_words, before);
}

TEST_F(CapabilityMessage, VisitorCanStopTheWalk) {
    MessageReader message{std::span<const Word>(m_words)};
    int calls = 0;
    EXPECT_EQ(for_each_capability(message, CapabilityWalk::Read,
                                  [&](uint32_t& index) {
                                      ++calls;
                                      return index != 12;
                                  }),
              WireError::CapabilityPointer);
    EXPECT_LT(calls, 6);
}

TEST(CapabilityWalk, MalformedMessagesReportTheirError) {
    // Root pointer to a struct far outside the one-word segment.
    std::vector<Word> words = {Word{0x0000000100000000ull | (1000u << 2)}};
    MessageReader message{std::span<const Word>(words)};
    EXPECT_EQ(for_each_capability(message, CapabilityWalk::Read, [](uint32_t&) { return true; }),
              WireError::OutOfBounds);
}

TEST(CapabilityWalk, EmptyMessageHasNone) {
    std::vector<Word> words = {Word{0}};
    MessageReader message{std::span<const Word>(words)};
    int calls = 0;
    EXPECT_EQ(for_each_capability(message, CapabilityWalk::Read,
                                  [&](uint32_t&) {
                                      ++calls;
                                      return true;
                                  }),
              WireError::None);
    EXPECT_EQ(calls, 0);
}

} // namespace
} // namespace capos::capnp
