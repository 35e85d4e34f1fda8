// Host tests for lib/capnp/wire.h: hand-assembled words for every pointer kind
// and element size, builder -> reader round trips, canonical copies checked
// word for word, and hostile input (offsets, far pointers, counts, tags, cycles,
// nesting, framing, buffer sizes), which must give errors and defaults, never a
// read or write outside the buffers (the sanitized build checks that too).
#include "lib/capnp/wire.h"
#include "tests/host/capnp_hand.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace capos::capnp {
namespace {

// Hand assembly (capnp_hand.h).
using namespace hand;

// Up to 8 bytes of text, little-endian, zero padded.
Word text_word(std::string_view text) {
    Word word = 0;
    std::memcpy(&word, text.data(), text.size() < 8 ? text.size() : 8);
    return word;
}

using Words = std::vector<Word>;

Words words_of(const MessageBuilder& builder) {
    return Words(builder.words().begin(), builder.words().end());
}

// The canonical form of a struct: equal for a message and any correct copy of
// it, whatever their layouts (canonical copies are deterministic).
Words canonical(StructReader value) {
    Words buffer(1 << 16);
    MessageBuilder builder(buffer);
    builder.set_root(value);
    EXPECT_EQ(builder.error(), WireError::None);
    return words_of(builder);
}

// ---------------------------------------------------------------------------
// Reading structs and fields

TEST(CapnpWireReader, StructFields) {
    Words words = {
        struct_ptr(0, 2, 1),
        0x0123456789abcdefull,
        0x00000000000080f1ull, // bits 0, 4..7 and 15 set
        0,
    };
    MessageReader message(words);
    StructReader root = message.root();
    EXPECT_EQ(root.data_size_words(), 2u);
    EXPECT_EQ(root.pointer_count(), 1u);
    EXPECT_EQ(root.data_field<uint64_t>(0), 0x0123456789abcdefull);
    EXPECT_EQ(root.data_field<uint32_t>(0), 0x89abcdefu);
    EXPECT_EQ(root.data_field<uint32_t>(1), 0x01234567u);
    EXPECT_EQ(root.data_field<uint16_t>(3), 0x0123u);
    EXPECT_EQ(root.data_field<uint8_t>(0), 0xefu);
    EXPECT_EQ(root.data_field<int8_t>(0), static_cast<int8_t>(0xef));
    EXPECT_EQ(root.data_field<int64_t>(0), 0x0123456789abcdefll);
    // Masks: stored value XOR default.
    EXPECT_EQ(root.data_field<uint8_t>(0, 0xff), 0x10u);
    EXPECT_EQ(root.data_field<int32_t>(1, 1), 0x01234566);
    // Bits of word 1 (bit offsets 64..).
    EXPECT_TRUE(root.bool_field(64));
    EXPECT_FALSE(root.bool_field(65));
    EXPECT_TRUE(root.bool_field(68));
    EXPECT_TRUE(root.bool_field(79));
    EXPECT_FALSE(root.bool_field(80));
    EXPECT_FALSE(root.bool_field(64, true));
    EXPECT_TRUE(root.bool_field(65, true));
    // Beyond the data section: the default.
    EXPECT_EQ(root.data_field<uint64_t>(2), 0u);
    EXPECT_EQ(root.data_field<uint64_t>(2, 77), 77u);
    EXPECT_EQ(root.data_field<uint32_t>(4, 5), 5u);
    EXPECT_EQ(root.data_field<uint8_t>(16), 0u);
    EXPECT_EQ(root.data_field<uint32_t>(UINT32_MAX, 9), 9u);
    EXPECT_FALSE(root.bool_field(128));
    EXPECT_TRUE(root.bool_field(128, true));
    EXPECT_TRUE(root.bool_field(UINT32_MAX, true));
    EXPECT_TRUE(root.pointer_field(0).is_null());
    EXPECT_TRUE(root.pointer_field(1).is_null());
    EXPECT_TRUE(root.pointer_field(0xffff).is_null());
    EXPECT_EQ(message.error(), WireError::None);
}

TEST(CapnpWireReader, FloatAndEnumFields) {
    enum class Color : uint16_t { Red, Green, Blue };
    double d = 2.5;
    float f = -1.25f;
    Word data0;
    std::memcpy(&data0, &d, 8);
    uint32_t f_bits;
    std::memcpy(&f_bits, &f, 4);
    Word data1 = Word{f_bits} | Word{2} << 32; // float at 32-bit offset 2, enum at 16-bit offset 6
    Words words = {struct_ptr(0, 3, 0), data0, data1, 0};
    MessageReader message(words);
    StructReader root = message.root();
    EXPECT_EQ(root.data_field<double>(0), 2.5);
    EXPECT_EQ(root.data_field<float>(2), -1.25f);
    EXPECT_EQ(root.data_field<Color>(6), Color::Blue);
    EXPECT_EQ(root.data_field<Color>(6, Color::Green), static_cast<Color>(3));
    // A float mask is the default value: XOR on the bit patterns, so a zero
    // field reads as the default and the stored bits flip the default's.
    EXPECT_EQ(root.data_field<float>(4, 1.5f), 1.5f);
    EXPECT_TRUE(std::signbit(root.data_field<double>(2, -0.0)));
    EXPECT_EQ(root.data_field<double>(3, 0.25), 0.25); // beyond the data section
    EXPECT_EQ(root.data_field<double>(0, 0.0), 2.5);
    // Stored 0x80000000 with mask 1.0f gives -1.0f.
    Words negative = {struct_ptr(0, 1, 0), 0x80000000ull};
    MessageReader second(negative);
    EXPECT_EQ(second.root().data_field<float>(0, 1.0f), -1.0f);
}

TEST(CapnpWireReader, NullEmptyAndMissingRoot) {
    Words null_root = {0};
    MessageReader a(null_root);
    EXPECT_EQ(a.root().data_size_words(), 0u);
    EXPECT_EQ(a.error(), WireError::None);

    Words empty_root = {empty_struct};
    MessageReader b(empty_root);
    EXPECT_EQ(b.root().pointer_count(), 0u);
    EXPECT_FALSE(b.root_pointer().is_null());
    EXPECT_EQ(b.error(), WireError::None);

    MessageReader c(std::span<const Word>{});
    EXPECT_EQ(c.root().data_field<uint32_t>(0, 3), 3u);
    EXPECT_EQ(c.error(), WireError::OutOfBounds);

    MessageReader d(std::span<const std::span<const Word>>{});
    (void)d.root();
    EXPECT_EQ(d.error(), WireError::OutOfBounds);
}

// ---------------------------------------------------------------------------
// Lists of every element size

TEST(CapnpWireReader, ListsOfEveryElementSize) {
    Words words = {
        struct_ptr(0, 0, 7),
        list_ptr(6, ElementSize::Void, 5),       // w1 -> w8 (no words)
        list_ptr(6, ElementSize::Bit, 10),       // w2 -> w9
        list_ptr(6, ElementSize::Byte, 3),       // w3 -> w10
        list_ptr(6, ElementSize::TwoBytes, 3),   // w4 -> w11
        list_ptr(6, ElementSize::FourBytes, 3),  // w5 -> w12 (2 words)
        list_ptr(7, ElementSize::EightBytes, 2), // w6 -> w14 (2 words)
        list_ptr(8, ElementSize::Pointer, 2),    // w7 -> w16 (2 words)
        0,                                       // w8
        0x0000000000000205ull,                   // w9 bits: 1,0,1,0,0,0,0,0,0,1
        0x0000000000030201ull,                   // w10 bytes 1,2,3
        0x0000000300020001ull,                   // w11 u16 1,2,3
        0x0000000200000001ull,                   // w12 u32 1,2
        0x0000000000000003ull,                   // w13 u32 3
        0xfffffffffffffffful,                    // w14 u64
        42,                                      // w15
        list_ptr(1, ElementSize::Byte, 3),       // w16 -> w18 text "hi"
        0,                                       // w17 null
        text_word("hi"),                         // w18
    };
    MessageReader message(words);
    StructReader root = message.root();

    ListReader voids = root.pointer_field(0).get_list(ElementSize::Void);
    EXPECT_EQ(voids.size(), 5u);
    EXPECT_EQ(voids.element_size(), ElementSize::Void);

    ListReader bits = root.pointer_field(1).get_list(ElementSize::Bit);
    ASSERT_EQ(bits.size(), 10u);
    std::string pattern;
    for (uint32_t i = 0; i < bits.size(); ++i)
        pattern += bits.get_bool(i) ? '1' : '0';
    EXPECT_EQ(pattern, "1010000001");
    EXPECT_FALSE(bits.get_bool(10));
    EXPECT_EQ(bits.get<uint8_t>(0), 0u); // a bit is narrower than a byte

    ListReader bytes = root.pointer_field(2).get_list(ElementSize::Byte);
    ASSERT_EQ(bytes.size(), 3u);
    EXPECT_EQ(bytes.get<uint8_t>(2), 3u);
    EXPECT_EQ(bytes.get<uint16_t>(0), 0u); // wider than the element
    EXPECT_EQ(bytes.bytes().size(), 3u);
    EXPECT_EQ(bytes.bytes()[1], 2u);

    ListReader shorts = root.pointer_field(3).get_list(ElementSize::TwoBytes);
    ASSERT_EQ(shorts.size(), 3u);
    EXPECT_EQ(shorts.get<uint16_t>(0), 1u);
    EXPECT_EQ(shorts.get<uint16_t>(2), 3u);
    EXPECT_EQ(shorts.get<uint16_t>(3), 0u);
    EXPECT_TRUE(shorts.bytes().empty());

    ListReader ints = root.pointer_field(4).get_list(ElementSize::FourBytes);
    ASSERT_EQ(ints.size(), 3u);
    EXPECT_EQ(ints.get<uint32_t>(0), 1u);
    EXPECT_EQ(ints.get<uint32_t>(2), 3u);
    EXPECT_EQ(ints.get<int32_t>(UINT32_MAX), 0);

    ListReader longs = root.pointer_field(5).get_list(ElementSize::EightBytes);
    ASSERT_EQ(longs.size(), 2u);
    EXPECT_EQ(longs.get<int64_t>(0), -1);
    EXPECT_EQ(longs.get<uint64_t>(1), 42u);

    ListReader pointers = root.pointer_field(6).get_list(ElementSize::Pointer);
    ASSERT_EQ(pointers.size(), 2u);
    EXPECT_EQ(pointers.get_pointer(0).get_text().view(), "hi");
    EXPECT_TRUE(pointers.get_pointer(1).is_null());
    EXPECT_TRUE(pointers.get_pointer(2).is_null());
    EXPECT_EQ(pointers.get<uint64_t>(0), 0u); // no data in a pointer element
    EXPECT_EQ(message.error(), WireError::None);
}

TEST(CapnpWireReader, InlineCompositeList) {
    Words words = {
        struct_ptr(0, 0, 1),
        list_ptr(0, ElementSize::InlineComposite, 6), // w1 -> tag at w2, 6 words
        tag_word(3, 1, 1),
        10,
        list_ptr(4, ElementSize::Byte, 2), // w4 -> w9 "a"
        20,
        0,
        30,
        list_ptr(1, ElementSize::Byte, 2), // w8 -> w10 "b"
        text_word("a"),
        text_word("b"),
    };
    MessageReader message(words);
    ListReader list = message.root().pointer_field(0).get_list(ElementSize::InlineComposite);
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list.element_size(), ElementSize::InlineComposite);
    EXPECT_EQ(list.get_struct(0).data_field<uint64_t>(0), 10u);
    EXPECT_EQ(list.get_struct(1).data_field<uint64_t>(0), 20u);
    EXPECT_EQ(list.get_struct(2).data_field<uint64_t>(0), 30u);
    EXPECT_EQ(list.get_struct(0).pointer_field(0).get_text().view(), "a");
    EXPECT_TRUE(list.get_struct(1).pointer_field(0).is_null());
    EXPECT_EQ(list.get_struct(2).pointer_field(0).get_text().view(), "b");
    EXPECT_EQ(list.get_struct(3).data_field<uint64_t>(0, 7), 7u);
    EXPECT_EQ(message.error(), WireError::None);
}

