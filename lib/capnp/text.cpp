// The schema-driven text codec (text.h): a recursive-descent parser that builds
// as it reads, and a printer that walks a message the way libcapnp's
// stringify (capnp decode --short) does.
#include "lib/capnp/text.h"

#include <optional>

namespace capos::capnp {

namespace {

// ---------------------------------------------------------------------------
// Characters

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_name_char(char c) {
    return is_name_start(c) || is_digit(c);
}

// Names after '@': a shell's capability names may hold these too.
bool is_capability_name_char(char c) {
    return is_name_char(c) || c == '.' || c == '-' || c == '/' || c == ':';
}

// Characters that end a token in error messages and element counting.
bool is_delimiter(char c) {
    return is_space(c) || c == ',' || c == '(' || c == ')' || c == '[' || c == ']' || c == '=' ||
           c == '#' || c == '"';
}

int digit_value(char c, uint32_t base) {
    int value = -1;
    if (c >= '0' && c <= '9')
        value = c - '0';
    else if (c >= 'a' && c <= 'f')
        value = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        value = c - 'A' + 10;
    return value >= 0 && static_cast<uint32_t>(value) < base ? value : -1;
}

constexpr char hex_digits[] = "0123456789abcdef";

// ---------------------------------------------------------------------------
// Where a value goes (parsing) and where it comes from (printing): a field of
// a struct, stored XORed with its default, or an element of a list.

struct Slot {
    StructBuilder structure;
    uint32_t offset = 0;
    uint64_t mask = 0;
    ListBuilder list;
    uint32_t index = 0;
    bool in_list = false;

    static Slot field(StructBuilder structure, uint32_t offset, uint64_t mask) {
        Slot slot;
        slot.structure = structure;
        slot.offset = offset;
        slot.mask = mask;
        return slot;
    }
    static Slot element(ListBuilder list, uint32_t index) {
        Slot slot;
        slot.list = list;
        slot.index = index;
        slot.in_list = true;
        return slot;
    }

    // Stores the low data_bits(kind) bits of `bits`.
    void write(TypeKind kind, uint64_t bits) {
        switch (data_bits(kind)) {
        case 1:
            if (in_list)
                list.set_bool(index, (bits & 1) != 0);
            else
                structure.set_bool_field(offset, (bits & 1) != 0, (mask & 1) != 0);
            break;
        case 8:
            store<uint8_t>(bits);
            break;
        case 16:
            store<uint16_t>(bits);
            break;
        case 32:
            store<uint32_t>(bits);
            break;
        case 64:
            store<uint64_t>(bits);
            break;
        default:
            break;
        }
    }

    // Struct fields: the caller has checked the offset (Field::fits).
    PointerBuilder pointer() {
        return in_list ? list.get_pointer(index)
                       : structure.pointer_field(static_cast<uint16_t>(offset));
    }

private:
    template <typename T>
    void store(uint64_t bits) {
        if (in_list)
            list.set<T>(index, static_cast<T>(bits));
        else
            structure.set_data_field<T>(offset, static_cast<T>(bits), static_cast<T>(mask));
    }
};

struct Source {
    StructReader structure;
    uint32_t offset = 0;
    uint64_t mask = 0;
    PointerReader default_value; // read instead of a null pointer field
    ListReader list;
    uint32_t index = 0;
    bool in_list = false;

    static Source field(StructReader structure, const Field& field) {
        Source source;
        source.structure = structure;
        source.offset = field.offset();
        source.mask = field.default_bits();
        source.default_value = field.default_pointer();
        return source;
    }
    static Source element(ListReader list, uint32_t index) {
        Source source;
        source.list = list;
        source.index = index;
        source.in_list = true;
        return source;
    }

    uint64_t read(TypeKind kind) const {
        switch (data_bits(kind)) {
        case 1:
            return in_list ? list.get_bool(index) : structure.bool_field(offset, (mask & 1) != 0);
        case 8:
            return load<uint8_t>();
        case 16:
            return load<uint16_t>();
        case 32:
            return load<uint32_t>();
        case 64:
            return load<uint64_t>();
        default:
            return 0;
        }
    }

    PointerReader pointer() const {
        PointerReader pointer = in_list ? list.get_pointer(index)
                                : offset <= 0xffff
                                    ? structure.pointer_field(static_cast<uint16_t>(offset))
                                    : PointerReader();
        return pointer.is_null() && !default_value.is_null() ? default_value : pointer;
    }

private:
    template <typename T>
    uint64_t load() const {
        return in_list ? list.get<T>(index) : structure.data_field<T>(offset, static_cast<T>(mask));
    }
};

ElementSize element_size_of(TypeKind kind) {
    switch (kind) {
    case TypeKind::Void:
        return ElementSize::Void;
    case TypeKind::Struct:
        return ElementSize::InlineComposite;
    default:
        break;
    }
    switch (data_bits(kind)) {
    case 1:
        return ElementSize::Bit;
    case 8:
        return ElementSize::Byte;
    case 16:
        return ElementSize::TwoBytes;
    case 32:
        return ElementSize::FourBytes;
    case 64:
        return ElementSize::EightBytes;
    default:
        return ElementSize::Pointer;
    }
}

bool is_signed(TypeKind kind) {
    return kind == TypeKind::Int8 || kind == TypeKind::Int16 || kind == TypeKind::Int32 ||
           kind == TypeKind::Int64;
}

// The IEEE-754 bits of the integer `magnitude` (negated when `negative`), when
// the float type holds it exactly. Integer arithmetic only.
std::optional<uint64_t> float_bits(TypeKind kind, uint64_t magnitude, bool negative) {
    bool is64 = kind == TypeKind::Float64;
    uint32_t mantissa_bits = is64 ? 52 : 23;
    uint32_t bias = is64 ? 1023 : 127;
    uint32_t sign_shift = is64 ? 63 : 31;
    if (magnitude == 0)
        return 0; // "-0" is the integer 0, as capnp reads it
    uint32_t length = 64 - static_cast<uint32_t>(__builtin_clzll(magnitude)); // bits
    uint32_t trailing = static_cast<uint32_t>(__builtin_ctzll(magnitude));
    if (length - trailing > mantissa_bits + 1)
        return std::nullopt; // more significant bits than the mantissa holds
    uint64_t significand = length - 1 > mantissa_bits ? magnitude >> (length - 1 - mantissa_bits)
                                                      : magnitude << (mantissa_bits - (length - 1));
    uint64_t fraction = significand & ((uint64_t{1} << mantissa_bits) - 1);
    uint64_t exponent = uint64_t{length - 1 + bias};
    return (uint64_t{negative} << sign_shift) | (exponent << mantissa_bits) | fraction;
}

// ---------------------------------------------------------------------------
// Parsing

class Parser {
public:
    Parser(const SchemaSet& schema, std::string_view text, MessageBuilder& message,
           const ParseOptions& options)
        : m_schema(schema), m_text(text), m_message(message), m_options(options) {}

