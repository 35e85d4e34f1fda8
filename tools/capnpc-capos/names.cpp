// Naming rules of capnpc-capos (see names.h).
#include "tools/capnpc-capos/names.h"

#include <cstdio>

namespace capnpc_capos {
namespace {

bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
char to_lower(char c) {
    return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
char to_upper(char c) {
    return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c;
}

constexpr std::string_view cpp_keywords[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
    "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
    "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
    "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr",
    "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast",
    "struct", "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t",
    "while", "xor", "xor_eq",
    // Not keywords, but macros that a header may define.
    "NULL", "assert", "errno", "offsetof"};

} // namespace

std::string snake_case(std::string_view name) {
    std::string out;
    for (size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (is_upper(c) && i > 0) {
            char previous = name[i - 1];
            bool next_lower = i + 1 < name.size() && is_lower(name[i + 1]);
            if (is_lower(previous) || is_digit(previous) || (is_upper(previous) && next_lower))
                out += '_';
        }
        out += to_lower(c);
    }
    return out;
}

std::string pascal_case(std::string_view name) {
    std::string out(name);
    if (!out.empty())
        out[0] = to_upper(out[0]);
    return out;
}

std::string escape_keyword(std::string name) {
    for (std::string_view keyword : cpp_keywords) {
        if (name == keyword)
            return name + "_";
    }
    return name;
}

std::string namespace_for_file(std::string_view display_name) {
    size_t slash = display_name.rfind('/');
    std::string_view base =
        slash == std::string_view::npos ? display_name : display_name.substr(slash + 1);
    constexpr std::string_view suffix = ".capnp";
    if (base.size() > suffix.size() && base.substr(base.size() - suffix.size()) == suffix)
        base.remove_suffix(suffix.size());
    std::string cleaned;
    for (char c : base)
        cleaned += (is_upper(c) || is_lower(c) || is_digit(c)) ? c : '_';
    if (cleaned.empty() || is_digit(cleaned[0]))
        cleaned = "_" + cleaned;
    return escape_keyword(snake_case(cleaned)) + "::schema";
}

std::string string_literal(std::string_view bytes) {
    std::string out = "\"";
    for (char c : bytes) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte >= 0x20 && byte < 0x7f && c != '?') {
            out += c;
        } else {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\%03o", byte);
            out += escape;
        }
    }
    return out + "\"";
}

std::string hex_u64(uint64_t value) {
    char text[32];
    std::snprintf(text, sizeof text, "0x%016llxull", static_cast<unsigned long long>(value));
    return text;
}

} // namespace capnpc_capos
