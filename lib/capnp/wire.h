// The Cap'n Proto wire format, freestanding: a reader over untrusted bytes and a
// builder into a caller-supplied buffer. No allocation, no exceptions; usable in
// the kernel, in userspace and on the host. Generated code (tools/capnpc-capos)
// is written against this header only.
//
// Errors. Readers never read outside the message. A pointer that is out of
// bounds, of the wrong kind, too deep, or past the traversal budget reads as
// its default (null struct: all fields default; null list: empty; null text:
// empty) and records the first such WireError in its MessageReader, where
// error() reports it. Builders never write outside their buffer: when the
// buffer is full, the operation yields a null builder (writes to it are
// dropped) and the MessageBuilder records WireError::BufferFull. A message is
// only good when error() is WireError::None after all reads or writes.
//
// Compatibility. What libcapnp writes, this reads, and the reverse; the list
// compatibility rules are libcapnp's. The reader is stricter than libcapnp in
// four ways no correct sender depends on: a pointer to a zero-sized object
// (empty struct, Void or empty list) must still have its offset inside the
// segment; a far pointer's single landing pad must be a struct or list
// pointer, never a capability; a double landing pad's first word must be a
// single far pointer; following a pointer to a zero-sized object costs one
// word of the traversal budget (libcapnp charges nothing), so a message close
// to its budget in libcapnp may exceed it here. It is more lenient in one way:
// a struct list whose elements have no data section reads as a primitive list
// (of zeros), and one whose elements have no pointers as a pointer list (of
// nulls), where libcapnp refuses them; canonical form drops sections that are
// zero in every element, and libcapnp cannot read its own canonical copy of
// such a list (see get_list).
//
// Cost. Readers and builders are small, trivially copyable views (a few
// pointers and counts); field and element accessors are inline and come down
// to one bounds check and one load or store. Following a pointer is inline
// too for what nearly every pointer is (a near pointer of the expected kind):
// checks of bounds, kind and budget, no call; everything else (far pointers,
// defaults, compatible encodings, errors) calls into lib/capnp/reader.cpp.
// Building allocates by bumping a count, inline. bench/capnp_bench measures
// all of it against libcapnp (docs/performance.md).
//
// Encoding reference: https://capnproto.org/encoding.html (words are 64-bit
// little-endian; struct, list, far and other pointers; segment tables).
#pragma once

#include "lib/base/result.h"
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

namespace capos::capnp {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian and is read in place");

using Word = uint64_t;
inline constexpr size_t bytes_per_word = 8;

enum class WireError : uint8_t {
    None,
    OutOfBounds,       // a pointer's target lies outside its segment
    BadSegment,        // a far pointer names a segment the message does not have
    BadFarPointer,     // a far pointer's landing pad is not what it should be
    WrongPointerKind,  // e.g. a list where a struct was expected
    WrongElementSize,  // a list whose elements cannot be read as the expected type
    TextNotTerminated, // Text without its NUL
    CapabilityPointer, // an "other" (capability) pointer where data was expected
    TraversalLimit,    // the message read more words than its budget allows
    NestingLimit,      // pointers nested deeper than the limit
    BadFraming,        // a malformed segment table
    TooManySegments,   // more segments than the caller's storage holds
    BufferFull,        // a builder ran out of space (or was asked for more than
                       // the encoding can express, e.g. 2^29 list elements),
                       // or a caller's scratch storage is too short
};
const char* to_string(WireError error);

enum class ElementSize : uint8_t {
    Void = 0,
    Bit = 1,
    Byte = 2,
    TwoBytes = 3,
    FourBytes = 4,
    EightBytes = 5,
    Pointer = 6,
    InlineComposite = 7,
};

struct ReaderLimits {
    uint64_t traversal_words = 8 * 1024 * 1024; // total words of targets a reader may visit
    uint32_t nesting = 64;                      // pointer depth

    // The limits for reading an untrusted message of `words` words (all its
    // segments): a traversal budget proportional to its size, so that any pass
    // over it (validate(), a walk, reading every field once) costs time linear
    // in its length however its pointers are shared. The fixed default above
    // lets a 46-word message whose structs point twice at the same child, 21
    // levels deep, make a walk visit two million structs.
    //
    // Why 4 * words + 64. A message whose objects are each reached once (what
    // every correct sender writes) is charged at most 2 * words: each object's
    // words and far landing pad once (together no more than the message), and
    // one word per pointer to a zero-sized object (no more than its pointer
    // words). Doubling that leaves room for lists of Void or of empty structs,
    // which cost a word per element but occupy none, of up to 2 * words
    // elements; the constant covers such lists in tiny messages. Sharing
    // beyond that is refused with TraversalLimit.
    static constexpr ReaderLimits for_message(size_t words) {
        constexpr uint64_t per_word = 4;
        constexpr uint64_t slack = 64;
        uint64_t budget =
            words > (UINT64_MAX - slack) / per_word ? UINT64_MAX : per_word * words + slack;
        return ReaderLimits{budget, ReaderLimits{}.nesting};
    }
};

class StructReader;
class ListReader;
class PointerReader;
class TextReader;
class MessageReader;
class StructBuilder;
class ListBuilder;
class PointerBuilder;
class MessageBuilder;

namespace detail {

// validate() (below) without its shortcut for a root struct that has no
// pointers: the walk itself, which decides everything else. The two agree on
// every message (tests/host/capnp_wire_test.cpp compares them).
WireError validate_by_walking(const MessageReader& message, bool* capabilities);

// Alignment-safe little-endian access; a fixed-size memcpy compiles to one move.
template <typename T>
inline T load(const void* at) {
    T value;
    __builtin_memcpy(&value, at, sizeof(T));
    return value;
}

template <typename T>
inline void store(void* at, T value) {
    __builtin_memcpy(at, &value, sizeof(T));
}

// Types a data field or a primitive list element may have. bool has its own
// accessors (bool_field, get_bool) because it is one bit wide.
template <typename T>
inline constexpr bool is_field_type = (std::is_integral_v<T> && !std::is_same_v<T, bool>) ||
                                      std::is_enum_v<T> || std::is_floating_point_v<T>;

// Fields are stored XORed with their schema default. For float and double the
// XOR applies to the bit patterns, so the mask is the default value itself
// (e.g. 1.5f), exactly as libcapnp does with its integer masks.
template <typename T>
inline T apply_mask(T value, T mask) {
    if constexpr (std::is_floating_point_v<T>) {
        using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
        return std::bit_cast<T>(
            static_cast<Bits>(std::bit_cast<Bits>(value) ^ std::bit_cast<Bits>(mask)));
    } else if constexpr (std::is_enum_v<T>) {
        using Underlying = std::underlying_type_t<T>;
        return static_cast<T>(static_cast<Underlying>(static_cast<Underlying>(value) ^
                                                      static_cast<Underlying>(mask)));
    } else {
        return static_cast<T>(value ^ mask);
    }
}

// The pointer-word codec: for lib/capnp and the inline fast paths below, not an
// API. Pointer words (https://capnproto.org/encoding.html):
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

// What following a pointer to an object of `words` words costs in traversal
// budget: its size, but at least one word, so that every pointer followed is
// paid for (an empty struct or list is otherwise free to visit any number of
// times through shared pointers).
constexpr uint64_t traversal_charge(uint64_t words) {
    return words != 0 ? words : 1;
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

// The library's own back door to the private constructors and members (see
// lib/capnp/wire_internal.h); nothing outside lib/capnp uses it.
struct WireAccess;

} // namespace detail

// One message being read. Holds the segments (not the bytes: they belong to the
// caller and must outlive every reader) and the error and traversal state.
// Not thread-safe; cheap to create. Readers point back at their MessageReader,
// so it must outlive them and stay where it is while they are in use.
class MessageReader {
public:
    // A single segment with the root pointer in its first word.
    explicit constexpr MessageReader(std::span<const Word> segment, ReaderLimits limits = {})
        : MessageReader(segment, limits, false) {}
    // Segments in their order; `segments` must outlive the reader.
    constexpr MessageReader(std::span<const std::span<const Word>> segments,
                            ReaderLimits limits = {})
        : m_first(segments.empty() ? std::span<const Word>() : segments[0]), m_segments(segments),
          m_segment_count(segments.size() > UINT32_MAX ? UINT32_MAX
                                                       : static_cast<uint32_t>(segments.size())),
          m_trusted(false), m_limits(limits), m_traversal_left(limits.traversal_words) {}

