// A process's half of its address space: anonymous memory, reservations and
// mappings of shared memory objects, with every frame charged to a bound.
//
// Regions. Programs, the stack, the ring and the CapSet are placed by the
// kernel (map_fixed). What a process asks for through VirtualMemory and
// MemoryObject.map lives in [abi::user_map_base, abi::user_map_limit) only, so
// it can never unmap or remap the pages the kernel relies on (ring, CapSet).
//
// Every operation checks all of its range first and changes nothing when it
// fails (decode, then invoke); allocation failures part-way are rolled back.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/object_lock.h"

#include "kernel/mm/frame_ledger.h"
#include "kernel/mm/page_tables.h"
#include "kernel/object/kernel_object.h"
#include "lib/base/result.h"
#include <cstdint>

namespace capos::kernel {

class MemoryObject;

enum class SpaceError : uint8_t {
    InvalidRange,   // unaligned, empty, outside the map region, or overflowing
    Occupied,       // part of the range is mapped or reserved already
    NotMapped,      // part of the range is not mapped (or not the right kind)
    NotReserved,    // commit/decommit outside one reservation
    QuotaExceeded,  // the frame bound (pages and the tables mapping them) or a table of regions is
                    // full
    OutOfMemory,    // no free frames
    AccessConflict, // W^X: a memory object may be writable or executable, never both at once
};
const char* to_string(SpaceError error);

class UserAddressSpace {
public:
    static constexpr size_t max_reservations = 32;
    static constexpr size_t max_object_mappings = 64;
    UserAddressSpace(PageTables tables, RefPtr<FrameLedger> ledger)
        : m_tables(tables), m_ledger(std::move(ledger)) {}

    PageTables& tables() CAPOS_REQUIRES(g_kernel_lock) { return m_tables; }
    FrameLedger& ledger() CAPOS_REQUIRES(g_kernel_lock) { return *m_ledger; }
    // The tables' top level (to tell whether they are loaded).
    uint64_t tables_root() const CAPOS_REQUIRES_SHARED(g_kernel_lock) { return m_tables.root(); }

    // The tables' translation of `virt`, remembered for the page last asked
    // about until a mapping of this space is removed or changed (answers into
    // a process that is not running write to the same buffer call after call:
    // no walk of four levels of tables, and no touch of their pages, each
    // time).
    std::optional<Translation> translate(uint64_t virt) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    const RefPtr<FrameLedger>& ledger_reference() const CAPOS_REQUIRES(g_kernel_lock) {
        return m_ledger;
    }

    // Kernel placements: fresh zeroed pages at a fixed address, anywhere below
    // the user limit. Returns the first frame (for the ring and CapSet pages).
    Result<uint64_t, SpaceError> map_fixed(uint64_t address, uint64_t pages, Access access)
        CAPOS_REQUIRES(g_kernel_lock);
    // Gives back pages map_fixed placed (their frames freed).
    void unmap_fixed(uint64_t address, uint64_t pages) CAPOS_REQUIRES(g_kernel_lock) {
        unmap_owned(address, pages);
    }

    // VirtualMemory. `address` 0 means "pick one".
    Result<uint64_t, SpaceError> map(uint64_t address, uint64_t length, Access access)
        CAPOS_REQUIRES(g_kernel_lock);
    Result<void, SpaceError> unmap(uint64_t address, uint64_t length) CAPOS_REQUIRES(g_kernel_lock);
    Result<void, SpaceError> protect(uint64_t address, uint64_t length, Access access)
        CAPOS_REQUIRES(g_kernel_lock);
    Result<uint64_t, SpaceError> reserve(uint64_t address, uint64_t length)
        CAPOS_REQUIRES(g_kernel_lock);
    Result<void, SpaceError> commit(uint64_t address, uint64_t length, Access access)
        CAPOS_REQUIRES(g_kernel_lock);
    Result<void, SpaceError> decommit(uint64_t address, uint64_t length)
        CAPOS_REQUIRES(g_kernel_lock);

    // MemoryObject.map/unmap: `pages` frames of `object` from `first_page` on.
    Result<uint64_t, SpaceError> map_object(RefPtr<MemoryObject> object, uint64_t address,
                                            uint32_t first_page, uint32_t pages, Access access)
        CAPOS_REQUIRES(g_kernel_lock);
    Result<void, SpaceError> unmap_object(MemoryObject& object, uint64_t address)
        CAPOS_REQUIRES(g_kernel_lock);

