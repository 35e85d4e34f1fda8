// Cap'n Proto schemas at run time: a read-only view over a CodeGeneratorRequest
// (capnp/schema.capnp, the message `capnp compile -o-` writes), for code that
// handles messages of types it was not compiled against: the text codec
// (lib/capnp/text.h) under the shell's `call`. Generated code knows its types at
// compile time and needs none of this.
//
// Trust. The request is untrusted input (it comes from the boot archive, but
// nothing here relies on that). create() validates it once, in full, within a
// traversal budget linear in its size: every pointer in bounds, Text
// terminated, lists of the element sizes schema.capnp declares, nesting at most
// ReaderLimits' default (so no cycles). What validation cannot see is left to
// the users of each value, and the accessors below say which: ids may name no
// node (lookups fail with NotFound), offsets may lie outside their struct
// (Field::fits), discriminants and enumerant counts may be anything (they are
// only compared). Lookups are linear scans over the request's lists; a request
// holds a few hundred nodes, and every scan is bounded by the list it reads.
//
// Lifetime. Everything here is a view: the request's words, and the segment
// table passed to create(), must outlive the SchemaSet, and every handle it
// gives (StructSchema, Field, Type, ...) reads through the SchemaSet's own
// MessageReader, so the SchemaSet must stay where it is (not be moved) while
// handles are in use, like any MessageReader. Not thread-safe (reads record
// errors in that reader, though a validated request records none).
#pragma once

#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::capnp {

enum class SchemaError : uint8_t {
    Malformed, // the request failed validation, or a node contradicts itself
    NotFound,  // no node with that id or name; no field, method or enumerant of that name
    WrongKind, // the node exists but is not what was asked for (a struct, an enum, ...)
};
const char* to_string(SchemaError error);

// What a field or list element holds, as the codec needs to know it.
enum class TypeKind : uint8_t {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Text,
    Data,
    List,
    Enum,
    Struct,
    Interface,  // a capability of a named interface
    Capability, // `:Capability`: an AnyPointer constrained to capabilities
    AnyPointer, // any other AnyPointer, generic parameters included
    Unknown,    // a type this reader does not know (a newer schema.capnp)
};

// The schema's name of a type kind ("UInt64", "List", ...).
std::string_view type_kind_name(TypeKind kind);
// Bits a value of `kind` takes in a data section or a primitive list: 0 for
// Void and for pointer kinds, 1 for Bool, 8 to 64 for numbers and enums.
uint32_t data_bits(TypeKind kind);
inline bool is_pointer_kind(TypeKind kind) {
    return kind >= TypeKind::Text && kind != TypeKind::Enum && kind != TypeKind::Unknown;
}

// A type as a field or a list declares it (a schema.capnp Type).
class Type {
public:
    Type() = default;
    explicit Type(StructReader type);
    TypeKind kind() const { return m_kind; }
    // The node a Struct, Enum or Interface type names (0 for other kinds; an
    // id a request holds need not name any of its nodes).
    uint64_t node_id() const;
    // List: the element type (Void when the schema gives none).
    Type element() const;

private:
    StructReader m_type;
    TypeKind m_kind = TypeKind::Void;
};

// One member of a struct, group or union (a schema.capnp Field).
class Field {
public:
    static constexpr uint16_t no_discriminant = 0xffff;

    Field() = default;
    Field(StructReader field, uint32_t index) : m_field(field), m_index(index) {}
    std::string_view name() const;
    // Its position in its scope's field list: the order `capnp decode` prints in.
    uint32_t index() const { return m_index; }
    // The discriminant value that selects it, or no_discriminant outside a union.
    uint16_t discriminant_value() const;
    bool in_union() const { return discriminant_value() != no_discriminant; }
    bool is_group() const;
    uint64_t group_id() const; // a group: its struct node

    // A slot (not a group):
    Type type() const;
    // In units of the type's size: bits for Bool, bytes for 8-bit kinds, ...
    // and the pointer index for pointer kinds. Unchecked: see fits().
    uint32_t offset() const;
    // Whether the slot lies within a struct of these sizes (for a group's
    // fields, those of the struct that holds the group). A slot of Void, or of
    // a kind this reader does not know, fits anywhere.
    bool fits(uint16_t data_words, uint16_t pointer_count) const;
    // The default of a scalar slot as the bit pattern it XORs the stored value
    // with (Bool: 0 or 1; floats: their IEEE bits; enums: the value).
    uint64_t default_bits() const;
    // The default of a pointer slot (Text, Data, List, Struct), a pointer into
    // the request; null when there is none.
    PointerReader default_pointer() const;

private:
    StructReader m_field;
    uint32_t m_index = 0;
};

