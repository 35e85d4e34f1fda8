#include "tools/qemu-runner/host_peers.h"

#include "tools/qemu-runner/serial_monitor.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace capos::qemu {
namespace {

// A command that never ends a line: its output is cut into lines this long.
constexpr size_t max_host_line = 4096;

bool set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

} // namespace

HostPeers::HostPeers(std::vector<HostCommand> commands, std::vector<std::string> written,
                     HostSetup setup)
    : m_setup(std::move(setup)) {
    for (size_t i = 0; i < commands.size(); ++i)
        m_runs.push_back(Run{std::move(commands[i]), std::move(written[i]), {}, false, {}});
    if (m_runs.empty())
        m_setup.ports.clear();
}

Result<void, std::string> HostPeers::start_released(size_t expects_seen) {
    SpawnOptions options;
    options.directory = m_setup.directory;
    options.only_inherited_fds = true;
    options.environment.push_back("CAPOS_ROOT=" + m_setup.root);
    for (const HeldPort& port : m_setup.ports) {
        options.environment.push_back(port_env_name("TCP", port.name) + "=" +
                                      std::to_string(port.bound.tcp.get()));
        options.environment.push_back(port_env_name("UDP", port.name) + "=" +
                                      std::to_string(port.bound.udp.get()));
        options.inherited_fds.push_back(port.bound.tcp.get());
        options.inherited_fds.push_back(port.bound.udp.get());
    }
    while (m_started < m_runs.size() && m_runs[m_started].command.after_expects <= expects_seen) {
        Run& run = m_runs[m_started];
        auto spawned =
            ChildProcess::spawn({host_shell, "-c", run.command.command}, *m_setup.mask, options);
        if (spawned.is_error())
            return Err{name(m_started) + " could not start: " + spawned.error()};
        run.process.emplace(spawned.release_value());
        ++m_started;
        run.process->close_stdin(); // it reads end of file, as from /dev/null
        if (!set_nonblocking(run.process->stdout_fd()) ||
            !set_nonblocking(run.process->stderr_fd())) {
            return Err{name(m_started - 1) + ": fcntl: " + std::strerror(errno)};
        }
    }
    // Every command holds the ports now; the runner lets its copies go.
    if (all_started())
        m_setup.ports.clear();
    return {};
}

void HostPeers::add_poll_fds(std::vector<pollfd>& fds) const {
    for (const Run& run : m_runs) {
        if (!run.process)
            continue;
        for (int fd : {run.process->stdout_fd(), run.process->stderr_fd()}) {
            if (fd >= 0)
                fds.push_back({fd, POLLIN, 0});
        }
    }
}

bool HostPeers::read_ready(int fd) {
    for (size_t i = 0; i < m_started; ++i) {
        const ChildProcess& process = *m_runs[i].process;
        if (fd == process.stdout_fd() || fd == process.stderr_fd()) {
            drain(i, fd == process.stdout_fd() ? 0 : 1, false);
            return true;
        }
    }
    return false;
}

void HostPeers::drain(size_t index, int stream, bool close) {
    ChildProcess& process = *m_runs[index].process;
    int fd = stream == 0 ? process.stdout_fd() : process.stderr_fd();
    if (fd < 0)
        return;
    char buffer[16 * 1024];
    for (;;) {
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got > 0) {
            take_output(index, stream, std::string_view(buffer, size_t(got)));
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno == EAGAIN && !close)
            return;
        break; // end of file, an error, or the last of it read
    }
    // The stream is over: its unterminated line is a line.
    std::string& partial = m_runs[index].output.partial[stream];
    if (!partial.empty())
        add_line(index, std::exchange(partial, {}));
    if (stream == 0)
        process.close_stdout();
    else
        process.close_stderr();
}

void HostPeers::take_output(size_t index, int stream, std::string_view bytes) {
    std::string& partial = m_runs[index].output.partial[stream];
    while (!bytes.empty()) {
        size_t newline = bytes.find('\n');
        partial.append(bytes.substr(0, newline));
        bytes.remove_prefix(newline == std::string_view::npos ? bytes.size() : newline + 1);
        if (newline != std::string_view::npos || partial.size() >= max_host_line)
            add_line(index, std::exchange(partial, {}));
    }
}

void HostPeers::add_line(size_t index, std::string line) {
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    line = printable(line);
    if (m_setup.log) {
        std::printf("host[%zu]: %s\n", index + 1, line.c_str());
        std::fflush(stdout);
    }
    Output& output = m_runs[index].output;
    output.last_lines.push_back(std::move(line));
    if (output.last_lines.size() > shown_host_lines)
        output.last_lines.pop_front();
    ++output.line_count;
}

void HostPeers::finish(size_t index) {
    // Its group is dead: what it wrote is in the pipes. Whatever left the group
    // (setsid) keeps writing to no one.
    drain(index, 0, true);
    drain(index, 1, true);
}

void HostPeers::reap() {
    for (size_t i = 0; i < m_started; ++i) {
        ChildProcess& process = *m_runs[i].process;
        if (!process.has_exited() && process.try_reap())
            finish(i);
    }
}

void HostPeers::kill_all() {
    for (size_t i = 0; i < m_started; ++i) {
        ChildProcess& process = *m_runs[i].process;
        if (!process.has_exited()) {
            process.kill_and_wait();
            m_runs[i].killed = true;
        }
        finish(i);
    }
    m_setup.ports.clear();
}

std::optional<size_t> HostPeers::first_failed() const {
    for (size_t i = 0; i < m_started; ++i) {
        const Run& run = m_runs[i];
        if (run.process->has_exited() && !run.killed && run.process->wait_status() != 0)
            return i;
    }
    return std::nullopt;
}

std::optional<size_t> HostPeers::first_running() const {
    for (size_t i = 0; i < m_started; ++i) {
        if (!m_runs[i].process->has_exited())
            return i;
    }
    return std::nullopt;
}

std::string HostPeers::name(size_t index) const {
    return "host command #" + std::to_string(index + 1) + " " + quoted_value(m_runs[index].written);
}

std::string HostPeers::describe_end(size_t index) const {
    const Run& run = m_runs[index];
    if (!run.process || !run.process->has_exited())
        return name(index) + " still running";
    if (run.killed)
        return name(index) + " still running at the end of the run; killed";
    return name(index) + " " + describe_wait_status(run.process->wait_status());
}

std::string HostPeers::report() const {
    std::string out;
    for (size_t i = 0; i < m_runs.size(); ++i) {
        const Run& run = m_runs[i];
        std::string head = "---- host[" + std::to_string(i + 1) + "] ";
        if (!run.process) {
            out += head + "not started ----\n";
            continue;
        }
        if (!run.process->has_exited())
            head += "running";
        else if (run.killed)
            head += "killed at the end of the run";
        else
            head += describe_wait_status(run.process->wait_status());
        const Output& output = run.output;
        head += ": " + printable(run.command.command) + " (";
        if (output.line_count > output.last_lines.size())
            head += "last " + std::to_string(output.last_lines.size()) + " of ";
        out += head + std::to_string(output.line_count) +
               (output.line_count == 1 ? " output line) ----\n" : " output lines) ----\n");
        for (const std::string& line : output.last_lines)
            out += line + "\n";
    }
    return out;
}

} // namespace capos::qemu