    // A trusted constant (a generated default value): no traversal budget, no
    // nesting limit, no error recording (bounds are still checked: a bad
    // pointer still reads as its default). Never use it for bytes from outside
    // the program.
    //
    // Reading through a trusted reader writes nothing to it (no budget is
    // charged, no error recorded), so one reader may be shared by any number
    // of threads and CPUs. Its nesting limit is 2^32 - 1 levels, which no
    // acyclic message reaches (generated defaults are canonical, and builders
    // only point forward), so that check never fires either. constexpr, so
    // that generated defaults are constant-initialized (`inline constexpr`: no
    // constructor, no initialization guard), as the kernel requires.
    static constexpr MessageReader trusted(std::span<const Word> segment) {
        return MessageReader(segment, ReaderLimits{UINT64_MAX, UINT32_MAX}, true);
    }

    // A single segment that validate() accepted (with these limits' nesting)
    // and that nobody else can have changed since: what capOS's kernel
    // delivers, which validates every message it carries (params in a
    // server's receive buffer, results in a caller's result buffer or
    // completion, params in its own scratch). Read like any message (bounds
    // checked, budget charged, errors recorded), but a generated skeleton or
    // client does not traverse it a second time (is_validated), and its root
    // struct is taken without the checks validate() made. Bytes another
    // program can still write are not validated: they may change after the
    // check (the readers stay safe, but errors would go unreported).
    static constexpr MessageReader validated(std::span<const Word> segment,
                                             ReaderLimits limits = {}) {
        MessageReader reader(segment, limits, false);
        reader.m_validated = true;
        return reader;
    }

    StructReader root() const;
    // The root pointer itself, for default values whose root is a list.
    PointerReader root_pointer() const;
    WireError error() const { return m_error; }
    void record(WireError error) const { // keeps the first error
        if (!m_trusted && m_error == WireError::None)
            m_error = error;
    }

    // Segment access: segment(id) is empty for an id the message does not have.
    constexpr uint32_t segment_count() const { return m_segment_count; }
    std::span<const Word> segment(uint32_t id) const {
        if (id == 0)
            return m_first;
        if (id < m_segment_count)
            return m_segments[id];
        return {};
    }
    constexpr bool is_trusted() const { return m_trusted; }
    constexpr bool is_validated() const { return m_validated; }
    const ReaderLimits& limits() const { return m_limits; }

    // Traversal accounting: every struct, list, blob and far landing pad a
    // reader visits is charged its size in words, and at least one word
    // (detail::traversal_charge); lists of zero-sized elements are charged one
    // more word per element, as libcapnp does. Visiting the same object twice
    // charges twice, which is what ends amplification through shared or
    // cyclic pointers. False, charging nothing, when the budget is short. A
    // trusted reader is never charged (and so is never written to).
    bool consume_traversal(uint64_t words) const {
        if (m_trusted)
            return true;
        if (words > m_traversal_left)
            return false;
        m_traversal_left -= words;
        return true;
    }
    uint64_t traversal_left() const { return m_traversal_left; }

private:
    friend WireError validate(const MessageReader& message, bool* capabilities);
    friend WireError detail::validate_by_walking(const MessageReader& message, bool* capabilities);

    constexpr MessageReader(std::span<const Word> segment, ReaderLimits limits, bool trusted)
        : m_first(segment), m_segments(), m_segment_count(1), m_trusted(trusted), m_limits(limits),
          m_traversal_left(limits.traversal_words) {}

    std::span<const Word> m_first;                     // segment 0
    std::span<const std::span<const Word>> m_segments; // all of them; empty for one segment
    uint32_t m_segment_count;
    bool m_trusted;
    bool m_validated = false; // see validated()
    mutable WireError m_error = WireError::None;
    ReaderLimits m_limits;
    mutable uint64_t m_traversal_left;
};

// Framed messages (the stream format): a segment table of little-endian u32s
// (segment count - 1, then each segment's size in words, padded to 8 bytes),
// then the segments. Parsing validates the table against the byte count (the
// segments must fill `bytes` exactly: neither short nor trailing words) and
// fills `storage` with one span per segment. Misaligned input is an error
// (BadFraming): callers copy unaligned bytes into Word buffers first.
Result<std::span<const std::span<const Word>>, WireError>
parse_framed(std::span<const Word> bytes, std::span<std::span<const Word>> storage);

class StructReader {
public:
    StructReader() = default; // the default struct: every field reads as its default

