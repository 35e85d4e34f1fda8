// How many frames a process has caused to be allocated, against its bound.
// Anonymous memory in its address space and the MemoryObjects it creates are
// charged here. The ledger is shared by reference: a MemoryObject keeps the
// ledger it was charged to, so its frames are uncharged when it goes, even if
// it outlives the process or moved to another one.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "kernel/object/kernel_object.h"
#include "lib/base/result.h"
#include <cstdint>

namespace capos::kernel {

class FrameLedger final : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::Ledger;
    static constexpr uint64_t default_limit = 16384; // 64 MiB

    static RefPtr<FrameLedger> create(uint64_t limit = default_limit);

    bool fits(uint64_t frames) const CAPOS_REQUIRES(g_kernel_lock) {
        return frames <= m_limit - m_charged;
    }
    // Charges `frames` if they fit; false (nothing charged) otherwise.
    bool try_charge(uint64_t frames) CAPOS_REQUIRES(g_kernel_lock) {
        if (!fits(frames))
            return false;
        m_charged += frames;
        return true;
    }
    void uncharge(uint64_t frames) CAPOS_REQUIRES(g_kernel_lock) {
        VERIFY(frames <= m_charged);
        m_charged -= frames;
    }
    uint64_t charged() const CAPOS_REQUIRES(g_kernel_lock) { return m_charged; }

private:
    explicit FrameLedger(uint64_t limit) : KernelObject(object_type), m_limit(limit) {}
    uint64_t m_limit;
    uint64_t m_charged CAPOS_GUARDED_BY(g_kernel_lock) = 0;
};

} // namespace capos::kernel
