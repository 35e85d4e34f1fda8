#include "tools/qemu-runner/qemu_command.h"

#include "tools/qemu-runner/unique_fd.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace capos::qemu {
namespace {

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

Result<void, std::string> check_readable(const char* role, const std::string& path) {
    if (access(path.c_str(), R_OK) != 0)
        return Err{std::string(role) + " not found or unreadable: " + path + " (" +
                   std::strerror(errno) + ")"};
    return {};
}

} // namespace

std::vector<std::string> qemu_command(const Machine& machine) {
    // -cpu max: under TCG this is every feature QEMU emulates, including NX, SMEP,
    // SMAP and UMIP, and QEMU 7.2 prints no warnings for it. -accel tcg always: KVM
    // on the build machines is paravirtual and far slower in ring 0.
    std::vector<std::string> argv = {
        qemu_program,
        "-M",
        machine.type,
        "-cpu",
        "max" + machine.cpu_features,
        "-accel",
        machine.multi_threaded ? "tcg,thread=multi" : "tcg",
        "-smp",
        std::to_string(machine.cpus) + machine.topology,
        "-m",
        machine.memory,
    };
    if (!machine.reboots)
        argv.push_back("-no-reboot");
    argv.insert(argv.end(), {"-display", "none"});
    if (machine.debug_exit)
        argv.insert(argv.end(), {"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"});
    // The device that uses each drive names its id.
    for (const DriveFile& drive : machine.drives)
        argv.insert(argv.end(), {"-drive", drive_option(drive)});
    for (const std::string& netdev : machine.netdevs)
        argv.insert(argv.end(), {"-netdev", netdev});
    for (const std::string& device : machine.devices)
        argv.insert(argv.end(), {"-device", device});
    if (machine.console == Console::Interactive) {
        argv.insert(argv.end(), {"-serial", "mon:stdio"});
    } else {
        argv.insert(argv.end(), {"-serial", "stdio", "-monitor", "none"});
    }

    switch (machine.boot) {
    case BootMode::Pvh:
        argv.insert(argv.end(), {"-kernel", machine.kernel});
        if (machine.initrd)
            argv.insert(argv.end(), {"-initrd", *machine.initrd});
        if (!machine.append.empty())
            argv.insert(argv.end(), {"-append", machine.append});
        break;
    case BootMode::IsoUefi:
        argv.insert(
            argv.end(),
            {"-drive",
             std::string("if=pflash,format=raw,unit=0,readonly=on,file=") + ovmf_code_path,
             "-drive",
             "if=pflash,format=raw,unit=1,file=/dev/fd/" + std::to_string(machine.ovmf_vars_fd)});
        [[fallthrough]];
    case BootMode::IsoBios:
        argv.insert(argv.end(), {"-cdrom", machine.iso});
        break;
    }
    argv.insert(argv.end(), machine.extra_args.begin(), machine.extra_args.end());
    return argv;
}

std::string drive_option(const DriveFile& drive) {
    // Raw images only: no format probing of a file the guest writes.
    std::string option = "if=none,id=" + drive.id + ",format=raw,";
    std::string fd = "/dev/fd/" + std::to_string(drive.fd);
    if (!drive.read_error_sector && !drive.write_error_sector) {
        option += "file=" + fd;
    } else {
        // blkdebug sits between the raw format and the file, where the raw
        // layer's read_aio and write_aio events pass.
        option += "file.driver=blkdebug,file.image.driver=file,file.image.filename=" + fd;
        int rule = 0;
        auto inject = [&](const char* event, uint64_t sector) {
            std::string prefix = ",file.inject-error." + std::to_string(rule++) + ".";
            option += prefix + "event=" + event + prefix + "sector=" + std::to_string(sector);
        };
        if (drive.read_error_sector)
            inject("read_aio", *drive.read_error_sector);
        if (drive.write_error_sector)
            inject("write_aio", *drive.write_error_sector);
    }
    if (drive.read_only)
        option += ",readonly=on";
    return option;
}

Result<int, std::string> open_ovmf_vars_copy() {
    return open_private_copy(ovmf_vars_path, "OVMF variable store");
}

Result<int, std::string> open_private_copy(const std::string& path, const std::string& role) {
    UniqueFd source(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!source.is_open())
        return Err{errno_text("cannot open " + role + " " + path)};
    UniqueFd copy(memfd_create("capos-private-copy", 0));
    if (!copy.is_open())
        return Err{errno_text("memfd_create")};
    char buffer[64 * 1024];
    for (;;) {
        ssize_t got = read(source.get(), buffer, sizeof buffer);
        if (got == 0)
            return copy.release();
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return Err{errno_text("reading " + role + " " + path)};
        }
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write(copy.get(), buffer + done, got - done);
            if (put < 0 && errno != EINTR)
                return Err{errno_text("copying " + role + " " + path)};
            done += put > 0 ? put : 0;
        }
    }
}

Result<std::string, std::string> read_whole(int fd) {
    std::string bytes;
    char buffer[64 * 1024];
    for (off_t offset = 0;;) {
        ssize_t got = pread(fd, buffer, sizeof buffer, offset);
        if (got == 0)
            return bytes;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return Err{errno_text("reading back a private copy")};
        }
        bytes.append(buffer, size_t(got));
        offset += got;
    }
}

Result<void, std::string> check_machine_files(const Machine& machine) {
    switch (machine.boot) {
    case BootMode::Pvh:
        TRY(check_readable("kernel", machine.kernel));
        if (machine.initrd)
            TRY(check_readable("initrd", *machine.initrd));
        break;
    case BootMode::IsoUefi:
        TRY(check_readable("OVMF firmware", ovmf_code_path));
        TRY(check_readable("ISO", machine.iso));
        break;
    case BootMode::IsoBios:
        TRY(check_readable("ISO", machine.iso));
        break;
    }
    return {};
}

std::string shell_quote(const std::vector<std::string>& argv) {
    std::string line;
    for (const std::string& arg : argv) {
        if (!line.empty())
            line += ' ';
        bool plain =
            !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                  "0123456789_-+=/.,:@%") == std::string::npos;
        if (plain) {
            line += arg;
            continue;
        }
        line += '\'';
        for (char c : arg) {
            if (c == '\'')
                line += "'\\''";
            else
                line += c;
        }
        line += '\'';
    }
    return line;
}

} // namespace capos::qemu
