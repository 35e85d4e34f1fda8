#include "tools/qemu-runner/test_mode.h"

#include "tools/qemu-runner/child_process.h"
#include "tools/qemu-runner/qemu_command.h"
#include "tools/qemu-runner/scenario.h"
#include "tools/qemu-runner/serial_monitor.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/signalfd.h>
#include <sys/wait.h>

namespace capos::qemu {
namespace {

using Clock = std::chrono::steady_clock;

// A console that prints this much is stuck in a loop; stop it rather than fill memory.
constexpr size_t max_log_bytes = 64 << 20;

// After a forbidden pattern the run has failed, but the lines that follow (a panic
// message's stack trace, an exception's registers) are what the report needs: keep
// logging until QEMU exits, for at most this long.
constexpr auto forbidden_grace = std::chrono::seconds(2);

// exit: running. Once the last expect has matched, the machine must stay up and quiet
// for this long: a forbidden pattern or an exit of QEMU in that time fails the run
// (a panic just after the last expected line, say after init has ended).
constexpr auto running_watch = std::chrono::seconds(2);

// Why supervision stopped.
enum class Stop {
    Exited,         // QEMU exited and both of its pipes reached end of file
    AllExpectsSeen, // exit: running, and the last expect matched
    WatchEnded,     // exit: running, and running_watch passed quietly after the last expect
    Forbidden,      // a forbidden pattern appeared
    Timeout,        // the deadline passed
    Interrupted,    // the runner got SIGINT, SIGTERM or SIGHUP
    LogTooLarge,    // the console passed max_log_bytes
    PollError,      // poll() or the signalfd failed
};

struct Supervision {
    Stop stop = Stop::Exited;
    int signal = 0;     // Stop::Interrupted
    std::string detail; // Stop::PollError
};

// Blocks the signals the runner handles through a signalfd, and restores the previous
// mask when destroyed.
class SignalGuard {
public:
    SignalGuard() {
        signal(SIGCHLD, SIG_DFL); // an inherited SIG_IGN would make the kernel auto-reap QEMU
        sigemptyset(&m_handled);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD})
            sigaddset(&m_handled, sig);
        sigprocmask(SIG_BLOCK, &m_handled, &m_previous);
        m_fd.reset(signalfd(-1, &m_handled, SFD_CLOEXEC | SFD_NONBLOCK));
    }
    ~SignalGuard() {
        m_fd.reset();
        sigprocmask(SIG_SETMASK, &m_previous, nullptr);
    }
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;

    int fd() const { return m_fd.get(); }
    // The mask to give children: the one the runner started with.
    const sigset_t& previous_mask() const { return m_previous; }

private:
    sigset_t m_handled;
    sigset_t m_previous;
    UniqueFd m_fd;
};

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
            out += static_cast<char>(c);
        } else {
            out += '^';
            out += static_cast<char>(c == 0x7f ? '?' : c + 0x40);
        }
    }
    return out;
}

std::string double_quoted(std::string_view text) {
    return "\"" + printable(text) + "\"";
}

// What a QEMU exit status means for capOS (abi/exit_code.h).
std::string describe_status(int status) {
    switch (status) {
    case 0:
        return "0 (reset)";
    case 1:
        return "1 (success)";
    case 3:
        return "3 (failure)";
    case 5:
        return "5 (panic)";
    case 7:
        return "7 (fault)";
    }
    if (status % 2 == 1)
        return std::to_string(status) + " (debug-exit code " + std::to_string(status >> 1) + ")";
    return std::to_string(status);
}

// QEMU's own error messages: "qemu-system-x86_64: ..." lines on stderr that are not
// warnings. QEMU exits with status 1 after one, the same status as a capOS success,
// so a status of 1 only counts as success when there are none.
std::vector<std::string> qemu_errors(const std::string& stderr_text) {
    std::vector<std::string> errors;
    std::string prefix = std::string(qemu_program) + ":";
    std::istringstream lines(stderr_text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(prefix, 0) == 0 && line.find("warning:") == std::string::npos)
            errors.push_back(line);
    }
    return errors;
}

// Reads what is available on `fd` (which poll() reported ready). Returns false at end
// of file or on error.
bool read_some(int fd, std::string& out) {
    char buffer[64 * 1024];
    for (;;) {
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got > 0) {
            out.append(buffer, got);
            return true;
        }
        if (got < 0 && errno == EINTR)
            continue;
        return got < 0 && errno == EAGAIN;
    }
}