TEST(CapnpWireReader, TextAndData) {
    Words words = {
        struct_ptr(0, 0, 8),
        list_ptr(7, ElementSize::Byte, 6),     // w1 -> w9 "hello\0"
        list_ptr(7, ElementSize::Byte, 1),     // w2 -> w10 "\0"
        list_ptr(7, ElementSize::Byte, 3),     // w3 -> w11 "abc" (no NUL)
        list_ptr(7, ElementSize::Byte, 0),     // w4 -> w12 empty
        list_ptr(6, ElementSize::TwoBytes, 1), // w5 -> w12
        struct_ptr(6, 1, 0),                   // w6 -> w13
        cap_ptr(2),                            // w7
        list_ptr(3, ElementSize::Byte, 11),    // w8 -> w12 (2 words)
        text_word("hello"),
        0,
        text_word("abc"),
        text_word("data:012"),
        text_word("345"),
    };
    MessageReader message(words);
    StructReader root = message.root();
    EXPECT_EQ(root.pointer_field(0).get_text().view(), "hello");
    EXPECT_EQ(root.pointer_field(0).get_text().size(), 5u);
    EXPECT_EQ(root.pointer_field(1).get_text().view(), "");
    EXPECT_EQ(message.error(), WireError::None);
    EXPECT_EQ(root.pointer_field(0).get_data().size(), 6u); // Data keeps every byte

    EXPECT_EQ(root.pointer_field(2).get_text("dflt").view(), "dflt");
    EXPECT_EQ(message.error(), WireError::TextNotTerminated);

    MessageReader m2(words);
    EXPECT_EQ(m2.root().pointer_field(3).get_text().view(), "");
    EXPECT_EQ(m2.error(), WireError::TextNotTerminated);
    EXPECT_EQ(m2.root().pointer_field(3).get_data().size(), 0u);

    MessageReader m3(words);
    EXPECT_EQ(m3.root().pointer_field(4).get_text().view(), "");
    EXPECT_EQ(m3.error(), WireError::WrongElementSize);

    MessageReader m4(words);
    EXPECT_TRUE(m4.root().pointer_field(5).get_data().empty());
    EXPECT_EQ(m4.error(), WireError::WrongPointerKind);

    MessageReader m5(words);
    EXPECT_EQ(m5.root().pointer_field(6).get_text("x").view(), "x");
    EXPECT_EQ(m5.error(), WireError::CapabilityPointer);

    MessageReader m6(words);
    std::span<const uint8_t> data = m6.root().pointer_field(7).get_data();
    ASSERT_EQ(data.size(), 11u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.data()), 11), "data:012345");
    static const uint8_t fallback[] = {1, 2};
    EXPECT_EQ(m6.root().pointer_field(8).get_data(fallback).size(), 2u); // beyond: null
    EXPECT_EQ(m6.error(), WireError::None);
}

// The compatibility rules, libcapnp's: which encodings read as which lists.
TEST(CapnpWireReader, ListCompatibility) {
    Words words = {
        struct_ptr(0, 0, 8),
        list_ptr(7, ElementSize::TwoBytes, 3),         // w1 -> w9
        list_ptr(7, ElementSize::Bit, 3),              // w2 -> w10
        list_ptr(7, ElementSize::Pointer, 2),          // w3 -> w11
        list_ptr(8, ElementSize::Void, 4),             // w4 -> w13
        list_ptr(8, ElementSize::InlineComposite, 4),  // w5 -> w14 (d1 p1, 2 elements)
        list_ptr(12, ElementSize::InlineComposite, 2), // w6 -> w19 (d0 p1)
        list_ptr(14, ElementSize::InlineComposite, 2), // w7 -> w22 (d1 p0)
        0,                                             // w8
        0x0000000300020001ull,                         // w9: 1, 2, 3
        0x5,                                           // w10: 1, 0, 1
        list_ptr(10, ElementSize::Byte, 2),            // w11 -> w22 "z"... see below
        0,                                             // w12
        0,                                             // w13 (void list: nothing)
        tag_word(2, 1, 1),                             // w14
        0x11223344aabbccddull,                         // w15
        0,                                             // w16
        0x55,                                          // w17
        empty_struct,                                  // w18: a pointer to an empty struct
        tag_word(2, 0, 1),                             // w19
        empty_struct,                                  // w20
        0,                                             // w21
        tag_word(2, 1, 0),                             // w22
        7,                                             // w23
        8,                                             // w24
    };
    // w11 points at w23's bytes, read as a Byte list: only for the pointer list.
    words[11] = list_ptr(11, ElementSize::Byte, 2);

    // `word` is the pointer's word: pointer field word - 1. The readers
    // returned point into `words`, which outlives them; their MessageReaders
    // live in `messages`.
    std::vector<std::unique_ptr<MessageReader>> messages;
    auto read = [&](uint16_t word, ElementSize expected, WireError expected_error) {
        messages.push_back(std::make_unique<MessageReader>(words));
        const MessageReader& message = *messages.back();
        ListReader list =
            message.root().pointer_field(static_cast<uint16_t>(word - 1)).get_list(expected);
        EXPECT_EQ(message.error(), expected_error)
            << "word " << word << " as " << static_cast<int>(expected);
        return list;
    };
    using E = ElementSize;
    const WireError ok = WireError::None;
    const WireError bad = WireError::WrongElementSize;

    // A UInt16 list: as structs (first field), as narrower primitives, as bits.
    ListReader as_structs = read(1, E::InlineComposite, ok);
    ASSERT_EQ(as_structs.size(), 3u);
    EXPECT_EQ(as_structs.get_struct(1).data_field<uint16_t>(0), 2u);
    EXPECT_EQ(as_structs.get_struct(1).data_field<uint32_t>(0, 9), 9u); // beyond 2 bytes
    EXPECT_TRUE(as_structs.get_struct(1).pointer_field(0).is_null());
    EXPECT_EQ(read(1, E::Byte, ok).get<uint8_t>(2), 3u);
    EXPECT_TRUE(read(1, E::Bit, ok).get_bool(2));
    EXPECT_FALSE(read(1, E::Bit, ok).get_bool(1));
    EXPECT_EQ(read(1, E::TwoBytes, ok).size(), 3u);
    EXPECT_EQ(read(1, E::Void, ok).size(), 3u);
    EXPECT_EQ(read(1, E::FourBytes, bad).size(), 0u);
    EXPECT_EQ(read(1, E::EightBytes, bad).size(), 0u);
    EXPECT_EQ(read(1, E::Pointer, bad).size(), 0u);

    // A Bit list reads only as a Bit list.
    EXPECT_TRUE(read(2, E::Bit, ok).get_bool(2));
    read(2, E::Byte, bad);
    read(2, E::InlineComposite, bad);
    read(2, E::Void, bad);
    read(2, E::Pointer, bad);

    // A pointer list: as structs with one pointer, not as data.
    ListReader pointer_structs = read(3, E::InlineComposite, ok);
    ASSERT_EQ(pointer_structs.size(), 2u);
    EXPECT_EQ(pointer_structs.get_struct(0).pointer_field(0).get_data().size(), 2u);
    EXPECT_EQ(pointer_structs.get_struct(0).data_size_bytes(), 0u);
    read(3, E::Byte, bad);
    read(3, E::EightBytes, bad);
    read(3, E::Bit, bad);

    // A Void list: as empty structs; not as data or pointers.
    EXPECT_EQ(read(4, E::InlineComposite, ok).size(), 4u);
    read(4, E::Byte, bad);
    read(4, E::Pointer, bad);

    // A struct list with data and pointers: as primitives (first data word)
    // and as pointers (first pointer); never as bits.
    ListReader firsts = read(5, E::FourBytes, ok);
    ASSERT_EQ(firsts.size(), 2u);
    EXPECT_EQ(firsts.get<uint32_t>(0), 0xaabbccddu);
    EXPECT_EQ(firsts.get<uint64_t>(0), 0x11223344aabbccddull);
    EXPECT_EQ(firsts.get<uint32_t>(1), 0x55u);
    EXPECT_EQ(firsts.element_size(), E::InlineComposite);
    ListReader first_pointers = read(5, E::Pointer, ok);
    EXPECT_TRUE(first_pointers.get_pointer(0).is_null());
    EXPECT_FALSE(first_pointers.get_pointer(1).is_null());
    EXPECT_EQ(first_pointers.get_pointer(1).get_struct().pointer_count(), 0u);
    read(5, E::Bit, bad);
    EXPECT_EQ(read(5, E::Void, ok).size(), 2u);
    // Text wants a Byte list exactly.
    {
        MessageReader message(words);
        EXPECT_EQ(message.root().pointer_field(4).get_text("t").view(), "t");
        EXPECT_EQ(message.error(), bad);
    }

    // Pointer-only structs read as primitives of 0, data-only structs as null
    // pointers (libcapnp refuses both; see ZeroSectionsOfStructListsDropped...),
    // never as bits.
    ListReader pointer_only = read(6, E::Byte, ok);
    ASSERT_EQ(pointer_only.size(), 2u);
    EXPECT_EQ(pointer_only.get<uint8_t>(0), 0u);
    EXPECT_EQ(read(6, E::EightBytes, ok).get<uint64_t>(1), 0u);
    EXPECT_FALSE(read(6, E::Pointer, ok).get_pointer(0).is_null());
    read(6, E::Bit, bad);
    ListReader data_only = read(7, E::Pointer, ok);
    ASSERT_EQ(data_only.size(), 2u);
    EXPECT_TRUE(data_only.get_pointer(0).is_null());
    EXPECT_TRUE(data_only.get_pointer(1).get_list(E::Byte).bytes().empty());
    EXPECT_EQ(read(7, E::EightBytes, ok).get<uint64_t>(1), 8u);
    read(7, E::Bit, bad);
}

// ---------------------------------------------------------------------------
// Far pointers and segments

TEST(CapnpWireReader, SingleAndDoubleFarPointers) {
    Words seg0 = {
        far_ptr(false, 1, 1), // root -> landing pad at seg1[1]
    };
    Words seg1 = {
        0xdead,
        struct_ptr(0, 1, 2), // landing pad: struct at seg1[2]
        42,
        far_ptr(true, 0, 2), // p0: double far, pad at seg2[0]
        far_ptr(true, 2, 2), // p1: double far to a list
    };
    Words seg2 = {
        far_ptr(false, 0, 3),              // pad for p0: content at seg3[0]
        struct_ptr(0, 1, 1),               // tag
        far_ptr(false, 2, 3),              // pad for p1: content at seg3[2]
        list_ptr(0, ElementSize::Byte, 4), // tag
    };
    Words seg3 = {
        7,
        list_ptr(1, ElementSize::Byte, 3), // seg3[1] -> seg3[3]
        text_word("abc"),
        text_word("hi"),
    };
    std::span<const Word> segments[] = {seg0, seg1, seg2, seg3};
    MessageReader message(segments);
    StructReader root = message.root();
    EXPECT_EQ(root.data_field<uint64_t>(0), 42u);
    StructReader inner = root.pointer_field(0).get_struct();
    EXPECT_EQ(inner.data_field<uint64_t>(0), 7u);
    EXPECT_EQ(inner.pointer_field(0).get_text().view(), "hi");
    EXPECT_EQ(root.pointer_field(1).get_text().view(), "abc");
    EXPECT_EQ(message.error(), WireError::None);
    EXPECT_EQ(validate(message), WireError::None);
    EXPECT_EQ(message.segment_count(), 4u);
}

