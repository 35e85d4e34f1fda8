// In-kernel tests chosen by the command line (test=NAME). Self-tests report one
// "selftest: <name> ... ok|FAILED" line each and a summary, then end the run
// with ExitCode::Success or ExitCode::Failure. Fault tests provoke a CPU
// exception on purpose; the exception handler ends the run with ExitCode::Fault.
#pragma once

#include "kernel/boot/boot_info.h"
#include <string_view>

namespace capos::kernel {

const BootInfo& boot_info();

[[noreturn]] void run_kernel_test(std::string_view name);

} // namespace capos::kernel
