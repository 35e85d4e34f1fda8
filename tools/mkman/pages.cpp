#include "tools/mkman/pages.h"

#include "capnp/schema.capnp.capos.h"
#include "lib/archive/cpio_writer.h"

#include <algorithm>
#include <optional>
#include <string_view>

namespace capos::mkman {

namespace {

namespace meta = ::schema::schema;

class Request {
public:
    explicit Request(meta::CodeGeneratorRequest::Reader root) : m_root(root) {}

    std::optional<meta::Node::Reader> node(uint64_t id) const {
        for (auto node : m_root.nodes()) {
            if (node.id() == id)
                return node;
        }
        return std::nullopt;
    }
    std::optional<meta::Node::SourceInfo::Reader> source_info(uint64_t id) const {
        for (auto info : m_root.source_info()) {
            if (info.id() == id)
                return info;
        }
        return std::nullopt;
    }
    // The name without its file: "Timer", "Outer.Inner".
    std::string name(uint64_t id) const {
        auto found = node(id);
        if (!found)
            return "?";
        std::string_view display = found->display_name();
        size_t colon = display.find(':');
        return std::string(colon == std::string_view::npos ? display : display.substr(colon + 1));
    }

    std::string type_name(meta::Type::Reader type) const {
        using Which = meta::Type::Which;
        switch (type.which()) {
        case Which::Void:
            return "Void";
        case Which::Bool:
            return "Bool";
        case Which::Int8:
            return "Int8";
        case Which::Int16:
            return "Int16";
        case Which::Int32:
            return "Int32";
        case Which::Int64:
            return "Int64";
        case Which::Uint8:
            return "UInt8";
        case Which::Uint16:
            return "UInt16";
        case Which::Uint32:
            return "UInt32";
        case Which::Uint64:
            return "UInt64";
        case Which::Float32:
            return "Float32";
        case Which::Float64:
            return "Float64";
        case Which::Text:
            return "Text";
        case Which::Data:
            return "Data";
        case Which::List:
            return "List(" + type_name(type.list().element_type()) + ")";
        case Which::Enum:
            return name(type.enum_().type_id());
        case Which::Struct:
            return name(type.struct_().type_id());
        case Which::Interface:
            return name(type.interface().type_id());
        case Which::AnyPointer:
            return "AnyPointer";
        }
        return "?";
    }

    // "(a :T, b :U)" for an implicit params or results struct, else its name.
    std::string fields(uint64_t struct_id) const {
        auto found = node(struct_id);
        if (!found || !found->is_struct())
            return "?";
        if (found->scope_id() != 0)
            return name(struct_id);
        std::string out = "(";
        bool first = true;
        for (auto field : found->struct_().fields()) {
            if (!first)
                out += ", ";
            first = false;
            out += std::string(field.name());
            if (field.is_slot())
                out += " :" + type_name(field.slot().type());
        }
        return out + ")";
    }

