#include "tools/qemu-runner/test_mode.h"

#include "tools/qemu-runner/child_process.h"
#include "tools/qemu-runner/host_peers.h"
#include "tools/qemu-runner/ports.h"
#include "tools/qemu-runner/qemu_command.h"
#include "tools/qemu-runner/scenario.h"
#include "tools/qemu-runner/serial_input.h"
#include "tools/qemu-runner/serial_monitor.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/ioctl.h>
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

// exit: running. Once the script is over (the last expect has matched and the last
// send has been written), the machine must stay up and quiet for this long: a
// forbidden pattern or an exit of QEMU in that time fails the run (a panic just after
// the last expected line, say after init has ended).
constexpr auto running_watch = std::chrono::seconds(2);

// The capacity asked for QEMU's stdin pipe (the smallest Linux has). Bytes in the pipe
// count as written, so a small pipe keeps "written" close to "read by QEMU", which
// reads only as fast as the guest empties its UART: the watch of exit: running starts
// when the last byte is written.
constexpr int input_pipe_size = 4096;

// A run whose QEMU could not bind a port forwarded to the guest (another program
// took it between the runner's letting it go and QEMU's binding it) is run again
// with new ports, up to this many attempts in all.
constexpr int max_attempts = 3;

// What QEMU says when it cannot bind a hostfwd rule's port, or a socket
// back end's listen= port.
constexpr std::string_view forwarding_failed = "Could not set up host forwarding";
constexpr std::string_view listen_failed = "can't bind ip=";

// Why supervision stopped.
enum class Stop {
    Exited,       // QEMU exited and both of its pipes reached end of file
    ScriptDone,   // exit: running; every expect matched and every send was written
    WatchEnded,   // exit: running, and running_watch passed quietly after the script
    HostsDone,    // the run was over but for the host commands, and they all ended
    Forbidden,    // a forbidden pattern appeared
    Timeout,      // the deadline passed
    HostsRunning, // the deadline passed while the run waited for a host command
    HostFailed,   // a host command failed or could not start
    Interrupted,  // the runner got SIGINT, SIGTERM or SIGHUP
    LogTooLarge,  // the console passed max_log_bytes
    PollError,    // poll() or the signalfd failed
};

struct Supervision {
    Stop stop = Stop::Exited;
    int signal = 0;     // Stop::Interrupted
    std::string detail; // Stop::PollError, HostFailed, HostsRunning
    // Stopped while the run waited for the host commands (Watch::Hosts*).
    bool waiting_for_hosts = false;
};

// Blocks the signals the runner handles through a signalfd and ignores SIGPIPE (a
// write into the stdin of a QEMU that has exited must fail with EPIPE, not kill the
// runner); restores both when destroyed.
class SignalGuard {
public:
    SignalGuard() {
        signal(SIGCHLD, SIG_DFL); // an inherited SIG_IGN would make the kernel auto-reap QEMU
        struct sigaction ignore = {};
        ignore.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ignore, &m_previous_sigpipe);
        sigemptyset(&m_handled);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD})
            sigaddset(&m_handled, sig);
        sigprocmask(SIG_BLOCK, &m_handled, &m_previous);
        m_fd.reset(signalfd(-1, &m_handled, SFD_CLOEXEC | SFD_NONBLOCK));
    }
    ~SignalGuard() {
        m_fd.reset();
        sigprocmask(SIG_SETMASK, &m_previous, nullptr);
        sigaction(SIGPIPE, &m_previous_sigpipe, nullptr);
    }
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;

    int fd() const { return m_fd.get(); }
    // The mask to give children: the one the runner started with.
    const sigset_t& previous_mask() const { return m_previous; }

private:
    sigset_t m_handled;
    sigset_t m_previous;
    struct sigaction m_previous_sigpipe = {};
    UniqueFd m_fd;
};

// The runner's end of QEMU's stdin: the guest's serial receive line. QEMU takes bytes
// from it only while the emulated UART has room, so what the guest is not reading yet
// waits in the pipe or in the SerialInput queue; nothing is dropped.
class InputPipe {
public:
    // `fd` is owned by the ChildProcess; -1 when the scenario sends nothing.
    explicit InputPipe(int fd) : m_fd(fd) {}

    // Worth waiting for room: something to write, and QEMU still has its end open.
    bool wants_room(const SerialInput& input) const {
        return m_fd >= 0 && !m_broken && !input.pending().empty();
    }

