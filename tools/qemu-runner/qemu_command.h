// The one place that says how QEMU is started for capOS: the machine, the firmware,
// the boot path and where the serial console goes. Both `capos-qemu run` and
// `capos-qemu test` build their command lines here, so an interactive boot and a
// test boot differ only in the console wiring.
#pragma once

#include "lib/base/result.h"
#include "tools/qemu-runner/scenario.h"

#include <optional>
#include <string>
#include <vector>

namespace capos::qemu {

inline constexpr const char* qemu_program = "qemu-system-x86_64";
inline constexpr const char* ovmf_code_path = "/usr/share/OVMF/OVMF_CODE_4M.fd";
inline constexpr const char* ovmf_vars_path = "/usr/share/OVMF/OVMF_VARS_4M.fd";

enum class Console {
    // Serial and the QEMU monitor multiplexed on the terminal (Ctrl-A X quits,
    // Ctrl-A C switches to the monitor).
    Interactive,
    // Serial alone on QEMU's stdout, for a pipe; no monitor.
    Captured,
};

// A disk image on QEMU's command line: -drive if=none,id=<id>,format=raw over a
// descriptor QEMU inherits (the run's private copy, see open_private_copy()),
// through QEMU's blkdebug layer when reads or writes of a sector are to fail.
struct DriveFile {
    std::string id;
    int fd = -1;
    bool read_only = false;
    std::optional<uint64_t> read_error_sector;
    std::optional<uint64_t> write_error_sector;
};

struct Machine {
    BootMode boot = BootMode::Pvh;
    std::string kernel;                // pvh
    std::optional<std::string> initrd; // pvh
    std::string append;                // pvh; empty means no -append
    std::string iso;                   // iso boots
    std::string memory{default_memory};
    std::string type{default_machine_type}; // QEMU's -M
    std::string cpu_features;               // appended to -cpu max
    int cpus = default_cpus;                // QEMU's -smp
    std::string topology;                   // appended to -smp's count
    bool multi_threaded = false;            // -accel tcg,thread=multi
    bool debug_exit = true;                 // -device isa-debug-exit at port 0xf4
    bool reboots = false;                   // a reset restarts the machine (no -no-reboot)
    std::vector<std::string> devices;       // -device <each>, after isa-debug-exit
    std::vector<std::string> netdevs;       // -netdev <each>, before the devices
    std::vector<DriveFile> drives;          // -drive <each>, before the devices
    Console console = Console::Captured;
    // iso-uefi: a descriptor, inherited by QEMU, of this run's private copy of the
    // OVMF variable store (see open_ovmf_vars_copy()).
    int ovmf_vars_fd = -1;
    std::vector<std::string> extra_args; // appended verbatim (interactive debugging)
};

// The full argv, program name first.
std::vector<std::string> qemu_command(const Machine& machine);

// The value of -drive for `drive`.
std::string drive_option(const DriveFile& drive);

// Creates an anonymous in-memory file (memfd) holding a copy of the OVMF variable
// store and returns its descriptor, deliberately not close-on-exec: QEMU opens it as
// /dev/fd/N. The copy has no name on any filesystem, so nothing is left behind
// however the run ends, and concurrent runs never share variables.
Result<int, std::string> open_ovmf_vars_copy();

// The same for any file: a memfd holding a copy of `path`, not close-on-exec;
// `role` names the file in an error ("drive image").
Result<int, std::string> open_private_copy(const std::string& path, const std::string& role);

// The whole of what `fd` holds, read from its start (a private copy after QEMU has
// exited).
Result<std::string, std::string> read_whole(int fd);

// Checks that the files a boot needs exist and are readable, naming the first
// missing one.
Result<void, std::string> check_machine_files(const Machine& machine);

// argv as one shell-pasteable line, for logs and failure reports.
std::string shell_quote(const std::vector<std::string>& argv);

} // namespace capos::qemu
