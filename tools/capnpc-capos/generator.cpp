// capnpc-capos's code generator (see generator.h and docs/schema.md).
//
// A file's header is assembled from sections so that C++ sees every declaration
// before it needs the type complete, whatever order the schema declares things in:
//   1. detail:      default values and constants, as constexpr words and bytes, and
//                   constexpr trusted MessageReaders over the words;
//   2. forward:     `struct X;` for every top-level struct and interface;
//   3. shells:      each struct, group, params/results struct and interface as a
//                   struct holding its ids and sizes, its enums (defined in place),
//                   its nested types (declared) and its scalar constants, outer
//                   scopes first;
//   4. classes:     the Reader and Builder class of every struct; accessors that
//                   only need wire.h are defined in place, the others declared;
//   5. definitions: the declared accessors, now that every class is complete;
//   6. constants:   top-level constants and nested enum/struct/list constants;
//   7. templates:   interface clients and server dispatch.
// Within a section, output follows the schema: nested nodes in declaration order,
// fields and methods in ordinal order. Nothing depends on time, paths or hashing.
#include "tools/capnpc-capos/generator.h"

#include "tools/capnpc-capos/names.h"
#include <algorithm>
#include <capnp/any.h>
#include <capnp/message.h>
#include <cstdio>
#include <cstring>
#include <functional>

namespace capnpc_capos {

using capnp::schema::Field;
using capnp::schema::Method;
using capnp::schema::Node;
using capnp::schema::Type;
using capnp::schema::Value;

namespace {

constexpr uint64_t stream_result_id = 0x995f9a3377c0b16eull; // /capnp/stream.capnp
constexpr uint16_t no_discriminant = 0xffff;
const std::string wire = "::capos::capnp::";
const std::string gen = "::capos::gen::";
const std::string cap_exception = "::capos::schema::CapException";
const std::string capos_namespace = "capos::schema";

std::string text(capnp::Text::Reader value) {
    return std::string(value.cStr(), value.size());
}

std::string id_suffix(uint64_t id) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(id));
    return buffer;
}

bool is_pointer_type(Type::Which which) {
    switch (which) {
    case Type::TEXT:
    case Type::DATA:
    case Type::LIST:
    case Type::STRUCT:
    case Type::INTERFACE:
    case Type::ANY_POINTER:
        return true;
    default:
        return false;
    }
}

// The C++ type of a scalar, and the integer type the wire library moves it as.
struct Scalar {
    const char* type;
    const char* bits;
    int width; // in bits
    bool is_signed;
    bool is_float;
};

bool scalar_of(Type::Which which, Scalar& scalar) {
    switch (which) {
    case Type::INT8:
        scalar = {"int8_t", "int8_t", 8, true, false};
        return true;
    case Type::INT16:
        scalar = {"int16_t", "int16_t", 16, true, false};
        return true;
    case Type::INT32:
        scalar = {"int32_t", "int32_t", 32, true, false};
        return true;
    case Type::INT64:
        scalar = {"int64_t", "int64_t", 64, true, false};
        return true;
    case Type::UINT8:
        scalar = {"uint8_t", "uint8_t", 8, false, false};
        return true;
    case Type::UINT16:
        scalar = {"uint16_t", "uint16_t", 16, false, false};
        return true;
    case Type::UINT32:
        scalar = {"uint32_t", "uint32_t", 32, false, false};
        return true;
    case Type::UINT64:
        scalar = {"uint64_t", "uint64_t", 64, false, false};
        return true;
    case Type::FLOAT32:
        scalar = {"float", "uint32_t", 32, false, true};
        return true;
    case Type::FLOAT64:
        scalar = {"double", "uint64_t", 64, false, true};
        return true;
    default:
        return false;
    }
}

std::string signed_literal(int64_t value, int width) {
    if (width == 64) {
        if (value == INT64_MIN)
            return "(-9223372036854775807ll - 1)";
        return std::to_string(value) + "ll";
    }
    if (width == 32 && value == INT32_MIN)
        return "(-2147483647 - 1)";
    return std::to_string(value);
}

std::string unsigned_literal(uint64_t value, int width) {
    if (width == 64)
        return std::to_string(value) + "ull";
    if (width == 32)
        return std::to_string(value) + "u";
    return std::to_string(value);
}

std::string bits_literal(uint64_t bits, int width) {
    char buffer[32];
    if (width == 64)
        std::snprintf(buffer, sizeof buffer, "0x%016llxull", static_cast<unsigned long long>(bits));
    else
        std::snprintf(buffer, sizeof buffer, "0x%08llxu", static_cast<unsigned long long>(bits));
    return buffer;
}

// A scalar value as it is written in C++ (floats bit-exact, NaNs included), and
// the same value as the raw bits the wire library's XOR mask takes ("" for zero).
struct ScalarValue {
    std::string literal;
    std::string mask;
};

ScalarValue scalar_value(Type::Which which, Value::Reader value) {
    uint64_t bits = 0;
    std::string literal;
    switch (which) {
    case Type::INT8:
        bits = static_cast<uint8_t>(value.getInt8());
        literal = signed_literal(value.getInt8(), 8);
        break;
    case Type::INT16:
        bits = static_cast<uint16_t>(value.getInt16());
        literal = signed_literal(value.getInt16(), 16);
        break;
    case Type::INT32:
        bits = static_cast<uint32_t>(value.getInt32());
        literal = signed_literal(value.getInt32(), 32);
        break;
    case Type::INT64:
        bits = static_cast<uint64_t>(value.getInt64());
        literal = signed_literal(value.getInt64(), 64);
        break;
    case Type::UINT8:
        bits = value.getUint8();
        literal = unsigned_literal(bits, 8);
        break;
    case Type::UINT16:
        bits = value.getUint16();
        literal = unsigned_literal(bits, 16);
        break;
    case Type::UINT32:
        bits = value.getUint32();
        literal = unsigned_literal(bits, 32);
        break;
    case Type::UINT64:
        bits = value.getUint64();
        literal = unsigned_literal(bits, 64);
        break;
    case Type::FLOAT32: {
        float f = value.getFloat32();
        uint32_t raw;
        std::memcpy(&raw, &f, sizeof raw);
        bits = raw;
        literal = "::std::bit_cast<float>(" + bits_literal(bits, 32) + ")";
        return {literal, bits == 0 ? "" : bits_literal(bits, 32)};
    }
    case Type::FLOAT64: {
        double f = value.getFloat64();
        std::memcpy(&bits, &f, sizeof bits);
        literal = "::std::bit_cast<double>(" + bits_literal(bits, 64) + ")";
        return {literal, bits == 0 ? "" : bits_literal(bits, 64)};
    }
    default:
        break;
    }
    return {literal, bits == 0 ? "" : literal};
}

std::string with_mask(const std::string& mask) {
    return mask.empty() ? "" : ", " + mask;
}

// `// text` lines for a doc comment, each line prefixed by `indent`.
std::string comment_lines(const std::string& doc, const std::string& indent) {
    std::string out;
    size_t start = 0;
    while (start < doc.size()) {
        size_t end = doc.find('\n', start);
        if (end == std::string::npos)
            end = doc.size();
        std::string line = doc.substr(start, end - start);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
            line.pop_back();
        if (!line.empty() && line.back() == '\\')
            line += '.'; // a trailing backslash would splice the next line into the comment
        out += indent + (line.empty() ? "//" : "// " + line) + "\n";
        start = end + 1;
    }
    return out;
}