    // Writes what the pipe takes now; never blocks. An error other than a full pipe
    // (EPIPE: QEMU has exited) ends writing: what is left will never be delivered.
    void write_some(SerialInput& input) {
        while (wants_room(input)) {
            std::string_view bytes = input.pending();
            ssize_t put = write(m_fd, bytes.data(), bytes.size());
            if (put > 0) {
                input.consume(static_cast<size_t>(put));
            } else if (put < 0 && errno == EINTR) {
                continue;
            } else {
                m_broken = put < 0 && errno != EAGAIN;
                return;
            }
        }
    }

    // Bytes written that QEMU has not read; they stay countable after QEMU exited.
    size_t unread() const {
        int count = 0;
        if (m_fd < 0 || ioctl(m_fd, FIONREAD, &count) != 0 || count < 0)
            return 0;
        return static_cast<size_t>(count);
    }

private:
    int m_fd;
    bool m_broken = false;
};

std::string double_quoted(std::string_view text) {
    return "\"" + printable(text) + "\"";
}

// A send as the scenario file would write it; a long one shortened.
std::string shown_send(std::string_view bytes) {
    constexpr size_t shown = 48;
    if (bytes.size() <= shown)
        return quoted_value(bytes);
    return quoted_value(bytes.substr(0, shown)) + "... (" + std::to_string(bytes.size()) +
           " bytes)";
}

// What a QEMU exit status means for capOS (abi/exit_code.h).
std::string describe_status(int status) {
    switch (status) {
    case 0:
        return "0 (reset or power-off)";
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
    UntilExit,        // the scenario is decided when QEMU exits (or by a forbidden pattern)
    UntilScriptEnd,   // exit: running; the end of the script (last expect, last send) decides
                      // too
    AfterScript,      // exit: running, the script is over: a forbidden pattern or an exit
                      // before the deadline fails the run, the deadline passes it
    HostsAfterScript, // exit: running, the watch passed: as AfterScript, but the end of the
                      // last host command passes the run and the deadline fails it
    HostsAfterExit,   // QEMU exited as it should: the end of the last host command passes
                      // the run, the deadline fails it
    LogOnly,          // decided already: log until QEMU exits or the deadline
};

// The serial line both ways: the console as the monitor follows it, and the input
// the scenario types, released as the monitor's expects match.
struct SerialLine {
    SerialMonitor& monitor;
    SerialInput& input;
    InputPipe& input_pipe;
};

// Feeds QEMU's console to the monitor and its stderr to `stderr_text`, types the
// sends and starts the host commands as their expects match, and keeps the host
// commands' output, until QEMU exits, the scenario is decided or the deadline passes.
Supervision supervise(ChildProcess& qemu, SerialLine serial, HostPeers& hosts,
                      std::string& stderr_text, const SignalGuard& signals,
                      Clock::time_point deadline, Watch watch) {
    SerialMonitor& monitor = serial.monitor;
    bool for_hosts = watch == Watch::HostsAfterScript || watch == Watch::HostsAfterExit;
    auto stop = [&](Stop why, std::string detail = {}, int signal = 0) {
        return Supervision{why, signal, std::move(detail), for_hosts};
    };
    auto script_done = [&] {
        return watch == Watch::UntilScriptEnd && monitor.all_expects_seen() &&
               serial.input.all_written();
    };
    std::vector<pollfd> fds;
    for (;;) {
        if (script_done()) // the last send was just written
            return stop(Stop::ScriptDone);
        bool serial_open = qemu.stdout_fd() >= 0;
        bool stderr_open = qemu.stderr_fd() >= 0;
        if (!serial_open && !stderr_open && qemu.has_exited() && watch != Watch::HostsAfterExit)
            return stop(Stop::Exited);
        if (for_hosts && hosts.all_started() && !hosts.first_running())
            return stop(Stop::HostsDone);

        auto now = Clock::now();
        if (now >= deadline) {
            if (for_hosts) {
                auto running = hosts.first_running();
                return stop(Stop::HostsRunning, running ? hosts.name(*running) : "host commands");
            }
            return stop(watch == Watch::AfterScript ? Stop::WatchEnded : Stop::Timeout);
        }
        auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);

        fds.clear();
        fds.push_back({signals.fd(), POLLIN, 0});
        if (serial_open)
            fds.push_back({qemu.stdout_fd(), POLLIN, 0});
        if (stderr_open)
            fds.push_back({qemu.stderr_fd(), POLLIN, 0});
        if (watch != Watch::LogOnly && serial.input_pipe.wants_room(serial.input))
            fds.push_back({qemu.stdin_fd(), POLLOUT, 0});
        hosts.add_poll_fds(fds);
        int ready = poll(fds.data(), fds.size(), static_cast<int>(remaining.count()));
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return stop(Stop::PollError, std::string("poll: ") + std::strerror(errno));
        }

        for (const pollfd& entry : fds) {
            if (entry.revents == 0)
                continue;
            int fd = entry.fd;
            if (fd == signals.fd()) {
                signalfd_siginfo info;
                while (read(fd, &info, sizeof info) == sizeof info) {
                    if (info.ssi_signo != SIGCHLD)
                        return stop(Stop::Interrupted, {}, static_cast<int>(info.ssi_signo));
                    qemu.try_reap();
                    hosts.reap();
                }
                auto failed = hosts.first_failed();
                if (watch != Watch::LogOnly && failed)
                    return stop(Stop::HostFailed, hosts.describe_end(*failed));
            } else if (fd == qemu.stdout_fd()) {
                std::string bytes;
                if (read_some(fd, bytes)) {
                    monitor.feed(bytes);
                } else {
                    qemu.close_stdout();
                    monitor.finish();
                }
                if (watch != Watch::LogOnly && monitor.forbidden_hit())
                    return stop(Stop::Forbidden);
                serial.input.release(monitor.next_expect(), monitor.lines().size(),
                                     monitor.partial_line().size());
                if (watch != Watch::LogOnly) {
                    auto started = hosts.start_released(monitor.next_expect());
                    if (started.is_error())
                        return stop(Stop::HostFailed, started.error());
                }
                if (script_done())
                    return stop(Stop::ScriptDone);
                if (monitor.byte_count() > max_log_bytes)
                    return stop(Stop::LogTooLarge);
            } else if (fd == qemu.stdin_fd()) {
                serial.input_pipe.write_some(serial.input);
            } else if (fd == qemu.stderr_fd()) {
                if (!read_some(fd, stderr_text))
                    qemu.close_stderr();
            } else {
                hosts.read_ready(fd);
            }
        }
    }
}

