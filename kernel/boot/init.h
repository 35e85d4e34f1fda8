// Starting the system: the boot manifest from the archive, and init.
#pragma once

#include "kernel/boot/boot_archive.h"
#include "kernel/lib/kernel_lock.h"
#include "lib/base/cmdline.h"

namespace capos::kernel {

// Reads `manifest.bin` from the boot archive, starts init with the kernel
// capabilities the manifest grants it, and starts a kernel thread that waits
// for init to end. When it ends the kernel reports its status and whether
// every frame came back; with `shutdown` on the command line it then powers
// off (exit code Success for a clean exit 0, Failure otherwise). Returns false,
// having logged why, when there is no usable manifest or init cannot start.
bool start_init(const CpioArchive& archive, const CommandLine& command_line)
    CAPOS_REQUIRES(g_kernel_lock);

} // namespace capos::kernel
