// Host tests of capos-qemu's pure parts: the scenario parser, the ports, the serial
// input and monitor, and the QEMU command line. The end-to-end behaviour (timeouts, exit statuses,
// QEMU errors) is covered by the runner.* self-test scenarios in tests/scenarios/runner.
#include "tools/qemu-runner/ports.h"
#include "tools/qemu-runner/qemu_command.h"
#include "tools/qemu-runner/scenario.h"
#include "tools/qemu-runner/serial_input.h"
#include "tools/qemu-runner/serial_monitor.h"

#include <algorithm>
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
    EXPECT_EQ(s.machine_type, "q35");
    EXPECT_EQ(s.cpus, 1);
    EXPECT_EQ(s.debug_exit, true);
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
                          "irqoff: 250\n"
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
    EXPECT_EQ(s.irqoff_us, std::optional<int>(250));
    EXPECT_EQ(s.timeout_seconds, 7);
    EXPECT_EQ(s.expects, (std::vector<std::string>{"first line", "second line"}));
    EXPECT_EQ(s.forbidden, (std::vector<std::string>{"PANIC", "FAILED"}));
    EXPECT_EQ(s.exit, ExpectedExit::Fault);
}

TEST(ScenarioTest, DebugExitOffNeedsAnExitWithoutTheDevice) {
    for (std::string_view exit : {"success", "failure", "panic", "fault"}) {
        auto parsed =
            parse_scenario("debug-exit: off\nexpect: x\nexit: " + std::string(exit) + "\n");
        ASSERT_TRUE(parsed.is_error()) << exit;
        EXPECT_EQ(parsed.error().line, 1);
        EXPECT_NE(parsed.error().message.find("debug-exit: off cannot end with exit: " +
                                              std::string(exit)),
                  std::string::npos)
            << parsed.error().message;
    }
    // The default exit is success: off alone is refused too.
    EXPECT_TRUE(parse_scenario("debug-exit: off\nexpect: x\n").is_error());
    for (std::string_view exit : {"poweroff", "reset", "running"})
        EXPECT_TRUE(
            parse_scenario("debug-exit: off\nexpect: x\nexit: " + std::string(exit) + "\n").is_ok())
            << exit;
}

TEST(ScenarioTest, DriveKeep) {
    Scenario s = parse_ok("drive: d a.img\ndrive-keep: d out/d.img\n");
    ASSERT_EQ(s.drives.size(), 1u);
    EXPECT_EQ(s.drives[0].kept, "out/d.img");
    EXPECT_TRUE(parse_scenario("drive-keep: d out.img\n").is_error());
    EXPECT_TRUE(parse_scenario("drive: d a.img\ndrive-keep: d\n").is_error());
    EXPECT_TRUE(parse_scenario("drive: d a.img\ndrive-keep: d x\ndrive-keep: d y\n").is_error());
    EXPECT_TRUE(
        parse_scenario("drive: d a.img\ndrive-keep: d x\nexpect: y\nexit: running\n").is_error());
}

TEST(ScenarioTest, RebootAllowRunsWithoutNoReboot) {
    Scenario s = parse_ok("reboot: allow\nexpect: x\nexit: poweroff\n");
    EXPECT_TRUE(s.reboots);
    EXPECT_FALSE(parse_ok("expect: x\n").reboots);
    EXPECT_TRUE(parse_scenario("reboot: yes\n").is_error());
    EXPECT_TRUE(parse_scenario("reboot: allow\nexit: reset\n").is_error());
    Machine machine;
    machine.kernel = "k.elf";
    auto argv = qemu_command(machine);
    EXPECT_NE(std::find(argv.begin(), argv.end(), "-no-reboot"), argv.end());
    machine.reboots = true;
    argv = qemu_command(machine);
    EXPECT_EQ(std::find(argv.begin(), argv.end(), "-no-reboot"), argv.end());
}

TEST(ScenarioTest, ParsesMachineCpusAndDebugExit) {
    Scenario s = parse_ok("machine: pc\n"
                          "cpus: 4   # a comment\n"
                          "debug-exit: off\n"
                          "exit: poweroff\n");
    EXPECT_EQ(s.machine_type, "pc");
    EXPECT_EQ(s.cpus, 4);
    EXPECT_EQ(s.debug_exit, false);
    EXPECT_EQ(s.exit, ExpectedExit::PowerOff);

    s = parse_ok("machine: q35\ncpus: 64\ndebug-exit: on\n");
    EXPECT_EQ(s.machine_type, "q35");
    EXPECT_EQ(s.cpus, 64);
    EXPECT_EQ(s.debug_exit, true);
    EXPECT_EQ(s.exit, ExpectedExit::Success);

    Scenario topology = parse_ok("cpus: 6,sockets=2,cores=3\nmttcg: on\n");
    EXPECT_EQ(topology.cpus, 6);
    EXPECT_EQ(topology.topology, ",sockets=2,cores=3");
    EXPECT_TRUE(topology.multi_threaded);
    EXPECT_EQ(parse_ok("cpus: 2,maxcpus=4\n").topology, ",maxcpus=4");
    EXPECT_FALSE(parse_ok("cpus: 2\nmttcg: off\n").multi_threaded);
    EXPECT_EQ(parse_ok("cpus: 2\n").topology, "");
    EXPECT_EQ(parse_ok("cpus: 1\n").cpus, 1);
    EXPECT_EQ(parse_ok("cpus: 2\n").machine_type, "q35");
    EXPECT_EQ(parse_ok("machine: pc\n").cpus, 1);
    EXPECT_EQ(parse_ok("machine: pc\n").debug_exit, true);
    EXPECT_EQ(parse_ok("boot: iso-uefi\nmachine: pc\ncpus: 2\n").cpus, 2);
    EXPECT_EQ(parse_ok("cpus: 2\n").cpu_features, "");
    EXPECT_EQ(parse_ok("cpu-features: -xsave\n").cpu_features, ",-xsave");
    EXPECT_EQ(parse_ok("cpu-features: +pdpe1gb,-avx2,-x2apic\n").cpu_features,
              ",+pdpe1gb,-avx2,-x2apic");
}

