// peer_bench: the Linux peer of capOS's in-system benchmarks (user/bench/ring_bench.cpp),
// as the performance design describes it: run inside Debian's kernel in the same
// QEMU as capOS, from an initramfs of busybox-static and this program (static,
// clang-14 -static -O2), by bench/run_bench.py. docs/performance.md has the table.
//
// Every figure is the median of `batches` batches of about `batch_ms` each;
// a batch's figure is its rdtsc ticks over its operations, converted to
// nanoseconds through the TSC rate calibrated against clock_gettime(CLOCK_MONOTONIC)
// over ~50 ms. Each batch is also timed with clock_gettime (clock_ns=, the median
// of those), as a cross-check of the conversion. One line per figure, in the
// format ring_bench prints:
//
//     bench: <name> ticks=<median> ns=<median> min_ns=<fastest batch>
//            max_ns=<slowest batch> batches=<n> per_batch=<ops> clock_ns=<median>
//
// A figure that cannot be measured prints "bench: <name> n/a (<why>)" (io_uring
// missing from the kernel, say) or "bench: <name> FAILED (<why>)".
//
// Usage: peer_bench [--quick] [--tiny PATH]   (--quick: 3 batches of 2 ms)
//        peer_bench [--quick] --disk DEVICE   (the disk figures alone, below)
//        peer_bench [--quick] [--fs-cold] --fs DEVICE   (the filesystem figures alone, below)
//        peer_bench --net   (the network figures' servers, below)
#define _GNU_SOURCE
#include "bench/disk_workload.h"
#include "bench/fs_workload.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static unsigned g_batches = 30;
static uint64_t g_batch_ms = 20;
static uint64_t g_calibrate_ms = 50;
static const char* g_tiny = "/bin/tiny";
static double g_ticks_per_ns = 1.0;
static unsigned g_figures = 0, g_failures = 0, g_unavailable = 0;