// Names a struct's accessors must not reuse.
class NameSet {
public:
    explicit NameSet(std::string owner) : m_owner(std::move(owner)) {}
    bool add(const std::string& name, std::vector<std::string>& errors) {
        if (!m_names.insert(name).second) {
            errors.push_back(m_owner + ": generated name `" + name +
                             "` is used twice; rename a field or type in the schema");
            return false;
        }
        return true;
    }

private:
    std::string m_owner;
    std::set<std::string> m_names;
};

} // namespace

Generator::Generator(capnp::schema::CodeGeneratorRequest::Reader request) {
    for (auto node : request.getNodes())
        m_nodes.emplace(node.getId(), node);
    for (auto info : request.getSourceInfo())
        m_source_info.emplace(info.getId(), info);
    for (auto node : request.getNodes()) {
        if (!node.isFile())
            continue;
        std::string path = text(node.getDisplayName());
        while (!path.empty() && path[0] == '/')
            path.erase(0, 1);
        m_file_path[node.getId()] = path;
        m_file_namespace[node.getId()] = namespace_for_file(path);
        name_scope(node, "", node.getId());
    }
}

const Node::Reader* Generator::find_node(uint64_t id) {
    auto it = m_nodes.find(id);
    return it == m_nodes.end() ? nullptr : &it->second;
}

void Generator::assign_name(uint64_t id, const std::string& local, uint64_t file) {
    m_names[id] = NodeName{"::" + m_file_namespace[file] + "::" + local, local, file};
}

// Names every type below `node`: nested declarations by their schema name, groups
// by their field's name in PascalCase, implicit method params and results as
// `<Method>Params` and `<Method>Results` inside the interface.
void Generator::name_scope(Node::Reader node, const std::string& local, uint64_t file) {
    auto join = [&](const std::string& name) { return local.empty() ? name : local + "::" + name; };
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        if (child->isStruct() || child->isEnum() || child->isInterface()) {
            std::string name = join(text(nested.getName()));
            assign_name(child->getId(), name, file);
            name_scope(*child, name, file);
        }
    }
    if (node.isStruct()) {
        for (auto field : node.getStruct().getFields()) {
            if (!field.isGroup())
                continue;
            const Node::Reader* group = find_node(field.getGroup().getTypeId());
            if (group == nullptr)
                continue;
            std::string name = join(pascal_case(text(field.getName())));
            assign_name(group->getId(), name, file);
            name_scope(*group, name, file);
        }
    }
    if (node.isInterface()) {
        for (auto method : node.getInterface().getMethods()) {
            std::string base = pascal_case(text(method.getName()));
            for (auto [id, suffix] : {std::pair{method.getParamStructType(), "Params"},
                                      std::pair{method.getResultStructType(), "Results"}}) {
                const Node::Reader* implicit = find_node(id);
                if (implicit == nullptr || implicit->getScopeId() != 0)
                    continue;
                std::string name = join(base + suffix);
                assign_name(id, name, file);
                name_scope(*implicit, name, file);
            }
        }
    }
}

std::string Generator::type_name(uint64_t id) {
    if (id == stream_result_id)
        return gen + "StreamResult";
    auto it = m_names.find(id);
    if (it == m_names.end()) {
        error("no C++ name for node " + hex_u64(id) + " (a type from a file not in the request?)");
        return "void";
    }
    if (it->second.file != m_file)
        m_imported_files.insert(it->second.file);
    return it->second.qualified;
}

std::string Generator::doc_comment(uint64_t id, const std::string& indent) {
    auto it = m_source_info.find(id);
    if (it == m_source_info.end() || !it->second.hasDocComment())
        return "";
    return comment_lines(text(it->second.getDocComment()), indent);
}

std::string Generator::member_doc_comment(uint64_t id, uint32_t index, const std::string& indent) {
    auto it = m_source_info.find(id);
    if (it == m_source_info.end() || index >= it->second.getMembers().size())
        return "";
    auto member = it->second.getMembers()[index];
    if (!member.hasDocComment())
        return "";
    return comment_lines(text(member.getDocComment()), indent);
}

std::string Generator::list_type(Type::Reader element) {
    Scalar scalar;
    if (scalar_of(element.which(), scalar))
        return gen + "PrimitiveList<" + scalar.type + ">";
    switch (element.which()) {
    case Type::VOID:
        return gen + "VoidList";
    case Type::BOOL:
        return gen + "BoolList";
    case Type::TEXT:
        return gen + "TextList";
    case Type::DATA:
        return gen + "DataList";
    case Type::LIST:
        return gen + "ListList<" + list_type(element.getList().getElementType()) + ">";
    case Type::ENUM:
        return gen + "EnumList<" + type_name(element.getEnum().getTypeId()) + ">";
    case Type::STRUCT:
        return gen + "StructList<" + type_name(element.getStruct().getTypeId()) + ">";
    case Type::INTERFACE:
        return gen + "CapabilityList";
    case Type::ANY_POINTER: {
        auto any = element.getAnyPointer();
        if (any.isUnconstrained() && any.getUnconstrained().isCapability())
            return gen + "CapabilityList";
        return gen + "PointerList";
    }
    default:
        break;
    }
    error("unsupported list element type");
    return gen + "PointerList";
}

// The C++ type a constant or a simple client parameter has.
std::string Generator::cpp_type(Type::Reader type) {
    Scalar scalar;
    if (scalar_of(type.which(), scalar))
        return scalar.type;
    switch (type.which()) {
    case Type::BOOL:
        return "bool";
    case Type::TEXT:
        return "::std::string_view";
    case Type::DATA:
        return "::std::span<const uint8_t>";
    case Type::ENUM:
        return type_name(type.getEnum().getTypeId());
    case Type::STRUCT:
        return type_name(type.getStruct().getTypeId()) + "::Reader";
    case Type::LIST:
        return list_type(type.getList().getElementType()) + "::Reader";
    case Type::INTERFACE:
        return "uint32_t";
    default:
        return "";
    }
}

std::string Generator::enumerant_value(uint64_t enum_id, uint16_t value) {
    std::string type = type_name(enum_id);
    const Node::Reader* node = find_node(enum_id);
    if (node != nullptr && node->isEnum() && value < node->getEnum().getEnumerants().size())
        return type + "::" + pascal_case(text(node->getEnum().getEnumerants()[value].getName()));
    return "static_cast<" + type + ">(" + std::to_string(value) + ")";
}

// Copies a pointer value (a default or a constant) into a single-segment message
// whose root pointer is the value, emits its words as `detail::<array_name>` and
// a trusted reader over them as `detail::<array_name>_message`, and returns the
// reader's qualified name. Both are `inline constexpr`: constant-initialized, one
// per program, no constructor and no initialization guard (the kernel has no
// global constructors), and shared read-only by every CPU.
std::string Generator::encode_message(const std::string& array_name,
                                      capnp::AnyPointer::Reader value) {
    std::vector<uint64_t> words;
    auto append = [&](kj::ArrayPtr<const capnp::word> segment) {
        for (const auto& word : segment) {
            uint64_t raw;
            std::memcpy(&raw, &word, sizeof raw);
            words.push_back(raw);
        }
    };
    if (value.getPointerType() == capnp::PointerType::STRUCT) {
        // Structs in canonical form: the smallest encoding, as libcapnp writes it.
        kj::Array<capnp::word> canonical = value.getAs<capnp::AnyStruct>().canonicalize();
        append(canonical.asPtr());
    } else {
        auto size = value.targetSize();
        capnp::MallocMessageBuilder builder(size.wordCount + 1,
                                            capnp::AllocationStrategy::FIXED_SIZE);
        builder.getRoot<capnp::AnyPointer>().set(value);
        auto segments = builder.getSegmentsForOutput();
        if (segments.size() != 1)
            error("value for " + array_name + " does not fit one segment");
        else
            append(segments[0]);
    }
    std::string out = "inline constexpr " + wire + "Word " + array_name + "[] = {\n";
    for (size_t i = 0; i < words.size(); ++i)
        out += "    " + hex_u64(words[i]) + ",\n";
    out += "};\n";
    out += "inline constexpr " + wire + "MessageReader " + array_name + "_message = " + wire +
           "MessageReader::trusted(" + array_name + ");\n";
    m_detail += out;
    return "::" + m_namespace + "::detail::" + array_name + "_message";
}