    // Field access, offsets as in the schema (in units of the field's size).
    // Fields beyond the struct's data section read as 0 ^ mask (older sender).
    template <typename T> // integers, enums as their underlying type, float, double
    T data_field(uint32_t offset, T mask = T{}) const {
        static_assert(detail::is_field_type<T>, "use bool_field for bool");
        if (offset < data_bytes() / sizeof(T))
            return detail::apply_mask(detail::load<T>(m_data + size_t{offset} * sizeof(T)), mask);
        return mask;
    }
    bool bool_field(uint32_t bit_offset, bool mask = false) const {
        if (bit_offset / 8 < data_bytes())
            return (((m_data[bit_offset / 8] >> (bit_offset % 8)) & 1) != 0) != mask;
        return mask;
    }
    PointerReader pointer_field(uint16_t index) const; // null beyond the pointer section

    // The data section's size, rounded up to words (a struct read from an
    // element of a primitive list has a data section of 1, 2 or 4 bytes).
    uint32_t data_size_words() const { return (data_bytes() + 7) / 8; }
    uint32_t data_size_bytes() const { return data_bytes(); }
    uint16_t pointer_count() const { return static_cast<uint16_t>(m_sizes >> 32); }

    // Total words this struct and everything it points to occupy (for copies):
    // exactly the words PointerBuilder::set_struct allocates for it, so a
    // message holding a copy as its root needs 1 + total_words() words. Walks
    // the whole tree, charging the traversal budget like any read.
    uint64_t total_words() const;

    // The root struct of a flat message: one whose root pointer is a near
    // struct pointer (null included) with no pointer section and its data
    // inside the message, which validate() accepts without a walk. The caller
    // has checked all of that (the kernel's small call: kernel/ipc/ring.cpp);
    // nothing here checks it again, and no MessageReader is needed, as a
    // struct without pointers has nothing to follow. A null root reads as
    // the default struct.
    [[gnu::always_inline]] static StructReader flat_root(const Word* message) {
        Word word = detail::load<Word>(message);
        const Word* at = message + 1 + detail::offset_of(word);
        return StructReader(nullptr, reinterpret_cast<const uint8_t*>(at), nullptr,
                            uint32_t{detail::struct_data_words(word)} * 8, 0, 0, 0);
    }

private:
    friend class ListReader;
    friend class PointerReader;
    friend class StructBuilder;
    friend class MessageReader;
    friend struct detail::WireAccess;

    StructReader(const MessageReader* message, const uint8_t* data, const Word* pointers,
                 uint32_t data_bytes, uint16_t pointer_count, uint32_t segment, uint32_t nesting)
        : m_message(message), m_data(data), m_pointers(pointers),
          m_sizes(uint64_t{data_bytes} | uint64_t{pointer_count} << 32),
          m_place(uint64_t{segment} | uint64_t{nesting} << 32) {}

    uint32_t data_bytes() const { return static_cast<uint32_t>(m_sizes); }
    uint32_t segment() const { return static_cast<uint32_t>(m_place); }
    uint32_t nesting() const { return static_cast<uint32_t>(m_place >> 32); }

    const MessageReader* m_message = nullptr;
    const uint8_t* m_data = nullptr;
    const Word* m_pointers = nullptr;
    // The small fields two to a word, each word built in a register and stored
    // at once. Readers are built and then at once copied or passed by value; a
    // copy reads whole words back, and a word the CPU must assemble from
    // several pending narrower stores stalls the copy until they retire.
    uint64_t m_sizes = 0; // data bytes | pointer count << 32
    uint64_t m_place = 0; // segment holding the pointer section | nesting << 32
                          // (pointer levels this struct's pointers may still descend)
};

class TextReader {
public:
    TextReader() = default;
    explicit TextReader(std::string_view text) : m_text(text) {}
    std::string_view view() const { return m_text; } // without the NUL
    size_t size() const { return m_text.size(); }
    bool is_empty() const { return m_text.empty(); }

private:
    std::string_view m_text;
};

class ListReader {
public:
    ListReader() = default; // empty list
    uint32_t size() const { return static_cast<uint32_t>(m_counts); }
    // The size the elements are encoded with (InlineComposite for a struct
    // list even when it is read as a primitive list, and the reverse).
    ElementSize element_size() const { return static_cast<ElementSize>(m_layout >> 48); }
    template <typename T>
    T get(uint32_t index) const { // index >= size() reads 0
        static_assert(detail::is_field_type<T>, "use get_bool for bool");
        if (index < size() && sizeof(T) * 8 <= data_bits())
            return detail::load<T>(m_elements + uint64_t{index} * step_bits() / 8);
        return T{};
    }
    bool get_bool(uint32_t index) const {
        if (index < size() && data_bits() != 0) {
            uint64_t bit = uint64_t{index} * step_bits();
            return ((m_elements[bit / 8] >> (bit % 8)) & 1) != 0;
        }
        return false;
    }
    StructReader get_struct(uint32_t index) const;
    PointerReader get_pointer(uint32_t index) const;
    // Byte-sized lists (Data and Text): the bytes, empty otherwise.
    std::span<const uint8_t> bytes() const {
        if (element_size() != ElementSize::Byte)
            return {};
        return {m_elements, size()};
    }

    // Words a canonical copy of this list takes (see StructReader::total_words).
    uint64_t total_words() const;

private:
    friend class ListBuilder;
    friend class PointerReader;
    friend struct detail::WireAccess;

    ListReader(const MessageReader* message, const uint8_t* elements, uint32_t count,
               uint32_t step_bits, uint32_t data_bits, uint16_t pointer_count,
               ElementSize element_size, uint32_t segment, uint32_t nesting)
        : m_message(message), m_elements(elements),
          m_counts(uint64_t{count} | uint64_t{step_bits} << 32),
          m_layout(uint64_t{data_bits} | uint64_t{pointer_count} << 32 |
                   uint64_t{static_cast<uint8_t>(element_size)} << 48),
          m_place(uint64_t{segment} | uint64_t{nesting} << 32) {}