// Lines go straight to fd 1 (the serial console), never through a stdio buffer
// that a fork could duplicate.
static void say(const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (n < 0)
        return;
    if (n > (int)sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    for (int done = 0; done < n;) {
        ssize_t put = write(1, line + done, n - done);
        if (put <= 0 && errno != EINTR)
            return;
        done += put > 0 ? put : 0;
    }
}

static inline uint64_t rdtsc(void) {
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void calibrate(void) {
    uint64_t t0 = now_ns(), c0 = rdtsc(), t1, c1;
    do {
        t1 = now_ns();
        c1 = rdtsc();
    } while (t1 - t0 < g_calibrate_ms * 1000000);
    g_ticks_per_ns = (double)(c1 - c0) / (double)(t1 - t0);
    say("bench: tsc_khz=%.0f (calibrated against clock_gettime over %llu us)",
        g_ticks_per_ns * 1e6, (unsigned long long)((t1 - t0) / 1000));
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static double median(double* values, unsigned count) {
    qsort(values, count, sizeof *values, compare_doubles);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

// run(ctx, n) performs n iterations of ops_per_iteration operations each and
// returns 0, or -1 when one failed.
typedef int (*run_fn)(void* ctx, uint64_t n);

static void measure(const char* name, uint64_t ops_per_iteration, run_fn run, void* ctx) {
    const uint64_t target = (uint64_t)(g_batch_ms * 1e6 * g_ticks_per_ns);
    if (run(ctx, 1) != 0) { // untimed: cold caches, the partner's start
        say("bench: %s FAILED (%s)", name, strerror(errno));
        ++g_failures;
        return;
    }
    uint64_t n = 1;
    for (;;) {
        uint64_t start = rdtsc();
        if (run(ctx, n) != 0) {
            say("bench: %s FAILED (%s)", name, strerror(errno));
            ++g_failures;
            return;
        }
        uint64_t elapsed = rdtsc() - start;
        if (elapsed >= target / 4) {
            n = (uint64_t)((double)n * target / (elapsed ? elapsed : 1));
            if (n == 0)
                n = 1;
            break;
        }
        n *= elapsed < target / 64 ? 8 : 2;
    }
    double ticks[64], clock[64];
    unsigned batches = g_batches < 64 ? g_batches : 64;
    for (unsigned b = 0; b < batches; ++b) {
        uint64_t t0 = now_ns(), c0 = rdtsc();
        if (run(ctx, n) != 0) {
            say("bench: %s FAILED (%s)", name, strerror(errno));
            ++g_failures;
            return;
        }
        uint64_t c1 = rdtsc(), t1 = now_ns();
        ticks[b] = (double)(c1 - c0) / (double)(n * ops_per_iteration);
        clock[b] = (double)(t1 - t0) / (double)(n * ops_per_iteration);
    }
    double clock_median = median(clock, batches);
    double tick_median = median(ticks, batches); // sorts ticks
    ++g_figures;
    say("bench: %s ticks=%.0f ns=%.1f min_ns=%.1f max_ns=%.1f batches=%u per_batch=%llu "
        "clock_ns=%.1f",
        name, tick_median, tick_median / g_ticks_per_ns, ticks[0] / g_ticks_per_ns,
        ticks[batches - 1] / g_ticks_per_ns, batches,
        (unsigned long long)(n * ops_per_iteration), clock_median);
}

static void unavailable(const char* name, const char* why) {
    ++g_unavailable;
    say("bench: %s n/a (%s)", name, why);
}

// ---------------------------------------------------------------------------
// null syscall

static int run_getpid(void* ctx, uint64_t n) {
    (void)ctx;
    for (uint64_t i = 0; i < n; ++i)
        if (syscall(SYS_getpid) <= 0)
            return -1;
    return 0;
}

// ---------------------------------------------------------------------------
// futex ping-pong: the measuring side stores a new sequence number in `ping`
// and wakes the partner, which copies it to `pong` and wakes it back.

struct futex_pair {
    _Atomic int ping;
    _Atomic int pong;
    int private_flag; // FUTEX_PRIVATE_FLAG between threads, 0 between processes
    int seq;          // the measuring side's last number
};

static long futex(_Atomic int* word, int op, int value) {
    return syscall(SYS_futex, word, op, value, NULL, NULL, 0);
}

static void futex_partner(struct futex_pair* pair) {
    int seen = 0;
    for (;;) {
        int value;
        while ((value = pair->ping) == seen)
            futex(&pair->ping, FUTEX_WAIT | pair->private_flag, seen);
        seen = value;
        if (value < 0)
            return;
        pair->pong = value;
        futex(&pair->pong, FUTEX_WAKE | pair->private_flag, 1);
    }
}

static void* futex_thread(void* arg) {
    futex_partner(arg);
    return NULL;
}

static int run_futex(void* ctx, uint64_t n) {
    struct futex_pair* pair = ctx;
    for (uint64_t i = 0; i < n; ++i) {
        int previous = pair->seq;
        int next = previous == 0x7fffffff ? 1 : previous + 1;
        pair->seq = next;
        pair->ping = next;
        futex(&pair->ping, FUTEX_WAKE | pair->private_flag, 1);
        while (pair->pong != next)
            futex(&pair->pong, FUTEX_WAIT | pair->private_flag, previous);
    }
    return 0;
}

static void futex_stop(struct futex_pair* pair) {
    pair->ping = -1;
    futex(&pair->ping, FUTEX_WAKE | pair->private_flag, 1);
}

static void bench_futex_threads(void) {
    static struct futex_pair pair = {.private_flag = FUTEX_PRIVATE_FLAG};
    pthread_t thread;
    if (pthread_create(&thread, NULL, futex_thread, &pair) != 0) {
        say("bench: futex_threads FAILED (pthread_create)");
        ++g_failures;
        return;
    }
    measure("futex_threads", 1, run_futex, &pair);
    futex_stop(&pair);
    pthread_join(thread, NULL);
}

static void bench_futex_processes(void) {
    struct futex_pair* pair =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pair == MAP_FAILED) {
        say("bench: futex_processes FAILED (mmap)");
        ++g_failures;
        return;
    }
    memset(pair, 0, sizeof *pair);
    pid_t child = fork();
    if (child == 0) {
        futex_partner(pair);
        _exit(0);
    }
    measure("futex_processes", 1, run_futex, pair);
    futex_stop(pair);
    waitpid(child, NULL, 0);
    munmap(pair, 4096);
}

// ---------------------------------------------------------------------------
// pipe and unix socket ping-pong between two processes: one byte each way.

struct channel {
    int to_partner, from_partner;
};

static int run_channel(void* ctx, uint64_t n) {
    struct channel* c = ctx;
    char byte = 'p';
    for (uint64_t i = 0; i < n; ++i) {
        if (write(c->to_partner, &byte, 1) != 1 || read(c->from_partner, &byte, 1) != 1)
            return -1;
    }
    return 0;
}

static void channel_partner(int in, int out) {
    char byte;
    while (read(in, &byte, 1) == 1 && byte != 'q') {
        if (write(out, &byte, 1) != 1)
            break;
    }
    _exit(0);
}

static void bench_pipe(void) {
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) {
        say("bench: pipe_processes FAILED (pipe)");
        ++g_failures;
        return;
    }
    // child reads down[0], writes up[1]; parent writes down[1], reads up[0]
    pid_t child = fork();
    if (child == 0)
        channel_partner(down[0], up[1]);
    struct channel c = {.to_partner = down[1], .from_partner = up[0]};
    measure("pipe_processes", 1, run_channel, &c);
    char quit = 'q';
    (void)!write(down[1], &quit, 1);
    waitpid(child, NULL, 0);
    close(down[0]), close(down[1]), close(up[0]), close(up[1]);
}

static void bench_socketpair(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        say("bench: socketpair_processes FAILED (socketpair)");
        ++g_failures;
        return;
    }
    pid_t child = fork();
    if (child == 0)
        channel_partner(sv[1], sv[1]);
    struct channel c = {.to_partner = sv[0], .from_partner = sv[0]};
    measure("socketpair_processes", 1, run_channel, &c);
    char quit = 'q';
    (void)!write(sv[0], &quit, 1);
    waitpid(child, NULL, 0);
    close(sv[0]), close(sv[1]);
}

// ---------------------------------------------------------------------------
// io_uring NOPs through the raw system calls (no liburing).

struct uring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe* sqes;
    struct io_uring_cqe* cqes;
    unsigned batch;
};