std::string missing_expect(const SerialMonitor& monitor) {
    size_t index = monitor.next_expect();
    return "expect #" + std::to_string(index + 1) + " " + double_quoted(monitor.expects()[index]) +
           " not seen";
}

// How far the typing got once QEMU is dead: `delivered` counts the released bytes, in
// order, that QEMU read from its stdin, which it does only when the guest's UART has
// room for them (the guest may not have read the last few from its UART yet).
struct InputOutcome {
    const SerialInput& input;
    size_t delivered;
};

// `send #2 "help\r" not delivered (3 of 5 bytes left)` for the first send that did not
// reach the guest's UART entirely; empty when every released byte did.
std::string unread_send(const InputOutcome& typed) {
    auto index = typed.input.first_undelivered(typed.delivered);
    if (!index)
        return {};
    const std::string& bytes = typed.input.sends()[*index].bytes;
    return "send #" + std::to_string(*index + 1) + " " + shown_send(bytes) + " not delivered (" +
           std::to_string(typed.input.undelivered_bytes(*index, typed.delivered)) + " of " +
           std::to_string(bytes.size()) + " bytes left)";
}

// The step after which exit: running watches the machine.
std::string_view last_step(const Scenario& scenario) {
    bool ends_with_send =
        !scenario.sends.empty() && scenario.sends.back().after_expects == scenario.expects.size();
    return ends_with_send ? "send" : "expect";
}