std::string Generator::encode_bytes(const std::string& array_name, capnp::Data::Reader bytes) {
    std::string out = "inline constexpr uint8_t " + array_name + "[] = {";
    for (size_t i = 0; i < bytes.size(); ++i)
        out += (i == 0 ? "" : ", ") + std::to_string(bytes[i]);
    if (bytes.size() == 0)
        out += "0"; // no empty arrays in C++; the span below takes size 0
    out += "};\n";
    m_detail += out;
    return "::" + m_namespace + "::detail::" + array_name;
}

GeneratedFile Generator::generate(capnp::schema::CodeGeneratorRequest::RequestedFile::Reader file) {
    m_file = file.getId();
    m_namespace = m_file_namespace[m_file];
    m_imported_files.clear();
    m_detail.clear();

    Output out;
    const Node::Reader* file_node = find_node(m_file);
    bool has_interfaces = false;
    if (file_node == nullptr) {
        error("requested file " + text(file.getFilename()) + " has no node");
    } else {
        emit_scope(*file_node, out);
        for (auto& [id, name] : m_names) {
            const Node::Reader* node = find_node(id);
            if (name.file == m_file && node != nullptr && node->isInterface())
                has_interfaces = true;
        }
    }

    const std::string& path = m_file_path[m_file];
    std::string header;
    header += "// Generated by capnpc-capos from " + path +
              ". Do not edit: change the schema and rebuild\n"
              "// (docs/schema.md says what each construct becomes).\n"
              "#pragma once\n\n"
              "#include \"lib/base/result.h\"\n"
              "#include \"lib/capnp/wire.h\"\n";
    if (has_interfaces && m_namespace != capos_namespace)
        header += "#include \"schema/capos.capnp.capos.h\"\n";
    header += "#include \"lib/rpc/lists.h\"\n";
    if (has_interfaces)
        header += "#include \"lib/rpc/rpc.h\"\n";
    std::set<std::string> imports;
    for (uint64_t imported : m_imported_files)
        imports.insert(m_file_path[imported] + ".capos.h");
    for (const std::string& import : imports)
        header += "#include \"" + import + "\"\n";
    header += "#include <bit>\n#include <concepts>\n#include <cstdint>\n#include <span>\n"
              "#include <string_view>\n\n";
    header += "namespace " + m_namespace + " {\n\n";
    if (!m_detail.empty())
        header += "// Default values and constants, as trusted messages and bytes.\n"
                  "namespace detail {\n" +
                  m_detail + "} // namespace detail\n\n";
    if (!out.forward.empty())
        header += out.forward + "\n";
    header += out.shells;
    header += out.classes;
    header += out.definitions;
    header += out.constants;
    header += out.templates;
    if (has_interfaces)
        header += interface_table();
    header += "} // namespace " + m_namespace + "\n";
    return GeneratedFile{path + ".capos.h", header};
}

std::string Generator::interface_table() {
    std::vector<std::pair<std::string, uint64_t>> interfaces;
    for (auto& [id, name] : m_names) {
        const Node::Reader* node = find_node(id);
        if (name.file != m_file || node == nullptr || !node->isInterface())
            continue;
        // "file.capnp:Outer.Inner": the name after the file's.
        std::string display = text(node->getDisplayName());
        interfaces.emplace_back(display.substr(display.find(':') + 1), id);
    }
    std::sort(interfaces.begin(), interfaces.end());
    std::string table = "// Every interface of this file, sorted by name: its id and schema name.\n"
                        "inline constexpr capos::gen::InterfaceName interfaces[] = {\n";
    for (auto& [name, id] : interfaces)
        table += "    {" + hex_u64(id) + ", \"" + name + "\"},\n";
    table += "};\n\n";

    std::vector<std::pair<uint64_t, uint64_t>> ancestry;
    for (auto& [name, id] : interfaces)
        for (uint64_t ancestor : ancestors_of(id))
            ancestry.emplace_back(id, ancestor);
    std::sort(ancestry.begin(), ancestry.end());
    table += "// Every interface of this file that extends another, directly or not, with\n"
             "// each interface it extends, sorted by id: the one table capability checks\n"
             "// use (InterfaceAncestry, below).\n";
    if (ancestry.empty()) {
        table += "inline constexpr ::std::span<const capos::gen::InterfaceAncestor> "
                 "interface_ancestors{};\n\n";
    } else {
        table += "inline constexpr capos::gen::InterfaceAncestor interface_ancestors[] = {\n";
        for (auto& [id, ancestor] : ancestry)
            table += "    {" + hex_u64(id) + ", " + hex_u64(ancestor) + "},\n";
        table += "};\n\n";
    }
    table += "// Whether an interface of this file extends `ancestor` (as lib/cap's CapTable\n"
             "// takes it: a capability of `interface_id` answers calls in `ancestor` too).\n"
             "struct InterfaceAncestry {\n"
             "    static constexpr bool extends(uint64_t interface_id, uint64_t ancestor) {\n"
             "        return capos::gen::extends(interface_ancestors, interface_id, ancestor);\n"
             "    }\n"
             "};\n\n";
    return table;
}

void Generator::emit_scope(Node::Reader node, Output& out) {
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        switch (child->which()) {
        case Node::STRUCT:
        case Node::INTERFACE:
            out.forward += "struct " + m_names[child->getId()].local + ";\n";
            break;
        default:
            break;
        }
    }
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        switch (child->which()) {
        case Node::STRUCT:
            emit_struct(*child, out);
            break;
        case Node::INTERFACE:
            emit_interface(*child, out);
            break;
        case Node::ENUM:
            emit_enum(*child, out.shells, false);
            break;
        case Node::CONST: {
            std::string unused;
            emit_const(*child, text(nested.getName()), nullptr, unused, out);
            break;
        }
        default:
            break;
        }
    }
}