static int uring_setup(struct uring* ring, unsigned entries, const char** why) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0) {
        *why = errno == ENOSYS ? "io_uring_setup: ENOSYS" : strerror(errno);
        return -1;
    }
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single && cq_size > sq_size)
        sq_size = cq_size;
    char* sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                    IORING_OFF_SQ_RING);
    char* cq = single ? sq
                      : mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                             fd, IORING_OFF_CQ_RING);
    void* sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
        *why = "mmap of the rings failed";
        close(fd);
        return -1;
    }
    ring->fd = fd;
    ring->sq_tail = (unsigned*)(sq + p.sq_off.tail);
    ring->sq_mask = (unsigned*)(sq + p.sq_off.ring_mask);
    ring->sq_array = (unsigned*)(sq + p.sq_off.array);
    ring->cq_head = (unsigned*)(cq + p.cq_off.head);
    ring->cq_tail = (unsigned*)(cq + p.cq_off.tail);
    ring->cq_mask = (unsigned*)(cq + p.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
    ring->sqes = sqes;
    return 0;
}

static int run_uring(void* ctx, uint64_t n) {
    struct uring* ring = ctx;
    for (uint64_t i = 0; i < n; ++i) {
        unsigned tail = *ring->sq_tail;
        for (unsigned k = 0; k < ring->batch; ++k, ++tail) {
            unsigned index = tail & *ring->sq_mask;
            struct io_uring_sqe* sqe = &ring->sqes[index];
            memset(sqe, 0, sizeof *sqe);
            sqe->opcode = IORING_OP_NOP;
            sqe->user_data = k + 1;
            ring->sq_array[index] = index;
        }
        __atomic_store_n(ring->sq_tail, tail, __ATOMIC_RELEASE);
        long entered = syscall(__NR_io_uring_enter, ring->fd, ring->batch, ring->batch,
                               IORING_ENTER_GETEVENTS, NULL, 0);
        if (entered != (long)ring->batch)
            return -1;
        unsigned head = *ring->cq_head;
        for (unsigned k = 0; k < ring->batch; ++k, ++head) {
            if (head == __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE))
                return -1;
            struct io_uring_cqe* cqe = &ring->cqes[head & *ring->cq_mask];
            if (cqe->res != 0 || cqe->user_data != k + 1)
                return -1;
        }
        __atomic_store_n(ring->cq_head, head, __ATOMIC_RELEASE);
    }
    return 0;
}

static void bench_uring(void) {
    struct uring ring;
    const char* why = "";
    if (uring_setup(&ring, 32, &why) != 0) {
        unavailable("io_uring_nop_1", why);
        unavailable("io_uring_nop_32", why);
        return;
    }
    ring.batch = 1;
    measure("io_uring_nop_1", 1, run_uring, &ring);
    ring.batch = 32;
    measure("io_uring_nop_32", 32, run_uring, &ring);
    close(ring.fd);
}

// ---------------------------------------------------------------------------
// Disk: the workload of bench/disk_workload.h (the same as capOS's
// user/bench/disk_bench.cpp does through BlockDevice) on the disk named by
// --disk (virtio-blk's /dev/vda or NVMe's /dev/nvme0n1) with O_DIRECT, so
// that neither guest's page cache takes part. Depth 1 is pread/pwrite;
// deeper queues are io_uring IORING_OP_READ entries, each operation into its
// own place's page of one buffer, a completion freeing its place for the
// next. Each figure is `batches` batches of a fixed count after one untimed
// batch, as on capOS; its line ends with depth=.

struct disk {
    int fd;
    uint64_t bytes;
    uint8_t* buffer; // DISK_SEQ_BYTES, page-aligned (O_DIRECT)
    struct uring ring;
    int have_ring;
};

