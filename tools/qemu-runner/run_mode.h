// `capos-qemu run`: an interactive boot with the serial console (and the QEMU
// monitor, behind Ctrl-A C) on the terminal.
#pragma once

#include "tools/qemu-runner/qemu_command.h"

namespace capos::qemu {

// Replaces the runner with QEMU. Returns only when QEMU could not be started (or
// for a dry run), with the process exit code.
int run_interactive(Machine machine, bool dry_run);

} // namespace capos::qemu
