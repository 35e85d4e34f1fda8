// Cap'n Proto's text format, driven by a schema read at run time (schema_set.h):
// text to wire for a struct of any type the schema holds, and wire to text.
// What the shell's `call @cap.method(field = value, ...)` is built on: params
// written by a person become a message, and results print the way
// `capnp decode --short` prints them. docs/schema.md ("The text codec") has the
// grammar, the printing rules and every difference from the capnp tool.
//
// Text to wire. parse_text reads a struct value, `(a = 1, b = "x", c = (d =
// true), e = [1, 2], f = enumerant, g = 0x"0aff", h = @name)`, or the same
// without its parentheses (TextForm::Fields), and builds it as the root of a
// MessageBuilder in the order the text gives it. Every field is checked
// against its type (integers against their width); unknown and repeated
// fields, two members of one union, trailing input, nesting deeper than
// TextLimits::max_depth and input longer than TextLimits::max_input are errors.
// The first error ends the parse, and the message is then unusable. No input
// makes it read outside the text, write outside the message buffer, or loop:
// the work is linear in the input's length times the nesting depth.
//
// Wire to text. print_text writes a message's root struct into a TextSink, a
// caller's character buffer. Output that does not fit is cut, at a UTF-8
// character boundary, and the sink says so; printing then stops.
//
// Floating point. This code is built for the kernel and for user programs,
// which have no floating point, so it does none. Float32 and Float64 fields
// take integers the type holds exactly, `inf`, `-inf` and `nan`; decimal
// fractions and exponents are refused. They print as capnp decode prints them
// when the value is an integer below 10^6 (Float32) or 10^15 (Float64), zero,
// an infinity or a NaN; other integers below 2^64 print with every digit
// (capnp decode would use an exponent), and anything else as its bits,
// `<float32 0x3fc00000>`, which is not valid text to parse.
//
// Capabilities. An interface-typed (or `:Capability`) field is written
// `@name`; a caller's CapabilityResolver turns the name into the index the
// capability pointer carries (lib/capnp/capabilities.h). Printing hands each
// capability pointer's index to a CapabilityPrinter.
//
// Freestanding: no allocation, no exceptions, no floating point. Nothing is
// kept between calls.
#pragma once

#include "lib/base/result.h"
#include "lib/capnp/schema_set.h"
#include "lib/capnp/wire.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::capnp {

struct TextLimits {
    size_t max_input = 64 * 1024; // bytes of text parse_text reads, at most
    uint32_t max_depth = 32;      // structs, groups and lists nested in one another
};

// A struct, group or union scope may have at most this many fields for the
// parser to tell repeated fields (schema.capnp allows 65536).
inline constexpr uint32_t max_text_fields = 256;

enum class TextErrorKind : uint8_t {
    UnexpectedEnd,       // the input ended inside a value
    ExpectedFieldName,   // a struct body holds something other than `name = value`
    ExpectedEquals,      // a field name not followed by '='
    ExpectedSeparator,   // after a value: neither ',' nor the closing `closing`
    UnknownField,        // `type_name` has no field named `got`
    DuplicateField,      // the field is set twice
    UnionConflict,       // a second member of a union (`other` is the first)
    WrongType,           // a value of the wrong kind for `expected`
    OutOfRange,          // an integer outside `expected`'s range
    NotRepresentable,    // an integer a float type does not hold exactly
    FloatFraction,       // a decimal fraction or exponent (no floating point here)
    UnknownEnumerant,    // `got` names no enumerant of `type_name`
    BadEscape,           // an unknown escape sequence in a string
    UnterminatedString,  // a string without its closing quote on its line
    BadBinary,           // 0x"..." holding something other than pairs of hex digits
    UnknownCapability,   // the resolver knows no capability `got`
    CapabilityInterface, // capability `got` does not speak interface `type_name`
    UnsupportedType,     // AnyPointer (or a type this reader does not know)
    TooManyFields,       // the scope has more than max_text_fields fields
    TrailingInput,       // something after the value
    TooDeep,             // nesting deeper than `limit`
    TooLong,             // input longer than `limit` bytes
    BufferFull,          // the message does not fit the MessageBuilder's buffer
    BadSchema,           // the schema contradicts itself here (a missing node, an
                         // offset outside its struct)
};

// Views point into the input text and into the schema: format the error
// while both are alive.
struct TextError {
    static constexpr uint32_t no_element = UINT32_MAX;

