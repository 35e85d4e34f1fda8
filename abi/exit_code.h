// How capOS ends a QEMU run. The kernel writes one of these codes to the
// isa-debug-exit device (I/O port 0xf4); QEMU then exits with status
// (code << 1) | 1. Status 0 never comes from the kernel: with -no-reboot it means
// the machine reset itself (a triple fault) or QEMU was stopped from outside.
#pragma once

#include <cstdint>

namespace capos::abi {

inline constexpr uint16_t debug_exit_port = 0xf4;

enum class ExitCode : uint8_t {
    Success = 0, // orderly shutdown, every self-test passed
    Failure = 1, // a self-test or check reported failure
    Panic = 2,   // the kernel hit an unrecoverable internal error
    Fault = 3,   // an unexpected CPU exception in the kernel
};

constexpr int qemu_status(ExitCode code) {
    return (static_cast<int>(code) << 1) | 1;
}

static_assert(qemu_status(ExitCode::Success) == 1);
static_assert(qemu_status(ExitCode::Fault) == 7);

} // namespace capos::abi
