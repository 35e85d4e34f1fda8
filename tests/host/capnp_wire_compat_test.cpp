// lib/capnp against libcapnp, the reference implementation, on random messages
// that libcapnp builds (multi-segment, with single and double far pointers,
// from tiny fixed-size segments):
//  - our reader reads them and our canonical copy equals libcapnp's
//    canonicalize() word for word;
//  - libcapnp reads our framed output and finds it canonical;
//  - on randomly corrupted messages, validate() accepts exactly what a full
//    walk with libcapnp's readers accepts.
#include "lib/capnp/wire.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace capos::capnp {
namespace {

using Words = std::vector<Word>;

// Builds random messages through libcapnp's schema-less builders.
class Generator {
public:
    explicit Generator(uint64_t seed) : m_random(seed) {}

    uint64_t below(uint64_t bound) { return m_random() % bound; }

    void fill_struct(::capnp::AnyStruct::Builder value, int depth) {
        kj::ArrayPtr<kj::byte> data = value.getDataSection();
        for (kj::byte& byte : data)
            byte = below(3) == 0 ? 0 : static_cast<kj::byte>(m_random());
        // Often leave trailing zero words and null pointers to be trimmed.
        if (data.size() >= 8 && below(2) == 0)
            memset(data.end() - 8, 0, 8);
        auto pointers = value.getPointerSection();
        for (uint i = 0; i < pointers.size(); ++i)
            fill_pointer(pointers[i], depth + 1);
    }

    void fill_pointer(::capnp::AnyPointer::Builder pointer, int depth) {
        uint64_t choice = depth > 4 ? below(3) * 3 : below(9);
        switch (choice) {
        case 0:
        case 8:
            return; // null
        case 1: {
            auto value = pointer.initAsAnyStruct(static_cast<uint16_t>(below(4)),
                                                 static_cast<uint16_t>(below(4)));
            fill_struct(value, depth);
            return;
        }
        case 2: {
            auto list = pointer.initAsListOfAnyStruct(static_cast<uint16_t>(below(3)),
                                                      static_cast<uint16_t>(below(3)),
                                                      static_cast<uint>(below(5)));
            for (uint i = 0; i < list.size(); ++i)
                fill_struct(list[i], depth + 1);
            return;
        }
        case 3: {
            std::string text(below(20), 'a');
            for (char& c : text)
                c = static_cast<char>('a' + below(26));
            pointer.setAs<::capnp::Text>(text.c_str());
            return;
        }
        case 4: {
            std::vector<kj::byte> bytes(below(20));
            for (kj::byte& byte : bytes)
                byte = static_cast<kj::byte>(m_random());
            pointer.setAs<::capnp::Data>(kj::arrayPtr(bytes.data(), bytes.size()));
            return;
        }
        case 5: {
            auto list =
                pointer.initAsAnyList(::capnp::ElementSize::POINTER, static_cast<uint>(below(4)));
            auto pointers = list.as<::capnp::List<::capnp::AnyPointer>>();
            for (uint i = 0; i < pointers.size(); ++i)
                fill_pointer(pointers[i], depth + 1);
            return;
        }
        default: {
            static const ::capnp::ElementSize sizes[] = {
                ::capnp::ElementSize::VOID,       ::capnp::ElementSize::BIT,
                ::capnp::ElementSize::BYTE,       ::capnp::ElementSize::TWO_BYTES,
                ::capnp::ElementSize::FOUR_BYTES, ::capnp::ElementSize::EIGHT_BYTES};
            ::capnp::ElementSize size = sizes[below(6)];
            uint count = static_cast<uint>(below(70));
            auto list = pointer.initAsAnyList(size, count);
            fill_primitives(list, size, count);
            return;
        }
        }
    }

private:
    void fill_primitives(::capnp::AnyList::Builder list, ::capnp::ElementSize size, uint count) {
        switch (size) {
        case ::capnp::ElementSize::BIT: {
            auto values = list.as<::capnp::List<bool>>();
            for (uint i = 0; i < count; ++i)
                values.set(i, below(2) == 0);
            break;
        }
        case ::capnp::ElementSize::BYTE: {
            auto values = list.as<::capnp::List<uint8_t>>();
            for (uint i = 0; i < count; ++i)
                values.set(i, static_cast<uint8_t>(m_random()));
            break;
        }
        case ::capnp::ElementSize::TWO_BYTES: {
            auto values = list.as<::capnp::List<uint16_t>>();
            for (uint i = 0; i < count; ++i)
                values.set(i, static_cast<uint16_t>(m_random()));
            break;
        }
        case ::capnp::ElementSize::FOUR_BYTES: {
            auto values = list.as<::capnp::List<uint32_t>>();
            for (uint i = 0; i < count; ++i)
                values.set(i, static_cast<uint32_t>(m_random()));
            break;
        }
        case ::capnp::ElementSize::EIGHT_BYTES: {
            auto values = list.as<::capnp::List<uint64_t>>();
            for (uint i = 0; i < count; ++i)
                values.set(i, m_random());
            break;
        }
        default:
            break;
        }
    }

