#include "kernel/arch/x86_64/user_copy.h"
#include "kernel/arch/arch.h"

namespace capos::kernel::x86 {

namespace {

// One entry of .user_access_fixups (arch_inline.h): a fault at `at` resumes at
// `resume`.
struct UserAccessFixup {
    uint64_t at;
    uint64_t resume;
};

} // namespace

extern "C" const UserAccessFixup __user_access_fixups_start[], __user_access_fixups_end[];

uint64_t user_copy_fixup(uint64_t rip) {
    for (const UserAccessFixup* fixup = __user_access_fixups_start;
         fixup != __user_access_fixups_end; ++fixup) {
        if (fixup->at == rip)
            return fixup->resume;
    }
    return 0;
}

} // namespace capos::kernel::x86
