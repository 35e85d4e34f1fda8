#include "kernel/mm/kernel_map.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/layout.h"

extern "C" char __kernel_text_start[], __kernel_text_end[];
extern "C" char __kernel_rodata_start[], __kernel_rodata_end[];
extern "C" char __kernel_data_start[], __kernel_data_end[];

namespace capos::kernel {

namespace {

alignas(PageTables) unsigned char g_tables_storage[sizeof(PageTables)];
PageTables* g_tables = nullptr;
uint64_t g_mmio_next = kernel_mmio_base;

uint64_t address_of(const char* symbol) {
    return reinterpret_cast<uint64_t>(symbol);
}

void map_or_panic(PageTables& tables, uint64_t virt, uint64_t phys, PageSize size, Access access) {
    auto result = tables.map(virt, phys, size, access, Privilege::Kernel);
    if (result.is_error())
        panic("kernel map: cannot map {}: {}", Hex{virt}, to_string(result.error()));
}

void map_section(PageTables& tables, uint64_t start, uint64_t end, Access access) {
    for (uint64_t virt = start; virt < end; virt += page_size)
        map_or_panic(tables, virt, virt - kernel_image_base, PageSize::Small, access);
}

} // namespace

KernelSections kernel_sections() {
    return {address_of(__kernel_text_start),   address_of(__kernel_text_end),
            address_of(__kernel_rodata_start), address_of(__kernel_rodata_end),
            address_of(__kernel_data_start),   address_of(__kernel_data_end)};
}

void kernel_map_init() {
    auto created = PageTables::create();
    if (created.is_error())
        panic("kernel map: no memory for the top-level table");
    g_tables = new (g_tables_storage) PageTables(created.release_value());

    // Direct map: all physical memory up to the end of usable RAM, in 2 MiB
    // pages, read-write and never executable. The alias of the kernel's text
    // and rodata is read-only, so the direct map is no way around W^X.
    KernelSections s = kernel_sections();
    uint64_t protected_start = s.text_start - kernel_image_base;
    uint64_t protected_end = s.rodata_end - kernel_image_base;
    uint64_t end = align_up(physical_memory_end(), large_page_size);
    for (uint64_t phys = 0; phys < end; phys += large_page_size) {
        if (phys + large_page_size <= protected_start || phys >= protected_end) {
            map_or_panic(*g_tables, direct_map_base + phys, phys, PageSize::Large,
                         Access::ReadWrite);
            continue;
        }
        for (uint64_t page = phys; page < phys + large_page_size; page += page_size) {
            bool read_only = page >= protected_start && page < protected_end;
            map_or_panic(*g_tables, direct_map_base + page, page, PageSize::Small,
                         read_only ? Access::Read : Access::ReadWrite);
        }
    }

    map_section(*g_tables, s.text_start, s.text_end, Access::ReadExecute);
    map_section(*g_tables, s.rodata_start, s.rodata_end, Access::Read);
    map_section(*g_tables, s.data_start, s.data_end, Access::ReadWrite);

    // Every top-level entry of the kernel half exists from the start, so address
    // spaces that copy them (PageTables::create_address_space) share all later
    // kernel mappings: heap growth, stacks, device registers.
    for (uint64_t slot = 256; slot < 512; ++slot) {
        uint64_t virt = 0xFFFF000000000000ull | (slot << 39);
        if (g_tables->populate_top_level(virt).is_error())
            panic("kernel map: no memory for the kernel half's tables");
    }

    g_tables->activate();
}

Result<uint64_t, MapError> map_mmio(uint64_t phys, size_t length) {
    uint64_t first = align_down(phys, page_size);
    uint64_t pages = (align_up(phys + length, page_size) - first) / page_size;
    if (pages > (kernel_mmio_limit - g_mmio_next) / page_size)
        return Err{MapError::OutOfMemory};
    uint64_t virt = g_mmio_next;
    for (uint64_t i = 0; i < pages; ++i) {
        TRY(g_tables->map(virt + i * page_size, first + i * page_size, PageSize::Small,
                          Access::ReadWrite, Privilege::Kernel,
                          MapOptions{.caching = Caching::Uncached}));
    }
    g_mmio_next += pages * page_size;
    return virt + (phys - first);
}

PageTables& kernel_page_tables() {
    return *g_tables;
}

bool kernel_range_is_mapped(uint64_t virt, size_t length) {
    if (virt < kernel_half_base || virt + length < virt)
        return false;
    PageTables active = PageTables::active();
    for (uint64_t page = align_down(virt, page_size); page < virt + length; page += page_size) {
        if (!active.translate(page))
            return false;
    }
    return true;
}

Result<void, MapError> map_fresh_pages(uint64_t virt, size_t pages, Access access) {
    for (size_t i = 0; i < pages; ++i) {
        auto frame = allocate_zeroed_frame();
        Result<void, MapError> mapped = Err{MapError::OutOfMemory};
        if (frame.is_ok()) {
            mapped = g_tables->map(virt + i * page_size, frame.value(), PageSize::Small, access,
                                   Privilege::Kernel);
            if (mapped.is_error())
                (void)free_frame(frame.value());
        }
        if (mapped.is_error()) {
            unmap_and_free_pages(virt, i);
            return mapped;
        }
    }
    return {};
}

void unmap_and_free_pages(uint64_t virt, size_t pages) {
    // The tables that only these pages needed go too: a kernel stack's
    // tables are returned with it.
    auto progress = g_tables->unmap_range(virt, virt + pages * page_size,
                                          [](uint64_t, const Translation& translation) {
                                              VERIFY(free_frame(translation.phys).is_ok());
                                              return true;
                                          });
    VERIFY(progress.done && progress.unmapped == pages);
}

} // namespace capos::kernel