    std::mt19937_64 m_random;
};

// A random message, built in segments of `segment_words` words (so small ones
// force far pointers, and double-far ones when a pointer's segment is full).
std::unique_ptr<::capnp::MallocMessageBuilder> random_message(Generator& generator,
                                                              uint segment_words) {
    auto message = std::make_unique<::capnp::MallocMessageBuilder>(
        segment_words, ::capnp::AllocationStrategy::FIXED_SIZE);
    auto root = message->getRoot<::capnp::AnyPointer>().initAsAnyStruct(
        static_cast<uint16_t>(generator.below(4)), static_cast<uint16_t>(1 + generator.below(4)));
    generator.fill_struct(root, 0);
    return message;
}

std::vector<std::span<const Word>>
spans_of(kj::ArrayPtr<const kj::ArrayPtr<const ::capnp::word>> segments) {
    std::vector<std::span<const Word>> spans;
    for (auto segment : segments)
        spans.emplace_back(reinterpret_cast<const Word*>(segment.begin()), segment.size());
    return spans;
}

Words canonical_of(const MessageReader& reader) {
    Words buffer(1 << 16);
    MessageBuilder builder(buffer);
    builder.set_root(reader.root());
    EXPECT_EQ(builder.error(), WireError::None);
    return Words(builder.words().begin(), builder.words().end());
}

TEST(CapnpWireCompat, ReaderAndCanonicalFormMatchLibcapnp) {
    Generator generator(1);
    int multi_segment = 0;
    for (int round = 0; round < 400; ++round) {
        uint segment_words = round % 4 == 0 ? 1024 : static_cast<uint>(1 + generator.below(12));
        auto message = random_message(generator, segment_words);
        auto segments = message->getSegmentsForOutput();
        multi_segment += segments.size() > 1;

        // Our reader over libcapnp's segments.
        auto spans = spans_of(segments);
        MessageReader reader(spans);
        ASSERT_EQ(validate(reader), WireError::None) << round;
        Words ours = canonical_of(reader);
        ASSERT_EQ(reader.error(), WireError::None) << round;
        EXPECT_EQ(reader.root().total_words() + 1, ours.size()) << round;

        // libcapnp's canonical form.
        ::capnp::SegmentArrayMessageReader reference(segments);
        kj::Array<::capnp::word> theirs = reference.getRoot<::capnp::AnyStruct>().canonicalize();
        ASSERT_EQ(ours.size(), theirs.size()) << round;
        EXPECT_EQ(memcmp(ours.data(), theirs.begin(), theirs.size() * 8), 0) << round;

        // libcapnp's stream framing into our parser.
        kj::Array<::capnp::word> flat = ::capnp::messageToFlatArray(*message);
        std::span<const Word> storage[64];
        auto parsed = parse_framed(
            std::span<const Word>(reinterpret_cast<const Word*>(flat.begin()), flat.size()),
            storage);
        ASSERT_TRUE(parsed.is_ok()) << round;
        MessageReader reparsed(parsed.value());
        EXPECT_EQ(canonical_of(reparsed), ours) << round;

        // Our framed output into libcapnp, which must find it canonical.
        Words buffer(1 << 16);
        MessageBuilder builder(buffer);
        builder.set_root(reader.root());
        Words framed(builder.framed_size_words());
        ASSERT_TRUE(builder.write_framed(framed).is_ok());
        ::capnp::FlatArrayMessageReader flat_reader(
            kj::arrayPtr(reinterpret_cast<const ::capnp::word*>(framed.data()), framed.size()));
        EXPECT_TRUE(flat_reader.isCanonical()) << round;
    }
    EXPECT_GT(multi_segment, 200);
}

// A full walk with libcapnp's readers: every pointer, every list element.
void walk_pointer(::capnp::AnyPointer::Reader pointer);

void walk_struct(::capnp::AnyStruct::Reader value) {
    for (auto pointer : value.getPointerSection())
        walk_pointer(pointer);
}

void walk_pointer(::capnp::AnyPointer::Reader pointer) {
    switch (pointer.getPointerType()) {
    case ::capnp::PointerType::NULL_:
    case ::capnp::PointerType::CAPABILITY:
        return;
    case ::capnp::PointerType::STRUCT:
        walk_struct(pointer.getAs<::capnp::AnyStruct>());
        return;
    case ::capnp::PointerType::LIST: {
        auto list = pointer.getAs<::capnp::AnyList>();
        if (list.getElementSize() == ::capnp::ElementSize::POINTER) {
            for (auto element : list.as<::capnp::List<::capnp::AnyPointer>>())
                walk_pointer(element);
        } else if (list.getElementSize() == ::capnp::ElementSize::INLINE_COMPOSITE) {
            for (auto element : list.as<::capnp::List<::capnp::AnyStruct>>())
                walk_struct(element);
        }
        return;
    }
    }
}

bool libcapnp_accepts(std::span<const std::span<const Word>> segments, ReaderLimits limits) {
    std::vector<kj::ArrayPtr<const ::capnp::word>> arrays;
    for (auto segment : segments)
        arrays.push_back(
            kj::arrayPtr(reinterpret_cast<const ::capnp::word*>(segment.data()), segment.size()));
    ::capnp::ReaderOptions options;
    options.traversalLimitInWords = limits.traversal_words;
    options.nestingLimit = static_cast<int>(limits.nesting);
    ::capnp::SegmentArrayMessageReader reader(kj::arrayPtr(arrays.data(), arrays.size()), options);
    auto failure = kj::runCatchingExceptions([&] {
        if (!reader.getRoot<::capnp::AnyPointer>().isNull())
            walk_struct(reader.getRoot<::capnp::AnyStruct>());
    });
    return failure == nullptr;
}

// The ways validate() is deliberately stricter than libcapnp, none of which
// libcapnp ever produces:
//  1. A pointer to a zero-sized object (empty struct, Void or empty list)
//     whose offset lies outside the segment: libcapnp clamps the target to the
//     segment's end and, reading nothing, accepts it; we report OutOfBounds.
//  2. A far pointer whose single landing pad is a capability (libcapnp follows
//     it to the capability), or whose double pad's first word is itself marked
//     double (libcapnp ignores the bit): BadFarPointer.
// lenient_copy() undoes case 1 by clamping such offsets the way libcapnp
// does; known_far_difference() spots case 2.
std::vector<Words> lenient_copy(const std::vector<Words>& segments) {
    std::vector<Words> copy = segments;
    for (Words& segment : copy) {
        int64_t size = static_cast<int64_t>(segment.size());
        for (int64_t i = 0; i < size; ++i) {
            Word& word = segment[static_cast<size_t>(i)];
            uint32_t kind = word & 3;
            bool zero_sized = false;
            if (kind == 0)
                zero_sized = word != 0 && (word >> 32) == 0;
            else if (kind == 1)
                zero_sized =
                    ((word >> 32) & 7) != 7 && (((word >> 32) & 7) == 0 || (word >> 35) == 0);
            if (!zero_sized)
                continue;
            int64_t target = i + 1 + (static_cast<int32_t>(static_cast<uint32_t>(word)) >> 2);
            if (target >= 0 && target <= size)
                continue;
            uint32_t offset = static_cast<uint32_t>(size - i - 1);
            word = (word & ~Word{0xffffffff}) | (offset << 2) | kind;
        }
    }
    return copy;
}

bool known_far_difference(std::span<const std::span<const Word>> segments) {
    for (auto segment : segments) {
        for (Word word : segment) {
            if ((word & 3) != 2)
                continue;
            uint32_t id = static_cast<uint32_t>(word >> 32);
            uint64_t position = static_cast<uint32_t>(word) >> 3;
            if (id >= segments.size() || position >= segments[id].size())
                continue;
            Word pad = segments[id][position];
            if ((word & 4) == 0 && (pad & 3) == 3)
                return true;
            if ((word & 4) != 0 && (pad & 7) == 6)
                return true;
        }
    }
    return false;
}

TEST(CapnpWireCompat, ValidateAgreesWithLibcapnpOnCorruptedMessages) {
    Generator generator(2);
    std::mt19937_64 random(3);
    const ReaderLimits limits{1 << 20, 64};
    int accepted = 0;
    int rejected = 0;
    int stricter = 0;
    for (int round = 0; round < 4000; ++round) {
        uint segment_words = round % 3 == 0 ? 1024 : static_cast<uint>(1 + generator.below(8));
        auto message = random_message(generator, segment_words);
        std::vector<Words> segments;
        for (auto segment : message->getSegmentsForOutput())
            segments.emplace_back(reinterpret_cast<const Word*>(segment.begin()),
                                  reinterpret_cast<const Word*>(segment.end()));
        int flips = 1 + static_cast<int>(random() % 3);
        for (int i = 0; i < flips; ++i) {
            Words& segment = segments[random() % segments.size()];
            if (segment.empty())
                continue;
            Word& word = segment[random() % segment.size()];
            if (random() % 4 == 0)
                word ^= Word{random() % 256} << (8 * (random() % 8));
            else
                word ^= Word{1} << (random() % 64);
        }
        std::vector<std::span<const Word>> spans(segments.begin(), segments.end());

        bool ours = validate(MessageReader(spans, limits)) == WireError::None;
        bool theirs = libcapnp_accepts(spans, limits);
        if (!ours && theirs) {
            std::vector<Words> lenient = lenient_copy(segments);
            std::vector<std::span<const Word>> lenient_spans(lenient.begin(), lenient.end());
            if (validate(MessageReader(lenient_spans, limits)) == WireError::None ||
                known_far_difference(spans)) {
                ++stricter;
                continue;
            }
        }
        EXPECT_EQ(ours, theirs) << "round " << round << ": validate() says "
                                << to_string(validate(MessageReader(spans, limits)));
        (ours ? accepted : rejected)++;

        // What both accept, both copy to the same canonical form.
        if (ours && theirs) {
            MessageReader reader(spans, limits);
            Words copy = canonical_of(reader);
            std::vector<kj::ArrayPtr<const ::capnp::word>> arrays;
            for (auto span : spans)
                arrays.push_back(
                    kj::arrayPtr(reinterpret_cast<const ::capnp::word*>(span.data()), span.size()));
            ::capnp::SegmentArrayMessageReader reference(
                kj::arrayPtr(arrays.data(), arrays.size()));
            kj::Maybe<kj::Array<::capnp::word>> canonical;
            auto failure = kj::runCatchingExceptions(
                [&] { canonical = reference.getRoot<::capnp::AnyStruct>().canonicalize(); });
            // libcapnp refuses to canonicalize capabilities; we copy them.
            if (failure != nullptr)
                continue;
            KJ_IF_MAYBE (words, canonical) {
                ASSERT_EQ(copy.size(), words->size()) << round;
                EXPECT_EQ(memcmp(copy.data(), words->begin(), copy.size() * 8), 0) << round;
            }
        }
    }
    EXPECT_GT(accepted, 500);
    EXPECT_GT(rejected, 500);
    EXPECT_LT(stricter, 400);
    RecordProperty("stricter", stricter);
}

} // namespace
} // namespace capos::capnp
