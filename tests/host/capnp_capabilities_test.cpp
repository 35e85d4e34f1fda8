// lib/capnp/capabilities: finding and renumbering capability pointers, in
// trees, in shared objects (DAGs), behind far pointers, and in hostile
// messages, which must fail with the message unchanged.
#include "lib/capnp/capabilities.h"
#include "tests/host/capnp_hand.h"
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <vector>

namespace capos::capnp {
namespace {

using Words = std::vector<Word>;

using namespace hand; // capnp_hand.h

// Every capability pointer a walk reports, as (offset, index), once per path.
std::multiset<std::pair<size_t, uint32_t>> capabilities_of(const Words& words) {
    MessageReader message{std::span<const Word>(words)};
    std::multiset<std::pair<size_t, uint32_t>> found;
    EXPECT_EQ(for_each_capability(message,
                                  [&](const CapabilityPointer& pointer) {
                                      EXPECT_EQ(pointer.segment, 0u);
                                      found.insert({pointer.offset, pointer.index});
                                      return true;
                                  }),
              WireError::None);
    return found;
}

WireError renumber(Words& words, std::span<const CapabilityRename> renames,
                   ReaderLimits limits = {}) {
    std::vector<uint64_t> seen(renumber_bitmap_words(words.size()), ~uint64_t{0});
    return renumber_capabilities(words, limits, renames, seen);
}

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