// A struct or group node.
class StructSchema {
public:
    StructSchema() = default;
    explicit StructSchema(StructReader node) : m_node(node) {}
    uint64_t id() const;
    // The display name without its file: "Timer.sleep$Params", "Grant.capability".
    std::string_view name() const;
    uint16_t data_words() const;
    uint16_t pointer_count() const;
    bool is_group() const;
    // The members of this scope's unnamed union (0: none), and where its
    // discriminant is, in 16-bit units. See discriminant_fits().
    uint16_t discriminant_count() const;
    uint32_t discriminant_offset() const;
    bool discriminant_fits(uint16_t data_words) const;
    uint32_t field_count() const;
    Field field(uint32_t index) const; // index < field_count()
    Result<Field, SchemaError> find_field(std::string_view name) const;
    // The union member with this discriminant value (NotFound when none).
    Result<Field, SchemaError> union_member(uint16_t discriminant) const;

private:
    StructReader m_node;
};

class EnumSchema {
public:
    EnumSchema() = default;
    explicit EnumSchema(StructReader node) : m_node(node) {}
    uint64_t id() const;
    std::string_view name() const;
    uint32_t enumerant_count() const;
    // The name of the enumerant with this value; empty when there is none.
    std::string_view enumerant_name(uint16_t value) const;
    Result<uint16_t, SchemaError> find_enumerant(std::string_view name) const;

private:
    StructReader m_node;
};

struct MethodSchema {
    std::string_view name;
    uint64_t interface_id; // the interface that declares it (a superclass, perhaps)
    uint16_t ordinal;      // the method number calls carry
    uint64_t params_id;    // struct nodes
    uint64_t results_id;
};

class InterfaceSchema {
public:
    InterfaceSchema() = default;
    explicit InterfaceSchema(StructReader node) : m_node(node) {}
    uint64_t id() const;
    std::string_view name() const;
    uint32_t method_count() const;
    MethodSchema method(uint32_t index) const; // its own methods, index < method_count()
    uint32_t superclass_count() const;
    uint64_t superclass_id(uint32_t index) const;

private:
    StructReader m_node;
};

class SchemaSet {
public:
    // Superclass chains find_method follows, at most (they may be cyclic).
    static constexpr uint32_t max_superclass_depth = 16;

    // Validates the request in `segments` (each segment's words, in order: see
    // parse_framed for the stream format) and returns a view over it. Fails
    // with Malformed when validation finds any wire error.
    static Result<SchemaSet, SchemaError> create(std::span<const std::span<const Word>> segments);

    uint32_t node_count() const;
    Result<StructSchema, SchemaError> find_struct(uint64_t id) const;
    Result<EnumSchema, SchemaError> find_enum(uint64_t id) const;
    Result<InterfaceSchema, SchemaError> find_interface(uint64_t id) const;
    // By display name without the file ("SystemManifest", "Timer",
    // "ProcessSpawner.spawn$Params"): for tools and tests.
    Result<StructSchema, SchemaError> find_struct(std::string_view name) const;
    Result<InterfaceSchema, SchemaError> find_interface(std::string_view name) const;
    // A method by name: the interface's own first, then its superclasses',
    // depth first, at most max_superclass_depth levels down.
    Result<MethodSchema, SchemaError> find_method(const InterfaceSchema& interface,
                                                  std::string_view name) const;

private:
    explicit SchemaSet(std::span<const std::span<const Word>> segments);
    // `kind`: schema.capnp's Node union tag the node must have.
    Result<StructReader, SchemaError> find_node(uint64_t id, uint16_t kind) const;
    Result<StructReader, SchemaError> find_node(std::string_view name, uint16_t kind) const;
    // `budget`: interfaces the whole search may still visit.
    Result<MethodSchema, SchemaError> find_method(const InterfaceSchema& interface,
                                                  std::string_view name, uint32_t depth,
                                                  uint32_t& budget) const;

    MessageReader m_message;
};

} // namespace capos::capnp
