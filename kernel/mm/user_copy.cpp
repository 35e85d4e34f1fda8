#include "kernel/mm/user_copy.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/page_tables.h"

namespace capos::kernel {

namespace {

template <typename Copy>
bool for_each_user_page(PageTables& tables, uint64_t address, size_t length, bool write,
                        Copy&& copy) {
    if (!user_range_valid(address, length))
        return false;
    size_t done = 0;
    while (done < length) {
        uint64_t virt = address + done;
        size_t chunk = page_size - virt % page_size;
        if (chunk > length - done)
            chunk = length - done;
        auto translation = tables.translate(virt);
        if (!translation || !translation->user || (write && !translation->writable))
            return false;
        copy(phys_to_ptr<uint8_t>(translation->phys), done, chunk);
        done += chunk;
    }
    return true;
}

} // namespace

bool copy_to_address_space(PageTables& tables, uint64_t address, const void* data, size_t length) {
    auto* in = static_cast<const uint8_t*>(data);
    return for_each_user_page(tables, address, length, true,
                              [&](uint8_t* page, size_t offset, size_t chunk) {
                                  __builtin_memcpy(page, in + offset, chunk);
                              });
}

bool user_range_writable(PageTables& tables, uint64_t address, size_t length) {
    return for_each_user_page(tables, address, length, true, [](uint8_t*, size_t, size_t) {});
}

} // namespace capos::kernel