void Generator::emit_enum(Node::Reader node, std::string& where, bool nested) {
    const NodeName& name = m_names[node.getId()];
    std::string indent = nested ? "    " : "";
    size_t colon = name.local.rfind(':');
    std::string simple = colon == std::string::npos ? name.local : name.local.substr(colon + 1);
    std::string out = doc_comment(node.getId(), indent);
    out += indent + "enum class " + simple + " : uint16_t {\n";
    auto enumerants = node.getEnum().getEnumerants();
    for (uint32_t i = 0; i < enumerants.size(); ++i) {
        out += member_doc_comment(node.getId(), i, indent + "    ");
        out += indent + "    " + pascal_case(text(enumerants[i].getName())) + " = " +
               std::to_string(i) + ",\n";
    }
    out += indent + "};\n";
    // Free functions found by argument-dependent lookup (hidden friends for a
    // nested enum), so that code generic over enums needs no table of its own:
    // whether a value read from a message is one the schema names, how many
    // values it names, and each value's schema name.
    const std::string function = nested ? "friend constexpr " : "inline constexpr ";
    const std::string count = std::to_string(enumerants.size());
    std::string body = enumerants.size() == 0
                           ? "{\n" + indent + "    (void)value;\n" + indent +
                                 "    return false;\n" + indent + "}\n"
                           : "{ return static_cast<uint16_t>(value) < " + count + "; }\n";
    out += indent + function + "bool is_known(" + simple + " value) " + body;
    out +=
        indent + function + "uint16_t enumerant_count(" + simple + ") { return " + count + "; }\n";
    // The name as the schema spells it ("blueViolet"); empty for a value the
    // schema does not name.
    out += indent + function + "::std::string_view enumerant_name(" + simple + " value) {\n";
    if (enumerants.size() != 0) {
        out += indent + "    switch (value) {\n";
        for (uint32_t i = 0; i < enumerants.size(); ++i) {
            out += indent + "    case " + simple +
                   "::" + pascal_case(text(enumerants[i].getName())) + ":\n";
            out +=
                indent + "        return " + string_literal(text(enumerants[i].getName())) + ";\n";
        }
        out += indent + "    }\n";
    } else {
        out += indent + "    (void)value;\n";
    }
    out += indent + "    return {};\n" + indent + "}\n";
    where += out + (nested ? "" : "\n");
}

// Declarations of a scope's nested types, enum definitions and constants, inside
// its shell.
void Generator::emit_nested_declarations(Node::Reader node, std::string& shell) {
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        if (child->isStruct() || child->isInterface())
            shell += "    struct " + text(nested.getName()) + ";\n";
        else if (child->isEnum())
            emit_enum(*child, shell, true);
    }
}

void Generator::emit_const(Node::Reader node, const std::string& schema_name, const NodeName* scope,
                           std::string& shell, Output& out) {
    std::string name = escape_keyword(snake_case(schema_name));
    auto type = node.getConst().getType();
    auto value = node.getConst().getValue();
    std::string doc = doc_comment(node.getId(), scope ? "    " : "");
    std::string qualified_prefix = scope ? scope->local + "::" : "";
    // Scalars and strings are constexpr variables; struct and list constants are
    // functions returning a reader of a trusted message.
    auto variable = [&](const std::string& cpp, const std::string& init) {
        if (scope)
            shell += doc + "    static constexpr " + cpp + " " + name + " = " + init + ";\n";
        else
            out.constants += doc + "inline constexpr " + cpp + " " + name + " = " + init + ";\n\n";
    };
    Scalar scalar;
    if (scalar_of(type.which(), scalar)) {
        variable(scalar.type, scalar_value(type.which(), value).literal);
        return;
    }
    switch (type.which()) {
    case Type::VOID:
        return; // nothing to hold
    case Type::BOOL:
        variable("bool", value.getBool() ? "true" : "false");
        return;
    case Type::ENUM: {
        std::string enum_type = type_name(type.getEnum().getTypeId());
        std::string init = enumerant_value(type.getEnum().getTypeId(), value.getEnum());
        if (scope) {
            // Defined after every shell: the enum may be declared further down.
            shell += doc + "    static const " + enum_type + " " + name + ";\n";
            out.constants += "inline constexpr " + enum_type + " " + qualified_prefix + name +
                             " = " + init + ";\n\n";
        } else {
            out.constants +=
                doc + "inline constexpr " + enum_type + " " + name + " = " + init + ";\n\n";
        }
        return;
    }
    case Type::TEXT: {
        std::string bytes = text(value.getText());
        variable("::std::string_view",
                 "{" + string_literal(bytes) + ", " + std::to_string(bytes.size()) + "}");
        return;
    }
    case Type::DATA: {
        auto bytes = value.getData();
        std::string array = encode_bytes("const_" + id_suffix(node.getId()), bytes);
        variable("::std::span<const uint8_t>",
                 "{" + array + ", " + std::to_string(bytes.size()) + "}");
        return;
    }
    case Type::STRUCT:
    case Type::LIST: {
        bool is_struct = type.isStruct();
        std::string message = encode_message("const_" + id_suffix(node.getId()),
                                             is_struct ? value.getStruct() : value.getList());
        std::string reader = cpp_type(type);
        std::string body = is_struct ? "return " + reader + "(" + message + ".root());"
                                     : "return " + list_type(type.getList().getElementType()) +
                                           "::read(" + message + ".root_pointer());";
        if (scope) {
            // `auto`: the value's type may not be complete yet at this point.
            shell += doc + "    // Returns " + reader + ".\n    static auto " + name + "();\n";
            out.constants +=
                "inline auto " + qualified_prefix + name + "() {\n    " + body + "\n}\n\n";
        } else {
            out.constants +=
                doc + "inline " + reader + " " + name + "() {\n    " + body + "\n}\n\n";
        }
        return;
    }
    default:
        error("constant " + text(node.getDisplayName()) + ": unsupported type");
        return;
    }
}

