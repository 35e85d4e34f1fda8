// capos-qemu: the single place that knows how to launch QEMU for capOS.
//
//   capos-qemu run --kernel FILE [--initrd FILE] [--append CMDLINE] [--memory SIZE]
//                  [--dry-run] [-- QEMU-ARGS...]
//   capos-qemu run --iso FILE [--uefi] [--memory SIZE] [--dry-run] [-- QEMU-ARGS...]
//   capos-qemu test --root BUILD_DIR [--dry-run] [--log] [--cpus N [--mttcg]] SCENARIO_FILE
//
// `run` is interactive (make run); `test` boots one scenario and exits 0 on pass,
// 1 on failure and 2 on a bad scenario or usage error. The machine itself is
// described in qemu_command.cpp, the scenario format in scenario.h.
#include "tools/qemu-runner/qemu_command.h"
#include "tools/qemu-runner/run_mode.h"
#include "tools/qemu-runner/test_mode.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace capos::qemu;

constexpr int usage_exit = 2;

constexpr const char* usage_text =
    "usage: capos-qemu run --kernel FILE [--initrd FILE] [--append CMDLINE] [--memory SIZE]\n"
    "                      [--dry-run] [-- QEMU-ARGS...]\n"
    "       capos-qemu run --iso FILE [--uefi] [--memory SIZE] [--dry-run] [-- QEMU-ARGS...]\n"
    "       capos-qemu test --root BUILD_DIR [--dry-run] [--log] [--cpus N [--mttcg]] "
    "SCENARIO_FILE\n";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "capos-qemu: %s\n%s", message.c_str(), usage_text);
    return usage_exit;
}

// Walks argv; options that take a value read the next word.
class Arguments {
public:
    Arguments(int argc, char** argv) : m_args(argv + 1, argv + argc) {}

    bool done() const { return m_next == m_args.size(); }
    std::string_view next() { return m_args[m_next++]; }
    std::optional<std::string> value() {
        if (done())
            return std::nullopt;
        return std::string(next());
    }
    std::vector<std::string> rest() {
        std::vector<std::string> words(m_args.begin() + m_next, m_args.end());
        m_next = m_args.size();
        return words;
    }

private:
    std::vector<std::string_view> m_args;
    size_t m_next = 0;
};

int run_command(Arguments& args) {
    Machine machine;
    std::optional<std::string> kernel, initrd, append, iso;
    bool uefi = false;
    bool dry_run = false;
    while (!args.done()) {
        std::string_view arg = args.next();
        std::optional<std::string>* target = nullptr;
        if (arg == "--kernel")
            target = &kernel;
        else if (arg == "--initrd")
            target = &initrd;
        else if (arg == "--append")
            target = &append;
        else if (arg == "--iso")
            target = &iso;
        if (target) {
            *target = args.value();
            if (!*target)
                return usage_error(std::string(arg) + " needs a value");
        } else if (arg == "--memory") {
            auto memory = args.value();
            if (!memory || !is_valid_memory_size(*memory))
                return usage_error("--memory needs a size like 128M or 1G");
            machine.memory = *memory;
        } else if (arg == "--uefi") {
            uefi = true;
        } else if (arg == "--dry-run") {
            dry_run = true;
        } else if (arg == "--") {
            machine.extra_args = args.rest();
        } else {
            return usage_error("unknown argument '" + std::string(arg) + "'");
        }
    }

    if (kernel && iso)
        return usage_error("give either --kernel or --iso");
    if (iso) {
        if (initrd || append)
            return usage_error("--initrd and --append apply only to --kernel");
        machine.boot = uefi ? BootMode::IsoUefi : BootMode::IsoBios;
        machine.iso = *iso;
    } else if (kernel) {
        if (uefi)
            return usage_error("--uefi applies only to --iso");
        machine.boot = BootMode::Pvh;
        machine.kernel = *kernel;
        machine.initrd = initrd;
        machine.append = append.value_or("");
    } else {
        return usage_error("give --kernel or --iso");
    }
    return run_interactive(std::move(machine), dry_run);
}

int test_command(Arguments& args) {
    TestOptions options;
    std::optional<std::string> root, scenario;
    while (!args.done()) {
        std::string_view arg = args.next();
        if (arg == "--root") {
            root = args.value();
            if (!root)
                return usage_error("--root needs a value");
        } else if (arg == "--dry-run") {
            options.dry_run = true;
        } else if (arg == "--log") {
            options.log = true;
        } else if (arg == "--cpus") {
            auto value = args.value();
            int cpus =
                value && value->size() <= 2 && !value->empty() ? std::atoi(value->c_str()) : 0;
            if (cpus < 1 || cpus > max_cpus)
                return usage_error("--cpus needs a number of CPUs, 1 to " +
                                   std::to_string(max_cpus));
            options.cpus = cpus;
        } else if (arg == "--mttcg") {
            options.mttcg = true;
        } else if (!arg.empty() && arg.front() == '-') {
            return usage_error("unknown argument '" + std::string(arg) + "'");
        } else if (scenario) {
            return usage_error("give exactly one scenario file");
        } else {
            scenario = std::string(arg);
        }
    }
    if (!root)
        return usage_error("test needs --root BUILD_DIR");
    if (!scenario)
        return usage_error("test needs a scenario file");
    options.root = *root;
    options.scenario = *scenario;
    return static_cast<int>(run_test(options));
}

} // namespace

int main(int argc, char** argv) {
    Arguments args(argc, argv);
    if (args.done())
        return usage_error("missing command");
    std::string_view command = args.next();
    if (command == "run")
        return run_command(args);
    if (command == "test")
        return test_command(args);
    if (command == "--help" || command == "-h") {
        std::fputs(usage_text, stdout);
        return 0;
    }
    return usage_error("unknown command '" + std::string(command) + "'");
}