    // Frees everything: object mappings dropped, owned frames and tables freed.
    // The tables must not be active. Preemptible: between steps the CPU may
    // go to other threads (the exiting process's own thread tearing down);
    // not when a reference count reaching zero destroys the process inside
    // other work.
    enum class Teardown : uint8_t { Preemptible, AtOnce };
    void destroy(Teardown teardown) CAPOS_REQUIRES(g_kernel_lock);

private:
    struct Range {
        uint64_t base = 0;
        uint64_t length = 0;
        uint64_t end() const { return base + length; }
    };
    struct ObjectMapping {
        RefPtr<KernelObject> object; // a MemoryObject (kept as its base: this header
                                     // does not need the complete type)
        uint64_t address = 0;
        uint32_t pages = 0;
        Access access = Access::Read;
    };

    // `length` bytes of fresh frames
    bool fits_quota(uint64_t length) const CAPOS_REQUIRES(g_kernel_lock);
    bool in_map_region(uint64_t address, uint64_t length) const;
    bool overlaps_reservation(uint64_t address, uint64_t length) const
        CAPOS_REQUIRES(g_kernel_lock);
    const Range* reservation_containing(uint64_t address, uint64_t length) const
        CAPOS_REQUIRES(g_kernel_lock);
    bool any_page_mapped(uint64_t address, uint64_t length) const CAPOS_REQUIRES(g_kernel_lock);
    Result<uint64_t, SpaceError> pick(uint64_t length) CAPOS_REQUIRES(g_kernel_lock);
    Result<void, SpaceError> map_fresh(uint64_t address, uint64_t pages, Access access,
                                       uint64_t* first_frame) CAPOS_REQUIRES(g_kernel_lock);
    void unmap_owned(uint64_t address, uint64_t pages) CAPOS_REQUIRES(g_kernel_lock);
    enum class Unmap : uint8_t { OwnedOnly, All };
    // Unmaps [start, end) (anonymous pages only, or everything), freeing and
    // uncharging anonymous frames, with preemption points between steps.
    void unmap_pages(uint64_t start, uint64_t end, Unmap which) CAPOS_REQUIRES(g_kernel_lock);
    // Mapped pages in the range (anonymous ones only if `owned_only`),
    // counted over the mapped pages, not the range.
    uint64_t count_mapped(uint64_t address, uint64_t length, bool owned_only) const
        CAPOS_REQUIRES(g_kernel_lock);
    // Unmaps object mapping `index` and forgets it.
    void drop_mapping(size_t index) CAPOS_REQUIRES(g_kernel_lock);

    // Guarded by the kernel lock, like the tables' pages.
    PageTables m_tables CAPOS_GUARDED_BY(g_kernel_lock);
    RefPtr<FrameLedger>
        m_ledger CAPOS_GUARDED_BY(g_kernel_lock); // anonymous frames are charged here
    uint64_t m_next_pick CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    Range m_reservations[max_reservations] CAPOS_GUARDED_BY(g_kernel_lock);
    size_t m_reservation_count CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    ObjectMapping m_mappings[max_object_mappings] CAPOS_GUARDED_BY(g_kernel_lock);
    size_t m_mapping_count CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    // unmap_pages may give up the CPU between steps
    bool m_preemptible CAPOS_GUARDED_BY(g_kernel_lock) = true;

    // Counts the removals and changes of mappings, once as each begins and
    // once as it ends: a translation remembered during one (it may give up
    // the CPU half way) is not believed after it.
    void mappings_changed() CAPOS_REQUIRES(g_kernel_lock) { ++m_changes; }
    uint64_t m_changes CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    // translate()'s remembered page, under a lock of its own: shared holders
    // of the kernel lock translate too.
    ObjectLock m_cache_lock;
    uint64_t m_last_page CAPOS_GUARDED_BY(m_cache_lock) = ~uint64_t{0};
    uint64_t m_last_changes CAPOS_GUARDED_BY(m_cache_lock) = 0;
    Translation m_last_translation CAPOS_GUARDED_BY(m_cache_lock){};
};

} // namespace capos::kernel