// One message per bad far pointer; the root leads through it.
TEST(CapnpWireReader, BadFarPointers) {
    struct Case {
        const char* name;
        Words seg1;
        Words seg2;
        Word root;
        WireError error;
    };
    const Word good_struct = struct_ptr(0, 1, 0);
    std::vector<Case> cases = {
        {"segment missing", {good_struct, 1}, {0}, far_ptr(false, 0, 3), WireError::BadSegment},
        {"segment huge",
         {good_struct, 1},
         {0},
         far_ptr(false, 0, 0xffffffff),
         WireError::BadSegment},
        {"pad past end", {good_struct, 1}, {0}, far_ptr(false, 2, 1), WireError::OutOfBounds},
        {"pad far past end",
         {good_struct, 1},
         {0},
         far_ptr(false, (1u << 29) - 1, 1),
         WireError::OutOfBounds},
        {"double pad half out", {good_struct, 1}, {0}, far_ptr(true, 1, 1), WireError::OutOfBounds},
        {"pad is far",
         {far_ptr(false, 0, 2), 1},
         {0},
         far_ptr(false, 0, 1),
         WireError::BadFarPointer},
        {"pad is capability", {cap_ptr(0), 1}, {0}, far_ptr(false, 0, 1), WireError::BadFarPointer},
        {"pad target out",
         {struct_ptr(1, 1, 0), 1},
         {0},
         far_ptr(false, 0, 1),
         WireError::OutOfBounds},
        {"pad target before",
         {struct_ptr(-2, 1, 0), 1},
         {0},
         far_ptr(false, 0, 1),
         WireError::OutOfBounds},
        {"double: first not far",
         {good_struct, good_struct},
         {1},
         far_ptr(true, 0, 1),
         WireError::BadFarPointer},
        {"double: first double",
         {far_ptr(true, 0, 2), good_struct},
         {1},
         far_ptr(true, 0, 1),
         WireError::BadFarPointer},
        {"double: tag far",
         {far_ptr(false, 0, 2), far_ptr(false, 0, 2)},
         {1},
         far_ptr(true, 0, 1),
         WireError::BadFarPointer},
        {"double: tag other",
         {far_ptr(false, 0, 2), cap_ptr(1)},
         {1},
         far_ptr(true, 0, 1),
         WireError::BadFarPointer},
        {"double: content segment",
         {far_ptr(false, 0, 9), good_struct},
         {1},
         far_ptr(true, 0, 1),
         WireError::BadSegment},
        {"double: content past end",
         {far_ptr(false, 1, 2), good_struct},
         {1},
         far_ptr(true, 0, 1),
         WireError::OutOfBounds},
        {"double: tag is list, struct expected",
         {far_ptr(false, 0, 2), list_ptr(0, ElementSize::Byte, 8)},
         {1},
         far_ptr(true, 0, 1),
         WireError::WrongPointerKind},
        {"double: fine",
         {far_ptr(false, 0, 2), good_struct},
         {1},
         far_ptr(true, 0, 1),
         WireError::None},
        {"single: fine", {good_struct, 1}, {0}, far_ptr(false, 0, 1), WireError::None},
    };
    for (const Case& c : cases) {
        Words seg0 = {c.root};
        std::span<const Word> segments[] = {seg0, c.seg1, c.seg2};
        MessageReader message(segments);
        StructReader root = message.root();
        EXPECT_EQ(message.error(), c.error) << c.name;
        EXPECT_EQ(validate(MessageReader(segments)), c.error) << c.name;
        if (c.error == WireError::None)
            EXPECT_EQ(root.data_field<uint64_t>(0), 1u) << c.name;
        else
            EXPECT_EQ(root.data_size_words(), 0u) << c.name;
    }
}

// ---------------------------------------------------------------------------
// Capabilities

TEST(CapnpWireReader, CapabilityPointers) {
    Words words = {
        struct_ptr(0, 0, 4), cap_ptr(5),       0,
        empty_struct,        3 | Word{1} << 2, // "other" with reserved bits: not a capability
    };
    {
        MessageReader message(words);
        StructReader root = message.root();
        EXPECT_TRUE(root.pointer_field(0).is_capability());
        EXPECT_EQ(root.pointer_field(0).capability_index(), 5u);
        EXPECT_FALSE(root.pointer_field(1).is_capability());
        EXPECT_EQ(root.pointer_field(1).capability_index(), PointerReader::no_capability);
        EXPECT_FALSE(root.pointer_field(3).is_capability());
        EXPECT_EQ(message.error(), WireError::None);
        EXPECT_EQ(validate(message), WireError::WrongPointerKind); // the reserved one
    }
    {
        MessageReader message(words);
        EXPECT_EQ(message.root().pointer_field(2).capability_index(), PointerReader::no_capability);
        EXPECT_EQ(message.error(), WireError::WrongPointerKind);
    }
    {
        MessageReader message(words);
        EXPECT_EQ(message.root().pointer_field(0).get_struct().pointer_count(), 0u);
        EXPECT_EQ(message.error(), WireError::CapabilityPointer);
    }
    {
        MessageReader message(words);
        EXPECT_EQ(message.root().pointer_field(0).get_list(ElementSize::Byte).size(), 0u);
        EXPECT_EQ(message.error(), WireError::CapabilityPointer);
    }
    {
        MessageReader message(words);
        (void)message.root().pointer_field(3).get_struct();
        EXPECT_EQ(message.error(), WireError::WrongPointerKind);
    }
    {
        Words cap_root = {cap_ptr(0)};
        MessageReader message(cap_root);
        (void)message.root();
        EXPECT_EQ(message.error(), WireError::CapabilityPointer);
        EXPECT_EQ(validate(message), WireError::CapabilityPointer);
    }
}

// ---------------------------------------------------------------------------
// Offsets, counts and tags out of range

// Every offset of a root pointer in [-64, 64] and at the 30-bit extremes, for
// each kind of target: accepted exactly when the whole target lies in the
// segment.
TEST(CapnpWireReader, PointerOffsetsOutOfRangeInBothDirections) {
    constexpr int32_t segment_words = 16;
    std::vector<int32_t> offsets;
    for (int32_t offset = -64; offset <= 64; ++offset)
        offsets.push_back(offset);
    for (int32_t offset : {-(1 << 29), -(1 << 29) + 1, (1 << 29) - 2, (1 << 29) - 1})
        offsets.push_back(offset);

    struct Kind {
        const char* name;
        Word (*pointer)(int32_t offset);
        int32_t target_words;
        int32_t pointer_at;   // word of the pointer in the segment
        ElementSize expected; // Void: read as a struct
    };
    const Kind kinds[] = {
        {"struct", [](int32_t o) { return struct_ptr(o, 2, 1); }, 3, 0, ElementSize::Void},
        {"empty struct", [](int32_t o) { return struct_ptr(o, 0, 0); }, 0, 0, ElementSize::Void},
        {"bytes", [](int32_t o) { return list_ptr(o, ElementSize::Byte, 20); }, 3, 0,
         ElementSize::Byte},
        {"bits", [](int32_t o) { return list_ptr(o, ElementSize::Bit, 65); }, 2, 0,
         ElementSize::Bit},
        {"pointers", [](int32_t o) { return list_ptr(o, ElementSize::Pointer, 4); }, 4, 0,
         ElementSize::Pointer},
        {"composite", [](int32_t o) { return list_ptr(o, ElementSize::InlineComposite, 2); }, 3, 0,
         ElementSize::InlineComposite},
        {"nested struct", [](int32_t o) { return struct_ptr(o, 1, 0); }, 1, 5, ElementSize::Void},
        {"nested list", [](int32_t o) { return list_ptr(o, ElementSize::EightBytes, 2); }, 2, 5,
         ElementSize::EightBytes},
    };
    for (const Kind& kind : kinds) {
        for (int32_t offset : offsets) {
            Words words(segment_words, 0);
            // Composite targets need a tag: fill the segment with tags of one
            // element of 1 data word, 1 pointer (a valid tag wherever the
            // target lands), null pointers otherwise being harmless.
            if (std::string_view(kind.name) == "composite") {
                for (Word& word : words)
                    word = tag_word(1, 1, 0);
            }
            if (kind.pointer_at == 0) {
                words[0] = kind.pointer(offset);
            } else {
                // root -> struct at word 1 with 5 pointer words (2..6); the
                // pointer under test is word 5.
                words[0] = struct_ptr(0, 1, 5);
                for (int i = 1; i <= 6; ++i)
                    words[static_cast<size_t>(i)] = 0;
                words[5] = kind.pointer(offset);
            }
            int64_t target = int64_t{kind.pointer_at} + 1 + offset;
            bool inside = target >= 0 && target + kind.target_words <= segment_words;
            WireError expected = inside ? WireError::None : WireError::OutOfBounds;
            // A composite list whose tag would be its own pointer.
            if (kind.expected == ElementSize::InlineComposite && target == 0)
                expected = WireError::WrongPointerKind;
            MessageReader message(words);
            PointerReader pointer =
                kind.pointer_at == 0 ? message.root_pointer() : message.root().pointer_field(3);
            if (kind.expected == ElementSize::Void)
                (void)pointer.get_struct();
            else
                (void)pointer.get_list(kind.expected);
            EXPECT_EQ(message.error(), expected) << kind.name << " offset " << offset;
        }
    }
}

TEST(CapnpWireReader, HugeListCounts) {
    const uint32_t max = (1u << 29) - 1;
    struct Case {
        Word pointer;
        ElementSize expected;
        WireError error;
    };
    const Case cases[] = {
        {list_ptr(0, ElementSize::EightBytes, max), ElementSize::EightBytes,
         WireError::OutOfBounds},
        {list_ptr(0, ElementSize::Bit, max), ElementSize::Bit, WireError::OutOfBounds},
        {list_ptr(0, ElementSize::Pointer, max), ElementSize::Pointer, WireError::OutOfBounds},
        {list_ptr(0, ElementSize::InlineComposite, max), ElementSize::InlineComposite,
         WireError::OutOfBounds},
        // Nothing to bound-check: the traversal budget ends these.
        {list_ptr(0, ElementSize::Void, max), ElementSize::Void, WireError::TraversalLimit},
        {list_ptr(0, ElementSize::InlineComposite, 0), ElementSize::InlineComposite,
         WireError::TraversalLimit},
    };
    for (const Case& c : cases) {
        Words words = {struct_ptr(0, 0, 1), c.pointer, tag_word(max, 0, 0), 0};
        MessageReader message(words);
        ListReader list = message.root().pointer_field(0).get_list(c.expected);
        EXPECT_EQ(message.error(), c.error) << std::hex << c.pointer;
        EXPECT_EQ(list.size(), 0u);
        EXPECT_EQ(validate(message), c.error);
    }
    // Within a budget, a large void list is fine; reading it again charges again.
    Words words = {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::Void, 1000)};
    MessageReader message(words, ReaderLimits{2100, 64});
    EXPECT_EQ(message.root().pointer_field(0).get_list(ElementSize::Void).size(), 1000u);
    EXPECT_EQ(message.root().pointer_field(0).get_list(ElementSize::Void).size(), 1000u);
    EXPECT_EQ(message.error(), WireError::None);
    EXPECT_EQ(message.root().pointer_field(0).get_list(ElementSize::Void).size(), 0u);
    EXPECT_EQ(message.error(), WireError::TraversalLimit);
}

TEST(CapnpWireReader, CompositeTagLies) {
    struct Case {
        const char* name;
        Word pointer;
        Word tag;
        WireError error;
    };
    const Case cases[] = {
        {"elements overrun words", list_ptr(0, ElementSize::InlineComposite, 2), tag_word(3, 1, 0),
         WireError::OutOfBounds},
        {"element size overruns words", list_ptr(0, ElementSize::InlineComposite, 2),
         tag_word(1, 2, 1), WireError::OutOfBounds},
        {"word count past segment", list_ptr(0, ElementSize::InlineComposite, 4), tag_word(1, 1, 0),
         WireError::OutOfBounds},
        {"huge element size", list_ptr(0, ElementSize::InlineComposite, 2),
         tag_word(1, 0xffff, 0xffff), WireError::OutOfBounds},
        {"tag is a list", list_ptr(0, ElementSize::InlineComposite, 2),
         list_ptr(0, ElementSize::Byte, 1), WireError::WrongPointerKind},
        {"tag is far", list_ptr(0, ElementSize::InlineComposite, 2), far_ptr(false, 0, 0),
         WireError::WrongPointerKind},
        {"tag is a capability", list_ptr(0, ElementSize::InlineComposite, 2), cap_ptr(0),
         WireError::WrongPointerKind},
        {"fewer elements than words", list_ptr(0, ElementSize::InlineComposite, 2),
         tag_word(1, 1, 0), WireError::None},
        {"exact", list_ptr(0, ElementSize::InlineComposite, 2), tag_word(2, 1, 0), WireError::None},
    };
    for (const Case& c : cases) {
        Words words = {struct_ptr(0, 0, 1), c.pointer, c.tag, 5, 6};
        MessageReader message(words);
        ListReader list = message.root().pointer_field(0).get_list(ElementSize::InlineComposite);
        EXPECT_EQ(message.error(), c.error) << c.name;
        if (c.error == WireError::None)
            EXPECT_EQ(list.get_struct(0).data_field<uint64_t>(0), 5u) << c.name;
        else
            EXPECT_EQ(list.size(), 0u) << c.name;
    }
}

// ---------------------------------------------------------------------------
// Cycles, nesting and the traversal budget

TEST(CapnpWireReader, SelfReferenceEndsAtTheNestingLimit) {
    // The root struct's only pointer points back at the struct itself.
    Words words = {struct_ptr(0, 1, 1), 9, struct_ptr(-2, 1, 1)};
    MessageReader message(words);
    StructReader node = message.root();
    int depth = 0;
    while (node.data_field<uint64_t>(0) == 9) {
        node = node.pointer_field(0).get_struct();
        ++depth;
    }
    EXPECT_EQ(depth, 64); // the root and 63 hops
    EXPECT_EQ(message.error(), WireError::NestingLimit);
    EXPECT_EQ(validate(MessageReader(words)), WireError::NestingLimit);

    // A pointer list that contains itself.
    Words list_words = {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::Pointer, 1),
                        list_ptr(-1, ElementSize::Pointer, 1)};
    EXPECT_EQ(validate(MessageReader(list_words)), WireError::NestingLimit);
}