// Reads until end of file. Only for a child that is already dead, so this ends.
void read_all(int fd, std::string& out) {
    if (fd < 0)
        return;
    while (read_some(fd, out)) {
    }
}

enum class Watch {
    UntilExit,       // the scenario is decided when QEMU exits (or by a forbidden pattern)
    UntilLastExpect, // exit: running; the last expect decides too
    AfterLastExpect, // exit: running, every expect seen: a forbidden pattern or an exit
                     // before the deadline fails the run, the deadline passes it
    LogOnly,         // decided already: log until QEMU exits or the deadline
};

// Feeds QEMU's console to `monitor` and its stderr to `stderr_text` until QEMU exits,
// the scenario is decided or the deadline passes.
Supervision supervise(ChildProcess& qemu, SerialMonitor& monitor, std::string& stderr_text,
                      const SignalGuard& signals, Clock::time_point deadline, Watch watch) {
    for (;;) {
        bool serial_open = qemu.stdout_fd() >= 0;
        bool stderr_open = qemu.stderr_fd() >= 0;
        if (!serial_open && !stderr_open && qemu.has_exited())
            return {Stop::Exited, 0, {}};

        auto now = Clock::now();
        if (now >= deadline)
            return {watch == Watch::AfterLastExpect ? Stop::WatchEnded : Stop::Timeout, 0, {}};
        auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);

        pollfd fds[3];
        nfds_t count = 0;
        fds[count++] = {signals.fd(), POLLIN, 0};
        if (serial_open)
            fds[count++] = {qemu.stdout_fd(), POLLIN, 0};
        if (stderr_open)
            fds[count++] = {qemu.stderr_fd(), POLLIN, 0};
        int ready = poll(fds, count, static_cast<int>(remaining.count()));
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return {Stop::PollError, 0, std::string("poll: ") + std::strerror(errno)};
        }

        for (nfds_t i = 0; i < count; ++i) {
            if (fds[i].revents == 0)
                continue;
            int fd = fds[i].fd;
            if (fd == signals.fd()) {
                signalfd_siginfo info;
                while (read(fd, &info, sizeof info) == sizeof info) {
                    if (info.ssi_signo == SIGCHLD)
                        qemu.try_reap();
                    else
                        return {Stop::Interrupted, static_cast<int>(info.ssi_signo), {}};
                }
            } else if (fd == qemu.stdout_fd()) {
                std::string bytes;
                if (read_some(fd, bytes)) {
                    monitor.feed(bytes);
                } else {
                    qemu.close_stdout();
                    monitor.finish();
                }
                if (watch != Watch::LogOnly && monitor.forbidden_hit())
                    return {Stop::Forbidden, 0, {}};
                if (watch == Watch::UntilLastExpect && monitor.all_expects_seen())
                    return {Stop::AllExpectsSeen, 0, {}};
                if (monitor.byte_count() > max_log_bytes)
                    return {Stop::LogTooLarge, 0, {}};
            } else {
                if (!read_some(fd, stderr_text))
                    qemu.close_stderr();
            }
        }
    }
}

std::string missing_expect(const SerialMonitor& monitor) {
    size_t index = monitor.next_expect();
    return "expect #" + std::to_string(index + 1) + " " + double_quoted(monitor.expects()[index]) +
           " not seen";
}

