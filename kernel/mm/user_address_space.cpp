#include "kernel/mm/user_address_space.h"
#include "abi/user_layout.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/layout.h"
#include "kernel/object/memory_object.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

const char* to_string(SpaceError error) {
    switch (error) {
    case SpaceError::InvalidRange:
        return "invalid address range";
    case SpaceError::Occupied:
        return "range already mapped or reserved";
    case SpaceError::NotMapped:
        return "range not mapped";
    case SpaceError::NotReserved:
        return "range not inside one reservation";
    case SpaceError::QuotaExceeded:
        return "memory quota exceeded";
    case SpaceError::AccessConflict:
        return "W^X: the memory object is mapped writable or executable elsewhere";
    case SpaceError::OutOfMemory:
        return "out of memory";
    }
    return "unknown address space error";
}

namespace {

bool valid_range(uint64_t address, uint64_t length) {
    return length > 0 && address % page_size == 0 && length % page_size == 0 &&
           address + length > address;
}

SpaceError space_error_of(MapError error) {
    return error == MapError::QuotaExceeded ? SpaceError::QuotaExceeded : SpaceError::OutOfMemory;
}

} // namespace

bool UserAddressSpace::fits_quota(uint64_t length) const {
    return m_ledger->fits(length / page_size);
}

bool UserAddressSpace::in_map_region(uint64_t address, uint64_t length) const {
    return valid_range(address, length) && address >= abi::user_map_base &&
           address + length <= abi::user_map_limit;
}

bool UserAddressSpace::overlaps_reservation(uint64_t address, uint64_t length) const {
    for (size_t i = 0; i < m_reservation_count; ++i) {
        const Range& r = m_reservations[i];
        if (address < r.end() && r.base < address + length)
            return true;
    }
    return false;
}

const UserAddressSpace::Range* UserAddressSpace::reservation_containing(uint64_t address,
                                                                        uint64_t length) const {
    for (size_t i = 0; i < m_reservation_count; ++i) {
        const Range& r = m_reservations[i];
        if (address >= r.base && address + length <= r.end())
            return &r;
    }
    return nullptr;
}

bool UserAddressSpace::any_page_mapped(uint64_t address, uint64_t length) const {
    return m_tables.first_mapped(address, address + length).has_value();
}

Result<uint64_t, SpaceError> UserAddressSpace::pick(uint64_t length) {
    if (m_next_pick < abi::user_map_base)
        m_next_pick = abi::user_map_base;
    // Next-fit from where the last pick ended, one wrap to the start. Each
    // obstacle (a reservation or a mapped page) moves the candidate past it, so
    // the search costs the number of obstacles, not pages.
    for (int pass = 0; pass < 2; ++pass) {
        uint64_t candidate = m_next_pick;
        while (candidate + length <= abi::user_map_limit && candidate + length > candidate) {
            uint64_t end = candidate + length;
            uint64_t skip_to = 0;
            for (size_t i = 0; i < m_reservation_count; ++i) {
                const Range& r = m_reservations[i];
                if (candidate < r.end() && r.base < end && r.end() > skip_to)
                    skip_to = r.end();
            }
            if (skip_to == 0) {
                auto mapped = m_tables.first_mapped(candidate, end);
                if (!mapped) {
                    m_next_pick = end;
                    return candidate;
                }
                skip_to = *mapped + page_size;
            }
            candidate = skip_to;
        }
        m_next_pick = abi::user_map_base;
    }
    return Err{SpaceError::QuotaExceeded};
}

Result<void, SpaceError> UserAddressSpace::map_fresh(uint64_t address, uint64_t pages,
                                                     Access access, uint64_t* first_frame) {
    if (!m_ledger->try_charge(pages))
        return Err{SpaceError::QuotaExceeded};
    for (uint64_t i = 0; i < pages; ++i) {
        auto frame = allocate_zeroed_frame();
        Result<void, MapError> mapped = Err{MapError::OutOfMemory};
        if (frame.is_ok()) {
            mapped = m_tables.map(address + i * page_size, frame.value(), PageSize::Small, access,
                                  Privilege::User, MapOptions{.ownership = FrameOwnership::Owned});
            if (mapped.is_error())
                (void)free_frame(frame.value());
        }
        if (mapped.is_error()) {
            // Gives back the pages mapped so far (and the tables only they
            // needed), then the charge of the pages never mapped.
            unmap_owned(address, i);
            m_ledger->uncharge(pages - i);
            return Err{space_error_of(mapped.error())};
        }
        if (i == 0 && first_frame)
            *first_frame = frame.value();
        Scheduler::preemption_point(); // a page zeroed: a large map never holds the CPU long
    }
    return {};
}

void UserAddressSpace::unmap_owned(uint64_t address, uint64_t pages) {
    unmap_pages(address, address + pages * page_size, Unmap::OwnedOnly);
}

