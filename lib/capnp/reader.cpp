// Following pointers over hostile words: far pointers, bounds, kinds, element
// sizes, the traversal budget and the nesting limit. Every check is done on
// 64-bit (segment, word offset) pairs before a target address is formed, so a
// bad pointer never leads to an out-of-range address, let alone a read.
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

using detail::AnyTarget;
using detail::PointerKind;

const char* to_string(WireError error) {
    switch (error) {
    case WireError::None:
        return "no error";
    case WireError::OutOfBounds:
        return "pointer target out of bounds";
    case WireError::BadSegment:
        return "far pointer to a missing segment";
    case WireError::BadFarPointer:
        return "bad far pointer landing pad";
    case WireError::WrongPointerKind:
        return "wrong pointer kind";
    case WireError::WrongElementSize:
        return "incompatible list element size";
    case WireError::TextNotTerminated:
        return "text not NUL-terminated";
    case WireError::CapabilityPointer:
        return "capability pointer where data was expected";
    case WireError::TraversalLimit:
        return "traversal limit exceeded";
    case WireError::NestingLimit:
        return "nesting limit exceeded";
    case WireError::BadFraming:
        return "malformed segment table";
    case WireError::TooManySegments:
        return "too many segments";
    case WireError::BufferFull:
        return "message buffer full";
    }
    return "unknown wire error";
}

// ---------------------------------------------------------------------------
// Following pointers