void Generator::emit_struct(Node::Reader node, Output& out) {
    const uint64_t id = node.getId();
    const NodeName name = m_names[id];
    auto st = node.getStruct();
    const bool has_union = st.getDiscriminantCount() > 0;
    const std::string disc_offset = std::to_string(st.getDiscriminantOffset());
    const std::string R = name.local + "::Reader";
    const std::string B = name.local + "::Builder";

    // ---- Shell.
    std::string shell = doc_comment(id, "");
    shell += "struct " + name.local + " {\n";
    shell += "    static constexpr uint64_t type_id = " + hex_u64(id) + ";\n";
    shell += "    static constexpr uint16_t data_words = " + std::to_string(st.getDataWordCount()) +
             ";\n";
    shell +=
        "    static constexpr uint16_t pointer_count = " + std::to_string(st.getPointerCount()) +
        ";\n";
    NameSet shell_names(text(node.getDisplayName()));
    for (const char* reserved : {"type_id", "data_words", "pointer_count", "Reader", "Builder"})
        shell_names.add(reserved, m_errors);

    struct UnionMember {
        std::string pascal;
        uint16_t value;
        std::string traverse;
    };
    std::vector<UnionMember> members;
    auto fields = st.getFields();
    if (has_union) {
        shell_names.add("Which", m_errors);
        shell += "    // Which member of the union is set.\n";
        shell += "    enum class Which : uint16_t {\n";
        std::vector<std::pair<uint16_t, std::string>> enumerators;
        for (auto field : fields) {
            if (field.getDiscriminantValue() != no_discriminant)
                enumerators.emplace_back(field.getDiscriminantValue(),
                                         pascal_case(text(field.getName())));
        }
        std::sort(enumerators.begin(), enumerators.end());
        for (auto& [value, enumerator] : enumerators)
            shell += "        " + enumerator + " = " + std::to_string(value) + ",\n";
        shell += "    };\n";
    }
    emit_nested_declarations(node, shell);
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child != nullptr && !child->isConst())
            shell_names.add(text(nested.getName()), m_errors);
    }
    for (auto field : fields) {
        if (field.isGroup()) {
            std::string group = pascal_case(text(field.getName()));
            shell_names.add(group, m_errors);
            shell += "    struct " + group + ";\n";
        }
    }
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child != nullptr && child->isConst()) {
            shell_names.add(escape_keyword(snake_case(text(nested.getName()))), m_errors);
            emit_const(*child, text(nested.getName()), &name, shell, out);
        }
    }
    shell += "    class Reader;\n    class Builder;\n};\n\n";
    out.shells += shell;

    // ---- Accessors.
    std::string reader, builder, definitions, traverse;
    NameSet reader_names{R};
    NameSet builder_names{B};
    for (const char* reserved : {"raw", "traverse"})
        reader_names.add(reserved, m_errors);
    for (const char* reserved : {"raw", "as_reader", "is_null"})
        builder_names.add(reserved, m_errors);
    if (has_union) {
        reader_names.add("which", m_errors);
        builder_names.add("which", m_errors);
        std::string which = "    Which which() const { return static_cast<Which>(m_raw.data_field<"
                            "uint16_t>(" +
                            disc_offset + ")); }\n";
        reader += which;
        builder += which;
    }

    // Zeroes a group's fields (and its union's discriminant), for init_<group>().
    std::function<std::string(const Node::Reader&)> clear_group = [&](const Node::Reader& group) {
        std::string body;
        auto gs = group.getStruct();
        if (gs.getDiscriminantCount() > 0)
            body += "    m_raw.set_data_field<uint16_t>(" +
                    std::to_string(gs.getDiscriminantOffset()) + ", 0);\n";
        for (auto field : gs.getFields()) {
            if (field.isGroup()) {
                const Node::Reader* inner = find_node(field.getGroup().getTypeId());
                if (inner != nullptr)
                    body += clear_group(*inner);
                continue;
            }
            auto slot = field.getSlot();
            std::string offset = std::to_string(slot.getOffset());
            Scalar scalar;
            if (scalar_of(slot.getType().which(), scalar))
                body += "    m_raw.set_data_field<" + std::string(scalar.bits) + ">(" + offset +
                        ", 0);\n";
            else if (slot.getType().isBool())
                body += "    m_raw.set_bool_field(" + offset + ", false);\n";
            else if (slot.getType().isEnum())
                body += "    m_raw.set_data_field<uint16_t>(" + offset + ", 0);\n";
            else if (is_pointer_type(slot.getType().which()))
                body += "    m_raw.pointer_field(" + offset + ").clear();\n";
        }
        return body;
    };

    for (uint32_t index = 0; index < fields.size(); ++index) {
        auto field = fields[index];
        const std::string raw_name = snake_case(text(field.getName()));
        const std::string accessor = escape_keyword(raw_name);
        const std::string pascal = pascal_case(text(field.getName()));
        const bool in_union = field.getDiscriminantValue() != no_discriminant;
        const std::string set_discriminant =
            in_union ? "m_raw.set_data_field<uint16_t>(" + disc_offset + ", " +
                           std::to_string(field.getDiscriminantValue()) + "); "
                     : "";
        const std::string doc = member_doc_comment(id, index, "    ");
        std::string trav; // how traverse() visits this field, if at all

        auto add_both = [&](const std::string& member) {
            reader_names.add(member, m_errors);
            builder_names.add(member, m_errors);
        };
        reader += doc;
        if (in_union) {
            add_both("is_" + raw_name);
            std::string is = "    bool is_" + raw_name +
                             "() const { return which() == Which::" + pascal + "; }\n";
            reader += is;
            builder += is;
        }

        if (field.isGroup()) {
            const std::string group = type_name(field.getGroup().getTypeId());
            add_both(accessor);
            reader += "    " + group + "::Reader " + accessor + "() const;\n";
            definitions += "inline " + group + "::Reader " + R + "::" + accessor +
                           "() const { return " + group + "::Reader(m_raw); }\n";
            builder += "    " + group + "::Builder " + accessor + "();\n";
            definitions += "inline " + group + "::Builder " + B + "::" + accessor + "() { return " +
                           group + "::Builder(m_raw); }\n";
            if (in_union) {
                builder_names.add("init_" + raw_name, m_errors);
                builder += "    " + group + "::Builder init_" + raw_name + "();\n";
                const Node::Reader* group_node = find_node(field.getGroup().getTypeId());
                definitions += "inline " + group + "::Builder " + B + "::init_" + raw_name +
                               "() {\n    " + set_discriminant + "\n" +
                               (group_node ? clear_group(*group_node) : "") + "    return " +
                               group + "::Builder(m_raw);\n}\n";
            }
            trav = accessor + "().traverse();";
        } else {
            auto slot = field.getSlot();
            auto type = slot.getType();
            auto value = slot.getDefaultValue();
            const std::string offset = std::to_string(slot.getOffset());
            const std::string pointer = "m_raw.pointer_field(" + offset + ")";
            const std::string default_array = "default_" + id_suffix(id) + "_" + raw_name;
            Scalar scalar;
            if (is_pointer_type(type.which())) {
                add_both("has_" + raw_name);
                reader += "    bool has_" + raw_name + "() const { return !" + pointer +
                          ".is_null(); }\n";
                builder += "    bool has_" + raw_name + "() const { return !m_raw.as_reader()." +
                           pointer.substr(6) + ".is_null(); }\n";
            }
            if (scalar_of(type.which(), scalar)) {
                ScalarValue def = scalar_value(type.which(), value);
                std::string get, set;
                if (scalar.is_float) {
                    get = "::std::bit_cast<" + std::string(scalar.type) + ">(m_raw.data_field<" +
                          scalar.bits + ">(" + offset + with_mask(def.mask) + "))";
                    set = "m_raw.set_data_field<" + std::string(scalar.bits) + ">(" + offset +
                          ", ::std::bit_cast<" + scalar.bits + ">(value)" + with_mask(def.mask) +
                          ");";
                } else {
                    get = "m_raw.data_field<" + std::string(scalar.type) + ">(" + offset +
                          with_mask(def.mask) + ")";
                    set = "m_raw.set_data_field<" + std::string(scalar.type) + ">(" + offset +
                          ", value" + with_mask(def.mask) + ");";
                }
                add_both(accessor);
                builder_names.add("set_" + raw_name, m_errors);
                std::string getter = "    " + std::string(scalar.type) + " " + accessor +
                                     "() const { return " + get + "; }\n";
                reader += getter;
                builder += getter;
                builder += "    void set_" + raw_name + "(" + scalar.type + " value) { " +
                           set_discriminant + set + " }\n";
            } else {
                switch (type.which()) {
                case Type::VOID:
                    if (in_union) {
                        builder_names.add("set_" + raw_name, m_errors);
                        builder += "    void set_" + raw_name + "() { " + set_discriminant + "}\n";
                    }
                    break;
                case Type::BOOL: {
                    std::string mask = value.getBool() ? ", true" : "";
                    add_both(accessor);
                    builder_names.add("set_" + raw_name, m_errors);
                    std::string getter = "    bool " + accessor +
                                         "() const { return m_raw.bool_field(" + offset + mask +
                                         "); }\n";
                    reader += getter;
                    builder += getter;
                    builder += "    void set_" + raw_name + "(bool value) { " + set_discriminant +
                               "m_raw.set_bool_field(" + offset + ", value" + mask + "); }\n";
                    break;
                }
                case Type::ENUM: {
                    std::string enum_type = type_name(type.getEnum().getTypeId());
                    std::string mask =
                        value.getEnum() == 0 ? "" : ", " + std::to_string(value.getEnum());
                    add_both(accessor);
                    builder_names.add("set_" + raw_name, m_errors);
                    std::string getter =
                        "    " + enum_type + " " + accessor + "() const { return static_cast<" +
                        enum_type + ">(m_raw.data_field<uint16_t>(" + offset + mask + ")); }\n";
                    reader += getter;
                    builder += getter;
                    builder += "    void set_" + raw_name + "(" + enum_type + " value) { " +
                               set_discriminant + "m_raw.set_data_field<uint16_t>(" + offset +
                               ", static_cast<uint16_t>(value)" + mask + "); }\n";
                    break;
                }
                case Type::TEXT: {
                    std::string def;
                    if (value.hasText()) {
                        std::string bytes = text(value.getText());
                        def = "::std::string_view(" + string_literal(bytes) + ", " +
                              std::to_string(bytes.size()) + ")";
                    }
                    add_both(accessor);
                    builder_names.add("set_" + raw_name, m_errors);
                    reader += "    ::std::string_view " + accessor + "() const { return " +
                              pointer + ".get_text(" + def + ").view(); }\n";
                    builder += "    void set_" + raw_name + "(::std::string_view value) { " +
                               set_discriminant + pointer + ".set_text(value); }\n";
                    trav = "(void)" + accessor + "();";
                    break;
                }
                case Type::DATA: {
                    std::string def;
                    if (value.hasData()) {
                        auto bytes = value.getData();
                        def = "::std::span<const uint8_t>(" + encode_bytes(default_array, bytes) +
                              ", " + std::to_string(bytes.size()) + ")";
                    }
                    add_both(accessor);
                    builder_names.add("set_" + raw_name, m_errors);
                    builder_names.add("init_" + raw_name, m_errors);
                    reader += "    ::std::span<const uint8_t> " + accessor + "() const { return " +
                              pointer + ".get_data(" + def + "); }\n";
                    builder += "    void set_" + raw_name +
                               "(::std::span<const uint8_t> value) { " + set_discriminant +
                               pointer + ".set_data(value); }\n";
                    builder += "    ::std::span<uint8_t> init_" + raw_name + "(uint32_t size) { " +
                               set_discriminant + "return " + pointer + ".init_list(" + wire +
                               "ElementSize::Byte, size).bytes(); }\n";
                    // The bytes not zeroed: the caller writes every one.
                    builder_names.add("fill_" + raw_name, m_errors);
                    builder += "    ::std::span<uint8_t> fill_" + raw_name + "(uint32_t size) { " +
                               set_discriminant + "return " + pointer +
                               ".init_data_unzeroed(size); }\n";
                    trav = "(void)" + accessor + "();";
                    break;
                }
                case Type::STRUCT: {
                    std::string target = type_name(type.getStruct().getTypeId());
                    std::string def;
                    if (value.hasStruct())
                        def = "&" + encode_message(default_array, value.getStruct());
                    add_both(accessor);
                    builder_names.add("set_" + raw_name, m_errors);
                    builder_names.add("init_" + raw_name, m_errors);
                    reader += "    " + target + "::Reader " + accessor + "() const;\n";
                    definitions += "inline " + target + "::Reader " + R + "::" + accessor +
                                   "() const { return " + target + "::Reader(" + pointer +
                                   ".get_struct(" + def + ")); }\n";
                    builder += "    " + target + "::Builder init_" + raw_name + "();\n";
                    builder += "    void set_" + raw_name + "(" + target + "::Reader value);\n";
                    definitions += "inline " + target + "::Builder " + B + "::init_" + raw_name +
                                   "() { " + set_discriminant + "return " + target + "::Builder(" +
                                   pointer + ".init_struct(" + target + "::data_words, " + target +
                                   "::pointer_count)); }\n";
                    definitions += "inline void " + B + "::set_" + raw_name + "(" + target +
                                   "::Reader value) { " + set_discriminant + pointer +
                                   ".set_struct(value.raw()); }\n";
                    trav = "if (has_" + raw_name + "()) " + accessor + "().traverse();";
                    break;
                }
                case Type::LIST: {
                    std::string list = list_type(type.getList().getElementType());
                    std::string def;
                    if (value.hasList())
                        def = ", &" + encode_message(default_array, value.getList());
                    add_both(accessor);
                    builder_names.add("set_" + raw_name, m_errors);
                    builder_names.add("init_" + raw_name, m_errors);
                    reader += "    " + list + "::Reader " + accessor + "() const;\n";
                    definitions += "inline " + list + "::Reader " + R + "::" + accessor +
                                   "() const { return " + list + "::read(" + pointer + def +
                                   "); }\n";
                    builder += "    " + list + "::Builder init_" + raw_name + "(uint32_t count);\n";
                    builder += "    void set_" + raw_name + "(" + list + "::Reader value);\n";
                    definitions += "inline " + list + "::Builder " + B + "::init_" + raw_name +
                                   "(uint32_t count) { " + set_discriminant + "return " + list +
                                   "::init(" + pointer + ", count); }\n";
                    definitions += "inline void " + B + "::set_" + raw_name + "(" + list +
                                   "::Reader value) { " + set_discriminant + pointer +
                                   ".set_list(value.raw()); }\n";
                    trav = "if (has_" + raw_name + "()) " + accessor + "().traverse();";
                    break;
                }
                case Type::INTERFACE:
                case Type::ANY_POINTER: {
                    bool capability = type.isInterface() ||
                                      (type.getAnyPointer().isUnconstrained() &&
                                       type.getAnyPointer().getUnconstrained().isCapability());
                    add_both(accessor);
                    if (capability) {
                        builder_names.add("set_" + raw_name, m_errors);
                        reader += "    uint32_t " + accessor + "() const { return " + pointer +
                                  ".capability_index(); }\n";
                        builder += "    void set_" + raw_name + "(uint32_t capability) { " +
                                   set_discriminant + pointer + ".set_capability(capability); }\n";
                        trav = "(void)" + accessor + "();";
                    } else {
                        reader += "    " + wire + "PointerReader " + accessor +
                                  "() const { return " + pointer + "; }\n";
                        builder += "    " + wire + "PointerBuilder " + accessor + "() { " +
                                   set_discriminant + "return " + pointer + "; }\n";
                    }
                    break;
                }
                default:
                    error(text(node.getDisplayName()) + "." + text(field.getName()) +
                          ": unsupported field type");
                    break;
                }
            }
        }
        if (!in_union && field.isSlot() && field.getSlot().getType().isVoid())
            reader.resize(reader.size() - doc.size()); // nothing to document
        if (in_union)
            members.push_back({pascal, field.getDiscriminantValue(), trav});
        else if (!trav.empty())
            traverse += "    " + trav + "\n";
    }

    bool union_traverse = false;
    for (auto& member : members)
        union_traverse = union_traverse || !member.traverse.empty();
    if (union_traverse) {
        traverse += "    switch (which()) {\n";
        for (auto& member : members) {
            if (!member.traverse.empty())
                traverse += "    case Which::" + member.pascal + ":\n        " + member.traverse +
                            "\n        break;\n";
        }
        traverse += "    default:\n        break;\n    }\n";
    }

    // ---- Classes.
    std::string classes;
    classes += "class " + R + " {\npublic:\n";
    classes += "    Reader() = default;\n";
    classes += "    explicit Reader(" + wire + "StructReader raw) : m_raw(raw) {}\n";
    classes += "    " + wire + "StructReader raw() const { return m_raw; }\n";
    classes += "    // Reads every pointer below this struct (the active union member only), so\n"
               "    // that a malformed message records its error: see " +
               gen + "validate.\n";
    classes += "    void traverse() const;\n\n";
    classes += reader;
    classes += "\nprivate:\n    " + wire + "StructReader m_raw;\n};\n\n";
    classes += "class " + B + " {\npublic:\n";
    classes += "    Builder() = default;\n";
    classes += "    explicit Builder(" + wire + "StructBuilder raw) : m_raw(raw) {}\n";
    classes += "    " + wire + "StructBuilder raw() const { return m_raw; }\n";
    classes += "    bool is_null() const { return m_raw.is_null(); }\n";
    classes += "    Reader as_reader() const { return Reader(m_raw.as_reader()); }\n\n";
    classes += builder;
    classes += "\nprivate:\n    " + wire + "StructBuilder m_raw;\n};\n\n";
    out.classes += classes;

    if (traverse.empty())
        out.definitions += "inline void " + R + "::traverse() const {}\n";
    else
        out.definitions += "inline void " + R + "::traverse() const {\n" + traverse + "}\n";
    out.definitions += definitions + "\n";

    // ---- Nested types, after this shell.
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        if (child->isStruct())
            emit_struct(*child, out);
        else if (child->isInterface())
            emit_interface(*child, out);
    }
    for (auto field : fields) {
        if (!field.isGroup())
            continue;
        const Node::Reader* group = find_node(field.getGroup().getTypeId());
        if (group != nullptr)
            emit_struct(*group, out);
    }
}

