// Private to lib/capnp: the pointer-word codec and the functions that follow
// pointers, shared by reader.cpp, builder.cpp and validate.cpp. Everything here
// works on words that may be hostile; nothing allocates.
#pragma once

#include "lib/capnp/wire.h"

namespace capos::capnp::detail {

// Pointer words (https://capnproto.org/encoding.html):
//   struct:  kind 0 | offset:30 (signed, words from the end of the pointer)
//            | data words:16 | pointer count:16
//   list:    kind 1 | offset:30 | element size:3 | element count:29
//            (for InlineComposite the count is the words after the tag)
//   far:     kind 2 | double:1 | landing pad position:29 (unsigned) | segment:32
//   other:   kind 3 | 0:30 | capability index:32 (other values reserved)
enum class PointerKind : uint8_t { Struct = 0, List = 1, Far = 2, Other = 3 };

inline constexpr uint32_t max_list_count = (1u << 29) - 1; // 29-bit count fields
// A zero-sized struct is encoded with offset -1, so that it is not null.
inline constexpr Word empty_struct_pointer = 0xfffffffcu;
inline constexpr Word capability_kind_word = 3;

constexpr PointerKind kind_of(Word word) {
    return static_cast<PointerKind>(word & 3);
}
constexpr int64_t offset_of(Word word) {
    return static_cast<int32_t>(static_cast<uint32_t>(word)) >> 2;
}
constexpr uint16_t struct_data_words(Word word) {
    return static_cast<uint16_t>(word >> 32);
}
constexpr uint16_t struct_pointer_count(Word word) {
    return static_cast<uint16_t>(word >> 48);
}
constexpr ElementSize list_element_size(Word word) {
    return static_cast<ElementSize>((word >> 32) & 7);
}
constexpr uint32_t list_count(Word word) {
    return static_cast<uint32_t>(word >> 35);
}
// The element count in an InlineComposite tag (its offset field). libcapnp
// reads the low 29 bits of the 30-bit field; so do we.
constexpr uint32_t tag_element_count(Word word) {
    return (static_cast<uint32_t>(word) >> 2) & max_list_count;
}
constexpr bool far_is_double(Word word) {
    return ((word >> 2) & 1) != 0;
}
constexpr uint32_t far_position(Word word) {
    return static_cast<uint32_t>(word) >> 3;
}
constexpr uint32_t far_segment(Word word) {
    return static_cast<uint32_t>(word >> 32);
}
constexpr bool is_capability(Word word) {
    return static_cast<uint32_t>(word) == capability_kind_word;
}

constexpr Word make_struct_pointer(int64_t offset, uint16_t data_words, uint16_t pointer_count) {
    return Word{static_cast<uint32_t>(static_cast<uint32_t>(offset) << 2)} |
           Word{data_words} << 32 | Word{pointer_count} << 48;
}
constexpr Word make_list_pointer(int64_t offset, ElementSize size, uint32_t count) {
    return Word{static_cast<uint32_t>(static_cast<uint32_t>(offset) << 2)} | 1 |
           Word{static_cast<uint8_t>(size)} << 32 | Word{count} << 35;
}
// The tag word before the elements of an InlineComposite list.
constexpr Word make_tag(uint32_t count, uint16_t data_words, uint16_t pointer_count) {
    return Word{count} << 2 | Word{data_words} << 32 | Word{pointer_count} << 48;
}
constexpr Word make_capability_pointer(uint32_t index) {
    return capability_kind_word | Word{index} << 32;
}

// Tables rather than switches: these sit on the hot path of every list pointer,
// where a jump table costs an indirect branch.
constexpr uint32_t data_bits_per_element(ElementSize size) {
    constexpr uint8_t bits[8] = {0, 1, 8, 16, 32, 64, 0, 0}; // Void .. InlineComposite
    return bits[static_cast<uint8_t>(size) & 7];
}
constexpr uint16_t pointers_per_element(ElementSize size) {
    return size == ElementSize::Pointer ? 1 : 0;
}

// What a pointer leads to when read without a schema. A union, to keep the
// frames of the recursive walks (validate, copies) small.
struct AnyTarget {
    enum class Kind : uint8_t { Struct, List, Capability };

