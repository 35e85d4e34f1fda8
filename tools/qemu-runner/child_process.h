// A child process (QEMU, a scenario's host command) that cannot outlive the runner: it
// leads its own process group, gets SIGKILL when the runner dies (PR_SET_PDEATHSIG),
// and the destructor kills the group and reaps the child if nobody did. Its stdin,
// stdout and stderr are pipes; the runner holds their other ends, the stdin one
// non-blocking.
#pragma once

#include "lib/base/result.h"
#include "tools/qemu-runner/unique_fd.h"

#include <csignal>
#include <string>
#include <sys/types.h>
#include <vector>

namespace capos::qemu {

// How a child starts, beyond its argv and signal mask.
struct SpawnOptions {
    // The working directory; empty: the runner's.
    std::string directory;
    // "NAME=value" entries added to the runner's environment (replacing a variable of
    // the same name).
    std::vector<std::string> environment;
    // Whether the child inherits only its stdin, stdout, stderr and `inherited_fds`.
    // Without it the child inherits every descriptor that is not close-on-exec (QEMU:
    // the private copies it opens as /dev/fd/N).
    bool only_inherited_fds = false;
    // Descriptors of the runner's, close-on-exec there, that the child inherits at
    // the same numbers (the runner's copies stay close-on-exec: no other child gets
    // them).
    std::vector<int> inherited_fds;
};

class ChildProcess {
public:
    // Starts argv[0] (looked up in PATH) with signal mask `child_mask`. Fails, with the
    // child already reaped, when the program cannot be executed.
    static Result<ChildProcess, std::string> spawn(const std::vector<std::string>& argv,
                                                   const sigset_t& child_mask,
                                                   const SpawnOptions& options = {});

    ChildProcess(ChildProcess&& other);
    ChildProcess& operator=(ChildProcess&&) = delete;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    int stdin_fd() const { return m_stdin.get(); }
    int stdout_fd() const { return m_stdout.get(); }
    int stderr_fd() const { return m_stderr.get(); }
    // The child reads end of file once what was written before is read.
    void close_stdin() { m_stdin.reset(); }
    void close_stdout() { m_stdout.reset(); }
    void close_stderr() { m_stderr.reset(); }

    // Reaps the child if it has exited, after killing what it left running in its
    // process group (while the child is unreaped its pid, and so its group, cannot be
    // reused); never blocks. Returns has_exited().
    bool try_reap();
    // Sends SIGKILL to the child's process group and waits until the child is reaped.
    // Does nothing once the child has been reaped (its pid may be reused).
    void kill_and_wait();

    bool has_exited() const { return m_reaped; }
    // The waitpid() status; meaningful once has_exited().
    int wait_status() const { return m_wait_status; }

private:
    ChildProcess(pid_t pid, UniqueFd in, UniqueFd out, UniqueFd err)
        : m_pid(pid), m_stdin(std::move(in)), m_stdout(std::move(out)), m_stderr(std::move(err)) {}

    pid_t m_pid = -1;
    bool m_reaped = false;
    int m_wait_status = 0;
    UniqueFd m_stdin;
    UniqueFd m_stdout;
    UniqueFd m_stderr;
};

// "exited with status 3" or "killed by signal 9 (Killed)".
std::string describe_wait_status(int wait_status);

} // namespace capos::qemu