void UserAddressSpace::unmap_pages(uint64_t start, uint64_t end, Unmap which) {
    // A bounded number of pages per step, a preemption point between steps:
    // at each, what is unmapped is gone from the tables and the TLB, and its
    // frames are free and uncharged.
    constexpr uint64_t pages_per_step = 256;
    uint64_t at = start;
    mappings_changed();
    for (;;) {
        uint64_t freed = 0;
        auto progress = m_tables.unmap_range(
            at, end,
            [&](uint64_t, const Translation& translation) {
                if (!translation.owned)
                    return which == Unmap::All;
                VERIFY(free_frame(translation.phys).is_ok());
                ++freed;
                return true;
            },
            pages_per_step);
        m_ledger->uncharge(freed);
        if (progress.done) {
            mappings_changed();
            return;
        }
        at = progress.next;
        if (m_preemptible)
            Scheduler::preemption_point();
    }
}

uint64_t UserAddressSpace::count_mapped(uint64_t address, uint64_t length, bool owned_only) const {
    // In steps of a bounded number of pages, with preemption points between.
    constexpr uint64_t pages_per_step = 256;
    uint64_t count = 0;
    uint64_t at = address;
    uint64_t end = address + length;
    while (at < end) {
        uint64_t seen = 0;
        auto stopped = m_tables.for_each_mapping_in(at, end, [&](uint64_t, const Translation& t) {
            if (t.owned || !owned_only)
                ++count;
            return ++seen < pages_per_step;
        });
        if (!stopped)
            break;
        at = *stopped + page_size;
        if (m_preemptible)
            Scheduler::preemption_point();
    }
    return count;
}

Result<uint64_t, SpaceError> UserAddressSpace::map_fixed(uint64_t address, uint64_t pages,
                                                         Access access) {
    if (!valid_range(address, pages * page_size) || address < abi::user_min_address ||
        address + pages * page_size > abi::user_limit)
        return Err{SpaceError::InvalidRange};
    if (any_page_mapped(address, pages * page_size))
        return Err{SpaceError::Occupied};
    uint64_t first = 0;
    TRY(map_fresh(address, pages, access, &first));
    return first;
}

Result<uint64_t, SpaceError> UserAddressSpace::map(uint64_t address, uint64_t length,
                                                   Access access) {
    if (address == 0 ? !valid_range(abi::user_map_base, length) : !in_map_region(address, length))
        return Err{SpaceError::InvalidRange};
    // The quota before placement: pick and the overlap checks look at the
    // range page by page, which for a range far beyond the quota would hold
    // the CPU for seconds before failing anyway.
    if (!fits_quota(length))
        return Err{SpaceError::QuotaExceeded};
    if (address == 0) {
        address = TRY(pick(length));
    } else {
        if (overlaps_reservation(address, length) || any_page_mapped(address, length))
            return Err{SpaceError::Occupied};
    }
    TRY(map_fresh(address, length / page_size, access, nullptr));
    return address;
}

Result<void, SpaceError> UserAddressSpace::unmap(uint64_t address, uint64_t length) {
    if (!in_map_region(address, length))
        return Err{SpaceError::InvalidRange};
    // Only anonymous memory: object mappings go through MemoryObject.unmap.
    // Counting walks the mapped pages only, so a huge range costs nothing.
    if (count_mapped(address, length, /*owned_only=*/true) != length / page_size)
        return Err{SpaceError::NotMapped};
    unmap_owned(address, length / page_size);
    return {};
}

Result<void, SpaceError> UserAddressSpace::protect(uint64_t address, uint64_t length,
                                                   Access access) {
    if (!in_map_region(address, length))
        return Err{SpaceError::InvalidRange};
    // Anonymous memory only: a memory object's mappings keep the access they
    // were made with, so W^X across its mappings cannot be sidestepped here.
    if (count_mapped(address, length, /*owned_only=*/true) != length / page_size)
        return Err{SpaceError::NotMapped};
    mappings_changed();
    for (uint64_t page = address; page < address + length; page += page_size) {
        // Another thread of the process may unmap part of the range while
        // this one gives up the CPU: then the pages before have the new
        // access, the rest are gone.
        if (m_tables.protect(page, access).is_error()) {
            mappings_changed();
            return Err{SpaceError::NotMapped};
        }
        Scheduler::preemption_point();
    }
    mappings_changed();
    return {};
}

Result<uint64_t, SpaceError> UserAddressSpace::reserve(uint64_t address, uint64_t length) {
    if (m_reservation_count == max_reservations)
        return Err{SpaceError::QuotaExceeded};
    if (address == 0) {
        if (!valid_range(abi::user_map_base, length))
            return Err{SpaceError::InvalidRange};
        address = TRY(pick(length));
    } else {
        if (!in_map_region(address, length))
            return Err{SpaceError::InvalidRange};
        if (overlaps_reservation(address, length) || any_page_mapped(address, length))
            return Err{SpaceError::Occupied};
    }
    m_reservations[m_reservation_count++] = {address, length};
    return address;
}

