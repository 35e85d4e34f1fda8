#include "tools/qemu-runner/run_mode.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace capos::qemu {

int run_interactive(Machine machine, bool dry_run) {
    machine.console = Console::Interactive;
    if (dry_run) {
        if (machine.boot == BootMode::IsoUefi)
            machine.ovmf_vars_fd = 3; // placeholder: a real run opens a fresh copy
        std::printf("%s\n", shell_quote(qemu_command(machine)).c_str());
        return 0;
    }
    auto files = check_machine_files(machine);
    if (files.is_error()) {
        std::fprintf(stderr, "capos-qemu: %s\n", files.error().c_str());
        return 1;
    }
    if (machine.boot == BootMode::IsoUefi) {
        // Inherited across exec and never closed: it lives exactly as long as QEMU.
        auto vars = open_ovmf_vars_copy();
        if (vars.is_error()) {
            std::fprintf(stderr, "capos-qemu: %s\n", vars.error().c_str());
            return 1;
        }
        machine.ovmf_vars_fd = vars.value();
    }

    std::vector<std::string> command = qemu_command(machine);
    std::fprintf(stderr,
                 "capos-qemu: %s\ncapos-qemu: Ctrl-A X quits, Ctrl-A C toggles the monitor\n",
                 shell_quote(command).c_str());
    std::fflush(stderr);
    std::vector<char*> argv;
    for (std::string& arg : command)
        argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "capos-qemu: cannot run %s: %s\n", argv[0], std::strerror(errno));
    return 1;
}

} // namespace capos::qemu
