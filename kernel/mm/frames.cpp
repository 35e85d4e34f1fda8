#include "kernel/mm/frames.h"
#include "kernel/lib/log.h"
#include "kernel/lib/spinlock.h"
#include "kernel/mm/layout.h"

extern "C" char __kernel_phys_start[];
extern "C" char __kernel_phys_end[];

namespace capos::kernel {

namespace {

constexpr uint64_t low_memory_end = 0x100000;
constexpr uint64_t boot_map_end = 0x100000000ull; // what the boot page tables reach

constinit SpinLock g_frames_lock;
constinit FrameBitmap g_frames CAPOS_GUARDED_BY(g_frames_lock);
uint64_t g_usable_bytes = 0;
uint64_t g_memory_end = 0;

PhysicalRange g_reserved[BootInfo::max_reserved + BootInfo::max_modules + 4];
size_t g_reserved_count = 0;

void reserve(PhysicalRange range) {
    VERIFY(g_reserved_count < sizeof(g_reserved) / sizeof(g_reserved[0]));
    g_reserved[g_reserved_count++] = {align_down(range.base, page_size),
                                      align_up(range.end(), page_size) -
                                          align_down(range.base, page_size)};
}

// Lowest page-aligned address >= 1 MiB in usable RAM where `size` bytes touch no
// reserved range and stay inside the boot map.
uint64_t find_free_area(const BootInfo& boot, uint64_t size) {
    for (size_t i = 0; i < boot.memory_count; ++i) {
        const MemoryRange& m = boot.memory[i];
        if (m.type != MemoryType::Usable)
            continue;
        uint64_t start =
            align_up(m.range.base < low_memory_end ? low_memory_end : m.range.base, page_size);
        uint64_t end = align_down(m.range.end(), page_size);
        bool moved = true;
        while (moved && start + size <= end) {
            moved = false;
            for (size_t r = 0; r < g_reserved_count; ++r) {
                const PhysicalRange& res = g_reserved[r];
                if (start < res.end() && res.base < start + size) {
                    start = align_up(res.end(), page_size);
                    moved = true;
                }
            }
        }
        if (start + size <= end && start + size <= boot_map_end)
            return start;
    }
    return 0;
}

} // namespace

void frames_init(const BootInfo& boot) {
    uint64_t kernel_start = reinterpret_cast<uint64_t>(__kernel_phys_start);
    uint64_t kernel_end = reinterpret_cast<uint64_t>(__kernel_phys_end);
    reserve({0, low_memory_end});
    reserve({kernel_start, kernel_end - kernel_start});
    for (size_t i = 0; i < boot.boot_data_count; ++i)
        reserve(boot.boot_data[i]);
    for (size_t i = 0; i < boot.module_count; ++i)
        reserve(boot.modules[i].range);

    // Only memory the direct map reaches (kernel/mm/layout.h) is used.
    auto reachable = [](const MemoryRange& m) {
        uint64_t end = m.range.end() < max_physical_memory ? m.range.end() : max_physical_memory;
        return PhysicalRange{m.range.base, end > m.range.base ? end - m.range.base : 0};
    };
    for (size_t i = 0; i < boot.memory_count; ++i) {
        const MemoryRange& m = boot.memory[i];
        // ACPI's tables lie in RAM the firmware keeps (often just above the
        // last usable range): the direct map reaches them too (their frames
        // stay used).
        if (m.type == MemoryType::AcpiReclaimable || m.type == MemoryType::AcpiNvs) {
            PhysicalRange range = reachable(m);
            if (range.length > 0 && range.end() > g_memory_end)
                g_memory_end = range.end();
            continue;
        }
        if (m.type != MemoryType::Usable)
            continue;
        PhysicalRange range = reachable(m);
        if (range.length < m.range.length)
            log_warn("frames: {} bytes of memory above {} left unused (beyond the direct map)",
                     m.range.length - range.length, Hex{max_physical_memory});
        g_usable_bytes += range.length;
        if (range.length > 0 && range.end() > g_memory_end)
            g_memory_end = range.end();
    }
    if (g_usable_bytes == 0)
        panic("frames: the firmware memory map has no usable memory");

    uint64_t frame_count = align_up(g_memory_end, page_size) / page_size;
    uint64_t storage_bytes = align_up(FrameBitmap::storage_words_for(frame_count) * 8, page_size);
    uint64_t storage = find_free_area(boot, storage_bytes);
    if (storage == 0)
        panic("frames: no room for a {} frame bitmap", frame_count);
    reserve({storage, storage_bytes});

    SpinLockGuard guard(g_frames_lock);
    g_frames.init({phys_to_ptr<uint64_t>(storage), storage_bytes / 8}, frame_count);
    for (size_t i = 0; i < boot.memory_count; ++i) {
        if (boot.memory[i].type == MemoryType::Usable) {
            PhysicalRange range = reachable(boot.memory[i]);
            g_frames.mark_free(range.base, range.length);
        }
    }
    // Firmware maps may overlap: anything any entry calls unusable stays used.
    for (size_t i = 0; i < boot.memory_count; ++i) {
        if (boot.memory[i].type != MemoryType::Usable)
            g_frames.mark_used(boot.memory[i].range.base, boot.memory[i].range.length);
    }
    for (size_t i = 0; i < g_reserved_count; ++i)
        g_frames.mark_used(g_reserved[i].base, g_reserved[i].length);
    // The direct map reaches the 2 MiB around the kernel's text and rodata
    // through small pages (kernel_map.cpp): frames there cost one more table
    // page walked after every address-space switch (docs/performance.md), so
    // they go out last.
    g_frames.prefer_from(align_up(kernel_end, large_page_size));
}

Result<uint64_t, FrameError> allocate_frame() {
    SpinLockGuard guard(g_frames_lock);
    return g_frames.allocate();
}

Result<uint64_t, FrameError> allocate_zeroed_frame() {
    uint64_t frame = TRY(allocate_frame());
    __builtin_memset(phys_to_ptr<void>(frame), 0, page_size);
    return frame;
}

Result<uint64_t, FrameError> allocate_contiguous_frames(uint64_t count) {
    SpinLockGuard guard(g_frames_lock);
    return g_frames.allocate_contiguous(count, 1);
}

Result<void, FrameError> free_frame(uint64_t phys) {
    SpinLockGuard guard(g_frames_lock);
    if (frame_is_reserved(phys))
        return Err{FrameError::InvalidArgument};
    return g_frames.free(phys);
}

FrameStats frame_stats() {
    SpinLockGuard guard(g_frames_lock);
    return {g_frames.frame_count(), g_frames.free_count(), g_usable_bytes};
}

uint64_t physical_memory_end() {
    return g_memory_end;
}

bool frame_is_reserved(uint64_t phys) {
    for (size_t i = 0; i < g_reserved_count; ++i) {
        if (phys >= g_reserved[i].base && phys < g_reserved[i].end())
            return true;
    }
    return false;
}

} // namespace capos::kernel
