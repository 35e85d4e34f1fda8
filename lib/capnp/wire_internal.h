// Private to lib/capnp: the functions that follow pointers and copy, shared by
// reader.cpp, builder.cpp and validate.cpp (the pointer-word codec they use is
// in wire.h's detail namespace, for the inline fast paths there). Everything
// here works on words that may be hostile; nothing allocates.
#pragma once

#include "lib/capnp/wire.h"

namespace capos::capnp::detail {

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
    static uint32_t step_bits_of(const ListReader& list) { return list.step_bits(); }
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
        uint32_t size = value.data_bytes();
        while (size > 0 && value.m_data[size - 1] == 0)
            --size;
        return size;
    }
    static uint16_t trimmed_pointer_count(const StructReader& value) {
        uint16_t count = value.pointer_count();
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
