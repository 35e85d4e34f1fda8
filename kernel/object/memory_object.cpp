#include "kernel/object/memory_object.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/reclaim.h"
#include "kernel/object/device_claim.h"
#include "kernel/object/process.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

Result<RefPtr<MemoryObject>, MemoryObject::Error>
MemoryObject::create(uint32_t pages, bool contiguous, RefPtr<FrameLedger> ledger) {
    if (pages == 0 || pages > max_pages)
        return Err{Error::InvalidSize};
    if (!ledger->try_charge(pages))
        return Err{Error::QuotaExceeded};
    // Until the object exists, failures give the charge back.
    auto uncharge = [&]() CAPOS_REQUIRES(g_kernel_lock) { ledger->uncharge(pages); };
    auto created = FrameBatch::create(pages);
    if (created.is_error()) {
        uncharge();
        return Err{Error::OutOfMemory};
    }
    FrameBatch* batch = created.value();
    uint64_t* frames = batch->frames();
    uint32_t done = 0;
    bool failed = false;
    // Page by page, with a preemption point after each: an object of up to
    // 256 MiB never holds the CPU for long.
    if (contiguous) {
        auto run = allocate_contiguous_frames(pages);
        failed = run.is_error();
        for (; !failed && done < pages; ++done) {
            frames[done] = run.value() + uint64_t(done) * page_size;
            __builtin_memset(phys_to_ptr<void>(frames[done]), 0, page_size);
            Scheduler::preemption_point();
        }
    } else {
        for (; done < pages; ++done) {
            auto frame = allocate_zeroed_frame();
            if (frame.is_error()) {
                failed = true;
                break;
            }
            frames[done] = frame.value();
            Scheduler::preemption_point();
        }
    }
    auto memory = failed ? Result<void*, HeapError>(Err{HeapError::OutOfMemory})
                         : heap_allocate(sizeof(MemoryObject), alignof(MemoryObject));
    if (memory.is_error()) {
        batch->truncate(done);
        FrameBatch::free_frames_and_release(batch);
        uncharge();
        return Err{Error::OutOfMemory};
    }
    return RefPtr<MemoryObject>::adopt(
        new (memory.value()) MemoryObject(batch, pages, contiguous, std::move(ledger)));
}

Result<RefPtr<MemoryObject>, MemoryObject::Error>
MemoryObject::create_device_window(uint64_t physical, uint32_t pages, uint32_t slot,
                                   std::span<const Hole, 2> holes) {
    if (pages == 0 || pages > max_pages || physical % page_size != 0)
        return Err{Error::InvalidSize};
    auto memory = heap_allocate(sizeof(MemoryObject), alignof(MemoryObject));
    if (memory.is_error())
        return Err{Error::OutOfMemory};
    device_window_made(slot);
    return RefPtr<MemoryObject>::adopt(new (memory.value())
                                           MemoryObject(physical, pages, slot, holes));
}

// (Reached through KernelObject::release_reference, which the analysis does
// not follow: every reference is dropped under the kernel lock.)
void MemoryObject::destroy() {
    g_kernel_lock.assert_held();
    if (device_window()) {
        uint32_t slot = m_device_slot;
        this->~MemoryObject();
        heap_free(this);
        device_window_gone(slot);
        return;
    }
    FrameBatch* frames = m_frames;
    m_ledger->uncharge(m_pages);
    this->~MemoryObject();
    heap_free(this);
    // The frames of a large object go through the reclaim thread: whatever
    // dropped the last reference pays only for queueing them.
    FrameBatch::free_frames_and_release(frames);
}

void MemoryObject::add_mapping(Access access) {
    VERIFY(may_map(access));
    if (access == Access::ReadWrite)
        ++m_writable_mappings;
    else if (access == Access::ReadExecute)
        ++m_executable_mappings;
}

void MemoryObject::remove_mapping(Access access) {
    if (access == Access::ReadWrite) {
        VERIFY(m_writable_mappings > 0);
        --m_writable_mappings;
    } else if (access == Access::ReadExecute) {
        VERIFY(m_executable_mappings > 0);
        --m_executable_mappings;
    }
}

} // namespace capos::kernel
