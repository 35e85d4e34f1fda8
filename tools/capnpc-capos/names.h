// Naming rules of capnpc-capos: how schema names become C++ names. The rules are
// documented in docs/schema.md ("Names"); change both together.
#pragma once

#include <string>
#include <string_view>

namespace capnpc_capos {

// camelCase -> snake_case: `writeLine` -> `write_line`, `uInt8Field` -> `u_int8_field`,
// `HTTPServer` -> `http_server`. A run of capitals is one word.
std::string snake_case(std::string_view name);

// camelCase -> PascalCase: `invalidArgument` -> `InvalidArgument`.
std::string pascal_case(std::string_view name);

// Appends `_` to C++ keywords (`default` -> `default_`). Schema names never contain
// underscores, so an escaped name cannot collide with another schema name.
std::string escape_keyword(std::string name);

// The C++ namespace of a schema file: its base name without `.capnp`, snake_cased,
// followed by `::schema`: `schema/capos.capnp` -> `capos::schema`,
// `test-import.capnp` -> `test_import::schema`.
std::string namespace_for_file(std::string_view display_name);

// A C++ string literal (with quotes) holding exactly `bytes`: printable ASCII as it
// is, everything else as three-digit octal escapes.
std::string string_literal(std::string_view bytes);

// `0x0123456789abcdefull`.
std::string hex_u64(uint64_t value);

} // namespace capnpc_capos