TEST(ScenarioTest, DevicesRepeatInOrder) {
    EXPECT_TRUE(parse_ok("expect: x\n").devices.empty());
    Scenario s = parse_ok("device: pcie-root-port,id=rp1,chassis=1\n"
                          "expect: x\n"
                          "device: \"virtio-rng-pci,bus=rp1\"  # behind the port\n"
                          "device: e1000\n");
    EXPECT_EQ(s.devices, (std::vector<std::string>{"pcie-root-port,id=rp1,chassis=1",
                                                   "virtio-rng-pci,bus=rp1", "e1000"}));
    auto empty = parse_scenario("device:\n");
    ASSERT_TRUE(empty.is_error());
    EXPECT_EQ(empty.error().message, "empty value for 'device'");
}

TEST(ScenarioTest, DrivesAndWhatTheyMustHoldAfter) {
    EXPECT_TRUE(parse_ok("expect: x\n").drives.empty());
    Scenario s = parse_ok("drive: disk0 disks/a.img\n"
                          "drive: ro_1  disks/b.img   read-only  # a comment\n"
                          "device: virtio-blk-pci,drive=disk0\n"
                          "drive-expect: disk0 disks/c.img\n");
    ASSERT_EQ(s.drives.size(), 2u);
    EXPECT_EQ(s.drives[0].id, "disk0");
    EXPECT_EQ(s.drives[0].image, "disks/a.img");
    EXPECT_FALSE(s.drives[0].read_only);
    EXPECT_EQ(s.drives[0].expected, std::optional<std::string>("disks/c.img"));
    EXPECT_EQ(s.drives[1].id, "ro_1");
    EXPECT_EQ(s.drives[1].image, "disks/b.img");
    EXPECT_TRUE(s.drives[1].read_only);
    EXPECT_FALSE(s.drives[1].expected);
    EXPECT_FALSE(s.drives[0].read_error_sector);
    EXPECT_FALSE(s.drives[0].write_error_sector);
    Scenario errors = parse_ok("drive: e x.img write-error=7001 read-only read-error=0\n");
    ASSERT_EQ(errors.drives.size(), 1u);
    EXPECT_TRUE(errors.drives[0].read_only);
    EXPECT_EQ(errors.drives[0].read_error_sector, std::optional<uint64_t>(0));
    EXPECT_EQ(errors.drives[0].write_error_sector, std::optional<uint64_t>(7001));

    struct Case {
        const char* text;
        int line;
        const char* message;
    };
    const Case cases[] = {
        {"drive: disk0\n", 1,
         "bad drive 'disk0' (want '<id> <image> [read-only] [read-error=<sector>] "
         "[write-error=<sector>]'"},
        {"drive: disk0 a.img rw\n", 1, "bad drive 'disk0 a.img rw'"},
        {"drive: disk0 a.img read-only x\n", 1, "bad drive"},
        {"drive: disk0 a.img read-only read-only\n", 1, "bad drive"},
        {"drive: disk0 a.img read-error=\n", 1, "bad drive"},
        {"drive: disk0 a.img read-error=x\n", 1, "bad drive"},
        {"drive: disk0 a.img read-error=-1\n", 1, "bad drive"},
        {"drive: disk0 a.img read-error=01\n", 1, "bad drive"},
        {"drive: disk0 a.img read-error=18446744073709551616\n", 1, "bad drive"},
        {"drive: disk0 a.img read-error=1 read-error=2\n", 1, "bad drive"},
        {"drive: disk0 a.img write-error=1,file=x\n", 1, "bad drive"},
        {"drive: disk0 a.img error=1\n", 1, "bad drive"},
        {"drive: 0disk a.img\n", 1, "bad drive '0disk a.img'"},
        {"drive: -d a.img\n", 1, "bad drive"},
        {"drive: d,file=/etc/passwd a.img\n", 1, "bad drive"},
        {"drive: d=1 a.img\n", 1, "bad drive"},
        {"drive: d.1 a.img\n", 1, "bad drive"},
        {"drive: dddddddddddddddddddddddddddddddddd a.img\n", 1, "bad drive"},
        {"drive: d a.img\ndrive: d b.img\n", 2, "drive 'd' is attached already"},
        {"drive-expect: d a.img\ndrive: d a.img\n", 1,
         "drive-expect names no drive attached above: 'd'"},
        {"drive: d a.img\ndrive-expect: d\n", 2, "bad drive-expect 'd' (want '<id> <file>')"},
        {"drive: d a.img\ndrive-expect: d b.img c.img\n", 2, "bad drive-expect"},
        {"drive: d a.img\ndrive-expect: d b.img\ndrive-expect: d b.img\n", 3,
         "drive 'd' has a drive-expect already"},
        {"drive: d a.img\ndrive-expect: d b.img\nexpect: x\nexit: running\n", 2,
         "drive-expect needs a run QEMU ends by itself, not exit: running"},
        {"drive:\n", 1, "empty value for 'drive'"},
        {"drive: d a.img\nexpect: x\nexit: running\n", 0, ""}, // no expect: fine
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
        {"irqoff: 0\n", 1, "bad irqoff"},
        {"irqoff: 1000001\n", 1, "bad irqoff"},
        {"irqoff: 1ms\n", 1, "bad irqoff"},
        {"timeout: 0\n", 1, "bad timeout"},
        {"timeout: 3601\n", 1, "bad timeout"},
        {"timeout: 5s\n", 1, "bad timeout"},
        {"exit: sometimes\n", 1, "bad exit"},
        {"expect:\n", 1, "empty value"},
        {"expect: # only a comment\n", 1, "empty value"},
        {"expect: \"open\n", 1, "unterminated"},
        {"expect: \"a\" b\n", 1, "unexpected text"},
        {"expect: \"a\\q\"\n", 1, "bad escape '\\q'"},
        {"allow: FAILED\n", 1, "not a forbidden pattern"},
        {"forbid: PANIC\n", 1, "already forbidden"},
        {"expect: a\nexit: running\n", 0, ""}, // valid, checked below
        {"exit: running\n", 1, "needs at least one expect"},
        {"append: x\nboot: iso-bios\n", 1, "'append' applies only to boot: pvh"},
        {"boot: iso-uefi\ninitrd: none\n", 2, "'initrd' applies only"},
        {"boot: iso-uefi\nkernel: k\n", 2, "'kernel' applies only"},
        {"iso: x.iso\n", 1, "'iso' applies only"},
        {"expect: ok\nexpect: PANIC: oom\n", 2, "forbidden pattern 'PANIC'"},
        {"cpu-features: xsave\n", 1, "bad cpu-features 'xsave' (want e.g. -xsave"},
        {"cpu-features: -\n", 1, "bad cpu-features '-' (want e.g. -xsave"},
        {"cpu-features: -xsave,\n", 1, "bad cpu-features '-xsave,' (want e.g. -xsave"},
        {"cpu-features: -xsave -smp 4\n", 1, "bad cpu-features '-xsave -smp 4'"},
        {"cpu-features: -XSAVE\n", 1, "bad cpu-features '-XSAVE'"},
        {"cpus: 0\n", 1, "bad cpus '0' (want whole CPUs, 1 to 64"},
        {"cpus: 65\n", 1, "bad cpus '65' (want whole CPUs, 1 to 64"},
        {"cpus: -1\n", 1, "bad cpus '-1' (want whole CPUs, 1 to 64"},
        {"cpus: 02\n", 1, "bad cpus '02' (want whole CPUs, 1 to 64"},
        {"cpus: 2.5\n", 1, "bad cpus '2.5' (want whole CPUs, 1 to 64"},
        {"cpus: four\n", 1, "bad cpus 'four' (want whole CPUs, 1 to 64"},
        {"cpus: 99999999999\n", 1, "bad cpus '99999999999' (want whole CPUs, 1 to 64"},
        {"cpus: 4,sockets=2,sockets=2\n", 1, "bad cpus '4,sockets=2,sockets=2'"},
        {"cpus: 4,nodes=2\n", 1, "bad cpus '4,nodes=2'"},
        {"cpus: 4,cores=0\n", 1, "bad cpus '4,cores=0'"},
        {"cpus: 4,cores\n", 1, "bad cpus '4,cores'"},
        {"cpus: 4,\n", 1, "bad cpus '4,'"},
        {"cpus: 4,cores=2 -accel kvm\n", 1, "bad cpus"},
        {"mttcg: yes\n", 1, "bad mttcg 'yes' (want on or off)"},
        {"machine: virt\n", 1, "bad machine 'virt' (want q35 or pc)"},
        {"machine: Q35\n", 1, "bad machine 'Q35' (want q35 or pc)"},
        {"machine: pc-q35-7.2\n", 1, "bad machine 'pc-q35-7.2' (want q35 or pc)"},
        {"debug-exit: maybe\n", 1, "bad debug-exit 'maybe' (want on or off)"},
        {"debug-exit: yes\n", 1, "bad debug-exit 'yes' (want on or off)"},
        {"debug-exit: ON\n", 1, "bad debug-exit 'ON' (want on or off)"},
        {"exit: power-off\n", 1,
         "bad exit 'power-off' (want success, failure, panic, fault, reset, poweroff or running)"},
        {"cpus:\n", 1, "empty value for 'cpus'"},
        {"machine: pc\ncpus: 2\nmachine: pc\n", 3, "duplicate key 'machine' (first on line 1)"},
        {"cpus: 2\n\ncpus: 2\n", 3, "duplicate key 'cpus' (first on line 1)"},
        {"debug-exit: off\ndebug-exit: on\n", 2, "duplicate key 'debug-exit' (first on line 1)"},
        {"debug_exit: off\n", 1, "unknown key 'debug_exit'"},
        {"smp: 2\n", 1, "unknown key 'smp'"},
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

TEST(ScenarioTest, QuotedValueEscapes) {
    Scenario s = parse_ok("send: \"a\\r\\n\\t\\e\\x03\\x7F\\xff\\x00\\\\\\\"\"\n"
                          "send: plain \\r # unquoted: no escapes\n"
                          "expect: \"\\e[1mbold\\t\\\\\"\n");
    ASSERT_EQ(s.sends.size(), 2u);
    EXPECT_EQ(s.sends[0].bytes, std::string("a\r\n\t\x1b\x03\x7f\xff\0\\\"", 11));
    EXPECT_EQ(s.sends[1].bytes, "plain \\r");
    EXPECT_EQ(s.expects, (std::vector<std::string>{"\x1b[1mbold\t\\"}));
}

TEST(ScenarioTest, RepeatWritesTheByteBeforeItNTimes) {
    Scenario s = parse_ok("send: \"echo x\\{5}\\r\\x00\\{3}z\\{1}y\\{10000}\"\n");
    ASSERT_EQ(s.sends.size(), 1u);
    EXPECT_EQ(s.sends[0].bytes,
              "echo xxxxx\r" + std::string(3, '\0') + "z" + std::string(10000, 'y'));
    EXPECT_EQ(parse_ok("send: \"}\\{2}{\"\n").sends[0].bytes, "}}{");
}

TEST(ScenarioTest, EscapeErrors) {
    struct Case {
        const char* text;
        const char* message;
    };
    const Case cases[] = {
        {"send: \"\\q\"\n", "bad escape '\\q'"},
        {"send: \"\\E\"\n", "bad escape '\\E'"},
        {"send: \"\\x4\"\n", "bad escape '\\x4' (\\x takes two hex digits)"},
        {"send: \"\\xg0\"\n", "bad escape '\\x' (\\x takes two hex digits)"},
        {"send: \"\\x\n", "bad escape '\\x'"},
        {"send: \"\\{3}\"\n", "a repeat '\\{N}' needs a byte before it"},
        {"send: \"a\\{0}\"\n", "bad repeat '\\{0'"},
        {"send: \"a\\{}\"\n", "bad repeat '\\{'"},
        {"send: \"a\\{100001}\"\n", "bad repeat '\\{100001'"},
        {"send: \"a\\{1x}\"\n", "bad repeat '\\{1x'"},
        {"send: \"a\\{12\"\n", "bad repeat '\\{12\"'"},
        {"send: \"abc\\\n", "unterminated quoted value"},
        {"send: \"\"\n", "empty value for 'send'"},
        {"expect: \"prompt\\n\"\n", "'expect' cannot hold \\r, \\n or \\x00"},
        {"expect: \"prompt\\r\"\n", "'expect' cannot hold"},
        {"append: \"a\\x00b\"\n", "'append' cannot hold"},
        {"forbid: \"\\n\"\n", "'forbid' cannot hold"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        ScenarioError error = parse_error(c.text);
        EXPECT_EQ(error.line, 1);
        EXPECT_NE(error.message.find(c.message), std::string::npos) << error.message;
    }
}

TEST(ScenarioTest, QuotedValueReadsBackEveryByte) {
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    std::string quoted = quoted_value(all);
    EXPECT_EQ(quoted.find_first_of("\r\n"), std::string::npos);
    Scenario s = parse_ok("send: " + quoted + "  # a comment\n");
    ASSERT_EQ(s.sends.size(), 1u);
    EXPECT_EQ(s.sends[0].bytes, all);
    EXPECT_EQ(quoted_value("help\r\x03\x1b[A\"\\"), "\"help\\r\\x03\\e[A\\\"\\\\\"");
}

TEST(ScenarioTest, SendsKeepTheirPlaceAmongExpects) {
    Scenario s = parse_ok("send: early\n"
                          "boot: iso-bios\n" // sends apply to every boot
                          "expect: login:\n"
                          "send: \"root\\r\"\n"
                          "allow: PANIC\n" // other keys do not count
                          "send: \"ls\\r\"\n"
                          "expect: $\n"
                          "expect: \"# \"\n"
                          "send: \"\\x04\"\n"
                          "exit: running\n");
    ASSERT_EQ(s.sends.size(), 4u);
    EXPECT_EQ(s.sends[0].bytes, "early");
    EXPECT_EQ(s.sends[0].after_expects, 0u);
    EXPECT_EQ(s.sends[1].bytes, "root\r");
    EXPECT_EQ(s.sends[1].after_expects, 1u);
    EXPECT_EQ(s.sends[2].after_expects, 1u);
    EXPECT_EQ(s.sends[3].bytes, "\x04");
    EXPECT_EQ(s.sends[3].after_expects, 3u);
    EXPECT_EQ(s.expects.size(), 3u);
    EXPECT_TRUE(parse_ok("expect: a\n").sends.empty());
    // exit: running still wants an expect to start from.
    EXPECT_EQ(parse_error("send: x\nexit: running\n").line, 2);
}

TEST(ScenarioTest, HostCommandsKeepTheirPlaceAmongExpects) {
    Scenario s = parse_ok("host: ./server.py --early\n"
                          "expect: listening\n"
                          "send: \"go\\r\"\n"
                          "host: test \"$CAPOS_TCP_WEB\" -ge 3 && echo ok\n"
                          "host: \"echo 'a # b'\"  # quoted: the '#' is the command's\n"
                          "expect: done\n"
                          "expect: bye\n"
                          "host: sleep 1 # a comment\n");
    ASSERT_EQ(s.hosts.size(), 4u);
    EXPECT_EQ(s.hosts[0].command, "./server.py --early");
    EXPECT_EQ(s.hosts[0].after_expects, 0u);
    EXPECT_EQ(s.hosts[1].command, "test \"$CAPOS_TCP_WEB\" -ge 3 && echo ok");
    EXPECT_EQ(s.hosts[1].after_expects, 1u);
    EXPECT_EQ(s.hosts[2].command, "echo 'a # b'");
    EXPECT_EQ(s.hosts[2].after_expects, 1u);
    EXPECT_EQ(s.hosts[3].command, "sleep 1");
    EXPECT_EQ(s.hosts[3].after_expects, 3u);
    EXPECT_EQ(s.sends.size(), 1u); // a host line is no send
    EXPECT_TRUE(s.ports.empty());
    EXPECT_TRUE(parse_ok("expect: a\n").hosts.empty());

    ScenarioError empty = parse_error("expect: a\nhost:\n");
    EXPECT_EQ(empty.line, 2);
    EXPECT_EQ(empty.message, "empty value for 'host'");
    EXPECT_EQ(parse_error("host: # only a comment\n").message, "empty value for 'host'");
    EXPECT_EQ(parse_error("host: \"\"\n").message, "empty value for 'host'");
    // A command is one line.
    ScenarioError newline = parse_error("host: \"echo a\\necho b\"\n");
    EXPECT_EQ(newline.line, 1);
    EXPECT_NE(newline.message.find("'host' cannot hold"), std::string::npos) << newline.message;
}

TEST(ScenarioTest, PortsAreNamedInNetdevHostAndSendValues) {
    Scenario s = parse_ok("netdev: user,id=n0,hostfwd=tcp:127.0.0.1:{port:echo}-:7\n"
                          "host: ./client {port:echo} {port:web}\n"
                          "host: ./server --port {port:web} {port:web_2}\n"
                          "send: \"connect {port:web-3}\\r\"\n"
                          "netdev: user,id=n1,hostfwd=udp:127.0.0.1:{port:web_2}-:53\n");
    ASSERT_EQ(s.ports.size(), 4u);
    EXPECT_EQ(s.ports[0].name, "echo");
    EXPECT_TRUE(s.ports[0].for_qemu);
    EXPECT_EQ(s.ports[1].name, "web");
    EXPECT_FALSE(s.ports[1].for_qemu); // only in host values: the runner holds it
    EXPECT_EQ(s.ports[2].name, "web_2");
    EXPECT_TRUE(s.ports[2].for_qemu); // in a netdev too, if only later
    EXPECT_EQ(s.ports[3].name, "web-3");
    EXPECT_FALSE(s.ports[3].for_qemu);
    // The values keep their placeholders; the runner substitutes them for each run.
    EXPECT_EQ(s.netdevs[0], "user,id=n0,hostfwd=tcp:127.0.0.1:{port:echo}-:7");
    EXPECT_EQ(s.hosts[0].command, "./client {port:echo} {port:web}");
    EXPECT_EQ(s.sends[0].bytes, "connect {port:web-3}\r");
    // Any other '{' is text, in any key.
    Scenario braces = parse_ok("expect: {port} {ports:x} {PORT:x} port:x} {}\n"
                               "host: awk '{print $1}' {port\n");
    EXPECT_EQ(braces.expects[0], "{port} {ports:x} {PORT:x} port:x} {}");
    EXPECT_EQ(braces.hosts[0].command, "awk '{print $1}' {port");
    EXPECT_TRUE(braces.ports.empty());
}

TEST(ScenarioTest, PortsOfNetdevsThatConnectAreThePeers) {
    Scenario s = parse_ok("netdev: socket,id=n0,connect=127.0.0.1:{port:wire}\n"
                          "netdev: stream,id=n1,server=off,addr.type=inet,addr.host=127.0.0.1,"
                          "addr.port={port:wire2}\n"
                          "netdev: socket,id=n2,listen=127.0.0.1:{port:bound}\n"
                          "host: ./peer {port:wire} {port:wire2}\n");
    ASSERT_EQ(s.ports.size(), 3u);
    EXPECT_EQ(s.ports[0].name, "wire");
    EXPECT_FALSE(s.ports[0].for_qemu); // QEMU connects: the runner holds it for the peer
    EXPECT_EQ(s.ports[1].name, "wire2");
    EXPECT_FALSE(s.ports[1].for_qemu);
    EXPECT_EQ(s.ports[2].name, "bound");
    EXPECT_TRUE(s.ports[2].for_qemu); // QEMU listens: QEMU binds it
}

TEST(ScenarioTest, PortPlaceholderErrorsNameTheirLine) {
    struct Case {
        const char* text;
        int line;
        const char* message;
    };
    const Case cases[] = {
        {"expect: a\nhost: echo {port:}\n", 2, "bad placeholder '{port:}'"},
        {"host: echo {port:bad name}\n", 1, "bad placeholder '{port:bad name}'"},
        {"host: echo {port:a.b}\n", 1, "bad placeholder '{port:a.b}'"},
        {"host: echo {port:web\n", 1, "bad placeholder '{port:web'"},
        {"send: \"{port:web}{port:\\x01}\"\n", 1, "bad placeholder '{port:\x01}'"},
        {"netdev: user,id=n0,hostfwd=tcp::{port:}-:7\n", 1, "bad placeholder '{port:}'"},
        // Placeholders apply only where a port can go.
        {"expect: a\nexpect: port {port:web}\n", 2,
         "'{port:web}' in 'expect' (ports apply only to netdev, host and send values)"},
        {"device: virtio-net-pci,netdev={port:x}\n", 1, "'{port:x}' in 'device'"},
        {"append: port={port:x}\n", 1, "'{port:x}' in 'append'"},
        {"forbid: {port:x}\n", 1, "'{port:x}' in 'forbid'"},
        {"expect: {port:}\n", 1, "bad placeholder '{port:}'"},
        // Two names one environment variable would stand for.
        {"host: a {port:web-1}\nhost: b {port:WEB_1}\n", 2,
         "port names 'web-1' and 'WEB_1' differ only in case or '-' against '_'"},
        {"netdev: {port:a_b}\nsend: {port:a-b}\n", 2, "port names 'a_b' and 'a-b'"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        ScenarioError error = parse_error(c.text);
        EXPECT_EQ(error.line, c.line);
        EXPECT_NE(error.message.find(c.message), std::string::npos) << error.message;
    }
}

TEST(PortsTest, PlaceholdersInOrder) {
    auto names = port_placeholders("a {port:x}{port:y-1} {port:x} {b} {port");
    ASSERT_TRUE(names.is_ok());
    EXPECT_EQ(names.value(), (std::vector<std::string>{"x", "y-1", "x"}));
    EXPECT_TRUE(port_placeholders("no ports { here }").value().empty());
    EXPECT_TRUE(port_placeholders("").value().empty());
    EXPECT_TRUE(port_placeholders("{port:ok} {port:}").is_error());
    EXPECT_TRUE(is_valid_port_name("Web_2-x"));
    EXPECT_FALSE(is_valid_port_name(""));
    EXPECT_FALSE(is_valid_port_name("a b"));
    EXPECT_FALSE(is_valid_port_name("a:b"));
    EXPECT_FALSE(is_valid_port_name("a}"));
}

TEST(PortsTest, SubstitutesEveryPlaceholderOfAKnownName) {
    PortMap ports{{"echo", 40001}, {"web", 7}, {"web-2", 65535}};
    EXPECT_EQ(substitute_ports("hostfwd=tcp:127.0.0.1:{port:echo}-:7", ports),
              "hostfwd=tcp:127.0.0.1:40001-:7");
    EXPECT_EQ(substitute_ports("{port:web}{port:web-2} {port:web}", ports), "765535 7");
    EXPECT_EQ(substitute_ports("nothing to do", ports), "nothing to do");
    EXPECT_EQ(substitute_ports("", ports), "");
    // Other braces, unknown names and malformed placeholders stay as they are.
    EXPECT_EQ(substitute_ports("{port:other} {port:} {port:web {{port:echo}}", ports),
              "{port:other} {port:} {port:web {40001}");
    EXPECT_EQ(substitute_ports("awk '{print}' {port:echo", ports), "awk '{print}' {port:echo");
    EXPECT_EQ(substitute_ports("{port:Echo}", ports), "{port:Echo}"); // names are exact
    EXPECT_EQ(substitute_ports("{port:echo}", {}), "{port:echo}");
}

TEST(PortsTest, EnvironmentVariableNames) {
    EXPECT_EQ(port_env_name("TCP", "web"), "CAPOS_TCP_WEB");
    EXPECT_EQ(port_env_name("UDP", "web"), "CAPOS_UDP_WEB");
    EXPECT_EQ(port_env_name("TCP", "dns-server_2"), "CAPOS_TCP_DNS_SERVER_2");
    EXPECT_EQ(port_env_name("UDP", "Echo-A"), "CAPOS_UDP_ECHO_A");
    EXPECT_EQ(port_env_name("TCP", "9"), "CAPOS_TCP_9");
}

// The local port of a socket, or 0.
uint16_t local_port(int fd) {
    sockaddr_in address = {};
    socklen_t length = sizeof address;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        return 0;
    EXPECT_EQ(ntohl(address.sin_addr.s_addr), INADDR_LOOPBACK);
    return ntohs(address.sin_port);
}

TEST(PortsTest, BindsOnePortForTcpAndUdp) {
    auto first = bind_free_port();
    ASSERT_TRUE(first.is_ok()) << first.error();
    auto second = bind_free_port();
    ASSERT_TRUE(second.is_ok()) << second.error();
    for (const BoundPort* bound : {&first.value(), &second.value()}) {
        EXPECT_NE(bound->port, 0);
        EXPECT_EQ(local_port(bound->tcp.get()), bound->port);
        EXPECT_EQ(local_port(bound->udp.get()), bound->port);
        int listening = 0;
        socklen_t length = sizeof listening;
        ASSERT_EQ(getsockopt(bound->tcp.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &length), 0);
        EXPECT_EQ(listening, 1);
        int type = 0;
        length = sizeof type;
        ASSERT_EQ(getsockopt(bound->udp.get(), SOL_SOCKET, SO_TYPE, &type, &length), 0);
        EXPECT_EQ(type, SOCK_DGRAM);
        // Neither leaks into QEMU or a host command that is not given it.
        EXPECT_EQ(fcntl(bound->tcp.get(), F_GETFD), FD_CLOEXEC);
        EXPECT_EQ(fcntl(bound->udp.get(), F_GETFD), FD_CLOEXEC);
    }
    EXPECT_NE(first.value().port, second.value().port); // both held at once

    // A connection reaches the listening socket before anyone accepts.
    UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(first.value().port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
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
    EXPECT_EQ(expected_qemu_status(ExpectedExit::PowerOff), 0);
    EXPECT_EQ(expected_qemu_status(ExpectedExit::Running), std::nullopt);
}

TEST(ScenarioTest, ExitNames) {
    EXPECT_EQ(to_string(ExpectedExit::Success), "success");
    EXPECT_EQ(to_string(ExpectedExit::Failure), "failure");
    EXPECT_EQ(to_string(ExpectedExit::Panic), "panic");
    EXPECT_EQ(to_string(ExpectedExit::Fault), "fault");
    EXPECT_EQ(to_string(ExpectedExit::Reset), "reset");
    EXPECT_EQ(to_string(ExpectedExit::PowerOff), "poweroff");
    EXPECT_EQ(to_string(ExpectedExit::Running), "running");
    // Each name reads back as its exit.
    for (ExpectedExit exit : {ExpectedExit::Success, ExpectedExit::Failure, ExpectedExit::Panic,
                              ExpectedExit::Fault, ExpectedExit::Reset, ExpectedExit::PowerOff}) {
        SCOPED_TRACE(to_string(exit));
        EXPECT_EQ(parse_ok("exit: " + std::string(to_string(exit)) + "\n").exit, exit);
    }
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

std::vector<Send> three_sends() {
    // Typed at the start, then two once the second expect has matched.
    return {Send{"boot\r", 0}, Send{"ls\r", 2}, Send{"exit\r", 2}};
}

TEST(SerialInputTest, ReleasesInOrderOnceTheirExpectsMatched) {
    SerialInput input(three_sends());
    EXPECT_FALSE(input.all_released());
    input.release(0, 0, 0);
    EXPECT_EQ(input.pending(), "boot\r");
    input.release(1, 3, 2);
    EXPECT_EQ(input.pending(), "boot\r"); // the others wait for expect #2
    input.release(2, 5, 7);
    EXPECT_TRUE(input.all_released());
    EXPECT_EQ(input.pending(), "boot\rls\rexit\r");
    input.release(3, 9, 0); // nothing left to release
    ASSERT_EQ(input.marks().size(), 3u);
    EXPECT_EQ(input.marks()[0].send, 0u);
    EXPECT_EQ(input.marks()[0].line_index, 0u);
    EXPECT_EQ(input.marks()[1].send, 1u);
    EXPECT_EQ(input.marks()[1].line_index, 5u);
    EXPECT_EQ(input.marks()[1].column, 7u);
    EXPECT_EQ(input.marks()[2].send, 2u);
    EXPECT_EQ(input.released_bytes(), 13u);
}

TEST(SerialInputTest, ConsumeWalksThroughTheQueue) {
    SerialInput input(three_sends());
    input.release(2, 0, 0);
    input.consume(3);
    EXPECT_EQ(input.pending(), "t\rls\rexit\r");
    EXPECT_EQ(input.written_bytes(), 3u);
    input.consume(5);
    EXPECT_EQ(input.pending(), "exit\r");
    EXPECT_FALSE(input.all_written());
    input.consume(5);
    EXPECT_TRUE(input.pending().empty());
    EXPECT_TRUE(input.all_written());
    EXPECT_EQ(input.written_bytes(), 13u);
}

TEST(SerialInputTest, LargeSendsQueueWhole) {
    std::string big(10000, 'x');
    big.back() = '\r';
    SerialInput input({Send{big, 1}, Send{"y", 1}});
    input.release(1, 0, 0);
    size_t written = 0;
    while (!input.pending().empty()) { // as a 4 KiB pipe would take them
        std::string_view chunk = input.pending().substr(0, 4096);
        EXPECT_EQ(chunk, (big + "y").substr(written, chunk.size()));
        written += chunk.size();
        input.consume(chunk.size());
    }
    EXPECT_EQ(written, 10001u);
    EXPECT_TRUE(input.all_written());
}

TEST(SerialInputTest, UndeliveredBytesNameTheirSend) {
    SerialInput input(three_sends());                    // 5, 3 and 5 bytes
    EXPECT_EQ(input.first_undelivered(0), std::nullopt); // nothing released
    input.release(2, 0, 0);
    EXPECT_EQ(input.first_undelivered(0), std::optional<size_t>(0));
    EXPECT_EQ(input.undelivered_bytes(0, 0), 5u);
    EXPECT_EQ(input.first_undelivered(5), std::optional<size_t>(1));
    EXPECT_EQ(input.undelivered_bytes(0, 5), 0u);
    EXPECT_EQ(input.first_undelivered(9), std::optional<size_t>(2));
    EXPECT_EQ(input.undelivered_bytes(1, 9), 0u);
    EXPECT_EQ(input.undelivered_bytes(2, 9), 4u);
    EXPECT_EQ(input.first_undelivered(13), std::nullopt);
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

TEST(QemuCommandTest, DefaultMachine) {
    Machine machine;
    EXPECT_EQ(machine.type, "q35");
    EXPECT_EQ(machine.cpus, 1);
    EXPECT_EQ(machine.debug_exit, true);
    machine.kernel = "k.elf";
    auto argv = qemu_command(machine);
    EXPECT_EQ(argv, (std::vector<std::string>{"qemu-system-x86_64",
                                              "-M",
                                              "q35",
                                              "-cpu",
                                              "max",
                                              "-accel",
                                              "tcg",
                                              "-smp",
                                              "1",
                                              "-m",
                                              "128M",
                                              "-no-reboot",
                                              "-display",
                                              "none",
                                              "-device",
                                              "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                              "-serial",
                                              "stdio",
                                              "-monitor",
                                              "none",
                                              "-kernel",
                                              "k.elf"}));
}

TEST(ScenarioTest, NetdevsRepeatInOrder) {
    EXPECT_TRUE(parse_ok("expect: x\n").netdevs.empty());
    Scenario s = parse_ok("netdev: user,id=n0\n"
                          "device: virtio-net-pci,netdev=n0\n"
                          "netdev: socket,id=n1,listen=:1234\n");
    EXPECT_EQ(s.netdevs, (std::vector<std::string>{"user,id=n0", "socket,id=n1,listen=:1234"}));
    auto empty = parse_scenario("netdev:\n");
    ASSERT_TRUE(empty.is_error());
    EXPECT_EQ(empty.error().message, "empty value for 'netdev'");
}

TEST(QemuCommandTest, NetdevsBeforeTheDevicesThatNameThem) {
    Machine machine;
    machine.kernel = "k.elf";
    machine.netdevs = {"user,id=n0"};
    machine.devices = {"virtio-net-pci,netdev=n0"};
    auto argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"}));
}

TEST(QemuCommandTest, DevicesAfterTheMachinesOwn) {
    Machine machine;
    machine.kernel = "k.elf";
    machine.devices = {"pci-bridge,chassis_nr=1,id=b1", "virtio-rng-pci,bus=b1"};
    auto argv = qemu_command(machine);
    EXPECT_TRUE(
        contains(argv, {"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-device",
                        "pci-bridge,chassis_nr=1,id=b1", "-device", "virtio-rng-pci,bus=b1"}));
    machine.debug_exit = false;
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"none", "-device", "pci-bridge,chassis_nr=1,id=b1"}));
    EXPECT_FALSE(contains(argv, {"isa-debug-exit,iobase=0xf4,iosize=0x04"}));
}

TEST(QemuCommandTest, DrivesBeforeTheDevicesOverInheritedDescriptors) {
    Machine machine;
    machine.kernel = "k.elf";
    machine.drives = {{"disk0", 5, false, {}, {}}, {"ro", 6, true, {}, {}}};
    machine.devices = {"virtio-blk-pci,drive=disk0"};
    auto argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-drive", "if=none,id=disk0,format=raw,file=/dev/fd/5", "-drive",
                                "if=none,id=ro,format=raw,file=/dev/fd/6,readonly=on", "-device",
                                "virtio-blk-pci,drive=disk0"}));
    // Errors: blkdebug between the raw format and the file.
    EXPECT_EQ(drive_option({"e", 7, false, 7000, std::nullopt}),
              "if=none,id=e,format=raw,file.driver=blkdebug,file.image.driver=file,"
              "file.image.filename=/dev/fd/7,file.inject-error.0.event=read_aio,"
              "file.inject-error.0.sector=7000");
    EXPECT_EQ(drive_option({"e", 7, true, 1, 2}),
              "if=none,id=e,format=raw,file.driver=blkdebug,file.image.driver=file,"
              "file.image.filename=/dev/fd/7,file.inject-error.0.event=read_aio,"
              "file.inject-error.0.sector=1,file.inject-error.1.event=write_aio,"
              "file.inject-error.1.sector=2,readonly=on");
    EXPECT_EQ(drive_option({"e", 7, false, std::nullopt, 0}),
              "if=none,id=e,format=raw,file.driver=blkdebug,file.image.driver=file,"
              "file.image.filename=/dev/fd/7,file.inject-error.0.event=write_aio,"
              "file.inject-error.0.sector=0");
}

TEST(QemuCommandTest, PrivateCopyHoldsTheFileAndReadsBackWhole) {
    char path[] = "/tmp/capos-runner-test-XXXXXX";
    int source = mkstemp(path);
    ASSERT_GE(source, 0);
    std::string bytes(200000, '\0');
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = char(i * 7);
    ASSERT_EQ(write(source, bytes.data(), bytes.size()), ssize_t(bytes.size()));
    close(source);
    auto copy = open_private_copy(path, "drive image");
    unlink(path);
    ASSERT_TRUE(copy.is_ok()) << copy.error();
    // Not closed on exec: QEMU opens it as /dev/fd/N.
    EXPECT_EQ(fcntl(copy.value(), F_GETFD) & FD_CLOEXEC, 0);
    // Written through another descriptor (as QEMU's), read back from the start.
    ASSERT_EQ(pwrite(copy.value(), "xy", 2, 1000), 2);
    bytes[1000] = 'x';
    bytes[1001] = 'y';
    auto back = read_whole(copy.value());
    close(copy.value());
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(back.value(), bytes);

    auto missing = open_private_copy("/nonexistent/capos.img", "drive image");
    ASSERT_TRUE(missing.is_error());
    EXPECT_EQ(missing.error(),
              "cannot open drive image /nonexistent/capos.img: No such file or directory");
}

TEST(QemuCommandTest, MachineTypeCpusAndNoDebugExit) {
    Machine machine;
    machine.type = "pc";
    machine.cpus = 4;
    machine.debug_exit = false;
    machine.kernel = "k.elf";
    auto argv = qemu_command(machine);
    EXPECT_EQ(argv, (std::vector<std::string>{"qemu-system-x86_64",
                                              "-M",
                                              "pc",
                                              "-cpu",
                                              "max",
                                              "-accel",
                                              "tcg",
                                              "-smp",
                                              "4",
                                              "-m",
                                              "128M",
                                              "-no-reboot",
                                              "-display",
                                              "none",
                                              "-serial",
                                              "stdio",
                                              "-monitor",
                                              "none",
                                              "-kernel",
                                              "k.elf"}));
    EXPECT_TRUE(contains(argv, {"-M", "pc"}));
    EXPECT_TRUE(contains(argv, {"-smp", "4"}));
    EXPECT_FALSE(contains(argv, {"-M", "q35"}));
    EXPECT_FALSE(contains(argv, {"-device"}));
    EXPECT_FALSE(contains(argv, {"isa-debug-exit,iobase=0xf4,iosize=0x04"}));

    // Each setting alone.
    machine = Machine{};
    machine.cpus = 64;
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "64"}));
    EXPECT_TRUE(contains(argv, {"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"}));
    machine = Machine{};
    machine.cpus = 6;
    machine.topology = ",sockets=2,cores=3";
    machine.multi_threaded = true;
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-accel", "tcg,thread=multi", "-smp", "6,sockets=2,cores=3"}));
    machine = Machine{};
    machine.debug_exit = false;
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "1"}));
    EXPECT_FALSE(contains(argv, {"-device"}));
    machine = Machine{};
    machine.cpu_features = ",-xsave";
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-M", "q35", "-cpu", "max,-xsave", "-accel", "tcg"}));
    machine = Machine{};
    machine.type = "pc";
    machine.boot = BootMode::IsoBios;
    machine.iso = "capos.iso";
    argv = qemu_command(machine);
    EXPECT_TRUE(contains(argv, {"-M", "pc", "-cpu", "max", "-accel", "tcg", "-smp", "1"}));
    EXPECT_TRUE(contains(argv, {"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"}));
    EXPECT_TRUE(contains(argv, {"-cdrom", "capos.iso"}));
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