// The verdict once supervision has stopped and QEMU is dead; empty means pass.
std::string failure_reason(const Scenario& scenario, const Supervision& supervision,
                           const SerialMonitor& monitor, const ChildProcess& qemu,
                           const std::string& stderr_text) {
    switch (supervision.stop) {
    case Stop::WatchEnded:
        return {};
    case Stop::AllExpectsSeen: // only ever followed by the watch, which replaces it
        return "internal error: the watch after the last expect did not run";
    case Stop::Forbidden: {
        const ForbiddenHit& hit = *monitor.forbidden_hit();
        return "forbidden pattern " + double_quoted(hit.pattern) + " on serial line " +
               std::to_string(hit.line_index + 1) + ": " + printable(monitor.line(hit.line_index));
    }
    case Stop::Timeout:
        if (!monitor.all_expects_seen()) {
            return "timeout after " + std::to_string(scenario.timeout_seconds) + " s; " +
                   missing_expect(monitor);
        }
        return "timeout after " + std::to_string(scenario.timeout_seconds) +
               " s waiting for QEMU to exit (expected exit: " +
               std::string(to_string(scenario.exit)) + ")";
    case Stop::Interrupted:
        return std::string("interrupted by signal ") + std::to_string(supervision.signal) + " (" +
               strsignal(supervision.signal) + ")";
    case Stop::LogTooLarge:
        return "serial console passed " + std::to_string(max_log_bytes >> 20) +
               " MiB; QEMU stopped";
    case Stop::PollError:
        return supervision.detail;
    case Stop::Exited:
        break;
    }

    int wait_status = qemu.wait_status();
    if (!WIFEXITED(wait_status))
        return "QEMU " + describe_wait_status(wait_status);
    int status = WEXITSTATUS(wait_status);
    auto errors = qemu_errors(stderr_text);
    if (status == 1 && !errors.empty())
        return "QEMU failed (status 1): " + printable(errors.front());
    if (!monitor.all_expects_seen()) {
        return missing_expect(monitor) + " before QEMU exited with status " +
               describe_status(status);
    }
    if (scenario.exit == ExpectedExit::Running) {
        return "QEMU exited with status " + describe_status(status) + " within " +
               std::to_string(running_watch.count()) +
               " s of the last expect (expected exit: running)";
    }
    auto expected = expected_qemu_status(scenario.exit);
    if (expected && status != *expected) {
        return "QEMU exit status " + describe_status(status) + ", expected " +
               describe_status(*expected);
    }
    return {};
}

// The whole serial log and QEMU's stderr, as the failure report shows them.
std::string format_log(const SerialMonitor& monitor, const std::string& stderr_text) {
    std::string out;
    // Each line is tagged with the expect it matched (e1, e2, ...) or !! when it held
    // the forbidden pattern.
    const auto& lines = monitor.lines();
    std::vector<std::string> tags(lines.size() + 1); // the last for the unterminated line
    for (size_t i = 0; i < monitor.next_expect(); ++i)
        tags[monitor.matched_line(i)] = "e" + std::to_string(i + 1);
    if (monitor.forbidden_hit())
        tags[monitor.forbidden_hit()->line_index] = "!!";
    out += "---- serial log (" + std::to_string(lines.size()) + " lines) ----\n";
    for (size_t i = 0; i < lines.size(); ++i) {
        char prefix[32];
        std::snprintf(prefix, sizeof prefix, "%5zu %-3s| ", i + 1, tags[i].c_str());
        out += prefix + printable(lines[i]) + "\n";
    }
    if (!monitor.partial_line().empty()) {
        char prefix[32];
        std::snprintf(prefix, sizeof prefix, "%5zu %-3s| ", lines.size() + 1,
                      tags[lines.size()].c_str());
        out += prefix + printable(monitor.partial_line()) + "  (no newline)\n";
    }
    out += "---- QEMU stderr ----\n";
    if (stderr_text.empty())
        out += "(empty)\n";
    std::istringstream stderr_lines(stderr_text);
    for (std::string line; std::getline(stderr_lines, line);)
        out += printable(line) + "\n";
    out += "---- end ----\n";
    return out;
}

void print_failure(const std::string& name, const Scenario& scenario, const std::string& reason,
                   const std::vector<std::string>& command, const SerialMonitor& monitor,
                   const std::string& stderr_text) {
    std::string out = "FAIL " + name + " [" + std::string(to_string(scenario.boot)) +
                      "]: " + reason + "\nQEMU command: " + shell_quote(command) + "\n" +
                      format_log(monitor, stderr_text) + "FAIL " + name + ": " + reason + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
}

Result<std::string, std::string> read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file)
        return Err{std::string(std::strerror(errno))};
    std::ostringstream text;
    text << file.rdbuf();
    if (file.bad())
        return Err{std::string("read error")};
    return text.str();
}

std::string resolve(const std::string& root, const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_absolute())
        return path;
    std::error_code ignored; // on failure, keep the root as given
    std::filesystem::path base = std::filesystem::absolute(root, ignored);
    return (base.empty() ? std::filesystem::path(root) / p : base / p).lexically_normal().string();
}

} // namespace