namespace detail {
namespace {

// Where a pointer leads, before its bounds are checked.
struct Target {
    Word pointer;     // the struct or list pointer (or tag) that describes the target
    uint32_t segment; // the segment the target lies in
    int64_t offset;   // the target's word offset in that segment; may be out of range
};

// Follows a far pointer, if `at` holds one, to the pointer that describes the
// object. `at` lies in segment `segment_id` of `message`.
Result<Target, WireError> resolve(const MessageReader& message, uint32_t segment_id,
                                  const Word* at) {
    Word word = load<Word>(at);
    if (kind_of(word) != PointerKind::Far) {
        int64_t position = at - message.segment(segment_id).data();
        return Target{word, segment_id, position + 1 + offset_of(word)};
    }

    uint32_t pad_segment_id = far_segment(word);
    if (pad_segment_id >= message.segment_count())
        return Err{WireError::BadSegment};
    std::span<const Word> pad_segment = message.segment(pad_segment_id);
    uint64_t position = far_position(word);
    uint64_t pad_words = far_is_double(word) ? 2 : 1;
    if (position > pad_segment.size() || pad_words > pad_segment.size() - position)
        return Err{WireError::OutOfBounds};
    if (!message.consume_traversal(pad_words))
        return Err{WireError::TraversalLimit};
    const Word* pad = pad_segment.data() + position;
    Word landing = load<Word>(pad);

    if (!far_is_double(word)) {
        // A single landing pad is an ordinary struct or list pointer into its
        // own segment. Far pointers do not chain, and capabilities are never
        // placed behind them.
        if (kind_of(landing) == PointerKind::Far || kind_of(landing) == PointerKind::Other)
            return Err{WireError::BadFarPointer};
        return Target{landing, pad_segment_id,
                      static_cast<int64_t>(position) + 1 + offset_of(landing)};
    }

    // A double landing pad: a single far pointer to the object's start, then a
    // tag that describes the object (its offset is unused).
    Word tag = load<Word>(pad + 1);
    if (kind_of(landing) != PointerKind::Far || far_is_double(landing))
        return Err{WireError::BadFarPointer};
    if (kind_of(tag) != PointerKind::Struct && kind_of(tag) != PointerKind::List)
        return Err{WireError::BadFarPointer};
    uint32_t content_segment_id = far_segment(landing);
    if (content_segment_id >= message.segment_count())
        return Err{WireError::BadSegment};
    return Target{tag, content_segment_id, static_cast<int64_t>(far_position(landing))};
}

// The target's first word, once `words` words from it are known to lie in its
// segment and have been charged to the traversal budget (at least one word,
// see traversal_charge).
Result<const Word*, WireError> locate(const MessageReader& message, const Target& target,
                                      uint64_t words) {
    std::span<const Word> segment = message.segment(target.segment);
    if (target.offset < 0 || static_cast<uint64_t>(target.offset) > segment.size() ||
        words > segment.size() - static_cast<uint64_t>(target.offset))
        return Err{WireError::OutOfBounds};
    if (!message.consume_traversal(traversal_charge(words)))
        return Err{WireError::TraversalLimit};
    return segment.data() + target.offset;
}

WireError kind_error(Word pointer) {
    if (kind_of(pointer) == PointerKind::Other && is_capability(pointer))
        return WireError::CapabilityPointer;
    return WireError::WrongPointerKind;
}

Result<StructReader, WireError> struct_at(const MessageReader& message, const Target& target,
                                          uint32_t nesting) {
    uint16_t data_words = struct_data_words(target.pointer);
    uint16_t pointer_count = struct_pointer_count(target.pointer);
    const Word* at = TRY(locate(message, target, uint64_t{data_words} + pointer_count));
    return WireAccess::make_struct(&message, at, data_words, pointer_count, target.segment,
                                   nesting - 1);
}

// The rules for reading a list encoded one way as another are libcapnp's
// (layout.c++, readListPointer) but for one: a struct list reads as a
// primitive list even when its elements have no data section (every element
// reads as 0), and as a pointer list even when they have no pointers (every
// element reads as null); libcapnp refuses both. Canonical form (ours and
// libcapnp's canonicalize(), word for word) drops the data words or pointers
// that are zero in every element, so an empty struct list, or one of zero
// values, loses its sections in a canonical copy: refusing them would make the
// canonical copy of a message that reads without error fail to read, as
// libcapnp's own copy does. By the spec's rules for upgraded lists each
// element is a struct whose first field is the primitive or pointer, and a
// field beyond a struct's sections reads as its default, so the values read
// are the original's.
Result<ListReader, WireError> list_at(const MessageReader& message, const Target& target,
                                      uint32_t nesting, ElementSize expected, bool check_size) {
    ElementSize size = list_element_size(target.pointer);
    uint32_t count = list_count(target.pointer);

    if (size == ElementSize::InlineComposite) {
        uint32_t words = count; // after the tag
        const Word* at = TRY(locate(message, target, uint64_t{words} + 1));
        Word tag = load<Word>(at);
        if (kind_of(tag) != PointerKind::Struct)
            return Err{WireError::WrongPointerKind};
        uint32_t elements = tag_element_count(tag);
        uint16_t data_words = struct_data_words(tag);
        uint16_t pointer_count = struct_pointer_count(tag);
        uint64_t words_per_element = uint64_t{data_words} + pointer_count;
        if (uint64_t{elements} * words_per_element > words)
            return Err{WireError::OutOfBounds};
        // Zero-sized elements cost nothing to send: charge them anyway.
        if (words_per_element == 0 && !message.consume_traversal(elements))
            return Err{WireError::TraversalLimit};
        // Any list type but Bit, whatever the element's sections (see above):
        // ListReader reads a primitive beyond the data section as 0 and a
        // pointer beyond the pointer section as null.
        if (check_size && expected == ElementSize::Bit)
            return Err{WireError::WrongElementSize};
        return WireAccess::make_list(&message, reinterpret_cast<const uint8_t*>(at + 1), elements,
                                     static_cast<uint32_t>(words_per_element * 64),
                                     uint32_t{data_words} * 64, pointer_count,
                                     ElementSize::InlineComposite, target.segment, nesting - 1);
    }

    uint32_t data_bits = data_bits_per_element(size);
    uint16_t pointer_count = pointers_per_element(size);
    uint32_t step = data_bits + 64u * pointer_count;
    uint64_t words = (uint64_t{count} * step + 63) / 64;
    const Word* at = TRY(locate(message, target, words));
    if (size == ElementSize::Void && !message.consume_traversal(count))
        return Err{WireError::TraversalLimit};
    if (check_size) {
        if (size == ElementSize::Bit && expected != ElementSize::Bit)
            return Err{WireError::WrongElementSize};
        if (data_bits_per_element(expected) > data_bits ||
            pointers_per_element(expected) > pointer_count)
            return Err{WireError::WrongElementSize};
    }
    return WireAccess::make_list(&message, reinterpret_cast<const uint8_t*>(at), count, step,
                                 data_bits, pointer_count, size, target.segment, nesting - 1);
}

} // namespace

Result<StructReader, WireError> WireAccess::read_struct(const PointerReader& pointer) {
    const MessageReader& message = *pointer.m_message;
    if (pointer.m_nesting == 0)
        return Err{WireError::NestingLimit};
    Target target = TRY(resolve(message, pointer.m_segment, pointer.m_pointer));
    if (kind_of(target.pointer) != PointerKind::Struct)
        return Err{kind_error(target.pointer)};
    return struct_at(message, target, pointer.m_nesting);
}

Result<ListReader, WireError> WireAccess::read_list(const PointerReader& pointer,
                                                    ElementSize expected, bool check_size) {
    const MessageReader& message = *pointer.m_message;
    if (pointer.m_nesting == 0)
        return Err{WireError::NestingLimit};
    Target target = TRY(resolve(message, pointer.m_segment, pointer.m_pointer));
    if (kind_of(target.pointer) != PointerKind::List)
        return Err{kind_error(target.pointer)};
    return list_at(message, target, pointer.m_nesting, expected, check_size);
}

// Text and Data are leaves: like libcapnp, they are not held to the nesting limit.
Result<std::span<const uint8_t>, WireError> WireAccess::read_blob(const PointerReader& pointer,
                                                                  bool text) {
    const MessageReader& message = *pointer.m_message;
    Target target = TRY(resolve(message, pointer.m_segment, pointer.m_pointer));
    if (kind_of(target.pointer) != PointerKind::List)
        return Err{kind_error(target.pointer)};
    if (list_element_size(target.pointer) != ElementSize::Byte)
        return Err{WireError::WrongElementSize};
    uint32_t count = list_count(target.pointer);
    const Word* at = TRY(locate(message, target, (uint64_t{count} + 7) / 8));
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(at);
    if (text && (count == 0 || bytes[count - 1] != 0))
        return Err{WireError::TextNotTerminated};
    return std::span<const uint8_t>(bytes, count);
}

Result<AnyTarget, WireError> WireAccess::read_any(const PointerReader& pointer) {
    const MessageReader& message = *pointer.m_message;
    Word word = load<Word>(pointer.m_pointer);
    if (kind_of(word) == PointerKind::Other) {
        if (!is_capability(word))
            return Err{WireError::WrongPointerKind};
        return AnyTarget(static_cast<uint32_t>(word >> 32));
    }
    if (pointer.m_nesting == 0)
        return Err{WireError::NestingLimit};
    Target target = TRY(resolve(message, pointer.m_segment, pointer.m_pointer));
    if (kind_of(target.pointer) == PointerKind::Struct) {
        StructReader value = TRY(struct_at(message, target, pointer.m_nesting));
        return AnyTarget(value);
    }
    ListReader value =
        TRY(list_at(message, target, pointer.m_nesting, ElementSize::Void, /*check_size=*/false));
    return AnyTarget(value);
}

} // namespace detail