    Result<void, TextError> parse(const StructSchema& type);

private:
    struct Number {
        uint64_t magnitude = 0;
        bool negative = false;
        bool overflow = false; // more than 64 bits
        bool fraction = false; // a float literal: '.' or an exponent
        bool malformed = false;
        size_t start = 0;
        size_t end = 0;
    };

    bool at_end() const { return m_pos >= m_text.size(); }
    char peek() const { return at_end() ? '\0' : m_text[m_pos]; }
    bool looking_at(std::string_view text) const { return m_text.substr(m_pos).starts_with(text); }
    void skip_space();
    std::string_view identifier();
    std::string_view token_at(size_t pos) const;
    TextError error(TextErrorKind kind, size_t offset, std::string_view got = {}) const;
    TextError value_error(TextErrorKind kind, TypeKind expected, std::string_view type_name = {});
    // A struct, group or list is entered before its opening bracket is
    // consumed (so that TooDeep points at it) and left after its closing one.
    Result<void, TextError> enter();
    void leave() { --m_depth; }
    Result<void, TextError> allocated() const;

    Result<void, TextError> parse_fields(StructBuilder builder, const StructSchema& scope,
                                         uint16_t data_words, uint16_t pointer_count, char closing);
    Result<void, TextError> parse_value(Type type, Slot slot);
    Result<void, TextError> parse_integer(TypeKind kind, Slot slot);
    Result<void, TextError> parse_float(TypeKind kind, Slot slot);
    Result<void, TextError> parse_enum(Type type, Slot slot);
    Result<void, TextError> parse_blob(TypeKind kind, Slot slot);
    Result<void, TextError> parse_struct(Type type, Slot slot);
    Result<void, TextError> parse_list(Type type, Slot slot);
    Result<void, TextError> parse_capability(Type type, Slot slot);
    Number read_number();
    Result<size_t, TextError> read_strings(uint8_t* out);
    Result<size_t, TextError> read_binary(uint8_t* out);
    uint32_t count_elements(size_t pos) const;