TEST(CapnpWireReader, AmplificationEndsAtTheTraversalLimit) {
    // Two pointers back at their own struct: 2^64 paths, but depth-first the
    // walk reaches the nesting limit first.
    Words cycle = {struct_ptr(0, 0, 2), struct_ptr(-1, 0, 2), struct_ptr(-2, 0, 2)};
    EXPECT_EQ(validate(MessageReader(cycle)), WireError::NestingLimit);

    // A chain of 40 structs, each with both pointers at the next one: 2^40
    // paths within the nesting limit. The traversal budget ends them.
    constexpr int levels = 40;
    Words words = {struct_ptr(0, 0, 2)};
    for (int i = 0; i < levels; ++i) {
        words.push_back(struct_ptr(1, 0, 2));
        words.push_back(struct_ptr(0, 0, 2));
    }
    words.push_back(0);
    words.push_back(0);
    EXPECT_EQ(validate(MessageReader(words, ReaderLimits{100000, 64})), WireError::TraversalLimit);
    EXPECT_EQ(validate(MessageReader(words)), WireError::TraversalLimit);
    Words short_chain(words.end() - 2 * 10 - 3, words.end());
    short_chain[0] = struct_ptr(0, 0, 2);
    EXPECT_EQ(validate(MessageReader(short_chain)), WireError::None); // 2^10 paths: fine

    // A struct list whose elements all point at the same large list.
    Words shared = {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::InlineComposite, 4),
                    tag_word(4, 0, 1)};
    for (int i = 0; i < 4; ++i)
        shared.push_back(list_ptr(static_cast<int32_t>(3 - i), ElementSize::EightBytes, 1000));
    shared.resize(shared.size() + 1000, 1);
    EXPECT_EQ(validate(MessageReader(shared)), WireError::None);
    EXPECT_EQ(validate(MessageReader(shared, ReaderLimits{3000, 64})), WireError::TraversalLimit);

    // Copies and sizes end too, and report the source's error.
    MessageReader cyclic(words, ReaderLimits{100000, 64});
    std::vector<Word> buffer(1 << 18);
    MessageBuilder builder(buffer);
    builder.set_root(cyclic.root());
    EXPECT_EQ(cyclic.error(), WireError::TraversalLimit);
    MessageReader cyclic_again(words, ReaderLimits{100000, 64});
    (void)cyclic_again.root().total_words();
    EXPECT_NE(cyclic_again.error(), WireError::None);
}

// A chain of N structs validates with nesting N and not with N - 1.
TEST(CapnpWireReader, NestingLimitIsExact) {
    constexpr int chain = 100;
    Words words;
    for (int i = 0; i < chain; ++i)
        words.push_back(struct_ptr(0, 0, 1));
    words.push_back(0);
    EXPECT_EQ(validate(MessageReader(words, ReaderLimits{1 << 20, chain})), WireError::None);
    EXPECT_EQ(validate(MessageReader(words, ReaderLimits{1 << 20, chain - 1})),
              WireError::NestingLimit);
    EXPECT_EQ(validate(MessageReader(words)), WireError::NestingLimit);

    // Each struct list element takes a level, as in libcapnp.
    Words list = {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::InlineComposite, 1),
                  tag_word(1, 1, 0), 5};
    EXPECT_EQ(validate(MessageReader(list, ReaderLimits{100, 3})), WireError::None);
    EXPECT_EQ(validate(MessageReader(list, ReaderLimits{100, 2})), WireError::NestingLimit);
    MessageReader shallow(list, ReaderLimits{100, 2});
    ListReader elements = shallow.root().pointer_field(0).get_list(ElementSize::InlineComposite);
    EXPECT_EQ(elements.size(), 1u);
    EXPECT_EQ(shallow.error(), WireError::None);
    EXPECT_EQ(elements.get_struct(0).data_field<uint64_t>(0), 0u);
    EXPECT_EQ(shallow.error(), WireError::NestingLimit);
}

TEST(CapnpWireReader, TraversalBudgetCountsEveryVisit) {
    Words words = {struct_ptr(0, 2, 1), 1, 2, 0};
    MessageReader exact(words, ReaderLimits{3, 64});
    EXPECT_EQ(exact.root().data_field<uint64_t>(1), 2u);
    EXPECT_EQ(exact.error(), WireError::None);
    EXPECT_EQ(exact.traversal_left(), 0u);
    (void)exact.root();
    EXPECT_EQ(exact.error(), WireError::TraversalLimit);

    MessageReader short_budget(words, ReaderLimits{2, 64});
    EXPECT_EQ(short_budget.root().data_field<uint64_t>(1), 0u);
    EXPECT_EQ(short_budget.error(), WireError::TraversalLimit);

    // validate() has its own budget and leaves the reader as it was.
    MessageReader fresh(words, ReaderLimits{3, 64});
    EXPECT_EQ(validate(fresh), WireError::None);
    EXPECT_EQ(validate(fresh), WireError::None);
    EXPECT_EQ(fresh.traversal_left(), 3u);
    EXPECT_EQ(fresh.error(), WireError::None);
}

// 46 words: the root pointer; level 0, a struct of 3 data words and 2
// pointers; levels 1 to 20, structs of 2 pointers. Both pointers of each level
// aim at the next level's struct; level 20's are null. 2^21 - 1 structs on
// the paths from the root, about 4.2M words of charges: within the fixed
// default budget.
Words shared_levels_message() {
    Words words = {struct_ptr(0, 3, 2), 0, 0, 0, struct_ptr(1, 0, 2), struct_ptr(0, 0, 2)};
    for (int level = 1; level < 20; ++level) {
        words.push_back(struct_ptr(1, 0, 2));
        words.push_back(struct_ptr(0, 0, 2));
    }
    words.push_back(0);
    words.push_back(0);
    return words;
}

TEST(CapnpWireReader, ProportionalBudgetEndsSharedStructs) {
    Words words = shared_levels_message();
    ASSERT_EQ(words.size(), 46u);
    // The fixed default lets the walk through, two million structs later.
    EXPECT_EQ(validate(MessageReader(words)), WireError::None);
    // In proportion to its size it stops after a few hundred words.
    ReaderLimits limits = ReaderLimits::for_message(words.size());
    EXPECT_EQ(limits.traversal_words, 4u * 46 + 64);
    EXPECT_EQ(limits.nesting, ReaderLimits{}.nesting);
    EXPECT_EQ(validate(MessageReader(words, limits)), WireError::TraversalLimit);
    // So does a copy, which reads the same way.
    MessageReader message(words, limits);
    Words buffer(1 << 10);
    MessageBuilder builder(buffer);
    builder.set_root(message.root());
    EXPECT_EQ(message.error(), WireError::TraversalLimit);

    // The budget saturates instead of wrapping.
    EXPECT_EQ(ReaderLimits::for_message(SIZE_MAX).traversal_words, UINT64_MAX);
    EXPECT_EQ(ReaderLimits::for_message(0).traversal_words, 64u);
}

TEST(CapnpWireBuilder, DataNotZeroedIsSetDataOnceFilled) {
    // Over a buffer full of 0xaa: the bytes are left as they were (a caller
    // writes them) but for the last word, which holds the padding and is
    // zeroed whole; once filled the message is word for word the one
    // set_data builds over zeros; one that does not fit is empty, its
    // pointer null, BufferFull recorded.
    const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    for (size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{11}, size_t{17}}) {
        Words dirty(64, 0xaaaaaaaaaaaaaaaaull);
        MessageBuilder filled(dirty);
        StructBuilder root = filled.init_root(1, 2);
        root.set_data_field<uint64_t>(0, 9);
        std::span<uint8_t> data = root.pointer_field(1).init_data_unzeroed(uint32_t(size));
        ASSERT_EQ(data.size(), size);
        size_t last_word = size == 0 ? 0 : (size - 1) / 8 * 8;
        for (size_t i = 0; i < (size + 7) / 8 * 8; ++i)
            EXPECT_EQ(data.data()[i], i < last_word ? 0xaa : 0) << size << " " << i;
        std::copy_n(bytes.begin(), size, data.begin());

        Words clean(64);
        MessageBuilder set(clean);
        StructBuilder other = set.init_root(1, 2);
        other.set_data_field<uint64_t>(0, 9);
        other.pointer_field(1).set_data(std::span(bytes).first(size));
        EXPECT_EQ(words_of(filled), words_of(set)) << size;
    }
    Words small(4);
    MessageBuilder full(small);
    StructBuilder root = full.init_root(0, 1);
    EXPECT_TRUE(root.pointer_field(0).init_data_unzeroed(100).empty());
    EXPECT_TRUE(root.pointer_field(0).is_null());
    EXPECT_EQ(full.error(), WireError::BufferFull);
    EXPECT_TRUE(PointerBuilder().init_data_unzeroed(8).empty());
}

TEST(CapnpWireReader, ProportionalBudgetTakesWellFormedMessages) {
    // Every kind of object, each reached once, many of them zero-sized.
    Words buffer(1 << 12);
    MessageBuilder builder(buffer);
    StructBuilder root = builder.init_root(2, 9);
    root.set_data_field<uint64_t>(0, 7);
    root.pointer_field(0).set_text("a name of some length");
    const uint8_t bytes[] = {1, 2, 3};
    root.pointer_field(1).set_data(bytes);
    ListBuilder people = root.pointer_field(2).init_struct_list(10, 1, 2);
    for (uint32_t i = 0; i < people.size(); ++i) {
        people.get_struct(i).set_data_field<uint32_t>(0, i);
        people.get_struct(i).pointer_field(0).set_text("x");
        people.get_struct(i).pointer_field(1).init_struct(0, 0);
    }
    ListBuilder names = root.pointer_field(3).init_list(ElementSize::Pointer, 20);
    for (uint32_t i = 0; i < names.size(); ++i) {
        if (i % 2 == 0)
            names.get_pointer(i).init_struct(0, 0);
        else
            names.get_pointer(i).init_list(ElementSize::EightBytes, 0);
    }
    root.pointer_field(4).init_list(ElementSize::Bit, 100);
    root.pointer_field(5).init_struct(0, 0);
    root.pointer_field(6).set_data({});
    root.pointer_field(7).init_struct(3, 1).pointer_field(0).set_capability(2);
    root.pointer_field(8).init_struct_list(0, 1, 0);
    ASSERT_EQ(builder.error(), WireError::None);
    Words words = words_of(builder);

    EXPECT_EQ(validate(MessageReader(words, ReaderLimits::for_message(words.size()))),
              WireError::None);
    // A tree is charged at most twice its size (see ReaderLimits::for_message).
    EXPECT_EQ(validate(MessageReader(words, ReaderLimits{2 * words.size(), 64})), WireError::None);
    MessageReader message(words, ReaderLimits::for_message(words.size()));
    EXPECT_EQ(canonical(message.root()), canonical(MessageReader(words).root()));
    EXPECT_EQ(message.error(), WireError::None);
}

TEST(CapnpWireReader, ZeroSizedObjectsChargeAWord) {
    // An empty struct, empty lists of eight-byte and Void elements, empty Data
    // and an empty struct list (its tag is its one word): one word each, on
    // the readers' fast and general paths and in validate().
    Words words = {struct_ptr(0, 0, 5),
                   empty_struct,
                   list_ptr(0, ElementSize::EightBytes, 0),
                   list_ptr(0, ElementSize::Void, 0),
                   list_ptr(0, ElementSize::Byte, 0),
                   list_ptr(0, ElementSize::InlineComposite, 0),
                   tag_word(0, 1, 0)};
    const uint64_t budget = 1000;
    MessageReader message(words, ReaderLimits{budget, 64});
    StructReader root = message.root(); // 5
    (void)root.pointer_field(0).get_struct();
    (void)root.pointer_field(1).get_list(ElementSize::EightBytes);
    (void)root.pointer_field(2).get_list(ElementSize::Void); // the general path
    (void)root.pointer_field(3).get_data();
    (void)root.pointer_field(4).get_list(ElementSize::InlineComposite);
    (void)root.pointer_field(1).get_list(ElementSize::Void); // general path, compatible sizes
    EXPECT_EQ(message.error(), WireError::None);
    EXPECT_EQ(budget - message.traversal_left(), 5u + 6);
    EXPECT_EQ(validate(MessageReader(words, ReaderLimits{10, 64})), WireError::None);
    EXPECT_EQ(validate(MessageReader(words, ReaderLimits{9, 64})), WireError::TraversalLimit);

    // Many pointers to one empty struct: a word each, though they share it.
    constexpr uint32_t count = 1000;
    Words shared = {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::Pointer, count)};
    for (uint32_t i = 0; i < count; ++i) // all at the end of the segment (offset 0 is null)
        shared.push_back(struct_ptr(static_cast<int32_t>(count - i), 0, 0));
    shared.push_back(0);
    MessageReader list_message(shared, ReaderLimits{budget * 10, 64});
    ListReader list = list_message.root().pointer_field(0).get_list(ElementSize::Pointer);
    ASSERT_EQ(list.size(), count);
    for (uint32_t i = 0; i < count; ++i)
        (void)list.get_pointer(i).get_struct();
    EXPECT_EQ(list_message.error(), WireError::None);
    EXPECT_EQ(budget * 10 - list_message.traversal_left(), 1u + count + count);
    EXPECT_EQ(validate(MessageReader(shared, ReaderLimits{1 + 2 * count, 64})), WireError::None);
    EXPECT_EQ(validate(MessageReader(shared, ReaderLimits{2 * count, 64})),
              WireError::TraversalLimit);

    // Behind a far pointer (the general path): the pad, then the empty struct.
    Words far = {struct_ptr(0, 0, 1), far_ptr(false, 2, 0), empty_struct};
    EXPECT_EQ(validate(MessageReader(far, ReaderLimits{3, 64})), WireError::None);
    EXPECT_EQ(validate(MessageReader(far, ReaderLimits{2, 64})), WireError::TraversalLimit);
}

