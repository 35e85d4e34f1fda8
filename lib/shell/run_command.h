// The shell's `run` and `spawn` commands, parsed: a program, its arguments and
// the explicit list of capabilities it is given.
//
//     run hello with { console: @console }
//     spawn ticker 5 with { out: @console, @timer }
//
// After the command word come the program's name and its arguments (words
// separated by spaces or tabs), then optionally `with` and a grant list in
// braces: entries separated by commas, each `name: @cap` (the child finds the
// shell's capability `cap` under `name`) or `@cap` (under the same name). A
// trailing comma is allowed; an empty list `with { }` grants nothing, as does
// no `with` at all. Nothing may follow the closing brace. Names are 1 to
// abi::capset_name_max bytes of letters, digits, '-', '_' and '.'; a name
// appears once on the left of a list.
//
// An entry `name: new endpoint -> @client` grants a fresh endpoint instead:
// the child finds its owner side (RECV/RETURN) under `name`, and the shell
// keeps the client side (CALL) as `@client`; two entries name no client side
// alike. Only an endpoint is made new, and its client side must be named:
//
//     spawn echo-server with { service: new endpoint -> @echo, @console }
//     run echo-client with { echo: @echo, @console }
//
// `new endpoint speaking Interface -> @client` makes the client side speak
// only that interface (ProcessSpawner's Grant.interfaceId): the shell's caps
// and call know it.
//
// Pure logic: the views point into the parsed line, which must outlive them.
#pragma once

#include "abi/capset.h"
#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::shell {

enum class GrantSource : uint8_t {
    Capability,  // one of the shell's capabilities, `cap`
    NewEndpoint, // a fresh endpoint; the shell keeps its client side as `cap`
};

struct GrantSpec {
    std::string_view name; // in the child's CapSet
    std::string_view cap;  // the shell's capability, or the client side's name (without '@')
    GrantSource source = GrantSource::Capability;
    std::string_view interface; // a new endpoint's, by name ("": any)
};

struct RunCommand {
    static constexpr size_t max_args = 16;
    static constexpr size_t max_grants = 16;

    std::string_view program;
    std::string_view args[max_args];
    size_t arg_count = 0;
    GrantSpec grants[max_grants];
    size_t grant_count = 0;

    std::span<const std::string_view> arguments() const { return {args, arg_count}; }
    std::span<const GrantSpec> grant_list() const { return {grants, grant_count}; }
};

// Why a line did not parse: a sentence for the user, and the byte offset in
// the line where the problem was found.
struct ParseError {
    const char* message;
    size_t offset;
};

// Parses what follows the command word (`line` is the rest of the line).
Result<RunCommand, ParseError> parse_run(std::string_view line);

// Whether `name` may name a capability (the rules above).
bool valid_cap_name(std::string_view name);

} // namespace capos::shell