    const SchemaSet& m_schema;
    std::string_view m_text;
    MessageBuilder& m_message;
    const ParseOptions& m_options;
    size_t m_pos = 0;
    uint32_t m_depth = 0;
    // What errors name: the field being read and its list element.
    std::string_view m_field;
    uint32_t m_element = TextError::no_element;
};

void Parser::skip_space() {
    while (!at_end()) {
        char c = m_text[m_pos];
        if (is_space(c)) {
            ++m_pos;
        } else if (c == '#') {
            while (!at_end() && m_text[m_pos] != '\n')
                ++m_pos;
        } else {
            break;
        }
    }
}

std::string_view Parser::identifier() {
    size_t start = m_pos;
    while (!at_end() && is_name_char(m_text[m_pos]))
        ++m_pos;
    return m_text.substr(start, m_pos - start);
}

// The token at `pos`, for error messages.
std::string_view Parser::token_at(size_t pos) const {
    if (pos >= m_text.size())
        return {};
    size_t end = pos + 1;
    char c = m_text[pos];
    if (c == '"') {
        while (end < m_text.size() && m_text[end] != '"' && m_text[end] != '\n')
            end += m_text[end] == '\\' ? 2 : 1;
        end = end < m_text.size() ? end + (m_text[end] == '"') : m_text.size();
    } else if (!is_delimiter(c)) {
        while (end < m_text.size() && !is_delimiter(m_text[end]))
            ++end;
    }
    return m_text.substr(pos, end - pos);
}

TextError Parser::error(TextErrorKind kind, size_t offset, std::string_view got) const {
    TextError error;
    error.kind = kind;
    error.offset = offset;
    error.field = m_field;
    error.element = m_element;
    error.got = got;
    return error;
}

// An error about the value at m_pos: UnexpectedEnd when there is none.
TextError Parser::value_error(TextErrorKind kind, TypeKind expected, std::string_view type_name) {
    TextError e =
        at_end() ? error(TextErrorKind::UnexpectedEnd, m_pos) : error(kind, m_pos, token_at(m_pos));
    e.expected = expected;
    e.type_name = type_name;
    return e;
}

Result<void, TextError> Parser::enter() {
    if (m_depth >= m_options.limits.max_depth) {
        TextError e = error(TextErrorKind::TooDeep, m_pos);
        e.limit = m_options.limits.max_depth;
        return Err{e};
    }
    ++m_depth;
    return {};
}

Result<void, TextError> Parser::allocated() const {
    if (m_message.error() != WireError::None)
        return Err{error(TextErrorKind::BufferFull, m_pos)};
    return {};
}

Result<void, TextError> Parser::parse(const StructSchema& type) {
    if (m_text.size() > m_options.limits.max_input) {
        TextError e = error(TextErrorKind::TooLong, m_options.limits.max_input);
        e.limit = m_options.limits.max_input;
        return Err{e};
    }
    uint16_t data_words = type.data_words();
    uint16_t pointer_count = type.pointer_count();
    StructBuilder root = m_message.init_root(data_words, pointer_count);
    TRY(allocated());
    TRY(enter());
    if (m_options.form == TextForm::Fields)
        return parse_fields(root, type, data_words, pointer_count, '\0');

    skip_space();
    if (peek() != '(')
        return Err{value_error(TextErrorKind::WrongType, TypeKind::Struct, type.name())};
    ++m_pos;
    TRY(parse_fields(root, type, data_words, pointer_count, ')'));
    skip_space();
    if (!at_end())
        return Err{error(TextErrorKind::TrailingInput, m_pos, token_at(m_pos))};
    return {};
}

// `name = value, ...` up to `closing` (consumed), or to the end of the input
// when `closing` is NUL. `builder` has the sizes of the struct that holds the
// scope (for a group, its enclosing struct's).
Result<void, TextError> Parser::parse_fields(StructBuilder builder, const StructSchema& scope,
                                             uint16_t data_words, uint16_t pointer_count,
                                             char closing) {
    if (scope.field_count() > max_text_fields) {
        TextError e = error(TextErrorKind::TooManyFields, m_pos);
        e.type_name = scope.name();
        return Err{e};
    }
    uint64_t seen[max_text_fields / 64] = {};
    std::string_view union_member; // the member of this scope's union already set
    for (;;) {
        skip_space();
        if (closing == '\0' ? at_end() : peek() == closing) {
            m_pos += closing != '\0';
            return {};
        }
        if (at_end())
            return Err{error(TextErrorKind::UnexpectedEnd, m_pos)};
        if (!is_name_start(peek()))
            return Err{error(TextErrorKind::ExpectedFieldName, m_pos, token_at(m_pos))};

        size_t name_at = m_pos;
        std::string_view name = identifier();
        auto found = scope.find_field(name);
        if (found.is_error()) {
            TextError e = error(TextErrorKind::UnknownField, name_at, name);
            e.type_name = scope.name();
            return Err{e};
        }
        Field field = found.value();

        std::string_view outer_field = m_field;
        uint32_t outer_element = m_element;
        m_field = name;
        m_element = TextError::no_element;
        uint64_t bit = uint64_t{1} << (field.index() % 64);
        if ((seen[field.index() / 64] & bit) != 0)
            return Err{error(TextErrorKind::DuplicateField, name_at, name)};
        seen[field.index() / 64] |= bit;
        skip_space();
        if (peek() != '=')
            return Err{at_end() ? error(TextErrorKind::UnexpectedEnd, m_pos)
                                : error(TextErrorKind::ExpectedEquals, m_pos, token_at(m_pos))};
        ++m_pos;

        if (field.in_union()) {
            if (!union_member.empty()) {
                TextError e = error(TextErrorKind::UnionConflict, name_at, name);
                e.other = union_member;
                return Err{e};
            }
            union_member = name;
            if (!scope.discriminant_fits(data_words))
                return Err{error(TextErrorKind::BadSchema, name_at)};
            builder.set_data_field<uint16_t>(scope.discriminant_offset(),
                                             field.discriminant_value());
        }
        if (field.is_group()) {
            auto group = m_schema.find_struct(field.group_id());
            if (group.is_error())
                return Err{error(TextErrorKind::BadSchema, name_at)};
            skip_space();
            if (peek() != '(')
                return Err{
                    value_error(TextErrorKind::WrongType, TypeKind::Struct, group.value().name())};
            TRY(enter());
            ++m_pos;
            TRY(parse_fields(builder, group.value(), data_words, pointer_count, ')'));
            leave();
        } else {
            if (!field.fits(data_words, pointer_count))
                return Err{error(TextErrorKind::BadSchema, name_at)};
            TRY(parse_value(field.type(),
                            Slot::field(builder, field.offset(), field.default_bits())));
        }
        m_field = outer_field;
        m_element = outer_element;

        skip_space();
        if (peek() == ',') {
            ++m_pos;
        } else if (closing == '\0' ? !at_end() : peek() != closing) {
            if (at_end())
                return Err{error(TextErrorKind::UnexpectedEnd, m_pos)};
            TextError e = error(TextErrorKind::ExpectedSeparator, m_pos, token_at(m_pos));
            e.closing = closing;
            return Err{e};
        }
    }
}

Result<void, TextError> Parser::parse_value(Type type, Slot slot) {
    skip_space();
    TypeKind kind = type.kind();
    switch (kind) {
    case TypeKind::Void:
    case TypeKind::Bool: {
        size_t start = m_pos;
        std::string_view word = is_name_start(peek()) ? identifier() : std::string_view();
        if (kind == TypeKind::Void && word == "void")
            return {};
        if (kind == TypeKind::Bool && (word == "true" || word == "false")) {
            slot.write(kind, word == "true");
            return {};
        }
        m_pos = start;
        return Err{value_error(TextErrorKind::WrongType, kind)};
    }
    case TypeKind::Int8:
    case TypeKind::Int16:
    case TypeKind::Int32:
    case TypeKind::Int64:
    case TypeKind::UInt8:
    case TypeKind::UInt16:
    case TypeKind::UInt32:
    case TypeKind::UInt64:
        return parse_integer(kind, slot);
    case TypeKind::Float32:
    case TypeKind::Float64:
        return parse_float(kind, slot);
    case TypeKind::Enum:
        return parse_enum(type, slot);
    case TypeKind::Text:
    case TypeKind::Data:
        return parse_blob(kind, slot);
    case TypeKind::Struct:
        return parse_struct(type, slot);
    case TypeKind::List:
        return parse_list(type, slot);
    case TypeKind::Interface:
    case TypeKind::Capability:
        return parse_capability(type, slot);
    case TypeKind::AnyPointer:
    case TypeKind::Unknown:
        break;
    }
    return Err{value_error(TextErrorKind::UnsupportedType, kind)};
}

// An integer literal as capnp's lexer reads it: an optional '-' (spaces may
// follow it), then 0x and hex digits, 0 and octal digits, or decimal digits.
Parser::Number Parser::read_number() {
    Number number;
    number.start = m_pos;
    if (peek() == '-') {
        number.negative = true;
        ++m_pos;
        skip_space();
    }
    size_t digits = m_pos;
    uint32_t base = 10;
    if (looking_at("0x") &&
        digit_value(m_pos + 2 < m_text.size() ? m_text[m_pos + 2] : '\0', 16) >= 0) {
        base = 16;
        m_pos += 2;
        digits = m_pos;
    } else if (peek() == '0') {
        base = 8;
    }
    for (; !at_end(); ++m_pos) {
        int digit = digit_value(m_text[m_pos], base);
        if (digit < 0)
            break;
        if (number.magnitude > (UINT64_MAX - static_cast<uint64_t>(digit)) / base)
            number.overflow = true;
        number.magnitude = number.magnitude * base + static_cast<uint64_t>(digit);
    }
    bool any_digits = m_pos > digits;
    // What follows must end the token; a '.' or an exponent makes it a float
    // literal (digits, optionally '.' and digits, optionally e, a sign and
    // digits), anything else is no number at all.
    if (!at_end() && (is_name_char(peek()) || peek() == '.')) {
        size_t rest = m_pos;
        while (!at_end() && (is_name_char(peek()) || peek() == '.' ||
                             ((peek() == '+' || peek() == '-') &&
                              (m_text[m_pos - 1] == 'e' || m_text[m_pos - 1] == 'E'))))
            ++m_pos;
        std::string_view tail = m_text.substr(rest, m_pos - rest);
        bool is_float = base != 16 && any_digits;
        size_t i = 0;
        for (; i < tail.size() && is_digit(tail[i]); ++i) {
        }
        if (i < tail.size() && tail[i] == '.')
            for (++i; i < tail.size() && is_digit(tail[i]); ++i) {
            }
        if (i < tail.size() && (tail[i] == 'e' || tail[i] == 'E')) {
            ++i;
            if (i < tail.size() && (tail[i] == '+' || tail[i] == '-'))
                ++i;
            for (; i < tail.size() && is_digit(tail[i]); ++i) {
            }
        }
        // Octal digits followed by 8 or 9 are a decimal float's integer part
        // only when a '.' or an exponent follows.
        is_float = is_float && i == tail.size() &&
                   (tail.find('.') != std::string_view::npos || tail.find('e') != tail.npos ||
                    tail.find('E') != tail.npos);
        number.fraction = is_float;
        number.malformed = !is_float;
    }
    number.malformed = number.malformed || !any_digits;
    number.end = m_pos;
    return number;
}

Result<void, TextError> Parser::parse_integer(TypeKind kind, Slot slot) {
    if (peek() != '-' && !is_digit(peek()))
        return Err{value_error(TextErrorKind::WrongType, kind)};
    Number number = read_number();
    std::string_view got = m_text.substr(number.start, number.end - number.start);
    auto fail = [&](TextErrorKind error_kind) {
        TextError e = error(error_kind, number.start, got);
        e.expected = kind;
        return Err{e};
    };
    if (number.malformed || number.fraction)
        return fail(TextErrorKind::WrongType);
    if (number.overflow)
        return fail(TextErrorKind::OutOfRange);
    uint32_t width = data_bits(kind);
    uint64_t mask = width == 64 ? UINT64_MAX : (uint64_t{1} << width) - 1;
    uint64_t bits = number.magnitude;
    if (is_signed(kind)) {
        uint64_t largest = uint64_t{1} << (width - 1); // -largest .. largest - 1
        if (number.negative ? bits > largest : bits >= largest)
            return fail(TextErrorKind::OutOfRange);
        if (number.negative)
            bits = (~bits + 1) & mask;
    } else if ((number.negative && bits != 0) || bits > mask) {
        return fail(TextErrorKind::OutOfRange);
    }
    slot.write(kind, bits);
    return {};
}

Result<void, TextError> Parser::parse_float(TypeKind kind, Slot slot) {
    bool is64 = kind == TypeKind::Float64;
    size_t start = m_pos;
    if (peek() == '-') {
        ++m_pos;
        skip_space();
    }
    bool negative = m_pos != start;
    if (is_name_start(peek())) {
        std::string_view word = identifier();
        uint64_t sign = uint64_t{negative} << (is64 ? 63 : 31);
        if (word == "inf") {
            slot.write(kind, sign | (is64 ? 0x7ff0000000000000ull : 0x7f800000u));
            return {};
        }
        if (word == "nan" && !negative) {
            slot.write(kind, is64 ? 0x7ff8000000000000ull : 0x7fc00000u);
            return {};
        }
        m_pos = start;
        return Err{value_error(TextErrorKind::WrongType, kind)};
    }
    if (!is_digit(peek())) {
        m_pos = start;
        return Err{value_error(TextErrorKind::WrongType, kind)};
    }
    m_pos = start;
    Number number = read_number();
    std::string_view got = m_text.substr(number.start, number.end - number.start);
    auto fail = [&](TextErrorKind error_kind) {
        TextError e = error(error_kind, number.start, got);
        e.expected = kind;
        return Err{e};
    };
    if (number.fraction)
        return fail(TextErrorKind::FloatFraction);
    if (number.malformed)
        return fail(TextErrorKind::WrongType);
    std::optional<uint64_t> bits =
        number.overflow ? std::nullopt : float_bits(kind, number.magnitude, number.negative);
    if (!bits)
        return fail(TextErrorKind::NotRepresentable);
    slot.write(kind, *bits);
    return {};
}

Result<void, TextError> Parser::parse_enum(Type type, Slot slot) {
    auto found = m_schema.find_enum(type.node_id());
    if (found.is_error())
        return Err{error(TextErrorKind::BadSchema, m_pos)};
    const EnumSchema& schema = found.value();
    if (!is_name_start(peek()))
        return Err{value_error(TextErrorKind::WrongType, TypeKind::Enum, schema.name())};
    size_t start = m_pos;
    std::string_view name = identifier();
    auto value = schema.find_enumerant(name);
    if (value.is_error()) {
        TextError e = error(TextErrorKind::UnknownEnumerant, start, name);
        e.expected = TypeKind::Enum;
        e.type_name = schema.name();
        return Err{e};
    }
    slot.write(TypeKind::Enum, value.value());
    return {};
}

// One or more adjacent string literals (capnp joins them), decoded into `out`
// when it is not null. Returns the decoded length; m_pos ends after the last.
Result<size_t, TextError> Parser::read_strings(uint8_t* out) {
    size_t length = 0;
    for (;;) {
        size_t start = m_pos;
        ++m_pos; // the opening quote
        for (;;) {
            if (at_end() || m_text[m_pos] == '\n')
                return Err{error(TextErrorKind::UnterminatedString, start,
                                 m_text.substr(start, m_pos - start))};
            char c = m_text[m_pos];
            if (c == '"') {
                ++m_pos;
                break;
            }
            uint8_t byte = static_cast<uint8_t>(c);
            if (c != '\\') {
                ++m_pos;
            } else {
                char e = m_pos + 1 < m_text.size() ? m_text[m_pos + 1] : '\0';
                size_t used = 2;
                switch (e) {
                case 'a':
                    byte = '\a';
                    break;
                case 'b':
                    byte = '\b';
                    break;
                case 'f':
                    byte = '\f';
                    break;
                case 'n':
                    byte = '\n';
                    break;
                case 'r':
                    byte = '\r';
                    break;
                case 't':
                    byte = '\t';
                    break;
                case 'v':
                    byte = '\v';
                    break;
                case '\'':
                case '"':
                case '\\':
                case '?':
                    byte = static_cast<uint8_t>(e);
                    break;
                case 'x': {
                    int high = m_pos + 2 < m_text.size() ? digit_value(m_text[m_pos + 2], 16) : -1;
                    int low = m_pos + 3 < m_text.size() ? digit_value(m_text[m_pos + 3], 16) : -1;
                    if (high < 0 || low < 0)
                        return Err{error(TextErrorKind::BadEscape, m_pos,
                                         m_text.substr(m_pos, high < 0 ? 2 : 3))};
                    byte = static_cast<uint8_t>(high << 4 | low);
                    used = 4;
                    break;
                }
                default: {
                    // Up to three octal digits; the value keeps its low 8 bits.
                    uint32_t value = 0;
                    size_t digits = 0;
                    while (digits < 3 && m_pos + 1 + digits < m_text.size() &&
                           digit_value(m_text[m_pos + 1 + digits], 8) >= 0) {
                        value = value * 8 + static_cast<uint32_t>(m_text[m_pos + 1 + digits] - '0');
                        ++digits;
                    }
                    if (digits == 0) {
                        if (m_pos + 1 >= m_text.size())
                            return Err{error(TextErrorKind::UnterminatedString, start,
                                             m_text.substr(start))};
                        return Err{error(TextErrorKind::BadEscape, m_pos, m_text.substr(m_pos, 2))};
                    }
                    byte = static_cast<uint8_t>(value);
                    used = 1 + digits;
                    break;
                }
                }
                m_pos += used;
            }
            if (out != nullptr)
                out[length] = byte;
            ++length;
        }
        size_t after = m_pos;
        skip_space();
        if (peek() != '"') {
            m_pos = after;
            return length;
        }
    }
}

// 0x"..." : pairs of hex digits, spaces allowed between pairs.
Result<size_t, TextError> Parser::read_binary(uint8_t* out) {
    size_t start = m_pos;
    m_pos += 3; // 0x"
    size_t length = 0;
    for (;;) {
        while (!at_end() && is_space(m_text[m_pos]))
            ++m_pos;
        if (at_end())
            return Err{error(TextErrorKind::UnterminatedString, start, m_text.substr(start))};
        if (m_text[m_pos] == '"') {
            ++m_pos;
            return length;
        }
        int high = digit_value(m_text[m_pos], 16);
        int low = m_pos + 1 < m_text.size() ? digit_value(m_text[m_pos + 1], 16) : -1;
        if (high < 0 || low < 0)
            return Err{error(TextErrorKind::BadBinary, m_pos, m_text.substr(m_pos, 1))};
        if (out != nullptr)
            out[length] = static_cast<uint8_t>(high << 4 | low);
        ++length;
        m_pos += 2;
    }
}

// Text: string literals; Data: string literals or one binary literal. Read
// twice: once for the length (the list is allocated before it is filled),
// once to decode into it.
Result<void, TextError> Parser::parse_blob(TypeKind kind, Slot slot) {
    bool binary = kind == TypeKind::Data && looking_at("0x\"");
    if (!binary && peek() != '"')
        return Err{value_error(TextErrorKind::WrongType, kind)};
    size_t start = m_pos;
    size_t length = TRY(binary ? read_binary(nullptr) : read_strings(nullptr));
    size_t nul = kind == TypeKind::Text ? 1 : 0;
    if (length + nul > detail::max_list_count)
        return Err{error(TextErrorKind::BufferFull, start)};
    ListBuilder bytes =
        slot.pointer().init_list(ElementSize::Byte, static_cast<uint32_t>(length + nul));
    TRY(allocated());
    m_pos = start;
    uint8_t* out = bytes.bytes().data();
    // The same input read again: it cannot fail, and writes `length` bytes.
    (void)(binary ? read_binary(out) : read_strings(out)).is_ok();
    return {};
}

Result<void, TextError> Parser::parse_struct(Type type, Slot slot) {
    auto found = m_schema.find_struct(type.node_id());
    if (found.is_error())
        return Err{error(TextErrorKind::BadSchema, m_pos)};
    const StructSchema& schema = found.value();
    if (peek() != '(')
        return Err{value_error(TextErrorKind::WrongType, TypeKind::Struct, schema.name())};
    TRY(enter());
    ++m_pos;
    uint16_t data_words = schema.data_words();
    uint16_t pointer_count = schema.pointer_count();
    // A list element was allocated with these sizes by parse_list.
    StructBuilder builder = slot.in_list ? slot.list.get_struct(slot.index)
                                         : slot.pointer().init_struct(data_words, pointer_count);
    TRY(allocated());
    TRY(parse_fields(builder, schema, data_words, pointer_count, ')'));
    leave();
    return {};
}

// The elements of the list whose '[' is just before `pos`, counted without
// parsing them: commas outside nested brackets and strings, and a last
// element without one. Exact for every well-formed list; for others the
// parse that follows finds the error.
uint32_t Parser::count_elements(size_t pos) const {
    uint64_t count = 0;
    uint32_t depth = 0;
    bool element = false; // something since the last comma
    while (pos < m_text.size()) {
        char c = m_text[pos];
        if (c == '#') {
            while (pos < m_text.size() && m_text[pos] != '\n')
                ++pos;
            continue;
        }
        if (c == '"') {
            element = true;
            for (++pos; pos < m_text.size() && m_text[pos] != '"' && m_text[pos] != '\n'; ++pos)
                pos += m_text[pos] == '\\';
            ++pos;
            continue;
        }
        if (c == '(' || c == '[') {
            ++depth;
            element = true;
        } else if (c == ')' || c == ']') {
            if (depth == 0)
                break;
            --depth;
        } else if (c == ',' && depth == 0) {
            count += element;
            element = false;
        } else if (!is_space(c)) {
            element = true;
        }
        ++pos;
    }
    count += element;
    return count > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(count);
}

Result<void, TextError> Parser::parse_list(Type type, Slot slot) {
    if (peek() != '[')
        return Err{value_error(TextErrorKind::WrongType, TypeKind::List)};
    TRY(enter());
    ++m_pos;
    Type element = type.element();
    uint32_t count = count_elements(m_pos);
    if (count > detail::max_list_count)
        return Err{error(TextErrorKind::BufferFull, m_pos)};
    ListBuilder list;
    if (element.kind() == TypeKind::Struct) {
        auto found = m_schema.find_struct(element.node_id());
        if (found.is_error())
            return Err{error(TextErrorKind::BadSchema, m_pos)};
        list = slot.pointer().init_struct_list(count, found.value().data_words(),
                                               found.value().pointer_count());
    } else {
        list = slot.pointer().init_list(element_size_of(element.kind()), count);
    }
    TRY(allocated());

    uint32_t outer_element = m_element;
    for (uint32_t i = 0; i < count; ++i) {
        m_element = i;
        TRY(parse_value(element, Slot::element(list, i)));
        skip_space();
        if (peek() == ',') {
            ++m_pos;
        } else if (peek() != ']' || i + 1 != count) {
            if (at_end())
                return Err{error(TextErrorKind::UnexpectedEnd, m_pos)};
            TextError e = error(TextErrorKind::ExpectedSeparator, m_pos, token_at(m_pos));
            e.closing = ']';
            return Err{e};
        }
    }
    m_element = outer_element;
    skip_space();
    if (peek() != ']') {
        if (at_end())
            return Err{error(TextErrorKind::UnexpectedEnd, m_pos)};
        TextError e = error(TextErrorKind::ExpectedSeparator, m_pos, token_at(m_pos));
        e.closing = ']';
        return Err{e};
    }
    ++m_pos;
    leave();
    return {};
}

Result<void, TextError> Parser::parse_capability(Type type, Slot slot) {
    if (peek() != '@')
        return Err{value_error(TextErrorKind::WrongType, type.kind())};
    size_t start = m_pos;
    ++m_pos;
    while (!at_end() && is_capability_name_char(m_text[m_pos]))
        ++m_pos;
    std::string_view name = m_text.substr(start + 1, m_pos - start - 1);
    if (name.empty()) {
        m_pos = start;
        return Err{value_error(TextErrorKind::WrongType, type.kind())};
    }
    std::string_view got = m_text.substr(start, m_pos - start);
    uint64_t interface_id = type.node_id();
    const CapabilityResolver& resolver = m_options.capabilities;
    ResolvedCapability resolved;
    if (resolver.resolve != nullptr)
        resolved = resolver.resolve(resolver.context, name, interface_id);
    if (resolved.lookup == CapabilityLookup::Unknown)
        return Err{error(TextErrorKind::UnknownCapability, start, got)};
    if (resolved.lookup == CapabilityLookup::WrongInterface) {
        TextError e = error(TextErrorKind::CapabilityInterface, start, got);
        auto interface = m_schema.find_interface(interface_id);
        if (interface.is_ok())
            e.type_name = interface.value().name();
        return Err{e};
    }
    slot.pointer().set_capability(resolved.index);
    return {};
}

// ---------------------------------------------------------------------------
// Printing

// Text as kj::encodeCEscape writes it (what capnp decode prints): C escapes
// for the named controls and quotes, three octal digits for other controls
// (and, for Data, every byte above 0x7e), everything else as it is.
void write_escaped(TextSink& sink, std::span<const uint8_t> bytes, bool binary) {
    size_t run = 0; // bytes [run, i) are written as they are
    for (size_t i = 0; i < bytes.size(); ++i) {
        uint8_t b = bytes[i];
        char named = 0;
        switch (b) {
        case '\a':
            named = 'a';
            break;
        case '\b':
            named = 'b';
            break;
        case '\f':
            named = 'f';
            break;
        case '\n':
            named = 'n';
            break;
        case '\r':
            named = 'r';
            break;
        case '\t':
            named = 't';
            break;
        case '\v':
            named = 'v';
            break;
        case '\'':
        case '"':
        case '\\':
            named = static_cast<char>(b);
            break;
        default:
            break;
        }
        bool octal = named == 0 && (b < 0x20 || b == 0x7f || (binary && b > 0x7f));
        if (named == 0 && !octal)
            continue;
        sink.write(std::string_view(reinterpret_cast<const char*>(bytes.data()) + run, i - run));
        run = i + 1;
        if (named != 0) {
            char escape[2] = {'\\', named};
            sink.write(std::string_view(escape, 2));
        } else {
            char escape[4] = {'\\', static_cast<char>('0' + b / 64),
                              static_cast<char>('0' + (b / 8) % 8), static_cast<char>('0' + b % 8)};
            sink.write(std::string_view(escape, 4));
        }
    }
    sink.write(
        std::string_view(reinterpret_cast<const char*>(bytes.data()) + run, bytes.size() - run));
}

void write_hex(TextSink& sink, uint64_t value, uint32_t digits) {
    for (uint32_t i = digits; i > 0; --i)
        sink.write(hex_digits[(value >> ((i - 1) * 4)) & 0xf]);
}

// See text.h, "Floating point": integers exactly, the specials as kj names
// them, anything else as its bits.
void write_float(TextSink& sink, TypeKind kind, uint64_t bits) {
    bool is64 = kind == TypeKind::Float64;
    uint32_t mantissa_bits = is64 ? 52 : 23;
    uint32_t exponent_max = is64 ? 0x7ff : 0xff;
    uint32_t bias = is64 ? 1023 : 127;
    bool negative = ((bits >> (is64 ? 63 : 31)) & 1) != 0;
    uint32_t exponent = static_cast<uint32_t>(bits >> mantissa_bits) & exponent_max;
    uint64_t fraction = bits & ((uint64_t{1} << mantissa_bits) - 1);
    if (exponent == exponent_max) {
        sink.write(fraction != 0 ? "nan" : negative ? "-inf" : "inf");
        return;
    }
    if (exponent == 0 && fraction == 0) {
        sink.write(negative ? "-0" : "0");
        return;
    }
    // A normal number of magnitude 1 to 2^64 - 1 that is an integer.
    if (exponent >= bias && exponent - bias < 64) {
        uint64_t significand = fraction | uint64_t{1} << mantissa_bits;
        uint32_t power = exponent - bias; // value = significand * 2^(power - mantissa_bits)
        bool integer = power >= mantissa_bits ||
                       (significand & ((uint64_t{1} << (mantissa_bits - power)) - 1)) == 0;
        if (integer) {
            if (negative)
                sink.write('-');
            sink.write_unsigned(power >= mantissa_bits ? significand << (power - mantissa_bits)
                                                       : significand >> (mantissa_bits - power));
            return;
        }
    }
    sink.write(is64 ? "<float64 0x" : "<float32 0x");
    write_hex(sink, bits, is64 ? 16 : 8);
    sink.write('>');
}

class Printer {
public:
    Printer(const SchemaSet& schema, TextSink& sink, const PrintOptions& options)
        : m_schema(schema), m_sink(sink), m_options(options) {}

