#include "kernel/mm/user_copy.h"
#include "kernel/lib/log.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/page_tables.h"
#include "kernel/mm/user_address_space.h"

namespace capos::kernel {

bool UserDestination::open(UserAddressSpace& space, uint64_t address, size_t length) {
    m_address = address;
    m_end = address + length;
    if (!user_range_valid(address, length))
        return false;
    if (length == 0)
        return true;
    m_first_page = address / page_size;
    m_active = PageTables::active().root() == space.tables_root();
    if (m_active)
        return arch::raw_user_writable(address, length);
    uint64_t last_page = (address + length - 1) / page_size;
    if (last_page - m_first_page >= max_pages)
        return false;
    for (uint64_t page = m_first_page; page <= last_page; ++page) {
        auto translation = space.translate(page * page_size);
        // (A device's registers are not memory the kernel writes for a
        // caller, nor in its direct map.)
        if (!translation || !translation->user || !translation->writable || translation->uncached)
            return false;
        m_phys[page - m_first_page] = translation->phys - translation->phys % page_size;
    }
    return true;
}

void UserDestination::write_pages(const void* data, size_t length) {
    if (length == 0)
        return;
    if (m_active) {
        // Checked writable by open(); a fault now (the process changed its
        // own mappings meanwhile) is the process's own doing.
        (void)arch::raw_user_copy(reinterpret_cast<void*>(m_address), data, length);
        m_address += length;
        return;
    }
    auto* in = static_cast<const uint8_t*>(data);
    while (length != 0) {
        uint64_t offset = m_address % page_size;
        size_t chunk = page_size - offset;
        if (chunk > length)
            chunk = length;
        uint64_t phys = m_phys[m_address / page_size - m_first_page] + offset;
        __builtin_memcpy(phys_to_ptr<uint8_t>(phys), in, chunk);
        in += chunk;
        m_address += chunk;
        length -= chunk;
    }
}

} // namespace capos::kernel