    TextErrorKind kind = TextErrorKind::UnexpectedEnd;
    size_t offset = 0;             // byte offset in the input
    std::string_view field;        // the field being read; empty outside any
    uint32_t element = no_element; // the list element being read, if any
    std::string_view got;          // the offending input, if any
    TypeKind expected = TypeKind::Void;
    std::string_view type_name; // the struct, enum or interface concerned
    std::string_view other;     // UnionConflict: the member already set
    char closing = 0;           // ExpectedSeparator: ')' or ']' (0: the input's end)
    uint64_t limit = 0;         // TooDeep, TooLong
};

// One line for a person, e.g.
//   field 'ns': expected an unsigned integer up to 2^64-1, got '-1' (at byte 6)
// Writes at most out.size() bytes (cut when longer) and returns how many; no NUL.
size_t format_error(const TextError& error, std::span<char> out);

enum class CapabilityLookup : uint8_t { Found, Unknown, WrongInterface };
struct ResolvedCapability {
    CapabilityLookup lookup = CapabilityLookup::Unknown;
    uint32_t index = 0; // Found: what the capability pointer carries
};

// Turns `@name` into a capability index. `interface_id` is the interface the
// field declares (0 for `:Capability`), for resolvers that check it. Without
// a resolver every `@name` is UnknownCapability.
struct CapabilityResolver {
    ResolvedCapability (*resolve)(void* context, std::string_view name,
                                  uint64_t interface_id) = nullptr;
    void* context = nullptr;
};

template <typename F>
CapabilityResolver capability_resolver(F& resolve) {
    return CapabilityResolver{[](void* context, std::string_view name, uint64_t interface_id) {
                                  return (*static_cast<F*>(context))(name, interface_id);
                              },
                              &resolve};
}

enum class TextForm : uint8_t {
    Parenthesized, // `(a = 1, b = 2)`
    Fields,        // `a = 1, b = 2`: the same without the parentheses
};

struct ParseOptions {
    TextForm form = TextForm::Parenthesized;
    CapabilityResolver capabilities{};
    TextLimits limits{};
};

// Parses `text` as a value of struct `type` (a node of `schema`) and builds it
// as the root of `message`, which should be fresh. On error the message holds
// a partial value and is not to be sent.
Result<void, TextError> parse_text(const SchemaSet& schema, const StructSchema& type,
                                   std::string_view text, MessageBuilder& message,
                                   const ParseOptions& options = {});

// A bounded output buffer. Writes that do not fit are cut at the last whole
// UTF-8 character that fits, and everything after is dropped: text() is then
// a prefix of the full output, and truncated() is set.
class TextSink {
public:
    explicit TextSink(std::span<char> buffer) : m_buffer(buffer) {}
    void write(std::string_view text);
    void write(char c) { write(std::string_view(&c, 1)); }
    void write_unsigned(uint64_t value);
    void write_signed(int64_t value);
    std::string_view text() const { return {m_buffer.data(), m_size}; }
    bool truncated() const { return m_truncated; }

private:
    std::span<char> m_buffer;
    size_t m_size = 0;
    bool m_truncated = false;
};

// Prints a capability pointer's index (PointerReader::no_capability for a null
// one) of a field declaring `interface_id` (0 for `:Capability`). Without a
// printer: `<capability 3>`, `<null capability>`.
struct CapabilityPrinter {
    void (*print)(void* context, TextSink& sink, uint32_t index, uint64_t interface_id) = nullptr;
    void* context = nullptr;
};

template <typename F>
CapabilityPrinter capability_printer(F& print) {
    return CapabilityPrinter{
        [](void* context, TextSink& sink, uint32_t index, uint64_t interface_id) {
            (*static_cast<F*>(context))(sink, index, interface_id);
        },
        &print};
}

enum class DataFormat : uint8_t {
    Hex,     // 0x"0aff" (empty Data: ""): what the shell shows
    Escaped, // "\n\377": what capnp decode prints
};

struct PrintOptions {
    DataFormat data = DataFormat::Hex;
    CapabilityPrinter capabilities{};
    uint32_t max_depth = 32; // structs, groups and lists nested in one another
};

enum class PrintError : uint8_t {
    Malformed, // the message has a wire error (reading it recorded one)
    BadSchema, // the schema names a node it does not hold, or contradicts itself
    TooDeep,   // nesting deeper than PrintOptions::max_depth
};
const char* to_string(PrintError error);

// Prints the root of `message` as struct `type`, in `capnp decode --short`'s
// form: every non-pointer field, pointer fields that are not null, groups, and
// the union member that is set (in the schema's field order, the member where
// its own index falls). Read `message` with limits fit for its source
// (ReaderLimits::for_message for untrusted bytes): its budget bounds the walk.
Result<void, PrintError> print_text(const SchemaSet& schema, const StructSchema& type,
                                    const MessageReader& message, TextSink& sink,
                                    const PrintOptions& options = {});

} // namespace capos::capnp
