// Where the linker puts a kernel object (kernel/arch/x86_64/linker.ld).
#pragma once

// For large zero-initialised buffers (the ring's scratch, early interrupt
// stacks, the IDT): placed after every other zero-initialised object, so that
// the small hot ones (the scheduler's, the clock's, the TSS) share a few pages
// instead of being spread around the buffers. Every page the kernel touches
// after an address-space switch costs a TLB refill (docs/performance.md).
#define CAPOS_LARGE_BSS [[gnu::section(".bss.zz_large")]]
// The same for a large initialised object (the boot information).
#define CAPOS_LARGE_DATA [[gnu::section(".data.zz_large")]]
// For the large buffers every kernel call touches (the ring's scratch): the
// first of them, right after the small objects, so that its first page is
// theirs.
#define CAPOS_HOT_LARGE_BSS [[gnu::section(".bss.zz_hot_large")]]
