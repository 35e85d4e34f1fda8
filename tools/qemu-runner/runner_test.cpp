// Host tests of capos-qemu's pure parts: the scenario parser, the serial monitor and
// the QEMU command line. The end-to-end behaviour (timeouts, exit statuses, QEMU
// errors) is covered by the runner.* self-test scenarios in tests/scenarios/runner.
#include "tools/qemu-runner/qemu_command.h"
#include "tools/qemu-runner/scenario.h"
#include "tools/qemu-runner/serial_monitor.h"

#include <algorithm>
#include <gtest/gtest.h>

namespace capos::qemu {
namespace {

Scenario parse_ok(std::string_view text) {
    auto result = parse_scenario(text);
    EXPECT_TRUE(result.is_ok()) << (result.is_error() ? result.error().message : "");
    return result.is_ok() ? result.release_value() : Scenario{};
}

ScenarioError parse_error(std::string_view text) {
    auto result = parse_scenario(text);
    EXPECT_TRUE(result.is_error());
    return result.is_error() ? result.release_error() : ScenarioError{-1, ""};
}

bool contains(const std::vector<std::string>& argv, std::initializer_list<std::string> run) {
    return std::search(argv.begin(), argv.end(), run.begin(), run.end()) != argv.end();
}

TEST(ScenarioTest, EmptyFileGivesDefaults) {
    Scenario s = parse_ok("# nothing but a comment\n\n");
    EXPECT_EQ(s.boot, BootMode::Pvh);
    EXPECT_EQ(s.kernel, "kernel/kernel.elf");
    EXPECT_EQ(s.initrd, "system/boot.cpio");
    EXPECT_EQ(s.iso, "capos.iso");
    EXPECT_EQ(s.memory, "128M");
    EXPECT_EQ(s.timeout_seconds, 30);
    EXPECT_EQ(s.exit, ExpectedExit::Success);
    EXPECT_TRUE(s.expects.empty());
    EXPECT_EQ(s.forbidden, (std::vector<std::string>{"PANIC", "EXCEPTION"}));
}

TEST(ScenarioTest, ParsesEveryKey) {
    Scenario s = parse_ok("boot: pvh            # pvh (default)\n"
                          "kernel: k.elf\n"
                          "initrd: none\n"
                          "append: test=selftest verbose\n"
                          "memory: 1G\n"
                          "icount: 0\n"
                          "timeout: 7\n"
                          "expect: first line\n"
                          "expect: second line\n"
                          "allow: EXCEPTION\n"
                          "forbid: FAILED\n"
                          "exit: fault\n");
    EXPECT_EQ(s.kernel, "k.elf");
    EXPECT_FALSE(s.initrd.has_value());
    EXPECT_EQ(s.append, "test=selftest verbose");
    EXPECT_EQ(s.memory, "1G");
    EXPECT_EQ(s.icount_shift, std::optional<int>(0));
    EXPECT_EQ(s.timeout_seconds, 7);
    EXPECT_EQ(s.expects, (std::vector<std::string>{"first line", "second line"}));
    EXPECT_EQ(s.forbidden, (std::vector<std::string>{"PANIC", "FAILED"}));
    EXPECT_EQ(s.exit, ExpectedExit::Fault);
}

TEST(ScenarioTest, UefiDefaultsToALongerTimeout) {
    EXPECT_EQ(parse_ok("boot: iso-uefi\n").timeout_seconds, 120);
    EXPECT_EQ(parse_ok("timeout: 9\nboot: iso-uefi\n").timeout_seconds, 9);
    EXPECT_EQ(parse_ok("boot: iso-bios\n").timeout_seconds, 30);
}

TEST(ScenarioTest, CommentsAndQuoting) {
    Scenario s = parse_ok("expect: issue#5 fixed # a comment\r\n"
                          "expect: \"  spaced # not a comment \\\" \\\\ \"  # comment\n"
                          "   # indented comment\n");
    EXPECT_EQ(s.expects,
              (std::vector<std::string>{"issue#5 fixed", "  spaced # not a comment \" \\ "}));
}

TEST(ScenarioTest, ErrorsNameTheirLine) {
    struct Case {
        const char* text;
        int line;
        const char* message;
    };
    const Case cases[] = {
        {"expect: a\nexepct: b\n", 2, "unknown key 'exepct'"},
        {"just text\n", 1, "expected 'key: value'"},
        {"boot: pvh\n\nboot: pvh\n", 3, "duplicate key 'boot' (first on line 1)"},
        {"boot: floppy\n", 1, "bad boot"},
        {"memory: 128\n", 1, "bad memory"},
        {"memory: 0M\n", 1, "bad memory"},
        {"icount: 11\n", 1, "bad icount"},
        {"timeout: -5\n", 1, "bad timeout"},
        {"memory: -5M\n", 1, "bad memory"},
        {"icount: -1\n", 1, "bad icount"},
        {"icount: fast\n", 1, "bad icount"},
        {"timeout: 0\n", 1, "bad timeout"},
        {"timeout: 3601\n", 1, "bad timeout"},
        {"timeout: 5s\n", 1, "bad timeout"},
        {"exit: sometimes\n", 1, "bad exit"},
        {"expect:\n", 1, "empty value"},
        {"expect: # only a comment\n", 1, "empty value"},
        {"expect: \"open\n", 1, "unterminated"},
        {"expect: \"a\" b\n", 1, "unexpected text"},
        {"expect: \"a\\n\"\n", 1, "escaped"},
        {"allow: FAILED\n", 1, "not a forbidden pattern"},
        {"forbid: PANIC\n", 1, "already forbidden"},
        {"expect: a\nexit: running\n", 0, ""}, // valid, checked below
        {"exit: running\n", 1, "needs at least one expect"},
        {"append: x\nboot: iso-bios\n", 1, "'append' applies only to boot: pvh"},
        {"boot: iso-uefi\ninitrd: none\n", 2, "'initrd' applies only"},
        {"boot: iso-uefi\nkernel: k\n", 2, "'kernel' applies only"},
        {"iso: x.iso\n", 1, "'iso' applies only"},
        {"expect: ok\nexpect: PANIC: oom\n", 2, "forbidden pattern 'PANIC'"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        if (c.line == 0) {
            parse_ok(c.text);
            continue;
        }
        ScenarioError error = parse_error(c.text);
        EXPECT_EQ(error.line, c.line);
        EXPECT_NE(error.message.find(c.message), std::string::npos) << error.message;
    }
}

TEST(ScenarioTest, AllowedPatternMayBeExpected) {
    Scenario s = parse_ok("allow: PANIC\nexpect: PANIC: oom\nexit: panic\n");
    EXPECT_EQ(s.forbidden, (std::vector<std::string>{"EXCEPTION"}));
}

TEST(ScenarioTest, ExitStatusesFollowTheAbi) {
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Success), 1);
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Failure), 3);
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Panic), 5);
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Fault), 7);
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Reset), 0);
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Running), std::nullopt);
}

