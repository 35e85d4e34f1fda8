#include "lib/shell/run_command.h"

namespace capos::shell {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

// A cursor over the line that knows its offset, for the error.
class Scanner {
public:
    explicit Scanner(std::string_view line) : m_line(line) {}

    void skip_spaces() {
        while (m_at < m_line.size() && is_space(m_line[m_at]))
            ++m_at;
    }
    bool at_end() {
        skip_spaces();
        return m_at == m_line.size();
    }
    // The next word: up to a space (arguments and the program).
    std::string_view word() {
        skip_spaces();
        size_t start = m_at;
        while (m_at < m_line.size() && !is_space(m_line[m_at]))
            ++m_at;
        return m_line.substr(start, m_at - start);
    }
    // What word() would return, without taking it.
    std::string_view peek_word() {
        size_t saved = m_at;
        std::string_view next = word();
        m_at = saved;
        return next;
    }
    // Passes `count` bytes (after spaces).
    void skip(size_t count) {
        skip_spaces();
        m_at += count;
    }
    // Takes `c` if it comes next (after spaces).
    bool take(char c) {
        skip_spaces();
        if (m_at < m_line.size() && m_line[m_at] == c) {
            ++m_at;
            return true;
        }
        return false;
    }
    // The longest run of name characters next (maybe empty).
    std::string_view name() {
        skip_spaces();
        size_t start = m_at;
        while (m_at < m_line.size() && is_name_char(m_line[m_at]))
            ++m_at;
        return m_line.substr(start, m_at - start);
    }
    size_t offset() {
        skip_spaces();
        return m_at;
    }
    // Takes the word `keyword` if it comes next (after spaces) and is not the
    // start of a longer name ("endpoint->" holds the word "endpoint").
    bool take_keyword(std::string_view keyword) {
        skip_spaces();
        if (m_line.substr(m_at, keyword.size()) != keyword)
            return false;
        size_t after = m_at + keyword.size();
        if (after < m_line.size() && is_name_char(m_line[after]) && m_line.substr(after, 2) != "->")
            return false;
        m_at = after;
        return true;
    }

private:
    std::string_view m_line;
    size_t m_at = 0;
};

Result<RunCommand, ParseError> fail(const char* message, size_t offset) {
    return Err{ParseError{message, offset}};
}

} // namespace

bool valid_cap_name(std::string_view name) {
    if (name.empty() || name.size() > abi::capset_name_max)
        return false;
    for (char c : name) {
        if (!is_name_char(c))
            return false;
    }
    return true;
}

Result<RunCommand, ParseError> parse_run(std::string_view line) {
    Scanner scan(line);
    RunCommand command;
    if (scan.at_end())
        return fail("which program? (run <program> [args...] [with { name: @cap, ... }])", 0);
    size_t program_at = scan.offset();
    command.program = scan.word();
    if (command.program == "with" || !valid_cap_name(command.program))
        return fail("a program name is letters, digits, '-', '_' and '.'", program_at);

    // `with` is a word of its own, or touches its brace.
    auto at_with = [&] {
        std::string_view next = scan.peek_word();
        return next == "with" || next.substr(0, 5) == "with{";
    };
    while (!scan.at_end() && !at_with()) {
        size_t at = scan.offset();
        if (command.arg_count == RunCommand::max_args)
            return fail("too many arguments", at);
        command.args[command.arg_count++] = scan.word();
    }
    if (scan.at_end())
        return command;

    scan.skip(4); // "with"
    if (!scan.take('{'))
        return fail("'with' is followed by a grant list in braces: { name: @cap, ... }",
                    scan.offset());
    for (;;) {
        if (scan.take('}'))
            break;
        size_t at = scan.offset();
        if (command.grant_count == RunCommand::max_grants)
            return fail("too many grants", at);
        GrantSpec grant;
        if (scan.take('@')) {
            grant.cap = scan.name();
            grant.name = grant.cap;
        } else {
            grant.name = scan.name();
            if (grant.name.empty())
                return fail("a grant is 'name: @cap' or '@cap'", at);
            if (!scan.take(':'))
                return fail("expected ':' after the grant's name", scan.offset());
            if (scan.take_keyword("new")) {
                if (!scan.take_keyword("endpoint"))
                    return fail("only an endpoint is made new: 'new endpoint -> @name'",
                                scan.offset());
                if (scan.take_keyword("speaking")) {
                    size_t named_at = scan.offset();
                    grant.interface = scan.name();
                    if (grant.interface.empty())
                        return fail("'speaking' names an interface (see man 2)", named_at);
                }
                if (!scan.take('-') || !scan.take('>') || !scan.take('@'))
                    return fail("the new endpoint's client side is named: 'new endpoint -> @name'",
                                scan.offset());
                grant.source = GrantSource::NewEndpoint;
            } else if (!scan.take('@')) {
                return fail("a capability is named with '@' (see caps)", scan.offset());
            }
            grant.cap = scan.name();
        }
        static_assert(abi::capset_name_max == 47, "the message below says 47");
        if (!valid_cap_name(grant.cap) || !valid_cap_name(grant.name))
            return fail("a capability name is 1 to 47 letters, digits, '-', '_' and '.'", at);
        for (size_t i = 0; i < command.grant_count; ++i) {
            if (command.grants[i].name == grant.name)
                return fail("the same name is granted twice", at);
            // Two client sides under one name: the shell could keep only one.
            if (grant.source == GrantSource::NewEndpoint &&
                command.grants[i].source == GrantSource::NewEndpoint &&
                command.grants[i].cap == grant.cap)
                return fail("two new endpoints' client sides share a name", at);
        }
        command.grants[command.grant_count++] = grant;
        if (scan.take(','))
            continue;
        if (scan.take('}'))
            break;
        return fail("expected ',' or '}' in the grant list", scan.offset());
    }
    if (!scan.at_end())
        return fail("nothing may follow the grant list", scan.offset());
    return command;
}

} // namespace capos::shell
