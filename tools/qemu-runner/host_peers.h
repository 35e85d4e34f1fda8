// A scenario's host commands (`host:` lines): programs on the host that talk to the
// guest over QEMU's user network while the scenario runs. Each is started with
// `/bin/sh -c` in the scenario file's directory once the expects above it have
// matched, in a process group of its own; its stdout and stderr are read from the
// runner's poll() loop (never blocking it) and kept for the report.
//
// A command is over when its shell exits: whatever it left running in its group is
// killed then. A command that exits with a non-zero status or is killed by a signal
// fails the run; one still running when the run ends is killed with its group and
// fails it too. The destructor kills every group still running, so no exit path
// leaves a host command behind.
#pragma once

#include "lib/base/result.h"
#include "tools/qemu-runner/child_process.h"
#include "tools/qemu-runner/ports.h"
#include "tools/qemu-runner/scenario.h"

#include <csignal>
#include <cstddef>
#include <deque>
#include <optional>
#include <poll.h>
#include <string>
#include <vector>

namespace capos::qemu {

inline constexpr const char* host_shell = "/bin/sh";
// How many of a command's last output lines a failure report shows.
inline constexpr size_t shown_host_lines = 20;

// A port the runner holds for the host commands (a name no netdev uses).
struct HeldPort {
    std::string name;
    BoundPort bound;
};

// What the commands need to start: the same for each.
struct HostSetup {
    std::string directory;          // their working directory: the scenario file's
    std::string root;               // the build directory, as CAPOS_ROOT (absolute)
    std::vector<HeldPort> ports;    // handed to each command, closed once all have started
    bool log = false;               // print each output line as it comes, as `host[N]: line`
    const sigset_t* mask = nullptr; // the signal mask the runner started with
};

class HostPeers {
public:
    // `commands` hold their ports already (substitute_ports()); `written` is the same
    // commands as the scenario wrote them, to name them in a failure.
    HostPeers(std::vector<HostCommand> commands, std::vector<std::string> written, HostSetup setup);

    // Starts, in file order, every command not yet started whose expects have all
    // matched (`expects_seen` of them). Fails naming the first that cannot start.
    Result<void, std::string> start_released(size_t expects_seen);

    // Adds the output pipes still open to a poll() set.
    void add_poll_fds(std::vector<pollfd>& fds) const;
    // Reads what poll() found ready on `fd` if it is one of the commands' pipes;
    // returns whether it was.
    bool read_ready(int fd);
    // Reaps every command that has exited (after a SIGCHLD) and reads what is left
    // of its output.
    void reap();
    // Kills the group of every command still running and reaps it; reads what is
    // left of the output.
    void kill_all();

    bool all_started() const { return m_started == m_runs.size(); }
    // The first command that exited with a non-zero status or was killed, not by
    // the runner.
    std::optional<size_t> first_failed() const;
    // The first command started and not yet reaped.
    std::optional<size_t> first_running() const;
    size_t size() const { return m_runs.size(); }
    size_t started() const { return m_started; }

    // `host command #2 "nc ..."`: the command as written.
    std::string name(size_t index) const;
    // Its name and how it ended: `host command #1 "exit 1" exited with status 1`.
    std::string describe_end(size_t index) const;
    // The report's section for every command started: the command run, how it ended
    // and its last shown_host_lines lines of output.
    std::string report() const;

private:
    // A command's output: stdout and stderr, a line at a time as each completes.
    struct Output {
        std::string partial[2]; // stdout's, stderr's unterminated line
        std::deque<std::string> last_lines;
        size_t line_count = 0;
    };
    struct Run {
        HostCommand command;
        std::string written;
        std::optional<ChildProcess> process;
        bool killed = false; // by the runner, at the end of the run
        Output output;
    };

    void take_output(size_t index, int stream, std::string_view bytes);
    void add_line(size_t index, std::string line);
    // Reads the pipe until it is empty; closes it at end of file (or with `close`).
    void drain(size_t index, int stream, bool close);
    void finish(size_t index); // reaped: the rest of its output

    std::vector<Run> m_runs;
    HostSetup m_setup;
    size_t m_started = 0; // a prefix of m_runs
};

} // namespace capos::qemu
