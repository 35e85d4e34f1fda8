// The run-time schema view (schema_set.h), read through the code capnpc-capos
// generates for Cap'n Proto's own schema.capnp.
#include "lib/capnp/schema_set.h"

#include "capnp/schema.capnp.capos.h"

namespace capos::capnp {

namespace {

namespace meta = ::schema::schema;

// Interfaces find_method may visit in all, however the superclasses branch.
constexpr uint32_t max_interfaces_searched = 64;

// The display name without the file it is in ("file.capnp:Outer.Inner").
std::string_view qualified_name(meta::Node::Reader node) {
    std::string_view name = node.display_name();
    size_t colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

TypeKind kind_of(meta::Type::Reader type) {
    using Which = meta::Type::Which;
    switch (type.which()) {
    case Which::Void:
        return TypeKind::Void;
    case Which::Bool:
        return TypeKind::Bool;
    case Which::Int8:
        return TypeKind::Int8;
    case Which::Int16:
        return TypeKind::Int16;
    case Which::Int32:
        return TypeKind::Int32;
    case Which::Int64:
        return TypeKind::Int64;
    case Which::Uint8:
        return TypeKind::UInt8;
    case Which::Uint16:
        return TypeKind::UInt16;
    case Which::Uint32:
        return TypeKind::UInt32;
    case Which::Uint64:
        return TypeKind::UInt64;
    case Which::Float32:
        return TypeKind::Float32;
    case Which::Float64:
        return TypeKind::Float64;
    case Which::Text:
        return TypeKind::Text;
    case Which::Data:
        return TypeKind::Data;
    case Which::List:
        return TypeKind::List;
    case Which::Enum:
        return TypeKind::Enum;
    case Which::Struct:
        return TypeKind::Struct;
    case Which::Interface:
        return TypeKind::Interface;
    case Which::AnyPointer: {
        meta::Type::AnyPointer::Reader any = type.any_pointer();
        if (any.is_unconstrained() && any.unconstrained().is_capability())
            return TypeKind::Capability;
        return TypeKind::AnyPointer;
    }
    }
    return TypeKind::Unknown;
}

// The bits of a scalar default as the Value holds them (whatever the field's
// type: a Value of another kind than its field is the schema's own
// contradiction, and only changes the mask).
uint64_t value_bits(meta::Value::Reader value) {
    using Which = meta::Value::Which;
    StructReader raw = value.raw();
    switch (value.which()) {
    case Which::Bool:
        return value.bool_() ? 1 : 0;
    case Which::Int8:
    case Which::Uint8:
        return raw.data_field<uint8_t>(2);
    case Which::Int16:
    case Which::Uint16:
    case Which::Enum:
        return raw.data_field<uint16_t>(1);
    case Which::Int32:
    case Which::Uint32:
    case Which::Float32:
        return raw.data_field<uint32_t>(1);
    case Which::Int64:
    case Which::Uint64:
    case Which::Float64:
        return raw.data_field<uint64_t>(1);
    default:
        return 0;
    }
}

meta::Node::Reader node_of(StructReader node) {
    return meta::Node::Reader(node);
}

} // namespace

const char* to_string(SchemaError error) {
    switch (error) {
    case SchemaError::Malformed:
        return "malformed schema";
    case SchemaError::NotFound:
        return "not found in the schema";
    case SchemaError::WrongKind:
        return "schema node of another kind";
    }
    return "unknown schema error";
}

std::string_view type_kind_name(TypeKind kind) {
    switch (kind) {
    case TypeKind::Void:
        return "Void";
    case TypeKind::Bool:
        return "Bool";
    case TypeKind::Int8:
        return "Int8";
    case TypeKind::Int16:
        return "Int16";
    case TypeKind::Int32:
        return "Int32";
    case TypeKind::Int64:
        return "Int64";
    case TypeKind::UInt8:
        return "UInt8";
    case TypeKind::UInt16:
        return "UInt16";
    case TypeKind::UInt32:
        return "UInt32";
    case TypeKind::UInt64:
        return "UInt64";
    case TypeKind::Float32:
        return "Float32";
    case TypeKind::Float64:
        return "Float64";
    case TypeKind::Text:
        return "Text";
    case TypeKind::Data:
        return "Data";
    case TypeKind::List:
        return "List";
    case TypeKind::Enum:
        return "enum";
    case TypeKind::Struct:
        return "struct";
    case TypeKind::Interface:
        return "interface";
    case TypeKind::Capability:
        return "Capability";
    case TypeKind::AnyPointer:
        return "AnyPointer";
    case TypeKind::Unknown:
        break;
    }
    return "an unknown type";
}

uint32_t data_bits(TypeKind kind) {
    switch (kind) {
    case TypeKind::Bool:
        return 1;
    case TypeKind::Int8:
    case TypeKind::UInt8:
        return 8;
    case TypeKind::Int16:
    case TypeKind::UInt16:
    case TypeKind::Enum:
        return 16;
    case TypeKind::Int32:
    case TypeKind::UInt32:
    case TypeKind::Float32:
        return 32;
    case TypeKind::Int64:
    case TypeKind::UInt64:
    case TypeKind::Float64:
        return 64;
    default:
        return 0;
    }
}

// ---------------------------------------------------------------------------
// Type

Type::Type(StructReader type) : m_type(type), m_kind(kind_of(meta::Type::Reader(type))) {}

uint64_t Type::node_id() const {
    meta::Type::Reader type(m_type);
    switch (m_kind) {
    case TypeKind::Struct:
        return type.struct_().type_id();
    case TypeKind::Enum:
        return type.enum_().type_id();
    case TypeKind::Interface:
        return type.interface().type_id();
    default:
        return 0;
    }
}

Type Type::element() const {
    if (m_kind != TypeKind::List)
        return Type();
    return Type(meta::Type::Reader(m_type).list().element_type().raw());
}

// ---------------------------------------------------------------------------
// Field

std::string_view Field::name() const {
    return meta::Field::Reader(m_field).name();
}

uint16_t Field::discriminant_value() const {
    return meta::Field::Reader(m_field).discriminant_value();
}

bool Field::is_group() const {
    return meta::Field::Reader(m_field).is_group();
}

uint64_t Field::group_id() const {
    return meta::Field::Reader(m_field).group().type_id();
}

Type Field::type() const {
    return Type(meta::Field::Reader(m_field).slot().type().raw());
}

uint32_t Field::offset() const {
    return meta::Field::Reader(m_field).slot().offset();
}

bool Field::fits(uint16_t data_words, uint16_t pointer_count) const {
    TypeKind kind = type().kind();
    if (is_pointer_kind(kind))
        return offset() < pointer_count;
    uint64_t bits = data_bits(kind);
    if (bits == 0)
        return true;
    return (uint64_t{offset()} + 1) * bits <= uint64_t{data_words} * 64;
}

uint64_t Field::default_bits() const {
    uint64_t bits = value_bits(meta::Field::Reader(m_field).slot().default_value());
    uint32_t width = data_bits(type().kind());
    return width >= 64 ? bits : bits & ((uint64_t{1} << width) - 1);
}

PointerReader Field::default_pointer() const {
    meta::Value::Reader value = meta::Field::Reader(m_field).slot().default_value();
    switch (value.which()) {
    case meta::Value::Which::Text:
    case meta::Value::Which::Data:
    case meta::Value::Which::List:
    case meta::Value::Which::Struct:
        return value.raw().pointer_field(0);
    default:
        return PointerReader();
    }
}

// ---------------------------------------------------------------------------
// StructSchema

uint64_t StructSchema::id() const {
    return node_of(m_node).id();
}

std::string_view StructSchema::name() const {
    return qualified_name(node_of(m_node));
}

uint16_t StructSchema::data_words() const {
    return node_of(m_node).struct_().data_word_count();
}

uint16_t StructSchema::pointer_count() const {
    return node_of(m_node).struct_().pointer_count();
}

bool StructSchema::is_group() const {
    return node_of(m_node).struct_().is_group();
}

uint16_t StructSchema::discriminant_count() const {
    return node_of(m_node).struct_().discriminant_count();
}

uint32_t StructSchema::discriminant_offset() const {
    return node_of(m_node).struct_().discriminant_offset();
}

bool StructSchema::discriminant_fits(uint16_t data_words) const {
    return discriminant_count() == 0 ||
           (uint64_t{discriminant_offset()} + 1) * 16 <= uint64_t{data_words} * 64;
}

uint32_t StructSchema::field_count() const {
    return node_of(m_node).struct_().fields().size();
}

Field StructSchema::field(uint32_t index) const {
    return Field(node_of(m_node).struct_().fields()[index].raw(), index);
}

Result<Field, SchemaError> StructSchema::find_field(std::string_view name) const {
    auto fields = node_of(m_node).struct_().fields();
    for (uint32_t i = 0; i < fields.size(); ++i) {
        if (fields[i].name() == name)
            return Field(fields[i].raw(), i);
    }
    return Err{SchemaError::NotFound};
}

Result<Field, SchemaError> StructSchema::union_member(uint16_t discriminant) const {
    auto fields = node_of(m_node).struct_().fields();
    for (uint32_t i = 0; i < fields.size(); ++i) {
        if (fields[i].discriminant_value() == discriminant)
            return Field(fields[i].raw(), i);
    }
    return Err{SchemaError::NotFound};
}

// ---------------------------------------------------------------------------
// EnumSchema

uint64_t EnumSchema::id() const {
    return node_of(m_node).id();
}

std::string_view EnumSchema::name() const {
    return qualified_name(node_of(m_node));
}

uint32_t EnumSchema::enumerant_count() const {
    return node_of(m_node).enum_().enumerants().size();
}

std::string_view EnumSchema::enumerant_name(uint16_t value) const {
    // Enumerants are listed in the order of their values.
    auto enumerants = node_of(m_node).enum_().enumerants();
    return value < enumerants.size() ? enumerants[value].name() : std::string_view();
}

Result<uint16_t, SchemaError> EnumSchema::find_enumerant(std::string_view name) const {
    auto enumerants = node_of(m_node).enum_().enumerants();
    // Values are 16 bits: a longer list's tail names nothing.
    uint32_t count = enumerants.size() < 0x10000 ? enumerants.size() : 0x10000;
    for (uint32_t i = 0; i < count; ++i) {
        if (enumerants[i].name() == name)
            return static_cast<uint16_t>(i);
    }
    return Err{SchemaError::NotFound};
}

// ---------------------------------------------------------------------------
// InterfaceSchema

uint64_t InterfaceSchema::id() const {
    return node_of(m_node).id();
}

std::string_view InterfaceSchema::name() const {
    return qualified_name(node_of(m_node));
}

uint32_t InterfaceSchema::method_count() const {
    uint32_t count = node_of(m_node).interface().methods().size();
    return count < 0x10000 ? count : 0x10000; // ordinals are 16 bits
}

MethodSchema InterfaceSchema::method(uint32_t index) const {
    // Methods are listed in the order of their ordinals.
    meta::Method::Reader method = node_of(m_node).interface().methods()[index];
    return MethodSchema{method.name(), id(), static_cast<uint16_t>(index),
                        method.param_struct_type(), method.result_struct_type()};
}

uint32_t InterfaceSchema::superclass_count() const {
    return node_of(m_node).interface().superclasses().size();
}

uint64_t InterfaceSchema::superclass_id(uint32_t index) const {
    return node_of(m_node).interface().superclasses()[index].id();
}

// ---------------------------------------------------------------------------
// SchemaSet

Result<SchemaSet, SchemaError> SchemaSet::create(std::span<const std::span<const Word>> segments) {
    uint64_t words = 0;
    for (std::span<const Word> segment : segments)
        words += segment.size();
    // Two walks, each within a budget linear in the request's size: every
    // pointer without a schema (the defaults' contents too), then every
    // pointer as schema.capnp types it (Text terminated, element sizes).
    MessageReader untyped(segments, ReaderLimits::for_message(words));
    if (validate(untyped) != WireError::None)
        return Err{SchemaError::Malformed};
    MessageReader typed(segments, ReaderLimits::for_message(words));
    if (gen::validate<meta::CodeGeneratorRequest>(typed) != WireError::None)
        return Err{SchemaError::Malformed};
    return SchemaSet(segments);
}

// Validated: every walk over the request is bounded by the paths it follows
// (nesting is limited, so there are no cycles), so lookups need no budget.
SchemaSet::SchemaSet(std::span<const std::span<const Word>> segments)
    : m_message(segments, ReaderLimits{UINT64_MAX, ReaderLimits{}.nesting}) {}

uint32_t SchemaSet::node_count() const {
    return gen::read_root<meta::CodeGeneratorRequest>(m_message).nodes().size();
}

Result<StructReader, SchemaError> SchemaSet::find_node(uint64_t id, uint16_t kind) const {
    auto nodes = gen::read_root<meta::CodeGeneratorRequest>(m_message).nodes();
    for (uint32_t i = 0; i < nodes.size(); ++i) {
        meta::Node::Reader node = nodes[i];
        if (node.id() != id)
            continue;
        if (static_cast<uint16_t>(node.which()) != kind)
            return Err{SchemaError::WrongKind};
        return node.raw();
    }
    return Err{SchemaError::NotFound};
}

Result<StructReader, SchemaError> SchemaSet::find_node(std::string_view name, uint16_t kind) const {
    auto nodes = gen::read_root<meta::CodeGeneratorRequest>(m_message).nodes();
    SchemaError error = SchemaError::NotFound;
    for (uint32_t i = 0; i < nodes.size(); ++i) {
        meta::Node::Reader node = nodes[i];
        if (qualified_name(node) != name)
            continue;
        if (static_cast<uint16_t>(node.which()) == kind)
            return node.raw();
        error = SchemaError::WrongKind;
    }
    return Err{error};
}

Result<StructSchema, SchemaError> SchemaSet::find_struct(uint64_t id) const {
    return StructSchema(TRY(find_node(id, static_cast<uint16_t>(meta::Node::Which::Struct))));
}

Result<EnumSchema, SchemaError> SchemaSet::find_enum(uint64_t id) const {
    return EnumSchema(TRY(find_node(id, static_cast<uint16_t>(meta::Node::Which::Enum))));
}

Result<InterfaceSchema, SchemaError> SchemaSet::find_interface(uint64_t id) const {
    return InterfaceSchema(TRY(find_node(id, static_cast<uint16_t>(meta::Node::Which::Interface))));
}

Result<StructSchema, SchemaError> SchemaSet::find_struct(std::string_view name) const {
    return StructSchema(TRY(find_node(name, static_cast<uint16_t>(meta::Node::Which::Struct))));
}

Result<InterfaceSchema, SchemaError> SchemaSet::find_interface(std::string_view name) const {
    return InterfaceSchema(
        TRY(find_node(name, static_cast<uint16_t>(meta::Node::Which::Interface))));
}

Result<MethodSchema, SchemaError> SchemaSet::find_method(const InterfaceSchema& interface,
                                                         std::string_view name) const {
    uint32_t budget = max_interfaces_searched;
    return find_method(interface, name, 0, budget);
}

Result<MethodSchema, SchemaError> SchemaSet::find_method(const InterfaceSchema& interface,
                                                         std::string_view name, uint32_t depth,
                                                         uint32_t& budget) const {
    if (budget == 0)
        return Err{SchemaError::NotFound};
    --budget;
    for (uint32_t i = 0; i < interface.method_count(); ++i) {
        MethodSchema method = interface.method(i);
        if (method.name == name)
            return method;
    }
    if (depth + 1 >= max_superclass_depth)
        return Err{SchemaError::NotFound};
    for (uint32_t i = 0; i < interface.superclass_count(); ++i) {
        auto superclass = find_interface(interface.superclass_id(i));
        if (superclass.is_error())
            continue;
        auto found = find_method(superclass.value(), name, depth + 1, budget);
        if (found.is_ok())
            return found;
    }
    return Err{SchemaError::NotFound};
}

} // namespace capos::capnp