// The verdict once supervision has stopped and QEMU is dead; empty means pass.
std::string failure_reason(const Scenario& scenario, const Supervision& supervision,
                           const SerialMonitor& monitor, const InputOutcome& typed,
                           const ChildProcess& qemu, const std::string& stderr_text) {
    std::string unread = unread_send(typed);
    std::string watch_window = "within " + std::to_string(running_watch.count()) +
                               " s of the last " + std::string(last_step(scenario));
    switch (supervision.stop) {
    case Stop::WatchEnded:
    case Stop::HostsDone:
        if (!unread.empty())
            return unread + " " + watch_window + " (expected exit: running)";
        return {};
    case Stop::HostsRunning:
        return "timeout after " + std::to_string(scenario.timeout_seconds) + " s waiting for " +
               supervision.detail + " to end (killed)";
    case Stop::HostFailed:
        return supervision.detail;
    case Stop::ScriptDone: // only ever followed by the watch, which replaces it
        return "internal error: the watch after the script did not run";
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
        if (!unread.empty())
            return "timeout after " + std::to_string(scenario.timeout_seconds) + " s; " + unread;
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
    // Status 1 is both QEMU refusing to start and the guest's success
    // through the debug-exit device: a QEMU that printed an error and ran
    // no guest (nothing came on the serial line) failed. (Once the guest
    // runs, QEMU's devices may print diagnostics of what the guest made
    // them do, such as an IOMMU's faults.)
    auto errors = qemu_errors(stderr_text);
    if (status == 1 && !errors.empty() && monitor.byte_count() == 0)
        return "QEMU failed (status 1): " + printable(errors.front());
    if (!monitor.all_expects_seen()) {
        return missing_expect(monitor) + " before QEMU exited with status " +
               describe_status(status);
    }
    // Like a missing expect: the script did not finish.
    if (!unread.empty())
        return unread + " before QEMU exited with status " + describe_status(status);
    if (scenario.exit == ExpectedExit::Running) {
        std::string when =
            supervision.waiting_for_hosts ? "while host commands were running" : watch_window;
        return "QEMU exited with status " + describe_status(status) + " " + when +
               " (expected exit: running)";
    }
    auto expected = expected_qemu_status(scenario.exit);
    if (expected && status != *expected) {
        return "QEMU exit status " + describe_status(status) + ", expected " +
               describe_status(*expected);
    }
    return {};
}

// The whole serial log and QEMU's stderr, as the failure report shows them, and then
// `hosts_report` (HostPeers::report()).
std::string format_log(const SerialMonitor& monitor, const InputOutcome& typed,
                       const std::string& stderr_text, const std::string& hosts_report = {}) {
    std::string out;
    // Each line is tagged with the expect it matched (e1, e2, ...) or !! when it held
    // the forbidden pattern. Each send is a line tagged >> where it was typed: before
    // the line that had not started then, after the one that had.
    const auto& lines = monitor.lines();
    size_t line_count = lines.size() + 1; // the last for the unterminated line
    std::vector<std::string> tags(line_count);
    for (size_t i = 0; i < monitor.next_expect(); ++i)
        tags[monitor.matched_line(i)] = "e" + std::to_string(i + 1);
    if (monitor.forbidden_hit())
        tags[monitor.forbidden_hit()->line_index] = "!!";
    std::vector<std::string> sent_before(line_count);
    std::vector<std::string> sent_after(line_count);
    for (const SendMark& mark : typed.input.marks()) {
        std::string text = "      >> | sent " + shown_send(typed.input.sends()[mark.send].bytes);
        if (size_t unread = typed.input.undelivered_bytes(mark.send, typed.delivered))
            text += "  (" + std::to_string(unread) + " bytes not delivered)";
        (mark.column == 0 ? sent_before : sent_after)[mark.line_index] += text + "\n";
    }

    out += "---- serial log (" + std::to_string(lines.size()) + " lines";
    if (!typed.input.sends().empty()) {
        size_t sent = typed.input.marks().size();
        out += ", " + std::to_string(sent) + (sent == 1 ? " send" : " sends");
    }
    out += ") ----\n";
    for (size_t i = 0; i < line_count; ++i) {
        out += sent_before[i];
        char prefix[32];
        std::snprintf(prefix, sizeof prefix, "%5zu %-3s| ", i + 1, tags[i].c_str());
        if (i < lines.size())
            out += prefix + printable(lines[i]) + "\n";
        else if (!monitor.partial_line().empty())
            out += prefix + printable(monitor.partial_line()) + "  (no newline)\n";
        out += sent_after[i];
    }
    out += "---- QEMU stderr ----\n";
    if (stderr_text.empty())
        out += "(empty)\n";
    std::istringstream stderr_lines(stderr_text);
    for (std::string line; std::getline(stderr_lines, line);)
        out += printable(line) + "\n";
    out += hosts_report;
    out += "---- end ----\n";
    return out;
}

void print_failure(const std::string& name, const Scenario& scenario, const std::string& reason,
                   const std::vector<std::string>& command, const SerialMonitor& monitor,
                   const InputOutcome& typed, const std::string& stderr_text,
                   const HostPeers& hosts) {
    std::string out = "FAIL " + name + " [" + std::string(to_string(scenario.boot)) +
                      "]: " + reason + "\nQEMU command: " + shell_quote(command) + "\n" +
                      format_log(monitor, typed, stderr_text, hosts.report()) + "FAIL " + name +
                      ": " + reason + "\n";
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

// The run's private copy of a scenario's drive: QEMU writes it, the runner
// reads it back after QEMU has exited.
struct DriveCopy {
    const Drive* drive;
    UniqueFd fd;
    std::string expected_path; // resolved; empty without a drive-expect
};

// Whether each drive with a drive-expect holds what its file does; empty when all
// do, else what differs first (the byte, and the 512-byte sector it lies in).
std::string drive_mismatch(const std::vector<DriveCopy>& copies) {
    for (const DriveCopy& copy : copies) {
        if (copy.expected_path.empty())
            continue;
        std::string name = "drive '" + copy.drive->id + "'";
        auto held = read_whole(copy.fd.get());
        if (held.is_error())
            return name + ": " + held.error();
        auto wanted = read_file(copy.expected_path);
        if (wanted.is_error())
            return name + ": cannot read " + copy.expected_path + ": " + wanted.error();
        const std::string& have = held.value();
        const std::string& want = wanted.value();
        size_t common = std::min(have.size(), want.size());
        auto differs = std::mismatch(have.begin(), have.begin() + common, want.begin());
        if (differs.first != have.begin() + common) {
            size_t at = differs.first - have.begin();
            char detail[96];
            std::snprintf(detail, sizeof detail, " (sector %zu) is 0x%02x, expected 0x%02x",
                          at / 512, static_cast<unsigned char>(*differs.first),
                          static_cast<unsigned char>(*differs.second));
            return name + " differs from " + copy.drive->expected.value() + " at byte " +
                   std::to_string(at) + detail;
        }
        if (have.size() != want.size()) {
            return name + " holds " + std::to_string(have.size()) + " bytes, " +
                   copy.drive->expected.value() + " " + std::to_string(want.size());
        }
    }
    return {};
}

std::string resolve(const std::string& root, const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_absolute())
        return path;
    std::error_code ignored; // on failure, keep the root as given
    std::filesystem::path base = std::filesystem::absolute(root, ignored);
    return (base.empty() ? std::filesystem::path(root) / p : base / p).lexically_normal().string();
}

// What every attempt at a run shares.
struct RunSetup {
    const TestOptions& options;
    const std::string& name;
    const Scenario& scenario;     // as parsed: placeholders not substituted
    const Machine& machine;       // all but what each attempt adds: ports, drive copies
    const std::string& directory; // the scenario file's: the host commands run there
    const SignalGuard& signals;
};

// The ports of one attempt, picked before anything starts.
struct AttemptPorts {
    PortMap ports;
    std::vector<BoundPort> for_qemu; // let go right before QEMU starts
    std::vector<HeldPort> for_hosts; // handed to the host commands
};

Result<AttemptPorts, std::string> pick_ports(const Scenario& scenario) {
    AttemptPorts picked;
    for (const PortName& name : scenario.ports) {
        auto bound = bind_free_port();
        if (bound.is_error())
            return Err{"cannot pick a port for {port:" + name.name + "}: " + bound.error()};
        picked.ports.emplace(name.name, bound.value().port);
        if (name.for_qemu)
            picked.for_qemu.push_back(bound.release_value());
        else
            picked.for_hosts.push_back(HeldPort{name.name, bound.release_value()});
    }
    return picked;
}

// "fwd=40123 web=40125": the ports an attempt gave QEMU; empty when it gave none.
std::string shown_ports(const Scenario& scenario, const PortMap& ports) {
    std::string out;
    for (const PortName& name : scenario.ports) {
        auto port = ports.find(name.name);
        if (name.for_qemu && port != ports.end())
            out += (out.empty() ? "" : " ") + name.name + "=" + std::to_string(port->second);
    }
    return out;
}

// One run of the scenario, attempt `attempt` of max_attempts. nullopt: QEMU could
// not bind a port forwarded to the guest, and the run is to be tried again with new
// ports.
std::optional<TestResult> run_attempt(const RunSetup& setup, int attempt) {
    const TestOptions& options = setup.options;
    const Scenario& scenario = setup.scenario;
    const std::string& name = setup.name;
    Machine machine = setup.machine;

    auto fail_to_start = [&](const std::string& reason) {
        std::printf("FAIL %s [%s]: %s\n", name.c_str(),
                    std::string(to_string(scenario.boot)).c_str(), reason.c_str());
        std::fflush(stdout);
        return TestResult::Fail;
    };

    auto files = check_machine_files(machine);
    if (files.is_error())
        return fail_to_start(files.error());
    // Each drive's private copy, and what it must hold after the run (checked
    // readable now: a missing file is the scenario's fault, not the guest's).
    std::vector<DriveCopy> drive_copies;
    for (const Drive& drive : scenario.drives) {
        auto copy = open_private_copy(resolve(options.root, drive.image), "drive image");
        if (copy.is_error())
            return fail_to_start(copy.error());
        DriveCopy& kept = drive_copies.emplace_back(DriveCopy{&drive, UniqueFd(copy.value()), {}});
        if (drive.expected) {
            kept.expected_path = resolve(options.root, *drive.expected);
            if (access(kept.expected_path.c_str(), R_OK) != 0)
                return fail_to_start("drive-expect file not found or unreadable: " +
                                     kept.expected_path + " (" + std::strerror(errno) + ")");
        }
        machine.drives.push_back({drive.id, kept.fd.get(), drive.read_only, drive.read_error_sector,
                                  drive.write_error_sector});
    }
    UniqueFd ovmf_vars;
    if (machine.boot == BootMode::IsoUefi) {
        auto vars = open_ovmf_vars_copy();
        if (vars.is_error())
            return fail_to_start(vars.error());
        ovmf_vars.reset(vars.value());
        machine.ovmf_vars_fd = ovmf_vars.get();
    }

    // The ports, and every value that names one.
    auto picked = pick_ports(scenario);
    if (picked.is_error())
        return fail_to_start(picked.error());
    AttemptPorts ports = picked.release_value();
    for (std::string& netdev : machine.netdevs)
        netdev = substitute_ports(netdev, ports.ports);
    std::vector<Send> sends = scenario.sends;
    for (Send& send : sends)
        send.bytes = substitute_ports(send.bytes, ports.ports);
    std::vector<HostCommand> host_commands = scenario.hosts;
    std::vector<std::string> written;
    for (HostCommand& host : host_commands) {
        written.push_back(host.command);
        host.command = substitute_ports(host.command, ports.ports);
    }
    const std::vector<std::string> command = qemu_command(machine);
    HostPeers hosts(std::move(host_commands), std::move(written),
                    HostSetup{setup.directory, resolve(options.root, "."),
                              std::move(ports.for_hosts), options.log,
                              &setup.signals.previous_mask()});

    auto start = Clock::now();
    auto deadline = start + std::chrono::seconds(scenario.timeout_seconds);
    ports.for_qemu.clear(); // QEMU binds them
    auto spawned = ChildProcess::spawn(command, setup.signals.previous_mask());
    if (spawned.is_error())
        return fail_to_start(spawned.error());
    ChildProcess qemu = spawned.release_value();
    ovmf_vars.reset(); // QEMU holds its own descriptor now
    if (sends.empty())
        qemu.close_stdin(); // QEMU reads end of file, as it would from /dev/null
    else
        fcntl(qemu.stdin_fd(), F_SETPIPE_SZ, input_pipe_size); // a larger pipe works too

    SerialMonitor monitor(scenario.expects, scenario.forbidden);
    SerialInput input(sends);
    InputPipe input_pipe(qemu.stdin_fd());
    input.release(0, 0, 0); // the sends before the first expect
    SerialLine serial{monitor, input, input_pipe};
    std::string stderr_text;
    Supervision supervision;
    auto started = hosts.start_released(0); // the host commands before the first expect
    if (started.is_error()) {
        supervision = {Stop::HostFailed, 0, started.error()};
    } else {
        supervision = supervise(qemu, serial, hosts, stderr_text, setup.signals, deadline,
                                scenario.exit == ExpectedExit::Running ? Watch::UntilScriptEnd
                                                                       : Watch::UntilExit);
    }
    if (supervision.stop == Stop::ScriptDone) {
        // Not bounded by the scenario's timeout: the watch is part of the verdict.
        supervision = supervise(qemu, serial, hosts, stderr_text, setup.signals,
                                Clock::now() + running_watch, Watch::AfterScript);
    }
    // The machine stays up for the host commands still talking to it.
    if (supervision.stop == Stop::WatchEnded && hosts.first_running()) {
        supervision = supervise(qemu, serial, hosts, stderr_text, setup.signals, deadline,
                                Watch::HostsAfterScript);
    }
    monitor.stop_matching();
    if (supervision.stop == Stop::Forbidden) {
        Supervision grace = supervise(qemu, serial, hosts, stderr_text, setup.signals,
                                      Clock::now() + forbidden_grace, Watch::LogOnly);
        (void)grace; // the verdict stands however the grace period ends
    }
    qemu.kill_and_wait();

    // QEMU is dead, and whatever it wrote last is still in the pipes: keep it for the
    // log without letting it change the verdict. What it had not read of its stdin
    // never reached the guest.
    std::string rest;
    read_all(qemu.stdout_fd(), rest);
    monitor.feed(rest);
    read_all(qemu.stderr_fd(), stderr_text);
    InputOutcome typed{input, input.written_bytes() - input_pipe.unread()};
    std::string reason = failure_reason(scenario, supervision, monitor, typed, qemu, stderr_text);
    // QEMU ended the run as it should: the host commands still running get what is
    // left of the timeout to end.
    if (reason.empty() && supervision.stop == Stop::Exited && hosts.first_running()) {
        supervision = supervise(qemu, serial, hosts, stderr_text, setup.signals, deadline,
                                Watch::HostsAfterExit);
        reason = failure_reason(scenario, supervision, monitor, typed, qemu, stderr_text);
    }
    hosts.kill_all();
    auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();

    // QEMU could not bind a forwarded port: another program took it after the runner
    // let it go. Nothing of the guest ran; a run with new ports may find them free.
    // (A host command started with QEMU may have failed first, for want of the port.)
    int qemu_status = qemu.wait_status();
    bool forwarding = !shown_ports(scenario, ports.ports).empty() &&
                      supervision.stop != Stop::Interrupted && monitor.byte_count() == 0 &&
                      WIFEXITED(qemu_status) && WEXITSTATUS(qemu_status) != 0 &&
                      (stderr_text.find(forwarding_failed) != std::string::npos ||
                       stderr_text.find(listen_failed) != std::string::npos);
    if (forwarding && attempt < max_attempts) {
        std::printf("%s: QEMU could not bind a port it was given (%s); retrying with new ports "
                    "(attempt %d of %d)\n",
                    name.c_str(), shown_ports(scenario, ports.ports).c_str(), attempt + 1,
                    max_attempts);
        std::fflush(stdout);
        return std::nullopt;
    }
    if (forwarding)
        reason += " (" + std::to_string(max_attempts) + " attempts, each with new ports)";

    // What the guest left on its disks, once everything else passed (QEMU has
    // exited by itself: it wrote back all it took).
    if (reason.empty())
        reason = drive_mismatch(drive_copies);
    // What a later test reads (a host tool as the oracle of what the guest
    // wrote): the copy, once everything passed. A run on more CPUs keeps its
    // own (".cpus<N>"), so that runs at once never write one file.
    for (const DriveCopy& copy : drive_copies) {
        if (!reason.empty() || !copy.drive->kept)
            continue;
        std::string path = resolve(options.root, *copy.drive->kept);
        if (options.cpus)
            path += ".cpus" + std::to_string(*options.cpus);
        auto held = read_whole(copy.fd.get());
        if (held.is_error()) {
            reason = "drive '" + copy.drive->id + "': " + held.error();
            break;
        }
        std::FILE* out = std::fopen(path.c_str(), "wb");
        bool written = out && std::fwrite(held.value().data(), 1, held.value().size(), out) ==
                                  held.value().size();
        if (out && std::fclose(out) != 0)
            written = false;
        if (!written)
            reason = "drive '" + copy.drive->id + "': cannot write " + path;
    }

    if (!reason.empty()) {
        print_failure(name, scenario, reason, command, monitor, typed, stderr_text, hosts);
        return TestResult::Fail;
    }
    auto counted = [](size_t count, const char* one, const char* many) {
        return std::to_string(count) + (count == 1 ? one : many);
    };
    std::string steps;
    if (!scenario.sends.empty())
        steps = counted(scenario.sends.size(), " send, ", " sends, ");
    if (!scenario.hosts.empty())
        steps += counted(scenario.hosts.size(), " host command, ", " host commands, ");
    size_t checked = std::count_if(drive_copies.begin(), drive_copies.end(),
                                   [](const DriveCopy& copy) { return copy.drive->expected; });
    if (checked != 0)
        steps += counted(checked, " drive checked, ", " drives checked, ");
    std::printf("PASS %s [%s] %zu expect%s, %sexit %s, %.2f s\n", name.c_str(),
                std::string(to_string(scenario.boot)).c_str(), scenario.expects.size(),
                scenario.expects.size() == 1 ? "" : "s", steps.c_str(),
                std::string(to_string(scenario.exit)).c_str(), elapsed);
    if (options.log) {
        std::string log = format_log(monitor, typed, stderr_text);
        std::fwrite(log.data(), 1, log.size(), stdout);
    }
    std::fflush(stdout);
    return TestResult::Pass;
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
    Scenario scenario = parsed.release_value();
    // More CPUs than the file was written for: QEMU's CPUs take turns on the
    // host's, so the same guest work takes longer; the scenario gets twice
    // its time.
    bool more_cpus = options.cpus && !scenario.cpus_given && *options.cpus > scenario.cpus;
    if (more_cpus)
        scenario.timeout_seconds = std::min(2 * scenario.timeout_seconds, max_timeout_seconds);

    Machine machine;
    machine.boot = scenario.boot;
    machine.kernel = resolve(options.root, scenario.kernel);
    if (scenario.initrd)
        machine.initrd = resolve(options.root, *scenario.initrd);
    machine.append = scenario.append;
    machine.iso = resolve(options.root, scenario.iso);
    machine.memory = scenario.memory;
    machine.type = scenario.machine_type;
    machine.cpu_features = scenario.cpu_features;
    machine.cpus = scenario.cpus;
    machine.topology = scenario.topology;
    machine.multi_threaded = scenario.multi_threaded;
    machine.reboots = scenario.reboots;
    if (options.cpus && !scenario.cpus_given) {
        machine.cpus = *options.cpus;
        // QEMU counts instructions (icount) only with one TCG thread.
        machine.multi_threaded = options.mttcg && !scenario.icount_shift;
    }
    // The bound on stretches with interrupts off is asserted on one CPU. On
    // more, QEMU runs them in turns on one thread (icount needs that), and a
    // CPU's stretch as its clock sees it then holds the other CPUs' turns
    // too (a CPU spinning for the kernel lock the first holds runs its whole
    // turn): that measures QEMU, not capOS.
    if (scenario.irqoff_us && machine.cpus == 1) {
        machine.append += (machine.append.empty() ? "" : " ") + std::string("irqoff=") +
                          std::to_string(*scenario.irqoff_us);
        if (!scenario.icount_shift)
            scenario.icount_shift = 0;
        scenario.forbidden.emplace_back(irqoff_over_bound);
    }
    machine.debug_exit = scenario.debug_exit;
    machine.devices = scenario.devices;
    machine.netdevs = scenario.netdevs;
    machine.console = Console::Captured;
    if (scenario.icount_shift)
        machine.extra_args = {"-icount", "shift=" + std::to_string(*scenario.icount_shift)};
    // The host commands run where the scenario file is.
    std::error_code ignored; // on failure, the path as given
    std::string directory = std::filesystem::absolute(options.scenario, ignored)
                                .lexically_normal()
                                .parent_path()
                                .string();

    if (options.dry_run) {
        if (machine.boot == BootMode::IsoUefi)
            machine.ovmf_vars_fd = 3; // placeholder: a real run opens a fresh copy
        int placeholder = 4;          // the same for each drive's copy
        for (const Drive& drive : scenario.drives)
            machine.drives.push_back({drive.id, placeholder++, drive.read_only,
                                      drive.read_error_sector, drive.write_error_sector});
        std::printf("%s\n", shell_quote(qemu_command(machine)).c_str());
        for (size_t i = 0; i < scenario.hosts.size(); ++i) {
            size_t after = scenario.hosts[i].after_expects;
            std::string when =
                after == 0 ? "at the start" : "after expect #" + std::to_string(after);
            std::printf("host[%zu] (%s): cd %s && %s -c %s\n", i + 1, when.c_str(),
                        shell_quote({directory}).c_str(), host_shell,
                        shell_quote({scenario.hosts[i].command}).c_str());
        }
        return TestResult::Pass;
    }

    SignalGuard signals;
    if (signals.fd() < 0) {
        std::printf("FAIL %s [%s]: signalfd: %s\n", name.c_str(),
                    std::string(to_string(scenario.boot)).c_str(), std::strerror(errno));
        std::fflush(stdout);
        return TestResult::Fail;
    }
    RunSetup setup{options, name, scenario, machine, directory, signals};
    for (int attempt = 1;; ++attempt) {
        if (auto result = run_attempt(setup, attempt))
            return *result;
    }
}

} // namespace capos::qemu
