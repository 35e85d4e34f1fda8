// The x86_64 definitions of the fixed names kernel/arch/arch.h declares
// inline: the ones on hot paths, where a call and its return would cost more
// than the instruction itself. Included by arch.h only.
#pragma once

#include <cstddef>
#include <cstdint>

// The user-copy routines (user_copy.S): 0 on success, 1 on a fault.
extern "C" int capos_user_copy_smap(void* destination, const void* source, size_t length);
extern "C" int capos_user_copy_plain(void* destination, const void* source, size_t length);
extern "C" int capos_user_probe_smap(uint64_t first, uint64_t last);
extern "C" int capos_user_probe_plain(uint64_t first, uint64_t last);

namespace capos::kernel::x86 {
// Set once protections are enabled: whether user copies must open SMAP.
extern bool smap_enabled;
} // namespace capos::kernel::x86

namespace capos::kernel::arch {

inline uint64_t read_cycle_counter() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return uint64_t{high} << 32 | low;
}

inline bool raw_user_copy(void* destination, const void* source, size_t length) {
    if (length == 0)
        return true;
    int failed = x86::smap_enabled ? capos_user_copy_smap(destination, source, length)
                                   : capos_user_copy_plain(destination, source, length);
    return failed == 0;
}

inline bool raw_user_writable(uint64_t address, size_t length) {
    if (length == 0)
        return true;
    uint64_t last = address + length - 1;
    int failed = x86::smap_enabled ? capos_user_probe_smap(address, last)
                                   : capos_user_probe_plain(address, last);
    return failed == 0;
}

// raw_user_copy into the kernel, then raw_user_writable of another range,
// with the user-access window (SMAP's AC flag) opened once for both: under
// TCG each stac and clac ends a translated block and goes back through the
// emulator's dispatch. Returns whether the copy succeeded; `writable` tells
// the probe's outcome (false, not probed, when the copy failed).
inline bool raw_user_copy_and_probe(void* destination, const void* source, size_t length,
                                    uint64_t address, size_t probe_length, bool& writable) {
    if (x86::smap_enabled)
        asm volatile("stac" ::: "memory");
    bool copied = length == 0 || capos_user_copy_plain(destination, source, length) == 0;
    writable = copied && (probe_length == 0 ||
                          capos_user_probe_plain(address, address + probe_length - 1) == 0);
    if (x86::smap_enabled)
        asm volatile("clac" ::: "memory");
    return copied;
}

} // namespace capos::kernel::arch