// ---------------------------------------------------------------------------
// Default values

TEST(CapnpWireReader, DefaultValuesFromTrustedMessages) {
    static const Word struct_default[] = {struct_ptr(0, 1, 1), 99,
                                          list_ptr(0, ElementSize::Byte, 3), text_word("ok")};
    static const Word list_default[] = {list_ptr(0, ElementSize::FourBytes, 2), 0x0000000200000001};
    MessageReader struct_value = MessageReader::trusted(struct_default);
    MessageReader list_value = MessageReader::trusted(list_default);

    Words words = {struct_ptr(0, 0, 4), 0, 0, struct_ptr(100, 1, 0),
                   list_ptr(100, ElementSize::Byte, 1)};
    MessageReader message(words);
    StructReader root = message.root();
    StructReader from_default = root.pointer_field(0).get_struct(&struct_value);
    EXPECT_EQ(from_default.data_field<uint64_t>(0), 99u);
    EXPECT_EQ(from_default.pointer_field(0).get_text().view(), "ok");
    ListReader list = root.pointer_field(1).get_list(ElementSize::FourBytes, &list_value);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list.get<uint32_t>(1), 2u);
    EXPECT_EQ(message.error(), WireError::None);

    // A bad pointer reads as the default too, and records its error.
    EXPECT_EQ(root.pointer_field(2).get_struct(&struct_value).data_field<uint64_t>(0), 99u);
    EXPECT_EQ(message.error(), WireError::OutOfBounds);
    EXPECT_EQ(root.pointer_field(3).get_list(ElementSize::FourBytes, &list_value).size(), 2u);

    // A pointer beyond the pointer section is null: default, no error.
    MessageReader clean(words);
    EXPECT_EQ(clean.root().pointer_field(9).get_struct(&struct_value).data_field<uint64_t>(0), 99u);
    EXPECT_EQ(clean.error(), WireError::None);
    // The failed get_list without a default keeps the expected element size.
    MessageReader failed(words);
    ListReader empty = failed.root().pointer_field(3).get_list(ElementSize::FourBytes);
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.element_size(), ElementSize::FourBytes);

    // Trusted messages record nothing, have no budget, and still check bounds.
    static const Word broken[] = {struct_ptr(5, 1, 0)};
    MessageReader trusted = MessageReader::trusted(broken);
    EXPECT_EQ(trusted.root().data_field<uint64_t>(0, 4), 4u);
    EXPECT_EQ(trusted.error(), WireError::None);
    EXPECT_EQ(validate(trusted), WireError::OutOfBounds);
}

// Generated defaults are constant-initialized trusted readers, shared by every
// CPU: building one is a constant expression, and reading through one (a struct,
// a list of structs, text, far from the root) writes nothing to it.
constexpr Word shared_default[] = {struct_ptr(0, 1, 2),
                                   7,
                                   list_ptr(1, ElementSize::Byte, 3),
                                   list_ptr(1, ElementSize::InlineComposite, 2),
                                   0x000000000000696b, // "ki"
                                   tag_word(2, 1, 0),
                                   11,
                                   12};
constinit const MessageReader shared_default_message = MessageReader::trusted(shared_default);
static_assert(MessageReader::trusted(shared_default).is_trusted() &&
              MessageReader::trusted(shared_default).segment_count() == 1);

TEST(CapnpWireReader, TrustedReadersAreNeverWritten) {
    const MessageReader& message = shared_default_message;
    ASSERT_TRUE(message.is_trusted());
    const uint64_t budget = message.traversal_left();
    for (int round = 0; round < 3; ++round) {
        StructReader root = message.root();
        EXPECT_EQ(root.data_field<uint64_t>(0), 7u);
        EXPECT_EQ(root.pointer_field(0).get_text().view(), "ki");
        ListReader list = root.pointer_field(1).get_list(ElementSize::InlineComposite);
        ASSERT_EQ(list.size(), 2u);
        EXPECT_EQ(list.get_struct(1).data_field<uint64_t>(0), 12u);
        // Wrong kinds read as defaults and record nothing either.
        EXPECT_EQ(root.pointer_field(0).get_struct().pointer_count(), 0u);
        EXPECT_EQ(root.total_words(), 7u); // all but the root pointer
    }
    EXPECT_EQ(message.traversal_left(), budget);
    EXPECT_EQ(message.error(), WireError::None);
    EXPECT_EQ(validate(message), WireError::None);

    // The same words read untrusted are charged as usual.
    MessageReader untrusted(shared_default);
    (void)untrusted.root().pointer_field(1).get_list(ElementSize::InlineComposite);
    EXPECT_LT(untrusted.traversal_left(), ReaderLimits{}.traversal_words);
}

// ---------------------------------------------------------------------------
// Builder

TEST(CapnpWireBuilder, ExactWords) {
    Words buffer(16, 0xeeeeeeeeeeeeeeee);
    MessageBuilder builder(buffer);
    StructBuilder root = builder.init_root(1, 3);
    root.set_data_field<uint32_t>(1, 0xabcd);
    root.set_data_field<uint16_t>(0, 5, 1); // stored 5 ^ 1
    root.set_bool_field(16, true);
    root.pointer_field(0).set_text("hi");
    ListBuilder shorts = root.pointer_field(1).init_list(ElementSize::TwoBytes, 3);
    for (uint32_t i = 0; i < 3; ++i)
        shorts.set<uint16_t>(i, static_cast<uint16_t>(i + 1));
    root.pointer_field(2).set_capability(7);
    Words expected = {
        struct_ptr(0, 1, 3),
        0x0000abcd00010004ull,
        list_ptr(2, ElementSize::Byte, 3),     // w2 -> w5
        list_ptr(2, ElementSize::TwoBytes, 3), // w3 -> w6
        cap_ptr(7),
        text_word("hi"),
        0x0000000300020001ull,
    };
    EXPECT_EQ(builder.error(), WireError::None);
    EXPECT_EQ(words_of(builder), expected);
    EXPECT_EQ(buffer[7], 0xeeeeeeeeeeeeeeeeull); // nothing written beyond

    Words framed(builder.framed_size_words());
    auto written = builder.write_framed(framed);
    ASSERT_TRUE(written.is_ok());
    EXPECT_EQ(written.value(), 8u);
    EXPECT_EQ(framed[0], Word{7} << 32);
    EXPECT_EQ(Words(framed.begin() + 1, framed.end()), expected);
}

TEST(CapnpWireBuilder, ListsAndStructListsExactWords) {
    Words buffer(32);
    MessageBuilder builder(buffer);
    StructBuilder root = builder.init_root(0, 5);
    ListBuilder bits = root.pointer_field(0).init_list(ElementSize::Bit, 3);
    bits.set_bool(0, true);
    bits.set_bool(2, true);
    bits.set_bool(3, true); // out of range: dropped
    (void)root.pointer_field(1).init_list(ElementSize::Void, 9);
    ListBuilder people = root.pointer_field(2).init_struct_list(2, 1, 1);
    people.get_struct(0).set_data_field<uint64_t>(0, 11);
    people.get_struct(1).set_data_field<uint64_t>(0, 22);
    people.get_struct(1).pointer_field(0).set_data(std::vector<uint8_t>{1, 2, 3});
    (void)root.pointer_field(3).init_struct(0, 0);
    ListBuilder pointers = root.pointer_field(4).init_list(ElementSize::Pointer, 1);
    pointers.get_pointer(0).init_struct(1, 0).set_data_field<uint8_t>(0, 0x7f);
    // Allocation order: bits w6, void (no words, at w7), struct list w7..w11,
    // element 1's data w12, the empty struct (no words), the pointer list w13
    // and its struct w14.
    Words expected = {
        struct_ptr(0, 0, 5),
        list_ptr(4, ElementSize::Bit, 3),             // w1 -> w6
        list_ptr(4, ElementSize::Void, 9),            // w2 -> w7
        list_ptr(3, ElementSize::InlineComposite, 4), // w3 -> w7
        empty_struct,                                 // w4
        list_ptr(7, ElementSize::Pointer, 1),         // w5 -> w13
        0x5,                                          // w6
        tag_word(2, 1, 1),                            // w7
        11,                                           // w8
        0,                                            // w9
        22,                                           // w10
        list_ptr(0, ElementSize::Byte, 3),            // w11 -> w12
        0x030201,                                     // w12
        struct_ptr(0, 1, 0),                          // w13 -> w14
        0x7f,                                         // w14
    };
    EXPECT_EQ(builder.error(), WireError::None);
    EXPECT_EQ(words_of(builder), expected);

    // Read back through the builder's own reader.
    StructReader back = root.as_reader();
    EXPECT_EQ(back.pointer_field(0).get_list(ElementSize::Bit).get_bool(2), true);
    EXPECT_EQ(back.pointer_field(1).get_list(ElementSize::Void).size(), 9u);
    EXPECT_EQ(back.pointer_field(2)
                  .get_list(ElementSize::InlineComposite)
                  .get_struct(1)
                  .pointer_field(0)
                  .get_data()
                  .size(),
              3u);
    EXPECT_EQ(people.as_reader().get_struct(0).data_field<uint64_t>(0), 11u);
    EXPECT_FALSE(root.pointer_field(3).is_null());
}

