#include "tools/qemu-runner/child_process.h"

#include <algorithm>
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

// What the forked child does before exec, prepared by the parent: the child
// may only make async-signal-safe calls, so nothing here allocates.
struct ChildSetup {
    char* const* argv;
    char* const* envp;     // nullptr: the runner's environment
    const char* directory; // nullptr: the runner's
    const sigset_t* mask;
    bool only_inherited_fds;
    const int* inherited_fds;
    size_t inherited_count;
};

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(const ChildSetup& setup, pid_t parent, int in_fd, int out_fd,
                             int err_fd, int report_fd) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) // the runner died before the death signal was armed
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, setup.mask, nullptr);
    bool ready = dup2(in_fd, STDIN_FILENO) >= 0 && dup2(out_fd, STDOUT_FILENO) >= 0 &&
                 dup2(err_fd, STDERR_FILENO) >= 0;
    if (ready && setup.directory)
        ready = chdir(setup.directory) == 0;
    // Every other descriptor closes at exec (the report pipe still reports a failed
    // exec), except the inherited ones.
    if (ready && setup.only_inherited_fds)
        ready = close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
    for (size_t i = 0; ready && i < setup.inherited_count; ++i)
        ready = fcntl(setup.inherited_fds[i], F_SETFD, 0) == 0;
    if (ready) {
        if (setup.envp)
            execvpe(setup.argv[0], setup.argv, setup.envp);
        else
            execvp(setup.argv[0], setup.argv);
    }
    int error = errno;
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

// The runner's environment with `added` ("NAME=value") replacing any variable of
// the same name.
std::vector<std::string> environment_with(const std::vector<std::string>& added) {
    std::vector<std::string> entries;
    for (char** entry = environ; *entry; ++entry) {
        std::string_view text(*entry);
        std::string_view name = text.substr(0, text.find('=') + 1);
        bool replaced = std::any_of(added.begin(), added.end(), [&](const std::string& add) {
            return add.compare(0, name.size(), name) == 0;
        });
        if (!replaced)
            entries.emplace_back(text);
    }
    entries.insert(entries.end(), added.begin(), added.end());
    return entries;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (const std::string& string : strings)
        pointers.push_back(const_cast<char*>(string.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

} // namespace

Result<ChildProcess, std::string> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                      const sigset_t& child_mask,
                                                      const SpawnOptions& options) {
    Pipe in = TRY(make_pipe());
    Pipe out = TRY(make_pipe());
    Pipe err = TRY(make_pipe());
    // Closed by a successful exec; carries errno when exec fails.
    Pipe report = TRY(make_pipe());
    // The runner's end only: the child's stdin stays as blocking as it expects.
    int flags = fcntl(in.write_end.get(), F_GETFL);
    if (flags < 0 || fcntl(in.write_end.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        return Err{errno_text("fcntl")};

    std::vector<char*> c_argv = c_strings(argv);
    std::vector<std::string> environment;
    if (!options.environment.empty())
        environment = environment_with(options.environment);
    std::vector<char*> c_envp = c_strings(environment);
    ChildSetup setup{c_argv.data(),
                     options.environment.empty() ? nullptr : c_envp.data(),
                     options.directory.empty() ? nullptr : options.directory.c_str(),
                     &child_mask,
                     options.only_inherited_fds,
                     options.inherited_fds.data(),
                     options.inherited_fds.size()};

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return Err{errno_text("fork")};
    if (pid == 0) {
        exec_child(setup, parent, in.read_end.get(), out.write_end.get(), err.write_end.get(),
                   report.write_end.get());
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
        std::string where = options.directory.empty() ? "" : " in " + options.directory;
        return Err{std::string("cannot run ") + argv[0] + where + ": " + std::strerror(exec_errno)};
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
    siginfo_t info = {};
    int looked;
    do {
        looked = waitid(P_PID, m_pid, &info, WEXITED | WNOHANG | WNOWAIT);
    } while (looked < 0 && errno == EINTR);
    if (looked != 0 || info.si_pid != m_pid)
        return false;
    kill_and_wait(); // the child is a zombie: this kills the rest of its group and reaps it
    return true;
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