static int disk_random_reads(struct disk* d, uint64_t n, uint32_t depth, uint64_t* random) {
    uint64_t pages = d->bytes / DISK_PAGE_BYTES;
    if (depth == 1) {
        for (uint64_t i = 0; i < n; ++i) {
            off_t offset = (off_t)(disk_random_page(random, pages) * DISK_PAGE_BYTES);
            if (pread(d->fd, d->buffer, DISK_PAGE_BYTES, offset) != DISK_PAGE_BYTES)
                return -1;
        }
        return 0;
    }
    struct uring* ring = &d->ring;
    uint32_t free_slots[DISK_MAX_DEPTH], free_count = 0;
    for (uint32_t slot = depth; slot > 0; --slot)
        free_slots[free_count++] = slot - 1;
    uint64_t issued = 0, done = 0;
    while (done < n) {
        unsigned tail = *ring->sq_tail, pushed = 0;
        while (issued < n && free_count > 0) {
            uint32_t slot = free_slots[--free_count];
            unsigned index = tail & *ring->sq_mask;
            struct io_uring_sqe* sqe = &ring->sqes[index];
            memset(sqe, 0, sizeof *sqe);
            sqe->opcode = IORING_OP_READ;
            sqe->fd = d->fd;
            sqe->addr = (uint64_t)(uintptr_t)(d->buffer + (uint64_t)slot * DISK_PAGE_BYTES);
            sqe->len = DISK_PAGE_BYTES;
            sqe->off = disk_random_page(random, pages) * DISK_PAGE_BYTES;
            sqe->user_data = slot;
            ring->sq_array[index] = index;
            ++tail, ++pushed, ++issued;
        }
        __atomic_store_n(ring->sq_tail, tail, __ATOMIC_RELEASE);
        // Wait for a completion once nothing more can be issued (as capOS's
        // run_calls does).
        if (syscall(__NR_io_uring_enter, ring->fd, pushed, 1, IORING_ENTER_GETEVENTS, NULL, 0) <
            0)
            return -1;
        unsigned head = *ring->cq_head;
        while (head != __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE)) {
            struct io_uring_cqe* cqe = &ring->cqes[head & *ring->cq_mask];
            if (cqe->res != DISK_PAGE_BYTES || cqe->user_data >= depth) {
                errno = cqe->res < 0 ? -cqe->res : EIO;
                return -1;
            }
            free_slots[free_count++] = (uint32_t)cqe->user_data;
            ++head, ++done;
        }
        __atomic_store_n(ring->cq_head, head, __ATOMIC_RELEASE);
    }
    return 0;
}

static int disk_sequential(struct disk* d, uint64_t first, uint64_t n, int write) {
    for (uint64_t op = first; op < first + n; ++op) {
        off_t offset = (off_t)disk_seq_offset(op, d->bytes);
        ssize_t moved = write ? pwrite(d->fd, d->buffer, DISK_SEQ_BYTES, offset)
                              : pread(d->fd, d->buffer, DISK_SEQ_BYTES, offset);
        if (moved != DISK_SEQ_BYTES)
            return -1;
    }
    return 0;
}

static void disk_measure(struct disk* d, const struct disk_figure* figure, int quick) {
    unsigned batches = quick ? DISK_QUICK_BATCHES : DISK_BATCHES;
    uint64_t per_batch = quick ? figure->quick_per_batch : figure->per_batch;
    if (figure->depth > 1 && !d->have_ring) {
        unavailable(figure->name, "no io_uring");
        return;
    }
    uint64_t random = DISK_SEED, op = 0;
    double ticks[DISK_BATCHES], clock[DISK_BATCHES];
    for (unsigned b = 0; b <= batches; ++b, op += per_batch) { // the untimed batch first
        uint64_t t0 = now_ns(), c0 = rdtsc();
        int failed = figure->op == DISK_RANDOM_READ
                         ? disk_random_reads(d, per_batch, figure->depth, &random)
                         : disk_sequential(d, op, per_batch, figure->op == DISK_SEQ_WRITE);
        uint64_t c1 = rdtsc(), t1 = now_ns();
        if (failed) {
            say("bench: %s FAILED (%s)", figure->name, strerror(errno));
            ++g_failures;
            return;
        }
        if (b > 0) {
            ticks[b - 1] = (double)(c1 - c0) / (double)per_batch;
            clock[b - 1] = (double)(t1 - t0) / (double)per_batch;
        }
    }
    double clock_median = median(clock, batches);
    double tick_median = median(ticks, batches); // sorts ticks
    ++g_figures;
    say("bench: %s ticks=%.0f ns=%.1f min_ns=%.1f max_ns=%.1f batches=%u per_batch=%llu "
        "clock_ns=%.1f depth=%u",
        figure->name, tick_median, tick_median / g_ticks_per_ns, ticks[0] / g_ticks_per_ns,
        ticks[batches - 1] / g_ticks_per_ns, batches, (unsigned long long)per_batch,
        clock_median, figure->depth);
}

