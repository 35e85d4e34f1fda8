// A MemoryObject: a set of zeroed frames that processes map into their
// address spaces, through the capability of the same name (served by
// kernel/cap/memory_object_service.cpp). Userspace never learns the frames'
// physical addresses. Each capability and each mapping holds a reference, so
// the frames are freed only when the last of them is gone.
//
// A device window is one too: a BAR's registers, whose frames are the
// device's (never zeroed, charged or freed), mapped uncached, with the pages
// the kernel keeps for itself (a function's MSI-X table and pending bits)
// left out of every mapping. The device ledger (kernel/object/device_claim.h)
// counts the windows of each function that still exist.
//
// W^X holds for the object as a whole, across every mapping in every address
// space: while it is mapped writable anywhere it cannot be mapped executable
// anywhere, and the other way round (otherwise code written through one
// mapping would run through another).
#pragma once

#include "kernel/lib/kernel_lock.h"

#include "kernel/mm/frame_ledger.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/page_tables.h"
#include "kernel/mm/reclaim.h"
#include "lib/base/result.h"
#include <span>

namespace capos::kernel {

class MemoryObject final : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::MemoryObject;
    static constexpr uint32_t max_pages = 65536; // 256 MiB

    enum class Error : uint8_t { InvalidSize, QuotaExceeded, OutOfMemory };
    // Charges the frames to `ledger` for the object's whole life.
    static Result<RefPtr<MemoryObject>, Error> create(uint32_t pages, bool contiguous,
                                                      RefPtr<FrameLedger> ledger)
        CAPOS_REQUIRES(g_kernel_lock);

    // Pages [first, end) of a device window left out of its mappings.
    struct Hole {
        uint32_t first = 0;
        uint32_t end = 0;
    };
    // The window of `pages` pages at `physical` of the function in ledger
    // slot `slot`, without the pages of `holes`.
    static Result<RefPtr<MemoryObject>, Error> create_device_window(uint64_t physical,
                                                                    uint32_t pages, uint32_t slot,
                                                                    std::span<const Hole, 2> holes)
        CAPOS_REQUIRES(g_kernel_lock);

    uint32_t page_count() const { return m_pages; }
    bool contiguous() const { return m_contiguous; }
    bool device_window() const { return m_frames == nullptr; }
    // Its frames, in page order (not for a device window).
    std::span<const uint64_t> frames() const { return {m_frames->frames(), m_pages}; }
    uint64_t frame(uint32_t page) const {
        return device_window() ? m_device_base + uint64_t(page) * page_size
                               : m_frames->frames()[page];
    }
    // Whether a mapping maps `page` (a device window's holes it does not).
    bool maps_page(uint32_t page) const {
        for (const Hole& hole : m_holes) {
            if (page >= hole.first && page < hole.end)
                return false;
        }
        return true;
    }
    Caching caching() const { return device_window() ? Caching::Uncached : Caching::WriteBack; }

    // W^X across mappings: whether a mapping with `access` may be added now;
    // add/remove keep the count of writable and executable mappings.
    bool may_map(Access access) const CAPOS_REQUIRES(g_kernel_lock) {
        return access == Access::ReadWrite     ? m_executable_mappings == 0
               : access == Access::ReadExecute ? m_writable_mappings == 0
                                               : true;
    }
    void add_mapping(Access access) CAPOS_REQUIRES(g_kernel_lock);
    void remove_mapping(Access access) CAPOS_REQUIRES(g_kernel_lock);

private:
    MemoryObject(FrameBatch* frames, uint32_t pages, bool contiguous, RefPtr<FrameLedger> ledger)
        : KernelObject(object_type), m_frames(frames), m_pages(pages), m_contiguous(contiguous),
          m_ledger(std::move(ledger)) {}
    void destroy() override;

    MemoryObject(uint64_t device_base, uint32_t pages, uint32_t slot,
                 std::span<const Hole, 2> holes)
        : KernelObject(object_type), m_frames(nullptr), m_pages(pages), m_contiguous(true),
          m_device_base(device_base), m_device_slot(slot), m_holes{holes[0], holes[1]} {}

    FrameBatch* m_frames; // the physical frames, freed with the object (null: a device window)
    uint32_t m_pages;
    // Its mappings in every address space, by access (W^X across them).
    uint32_t m_writable_mappings CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    uint32_t m_executable_mappings CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    bool m_contiguous;
    RefPtr<FrameLedger> m_ledger; // (none for a device window)
    uint64_t m_device_base = 0;
    uint32_t m_device_slot = 0;
    Hole m_holes[2] = {};
};

} // namespace capos::kernel