    uint32_t step_bits() const { return static_cast<uint32_t>(m_counts >> 32); }
    uint32_t data_bits() const { return static_cast<uint32_t>(m_layout); }
    uint16_t pointers_per_element() const { return static_cast<uint16_t>(m_layout >> 32); }
    uint32_t segment() const { return static_cast<uint32_t>(m_place); }
    uint32_t nesting() const { return static_cast<uint32_t>(m_place >> 32); }

    const MessageReader* m_message = nullptr;
    const uint8_t* m_elements = nullptr; // the first element (after the tag)
    // Two to a word, as in StructReader.
    uint64_t m_counts = 0; // elements | bits from one element to the next << 32
    uint64_t m_layout = 0; // data bits at the start of each element | pointers after
                           // them << 32 | element size << 48
    uint64_t m_place = 0;  // segment | nesting << 32 (nesting as for StructReader)
};

class PointerReader {
public:
    PointerReader() = default; // a null pointer
    bool is_null() const { return m_pointer == nullptr || detail::load<Word>(m_pointer) == 0; }
    // `default_value`, when given, is a trusted message whose root pointer is
    // read instead when this pointer is null (schema default values).
    StructReader get_struct(const MessageReader* default_value = nullptr) const;
    // `expected` tells which element size the schema declares; compatible
    // encodings are accepted as the spec allows (a struct list read from a
    // primitive list and the reverse). The rules are libcapnp's: a struct list
    // (expected InlineComposite) reads any list but a Bit list; a primitive
    // list reads a list of wider primitives or a struct list; a pointer list
    // reads a struct list; a Bit list reads a Bit list, or bit 0 of each
    // element of a wider primitive list, and is itself read as nothing else.
    // Unlike libcapnp, a struct list without a data section reads as a
    // primitive list (every element 0) and one without pointers as a pointer
    // list (every element null): a canonical copy (MessageBuilder::set_root,
    // libcapnp's canonicalize()) drops the sections that are zero in every
    // element, and must read as the original did (lib/capnp/reader.cpp).
    ListReader get_list(ElementSize expected, const MessageReader* default_value = nullptr) const;
    TextReader get_text(std::string_view default_value = {}) const;
    std::span<const uint8_t> get_data(std::span<const uint8_t> default_value = {}) const;
    // A capability pointer's index into the message's capability table, if it is one.
    bool is_capability() const {
        return m_pointer != nullptr && static_cast<uint32_t>(detail::load<Word>(m_pointer)) == 3;
    }
    // capability_index() is no_capability for a null pointer (no error) and
    // for any other pointer that is not a capability (recording
    // WrongPointerKind). Capability pointers are never reached through far
    // pointers.
    static constexpr uint32_t no_capability = UINT32_MAX;
    uint32_t capability_index() const;

private:
    friend class StructReader;
    friend class ListReader;
    friend class MessageReader;
    friend class PointerBuilder;
    friend struct detail::WireAccess;

    PointerReader(const MessageReader* message, const Word* pointer, uint32_t segment,
                  uint32_t nesting)
        : m_message(message), m_pointer(pointer), m_segment(segment), m_nesting(nesting) {}

    // The getters above are inline fast paths for what almost every pointer is:
    // a struct, list or blob pointer into its own segment, of the expected kind
    // and element size, within the budget. They check what the general path
    // checks and charge exactly what it charges, but only once all else has
    // passed; anything else (far pointers, null, defaults, compatible element
    // sizes, errors) goes to the general path below (reader.cpp), which
    // decides and records errors. So a fast path never charges and then gives
    // way, and the two paths cannot disagree.
    //
    // The first word of a near pointer's target when `words` words from it lie
    // in this pointer's segment; null otherwise. Offsets are checked as 64-bit
    // integers before any address is formed. Charges nothing.
    const Word* near_target(Word word, uint64_t words) const {
        std::span<const Word> segment = m_message->segment(m_segment);
        int64_t offset = (m_pointer - segment.data()) + 1 + detail::offset_of(word);
        if (offset < 0 || static_cast<uint64_t>(offset) > segment.size() ||
            words > segment.size() - static_cast<uint64_t>(offset))
            return nullptr;
        return segment.data() + offset;
    }
    StructReader get_struct_slow(const MessageReader* default_value) const;
    ListReader get_list_slow(ElementSize expected, const MessageReader* default_value) const;
    TextReader get_text_slow(std::string_view default_value) const;
    std::span<const uint8_t> get_data_slow(std::span<const uint8_t> default_value) const;