static void run_disk(const char* path, int quick) {
    struct disk d;
    memset(&d, 0, sizeof d);
    d.fd = open(path, O_RDWR | O_DIRECT);
    if (d.fd < 0 || ioctl(d.fd, BLKGETSIZE64, &d.bytes) != 0 || d.bytes == 0 ||
        d.bytes % DISK_SEQ_BYTES != 0 ||
        posix_memalign((void**)&d.buffer, DISK_PAGE_BYTES, DISK_SEQ_BYTES) != 0) {
        say("bench: disk FAILED (%s: %s)", path, d.fd < 0 ? strerror(errno) : "unusable size");
        ++g_failures;
        return;
    }
    const char* why = "";
    d.have_ring = uring_setup(&d.ring, DISK_MAX_DEPTH, &why) == 0;
    say("bench: disk bytes=%llu io_uring=%s", (unsigned long long)d.bytes,
        d.have_ring ? "yes" : why);
    // The first random page holds the image's pattern, or nothing is timed.
    uint64_t random = DISK_SEED;
    uint64_t offset = disk_random_page(&random, d.bytes / DISK_PAGE_BYTES) * DISK_PAGE_BYTES;
    if (pread(d.fd, d.buffer, DISK_PAGE_BYTES, (off_t)offset) != DISK_PAGE_BYTES ||
        !disk_page_holds_pattern(d.buffer, offset)) {
        say("bench: disk FAILED (a read does not hold the image's pattern)");
        ++g_failures;
        return;
    }
    say("bench: disk pattern ok at byte %llu", (unsigned long long)offset);
    for (size_t i = 0; i < DISK_FIGURES; ++i)
        disk_measure(&d, &disk_figures[i], quick);
    if (d.have_ring)
        close(d.ring.fd);
    close(d.fd);
    free(d.buffer);
}

// ---------------------------------------------------------------------------
// Filesystem: the workload of bench/fs_workload.h (the same as capOS's
// user/bench/fs_bench.cpp does through a Directory and its Files) on the ext4
// volume on the disk named by --fs, mounted at /mnt with the kernel's default
// options. A small file is openat (O_CREAT | O_EXCL, or O_RDONLY) in the
// directory "small", one write or read, close; the small files' figure ends
// in syncfs, the sequential write in fsync. Each figure is one timed run; its
// line has batches=1 and total_ticks=.

#define FS_MOUNT "/mnt"

static uint8_t g_fs_data[FS_CALL_BYTES];
static const char* g_fs_why = "";

static int fs_fail(const char* why) {
    g_fs_why = why;
    return -1;
}

static int fs_create_small(uint32_t count) {
    if (mkdir(FS_MOUNT "/" FS_SMALL_DIRECTORY, 0755) != 0)
        return fs_fail("mkdir");
    int dir = open(FS_MOUNT "/" FS_SMALL_DIRECTORY, O_RDONLY | O_DIRECTORY);
    if (dir < 0)
        return fs_fail("open the directory");
    char name[FS_NAME_BYTES + 1];
    name[FS_NAME_BYTES] = 0;
    for (uint32_t i = 0; i < count; ++i) {
        fs_small_name(i, name);
        int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            return fs_fail("openat (O_CREAT | O_EXCL)");
        fs_fill(i + 1, 0, g_fs_data, FS_SMALL_BYTES);
        ssize_t wrote = write(fd, g_fs_data, FS_SMALL_BYTES);
        if (close(fd) != 0 || wrote != FS_SMALL_BYTES)
            return fs_fail("write");
    }
    int synced = syncfs(dir);
    close(dir);
    return synced == 0 ? 0 : fs_fail("syncfs");
}

static int fs_read_small(uint32_t count) {
    int dir = open(FS_MOUNT "/" FS_SMALL_DIRECTORY, O_RDONLY | O_DIRECTORY);
    if (dir < 0)
        return fs_fail("open the directory");
    char name[FS_NAME_BYTES + 1];
    name[FS_NAME_BYTES] = 0;
    for (uint32_t i = 0; i < count; ++i) {
        fs_small_name(i, name);
        int fd = openat(dir, name, O_RDONLY);
        if (fd < 0)
            return fs_fail("openat");
        ssize_t got = read(fd, g_fs_data, FS_SMALL_BYTES);
        if (close(fd) != 0 || got != FS_SMALL_BYTES)
            return fs_fail("read");
        if (!fs_holds(i + 1, 0, g_fs_data, FS_SMALL_BYTES))
            return fs_fail("a file does not hold its bytes");
    }
    close(dir);
    return 0;
}