TestResult run_test(const TestOptions& options) {
    std::string name = std::filesystem::path(options.scenario).stem().string();

    auto text = read_file(options.scenario);
    if (text.is_error()) {
        std::fprintf(stderr, "%s: error: cannot read scenario: %s\n", options.scenario.c_str(),
                     text.error().c_str());
        return TestResult::BadScenario;
    }
    auto parsed = parse_scenario(text.value());
    if (parsed.is_error()) {
        std::fprintf(stderr, "%s:%d: error: %s\n", options.scenario.c_str(), parsed.error().line,
                     parsed.error().message.c_str());
        return TestResult::BadScenario;
    }
    const Scenario scenario = parsed.release_value();

    Machine machine;
    machine.boot = scenario.boot;
    machine.kernel = resolve(options.root, scenario.kernel);
    if (scenario.initrd)
        machine.initrd = resolve(options.root, *scenario.initrd);
    machine.append = scenario.append;
    machine.iso = resolve(options.root, scenario.iso);
    machine.memory = scenario.memory;
    machine.console = Console::Captured;
    if (scenario.icount_shift)
        machine.extra_args = {"-icount", "shift=" + std::to_string(*scenario.icount_shift)};

    auto fail_to_start = [&](const std::string& reason) {
        std::printf("FAIL %s [%s]: %s\n", name.c_str(),
                    std::string(to_string(scenario.boot)).c_str(), reason.c_str());
        std::fflush(stdout);
        return TestResult::Fail;
    };

    if (options.dry_run) {
        if (machine.boot == BootMode::IsoUefi)
            machine.ovmf_vars_fd = 3; // placeholder: a real run opens a fresh copy
        std::printf("%s\n", shell_quote(qemu_command(machine)).c_str());
        return TestResult::Pass;
    }

    auto files = check_machine_files(machine);
    if (files.is_error())
        return fail_to_start(files.error());
    UniqueFd ovmf_vars;
    if (machine.boot == BootMode::IsoUefi) {
        auto vars = open_ovmf_vars_copy();
        if (vars.is_error())
            return fail_to_start(vars.error());
        ovmf_vars.reset(vars.value());
        machine.ovmf_vars_fd = ovmf_vars.get();
    }
    const std::vector<std::string> command = qemu_command(machine);

    SignalGuard signals;
    if (signals.fd() < 0)
        return fail_to_start(std::string("signalfd: ") + std::strerror(errno));
    auto start = Clock::now();
    auto spawned = ChildProcess::spawn(command, signals.previous_mask());
    if (spawned.is_error())
        return fail_to_start(spawned.error());
    ChildProcess qemu = spawned.release_value();
    ovmf_vars.reset(); // QEMU holds its own descriptor now

    SerialMonitor monitor(scenario.expects, scenario.forbidden);
    std::string stderr_text;
    Supervision supervision = supervise(
        qemu, monitor, stderr_text, signals, start + std::chrono::seconds(scenario.timeout_seconds),
        scenario.exit == ExpectedExit::Running ? Watch::UntilLastExpect : Watch::UntilExit);
    if (supervision.stop == Stop::AllExpectsSeen) {
        // Not bounded by the scenario's timeout: the watch is part of the verdict.
        supervision = supervise(qemu, monitor, stderr_text, signals, Clock::now() + running_watch,
                                Watch::AfterLastExpect);
    }
    auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    monitor.stop_matching();
    if (supervision.stop == Stop::Forbidden) {
        Supervision grace = supervise(qemu, monitor, stderr_text, signals,
                                      Clock::now() + forbidden_grace, Watch::LogOnly);
        (void)grace; // the verdict stands however the grace period ends
    }
    qemu.kill_and_wait();

    // QEMU is dead, and whatever it wrote last is still in the pipes: keep it for the
    // log without letting it change the verdict.
    std::string rest;
    read_all(qemu.stdout_fd(), rest);
    monitor.feed(rest);
    read_all(qemu.stderr_fd(), stderr_text);
    std::string reason = failure_reason(scenario, supervision, monitor, qemu, stderr_text);

    if (!reason.empty()) {
        print_failure(name, scenario, reason, command, monitor, stderr_text);
        return TestResult::Fail;
    }
    std::printf("PASS %s [%s] %zu expect%s, exit %s, %.2f s\n", name.c_str(),
                std::string(to_string(scenario.boot)).c_str(), scenario.expects.size(),
                scenario.expects.size() == 1 ? "" : "s",
                std::string(to_string(scenario.exit)).c_str(), elapsed);
    if (options.log) {
        std::string log = format_log(monitor, stderr_text);
        std::fwrite(log.data(), 1, log.size(), stdout);
    }
    std::fflush(stdout);
    return TestResult::Pass;
}

} // namespace capos::qemu
