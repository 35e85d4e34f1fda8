// The two system calls (abi/syscall.h) as inline functions.
#pragma once

#include "abi/syscall.h"
#include <cstdint>

namespace capos::rt {

inline int64_t cap_enter(uint64_t min_complete, uint64_t timeout_ns) {
    int64_t result;
    asm volatile("syscall"
                 : "=a"(result)
                 : "a"(uint64_t(abi::Syscall::CapEnter)), "D"(min_complete), "S"(timeout_ns)
                 : "rcx", "r11", "memory");
    return result;
}

[[noreturn]] inline void exit(int64_t code) {
    asm volatile("syscall" ::"a"(uint64_t(abi::Syscall::Exit)), "D"(code) : "rcx", "r11", "memory");
    __builtin_unreachable();
}

} // namespace capos::rt