    Words m_words;

private:
    Word m_buffer[64];
};

TEST_F(CapabilityMessage, ReadFindsEveryCapabilityWhereItIs) {
    auto found = capabilities_of(m_words);
    std::multiset<uint32_t> indexes;
    for (auto [offset, index] : found) {
        ASSERT_LT(offset, m_words.size());
        EXPECT_EQ(m_words[offset], cap_ptr(index));
        indexes.insert(index);
    }
    EXPECT_EQ(indexes, (std::multiset<uint32_t>{10, 11, 12, 13, 14, 15}));
    EXPECT_EQ(std::set(found.begin(), found.end()).size(), 6u); // six places
}

TEST_F(CapabilityMessage, ReadDoesNotWriteAndChargesTheBudget) {
    Words before = m_words;
    MessageReader message(std::span<const Word>(m_words), ReaderLimits{1000, 64});
    EXPECT_EQ(for_each_capability(message, [](const CapabilityPointer&) { return true; }),
              WireError::None);
    EXPECT_EQ(m_words, before);
    EXPECT_LT(message.traversal_left(), 1000u);
}

TEST_F(CapabilityMessage, VisitorCanStopTheWalk) {
    MessageReader message{std::span<const Word>(m_words)};
    int calls = 0;
    EXPECT_EQ(for_each_capability(message,
                                  [&](const CapabilityPointer& pointer) {
                                      ++calls;
                                      return pointer.index != 12;
                                  }),
              WireError::CapabilityPointer);
    EXPECT_LT(calls, 6);
}

TEST_F(CapabilityMessage, RenumberRenamesEveryPointerInPlace) {
    Words before = m_words;
    const CapabilityRename renames[] = {{10, 110}, {11, 111}, {12, 112},
                                        {13, 113}, {14, 114}, {15, 115}};
    EXPECT_EQ(renumber(m_words, renames), WireError::None);
    ASSERT_EQ(m_words.size(), before.size());
    for (size_t i = 0; i < m_words.size(); ++i) {
        if (before[i] != 0 && (before[i] & 0xffffffff) == 3)
            EXPECT_EQ(m_words[i], cap_ptr(static_cast<uint32_t>(before[i] >> 32) + 100)) << i;
        else
            EXPECT_EQ(m_words[i], before[i]) << i;
    }
}

TEST_F(CapabilityMessage, UnknownIndexFailsAndChangesNothing) {
    Words before = m_words;
    // 15 is the last pointer reached: every other one has a rename.
    const CapabilityRename renames[] = {{10, 1}, {11, 2}, {12, 3}, {13, 4}, {14, 5}};
    EXPECT_EQ(renumber(m_words, renames), WireError::CapabilityPointer);
    EXPECT_EQ(m_words, before);
    EXPECT_EQ(renumber(m_words, {}), WireError::CapabilityPointer);
    EXPECT_EQ(m_words, before);
}

TEST_F(CapabilityMessage, ShortBitmapIsRefusedBeforeAnything) {
    Words before = m_words;
    const CapabilityRename renames[] = {{10, 1}, {11, 2}, {12, 3}, {13, 4}, {14, 5}, {15, 6}};
    ASSERT_GT(m_words.size(), 0u);
    std::vector<uint64_t> seen(renumber_bitmap_words(m_words.size()) - 1);
    EXPECT_EQ(renumber_capabilities(m_words, {}, renames, seen), WireError::BufferFull);
    EXPECT_EQ(m_words, before);
    EXPECT_EQ(renumber_bitmap_words(0), 0u);
    EXPECT_EQ(renumber_bitmap_words(64), 1u);
    EXPECT_EQ(renumber_bitmap_words(65), 2u);
}

// root { a, b, c } where a and b both point at one struct { cap(A) } and c is cap(B).
constexpr uint32_t A = 7;
constexpr uint32_t B = 9;
Words shared_capability_message() {
    return {struct_ptr(0, 0, 3), struct_ptr(2, 0, 1), struct_ptr(1, 0, 1), cap_ptr(B), cap_ptr(A)};
}

// validate() tells whether a message holds a capability pointer anywhere it
// walks: in a struct's pointers, a pointer list, a struct list's elements, and
// behind a far pointer (its general path); and that one without any holds none.
TEST_F(CapabilityMessage, ValidateTellsWhetherThereAreCapabilities) {
    bool found = false;
    EXPECT_EQ(validate(MessageReader{std::span<const Word>(m_words)}, &found), WireError::None);
    EXPECT_TRUE(found);

    // Each of the six alone: null the other pointers of the root.
    for (size_t keep = 0; keep < 4; ++keep) {
        Words words = m_words;
        for (size_t field = 0; field < 4; ++field) {
            if (field != keep)
                words[1 + field] = 0; // the root's pointer section starts at word 1
        }
        found = false;
        EXPECT_EQ(validate(MessageReader{std::span<const Word>(words)}, &found), WireError::None);
        EXPECT_TRUE(found) << "pointer field " << keep;
    }

    Words none = m_words;
    for (size_t field = 0; field < 4; ++field)
        none[1 + field] = 0;
    found = true;
    EXPECT_EQ(validate(MessageReader{std::span<const Word>(none)}, &found), WireError::None);
    EXPECT_FALSE(found);
}

TEST(CapabilityValidate, BehindAFarPointer) {
    // root { far -> pad -> struct { cap } }
    Words words = {struct_ptr(0, 0, 1), far_ptr(false, 2, 0), struct_ptr(0, 0, 1), cap_ptr(5)};
    bool found = false;
    EXPECT_EQ(validate(MessageReader{std::span<const Word>(words)}, &found), WireError::None);
    EXPECT_TRUE(found);
    words[3] = 0;
    EXPECT_EQ(validate(MessageReader{std::span<const Word>(words)}, &found), WireError::None);
    EXPECT_FALSE(found);
}

TEST(CapabilityRenumber, SharedPointerIsRenamedOnce) {
    Words words = shared_capability_message();
    // The walk reaches the shared word twice.
    EXPECT_EQ(capabilities_of(words).count({4, A}), 2u);
    // B has no rename of its own: a second visit of the shared word, then
    // holding B, would find none.
    words[3] = cap_ptr(A);
    const CapabilityRename renames[] = {{A, B}};
    EXPECT_EQ(renumber(words, renames), WireError::None);
    EXPECT_EQ(words[4], cap_ptr(B));
    EXPECT_EQ(words[3], cap_ptr(B));
}

TEST(CapabilityRenumber, SwapAppliesOnce) {
    Words words = shared_capability_message();
    const CapabilityRename renames[] = {{A, B}, {B, A}};
    EXPECT_EQ(renumber(words, renames), WireError::None);
    EXPECT_EQ(words[4], cap_ptr(B)); // renamed twice it would be A again
    EXPECT_EQ(words[3], cap_ptr(A));
    Words expected = shared_capability_message();
    expected[3] = cap_ptr(A);
    expected[4] = cap_ptr(B);
    EXPECT_EQ(words, expected);
}

TEST(CapabilityRenumber, DistinctPointersToOneIdAllRenamed) {
    Words words = {struct_ptr(0, 0, 3), cap_ptr(A), cap_ptr(A),
                   list_ptr(0, ElementSize::Pointer, 1), cap_ptr(A)};
    const CapabilityRename renames[] = {{A, 42}};
    EXPECT_EQ(renumber(words, renames), WireError::None);
    EXPECT_EQ(words[1], cap_ptr(42));
    EXPECT_EQ(words[2], cap_ptr(42));
    EXPECT_EQ(words[4], cap_ptr(42));
}

TEST(CapabilityRenumber, FirstMatchingRenameWins) {
    Words words = {struct_ptr(0, 0, 1), cap_ptr(A)};
    const CapabilityRename renames[] = {{A, 1}, {A, 2}};
    EXPECT_EQ(renumber(words, renames), WireError::None);
    EXPECT_EQ(words[1], cap_ptr(1));
}

TEST(CapabilityRenumber, FarPointersWithinTheSegment) {
    // root { far -> pad -> struct { cap(A) }, double far -> pads -> struct { cap(B) } }
    Words words = {struct_ptr(0, 0, 2),
                   far_ptr(false, 3, 0),
                   far_ptr(true, 4, 0),
                   struct_ptr(3, 0, 1), // single pad: struct at 7
                   far_ptr(false, 8, 0),
                   struct_ptr(0, 0, 1), // double pad: far to 8, then the tag
                   0,
                   cap_ptr(A),
                   cap_ptr(B)};
    EXPECT_EQ(capabilities_of(words), (std::multiset<std::pair<size_t, uint32_t>>{{7, A}, {8, B}}));
    const CapabilityRename renames[] = {{A, 1}, {B, 2}};
    EXPECT_EQ(renumber(words, renames), WireError::None);
    EXPECT_EQ(words[7], cap_ptr(1));
    EXPECT_EQ(words[8], cap_ptr(2));
}

TEST(CapabilityRenumber, WireErrorsChangeNothing) {
    const CapabilityRename renames[] = {{A, B}};
    // A capability, then a far pointer to a segment the message does not have.
    Words other_segment = {struct_ptr(0, 0, 2), cap_ptr(A), far_ptr(false, 0, 1)};
    // A capability, then a struct past the end.
    Words out_of_bounds = {struct_ptr(0, 0, 2), cap_ptr(A), struct_ptr(100, 1, 0)};
    // A capability where a far pointer lands.
    Words capability_pad = {struct_ptr(0, 0, 2), cap_ptr(A), far_ptr(false, 1, 0)};
    // A cycle: a struct whose pointer is itself, beside a capability.
    Words cycle = {struct_ptr(0, 0, 2), cap_ptr(A), struct_ptr(-3, 0, 2)};
    const std::pair<Words, WireError> cases[] = {
        {other_segment, WireError::BadSegment},     {out_of_bounds, WireError::OutOfBounds},
        {capability_pad, WireError::BadFarPointer}, {cycle, WireError::NestingLimit},
        {Words{}, WireError::OutOfBounds},
    };
    for (const auto& [message, error] : cases) {
        Words words = message;
        EXPECT_EQ(renumber(words, renames), error) << to_string(error);
        EXPECT_EQ(words, message) << to_string(error);
    }
}

// The 46-word message of shared levels (see capnp_wire_test.cpp), with a
// capability at the bottom: two million paths reach it.
Words shared_levels_with_capability() {
    Words words = {struct_ptr(0, 3, 2), 0, 0, 0, struct_ptr(1, 0, 2), struct_ptr(0, 0, 2)};
    for (int level = 1; level < 20; ++level) {
        words.push_back(struct_ptr(1, 0, 2));
        words.push_back(struct_ptr(0, 0, 2));
    }
    words.push_back(cap_ptr(A));
    words.push_back(0);
    return words;
}

TEST(CapabilityRenumber, WorkIsBoundedByTheBudget) {
    Words words = shared_levels_with_capability();
    ASSERT_EQ(words.size(), 46u);
    Words before = words;
    const CapabilityRename renames[] = {{A, B}, {B, A}};
    ReaderLimits limits = ReaderLimits::for_message(words.size());
    EXPECT_EQ(renumber(words, renames, limits), WireError::TraversalLimit);
    EXPECT_EQ(words, before);
    MessageReader check(std::span<const Word>(words), limits);
    EXPECT_EQ(for_each_capability(check, [](const CapabilityPointer&) { return true; }),
              WireError::TraversalLimit);

    // The fixed default budget lets both walks through: renamed once.
    EXPECT_EQ(renumber(words, renames, ReaderLimits{}), WireError::None);
    EXPECT_EQ(words[44], cap_ptr(B));
}

} // namespace
} // namespace capos::capnp