TEST(SerialMonitorTest, MatchesExpectsInOrderOnDistinctLines) {
    SerialMonitor monitor({"a", "b", "c"}, {});
    monitor.feed("b\nab\r\n");
    EXPECT_EQ(monitor.next_expect(), 1u); // "b" came before "a"; "ab" holds only one
    monitor.feed("xbx\nc");
    EXPECT_TRUE(monitor.all_expects_seen()); // the unterminated "c" counts
    EXPECT_EQ(monitor.matched_line(0), 1u);
    EXPECT_EQ(monitor.matched_line(1), 2u);
    EXPECT_EQ(monitor.matched_line(2), 3u);
    EXPECT_EQ(monitor.lines(), (std::vector<std::string>{"b", "ab", "xbx"}));
    monitor.finish();
    EXPECT_EQ(monitor.lines().back(), "c");
}

TEST(SerialMonitorTest, LineSplitAcrossFeedsAndCarriageReturns) {
    SerialMonitor monitor({"hello world"}, {"PANIC"});
    monitor.feed("hel");
    monitor.feed("lo\r wor");
    EXPECT_FALSE(monitor.all_expects_seen()); // "hello\r wor" is "hello wor"
    monitor.feed("\rld\n");
    EXPECT_TRUE(monitor.all_expects_seen());
    EXPECT_EQ(monitor.lines(), (std::vector<std::string>{"hello world"}));
    EXPECT_EQ(monitor.byte_count(), 14u);
}

TEST(SerialMonitorTest, StopMatchingFreezesTheVerdict) {
    SerialMonitor monitor({"a", "b"}, {"PANIC"});
    monitor.feed("a\n");
    monitor.stop_matching();
    monitor.feed("b\nPANIC\n");
    EXPECT_EQ(monitor.next_expect(), 1u);
    EXPECT_FALSE(monitor.forbidden_hit().has_value());
    EXPECT_EQ(monitor.lines().size(), 3u);
}