// ---------------------------------------------------------------------------
// PointerReader: the general paths behind the inline getters in wire.h

StructReader PointerReader::get_struct_slow(const MessageReader* default_value) const {
    if (!is_null()) {
        auto read = detail::WireAccess::read_struct(*this);
        if (read.is_ok())
            return read.value();
        m_message->record(read.error());
    }
    if (default_value != nullptr)
        return default_value->root();
    return {};
}

ListReader PointerReader::get_list_slow(ElementSize expected,
                                        const MessageReader* default_value) const {
    if (!is_null()) {
        auto read = detail::WireAccess::read_list(*this, expected, /*check_size=*/true);
        if (read.is_ok())
            return read.value();
        m_message->record(read.error());
    }
    if (default_value != nullptr)
        return default_value->root_pointer().get_list(expected);
    return detail::WireAccess::make_list(nullptr, nullptr, 0, 0, 0, 0, expected, 0, 0);
}

TextReader PointerReader::get_text_slow(std::string_view default_value) const {
    if (!is_null()) {
        auto read = detail::WireAccess::read_blob(*this, /*text=*/true);
        if (read.is_ok()) {
            std::span<const uint8_t> bytes = read.value();
            return TextReader(
                std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size() - 1));
        }
        m_message->record(read.error());
    }
    return TextReader(default_value);
}

std::span<const uint8_t>
PointerReader::get_data_slow(std::span<const uint8_t> default_value) const {
    if (!is_null()) {
        auto read = detail::WireAccess::read_blob(*this, /*text=*/false);
        if (read.is_ok())
            return read.value();
        m_message->record(read.error());
    }
    return default_value;
}

uint32_t PointerReader::capability_index() const {
    if (is_null())
        return no_capability;
    Word word = detail::load<Word>(m_pointer);
    if (!detail::is_capability(word)) {
        m_message->record(WireError::WrongPointerKind);
        return no_capability;
    }
    return static_cast<uint32_t>(word >> 32);
}

} // namespace capos::capnp
