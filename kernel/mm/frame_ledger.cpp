#include "kernel/mm/frame_ledger.h"
#include "kernel/mm/heap.h"

namespace capos::kernel {

RefPtr<FrameLedger> FrameLedger::create(uint64_t limit) {
    auto memory = heap_allocate(sizeof(FrameLedger), alignof(FrameLedger));
    if (memory.is_error())
        return {};
    return RefPtr<FrameLedger>::adopt(new (memory.value()) FrameLedger(limit));
}

} // namespace capos::kernel
