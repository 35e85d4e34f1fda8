// A scenario is one QEMU boot of capOS and what its serial console must show.
// Scenario files are line based; see parse_scenario() for the exact format. The
// parser is strict: an unknown key, a repeated single-valued key or a malformed
// value is an error that names its line, so a typo never silently weakens a test.
#pragma once

#include "lib/base/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capos::qemu {

enum class BootMode {
    Pvh,     // qemu -kernel/-initrd/-append: the kernel's PVH note, no firmware boot path
    IsoBios, // the GRUB ISO under SeaBIOS
    IsoUefi, // the GRUB ISO under OVMF
};

// How the QEMU run must end.
enum class ExpectedExit {
    Success,  // isa-debug-exit with abi::ExitCode::Success
    Failure,  // ... ExitCode::Failure
    Panic,    // ... ExitCode::Panic
    Fault,    // ... ExitCode::Fault
    Reset,    // QEMU status 0: the machine reset (triple fault) under -no-reboot
    PowerOff, // QEMU status 0: an ACPI power-off (how capOS ends a run without
              // isa-debug-exit)
    Running,  // the machine stays up: after the last expect it is watched a while
              // (test_mode.cpp), then stopped; it may not exit in that time
};

inline constexpr std::string_view default_kernel = "kernel/kernel.elf";
inline constexpr std::string_view default_initrd = "system/boot.cpio";
inline constexpr std::string_view default_iso = "capos.iso";
inline constexpr std::string_view default_memory = "128M";
inline constexpr std::string_view default_machine_type = "q35";
inline constexpr int default_cpus = 1;
inline constexpr int max_cpus = 64;
inline constexpr int default_timeout_seconds = 30;
inline constexpr int default_uefi_timeout_seconds = 120;
inline constexpr int max_timeout_seconds = 3600;
inline constexpr int max_irqoff_us = 1000000;
// What the kernel logs for a stretch with interrupts off over its bound.
inline constexpr std::string_view irqoff_over_bound = "interrupts were off for";

// Patterns that fail a scenario wherever they appear in the serial log, unless the
// scenario removes them with `allow:`.
inline constexpr std::string_view default_forbidden[] = {"PANIC", "EXCEPTION"};

// A `drive:` line: a raw disk image attached to the machine under a drive id that a
// `device:` names (`virtio-blk-pci,drive=<id>`). The run gets a private copy of the
// image (scenarios running at once never share one, and the file in the build
// directory is never written); with a `drive-expect:` line the copy must hold
// exactly the bytes of another file once QEMU has exited.
struct Drive {
    std::string id;    // QEMU's drive id
    std::string image; // the file copied, as written (relative: to the build directory)
    bool read_only = false;
    // Every read (write) of the guest's that covers this 512-byte sector fails
    // with EIO, which the device reports to the guest (QEMU's blkdebug layer
    // under the image).
    std::optional<uint64_t> read_error_sector;
    std::optional<uint64_t> write_error_sector;
    std::optional<std::string> expected; // drive-expect: the file the copy must equal
    std::optional<std::string> kept;     // drive-keep: where the copy is written after a pass
};

// The longest drive id a scenario may give.
inline constexpr size_t max_drive_id = 32;

// A `send:` line: bytes typed into the guest's serial line (QEMU's stdin).
struct Send {
    std::string bytes; // exactly as typed: nothing is appended
    // The expects written before it in the file: it is typed once they have all
    // matched (at the start of the run when there are none).
    size_t after_expects = 0;
};

// A `host:` line: a command run on the host, with `/bin/sh -c`, while the
// scenario runs (a peer for the guest on QEMU's user network).
struct HostCommand {
    std::string command; // as written: `{port:NAME}` placeholders not yet substituted
    // The expects written before it in the file: it is started once they have all
    // matched (at the start of the run when there are none).
    size_t after_expects = 0;
};

// A `{port:NAME}` name: a free port of 127.0.0.1 the runner picks for each run
// (ports.h).
struct PortName {
    std::string name;
    // Used in a `netdev:` value: QEMU binds it (a hostfwd rule), so the runner
    // lets it go before starting QEMU. Else (and in a netdev that connects to
    // a peer: `socket,connect=` or `stream,server=off`) the runner holds it
    // and hands its sockets to the host commands.
    bool for_qemu = false;
};