    explicit AnyTarget(const StructReader& value) : kind(Kind::Struct), structure(value) {}
    explicit AnyTarget(const ListReader& value) : kind(Kind::List), list(value) {}
    explicit AnyTarget(uint32_t index) : kind(Kind::Capability), capability(index) {}

    Kind kind;
    union {
        StructReader structure; // Kind::Struct
        ListReader list;        // Kind::List, as encoded
        uint32_t capability;    // Kind::Capability
    };
};

struct WireAccess {
    // The private constructors, for the library's own code.
    static StructReader make_struct(const MessageReader* message, const Word* at,
                                    uint16_t data_words, uint16_t pointer_count, uint32_t segment,
                                    uint32_t nesting) {
        return StructReader(message, reinterpret_cast<const uint8_t*>(at), at + data_words,
                            uint32_t{data_words} * 8, pointer_count, segment, nesting);
    }
    static ListReader make_list(const MessageReader* message, const uint8_t* elements,
                                uint32_t count, uint32_t step_bits, uint32_t data_bits,
                                uint16_t pointer_count, ElementSize size, uint32_t segment,
                                uint32_t nesting) {
        return ListReader(message, elements, count, step_bits, data_bits, pointer_count, size,
                          segment, nesting);
    }

    // reader.cpp. `pointer` is not null (callers check is_null() first).
    static Result<StructReader, WireError> read_struct(const PointerReader& pointer);
    // With check_size false any list is accepted as it is encoded.
    static Result<ListReader, WireError> read_list(const PointerReader& pointer,
                                                   ElementSize expected, bool check_size);
    static Result<std::span<const uint8_t>, WireError> read_blob(const PointerReader& pointer,
                                                                 bool text);
    static Result<AnyTarget, WireError> read_any(const PointerReader& pointer);

    // Where a (non-default) PointerReader is, for walks over runs of pointers.
    static const Word* address_of(const PointerReader& pointer) { return pointer.m_pointer; }
    static uint32_t segment_of(const PointerReader& pointer) { return pointer.m_segment; }
    static uint32_t nesting_of(const PointerReader& pointer) { return pointer.m_nesting; }
    static PointerReader make_pointer(const MessageReader* message, const Word* pointer,
                                      uint32_t segment, uint32_t nesting) {
        return PointerReader(message, pointer, segment, nesting);
    }
    static const MessageReader* message_of(const PointerReader& pointer) {
        return pointer.m_message;
    }
    static const MessageReader* message_of(const StructReader& value) { return value.m_message; }
    static const MessageReader* message_of(const ListReader& value) { return value.m_message; }

    // A struct's data and pointer sections without trailing zero bytes and
    // trailing null pointers: what a canonical copy keeps.
    static uint32_t trimmed_data_bytes(const StructReader& value) {
        uint32_t size = value.m_data_bytes;
        while (size > 0 && value.m_data[size - 1] == 0)
            --size;
        return size;
    }
    static uint16_t trimmed_pointer_count(const StructReader& value) {
        uint16_t count = value.m_pointer_count;
        while (count > 0 && load<Word>(value.m_pointers + count - 1) == 0)
            --count;
        return count;
    }

    // builder.cpp
    static Word* allocate(MessageBuilder& message, uint64_t words) {
        return message.allocate(words);
    }
    static void copy_struct(MessageBuilder& message, Word* destination, const StructReader& value);
    static void copy_list(MessageBuilder& message, Word* destination, const ListReader& value);
    static void copy_pointer(MessageBuilder& message, Word* destination,
                             const PointerReader& value);
    static uint64_t struct_words(const StructReader& value);
    static uint64_t list_words(const ListReader& value);
    static uint64_t pointer_words(const PointerReader& value);
};

} // namespace capos::capnp::detail
