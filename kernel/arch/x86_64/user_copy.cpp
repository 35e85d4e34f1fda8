#include "kernel/arch/x86_64/user_copy.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"

extern "C" char capos_user_copy_smap_load[], capos_user_copy_smap_store[];
extern "C" char capos_user_copy_smap_access_tail[];
extern "C" char capos_user_copy_smap_fault[];
extern "C" char capos_user_copy_plain_load[], capos_user_copy_plain_store[];
extern "C" char capos_user_copy_plain_access_tail[];
extern "C" char capos_user_copy_plain_fault[];
extern "C" char capos_user_probe_smap_access[], capos_user_probe_smap_fault[];
extern "C" char capos_user_probe_plain_access[], capos_user_probe_plain_fault[];

namespace capos::kernel::x86 {

uint64_t user_copy_fixup(uint64_t rip) {
    if (rip == reinterpret_cast<uint64_t>(capos_user_copy_smap_load) ||
        rip == reinterpret_cast<uint64_t>(capos_user_copy_smap_store) ||
        rip == reinterpret_cast<uint64_t>(capos_user_copy_smap_access_tail))
        return reinterpret_cast<uint64_t>(capos_user_copy_smap_fault);
    if (rip == reinterpret_cast<uint64_t>(capos_user_copy_plain_load) ||
        rip == reinterpret_cast<uint64_t>(capos_user_copy_plain_store) ||
        rip == reinterpret_cast<uint64_t>(capos_user_copy_plain_access_tail))
        return reinterpret_cast<uint64_t>(capos_user_copy_plain_fault);
    if (rip == reinterpret_cast<uint64_t>(capos_user_probe_smap_access))
        return reinterpret_cast<uint64_t>(capos_user_probe_smap_fault);
    if (rip == reinterpret_cast<uint64_t>(capos_user_probe_plain_access))
        return reinterpret_cast<uint64_t>(capos_user_probe_plain_fault);
    return 0;
}

} // namespace capos::kernel::x86