    const MessageReader* m_message = nullptr;
    const Word* m_pointer = nullptr;
    uint32_t m_segment = 0; // the segment holding the pointer word
    uint32_t m_nesting = 0; // levels the target may still descend; 0: too deep
};

// Checks a whole message without a schema: follows every pointer reachable from
// the root (struct and list targets, far pointers, the elements of pointer and
// struct lists), within the message's limits, and returns the first error, or
// None. Capability pointers are accepted; Text is not told from Data without a
// schema, so NUL terminators are left to get_text. Runs on a fresh copy of the
// message's state (the whole traversal budget of the limits `message` was made
// with, whatever `message` has used) and changes nothing in `message`: decode
// before invoke. Its time is linear in that budget: an untrusted message read
// with ReaderLimits::for_message is validated in time linear in its size.
// Recursion depth is bounded by the nesting limit (about 180 bytes of stack
// per level on x86_64). When `capabilities` is given, it is set to whether
// the walk met a capability pointer (so a message without any need not be
// walked again to find them).
WireError validate(const MessageReader& message, bool* capabilities = nullptr);

namespace detail {
// Whether the `count` pointers at word `first` of `segment` are each null or a
// near byte list inside the segment, their charges within `budget` (the
// pointer section of is_shallow_struct_root's root). Inline: in the kernel a
// call and its return are two lookups of translated code under TCG, each a
// miss after an address-space switch (docs/performance.md).
[[gnu::always_inline]] inline bool byte_lists_fit(std::span<const Word> segment, uint64_t first,
                                                  uint64_t count, uint64_t budget) {
    uint64_t size = segment.size();
    uint64_t charged = 0;
    for (uint64_t at = first; at < first + count; ++at) {
        Word word = load<Word>(segment.data() + at);
        if (word == 0)
            continue;
        if (kind_of(word) != PointerKind::List || list_element_size(word) != ElementSize::Byte)
            return false;
        int64_t target = static_cast<int64_t>(at) + 1 + offset_of(word);
        uint64_t words = (uint64_t{list_count(word)} + 7) / 8;
        if (target < 0 || static_cast<uint64_t>(target) > size ||
            words > size - static_cast<uint64_t>(target))
            return false;
        charged += traversal_charge(words);
    }
    return charged <= budget;
}
} // namespace detail

// Whether `segment`, as the only segment of a message read with
// `traversal_words` of budget and `nesting` levels, is what most calls send:
// a root struct whose pointers are each null or a Text or Data (a near list
// of bytes), everything inside the segment. Nothing else is reachable from
// such a root, so the validation walk would charge each object's size once
// and stop: true is that walk's outcome (valid, no capability) when every
// check passes, and false says only that the walk must decide.
inline bool is_shallow_struct_root(std::span<const Word> segment, uint64_t traversal_words,
                                   uint32_t nesting) {
    if (segment.empty() || nesting == 0)
        return false;
    Word root = detail::load<Word>(segment.data());
    if (root == 0 || detail::kind_of(root) != detail::PointerKind::Struct)
        return false;
    uint64_t size = segment.size();
    int64_t offset = 1 + detail::offset_of(root);
    uint64_t data_words = detail::struct_data_words(root);
    uint64_t pointer_count = detail::struct_pointer_count(root);
    if (offset < 0 || static_cast<uint64_t>(offset) > size ||
        data_words + pointer_count > size - static_cast<uint64_t>(offset))
        return false;
    uint64_t charged = detail::traversal_charge(data_words + pointer_count);
    if (charged > traversal_words)
        return false;
    if (pointer_count == 0)
        return true;
    return nesting >= 2 &&
           detail::byte_lists_fit(segment, static_cast<uint64_t>(offset) + data_words,
                                  pointer_count, traversal_words - charged);
}

// Inline: the shortcut below decides the params of most calls without a call.
inline WireError validate(const MessageReader& message, bool* capabilities) {
    if (message.m_segments.empty() &&
        is_shallow_struct_root(message.m_first, message.m_limits.traversal_words,
                               message.m_limits.nesting)) {
        if (capabilities)
            *capabilities = false;
        return WireError::None;
    }
    return detail::validate_by_walking(message, capabilities);
}

// Builds one single-segment message in `buffer`. Objects are allocated in the
// order they are initialised, so building in schema order gives the canonical
// (pre-order) layout. Every allocation is zeroed as it is made (the rest of the
// buffer is left alone: only words() is the message). At most 2^29 words of the
// buffer are used (the most a 30-bit pointer offset reaches). Builders point
// back at their MessageBuilder, which therefore cannot be copied or moved.
class MessageBuilder {
public:
    // The most words of a buffer a builder uses: with targets after pointers, no
    // offset exceeds 2^29 - 2, which a 30-bit signed offset holds, and every size
    // fits the 29-bit count fields and the 32-bit segment table.
    static constexpr size_t max_builder_words = size_t{1} << 29;

    explicit MessageBuilder(std::span<Word> buffer);
    MessageBuilder(const MessageBuilder&) = delete;
    MessageBuilder& operator=(const MessageBuilder&) = delete;

    StructBuilder init_root(uint16_t data_words, uint16_t pointer_count);
    // Deep-copies `value` as the root, in canonical form (pre-order, trailing
    // zero words of data sections and null trailing pointers dropped).
    void set_root(StructReader value);
    PointerBuilder root_pointer();

    std::span<const Word> words() const { return {m_buffer, m_used}; } // root pointer first
    WireError error() const { return m_error; }

    // The framed form: 8-byte segment table and the segment.
    size_t framed_size_words() const { return 1 + m_used; }
    // Fails with error() when the message is not good, or BufferFull when
    // `out` is shorter than framed_size_words().
    Result<size_t, WireError> write_framed(std::span<Word> out) const; // words written

private:
    friend class StructBuilder;
    friend class ListBuilder;
    friend class PointerBuilder;
    friend struct detail::WireAccess;

    // `words` zeroed words, or null (and BufferFull) when they do not fit or an
    // earlier allocation did not. Inline: almost always a bump of m_used, and
    // with a constant size (a generated struct's) the zeroing is a few stores.
    Word* allocate(uint64_t words) {
        Word* at = allocate_uninitialized(words);
        if (at != nullptr && words != 0)
            __builtin_memset(at, 0, words * bytes_per_word);
        return at;
    }
    // The same, the words left as the buffer holds them: for objects that are
    // written in full at once (Text, Data).
    Word* allocate_uninitialized(uint64_t words) {
        if (!m_full && words <= m_capacity - m_used) {
            Word* at = m_buffer + m_used;
            m_used += words;
            return at;
        }
        return allocation_failed();
    }
    Word* allocation_failed(); // null, having recorded BufferFull; all later allocations fail
    void record(WireError error) {
        if (m_error == WireError::None)
            m_error = error;
    }

    Word* m_buffer;
    size_t m_capacity; // usable words of the buffer
    size_t m_used;     // words allocated so far
    WireError m_error = WireError::None;
    bool m_full = false;    // an allocation failed: all later ones fail too
    MessageReader m_reader; // trusted view of the buffer, for as_reader()
};

class StructBuilder {
public:
    StructBuilder() = default; // null: writes are dropped, reads give defaults
    bool is_null() const { return m_message == nullptr; }

    template <typename T>
    void set_data_field(uint32_t offset, T value, T mask = T{}) {
        static_assert(detail::is_field_type<T>, "use set_bool_field for bool");
        if (offset < m_data_bytes / sizeof(T))
            detail::store<T>(m_data + size_t{offset} * sizeof(T), detail::apply_mask(value, mask));
    }
    template <typename T>
    T data_field(uint32_t offset, T mask = T{}) const {
        static_assert(detail::is_field_type<T>, "use bool_field for bool");
        if (offset < m_data_bytes / sizeof(T))
            return detail::apply_mask(detail::load<T>(m_data + size_t{offset} * sizeof(T)), mask);
        return mask;
    }
    void set_bool_field(uint32_t bit_offset, bool value, bool mask = false) {
        if (bit_offset / 8 < m_data_bytes) {
            uint8_t bit = static_cast<uint8_t>(1u << (bit_offset % 8));
            uint8_t& byte = m_data[bit_offset / 8];
            byte = (value != mask) ? static_cast<uint8_t>(byte | bit)
                                   : static_cast<uint8_t>(byte & ~bit);
        }
    }
    bool bool_field(uint32_t bit_offset, bool mask = false) const {
        if (bit_offset / 8 < m_data_bytes)
            return (((m_data[bit_offset / 8] >> (bit_offset % 8)) & 1) != 0) != mask;
        return mask;
    }
    PointerBuilder pointer_field(uint16_t index); // null beyond the pointer section

