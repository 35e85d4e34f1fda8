// The page-fault fixup of the user accesses (kernel/arch/x86_64/arch_inline.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::kernel::x86 {

// The address to resume at when a page fault hits `rip`, or 0 when `rip` is
// not a user-copy access.
uint64_t user_copy_fixup(uint64_t rip);

} // namespace capos::kernel::x86