Result<void, SpaceError> UserAddressSpace::commit(uint64_t address, uint64_t length,
                                                  Access access) {
    if (!in_map_region(address, length))
        return Err{SpaceError::InvalidRange};
    if (!reservation_containing(address, length))
        return Err{SpaceError::NotReserved};
    if (!fits_quota(length)) // before the page-by-page check, as in map
        return Err{SpaceError::QuotaExceeded};
    if (any_page_mapped(address, length))
        return Err{SpaceError::Occupied};
    return map_fresh(address, length / page_size, access, nullptr);
}

Result<void, SpaceError> UserAddressSpace::decommit(uint64_t address, uint64_t length) {
    if (!in_map_region(address, length))
        return Err{SpaceError::InvalidRange};
    if (!reservation_containing(address, length))
        return Err{SpaceError::NotReserved};
    unmap_owned(address, length / page_size);
    return {};
}

Result<uint64_t, SpaceError> UserAddressSpace::map_object(RefPtr<MemoryObject> object,
                                                          uint64_t address, uint32_t first_page,
                                                          uint32_t pages, Access access) {
    if (pages == 0 || first_page > object->page_count() ||
        pages > object->page_count() - first_page)
        return Err{SpaceError::InvalidRange};
    if (m_mapping_count == max_object_mappings)
        return Err{SpaceError::QuotaExceeded};
    if (!object->may_map(access))
        return Err{SpaceError::AccessConflict};
    uint64_t length = uint64_t(pages) * page_size;
    if (address == 0) {
        address = TRY(pick(length));
    } else {
        if (!in_map_region(address, length))
            return Err{SpaceError::InvalidRange};
        if (overlaps_reservation(address, length) || any_page_mapped(address, length))
            return Err{SpaceError::Occupied};
    }
    // Counted before the first page is mapped: the loop may give up the CPU,
    // and W^X must hold against every other mapping made meanwhile.
    object->add_mapping(access);
    MapOptions options{.caching = object->caching()};
    for (uint32_t i = 0; i < pages; ++i) {
        if (!object->maps_page(first_page + i))
            continue;
        auto mapped = m_tables.map(address + uint64_t(i) * page_size, object->frame(first_page + i),
                                   PageSize::Small, access, Privilege::User, options);
        if (mapped.is_error()) {
            unmap_pages(address, address + uint64_t(i) * page_size, Unmap::All);
            object->remove_mapping(access);
            return Err{space_error_of(mapped.error())};
        }
        Scheduler::preemption_point();
    }
    // Another thread of the process may have taken the last free record
    // while this one gave up the CPU.
    if (m_mapping_count == max_object_mappings) {
        unmap_pages(address, address + length, Unmap::All);
        object->remove_mapping(access);
        return Err{SpaceError::QuotaExceeded};
    }
    m_mappings[m_mapping_count++] = {RefPtr<KernelObject>(std::move(object)), address, pages,
                                     access};
    return address;
}

void UserAddressSpace::drop_mapping(size_t index) {
    // Off the table first: the unmap below may give up the CPU, and another
    // thread of the process may change the table meanwhile.
    ObjectMapping mapping = std::move(m_mappings[index]);
    m_mappings[index] = std::move(m_mappings[m_mapping_count - 1]);
    m_mappings[m_mapping_count - 1] = {};
    --m_mapping_count;
    unmap_pages(mapping.address, mapping.address + uint64_t(mapping.pages) * page_size, Unmap::All);
    auto* object = downcast<MemoryObject>(mapping.object.get());
    VERIFY(object != nullptr);
    object->remove_mapping(mapping.access);
}

Result<void, SpaceError> UserAddressSpace::unmap_object(MemoryObject& object, uint64_t address) {
    for (size_t i = 0; i < m_mapping_count; ++i) {
        ObjectMapping& mapping = m_mappings[i];
        if (mapping.address != address ||
            mapping.object.get() != static_cast<KernelObject*>(&object))
            continue;
        drop_mapping(i);
        return {};
    }
    return Err{SpaceError::NotMapped};
}

[[gnu::always_inline]] std::optional<Translation> UserAddressSpace::translate(uint64_t virt) {
    uint64_t page = virt / page_size;
    ObjectLockGuard guard(m_cache_lock);
    if (page == m_last_page && m_changes == m_last_changes) {
        Translation translation = m_last_translation;
        translation.phys += virt % page_size;
        return translation;
    }
    auto translation = m_tables.translate(page * page_size);
    if (translation) {
        m_last_page = page;
        m_last_changes = m_changes;
        m_last_translation = *translation;
        translation->phys += virt % page_size;
    }
    return translation;
}

void UserAddressSpace::destroy(Teardown teardown) {
    m_preemptible = teardown == Teardown::Preemptible;
    mappings_changed();
    while (m_mapping_count > 0)
        drop_mapping(m_mapping_count - 1);
    // The anonymous pages in steps (a process may hold up to its frame
    // limit), then what is left: the tables, now empty. Object frames are
    // borrowed.
    unmap_pages(abi::user_min_address, abi::user_limit, Unmap::OwnedOnly);
    m_ledger->uncharge(m_tables.destroy_address_space());
    m_reservation_count = 0;
}

} // namespace capos::kernel