TEST(CapnpWireBuilder, RoundTripEveryType) {
    Words buffer(256);
    MessageBuilder builder(buffer);
    StructBuilder root = builder.init_root(4, 10);
    root.set_data_field<int8_t>(0, -5);
    root.set_data_field<int16_t>(1, -300);
    root.set_data_field<int32_t>(1, -70000);
    root.set_data_field<uint64_t>(1, 0xfedcba9876543210ull);
    root.set_data_field<double>(2, 3.25, 1.0);
    root.set_data_field<float>(6, 0.5f);
    root.set_bool_field(248, true);
    root.set_bool_field(249, false, true);
    EXPECT_EQ(root.data_field<double>(2, 1.0), 3.25);
    EXPECT_EQ(root.data_field<int32_t>(1), -70000);

    ElementSize sizes[] = {ElementSize::Void,     ElementSize::Bit,       ElementSize::Byte,
                           ElementSize::TwoBytes, ElementSize::FourBytes, ElementSize::EightBytes};
    for (uint16_t i = 0; i < 6; ++i) {
        ListBuilder list = root.pointer_field(i).init_list(sizes[i], 5);
        for (uint32_t j = 0; j < 5; ++j) {
            list.set_bool(j, j % 2 == 0);
            list.set<uint8_t>(j, static_cast<uint8_t>(j + 10));
            list.set<uint64_t>(j, j * 1000);
        }
        if (sizes[i] == ElementSize::TwoBytes || sizes[i] == ElementSize::FourBytes) {
            for (uint32_t j = 0; j < 5; ++j)
                list.set<uint16_t>(j, static_cast<uint16_t>(j * 7));
        }
    }
    ListBuilder texts = root.pointer_field(6).init_list(ElementSize::Pointer, 3);
    texts.get_pointer(0).set_text("one");
    texts.get_pointer(2).set_text("three!!!"); // 8 bytes + NUL: 2 words
    StructBuilder child = root.pointer_field(7).init_struct(1, 1);
    child.set_data_field<uint32_t>(0, 77);
    child.pointer_field(0).set_capability(3);
    ListBuilder structs = root.pointer_field(8).init_struct_list(3, 2, 0);
    for (uint32_t j = 0; j < 3; ++j)
        structs.get_struct(j).set_data_field<uint64_t>(1, j + 100);
    root.pointer_field(9).set_data({});

    ASSERT_EQ(builder.error(), WireError::None);
    MessageReader message(builder.words());
    ASSERT_EQ(validate(message), WireError::None);
    StructReader r = message.root();
    EXPECT_EQ(r.data_field<int8_t>(0), -5);
    EXPECT_EQ(r.data_field<int32_t>(1), -70000);
    EXPECT_EQ(r.data_field<uint64_t>(1), 0xfedcba9876543210ull);
    EXPECT_EQ(r.data_field<double>(2, 1.0), 3.25);
    EXPECT_EQ(r.data_field<float>(6), 0.5f);
    EXPECT_TRUE(r.bool_field(248));
    EXPECT_FALSE(r.bool_field(249, true));
    EXPECT_EQ(r.pointer_field(0).get_list(ElementSize::Void).size(), 5u);
    ListReader bits = r.pointer_field(1).get_list(ElementSize::Bit);
    EXPECT_TRUE(bits.get_bool(4));
    EXPECT_FALSE(bits.get_bool(3));
    EXPECT_EQ(r.pointer_field(2).get_list(ElementSize::Byte).get<uint8_t>(4), 14u);
    EXPECT_EQ(r.pointer_field(3).get_list(ElementSize::TwoBytes).get<uint16_t>(4), 28u);
    EXPECT_EQ(r.pointer_field(4).get_list(ElementSize::FourBytes).get<uint16_t>(4), 28u);
    EXPECT_EQ(r.pointer_field(5).get_list(ElementSize::EightBytes).get<uint64_t>(4), 4000u);
    ListReader text_list = r.pointer_field(6).get_list(ElementSize::Pointer);
    EXPECT_EQ(text_list.get_pointer(0).get_text().view(), "one");
    EXPECT_TRUE(text_list.get_pointer(1).is_null());
    EXPECT_EQ(text_list.get_pointer(2).get_text().view(), "three!!!");
    StructReader c = r.pointer_field(7).get_struct();
    EXPECT_EQ(c.data_field<uint32_t>(0), 77u);
    EXPECT_EQ(c.pointer_field(0).capability_index(), 3u);
    ListReader struct_list = r.pointer_field(8).get_list(ElementSize::InlineComposite);
    EXPECT_EQ(struct_list.get_struct(2).data_field<uint64_t>(1), 102u);
    EXPECT_FALSE(r.pointer_field(9).is_null());
    EXPECT_EQ(r.pointer_field(9).get_data().size(), 0u);
    EXPECT_EQ(message.error(), WireError::None);

    // And through the framed form.
    Words framed(builder.framed_size_words());
    ASSERT_TRUE(builder.write_framed(framed).is_ok());
    std::span<const Word> storage[4];
    auto segments = parse_framed(framed, storage);
    ASSERT_TRUE(segments.is_ok());
    MessageReader reparsed(segments.value());
    EXPECT_EQ(canonical(reparsed.root()), canonical(message.root()));
}

TEST(CapnpWireBuilder, NullBuildersAndMisuse) {
    StructBuilder null_struct;
    EXPECT_TRUE(null_struct.is_null());
    null_struct.set_data_field<uint32_t>(0, 5);
    null_struct.set_bool_field(0, true);
    EXPECT_EQ(null_struct.data_field<uint32_t>(0, 3), 3u);
    EXPECT_TRUE(null_struct.pointer_field(0).is_null());
    null_struct.pointer_field(0).set_text("dropped");
    EXPECT_TRUE(null_struct.pointer_field(0).init_struct(1, 1).is_null());
    EXPECT_EQ(null_struct.as_reader().pointer_count(), 0u);
    ListBuilder null_list;
    null_list.set<uint32_t>(0, 1);
    EXPECT_EQ(null_list.get<uint32_t>(0), 0u);
    EXPECT_TRUE(null_list.get_struct(0).is_null());
    EXPECT_EQ(null_list.as_reader().size(), 0u);
    PointerBuilder null_pointer;
    EXPECT_TRUE(null_pointer.is_null());
    null_pointer.clear();
    EXPECT_TRUE(null_pointer.as_reader().is_null());

    Words buffer(16);
    MessageBuilder builder(buffer);
    StructBuilder root = builder.init_root(1, 1);
    root.set_data_field<uint64_t>(1, 5); // beyond the data section: dropped
    EXPECT_EQ(root.data_field<uint64_t>(1, 8), 8u);
    EXPECT_TRUE(root.pointer_field(1).init_struct(1, 0).is_null());
    EXPECT_EQ(builder.error(), WireError::None);
    EXPECT_EQ(root.pointer_field(0).init_list(ElementSize::InlineComposite, 1).size(), 0u);
    EXPECT_EQ(builder.error(), WireError::WrongElementSize);
    EXPECT_TRUE(root.pointer_field(0).is_null());

    // Counts the encoding cannot express.
    Words big(16);
    MessageBuilder huge(big);
    StructBuilder huge_root = huge.init_root(0, 3);
    EXPECT_EQ(huge_root.pointer_field(0).init_list(ElementSize::Void, 1u << 29).size(), 0u);
    EXPECT_EQ(huge.error(), WireError::BufferFull);
    Words big2(16);
    MessageBuilder huge2(big2);
    EXPECT_EQ(huge2.init_root(0, 1).pointer_field(0).init_struct_list(1u << 28, 2, 0).size(), 0u);
    EXPECT_EQ(huge2.error(), WireError::BufferFull);

    // No room even for the root pointer.
    MessageBuilder empty(std::span<Word>{});
    EXPECT_EQ(empty.error(), WireError::BufferFull);
    EXPECT_TRUE(empty.init_root(1, 0).is_null());
    EXPECT_TRUE(empty.words().empty());
    Words out(4);
    EXPECT_TRUE(empty.write_framed(out).is_error());

    // Overwriting a pointer orphans the old target; clear() makes it null.
    Words again(32);
    MessageBuilder rebuilt(again);
    StructBuilder r = rebuilt.init_root(0, 1);
    r.pointer_field(0).set_text("first");
    r.pointer_field(0).set_text("second");
    EXPECT_EQ(r.as_reader().pointer_field(0).get_text().view(), "second");
    r.pointer_field(0).clear();
    EXPECT_TRUE(r.as_reader().pointer_field(0).is_null());
}

// ---------------------------------------------------------------------------
// Canonical copies

// A non-canonical two-segment message: objects out of order, garbage between
// them, a data section with trailing zero words, a struct with a trailing null
// pointer, a far pointer, and a struct list whose elements are wider than
// their content. Its canonical form is worked out by hand below.
TEST(CapnpWireCopy, CanonicalFormWordForWord) {
    Words seg0 = {
        struct_ptr(2, 3, 4),                // s0 -> s3
        text_word("ab"),                    // s1 (3 bytes with NUL)
        0xdeadbeefdeadbeefull,              // s2 garbage
        5,                                  // s3 data
        0,                                  // s4
        0,                                  // s5
        struct_ptr(3, 2, 1),                // s6 p0 -> s10
        0,                                  // s7 p1
        list_ptr(-8, ElementSize::Byte, 3), // s8 p2 -> s1
        far_ptr(false, 0, 1),               // s9 p3 -> seg1[0]
        7,                                  // s10
        0,                                  // s11
        0,                                  // s12 null pointer
    };
    Words seg1 = {
        list_ptr(0, ElementSize::InlineComposite, 8), // pad -> t1
        tag_word(2, 2, 2),                            // t1
        1,
        0,
        0,
        0, // element 0
        0,
        0,
        list_ptr(1, ElementSize::Byte, 2),
        0,              // element 1: t8 -> t10
        text_word("x"), // t10
    };
    Words expected = {
        struct_ptr(0, 1, 4),                          // c0
        5,                                            // c1
        struct_ptr(3, 1, 0),                          // c2 -> c6
        0,                                            // c3
        list_ptr(2, ElementSize::Byte, 3),            // c4 -> c7
        list_ptr(2, ElementSize::InlineComposite, 4), // c5 -> c8
        7,                                            // c6
        text_word("ab"),                              // c7
        tag_word(2, 1, 1),                            // c8
        1,                                            // c9
        0,                                            // c10
        0,                                            // c11
        list_ptr(0, ElementSize::Byte, 2),            // c12 -> c13
        text_word("x"),                               // c13
    };
    std::span<const Word> segments[] = {seg0, seg1};
    MessageReader source(segments);
    EXPECT_EQ(source.root().total_words(), expected.size() - 1);

    Words buffer(64, 0x5a5a5a5a5a5a5a5aull);
    MessageBuilder builder(buffer);
    builder.set_root(source.root());
    EXPECT_EQ(source.error(), WireError::None);
    EXPECT_EQ(builder.error(), WireError::None);
    EXPECT_EQ(words_of(builder), expected);

    // Canonical form is a fixed point.
    MessageReader copy(builder.words());
    Words again_buffer(64);
    MessageBuilder again(again_buffer);
    again.set_root(copy.root());
    EXPECT_EQ(words_of(again), expected);
}

TEST(CapnpWireCopy, PrimitiveListsAndUnusedBits) {
    Words source_words = {
        struct_ptr(0, 0, 4),
        list_ptr(3, ElementSize::Bit, 10),      // w1 -> w5
        list_ptr(3, ElementSize::Byte, 3),      // w2 -> w6
        list_ptr(3, ElementSize::Void, 2),      // w3 -> w7
        list_ptr(2, ElementSize::FourBytes, 1), // w4 -> w7
        0xfffffffffffffe05ull,                  // bits beyond 10 set: dropped
        0xffffffffff010203ull,                  // bytes beyond 3: dropped
        0xffffffff00000009ull,                  // beyond one u32: dropped
    };
    Words expected = {
        struct_ptr(0, 0, 4),
        list_ptr(3, ElementSize::Bit, 10),
        list_ptr(3, ElementSize::Byte, 3),
        list_ptr(3, ElementSize::Void, 2),
        list_ptr(2, ElementSize::FourBytes, 1),
        0x205,
        0x010203,
        9,
    };
    MessageReader source(source_words);
    Words buffer(16);
    MessageBuilder builder(buffer);
    builder.set_root(source.root());
    EXPECT_EQ(words_of(builder), expected);

    // set_list on its own, and lists read as another element size keep
    // their encoding.
    Words list_buffer(16);
    MessageBuilder lists(list_buffer);
    StructBuilder root = lists.init_root(0, 1);
    root.pointer_field(0).set_list(
        source.root().pointer_field(1).get_list(ElementSize::InlineComposite));
    EXPECT_EQ(lists.words()[1], list_ptr(0, ElementSize::Byte, 3));
    EXPECT_EQ(lists.words()[2], 0x010203u);
}

// A struct list whose sections are zero (or absent) in every element loses
// them in its canonical copy: an empty list's tag becomes (0 data words, 0
// pointers), and so does that of a list of all-zero elements. The copy must
// read as every list type the original reads as, with the same values (the
// elements' first data word or first pointer, zero or null), and be refused
// where the original is refused (as Bit). libcapnp refuses a struct list
// without a data section as a primitive list, and one without pointers as a
// pointer list, so it cannot read its own canonical form of such a message:
// we read both (see PointerReader::get_list).
TEST(CapnpWireCopy, ZeroSectionsOfStructListsDroppedAndReadAsBefore) {
    using E = ElementSize;
    struct Case {
        const char* name;
        Words source;
        Words canonical;
    };
    const Case cases[] = {
        // The shape the capnp fuzzer found: an empty struct list with one data
        // word and one pointer per element, read as List(Data).
        {"empty",
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 0), tag_word(0, 1, 1)},
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 0), tag_word(0, 0, 0)}},
        // Two elements, every word zero.
        {"zeros",
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 4), tag_word(2, 1, 1), 0, 0, 0, 0},
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 0), tag_word(2, 0, 0)}},
        // Zero data, one element with a pointer: pointer-only in the copy.
        {"zero data",
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 4), tag_word(2, 1, 1), 0, 0, 0,
          empty_struct},
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 2), tag_word(2, 0, 1), 0,
          empty_struct}},
        // Data, null pointers: data-only in the copy.
        {"null pointers",
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 4), tag_word(2, 1, 1), 0, 0, 9, 0},
         {struct_ptr(0, 0, 1), list_ptr(0, E::InlineComposite, 2), tag_word(2, 1, 0), 0, 9}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        MessageReader source(c.source);
        Words buffer(16);
        MessageBuilder builder(buffer);
        builder.set_root(source.root());
        ASSERT_EQ(builder.error(), WireError::None);
        EXPECT_EQ(words_of(builder), c.canonical);

        for (E expected : {E::Void, E::Bit, E::Byte, E::TwoBytes, E::FourBytes, E::EightBytes,
                           E::Pointer, E::InlineComposite}) {
            SCOPED_TRACE(static_cast<int>(expected));
            MessageReader original(c.source);
            MessageReader copy(builder.words());
            ListReader a = original.root().pointer_field(0).get_list(expected);
            ListReader b = copy.root().pointer_field(0).get_list(expected);
            WireError want = expected == E::Bit ? WireError::WrongElementSize : WireError::None;
            EXPECT_EQ(original.error(), want);
            EXPECT_EQ(copy.error(), want);
            ASSERT_EQ(a.size(), b.size());
            for (uint32_t i = 0; i < a.size(); ++i) {
                EXPECT_EQ(a.get<uint64_t>(i), b.get<uint64_t>(i));
                EXPECT_EQ(a.get<uint8_t>(i), b.get<uint8_t>(i));
                EXPECT_EQ(a.get_pointer(i).is_null(), b.get_pointer(i).is_null());
                EXPECT_EQ(a.get_struct(i).data_field<uint64_t>(0),
                          b.get_struct(i).data_field<uint64_t>(0));
            }
        }
    }
}

