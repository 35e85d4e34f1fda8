// The filesystem figures' workload, one definition for both sides of the
// comparison (docs/performance.md, "Filesystem"): capOS's
// user/bench/fs_bench.cpp through a Directory and its Files, served by the
// filesystem service on a capfs volume, and the Linux peer's
// bench/linux/peer_bench.c --fs on ext4 include this header, so that they do
// the same work: the same names, sizes, call sizes and bytes, in the same
// order.
//
// Plain C (the peer is C) and freestanding (capOS's user programs have no libc).
//
// Four figures, each run once (a file created cannot be created again; the
// sequential figures are one pass over the file):
//   fs_create_small  in a new directory "small", FS_SMALL_FILES files
//                    "f00000", "f00001", ... of FS_SMALL_BYTES each: for each,
//                    open (create), one write, close (capOS: the File
//                    capability released); then the volume synced.
//   fs_read_small    each of them opened, read whole in one call, its bytes
//                    checked, closed. Linux does it one file at a time
//                    (openat, read, close); capOS with the calls of
//                    FS_IN_FLIGHT files in flight together on its ring (the
//                    opens in one batch, then the reads, the releases with
//                    the next batch), and times the one-at-a-time loop too,
//                    as the extra figure FS_READ_SMALL_SERIAL, just before.
//   fs_write_seq     one file "big", FS_SEQ_BYTES written in calls of
//                    FS_CALL_BYTES at increasing offsets; then the file synced.
//   fs_read_seq      read back in calls of FS_CALL_BYTES, every byte checked.
// The syncs are inside the timing. An operation is a file for the small-file
// figures and a call for the sequential ones; the quick counts (the smoke
// tests') are a few of each.
#ifndef CAPOS_BENCH_FS_WORKLOAD_H
#define CAPOS_BENCH_FS_WORKLOAD_H

#include <stdint.h>

#define FS_SMALL_BYTES 1024u
// capOS's File.maxTransfer: the most one File.read or File.write moves.
#define FS_CALL_BYTES 32768u
#define FS_SMALL_DIRECTORY "small"
#define FS_BIG_FILE "big"
// A name: "f" and five decimal digits.
#define FS_NAME_BYTES 6u
// capOS's small-file reads: files whose calls are in flight together, and the
// name of its one-at-a-time figure.
#define FS_IN_FLIGHT 32u
#define FS_READ_SMALL_SERIAL "fs_read_small_serial"

enum fs_op { FS_CREATE_SMALL, FS_READ_SMALL, FS_WRITE_SEQ, FS_READ_SEQ };
// The figures in the order both sides run them: name, what it does,
// operations in the full and in the quick run.
struct fs_figure {
    const char* name;
    enum fs_op op;
    uint32_t count;
    uint32_t quick_count;
};
// 10,000 files; 64 MiB (2,048 calls) sequentially; quick: 100 files, 1 MiB.
static const struct fs_figure fs_figures[] = {
    {"fs_create_small", FS_CREATE_SMALL, 10000, 100},
    {"fs_read_small", FS_READ_SMALL, 10000, 100},
    {"fs_write_seq", FS_WRITE_SEQ, 2048, 32},
    {"fs_read_seq", FS_READ_SEQ, 2048, 32},
};
#define FS_FIGURES (sizeof fs_figures / sizeof fs_figures[0])

// The name of small file `index` (below 100,000) into `out` (FS_NAME_BYTES,
// no terminator).
static inline void fs_small_name(uint32_t index, char* out) {
    out[0] = 'f';
    for (uint32_t i = FS_NAME_BYTES - 1; i > 0; --i, index /= 10)
        out[i] = (char)('0' + index % 10);
}

// The files' contents: the 64-bit little-endian word at byte `offset` (a
// multiple of 8) of the file `key` names holds key << 40 | offset, unique to
// each file and place, so a read of the wrong file or the wrong place fails
// its check. Small file i is key i + 1; "big" is key 1 << 20 (its offsets
// stay below 2^40).
#define FS_BIG_KEY (1ull << 20)
static inline uint64_t fs_word(uint64_t key, uint64_t offset) {
    return key << 40 | offset;
}

// Fills `bytes` (a multiple of 8) of file `key` from byte `offset`.
static inline void fs_fill(uint64_t key, uint64_t offset, uint8_t* out, uint32_t bytes) {
    for (uint32_t at = 0; at < bytes; at += 8) {
        uint64_t word = fs_word(key, offset + at);
        for (uint32_t b = 0; b < 8; ++b)
            out[at + b] = (uint8_t)(word >> (8 * b));
    }
}

// Whether `bytes` (a multiple of 8) read from byte `offset` of file `key`
// hold what fs_fill wrote there.
static inline int fs_holds(uint64_t key, uint64_t offset, const uint8_t* data, uint32_t bytes) {
    for (uint32_t at = 0; at < bytes; at += 8) {
        uint64_t word = 0;
        for (uint32_t b = 0; b < 8; ++b)
            word |= (uint64_t)data[at + b] << (8 * b);
        if (word != fs_word(key, offset + at))
            return 0;
    }
    return 1;
}

#endif