    StructReader as_reader() const;

private:
    friend class ListBuilder;
    friend class PointerBuilder;
    friend struct detail::WireAccess;

    StructBuilder(MessageBuilder* message, uint8_t* data, Word* pointers, uint32_t data_bytes,
                  uint16_t pointer_count)
        : m_message(message), m_data(data), m_pointers(pointers), m_data_bytes(data_bytes),
          m_pointer_count(pointer_count) {}

    MessageBuilder* m_message = nullptr;
    uint8_t* m_data = nullptr;
    Word* m_pointers = nullptr;
    uint32_t m_data_bytes = 0;
    uint16_t m_pointer_count = 0;
};

class ListBuilder {
public:
    ListBuilder() = default;
    uint32_t size() const { return m_count; }
    ElementSize element_size() const { return m_element_size; }
    template <typename T>
    void set(uint32_t index, T value) {
        static_assert(detail::is_field_type<T>, "use set_bool for bool");
        if (index < m_count && sizeof(T) * 8 <= m_data_bits)
            detail::store<T>(m_elements + uint64_t{index} * m_step_bits / 8, value);
    }
    template <typename T>
    T get(uint32_t index) const {
        static_assert(detail::is_field_type<T>, "use get_bool for bool");
        if (index < m_count && sizeof(T) * 8 <= m_data_bits)
            return detail::load<T>(m_elements + uint64_t{index} * m_step_bits / 8);
        return T{};
    }
    void set_bool(uint32_t index, bool value) {
        if (index < m_count && m_data_bits != 0) {
            uint64_t bit = uint64_t{index} * m_step_bits;
            uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
            uint8_t& byte = m_elements[bit / 8];
            byte = value ? static_cast<uint8_t>(byte | mask) : static_cast<uint8_t>(byte & ~mask);
        }
    }
    bool get_bool(uint32_t index) const {
        if (index < m_count && m_data_bits != 0) {
            uint64_t bit = uint64_t{index} * m_step_bits;
            return ((m_elements[bit / 8] >> (bit % 8)) & 1) != 0;
        }
        return false;
    }
    StructBuilder get_struct(uint32_t index);
    PointerBuilder get_pointer(uint32_t index);
    std::span<uint8_t> bytes() { // Byte lists (Data, Text with its NUL)
        if (m_element_size != ElementSize::Byte)
            return {};
        return {m_elements, m_count};
    }
    ListReader as_reader() const;

private:
    friend class PointerBuilder;
    friend struct detail::WireAccess;

    ListBuilder(MessageBuilder* message, uint8_t* elements, uint32_t count, uint32_t step_bits,
                uint32_t data_bits, uint16_t pointer_count, ElementSize element_size)
        : m_message(message), m_elements(elements), m_count(count), m_step_bits(step_bits),
          m_data_bits(data_bits), m_pointer_count(pointer_count), m_element_size(element_size) {}

    MessageBuilder* m_message = nullptr;
    uint8_t* m_elements = nullptr;
    uint32_t m_count = 0;
    uint32_t m_step_bits = 0;
    uint32_t m_data_bits = 0;
    uint16_t m_pointer_count = 0;
    ElementSize m_element_size = ElementSize::Void;
};

class PointerBuilder {
public:
    PointerBuilder() = default;
    bool is_null() const { return m_pointer == nullptr || detail::load<Word>(m_pointer) == 0; }
    StructBuilder init_struct(uint16_t data_words, uint16_t pointer_count);
    // Not InlineComposite (that records WrongElementSize): use init_struct_list.
    ListBuilder init_list(ElementSize size, uint32_t count);
    ListBuilder init_struct_list(uint32_t count, uint16_t data_words, uint16_t pointer_count);
    void set_text(std::string_view text);
    void set_data(std::span<const uint8_t> data);
    // A Data of `size` bytes whose bytes are left as the buffer holds them
    // (the padding after them is zeroed): for a caller that writes every
    // one, as a copy into the message does, which then need not be zeroed
    // first. Empty when it does not fit.
    std::span<uint8_t> init_data_unzeroed(uint32_t size);
    // Deep copies from a reader, in canonical form. Errors met in `value` are
    // recorded in value's MessageReader and leave the pointers concerned null.
    // Capability pointers are copied as they are (same index).
    void set_struct(StructReader value);
    void set_list(ListReader value);
    void set_capability(uint32_t index);
    void clear(); // null pointer; the old target's space is not reclaimed
    PointerReader as_reader() const;

private:
    friend class StructBuilder;
    friend class ListBuilder;
    friend class MessageBuilder;
    friend struct detail::WireAccess;

    PointerBuilder(MessageBuilder* message, Word* pointer)
        : m_message(message), m_pointer(pointer) {}
    void set_bytes(const void* bytes, size_t size, uint64_t count);
    // A list of `count` bytes, only the padding of its last word zeroed;
    // null (and a null pointer) when it does not fit.
    uint8_t* init_bytes(uint64_t count);

