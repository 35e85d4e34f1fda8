// The kernel's physical frame allocator: lib/mm/frame_bitmap.h bookkeeping over
// the firmware memory map, behind a lock.
#pragma once

#include "kernel/boot/boot_info.h"
#include "lib/base/result.h"
#include "lib/mm/frame_bitmap.h"

namespace capos::kernel {

// Builds the bitmap: usable RAM is free except low memory (below 1 MiB), the
// kernel image, the boot information, the boot modules and the bitmap itself.
// Panics when there is no usable memory to hold the bitmap.
void frames_init(const BootInfo& boot);

Result<uint64_t, FrameError> allocate_frame();
// A frame filled with zeros (through the direct map).
Result<uint64_t, FrameError> allocate_zeroed_frame();
Result<void, FrameError> free_frame(uint64_t phys);
// `count` physically contiguous frames, not zeroed (the caller zeroes them,
// page by page, between preemption points); returns the first. Freed one
// frame at a time with free_frame.
Result<uint64_t, FrameError> allocate_contiguous_frames(uint64_t count);

struct FrameStats {
    uint64_t total_frames; // frames the bitmap covers
    uint64_t free_frames;
    uint64_t usable_bytes; // RAM the firmware called usable
};
FrameStats frame_stats();

// The highest physical address the direct map must cover: the end of usable
// RAM or of the memory that holds ACPI's tables, whichever is higher.
uint64_t physical_memory_end();

// True when `phys` lies in memory that is never handed out (kernel image, boot
// data, modules, low memory, the bitmap).
bool frame_is_reserved(uint64_t phys);

} // namespace capos::kernel