    meta::CodeGeneratorRequest::Reader root() const { return m_root; }

private:
    meta::CodeGeneratorRequest::Reader m_root;
};

// The doc comment's first sentence, on one line.
std::string summary_of(std::string_view doc) {
    std::string out;
    for (size_t i = 0; i < doc.size(); ++i) {
        char c = doc[i] == '\n' ? ' ' : doc[i];
        if (c == ' ' && (out.empty() || out.back() == ' '))
            continue;
        out += c;
        bool end = i + 1 == doc.size() || doc[i + 1] == ' ' || doc[i + 1] == '\n';
        if (c == '.' && end)
            break;
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    // One line that `apropos` shows whole: a long sentence is cut at a word.
    constexpr size_t max_summary = 90;
    if (out.size() > max_summary) {
        size_t cut = out.rfind(' ', max_summary - 3);
        out = out.substr(0, cut == std::string::npos ? max_summary - 3 : cut) + "...";
    }
    return out;
}

// Each line of `doc` indented by two spaces.
std::string indented(std::string_view doc) {
    std::string out;
    size_t at = 0;
    while (at < doc.size()) {
        size_t end = doc.find('\n', at);
        if (end == std::string_view::npos)
            end = doc.size();
        std::string_view line = doc.substr(at, end - at);
        if (!line.empty())
            out += "  " + std::string(line);
        out += '\n';
        at = end + 1;
    }
    return out;
}

bool documented(std::string_view doc) {
    return doc.find_first_not_of(" \n") != std::string_view::npos;
}

} // namespace

Result<std::vector<ManPage>, std::string> interface_pages(std::span<const capnp::Word> request) {
    std::span<const capnp::Word> storage[64];
    auto segments = capnp::parse_framed(request, storage);
    if (segments.is_error())
        return Err{std::string("not a framed Cap'n Proto message")};
    capnp::MessageReader message(segments.value());
    if (capnp::validate(message) != capnp::WireError::None)
        return Err{std::string("the CodeGeneratorRequest is malformed")};
    Request schema(meta::CodeGeneratorRequest::Reader(message.root()));

    std::vector<std::string> files;
    for (auto file : schema.root().requested_files())
        files.emplace_back(file.filename());

    std::vector<ManPage> pages;
    for (auto node : schema.root().nodes()) {
        if (!node.is_interface())
            continue;
        std::string_view display = node.display_name();
        size_t colon = display.find(':');
        if (colon == std::string_view::npos ||
            std::find(files.begin(), files.end(), display.substr(0, colon)) == files.end())
            continue;
        std::string name = schema.name(node.id());
        auto info = schema.source_info(node.id());
        if (!info || !documented(info->doc_comment()))
            return Err{"interface " + name + " has no doc comment"};
        std::string text = name + " - " + summary_of(info->doc_comment()) + "\n\ninterface " + name;
        auto superclasses = node.interface().superclasses();
        for (uint32_t i = 0; i < superclasses.size(); ++i)
            text += (i == 0 ? " extends(" : ", ") + schema.name(superclasses[i].id());
        text += (superclasses.size() > 0 ? ")\n" : "\n") + indented(info->doc_comment());
        auto signature = [&](meta::Method::Reader method) {
            return std::string(method.name()) + " @" + std::to_string(method.code_order()) + " " +
                   schema.fields(method.param_struct_type()) + " -> " +
                   schema.fields(method.result_struct_type()) + "\n";
        };
        auto methods = node.interface().methods();
        auto members = info->members();
        for (uint32_t i = 0; i < methods.size(); ++i) {
            auto method = methods[i];
            std::string method_name = name + "." + std::string(method.name());
            if (i >= members.size() || !documented(members[i].doc_comment()))
                return Err{"method " + method_name + " has no doc comment"};
            text += "\n" + signature(method) + indented(members[i].doc_comment());
        }
        // The methods it inherits, each with its summary, under the interface
        // that declares them (whose page has the rest): every ancestor once,
        // depth first in the order the schema lists superclasses.
        std::vector<uint64_t> ancestors;
        auto inherit = [&](auto& self, meta::Node::Reader from) -> void {
            for (auto superclass : from.interface().superclasses()) {
                auto parent = schema.node(superclass.id());
                if (!parent || !parent->is_interface() ||
                    std::find(ancestors.begin(), ancestors.end(), superclass.id()) !=
                        ancestors.end())
                    continue;
                ancestors.push_back(superclass.id());
                self(self, *parent);
            }
        };
        inherit(inherit, node);
        for (uint64_t ancestor : ancestors) {
            auto parent = schema.node(ancestor);
            auto parent_info = schema.source_info(ancestor);
            text += "\nInherited from " + schema.name(ancestor) + " (man 2 " +
                    schema.name(ancestor) + "):\n";
            auto inherited = parent->interface().methods();
            for (uint32_t i = 0; i < inherited.size(); ++i) {
                text += signature(inherited[i]);
                if (parent_info && i < parent_info->members().size() &&
                    documented(parent_info->members()[i].doc_comment()))
                    text += "  " + summary_of(parent_info->members()[i].doc_comment()) + "\n";
            }
        }
        pages.push_back(ManPage{2, name, std::move(text)});
    }
    if (message.error() != capnp::WireError::None)
        return Err{std::string("the CodeGeneratorRequest is malformed")};
    return pages;
}

Result<ManPage, std::string> text_page(uint8_t section, std::string title, std::string text) {
    std::string head = title + " - ";
    if (text.compare(0, head.size(), head) != 0 || text.find('\n') == head.size())
        return Err{"page " + title + "(" + std::to_string(section) + ") must start with \"" + head +
                   "<summary>\""};
    return ManPage{section, std::move(title), std::move(text)};
}

Result<std::vector<uint8_t>, std::string> pack(std::vector<ManPage> pages) {
    std::sort(pages.begin(), pages.end(), [](const ManPage& a, const ManPage& b) {
        return a.section != b.section ? a.section < b.section : a.title < b.title;
    });
    size_t size = CpioWriter::trailer_size;
    for (size_t i = 0; i < pages.size(); ++i) {
        if (i > 0 && pages[i].section == pages[i - 1].section &&
            pages[i].title == pages[i - 1].title)
            return Err{"two pages " + pages[i].title + "(" + std::to_string(pages[i].section) +
                       ")"};
        if (pages[i].section < 1 || pages[i].section > 9)
            return Err{"page " + pages[i].title + ": sections are 1 to 9"};
        std::string name = std::to_string(pages[i].section) + "/" + pages[i].title;
        size += CpioWriter::encoded_size(name, pages[i].text.size());
    }
    std::vector<uint8_t> out(size);
    CpioWriter writer;
    size_t at = 0;
    for (const ManPage& page : pages) {
        std::string name = std::to_string(page.section) + "/" + page.title;
        auto written = writer.append(
            out, at, name,
            std::span(reinterpret_cast<const uint8_t*>(page.text.data()), page.text.size()));
        if (written.is_error())
            return Err{"page " + name + " cannot be packed"};
        at = written.value();
    }
    auto end = writer.finish(out, at);
    if (end.is_error())
        return Err{std::string("the pages cannot be packed")};
    out.resize(end.value());
    return out;
}

} // namespace capos::mkman