static int fs_write_seq(uint32_t calls) {
    int fd = open(FS_MOUNT "/" FS_BIG_FILE, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return fs_fail("open (O_CREAT | O_EXCL)");
    for (uint32_t i = 0; i < calls; ++i) {
        uint64_t offset = (uint64_t)i * FS_CALL_BYTES;
        fs_fill(FS_BIG_KEY, offset, g_fs_data, FS_CALL_BYTES);
        if (write(fd, g_fs_data, FS_CALL_BYTES) != FS_CALL_BYTES)
            return fs_fail("write");
    }
    if (fsync(fd) != 0)
        return fs_fail("fsync");
    return close(fd) == 0 ? 0 : fs_fail("close");
}

static int fs_read_seq(uint32_t calls) {
    int fd = open(FS_MOUNT "/" FS_BIG_FILE, O_RDONLY);
    if (fd < 0)
        return fs_fail("open");
    for (uint32_t i = 0; i < calls; ++i) {
        uint64_t offset = (uint64_t)i * FS_CALL_BYTES;
        if (read(fd, g_fs_data, FS_CALL_BYTES) != FS_CALL_BYTES)
            return fs_fail("read");
        if (!fs_holds(FS_BIG_KEY, offset, g_fs_data, FS_CALL_BYTES))
            return fs_fail("the file does not hold its bytes");
    }
    return close(fd) == 0 ? 0 : fs_fail("close");
}

// With --fs-cold, the page cache, dentries and inodes are dropped (untimed)
// before each read figure, so that Linux reads from the disk as capOS's
// filesystem service does (it keeps no file data after a commit): not part of
// `make bench`, a comparison made by hand (docs/performance.md).
static int g_fs_cold = 0;

static int drop_caches(void) {
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    int dropped = fd >= 0 && write(fd, "3", 1) == 1;
    if (fd >= 0)
        close(fd);
    return dropped ? 0 : -1;
}

static void run_fs(const char* path, int quick) {
    mkdir(FS_MOUNT, 0755);
    if (mount(path, FS_MOUNT, "ext4", 0, NULL) != 0) {
        say("bench: fs FAILED (mount %s: %s)", path, strerror(errno));
        ++g_failures;
        return;
    }
    struct statfs volume;
    if (statfs(FS_MOUNT, &volume) != 0) {
        say("bench: fs FAILED (statfs: %s)", strerror(errno));
        ++g_failures;
        return;
    }
    say("bench: fs volume ext4 blocks=%llu block_size=%llu", (unsigned long long)volume.f_blocks,
        (unsigned long long)volume.f_bsize);
    for (size_t i = 0; i < FS_FIGURES; ++i) {
        const struct fs_figure* figure = &fs_figures[i];
        uint32_t count = quick ? figure->quick_count : figure->count;
        int read = figure->op == FS_READ_SMALL || figure->op == FS_READ_SEQ;
        if (g_fs_cold && read && drop_caches() != 0) {
            say("bench: %s FAILED (drop_caches: %s)", figure->name, strerror(errno));
            ++g_failures;
            continue;
        }
        uint64_t t0 = now_ns(), c0 = rdtsc();
        int failed = 0;
        switch (figure->op) {
        case FS_CREATE_SMALL:
            failed = fs_create_small(count);
            break;
        case FS_READ_SMALL:
            failed = fs_read_small(count);
            break;
        case FS_WRITE_SEQ:
            failed = fs_write_seq(count);
            break;
        case FS_READ_SEQ:
            failed = fs_read_seq(count);
            break;
        }
        uint64_t c1 = rdtsc(), t1 = now_ns();
        if (failed) {
            say("bench: %s FAILED (%s: %s)", figure->name, g_fs_why, strerror(errno));
            ++g_failures;
            continue;
        }
        double ticks = (double)(c1 - c0) / (double)count;
        ++g_figures;
        say("bench: %s ticks=%.0f ns=%.1f min_ns=%.1f max_ns=%.1f batches=1 per_batch=%u "
            "clock_ns=%.1f total_ticks=%llu",
            figure->name, ticks, ticks / g_ticks_per_ns, ticks / g_ticks_per_ns,
            ticks / g_ticks_per_ns, count, (double)(t1 - t0) / (double)count,
            (unsigned long long)(c1 - c0));
    }
    if (umount(FS_MOUNT) != 0) {
        say("bench: fs FAILED (umount: %s)", strerror(errno));
        ++g_failures;
    }
}

// ---------------------------------------------------------------------------
// Process creation: posix_spawn + wait, fork + exec + wait of a tiny static binary.

static int wait_clean(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

static int run_posix_spawn(void* ctx, uint64_t n) {
    (void)ctx;
    char* argv[] = {(char*)g_tiny, NULL};
    for (uint64_t i = 0; i < n; ++i) {
        pid_t pid;
        int error = posix_spawn(&pid, g_tiny, NULL, NULL, argv, environ);
        if (error != 0) {
            errno = error;
            return -1;
        }
        if (wait_clean(pid) != 0)
            return -1;
    }
    return 0;
}

static int run_fork_exec(void* ctx, uint64_t n) {
    (void)ctx;
    char* argv[] = {(char*)g_tiny, NULL};
    for (uint64_t i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            execve(g_tiny, argv, environ);
            _exit(127);
        }
        if (wait_clean(pid) != 0)
            return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// The network figures' servers, the peer of capOS's net-bench
// (user/bench/net_bench.cpp), the same four on the same ports, driven from
// the host by bench/net_client.c, which does the timing:
//
//   TCP 5001  sink: counts the bytes until the peer finishes, writes the
//             count (8 bytes, little-endian) and closes.
//   TCP 5002  source: reads a count (8 bytes, little-endian), writes that
//             many bytes in writes of 32 KiB (capOS's TcpSocket::max_io)
//             and closes.
//   TCP 5003  reads a byte, writes it back and closes; 'q' also ends the
//             servers once it is written back.
//   UDP 5004  sends each datagram back where it came from.
//
// A thread each for the sink, the source and UDP; the echo server on the
// calling thread. Each serves one connection after another, as the client
// drives them.

enum { net_io_bytes = 32768 };

static _Atomic uint64_t g_net_served, g_net_failed, g_net_in, g_net_out, g_net_datagrams;

static int net_listen(int type, uint16_t port) {
    int fd = socket(AF_INET, type, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0 || bind(fd, (struct sockaddr*)&address, sizeof address) != 0 ||
        (type == SOCK_STREAM && listen(fd, 16) != 0)) {
        say("bench: net FAILED (port %u: %s)", port, strerror(errno));
        exit(1);
    }
    return fd;
}

static int net_write_all(int fd, const uint8_t* data, size_t length) {
    while (length > 0) {
        ssize_t put = write(fd, data, length);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        data += put;
        length -= (size_t)put;
    }
    return 0;
}

static void net_end(int fd, int failed, const char* what) {
    if (failed)
        say("bench: net %s failed (%s)", what, strerror(errno));
    close(fd);
    ++g_net_served;
    g_net_failed += failed ? 1 : 0;
}

static void* net_sink(void* arg) {
    static uint8_t buffer[net_io_bytes];
    int listener = *(int*)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            continue;
        uint64_t count = 0;
        ssize_t got;
        while ((got = read(fd, buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR))
            count += got > 0 ? (uint64_t)got : 0;
        g_net_in += count;
        say("net-bench: sink received %llu bytes", (unsigned long long)count);
        uint8_t header[8];
        for (int i = 0; i < 8; ++i)
            header[i] = (uint8_t)(count >> (8 * i));
        net_end(fd, got < 0 || net_write_all(fd, header, sizeof header) != 0, "sink");
    }
    return NULL;
}

static void* net_source(void* arg) {
    static uint8_t pattern[net_io_bytes];
    for (size_t i = 0; i < sizeof pattern; ++i)
        pattern[i] = (uint8_t)(i * 7 + (i >> 10));
    int listener = *(int*)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            continue;
        uint8_t header[8];
        size_t have = 0;
        while (have < sizeof header) {
            ssize_t got = read(fd, header + have, sizeof header - have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            have += (size_t)got;
        }
        if (have < sizeof header) {
            net_end(fd, 1, "source");
            continue;
        }
        uint64_t left = 0;
        for (int i = 0; i < 8; ++i)
            left |= (uint64_t)header[i] << (8 * i);
        say("net-bench: source sending %llu bytes", (unsigned long long)left);
        int failed = 0;
        while (left > 0 && !failed) {
            size_t length = left < sizeof pattern ? (size_t)left : sizeof pattern;
            failed = net_write_all(fd, pattern, length) != 0;
            left -= failed ? 0 : length;
            g_net_out += failed ? 0 : length;
        }
        net_end(fd, failed, "source");
    }
    return NULL;
}

static void* net_udp(void* arg) {
    static uint8_t datagram[65536];
    int fd = *(int*)arg;
    for (;;) {
        struct sockaddr_in from;
        socklen_t from_length = sizeof from;
        ssize_t got =
            recvfrom(fd, datagram, sizeof datagram, 0, (struct sockaddr*)&from, &from_length);
        if (got < 0)
            continue;
        if (sendto(fd, datagram, (size_t)got, 0, (struct sockaddr*)&from, from_length) == got)
            ++g_net_datagrams;
    }
    return NULL;
}

static int run_net(void) {
    static int fds[3];
    fds[0] = net_listen(SOCK_STREAM, 5001);
    fds[1] = net_listen(SOCK_STREAM, 5002);
    fds[2] = net_listen(SOCK_DGRAM, 5004);
    int echo = net_listen(SOCK_STREAM, 5003);
    pthread_t thread;
    void* (*servers[3])(void*) = {net_sink, net_source, net_udp};
    for (int i = 0; i < 3; ++i)
        if (pthread_create(&thread, NULL, servers[i], &fds[i]) != 0) {
            say("bench: net FAILED (pthread_create)");
            return 1;
        }
    say("net-bench: ready (tcp 5001 sink, 5002 source, 5003 echo; udp 5004 echo)");
    for (uint8_t byte = 0; byte != 'q';) {
        int fd = accept(echo, NULL, NULL);
        if (fd < 0)
            continue;
        ssize_t got;
        while ((got = read(fd, &byte, 1)) < 0 && errno == EINTR) {
        }
        net_end(fd, got != 1 || net_write_all(fd, &byte, 1) != 0, "echo");
    }
    say("net-bench: %llu connections (%llu failed), %llu bytes in, %llu bytes out, %llu datagrams "
        "echoed",
        (unsigned long long)g_net_served, (unsigned long long)g_net_failed,
        (unsigned long long)g_net_in, (unsigned long long)g_net_out,
        (unsigned long long)g_net_datagrams);
    return 0;
}

// ---------------------------------------------------------------------------
// Throughput over several CPUs, the peer of capOS's pairs_bench: a futex
// round-trip pair of processes per online CPU, each pair making
// `pair_round_trips` round trips, all started at once; round trips per second
// from the first fork to the last pair's end, printed in pairs_bench's words.

enum { pair_round_trips = 20000, max_pairs = 8 };

static int run_pairs(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int pairs = online < 1 ? 1 : online > max_pairs ? max_pairs : (int)online;
    struct futex_pair* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return 1;
    memset(shared, 0, 4096);
    pid_t children[2 * max_pairs];
    int count = 0;
    uint64_t start = now_ns();
    for (int i = 0; i < pairs; ++i) {
        // A cache line each: pairs share no line.
        struct futex_pair* pair = (struct futex_pair*)((char*)shared + i * 64);
        pid_t partner = fork();
        if (partner == 0) {
            futex_partner(pair);
            _exit(0);
        }
        pid_t client = fork();
        if (client == 0) {
            run_futex(pair, pair_round_trips);
            futex_stop(pair);
            _exit(0);
        }
        children[count++] = partner;
        children[count++] = client;
    }
    int good = 1;
    for (int i = 0; i < count; ++i) {
        int status = 0;
        good = good && waitpid(children[i], &status, 0) == children[i] && WIFEXITED(status) &&
               WEXITSTATUS(status) == 0;
    }
    uint64_t took_us = (now_ns() - start) / 1000;
    uint64_t total = (uint64_t)pairs * pair_round_trips;
    say("pairs: %d pairs, %llu round trips in %llu us, %llu per second%s", pairs,
        (unsigned long long)total, (unsigned long long)took_us,
        (unsigned long long)(took_us ? total * 1000000 / took_us : 0),
        good ? "" : " (a pair FAILED)");
    return good ? 0 : 1;
}

int main(int argc, char** argv) {
    say("bench: peer main tsc=%llu", (unsigned long long)rdtsc());
    const char* disk_path = NULL;
    const char* fs_path = NULL;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--pairs") == 0)
            return run_pairs();
        if (strcmp(argv[i], "--net") == 0)
            return run_net();
        if (strcmp(argv[i], "--quick") == 0) {
            g_batches = 3;
            g_batch_ms = 2;
            g_calibrate_ms = 10;
        } else if (strcmp(argv[i], "--tiny") == 0 && i + 1 < argc) {
            g_tiny = argv[++i];
        } else if (strcmp(argv[i], "--disk") == 0 && i + 1 < argc) {
            disk_path = argv[++i];
        } else if (strcmp(argv[i], "--fs") == 0 && i + 1 < argc) {
            fs_path = argv[++i];
        } else if (strcmp(argv[i], "--fs-cold") == 0) {
            g_fs_cold = 1;
        }
    }
    if (disk_path) {
        int quick = g_batches == 3;
        say("bench: config disk batches=%u%s", quick ? DISK_QUICK_BATCHES : DISK_BATCHES,
            quick ? " (quick)" : "");
        calibrate();
        run_disk(disk_path, quick);
        say("bench: done, %u figures, %u failed, %u n/a, tsc=%llu", g_figures, g_failures,
            g_unavailable, (unsigned long long)rdtsc());
        return g_failures == 0 && g_unavailable == 0 ? 0 : 1;
    }
    if (fs_path) {
        int quick = g_batches == 3;
        say("bench: config fs files=%u seq_bytes=%u%s%s",
            quick ? fs_figures[0].quick_count : fs_figures[0].count,
            (quick ? fs_figures[2].quick_count : fs_figures[2].count) * FS_CALL_BYTES,
            quick ? " (quick)" : "", g_fs_cold ? " (cold reads)" : "");
        calibrate();
        run_fs(fs_path, quick);
        say("bench: done, %u figures, %u failed, %u n/a, tsc=%llu", g_figures, g_failures,
            g_unavailable, (unsigned long long)rdtsc());
        return g_failures == 0 ? 0 : 1;
    }
    say("bench: config batches=%u batch_ms=%llu%s", g_batches, (unsigned long long)g_batch_ms,
        g_batches == 3 ? " (quick)" : "");
    calibrate();

    measure("getpid", 1, run_getpid, NULL);
    bench_futex_threads();
    bench_futex_processes();
    bench_pipe();
    bench_socketpair();
    bench_uring();
    measure("posix_spawn_wait", 1, run_posix_spawn, NULL);
    measure("fork_exec_wait", 1, run_fork_exec, NULL);

    say("bench: done, %u figures, %u failed, %u n/a, tsc=%llu", g_figures, g_failures,
        g_unavailable, (unsigned long long)rdtsc());
    return g_failures == 0 ? 0 : 1;
}