struct Scenario {
    BootMode boot = BootMode::Pvh;
    // Paths are as written: relative ones are resolved against the build directory
    // by the caller. No initrd means `initrd: none`.
    std::string kernel{default_kernel};
    std::optional<std::string> initrd{default_initrd};
    std::string iso{default_iso};
    std::string append;
    std::string memory{default_memory};
    std::string machine_type{default_machine_type}; // QEMU's -M: q35 or pc
    std::string cpu_features;                       // appended to -cpu max: ",-xsave,+pdpe1gb"
    int cpus = default_cpus;                        // QEMU's -smp: 1 to max_cpus
    bool cpus_given = false;                        // the file has a `cpus:` line
    std::string topology;                           // appended to -smp: ",sockets=2,..."
    bool multi_threaded = false;                    // -accel tcg,thread=multi
    // Whether QEMU gets the isa-debug-exit device. Without it capOS ends a run by
    // an ACPI power-off (QEMU status 0).
    bool debug_exit = true;
    // `reboot: allow`: a reset starts the machine again (QEMU without
    // -no-reboot), and the expects go on through the next boot.
    bool reboots = false;
    // Devices added to the machine: QEMU's -device, one per value, in order
    // (after the machine's own devices).
    std::vector<std::string> devices;
    // Network back ends the devices name: QEMU's -netdev, one per value, in
    // order (with none QEMU adds its default NIC on the user network).
    std::vector<std::string> netdevs;
    // Disk images attached with QEMU's -drive (if=none), in file order.
    std::vector<Drive> drives;
    // QEMU's -icount shift: guest time counted in instructions (2^shift ns
    // each), so timings the guest measures do not depend on the host's load.
    std::optional<int> icount_shift;
    // The kernel's bound on a stretch with interrupts off (its `irqoff=`
    // option), asserted on one CPU only (tools/qemu-runner/README.md).
    std::optional<int> irqoff_us;
    int timeout_seconds = default_timeout_seconds;
    std::vector<std::string> expects;   // in the order they must appear
    std::vector<Send> sends;            // in file order, interleaved with expects
    std::vector<HostCommand> hosts;     // in file order, interleaved with expects
    std::vector<PortName> ports;        // each name once, in order of first use
    std::vector<std::string> forbidden; // substrings that fail the run
    ExpectedExit exit = ExpectedExit::Success;
};

struct ScenarioError {
    int line; // 1-based; 0 when the error concerns the file as a whole
    std::string message;
};

// Parses a scenario file.
//
//   # comment                  a '#' at the start of a value or after whitespace
//   key: value                 starts a comment; blank lines are ignored
//   key: "quoted value"        keeps leading/trailing spaces and '#'; escapes:
//                              \" \\ \r \n \t \e (ESC) \xHH (any byte)
//
// Keys: boot (pvh|iso-bios|iso-uefi), kernel, initrd (path or `none`; pvh only),
// iso (iso boots only), append (pvh only), memory (<n>M or <n>G), machine (q35|pc:
// QEMU's -M, default q35), cpu-features (comma-separated +feature or -feature,
// appended to -cpu max: `-xsave` takes XSAVE away), cpus (1..64: QEMU's -smp,
// default 1; then optionally
// comma-separated sockets=, dies=, cores=, threads=, maxcpus= with whole numbers,
// e.g. `6,sockets=2,cores=3`), mttcg (on|off: one host thread per CPU, QEMU's
// -accel tcg,thread=multi; default off), debug-exit (on|off:
// whether QEMU gets the isa-debug-exit device, default on), device (repeatable:
// QEMU's -device with the value, e.g. `e1000` or `pci-bridge,chassis_nr=1,id=b1`),
// drive (repeatable: `<id> <image> [read-only] [read-error=<sector>]
// [write-error=<sector>]`, a raw image QEMU gets a private copy of as drive
// <id>, whose reads or writes covering the sector fail; ids are a letter then
// letters, digits, '-' or '_', at most max_drive_id), drive-expect (`<id> <file>`: once per drive,
// not with exit: running; after QEMU exits the copy must equal <file> byte for byte), icount
// (0..10: QEMU's -icount shift), irqoff (microseconds, 1..max_irqoff_us: on one CPU the
// kernel gets `irqoff=<us>`, guest time is QEMU's instruction count (icount 0 unless
// given) and "interrupts were off for" is forbidden; on more CPUs none of it), timeout (seconds),
// expect (repeatable), send (repeatable: bytes to type once the expects above it matched), host
// (repeatable: a command for `/bin/sh -c`, run in the scenario file's directory once the expects
// above it matched; not empty), allow
// (removes a forbidden pattern), forbid (adds one), exit
// (success|failure|panic|fault|reset|poweroff|running). `kernel` applies to pvh only: an ISO
// carries its own kernel. Only a send may hold '\r', '\n' or a NUL byte: an expect holding one
// could never match, and QEMU's arguments cannot carry them.
//
// Ports: `{port:NAME}` (NAME letters, digits, '_' and '-') in a netdev, host or send value
// stands for a port of 127.0.0.1 the runner picks for the run (ports.h); a name used in a
// netdev is QEMU's to bind. A `{port:` not followed by a valid NAME and '}', or a placeholder in
// any other key's value, is an error; so are two names that differ only in case or in '-'
// against '_' (they would give host commands one environment variable). Any other '{' is text.
Result<Scenario, ScenarioError> parse_scenario(std::string_view text);

// `bytes` written as a quoted scenario value (the escapes above for quotes,
// backslashes and bytes outside printable ASCII): parse_scenario reads it back as
// `bytes`. Failure reports show sends this way.
std::string quoted_value(std::string_view bytes);

// The QEMU exit status a run must end with, or nullopt for ExpectedExit::Running.
std::optional<int> expected_qemu_status(ExpectedExit exit);

std::string_view to_string(BootMode boot);
std::string_view to_string(ExpectedExit exit);

// True for "<digits>M" or "<digits>G" with a non-zero number: the memory sizes the
// runner passes to QEMU's -m.
bool is_valid_memory_size(std::string_view text);

} // namespace capos::qemu