    Result<void, PrintError> print_struct(StructReader value, const StructSchema& scope);

private:
    Result<void, PrintError> enter();
    bool has(StructReader value, const Field& field) const;
    Result<void, PrintError> print_field(StructReader value, const Field& field, bool& first);
    Result<void, PrintError> print_value(Type type, const Source& source);
    Result<void, PrintError> print_list(Type element, PointerReader pointer);
    void print_capability(Type type, PointerReader pointer);

    const SchemaSet& m_schema;
    TextSink& m_sink;
    const PrintOptions& m_options;
    uint32_t m_depth = 0;
};

Result<void, PrintError> Printer::enter() {
    if (m_depth >= m_options.max_depth)
        return Err{PrintError::TooDeep};
    ++m_depth;
    return {};
}

// libcapnp's DynamicStruct::Reader::has: data fields are always there,
// pointers when not null, groups always.
bool Printer::has(StructReader value, const Field& field) const {
    if (field.is_group())
        return true;
    TypeKind kind = field.type().kind();
    if (kind == TypeKind::Unknown)
        return false;
    if (is_pointer_kind(kind))
        return field.offset() <= 0xffff &&
               !value.pointer_field(static_cast<uint16_t>(field.offset())).is_null();
    return true;
}

Result<void, PrintError> Printer::print_struct(StructReader value, const StructSchema& scope) {
    TRY(enter());
    m_sink.write('(');
    // The union member that is set prints where its index falls among the
    // other fields; the first member (discriminant 0) only when it is not a
    // null pointer.
    std::optional<Field> member;
    if (scope.discriminant_count() != 0) {
        uint16_t discriminant = value.data_field<uint16_t>(scope.discriminant_offset());
        auto found = scope.union_member(discriminant);
        if (found.is_ok() && (discriminant != 0 || has(value, found.value())))
            member = found.value();
    }
    bool first = true;
    uint32_t count = scope.field_count();
    for (uint32_t i = 0; i < count && !m_sink.truncated(); ++i) {
        Field field = scope.field(i);
        if (field.in_union())
            continue;
        if (member && member->index() < field.index()) {
            TRY(print_field(value, *member, first));
            member.reset();
        }
        if (has(value, field))
            TRY(print_field(value, field, first));
    }
    if (member && !m_sink.truncated())
        TRY(print_field(value, *member, first));
    m_sink.write(')');
    --m_depth;
    return {};
}

Result<void, PrintError> Printer::print_field(StructReader value, const Field& field, bool& first) {
    if (!first)
        m_sink.write(", ");
    first = false;
    m_sink.write(field.name());
    m_sink.write(" = ");
    if (!field.is_group())
        return print_value(field.type(), Source::field(value, field));
    auto group = m_schema.find_struct(field.group_id());
    if (group.is_error())
        return Err{PrintError::BadSchema};
    return print_struct(value, group.value());
}

Result<void, PrintError> Printer::print_value(Type type, const Source& source) {
    TypeKind kind = type.kind();
    switch (kind) {
    case TypeKind::Void:
        m_sink.write("void");
        return {};
    case TypeKind::Bool:
        m_sink.write(source.read(kind) != 0 ? "true" : "false");
        return {};
    case TypeKind::Int8:
        m_sink.write_signed(static_cast<int8_t>(source.read(kind)));
        return {};
    case TypeKind::Int16:
        m_sink.write_signed(static_cast<int16_t>(source.read(kind)));
        return {};
    case TypeKind::Int32:
        m_sink.write_signed(static_cast<int32_t>(source.read(kind)));
        return {};
    case TypeKind::Int64:
        m_sink.write_signed(static_cast<int64_t>(source.read(kind)));
        return {};
    case TypeKind::UInt8:
    case TypeKind::UInt16:
    case TypeKind::UInt32:
    case TypeKind::UInt64:
        m_sink.write_unsigned(source.read(kind));
        return {};
    case TypeKind::Float32:
    case TypeKind::Float64:
        write_float(m_sink, kind, source.read(kind));
        return {};
    case TypeKind::Enum: {
        auto schema = m_schema.find_enum(type.node_id());
        if (schema.is_error())
            return Err{PrintError::BadSchema};
        uint16_t value = static_cast<uint16_t>(source.read(kind));
        std::string_view name = schema.value().enumerant_name(value);
        if (!name.empty()) {
            m_sink.write(name);
        } else { // a value the schema does not name, as capnp prints it
            m_sink.write('(');
            m_sink.write_unsigned(value);
            m_sink.write(')');
        }
        return {};
    }
    case TypeKind::Text: {
        std::string_view text = source.pointer().get_text().view();
        m_sink.write('"');
        write_escaped(m_sink, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, false);
        m_sink.write('"');
        return {};
    }
    case TypeKind::Data: {
        std::span<const uint8_t> data = source.pointer().get_data();
        if (m_options.data == DataFormat::Hex && !data.empty()) {
            m_sink.write("0x\"");
            for (uint8_t byte : data)
                write_hex(m_sink, byte, 2);
        } else {
            m_sink.write('"');
            write_escaped(m_sink, data, true);
        }
        m_sink.write('"');
        return {};
    }
    case TypeKind::List:
        return print_list(type.element(), source.pointer());
    case TypeKind::Struct: {
        auto schema = m_schema.find_struct(type.node_id());
        if (schema.is_error())
            return Err{PrintError::BadSchema};
        return print_struct(source.pointer().get_struct(), schema.value());
    }
    case TypeKind::Interface:
    case TypeKind::Capability:
        print_capability(type, source.pointer());
        return {};
    case TypeKind::AnyPointer:
        m_sink.write("<opaque pointer>");
        return {};
    case TypeKind::Unknown:
        break;
    }
    m_sink.write('?');
    return {};
}

Result<void, PrintError> Printer::print_list(Type element, PointerReader pointer) {
    TRY(enter());
    TypeKind kind = element.kind();
    std::optional<StructSchema> schema;
    if (kind == TypeKind::Struct) {
        auto found = m_schema.find_struct(element.node_id());
        if (found.is_error())
            return Err{PrintError::BadSchema};
        schema = found.value();
    }
    ListReader list = pointer.get_list(element_size_of(kind));
    m_sink.write('[');
    for (uint32_t i = 0; i < list.size() && !m_sink.truncated(); ++i) {
        if (i != 0)
            m_sink.write(", ");
        if (schema)
            TRY(print_struct(list.get_struct(i), *schema));
        else
            TRY(print_value(element, Source::element(list, i)));
    }
    m_sink.write(']');
    --m_depth;
    return {};
}

void Printer::print_capability(Type type, PointerReader pointer) {
    // A `:Capability` field is an AnyPointer: capnp prints whatever it holds
    // that is not a capability as an opaque pointer.
    if (type.kind() == TypeKind::Capability && !pointer.is_null() && !pointer.is_capability()) {
        m_sink.write("<opaque pointer>");
        return;
    }
    uint32_t index = pointer.capability_index(); // records a wire error for a non-capability
    const CapabilityPrinter& printer = m_options.capabilities;
    if (printer.print != nullptr) {
        printer.print(printer.context, m_sink, index, type.node_id());
    } else if (index == PointerReader::no_capability) {
        m_sink.write("<null capability>");
    } else {
        m_sink.write("<capability ");
        m_sink.write_unsigned(index);
        m_sink.write('>');
    }
}

// ---------------------------------------------------------------------------
// Error messages

void describe_expected(TextSink& sink, const TextError& error) {
    switch (error.expected) {
    case TypeKind::Void:
        sink.write("void");
        return;
    case TypeKind::Bool:
        sink.write("true or false");
        return;
    case TypeKind::UInt8:
        sink.write("an unsigned integer up to 255");
        return;
    case TypeKind::UInt16:
        sink.write("an unsigned integer up to 65535");
        return;
    case TypeKind::UInt32:
        sink.write("an unsigned integer up to 2^32-1");
        return;
    case TypeKind::UInt64:
        sink.write("an unsigned integer up to 2^64-1");
        return;
    case TypeKind::Int8:
        sink.write("an integer from -128 to 127");
        return;
    case TypeKind::Int16:
        sink.write("an integer from -32768 to 32767");
        return;
    case TypeKind::Int32:
        sink.write("an integer from -2^31 to 2^31-1");
        return;
    case TypeKind::Int64:
        sink.write("an integer from -2^63 to 2^63-1");
        return;
    case TypeKind::Float32:
    case TypeKind::Float64:
        sink.write("an integer that ");
        sink.write(type_kind_name(error.expected));
        sink.write(" holds exactly, inf, -inf or nan");
        return;
    case TypeKind::Text:
        sink.write("a string in double quotes");
        return;
    case TypeKind::Data:
        sink.write("data: 0x\"hex digits\" or a string");
        return;
    case TypeKind::List:
        sink.write("a list in brackets");
        return;
    case TypeKind::Enum:
        sink.write("an enumerant of ");
        sink.write(error.type_name);
        return;
    case TypeKind::Struct:
        sink.write("a value of ");
        sink.write(error.type_name.empty() ? std::string_view("a struct") : error.type_name);
        sink.write(" in parentheses");
        return;
    case TypeKind::Interface:
    case TypeKind::Capability:
        sink.write("a capability, @name");
        return;
    case TypeKind::AnyPointer:
    case TypeKind::Unknown:
        break;
    }
    sink.write("a value of a type text cannot express");
}

void write_quoted(TextSink& sink, std::string_view text) {
    constexpr size_t most = 40;
    sink.write('\'');
    for (size_t i = 0; i < text.size() && i < most; ++i) {
        char c = text[i];
        sink.write(static_cast<uint8_t>(c) < 0x20 || c == 0x7f ? '?' : c);
    }
    if (text.size() > most)
        sink.write("...");
    sink.write('\'');
}

} // namespace

// ---------------------------------------------------------------------------

Result<void, TextError> parse_text(const SchemaSet& schema, const StructSchema& type,
                                   std::string_view text, MessageBuilder& message,
                                   const ParseOptions& options) {
    Parser parser(schema, text, message, options);
    return parser.parse(type);
}

void TextSink::write(std::string_view text) {
    if (m_truncated)
        return;
    size_t room = m_buffer.size() - m_size;
    size_t take = text.size() <= room ? text.size() : room;
    if (take != 0)
        __builtin_memcpy(m_buffer.data() + m_size, text.data(), take);
    m_size += take;
    if (take == text.size())
        return;
    m_truncated = true;
    // The character at the cut continues past it: drop the part that fit (a
    // lead byte and at most three continuation bytes).
    auto continuation = [](char c) { return (static_cast<uint8_t>(c) & 0xc0) == 0x80; };
    if (continuation(text[take])) {
        for (int i = 0; i < 3 && m_size > 0 && continuation(m_buffer[m_size - 1]); ++i)
            --m_size;
        if (m_size > 0 && static_cast<uint8_t>(m_buffer[m_size - 1]) >= 0xc0)
            --m_size;
    }
}

void TextSink::write_unsigned(uint64_t value) {
    char digits[20];
    size_t count = 0;
    do {
        digits[sizeof(digits) - 1 - count++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    write(std::string_view(digits + sizeof(digits) - count, count));
}

void TextSink::write_signed(int64_t value) {
    if (value < 0) {
        write('-');
        write_unsigned(~static_cast<uint64_t>(value) + 1);
    } else {
        write_unsigned(static_cast<uint64_t>(value));
    }
}

const char* to_string(PrintError error) {
    switch (error) {
    case PrintError::Malformed:
        return "malformed message";
    case PrintError::BadSchema:
        return "the schema does not describe this value";
    case PrintError::TooDeep:
        return "value nested too deeply to print";
    }
    return "unknown print error";
}

Result<void, PrintError> print_text(const SchemaSet& schema, const StructSchema& type,
                                    const MessageReader& message, TextSink& sink,
                                    const PrintOptions& options) {
    Printer printer(schema, sink, options);
    TRY(printer.print_struct(message.root(), type));
    if (message.error() != WireError::None)
        return Err{PrintError::Malformed};
    return {};
}

size_t format_error(const TextError& error, std::span<char> out) {
    TextSink sink(out);
    bool show_got = !error.got.empty();
    if (!error.field.empty()) {
        sink.write("field '");
        sink.write(error.field);
        sink.write('\'');
        if (error.element != TextError::no_element) {
            sink.write(" element ");
            sink.write_unsigned(error.element);
        }
        sink.write(": ");
    }
    switch (error.kind) {
    case TextErrorKind::UnexpectedEnd:
        sink.write("unexpected end of input");
        break;
    case TextErrorKind::ExpectedFieldName:
        sink.write("expected a field name");
        break;
    case TextErrorKind::ExpectedEquals:
        sink.write("expected '=' after the field name");
        break;
    case TextErrorKind::ExpectedSeparator:
        sink.write("expected ',' or ");
        if (error.closing == '\0') {
            sink.write("the end of the input");
        } else {
            sink.write('\'');
            sink.write(error.closing);
            sink.write('\'');
        }
        break;
    case TextErrorKind::UnknownField:
        sink.write("struct ");
        sink.write(error.type_name);
        sink.write(" has no field named ");
        write_quoted(sink, error.got);
        show_got = false;
        break;
    case TextErrorKind::DuplicateField:
        sink.write("set twice");
        show_got = false;
        break;
    case TextErrorKind::UnionConflict:
        sink.write("its union already has ");
        write_quoted(sink, error.other);
        sink.write(" set, and a union holds one member");
        show_got = false;
        break;
    case TextErrorKind::WrongType:
    case TextErrorKind::OutOfRange:
    case TextErrorKind::UnknownEnumerant:
    case TextErrorKind::UnsupportedType:
        sink.write("expected ");
        describe_expected(sink, error);
        break;
    case TextErrorKind::NotRepresentable:
        sink.write("expected ");
        describe_expected(sink, error);
        sink.write(" (it cannot hold this one exactly)");
        break;
    case TextErrorKind::FloatFraction:
        sink.write("expected ");
        describe_expected(sink, error);
        sink.write(" (fractions and exponents need floating point, which this code has not)");
        break;
    case TextErrorKind::BadEscape:
        sink.write("unknown escape sequence");
        break;
    case TextErrorKind::UnterminatedString:
        sink.write("string without its closing quote");
        break;
    case TextErrorKind::BadBinary:
        sink.write("expected pairs of hex digits in 0x\"...\"");
        break;
    case TextErrorKind::UnknownCapability:
        sink.write("no capability named ");
        write_quoted(sink, error.got);
        show_got = false;
        break;
    case TextErrorKind::CapabilityInterface:
        sink.write("capability ");
        write_quoted(sink, error.got);
        sink.write(" is not a ");
        sink.write(error.type_name.empty() ? std::string_view("capability of this interface")
                                           : error.type_name);
        show_got = false;
        break;
    case TextErrorKind::TooManyFields:
        sink.write(error.type_name);
        sink.write(" has more fields than text can set (");
        sink.write_unsigned(max_text_fields);
        sink.write(')');
        break;
    case TextErrorKind::TrailingInput:
        sink.write("unexpected input after the value");
        break;
    case TextErrorKind::TooDeep:
        sink.write("values nested more than ");
        sink.write_unsigned(error.limit);
        sink.write(" deep");
        break;
    case TextErrorKind::TooLong:
        sink.write("input longer than ");
        sink.write_unsigned(error.limit);
        sink.write(" bytes");
        break;
    case TextErrorKind::BufferFull:
        sink.write("the message does not fit its buffer");
        break;
    case TextErrorKind::BadSchema:
        sink.write("the schema is malformed here");
        break;
    }
    if (show_got) {
        sink.write(", got ");
        write_quoted(sink, error.got);
    }
    sink.write(" (at byte ");
    sink.write_unsigned(error.offset);
    sink.write(')');
    return sink.text().size();
}

} // namespace capos::capnp