TEST(SerialMonitorTest, PartialLineMatchesOnce) {
    SerialMonitor monitor({"capos>", "capos>"}, {});
    monitor.feed("capos> ");
    EXPECT_EQ(monitor.next_expect(), 1u);
    monitor.feed("ls\n");
    EXPECT_EQ(monitor.next_expect(), 1u); // the completed line does not match again
    monitor.feed("capos> ");
    EXPECT_TRUE(monitor.all_expects_seen());
}

TEST(SerialMonitorTest, ForbiddenPatternStopsMatching) {
    SerialMonitor monitor({"boot", "done"}, {"PANIC", "EXCEPTION"});
    monitor.feed("boot\nEXCEPTION #PF at 0x0\ndone\n");
    ASSERT_TRUE(monitor.forbidden_hit().has_value());
    EXPECT_EQ(monitor.forbidden_hit()->pattern, "EXCEPTION");
    EXPECT_EQ(monitor.forbidden_hit()->line_index, 1u);
    EXPECT_EQ(monitor.line(monitor.forbidden_hit()->line_index), "EXCEPTION #PF at 0x0");
    EXPECT_EQ(monitor.next_expect(), 1u);
    EXPECT_EQ(monitor.lines().size(), 3u); // still logged
}

TEST(SerialMonitorTest, ForbiddenAfterAllExpectsAndInUnterminatedLine) {
    SerialMonitor monitor({"ready"}, {"PANIC"});
    monitor.feed("ready\nPANIC: hal");
    EXPECT_TRUE(monitor.all_expects_seen());
    ASSERT_TRUE(monitor.forbidden_hit().has_value());
    EXPECT_EQ(monitor.forbidden_hit()->line_index, 1u);
    EXPECT_EQ(monitor.line(1), "PANIC: hal");
    monitor.stop_matching();
    monitor.feed("ted\r\nEXCEPTION\n");
    EXPECT_EQ(monitor.line(1), "PANIC: halted");
    EXPECT_EQ(monitor.forbidden_hit()->pattern, "PANIC");
    EXPECT_EQ(monitor.lines().size(), 3u);
}

TEST(QemuCommandTest, PvhBoot) {
    Machine machine;
    machine.kernel = "k.elf";
    machine.initrd = "i.cpio";
    machine.append = "test=selftest";
    auto argv = qemu_command(machine);
    EXPECT_EQ(argv.front(), "qemu-system-x86_64");
    EXPECT_TRUE(contains(argv, {"-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "1", "-m",
                                "128M", "-no-reboot", "-display", "none", "-device",
                                "isa-debug-exit,iobase=0xf4,iosize=0x04"}));
    EXPECT_TRUE(contains(argv, {"-serial", "stdio", "-monitor", "none"}));
    EXPECT_TRUE(
        contains(argv, {"-kernel", "k.elf", "-initrd", "i.cpio", "-append", "test=selftest"}));
    EXPECT_FALSE(contains(argv, {"-cdrom"}));

    machine.initrd.reset();
    machine.append.clear();
    argv = qemu_command(machine);
    EXPECT_FALSE(contains(argv, {"-initrd"}));
    EXPECT_FALSE(contains(argv, {"-append"}));
}

TEST(QemuCommandTest, IsoBoots) {
    Machine machine;
    machine.boot = BootMode::IsoBios;
    machine.iso = "capos.iso";
    machine.console = Console::Interactive;
    auto argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-serial", "mon:stdio"}));
    EXPECT_TRUE(contains(argv, {"-cdrom", "capos.iso"}));
    EXPECT_FALSE(contains(argv, {"-kernel"}));
    EXPECT_FALSE(contains(argv, {"-drive"}));

    machine.boot = BootMode::IsoUefi;
    machine.ovmf_vars_fd = 9;
    machine.extra_args = {"-s", "-S"};
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-drive",
                                "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/"
                                "OVMF_CODE_4M.fd",
                                "-drive", "if=pflash,format=raw,unit=1,file=/dev/fd/9"}));
    EXPECT_TRUE(contains(argv, {"-cdrom", "capos.iso", "-s", "-S"}));
}

TEST(QemuCommandTest, ShellQuote) {
    EXPECT_EQ(shell_quote({"qemu", "-append", "a b", "it's", ""}),
              "qemu -append 'a b' 'it'\\''s' ''");
}

} // namespace
} // namespace capos::qemu
