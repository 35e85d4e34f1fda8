// A child process (QEMU) that cannot outlive the runner: it leads its own process
// group, gets SIGKILL when the runner dies (PR_SET_PDEATHSIG), and the destructor
// kills the group and reaps the child if nobody did. Its stdin, stdout and stderr are
// pipes; the runner holds their other ends, the stdin one non-blocking.
#pragma once

#include "lib/base/result.h"
#include "tools/qemu-runner/unique_fd.h"

#include <csignal>
#include <string>
#include <sys/types.h>
#include <vector>

namespace capos::qemu {

class ChildProcess {
public:
    // Starts argv[0] (looked up in PATH) with signal mask `child_mask`. Fails, with the
    // child already reaped, when the program cannot be executed.
    static Result<ChildProcess, std::string> spawn(const std::vector<std::string>& argv,
                                                   const sigset_t& child_mask);

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

    // Reaps the child if it has exited; never blocks. Returns has_exited().
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