TEST(CapnpWireCopy, CopyWithinTheSameMessage) {
    Words buffer(64);
    MessageBuilder builder(buffer);
    StructBuilder root = builder.init_root(1, 2);
    root.set_data_field<uint64_t>(0, 1);
    root.pointer_field(0).set_text("t");
    // Copy the root into its own second pointer: the copy sees the old null.
    root.pointer_field(1).set_struct(root.as_reader());
    MessageReader message(builder.words());
    StructReader r = message.root();
    StructReader inner = r.pointer_field(1).get_struct();
    EXPECT_EQ(inner.data_field<uint64_t>(0), 1u);
    EXPECT_EQ(inner.pointer_field(0).get_text().view(), "t");
    EXPECT_EQ(inner.pointer_count(), 1u); // the trailing null was trimmed
    EXPECT_EQ(builder.error(), WireError::None);
}

TEST(CapnpWireCopy, CapabilitiesAndSourceErrors) {
    Words source_words = {struct_ptr(0, 0, 3), cap_ptr(4), struct_ptr(100, 1, 0), empty_struct};
    MessageReader source(source_words);
    Words buffer(16);
    MessageBuilder builder(buffer);
    builder.set_root(source.root());
    Words expected = {struct_ptr(0, 0, 3), cap_ptr(4), 0, empty_struct};
    EXPECT_EQ(words_of(builder), expected);
    EXPECT_EQ(source.error(), WireError::OutOfBounds);
    EXPECT_EQ(builder.error(), WireError::None);
}

// ---------------------------------------------------------------------------
// Buffer full

// A message touching every allocation path.
void build_sample(MessageBuilder& builder) {
    StructBuilder root = builder.init_root(2, 6);
    root.set_data_field<uint64_t>(0, 0x1122334455667788ull);
    root.set_data_field<uint64_t>(1, 5);
    root.pointer_field(0).set_text("a text of some length");
    ListBuilder list = root.pointer_field(1).init_list(ElementSize::FourBytes, 5);
    for (uint32_t i = 0; i < 5; ++i)
        list.set<uint32_t>(i, i);
    ListBuilder structs = root.pointer_field(2).init_struct_list(3, 1, 1);
    for (uint32_t i = 0; i < 3; ++i) {
        structs.get_struct(i).set_data_field<uint64_t>(0, i + 1);
        structs.get_struct(i).pointer_field(0).set_data(std::vector<uint8_t>(i * 5 + 1, 0xab));
    }
    StructBuilder child = root.pointer_field(3).init_struct(1, 1);
    child.set_data_field<uint64_t>(0, 99);
    child.pointer_field(0).init_list(ElementSize::Bit, 70).set_bool(69, true);
    root.pointer_field(4).set_capability(1);
    ListBuilder pointers = root.pointer_field(5).init_list(ElementSize::Pointer, 2);
    pointers.get_pointer(1).set_text("x");
}

TEST(CapnpWireBuilder, BufferFullAtEverySize) {
    constexpr size_t guard_words = 8;
    constexpr Word guard = 0xa5a5a5a5a5a5a5a5ull;
    Words reference_buffer(256);
    MessageBuilder reference(reference_buffer);
    build_sample(reference);
    ASSERT_EQ(reference.error(), WireError::None);
    Words expected(reference.words().begin(), reference.words().end());
    MessageReader reference_reader(expected);
    ASSERT_EQ(reference_reader.root().total_words() + 1, expected.size()); // built canonically

    for (size_t size = 0; size <= expected.size() + 2; ++size) {
        // Build directly, then by copying the reference.
        for (int mode = 0; mode < 2; ++mode) {
            Words buffer(size + guard_words, guard);
            MessageBuilder builder(std::span<Word>(buffer.data(), size));
            if (mode == 0) {
                build_sample(builder);
            } else {
                MessageReader source(expected);
                builder.set_root(source.root());
                EXPECT_EQ(source.error(), WireError::None);
            }
            for (size_t i = size; i < buffer.size(); ++i)
                ASSERT_EQ(buffer[i], guard) << "size " << size << " mode " << mode;
            EXPECT_LE(builder.words().size(), size);
            if (size >= expected.size()) {
                EXPECT_EQ(builder.error(), WireError::None);
                EXPECT_EQ(words_of(builder), expected);
            } else {
                EXPECT_EQ(builder.error(), WireError::BufferFull) << size;
                // What was built is still a well-formed (if truncated) message.
                if (!builder.words().empty())
                    EXPECT_EQ(validate(MessageReader(builder.words())), WireError::None);
            }
        }
    }

    // write_framed at every output size.
    for (size_t size = 0; size <= expected.size() + 2; ++size) {
        Words out(size + guard_words, guard);
        auto written = reference.write_framed(std::span<Word>(out.data(), size));
        for (size_t i = size; i < out.size(); ++i)
            ASSERT_EQ(out[i], guard);
        if (size > expected.size()) {
            ASSERT_TRUE(written.is_ok());
            EXPECT_EQ(written.value(), expected.size() + 1);
        } else {
            ASSERT_TRUE(written.is_error());
            EXPECT_EQ(written.error(), WireError::BufferFull);
        }
    }
    // A builder that ran out does not write framed output at all.
    Words small(4);
    MessageBuilder full(small);
    build_sample(full);
    Words out(64);
    auto written = full.write_framed(out);
    ASSERT_TRUE(written.is_error());
    EXPECT_EQ(written.error(), WireError::BufferFull);
}

// ---------------------------------------------------------------------------
// Framing

TEST(CapnpWireFraming, ParseSegmentTables) {
    std::span<const Word> storage[4];
    // Three segments of 1, 2 and 0 words: count-1 = 2, sizes, padding.
    Words three = {Word{2} | Word{1} << 32, Word{2} | Word{0} << 32, 11, 21, 22};
    auto parsed = parse_framed(three, storage);
    ASSERT_TRUE(parsed.is_ok());
    ASSERT_EQ(parsed.value().size(), 3u);
    EXPECT_EQ(parsed.value()[0].size(), 1u);
    EXPECT_EQ(parsed.value()[0][0], 11u);
    EXPECT_EQ(parsed.value()[1].size(), 2u);
    EXPECT_EQ(parsed.value()[1][1], 22u);
    EXPECT_EQ(parsed.value()[2].size(), 0u);

    // Two segments (the table is two words): the root is a far pointer into
    // the second.
    Words two_segments = {1 | Word{1} << 32, 2, far_ptr(false, 0, 1), struct_ptr(0, 1, 0), 42};
    auto parsed_two = parse_framed(two_segments, storage);
    ASSERT_TRUE(parsed_two.is_ok());
    MessageReader message(parsed_two.value());
    EXPECT_EQ(message.root().data_field<uint64_t>(0), 42u);
    EXPECT_EQ(message.error(), WireError::None);

    struct Case {
        const char* name;
        Words bytes;
        size_t storage;
        WireError error;
    };
    const std::vector<Case> cases = {
        {"empty", {}, 4, WireError::BadFraming},
        {"segment missing", {Word{1} << 32}, 4, WireError::BadFraming},
        {"segment short", {Word{2} << 32, 0}, 4, WireError::BadFraming},
        {"trailing word", {Word{1} << 32, 0, 0}, 4, WireError::BadFraming},
        {"table truncated",
         {
             Word{2} | Word{1} << 32,
         },
         4,
         WireError::BadFraming},
        {"table truncated 2", {Word{2} | Word{1} << 32, 0}, 4, WireError::BadFraming},
        {"size overflow", {Word{0xffffffff} << 32, 0}, 4, WireError::BadFraming},
        {"second size overflow",
         {Word{1} | Word{1} << 32, 0xffffffff, 0},
         4,
         WireError::BadFraming},
        {"too many segments", {Word{4}, 0, 0}, 4, WireError::TooManySegments},
        {"count overflow", {Word{0xffffffff}}, 4, WireError::TooManySegments},
        {"no storage", {Word{1} << 32, 0}, 0, WireError::TooManySegments},
        {"zero-size segment", {0}, 4, WireError::None},
        {"exact", {Word{1} << 32, 0}, 1, WireError::None},
    };
    for (const Case& c : cases) {
        auto result = parse_framed(c.bytes, std::span<std::span<const Word>>(storage, c.storage));
        if (c.error == WireError::None) {
            EXPECT_TRUE(result.is_ok()) << c.name;
        } else {
            ASSERT_TRUE(result.is_error()) << c.name;
            EXPECT_EQ(result.error(), c.error) << c.name;
        }
    }

    // Misaligned bytes are refused before they are read.
    alignas(8) uint8_t raw[24] = {};
    const Word* misaligned = reinterpret_cast<const Word*>(raw + 4);
    auto result = parse_framed(std::span<const Word>(misaligned, 2), storage);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error(), WireError::BadFraming);
}

// ---------------------------------------------------------------------------
// validate()

TEST(CapnpWireValidate, AcceptsGoodAndReportsTheFirstError) {
    Words buffer(256);
    MessageBuilder builder(buffer);
    build_sample(builder);
    EXPECT_EQ(validate(MessageReader(builder.words())), WireError::None);

    struct Case {
        const char* name;
        Words words;
        WireError error;
    };
    const std::vector<Case> cases = {
        {"null root", {0}, WireError::None},
        {"no root", {}, WireError::OutOfBounds},
        {"list root", {list_ptr(0, ElementSize::Byte, 0)}, WireError::WrongPointerKind},
        {"far root nowhere", {far_ptr(false, 0, 1)}, WireError::BadSegment},
        {"deep bad pointer",
         {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::Pointer, 1), struct_ptr(0, 0, 1),
          struct_ptr(5, 1, 0)},
         WireError::OutOfBounds},
        {"bad element pointer",
         {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::InlineComposite, 2), tag_word(2, 0, 1), 0,
          list_ptr(9, ElementSize::Byte, 1)},
         WireError::OutOfBounds},
        {"first error wins",
         {struct_ptr(0, 0, 2), cap_ptr(0) | Word{1} << 2, struct_ptr(9, 1, 0)},
         WireError::WrongPointerKind},
        {"capabilities are fine", {struct_ptr(0, 0, 1), cap_ptr(3)}, WireError::None},
        {"text without NUL is fine (no schema)",
         {struct_ptr(0, 0, 1), list_ptr(0, ElementSize::Byte, 3), text_word("abc")},
         WireError::None},
    };
    for (const Case& c : cases) {
        MessageReader message(c.words);
        EXPECT_EQ(validate(message), c.error) << c.name;
        EXPECT_EQ(message.error(), WireError::None) << c.name;
    }
}

// Up to five words for the shortcut tests below, mostly 0, 1 and 2 (null and
// the smallest pointers), sometimes anything.
Words small_noise(std::mt19937_64& random) {
    Words words(random() % 6);
    for (Word& word : words)
        word = random() % 4 == 0 ? random() : random() % 3;
    return words;
}

// Limits for the shortcut tests below: a small budget, a nesting limit of 0 or
// 1, the budget of an untrusted message of `words` words, or the defaults.
ReaderLimits edge_limits(std::mt19937_64& random, size_t words) {
    ReaderLimits limits;
    switch (random() % 4) {
    case 0:
        return ReaderLimits{random() % 4, limits.nesting};
    case 1:
        return ReaderLimits{limits.traversal_words, uint32_t(random() % 2)};
    case 2:
        return ReaderLimits::for_message(words);
    default:
        return limits;
    }
}

