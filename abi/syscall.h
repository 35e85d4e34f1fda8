// The two system calls. A process enters the kernel with `syscall`:
//   rax = number, rdi/rsi = arguments; the result comes back in rax.
// Registers rcx and r11 are clobbered (the CPU uses them for the return
// address and flags); every other register is preserved.
#pragma once

#include <cstdint>

namespace capos::abi {

enum class Syscall : uint64_t {
    // cap_enter(min_complete, timeout_ns): processes up to a bounded number of
    // the ring's new submissions, then waits until at least `min_complete`
    // completions are available or `timeout_ns` passes (UINT64_MAX: no
    // timeout; 0: never wait). Returns the number of completions available,
    // or a negative TransportError for a bad ring.
    CapEnter = 0,
    // exit(code): ends the calling process with `code`; never returns.
    Exit = 1,
};

inline constexpr uint64_t no_timeout = UINT64_MAX;

} // namespace capos::abi