    MessageBuilder* m_message = nullptr;
    Word* m_pointer = nullptr;
};

// ---------------------------------------------------------------------------
// Inline definitions that need the classes above complete.

inline PointerReader StructReader::pointer_field(uint16_t index) const {
    if (index < pointer_count())
        return PointerReader(m_message, m_pointers + index, segment(), nesting());
    return {};
}

inline PointerReader MessageReader::root_pointer() const {
    if (m_segment_count == 0 || m_first.empty()) {
        record(WireError::OutOfBounds);
        return {};
    }
    return PointerReader(this, m_first.data(), 0, m_limits.nesting);
}

inline StructReader PointerReader::get_struct(const MessageReader* default_value) const {
    if (m_pointer != nullptr && m_nesting != 0) {
        Word word = detail::load<Word>(m_pointer);
        if (word != 0 && detail::kind_of(word) == detail::PointerKind::Struct) {
            uint16_t data_words = detail::struct_data_words(word);
            uint16_t pointer_count = detail::struct_pointer_count(word);
            uint64_t words = uint64_t{data_words} + pointer_count;
            const Word* at = near_target(word, words);
            if (at != nullptr && m_message->consume_traversal(detail::traversal_charge(words)))
                return StructReader(m_message, reinterpret_cast<const uint8_t*>(at),
                                    at + data_words, uint32_t{data_words} * 8, pointer_count,
                                    m_segment, m_nesting - 1);
        }
    }
    return get_struct_slow(default_value);
}

// The root of almost every message is a struct in the first segment: read
// here with the checks and charge of get_struct's fast path, specialised to
// the root pointer (its segment and place are known), so that reading a
// reply or params costs a few instructions; anything else goes to
// get_struct, which decides.
[[gnu::always_inline]] inline StructReader MessageReader::root() const {
    if (m_validated && !m_first.empty() && m_limits.nesting != 0) {
        // validate() checked that a near struct root lies inside the segment
        // and that the nesting limit allows it.
        Word word = detail::load<Word>(m_first.data());
        if (word != 0 && detail::kind_of(word) == detail::PointerKind::Struct) {
            uint16_t data_words = detail::struct_data_words(word);
            const Word* at = m_first.data() + 1 + detail::offset_of(word);
            return StructReader(this, reinterpret_cast<const uint8_t*>(at), at + data_words,
                                uint32_t{data_words} * 8, detail::struct_pointer_count(word), 0,
                                m_limits.nesting - 1);
        }
    }
    if (m_segment_count != 0 && !m_first.empty() && m_limits.nesting != 0) {
        Word word = detail::load<Word>(m_first.data());
        uint16_t data_words = detail::struct_data_words(word);
        uint16_t pointer_count = detail::struct_pointer_count(word);
        uint64_t words = uint64_t{data_words} + pointer_count;
        int64_t offset = 1 + detail::offset_of(word);
        uint64_t size = m_first.size();
        if (word != 0 && detail::kind_of(word) == detail::PointerKind::Struct && offset >= 0 &&
            static_cast<uint64_t>(offset) <= size &&
            words <= size - static_cast<uint64_t>(offset) &&
            consume_traversal(detail::traversal_charge(words))) {
            const Word* at = m_first.data() + offset;
            return StructReader(this, reinterpret_cast<const uint8_t*>(at), at + data_words,
                                uint32_t{data_words} * 8, pointer_count, 0, m_limits.nesting - 1);
        }
    }
    return root_pointer().get_struct();
}

inline ListReader PointerReader::get_list(ElementSize expected,
                                          const MessageReader* default_value) const {
    // Only a list pointer whose element size is the expected one. Callers pass
    // a constant, so where this is inlined one of the two branches folds away.
    if (m_pointer != nullptr && m_nesting != 0 && expected != ElementSize::Void) {
        Word word = detail::load<Word>(m_pointer);
        constexpr Word shape_mask = Word{7} << 32 | 3;
        Word shape = Word{static_cast<uint8_t>(expected)} << 32 |
                     static_cast<Word>(detail::PointerKind::List);
        uint32_t count = detail::list_count(word);
        if ((word & shape_mask) != shape) {
            // Anything else: the general path.
        } else if (expected == ElementSize::InlineComposite) {
            // `count` words of elements after a tag that describes them.
            const Word* at = near_target(word, uint64_t{count} + 1);
            if (at != nullptr) {
                Word tag = detail::load<Word>(at);
                uint32_t elements = detail::tag_element_count(tag);
                uint16_t data_words = detail::struct_data_words(tag);
                uint16_t pointer_count = detail::struct_pointer_count(tag);
                uint64_t words_per_element = uint64_t{data_words} + pointer_count;
                if (detail::kind_of(tag) == detail::PointerKind::Struct && words_per_element != 0 &&
                    uint64_t{elements} * words_per_element <= count &&
                    m_message->consume_traversal(uint64_t{count} + 1))
                    return ListReader(m_message, reinterpret_cast<const uint8_t*>(at + 1), elements,
                                      static_cast<uint32_t>(words_per_element * 64),
                                      uint32_t{data_words} * 64, pointer_count,
                                      ElementSize::InlineComposite, m_segment, m_nesting - 1);
            }
        } else {
            uint32_t data_bits = detail::data_bits_per_element(expected);
            uint16_t pointer_count = detail::pointers_per_element(expected);
            uint32_t step = data_bits + 64u * pointer_count;
            uint64_t words = (uint64_t{count} * step + 63) / 64;
            const Word* at = near_target(word, words);
            if (at != nullptr && m_message->consume_traversal(detail::traversal_charge(words)))
                return ListReader(m_message, reinterpret_cast<const uint8_t*>(at), count, step,
                                  data_bits, pointer_count, expected, m_segment, m_nesting - 1);
        }
    }
    return get_list_slow(expected, default_value);
}

// Text and Data are leaves: like libcapnp, they are not held to the nesting limit.
inline TextReader PointerReader::get_text(std::string_view default_value) const {
    if (m_pointer != nullptr) {
        Word word = detail::load<Word>(m_pointer);
        if (detail::kind_of(word) == detail::PointerKind::List &&
            detail::list_element_size(word) == ElementSize::Byte) {
            uint32_t count = detail::list_count(word);
            uint64_t words = (uint64_t{count} + 7) / 8;
            const Word* at = near_target(word, words);
            const char* text = reinterpret_cast<const char*>(at);
            if (at != nullptr && count != 0 && text[count - 1] == 0 &&
                m_message->consume_traversal(words)) // not empty: `words` is at least 1
                return TextReader(std::string_view(text, count - 1));
        }
    }
    return get_text_slow(default_value);
}

inline std::span<const uint8_t>
PointerReader::get_data(std::span<const uint8_t> default_value) const {
    if (m_pointer != nullptr) {
        Word word = detail::load<Word>(m_pointer);
        if (detail::kind_of(word) == detail::PointerKind::List &&
            detail::list_element_size(word) == ElementSize::Byte) {
            uint32_t count = detail::list_count(word);
            uint64_t words = (uint64_t{count} + 7) / 8;
            const Word* at = near_target(word, words);
            if (at != nullptr && m_message->consume_traversal(detail::traversal_charge(words)))
                return {reinterpret_cast<const uint8_t*>(at), count};
        }
    }
    return get_data_slow(default_value);
}

inline StructReader ListReader::get_struct(uint32_t index) const {
    if (index >= size())
        return {};
    if (nesting() == 0) {
        m_message->record(WireError::NestingLimit);
        return {};
    }
    const uint8_t* element = m_elements + uint64_t{index} * step_bits() / 8;
    uint32_t data_bytes = data_bits() / 8;
    uint16_t pointer_count = pointers_per_element();
    // Elements with pointers start on word boundaries (their step is whole words).
    const Word* pointers =
        pointer_count != 0 ? reinterpret_cast<const Word*>(element + data_bytes) : nullptr;
    return StructReader(m_message, element, pointers, data_bytes, pointer_count, segment(),
                        nesting() - 1);
}

inline PointerReader ListReader::get_pointer(uint32_t index) const {
    if (index < size() && pointers_per_element() != 0) {
        const uint8_t* element = m_elements + uint64_t{index} * step_bits() / 8;
        return PointerReader(m_message, reinterpret_cast<const Word*>(element + data_bits() / 8),
                             segment(), nesting());
    }
    return {};
}

// Inline, like allocation: a reply built into a small buffer is a few stores.
inline MessageBuilder::MessageBuilder(std::span<Word> buffer)
    : m_buffer(buffer.data()),
      m_capacity(buffer.size() < max_builder_words ? buffer.size() : max_builder_words), m_used(0),
      m_reader(MessageReader::trusted(std::span<const Word>(buffer.data(), m_capacity))) {
    if (m_capacity == 0) {
        // Not even room for the root pointer.
        m_full = true;
        m_error = WireError::BufferFull;
        return;
    }
    m_buffer[0] = 0;
    m_used = 1;
}

inline PointerBuilder MessageBuilder::root_pointer() {
    if (m_capacity == 0)
        return {};
    return PointerBuilder(this, m_buffer);
}

inline StructBuilder MessageBuilder::init_root(uint16_t data_words, uint16_t pointer_count) {
    return root_pointer().init_struct(data_words, pointer_count);
}

inline StructBuilder PointerBuilder::init_struct(uint16_t data_words, uint16_t pointer_count) {
    if (m_pointer == nullptr)
        return {};
    uint64_t words = uint64_t{data_words} + pointer_count;
    if (words == 0) {
        detail::store(m_pointer, detail::empty_struct_pointer);
        return StructBuilder(m_message, nullptr, nullptr, 0, 0);
    }
    Word* at = m_message->allocate(words);
    if (at == nullptr) {
        detail::store<Word>(m_pointer, 0);
        return {};
    }
    // Targets always follow their pointers: the offset is never negative.
    detail::store(m_pointer,
                  detail::make_struct_pointer(at - (m_pointer + 1), data_words, pointer_count));
    return StructBuilder(m_message, reinterpret_cast<uint8_t*>(at), at + data_words,
                         uint32_t{data_words} * 8, pointer_count);
}

// Text and Data: the bytes (and Text's NUL) in a list of `count` bytes, the rest
// of the last word zero.
inline uint8_t* PointerBuilder::init_bytes(uint64_t count) {
    uint64_t words = (count + 7) / 8;
    Word* at =
        m_message->allocate_uninitialized(count > detail::max_list_count ? UINT64_MAX : words);
    if (at == nullptr) {
        detail::store<Word>(m_pointer, 0);
        return nullptr;
    }
    if (words != 0)
        at[words - 1] = 0;
    detail::store(m_pointer, detail::make_list_pointer(at - (m_pointer + 1), ElementSize::Byte,
                                                       static_cast<uint32_t>(count)));
    return reinterpret_cast<uint8_t*>(at);
}

inline void PointerBuilder::set_bytes(const void* bytes, size_t size, uint64_t count) {
    uint8_t* at = init_bytes(count);
    if (at != nullptr && size != 0)
        __builtin_memcpy(at, bytes, size);
}

inline void PointerBuilder::set_text(std::string_view text) {
    if (m_pointer != nullptr)
        set_bytes(text.data(), text.size(), uint64_t{text.size()} + 1);
}

inline void PointerBuilder::set_data(std::span<const uint8_t> data) {
    if (m_pointer != nullptr)
        set_bytes(data.data(), data.size(), data.size());
}

inline std::span<uint8_t> PointerBuilder::init_data_unzeroed(uint32_t size) {
    uint8_t* at = m_pointer != nullptr ? init_bytes(size) : nullptr;
    if (at == nullptr)
        return {};
    return {at, size};
}

inline PointerBuilder StructBuilder::pointer_field(uint16_t index) {
    if (index < m_pointer_count)
        return PointerBuilder(m_message, m_pointers + index);
    return {};
}

inline StructBuilder ListBuilder::get_struct(uint32_t index) {
    if (index >= m_count)
        return {};
    uint8_t* element = m_elements + uint64_t{index} * m_step_bits / 8;
    uint32_t data_bytes = m_data_bits / 8;
    Word* pointers = m_pointer_count != 0 ? reinterpret_cast<Word*>(element + data_bytes) : nullptr;
    return StructBuilder(m_message, element, pointers, data_bytes, m_pointer_count);
}

inline PointerBuilder ListBuilder::get_pointer(uint32_t index) {
    if (index < m_count && m_pointer_count != 0) {
        uint8_t* element = m_elements + uint64_t{index} * m_step_bits / 8;
        return PointerBuilder(m_message, reinterpret_cast<Word*>(element + m_data_bits / 8));
    }
    return {};
}

static_assert(std::is_trivially_copyable_v<StructReader> && sizeof(StructReader) <= 40);
static_assert(std::is_trivially_copyable_v<ListReader> && sizeof(ListReader) <= 40);
static_assert(std::is_trivially_copyable_v<PointerReader> && sizeof(PointerReader) <= 24);
static_assert(std::is_trivially_copyable_v<StructBuilder> && sizeof(StructBuilder) <= 32);
static_assert(std::is_trivially_copyable_v<ListBuilder> && sizeof(ListBuilder) <= 32);
static_assert(std::is_trivially_copyable_v<PointerBuilder> && sizeof(PointerBuilder) <= 16);

} // namespace capos::capnp
