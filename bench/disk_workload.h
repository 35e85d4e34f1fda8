// The disk figures' workload, one definition for both sides of the comparison
// (docs/performance.md, "Disk"): capOS's user/bench/disk_bench.cpp through
// BlockDevice and the Linux peer's bench/linux/peer_bench.c on /dev/vda with
// O_DIRECT include this header, so that they do the same work: the same sizes,
// the same counts per batch, and the same offsets in the same order.
//
// Plain C (the peer is C) and freestanding (capOS's user programs have no libc).
//
// Every figure is `batches` timed batches of a fixed count of operations,
// after one untimed batch of the same count (cold caches, the device's first
// requests). The random reads' offsets come from one fixed-seed generator
// (splitmix64), restarted for each figure: operation i of a figure, counted
// from the untimed batch's first, reads the 4 KiB page disk_random_page(i-th
// number). With several in flight, operations are issued in that order.
// Sequential operations are 1 MiB each, operation i at byte i MiB, modulo the
// disk's size (the disk is a whole number of MiB).
#ifndef CAPOS_BENCH_DISK_WORKLOAD_H
#define CAPOS_BENCH_DISK_WORKLOAD_H

#include <stdint.h>

#define DISK_PAGE_BYTES 4096u
#define DISK_SEQ_BYTES (1024u * 1024u)
#define DISK_SEED 0x6361704f53u /* "capOS" */
// The deepest queue a figure asks for.
#define DISK_MAX_DEPTH 32u

// The figures in the order both sides run them: name, operation, queue depth
// asked for, operations per batch in the full and in the quick run.
enum disk_op { DISK_RANDOM_READ, DISK_SEQ_READ, DISK_SEQ_WRITE };
struct disk_figure {
    const char* name;
    enum disk_op op;
    uint32_t depth;
    uint32_t per_batch;
    uint32_t quick_per_batch;
};
static const struct disk_figure disk_figures[] = {
    {"disk_read_4k_qd1", DISK_RANDOM_READ, 1, 128, 8},
    {"disk_read_4k_qd16", DISK_RANDOM_READ, 16, 512, 32},
    {"disk_read_4k_qd32", DISK_RANDOM_READ, 32, 512, 32},
    {"disk_read_1m_seq", DISK_SEQ_READ, 1, 16, 2},
    {"disk_write_1m_seq", DISK_SEQ_WRITE, 1, 16, 2},
};
#define DISK_FIGURES (sizeof disk_figures / sizeof disk_figures[0])
#define DISK_BATCHES 15u
#define DISK_QUICK_BATCHES 2u

// splitmix64: a 64-bit state, one addition and a mix per number.
static inline uint64_t disk_next(uint64_t* state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// The next random read's page (of `pages` 4 KiB pages on the disk).
static inline uint64_t disk_random_page(uint64_t* state, uint64_t pages) {
    return disk_next(state) % pages;
}

// The byte offset of sequential operation `index` on a disk of `bytes`.
static inline uint64_t disk_seq_offset(uint64_t index, uint64_t bytes) {
    return index * DISK_SEQ_BYTES % bytes;
}

// The image's contents as made (tools/mkdisk/disk_pattern.h): each 512-byte
// sector repeats its LBA as a 64-bit little-endian word. Whether the 4 KiB at
// `data`, read from byte `offset`, hold that: both sides check one read
// before timing anything, so that a figure cannot come from a disk that
// returns nothing.
static inline int disk_page_holds_pattern(const uint8_t* data, uint64_t offset) {
    for (uint32_t at = 0; at < DISK_PAGE_BYTES; at += 8) {
        uint64_t word = 0;
        for (uint32_t b = 0; b < 8; ++b)
            word |= (uint64_t)data[at + b] << (8 * b);
        if (word != (offset + at) / 512)
            return 0;
    }
    return 1;
}

#endif
