// `capos-qemu test`: boots one scenario and judges its serial console and exit.
#pragma once

#include <optional>
#include <string>

namespace capos::qemu {

// Process exit codes of `capos-qemu test`.
enum class TestResult {
    Pass = 0,
    Fail = 1,        // the run did not meet the scenario, or could not be started
    BadScenario = 2, // the scenario file is unreadable or invalid; nothing was run
};

struct TestOptions {
    std::string root;     // build directory; relative scenario paths resolve against it
    std::string scenario; // path of the scenario file
    bool dry_run = false; // print the QEMU command line (and host commands) instead of running it
    bool log = false;     // print the serial log after a pass too, host output as it comes
    // A machine of this many CPUs (and MTTCG with `mttcg`) for a scenario
    // that does not set `cpus:` itself: the suite run again on several CPUs
    // (with twice the scenario's timeout).
    std::optional<int> cpus;
    bool mttcg = false;
};

// Runs the scenario, typing its sends into QEMU's stdin and starting its host commands
// as their expects match, and prints the verdict to stdout: one line on a pass; on a
// failure the reason, the QEMU command, the whole serial log with the sends where they
// were typed, QEMU's stderr and the host commands' last output. A run QEMU fails to
// start because it cannot bind a forwarded port is run again with new ports (at most
// three attempts in all).
// Scenario errors go to stderr as "file:line: error: ...". Blocks SIGINT, SIGTERM,
// SIGHUP and SIGCHLD for the duration and handles them synchronously: an interrupt
// kills QEMU and the host commands and fails the run. Never returns with a QEMU
// process or a host command's process group left running.
TestResult run_test(const TestOptions& options);

} // namespace capos::qemu
