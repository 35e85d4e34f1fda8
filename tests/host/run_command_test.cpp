// lib/shell/run_command: the shell's `run`/`spawn` lines, good and bad.
#include "lib/shell/run_command.h"
#include <gtest/gtest.h>
#include <string>

namespace {

using capos::shell::parse_run;
using capos::shell::RunCommand;

RunCommand parsed(std::string_view line) {
    auto result = parse_run(line);
    EXPECT_FALSE(result.is_error())
        << "'" << line << "': " << (result.is_error() ? result.error().message : "");
    return result.is_error() ? RunCommand{} : result.value();
}

// The error's offset, or SIZE_MAX when the line parsed.
size_t error_at(std::string_view line) {
    auto result = parse_run(line);
    return result.is_error() ? result.error().offset : SIZE_MAX;
}

TEST(RunCommand, ProgramOnly) {
    RunCommand command = parsed("hello");
    EXPECT_EQ(command.program, "hello");
    EXPECT_EQ(command.arg_count, 0u);
    EXPECT_EQ(command.grant_count, 0u);
    EXPECT_EQ(parsed("  \thello  ").program, "hello");
}

TEST(RunCommand, Arguments) {
    RunCommand command = parsed("sleep 5  ms\textra");
    EXPECT_EQ(command.program, "sleep");
    ASSERT_EQ(command.arg_count, 3u);
    EXPECT_EQ(command.args[0], "5");
    EXPECT_EQ(command.args[1], "ms");
    EXPECT_EQ(command.args[2], "extra");
    // An argument may hold characters a name may not.
    EXPECT_EQ(parsed("cat /etc/motd {x}").args[1], "{x}");
}

TEST(RunCommand, Grants) {
    RunCommand command = parsed("hello 1 with { console: @terminal-out, @timer , x.y:@z_1, }");
    EXPECT_EQ(command.program, "hello");
    ASSERT_EQ(command.arg_count, 1u);
    ASSERT_EQ(command.grant_count, 3u);
    EXPECT_EQ(command.grants[0].name, "console");
    EXPECT_EQ(command.grants[0].cap, "terminal-out");
    EXPECT_EQ(command.grants[1].name, "timer");
    EXPECT_EQ(command.grants[1].cap, "timer");
    EXPECT_EQ(command.grants[2].name, "x.y");
    EXPECT_EQ(command.grants[2].cap, "z_1");
    EXPECT_EQ(parsed("hello with {}").grant_count, 0u);
    EXPECT_EQ(parsed("hello with{@a}").grant_count, 1u);
}

TEST(RunCommand, NewEndpoint) {
    using capos::shell::GrantSource;
    RunCommand command =
        parsed("echo-server with { service: new endpoint -> @echo, @console, b:new endpoint->@c }");
    ASSERT_EQ(command.grant_count, 3u);
    EXPECT_EQ(command.grants[0].name, "service");
    EXPECT_EQ(command.grants[0].cap, "echo");
    EXPECT_EQ(command.grants[0].source, GrantSource::NewEndpoint);
    EXPECT_EQ(command.grants[1].cap, "console");
    EXPECT_EQ(command.grants[1].source, GrantSource::Capability);
    EXPECT_EQ(command.grants[2].name, "b");
    EXPECT_EQ(command.grants[2].cap, "c");
    EXPECT_EQ(command.grants[2].source, GrantSource::NewEndpoint);
    EXPECT_EQ(command.grants[0].interface, "");
    command = parsed("fs with { service: new endpoint speaking Directory -> @usb }");
    ASSERT_EQ(command.grant_count, 1u);
    EXPECT_EQ(command.grants[0].interface, "Directory");
    EXPECT_EQ(command.grants[0].cap, "usb");
    EXPECT_EQ(command.grants[0].source, GrantSource::NewEndpoint);
    // A grant may still be called "new", and a capability "@new".
    command = parsed("hello with { new: @new }");
    ASSERT_EQ(command.grant_count, 1u);
    EXPECT_EQ(command.grants[0].name, "new");
    EXPECT_EQ(command.grants[0].cap, "new");
    EXPECT_EQ(command.grants[0].source, GrantSource::Capability);
}

TEST(RunCommand, NewEndpointErrors) {
    // Only an endpoint is made new.
    EXPECT_EQ(error_at("s with { a: new console -> @b }"), 16u);
    EXPECT_EQ(error_at("s with { a: newendpoint -> @b }"), 12u);
    EXPECT_EQ(error_at("s with { a: new endpoints -> @b }"), 16u);
    // The client side is named, with an '@'.
    EXPECT_EQ(error_at("s with { a: new endpoint }"), 25u);
    EXPECT_EQ(error_at("s with { a: new endpoint @b }"), 25u);
    EXPECT_EQ(error_at("s with { a: new endpoint -> b }"), 28u);
    EXPECT_EQ(error_at("s with { a: new endpoint -> @ }"), 9u);
    // 'speaking' names an interface before the arrow.
    EXPECT_EQ(error_at("s with { a: new endpoint speaking -> @b }"), 35u);
    EXPECT_EQ(error_at("s with { a: new endpoint speaking Directory @b }"), 44u);
    // `new` is not a capability's shorthand.
    EXPECT_EQ(error_at("s with { new endpoint -> @b }"), 13u);
    // Two client sides under one name.
    EXPECT_EQ(error_at("s with { a: new endpoint -> @c, b: new endpoint -> @c }"), 32u);
    EXPECT_EQ(error_at("s with { a: new endpoint -> @c, b: @c }"), SIZE_MAX);
    EXPECT_EQ(error_at("s with { a: new endpoint -> @c, a: new endpoint -> @d }"), 32u);
}

TEST(RunCommand, Errors) {
    EXPECT_EQ(error_at(""), 0u);
    EXPECT_EQ(error_at("   "), 0u);
    EXPECT_EQ(error_at("with { @a }"), 0u);
    EXPECT_EQ(error_at("he/llo"), 0u);
    EXPECT_EQ(error_at("hello with"), 10u);
    EXPECT_EQ(error_at("hello with @a"), 11u);
    EXPECT_EQ(error_at("hello with { @a"), 15u);
    EXPECT_EQ(error_at("hello with { a @b }"), 15u);
    EXPECT_EQ(error_at("hello with { a: b }"), 16u);
    EXPECT_EQ(error_at("hello with { : @b }"), 13u);
    EXPECT_EQ(error_at("hello with { @ }"), 13u);
    EXPECT_EQ(error_at("hello with { a: @b, a: @c }"), 20u);
    EXPECT_EQ(error_at("hello with { @a } more"), 18u);
    EXPECT_EQ(error_at("hello with { @a; }"), 15u);
    std::string long_name(48, 'n');
    EXPECT_NE(error_at("hello with { @" + long_name + " }"), SIZE_MAX);
    EXPECT_EQ(error_at("hello with { @" + long_name.substr(1) + " }"), SIZE_MAX);
    std::string many = "hello";
    for (size_t i = 0; i <= RunCommand::max_args; ++i)
        many += " a";
    EXPECT_NE(error_at(many), SIZE_MAX);
    std::string grants = "hello with {";
    for (size_t i = 0; i <= RunCommand::max_grants; ++i)
        grants += " g" + std::to_string(i) + ": @c,";
    EXPECT_NE(error_at(grants + "}"), SIZE_MAX);
}

// Random lines never crash or read outside the line, and every view of a
// result lies inside it.
TEST(RunCommand, RandomLinesStayInside) {
    const char alphabet[] = "ab @:{},\t-_.with";
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 20000; ++round) {
        std::string line;
        size_t length = (state >> 33) % 40;
        for (size_t i = 0; i < length; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            line += alphabet[(state >> 33) % (sizeof alphabet - 1)];
        }
        auto result = parse_run(line);
        auto inside = [&](std::string_view view) {
            return view.empty() || (view.data() >= line.data() &&
                                    view.data() + view.size() <= line.data() + line.size());
        };
        if (result.is_error()) {
            EXPECT_LE(result.error().offset, line.size());
            continue;
        }
        const RunCommand& command = result.value();
        EXPECT_TRUE(inside(command.program));
        for (std::string_view arg : command.arguments())
            EXPECT_TRUE(inside(arg));
        for (const auto& grant : command.grant_list()) {
            EXPECT_TRUE(inside(grant.name) && inside(grant.cap));
            EXPECT_TRUE(capos::shell::valid_cap_name(grant.name));
        }
    }
}

// Random lines of the grant list's words never crash or read outside the
// line, and a new endpoint's client side is always a valid name.
TEST(RunCommand, RandomGrantWordsStayInside) {
    const char* words[] = {"new", "endpoint", "->", "-", ">", "@a",   "@b", "a",
                           ":",   ",",        "{",  "}", " ", "with", "x"};
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (int round = 0; round < 20000; ++round) {
        std::string line = "p";
        size_t length = 1 + (state >> 33) % 14;
        for (size_t i = 0; i < length; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            line += words[(state >> 33) % (sizeof words / sizeof words[0])];
        }
        auto result = parse_run(line);
        if (result.is_error()) {
            EXPECT_LE(result.error().offset, line.size());
            continue;
        }
        for (const auto& grant : result.value().grant_list()) {
            EXPECT_GE(grant.cap.data(), line.data());
            EXPECT_LE(grant.cap.data() + grant.cap.size(), line.data() + line.size());
            EXPECT_TRUE(capos::shell::valid_cap_name(grant.cap));
            EXPECT_TRUE(capos::shell::valid_cap_name(grant.name));
        }
    }
}

} // namespace
