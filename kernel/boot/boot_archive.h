// The boot archive: the one boot module, a cpio "newc" archive of named files
// (the compiled manifest, every program binary, the message of the day).
#pragma once

#include "kernel/boot/boot_info.h"
#include "lib/archive/cpio.h"
#include <optional>

namespace capos::kernel {

// Finds and validates the archive among the boot modules, logs its entries and
// keeps it for later look-ups. A missing or malformed archive is logged as an
// error and leaves the kernel without one; it never stops the boot.
void boot_archive_init(const BootInfo& boot);

// The validated archive, if the boot delivered one.
const CpioArchive* boot_archive();

} // namespace capos::kernel