std::vector<uint64_t> Generator::ancestors_of(uint64_t id) {
    std::vector<uint64_t> order;
    std::set<uint64_t> seen{id};
    // Depth first, in the order the schema lists superclasses: each ancestor once
    // (a diamond's top is listed where it is first reached).
    auto visit = [&](auto& self, uint64_t interface) -> void {
        const Node::Reader* node = find_node(interface);
        if (node == nullptr || !node->isInterface())
            return;
        for (auto superclass : node->getInterface().getSuperclasses()) {
            if (!seen.insert(superclass.getId()).second)
                continue;
            if (find_node(superclass.getId()) == nullptr) {
                error(text(node->getDisplayName()) + ": superclass " + hex_u64(superclass.getId()) +
                      " is not in the request");
                continue;
            }
            order.push_back(superclass.getId());
            self(self, superclass.getId());
        }
    };
    visit(visit, id);
    return order;
}

void Generator::emit_interface(Node::Reader node, Output& out) {
    const uint64_t id = node.getId();
    const NodeName name = m_names[id];
    auto methods = node.getInterface().getMethods();

    struct MethodInfo {
        std::string pascal;
        std::string call; // the client's and handler's method name
        std::string params;
        std::string results;
        bool implicit_params;
        bool implicit_results;
    };
    auto method_infos = [&](capnp::List<capnp::schema::Method>::Reader list) {
        std::vector<MethodInfo> infos;
        for (auto method : list) {
            const Node::Reader* params = find_node(method.getParamStructType());
            const Node::Reader* results = find_node(method.getResultStructType());
            infos.push_back({pascal_case(text(method.getName())),
                             escape_keyword(snake_case(text(method.getName()))),
                             type_name(method.getParamStructType()),
                             type_name(method.getResultStructType()),
                             params != nullptr && params->getScopeId() == 0,
                             results != nullptr && results->getScopeId() == 0});
        }
        return infos;
    };
    std::vector<MethodInfo> infos = method_infos(methods);

    // The interfaces this one extends, directly or not. Their methods are called
    // and dispatched under their own interface_id and ordinals (Cap'n Proto's
    // rule: a call names the interface that declares the method); the client and
    // the handler see them all under one name each.
    struct Declaring {
        uint64_t id;
        std::string scope; // how this file names it: "" for the interface itself
        capnp::List<capnp::schema::Method>::Reader methods;
        std::vector<MethodInfo> infos;
    };
    std::vector<Declaring> declaring{{id, "", methods, infos}};
    for (uint64_t ancestor : ancestors_of(id)) {
        auto ancestor_methods = find_node(ancestor)->getInterface().getMethods();
        declaring.push_back({ancestor, type_name(ancestor) + "::", ancestor_methods,
                             method_infos(ancestor_methods)});
    }
    NameSet method_names(text(node.getDisplayName()));
    for (auto& interface : declaring)
        for (auto& info : interface.infos)
            method_names.add(info.call, m_errors);

    // ---- Shell.
    std::string shell = doc_comment(id, "");
    shell += "struct " + name.local + " {\n";
    shell += "    static constexpr uint64_t interface_id = " + hex_u64(id) + ";\n";
    if (node.getInterface().getSuperclasses().size() > 0) {
        shell += "    // Extends";
        for (auto superclass : node.getInterface().getSuperclasses())
            shell += " " + type_name(superclass.getId());
        shell += ": their methods are called and dispatched under their own interface_id.\n"
                 "    // ancestor_count: how many interfaces this one extends, directly or not.\n";
    } else {
        shell += "    // How many interfaces this one extends, directly or not.\n";
    }
    shell +=
        "    static constexpr uint32_t ancestor_count = " + std::to_string(declaring.size() - 1) +
        ";\n";
    shell += "    enum class Method : uint16_t {\n";
    for (uint32_t i = 0; i < infos.size(); ++i) {
        shell += member_doc_comment(id, i, "        ");
        shell += "        " + infos[i].pascal + " = " + std::to_string(i) + ",\n";
    }
    shell += "    };\n";
    NameSet shell_names(text(node.getDisplayName()));
    for (const char* reserved : {"interface_id", "ancestor_count", "Method", "method_count",
                                 "Client", "dispatch", "dispatch_method"})
        shell_names.add(reserved, m_errors);
    for (auto& info : infos) {
        if (info.implicit_params) {
            shell_names.add(info.pascal + "Params", m_errors);
            shell += "    struct " + info.pascal + "Params;\n";
        }
        if (info.implicit_results) {
            shell_names.add(info.pascal + "Results", m_errors);
            shell += "    struct " + info.pascal + "Results;\n";
        }
    }
    emit_nested_declarations(node, shell);
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        if (child->isConst()) {
            shell_names.add(escape_keyword(snake_case(text(nested.getName()))), m_errors);
            emit_const(*child, text(nested.getName()), &name, shell, out);
        } else {
            shell_names.add(text(nested.getName()), m_errors);
        }
    }
    shell += "    // A client for a capability of this interface (below).\n";
    shell += "    template <" + gen + "Transport T>\n    class Client;\n";
    shell += "    // The methods this interface declares (ordinals 0 to method_count - 1).\n";
    shell += "    static constexpr uint16_t method_count = " + std::to_string(infos.size()) + ";\n";
    shell += "    // Decodes `params` as the params of the method with ordinal `Ordinal`, calls\n"
             "    // the handler and encodes its results or exception into `results`; an\n"
             "    // ordinal from method_count on is unimplemented (below). A table of these\n"
             "    // serves a caller that picks the method by a table instead of a switch.\n";
    shell += "    template <uint16_t Ordinal, typename Handler>\n";
    shell += "    [[gnu::always_inline]] static " + gen +
             "DispatchResult dispatch_method(Handler& handler, const " + gen +
             "CallParams& params, ::std::span<" + wire + "Word> results);\n";
    shell += "    // The same for the method `method` (below).\n";
    shell += "    template <typename Handler>\n";
    shell += "    static " + gen +
             "DispatchResult dispatch(Handler& handler, uint16_t method, const " + gen +
             "CallParams& params, ::std::span<" + wire + "Word> results);\n";
    shell += "    // The same for a method of this interface or of one it extends, named by\n"
             "    // the interface that declares it; any other interface is unimplemented.\n";
    shell += "    template <typename Handler>\n";
    shell += "    static " + gen +
             "DispatchResult dispatch(Handler& handler, uint64_t called_interface, uint16_t "
             "method, const " +
             gen + "CallParams& params, ::std::span<" + wire + "Word> results);\n";
    shell += "};\n\n";
    out.shells += shell;

    // ---- Params and results structs, then nested types.
    for (auto method : methods) {
        for (uint64_t struct_id : {method.getParamStructType(), method.getResultStructType()}) {
            const Node::Reader* implicit = find_node(struct_id);
            if (implicit != nullptr && implicit->getScopeId() == 0)
                emit_struct(*implicit, out);
        }
    }
    for (auto nested : node.getNestedNodes()) {
        const Node::Reader* child = find_node(nested.getId());
        if (child == nullptr)
            continue;
        if (child->isStruct())
            emit_struct(*child, out);
        else if (child->isInterface())
            emit_interface(*child, out);
    }

    // ---- Client.
    std::string client;
    client += "// Calls the methods of " + name.local +
              (declaring.size() > 1 ? " and of the interfaces it extends" : "") +
              " on `capability` through transport T. A method's\n"
              "// results stay valid until the next call on this client.\n";
    client += "template <" + gen + "Transport T>\nclass " + name.local + "::Client {\npublic:\n";
    client += "    Client(T& transport, uint32_t capability) : m_transport(&transport), "
              "m_capability(capability) {}\n";
    client += "    uint32_t capability() const { return m_capability; }\n";
    for (auto& interface : declaring) {
        if (!interface.scope.empty())
            client += "\n    // Inherited from " + type_name(interface.id) + ".\n";
        for (uint32_t i = 0; i < interface.infos.size(); ++i) {
            const MethodInfo& info = interface.infos[i];
            std::string result =
                "::capos::Result<" + info.results + "::Reader, " + gen + "CallError>";
            client += "\n" + member_doc_comment(interface.id, i, "    ");
            // Typed arguments when every param is a scalar, text, data or capability.
            const Node::Reader* params = find_node(interface.methods[i].getParamStructType());
            bool simple = info.implicit_params && params != nullptr &&
                          params->getStruct().getDiscriminantCount() == 0;
            std::string arguments, sets;
            if (simple) {
                for (auto field : params->getStruct().getFields()) {
                    if (field.isGroup()) {
                        simple = false;
                        break;
                    }
                    auto type = field.getSlot().getType();
                    if (type.isVoid())
                        continue;
                    std::string cpp;
                    if (type.isAnyPointer() && type.getAnyPointer().isUnconstrained() &&
                        type.getAnyPointer().getUnconstrained().isCapability())
                        cpp = "uint32_t";
                    else if (!type.isStruct() && !type.isList())
                        cpp = cpp_type(type);
                    if (cpp.empty()) {
                        simple = false;
                        break;
                    }
                    std::string raw = snake_case(text(field.getName()));
                    std::string argument = escape_keyword(raw);
                    arguments += (arguments.empty() ? "" : ", ") + cpp + " " + argument;
                    sets += " params_.set_" + raw + "(" + argument + ");";
                }
            }
            if (simple) {
                client += "    " + result + " " + info.call + "(" + arguments + ") {\n";
                client += "        return " + info.call + "([&](" + info.params + "::Builder" +
                          (sets.empty() ? "" : " params_") + ") {" + sets + " });\n    }\n";
            }
            client += "    // `fill` sets the params on their builder.\n";
            client += "    template <" + gen + "FillsParams<" + info.params + "::Builder> Fill>\n";
            client += "    " + result + " " + info.call + "(Fill&& fill) {\n";
            client += "        return " + gen + "call<" + info.params + ", " + info.results + ", " +
                      cap_exception + ">(*m_transport, m_capability, " + interface.scope +
                      "interface_id, static_cast<uint16_t>(" + interface.scope +
                      "Method::" + info.pascal + "), m_reply, fill);\n    }\n";
        }
    }
    client += "\nprivate:\n    T* m_transport;\n    uint32_t m_capability;\n    " + gen +
              "ReplyStorage m_reply;\n};\n\n";
    out.templates += client;

    // ---- Dispatch.
    std::string dispatch;
    dispatch += "// Handler needs, for each method";
    dispatch += declaring.size() > 1 ? " (the inherited ones too):\n" : ":\n";
    bool any_method = false;
    for (auto& interface : declaring)
        any_method = any_method || !interface.infos.empty();
    if (!any_method)
        dispatch += "//   (nothing: " + name.local + " has no methods)\n";
    std::string prefix = "::" + m_namespace + "::";
    auto short_name = [&](const std::string& qualified) {
        return qualified.rfind(prefix, 0) == 0 ? qualified.substr(prefix.size()) : qualified;
    };
    for (auto& interface : declaring)
        for (auto& info : interface.infos)
            dispatch += "//   " + info.call + "(" + short_name(info.params) + "::Reader, " +
                        short_name(info.results) + "::Builder)\n";
    if (any_method)
        dispatch += "// each returning ::capos::Result<void, ::capos::gen::Exception>.\n";
    dispatch += "template <uint16_t Ordinal, typename Handler>\ninline " + gen + "DispatchResult " +
                name.local + "::dispatch_method(Handler& handler, const " + gen +
                "CallParams& params, ::std::span<" + wire + "Word> results) {\n";
    if (infos.empty())
        dispatch += "    (void)handler;\n    (void)params;\n";
    for (size_t i = 0; i < infos.size(); ++i) {
        const auto& info = infos[i];
        dispatch += std::string(i == 0 ? "    if" : "    else if") +
                    " constexpr (Ordinal == static_cast<uint16_t>(Method::" + info.pascal + "))\n";
        dispatch += "        return " + gen + "dispatch_call<" + info.params + ", " + info.results +
                    ", " + cap_exception + ">(params, results, [&](" + info.params +
                    "::Reader params_, " + info.results + "::Builder results_) { return handler." +
                    info.call + "(params_, results_); });\n";
    }
    dispatch += infos.empty() ? "    " : "    else\n        ";
    dispatch += "return " + gen + "dispatch_unimplemented<" + cap_exception + ">(results);\n}\n\n";

    dispatch += "template <typename Handler>\ninline " + gen + "DispatchResult " + name.local +
                "::dispatch(Handler& handler, uint16_t method, const " + gen +
                "CallParams& params, ::std::span<" + wire + "Word> results) {\n";
    if (infos.empty())
        dispatch += "    (void)method;\n";
    else
        dispatch += "    switch (method) {\n";
    for (auto& info : infos) {
        dispatch += "    case static_cast<uint16_t>(Method::" + info.pascal + "):\n";
        dispatch += "        return dispatch_method<static_cast<uint16_t>(Method::" + info.pascal +
                    ")>(handler, params, results);\n";
    }
    if (!infos.empty())
        dispatch += "    default:\n        break;\n    }\n";
    dispatch += "    return dispatch_method<method_count>(handler, params, results);\n}\n\n";

    dispatch += "template <typename Handler>\ninline " + gen + "DispatchResult " + name.local +
                "::dispatch(Handler& handler, uint64_t called_interface, uint16_t method, const " +
                gen + "CallParams& params, ::std::span<" + wire + "Word> results) {\n";
    for (auto& interface : declaring) {
        dispatch += "    if (called_interface == " + interface.scope + "interface_id)\n";
        dispatch +=
            "        return " + interface.scope + "dispatch(handler, method, params, results);\n";
    }
    dispatch +=
        "    return " + gen + "dispatch_unimplemented<" + cap_exception + ">(results);\n}\n\n";
    out.templates += dispatch;
}

} // namespace capnpc_capos