// validate() decides a root struct whose pointers are null or Text/Data
// itself (what most calls send) and leaves everything else to the walk: on
// messages made to sit on that shortcut's edges (roots of every kind, offsets
// and sizes around the segment's end, byte lists and other pointers in the
// root, far and multi-segment messages, budgets and nesting limits of 0, 1
// and 2) both must give the same verdict and the same capability flag.
TEST(CapnpWireValidate, ShortcutAgreesWithTheWalk) {
    std::mt19937_64 random(0x5eed);
    std::map<WireError, int> verdicts;
    int shortcut_shaped = 0;
    int with_text = 0;
    for (int i = 0; i < 300000; ++i) {
        Words words = small_noise(random);
        size_t size = words.size();
        if (size > 1 && random() % 3 == 0) {
            // A root of one or two pointers, each a byte list around the
            // segment's end, null, or another kind of pointer.
            uint16_t pointers = uint16_t(1 + random() % 2);
            words[0] = struct_ptr(int32_t(random() % 3) - 1, uint16_t(random() % 2), pointers);
            for (size_t at = 1; at < size && at <= 3; ++at) {
                switch (random() % 4) {
                case 0:
                case 1:
                    words[at] = list_ptr(int32_t(random() % 5) - 2, ElementSize::Byte,
                                         uint32_t(random() % 20));
                    break;
                case 2:
                    words[at] = 0;
                    break;
                default:
                    break; // noise: another kind, a capability, a far pointer
                }
            }
            ++with_text;
        } else if (size > 0) {
            switch (random() % 4) {
            case 0: // a struct without pointers, offset and size near the end
                words[0] = struct_ptr(int32_t(random() % 7) - 2, uint16_t(random() % 6), 0);
                ++shortcut_shaped;
                break;
            case 1: // the empty struct
                words[0] = struct_ptr(-1, 0, 0);
                ++shortcut_shaped;
                break;
            case 2: // with pointers: the walk's
                words[0] = struct_ptr(int32_t(random() % 3), uint16_t(random() % 3),
                                      uint16_t(1 + random() % 2));
                break;
            default: // anything (null, lists, far, capabilities, noise)
                break;
            }
        }
        ReaderLimits limits = edge_limits(random, words.size());
        if (random() % 16 == 0)
            limits.nesting = 2;
        Words second{struct_ptr(0, 1, 0), 7};
        std::span<const Word> segments[2] = {words, second};
        bool two_segments = random() % 8 == 0;
        MessageReader message =
            two_segments ? MessageReader(std::span<const std::span<const Word>>(segments), limits)
                         : MessageReader(std::span<const Word>(words), limits);
        bool fast_capabilities = true, walk_capabilities = false;
        WireError fast = validate(message, &fast_capabilities);
        WireError walk = detail::validate_by_walking(message, &walk_capabilities);
        ASSERT_EQ(fast, walk) << "message " << i;
        ASSERT_EQ(fast_capabilities, walk_capabilities) << "message " << i;
        ++verdicts[fast];
    }
    // The edges were reached: accepted, out of bounds, over budget, too deep.
    EXPECT_GT(shortcut_shaped, 50000);
    EXPECT_GT(with_text, 50000);
    EXPECT_GT(verdicts[WireError::None], 10000);
    EXPECT_GT(verdicts[WireError::OutOfBounds], 1000);
    EXPECT_GT(verdicts[WireError::TraversalLimit], 1000);
    EXPECT_GT(verdicts[WireError::NestingLimit], 1000);
}

// Noise with a struct root (offset, data and pointer counts around the
// segment's end) and often a struct pointer after it: the roots the
// shortcuts of MessageReader::root() decide.
Words root_edge_message(std::mt19937_64& random) {
    Words words = small_noise(random);
    size_t size = words.size();
    if (size > 0 && random() % 4 != 0)
        words[0] =
            struct_ptr(int32_t(random() % 7) - 2, uint16_t(random() % 4), uint16_t(random() % 3));
    if (size > 1 && random() % 2 == 0)
        words[1] = struct_ptr(int32_t(random() % 4) - 1, uint16_t(random() % 3), 0);
    return words;
}

// MessageReader::root() reads a struct root in the first segment itself and
// leaves everything else to get_struct: on roots of every shape, offsets and
// sizes around the segment's end, far roots, budgets and nesting limits of 0
// and 1, both must read the same struct, record the same error and charge
// the same budget, and what lies below the root must read the same too.
TEST(CapnpWireRoot, ShortcutAgreesWithGetStruct) {
    std::mt19937_64 random(0x7007);
    int structs = 0;
    for (int i = 0; i < 200000; ++i) {
        Words words = root_edge_message(random);
        ReaderLimits limits = edge_limits(random, words.size());
        MessageReader fast(std::span<const Word>(words), limits);
        MessageReader general(std::span<const Word>(words), limits);
        StructReader a = fast.root();
        StructReader b = general.root_pointer().get_struct();
        ASSERT_EQ(fast.error(), general.error()) << "message " << i;
        ASSERT_EQ(fast.traversal_left(), general.traversal_left()) << "message " << i;
        ASSERT_EQ(a.data_size_bytes(), b.data_size_bytes()) << "message " << i;
        ASSERT_EQ(a.pointer_count(), b.pointer_count()) << "message " << i;
        ASSERT_EQ(a.data_field<uint64_t>(0), b.data_field<uint64_t>(0)) << "message " << i;
        StructReader below_a = a.pointer_field(0).get_struct();
        StructReader below_b = b.pointer_field(0).get_struct();
        ASSERT_EQ(fast.error(), general.error()) << "message " << i;
        ASSERT_EQ(fast.traversal_left(), general.traversal_left()) << "message " << i;
        ASSERT_EQ(below_a.data_field<uint64_t>(0), below_b.data_field<uint64_t>(0))
            << "message " << i;
        structs += a.data_size_bytes() + a.pointer_count() != 0;
    }
    EXPECT_GT(structs, 10000); // the fast path's case was reached
}

// MessageReader::validated() takes the root without the checks validate()
// made: on every message validate() accepts (the shapes above, with their
// limits), it must read the same root struct as an ordinary reader, record
// no error, and read the same below it; on an empty message it records the
// same error.
TEST(CapnpWireRoot, ValidatedRootAgreesOnValidMessages) {
    std::mt19937_64 random(0x7008);
    int accepted = 0, struct_roots = 0;
    for (int i = 0; i < 200000; ++i) {
        Words words = root_edge_message(random);
        ReaderLimits limits = edge_limits(random, words.size());
        if (validate(MessageReader(std::span<const Word>(words), limits)) != WireError::None)
            continue;
        ++accepted;
        MessageReader validated = MessageReader::validated(std::span<const Word>(words), limits);
        MessageReader general(std::span<const Word>(words), limits);
        StructReader a = validated.root();
        StructReader b = general.root();
        ASSERT_EQ(validated.error(), general.error()) << "message " << i;
        ASSERT_EQ(a.data_size_bytes(), b.data_size_bytes()) << "message " << i;
        ASSERT_EQ(a.pointer_count(), b.pointer_count()) << "message " << i;
        for (uint32_t at = 0; at < a.data_size_bytes(); ++at)
            ASSERT_EQ(a.data_field<uint8_t>(at), b.data_field<uint8_t>(at)) << "message " << i;
        for (uint16_t at = 0; at < a.pointer_count(); ++at) {
            StructReader below_a = a.pointer_field(at).get_struct();
            StructReader below_b = b.pointer_field(at).get_struct();
            ASSERT_EQ(below_a.data_size_bytes(), below_b.data_size_bytes()) << "message " << i;
            ASSERT_EQ(below_a.data_field<uint64_t>(0), below_b.data_field<uint64_t>(0))
                << "message " << i;
        }
        ASSERT_EQ(validated.error(), general.error()) << "message " << i;
        struct_roots += a.data_size_bytes() + a.pointer_count() != 0;
    }
    EXPECT_GT(accepted, 20000);
    EXPECT_GT(struct_roots, 10000);

    MessageReader empty = MessageReader::validated({});
    (void)empty.root();
    EXPECT_EQ(empty.error(), WireError::OutOfBounds);
}

// StructReader::flat_root, which the kernel's small call reads flat params
// with, reads every flat message validate() accepts (a struct root, or null,
// without a pointer section) as the reader of the whole message does.
TEST(CapnpWireRoot, FlatRootAgreesOnFlatMessages) {
    std::mt19937_64 random(0xf1a7);
    int flat = 0, with_data = 0;
    for (int i = 0; i < 200000; ++i) {
        Words words = root_edge_message(random);
        if (words.empty() || (words[0] & 3) != 0 || (words[0] >> 48) != 0)
            continue;
        if (validate(MessageReader(std::span<const Word>(words))) != WireError::None)
            continue;
        ++flat;
        MessageReader message{std::span<const Word>(words)};
        StructReader expected = message.root();
        StructReader read = StructReader::flat_root(words.data());
        ASSERT_EQ(message.error(), WireError::None) << "message " << i;
        ASSERT_EQ(read.data_size_bytes(), expected.data_size_bytes()) << "message " << i;
        ASSERT_EQ(read.pointer_count(), 0) << "message " << i;
        for (uint32_t at = 0; at < read.data_size_bytes(); ++at)
            ASSERT_EQ(read.data_field<uint8_t>(at), expected.data_field<uint8_t>(at))
                << "message " << i;
        // Past the data section both read the default.
        ASSERT_EQ(read.data_field<uint64_t>(read.data_size_words()), 0u) << "message " << i;
        with_data += read.data_size_bytes() != 0;
    }
    EXPECT_GT(flat, 10000);
    EXPECT_GT(with_data, 5000);
}

// ---------------------------------------------------------------------------
// Random corruption: never a crash or an out-of-bounds access; whatever
// validates reads without errors and copies to a canonical fixed point.

void read_everything(PointerReader pointer, int depth) {
    if (depth > 80 || pointer.is_null())
        return;
    (void)pointer.is_capability();
    (void)pointer.get_text();
    (void)pointer.get_data();
    StructReader value = pointer.get_struct();
    for (uint32_t i = 0; i < value.data_size_bytes(); ++i)
        (void)value.data_field<uint8_t>(i);
    for (uint16_t i = 0; i < value.pointer_count(); ++i)
        read_everything(value.pointer_field(i), depth + 1);
    for (ElementSize size : {ElementSize::Bit, ElementSize::EightBytes, ElementSize::Pointer,
                             ElementSize::InlineComposite}) {
        ListReader list = pointer.get_list(size);
        for (uint32_t i = 0; i < list.size() && i < 64; ++i) {
            (void)list.get<uint64_t>(i);
            (void)list.get_bool(i);
            read_everything(list.get_pointer(i), depth + 1);
            StructReader element = list.get_struct(i);
            for (uint16_t j = 0; j < element.pointer_count(); ++j)
                read_everything(element.pointer_field(j), depth + 1);
        }
    }
}

TEST(CapnpWireFuzz, RandomCorruption) {
    Words buffer(256);
    MessageBuilder builder(buffer);
    build_sample(builder);
    Words original(builder.words().begin(), builder.words().end());
    std::mt19937_64 random(12345);
    int accepted = 0;
    Words copy_buffer(1 << 17);
    Words again_buffer(1 << 17);
    for (int round = 0; round < 3000; ++round) {
        Words words = original;
        int flips = 1 + static_cast<int>(random() % 4);
        for (int i = 0; i < flips; ++i) {
            size_t at = random() % words.size();
            switch (random() % 3) {
            case 0:
                words[at] ^= Word{1} << (random() % 64);
                break;
            case 1:
                words[at] = random();
                break;
            default:
                words[at] ^= Word{random() % 256} << (8 * (random() % 8));
                break;
            }
        }
        if (round % 7 == 0)
            words.resize(random() % (words.size() + 1));
        MessageReader message(words, ReaderLimits{1 << 16, 64});
        WireError checked = validate(message);
        read_everything(message.root_pointer(), 0);

        MessageReader source(words, ReaderLimits{1 << 16, 64});
        MessageBuilder copy(copy_buffer);
        copy.set_root(source.root());
        if (checked == WireError::None) {
            ++accepted;
            EXPECT_EQ(source.error(), WireError::None) << round;
            ASSERT_EQ(copy.error(), WireError::None) << round;
            MessageReader copied(copy.words());
            EXPECT_EQ(validate(copied), WireError::None);
            MessageBuilder again(again_buffer);
            again.set_root(copied.root());
            EXPECT_EQ(words_of(again), words_of(copy)) << round;
            EXPECT_EQ(copied.root().total_words() + 1, copy.words().size());
        }
    }
    EXPECT_GT(accepted, 100);
}

TEST(CapnpWire, ErrorNames) {
    for (int e = 0; e <= static_cast<int>(WireError::BufferFull); ++e)
        EXPECT_STRNE(to_string(static_cast<WireError>(e)), "unknown wire error");
    EXPECT_STREQ(to_string(static_cast<WireError>(200)), "unknown wire error");
}

} // namespace
} // namespace capos::capnp
