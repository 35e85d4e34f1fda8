#include "tools/qemu-runner/child_process.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace capos::qemu {
namespace {

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

struct Pipe {
    UniqueFd read_end;
    UniqueFd write_end;
};

Result<Pipe, std::string> make_pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return Err{errno_text("pipe2")};
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* argv, const sigset_t& child_mask, pid_t parent, int in_fd,
                             int out_fd, int err_fd, int report_fd) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) // the runner died before the death signal was armed
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &child_mask, nullptr);
    if (dup2(in_fd, STDIN_FILENO) >= 0 && dup2(out_fd, STDOUT_FILENO) >= 0 &&
        dup2(err_fd, STDERR_FILENO) >= 0) {
        execvp(argv[0], argv);
    }
    int error = errno;
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

} // namespace

Result<ChildProcess, std::string> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                      const sigset_t& child_mask) {
    Pipe in = TRY(make_pipe());
    Pipe out = TRY(make_pipe());
    Pipe err = TRY(make_pipe());
    // Closed by a successful exec; carries errno when exec fails.
    Pipe report = TRY(make_pipe());
    // The runner's end only: the child's stdin stays as blocking as it expects.
    int flags = fcntl(in.write_end.get(), F_GETFL);
    if (flags < 0 || fcntl(in.write_end.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        return Err{errno_text("fcntl")};

    std::vector<char*> c_argv;
    for (const std::string& arg : argv)
        c_argv.push_back(const_cast<char*>(arg.c_str()));
    c_argv.push_back(nullptr);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return Err{errno_text("fork")};
    if (pid == 0) {
        exec_child(c_argv.data(), child_mask, parent, in.read_end.get(), out.write_end.get(),
                   err.write_end.get(), report.write_end.get());
    }
    // Also set here, so the group exists before any kill, whichever side runs first.
    // EACCES means the child already exec'ed, after setting it itself.
    setpgid(pid, pid);
    ChildProcess child(pid, std::move(in.write_end), std::move(out.read_end),
                       std::move(err.read_end));
    in.read_end.reset();
    out.write_end.reset();
    err.write_end.reset();
    report.write_end.reset();

    int exec_errno = 0;
    ssize_t got;
    do {
        got = read(report.read_end.get(), &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    if (got > 0) {
        child.kill_and_wait();
        return Err{std::string("cannot run ") + argv[0] + ": " + std::strerror(exec_errno)};
    }
    return child;
}

ChildProcess::ChildProcess(ChildProcess&& other)
    : m_pid(std::exchange(other.m_pid, -1)), m_reaped(other.m_reaped),
      m_wait_status(other.m_wait_status), m_stdin(std::move(other.m_stdin)),
      m_stdout(std::move(other.m_stdout)), m_stderr(std::move(other.m_stderr)) {}

ChildProcess::~ChildProcess() {
    kill_and_wait();
}

bool ChildProcess::try_reap() {
    if (m_pid < 0 || m_reaped)
        return m_reaped;
    int status = 0;
    pid_t got;
    do {
        got = waitpid(m_pid, &status, WNOHANG);
    } while (got < 0 && errno == EINTR);
    if (got == m_pid) {
        m_reaped = true;
        m_wait_status = status;
    }
    return m_reaped;
}

void ChildProcess::kill_and_wait() {
    if (m_pid < 0 || m_reaped)
        return;
    kill(-m_pid, SIGKILL);
    kill(m_pid, SIGKILL); // in case it never made it into its own group
    int status = 0;
    pid_t got;
    do {
        got = waitpid(m_pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    m_reaped = true;
    m_wait_status = status;
}

std::string describe_wait_status(int wait_status) {
    if (WIFEXITED(wait_status))
        return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
    if (WIFSIGNALED(wait_status)) {
        return "killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
               strsignal(WTERMSIG(wait_status)) + ")";
    }
    return "ended with wait status " + std::to_string(wait_status);
}

} // namespace capos::qemu
