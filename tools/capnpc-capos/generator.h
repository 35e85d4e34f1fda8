// capnpc-capos: turns a Cap'n Proto CodeGeneratorRequest into freestanding C++20
// headers written against lib/capnp/wire.h and the runtime headers beside this
// file. What is emitted for each schema construct is described in docs/schema.md.
#pragma once

#include <capnp/schema.capnp.h>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace capnpc_capos {

struct GeneratedFile {
    std::string path; // relative to the output directory: `<schema path>.capos.h`
    std::string contents;
};

// One generator per request. Schema constructs it cannot map are collected as
// errors (the output is then not to be used), so that one run reports them all.
class Generator {
public:
    explicit Generator(capnp::schema::CodeGeneratorRequest::Reader request);

    GeneratedFile generate(capnp::schema::CodeGeneratorRequest::RequestedFile::Reader file);
    const std::vector<std::string>& errors() const { return m_errors; }

private:
    struct NodeName {
        std::string qualified; // `::ns::Outer::Inner`
        std::string local;     // `Outer::Inner`, inside the file's namespace
        uint64_t file = 0;
    };
    // The text of one file, assembled in sections so that every declaration
    // comes before its first use (see generate()).
    struct Output {
        std::string detail;      // default values and constants as words and bytes
        std::string forward;     // top-level struct and interface declarations
        std::string shells;      // the types: ids, sizes, enums, nested declarations
        std::string classes;     // Reader and Builder class definitions
        std::string definitions; // out-of-line member definitions
        std::string templates;   // interface clients and dispatch
        std::string constants;   // top-level constants and late constant definitions
    };

    void name_scope(capnp::schema::Node::Reader node, const std::string& local, uint64_t file);
    void assign_name(uint64_t id, const std::string& local, uint64_t file);
    const capnp::schema::Node::Reader* find_node(uint64_t id);
    std::string type_name(uint64_t id);

    std::string doc_comment(uint64_t id, const std::string& indent);
    std::string member_doc_comment(uint64_t id, uint32_t index, const std::string& indent);

    // The file's table of interfaces (gen::InterfaceName), sorted by name.
    std::string interface_table();
    void emit_scope(capnp::schema::Node::Reader node, Output& out);
    void emit_nested_declarations(capnp::schema::Node::Reader node, std::string& shell);
    void emit_enum(capnp::schema::Node::Reader node, std::string& where, bool nested);
    void emit_struct(capnp::schema::Node::Reader node, Output& out);
    void emit_interface(capnp::schema::Node::Reader node, Output& out);
    // Every interface `id` extends, directly or not, each once (see emit_interface).
    std::vector<uint64_t> ancestors_of(uint64_t id);
    void emit_const(capnp::schema::Node::Reader node, const std::string& schema_name,
                    const NodeName* scope, std::string& shell, Output& out);

    std::string cpp_type(capnp::schema::Type::Reader type);
    std::string list_type(capnp::schema::Type::Reader element);
    std::string encode_message(const std::string& array_name, capnp::AnyPointer::Reader value);
    std::string encode_bytes(const std::string& array_name, capnp::Data::Reader bytes);
    std::string enumerant_value(uint64_t enum_id, uint16_t value);
    void error(const std::string& message) { m_errors.push_back(message); }

    std::map<uint64_t, capnp::schema::Node::Reader> m_nodes;
    std::map<uint64_t, capnp::schema::Node::SourceInfo::Reader> m_source_info;
    std::map<uint64_t, NodeName> m_names;
    std::map<uint64_t, std::string> m_file_namespace;
    std::map<uint64_t, std::string> m_file_path;
    std::vector<std::string> m_errors;

    // Per generated file.
    uint64_t m_file = 0;
    std::string m_namespace;
    std::set<uint64_t> m_imported_files;
    std::string m_detail;
};

} // namespace capnpc_capos
