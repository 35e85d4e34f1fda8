#include "kernel/arch/x86_64/user_copy.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"

extern "C" int capos_user_copy_smap(void* destination, const void* source, size_t length);
extern "C" int capos_user_copy_plain(void* destination, const void* source, size_t length);
extern "C" char capos_user_copy_smap_access[], capos_user_copy_smap_access_tail[];
extern "C" char capos_user_copy_smap_fault[];
extern "C" char capos_user_copy_plain_access[], capos_user_copy_plain_access_tail[];
extern "C" char capos_user_copy_plain_fault[];
extern "C" int capos_user_probe_smap(uint64_t first, uint64_t last);
extern "C" int capos_user_probe_plain(uint64_t first, uint64_t last);
extern "C" char capos_user_probe_smap_access[], capos_user_probe_smap_fault[];
extern "C" char capos_user_probe_plain_access[], capos_user_probe_plain_fault[];

namespace capos::kernel::x86 {

uint64_t user_copy_fixup(uint64_t rip) {
    if (rip == reinterpret_cast<uint64_t>(capos_user_copy_smap_access) ||
        rip == reinterpret_cast<uint64_t>(capos_user_copy_smap_access_tail))
        return reinterpret_cast<uint64_t>(capos_user_copy_smap_fault);
    if (rip == reinterpret_cast<uint64_t>(capos_user_copy_plain_access) ||
        rip == reinterpret_cast<uint64_t>(capos_user_copy_plain_access_tail))
        return reinterpret_cast<uint64_t>(capos_user_copy_plain_fault);
    if (rip == reinterpret_cast<uint64_t>(capos_user_probe_smap_access))
        return reinterpret_cast<uint64_t>(capos_user_probe_smap_fault);
    if (rip == reinterpret_cast<uint64_t>(capos_user_probe_plain_access))
        return reinterpret_cast<uint64_t>(capos_user_probe_plain_fault);
    return 0;
}

} // namespace capos::kernel::x86

namespace capos::kernel::arch {

bool raw_user_copy(void* destination, const void* source, size_t length) {
    if (length == 0)
        return true;
    int failed = x86::smap_enabled ? capos_user_copy_smap(destination, source, length)
                                   : capos_user_copy_plain(destination, source, length);
    return failed == 0;
}

bool raw_user_writable(uint64_t address, size_t length) {
    if (length == 0)
        return true;
    uint64_t last = address + length - 1;
    int failed = x86::smap_enabled ? capos_user_probe_smap(address, last)
                                   : capos_user_probe_plain(address, last);
    return failed == 0;
}

} // namespace capos::kernel::arch
