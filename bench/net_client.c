// net_client: the host side of the network figures (docs/performance.md,
// "Network"). It drives the same four servers in either guest, capOS's
// net-bench (user/bench/net_bench.cpp) or the Linux peer's
// `peer_bench --net` (bench/linux/peer_bench.c), through QEMU's port
// forwards to 127.0.0.1, and times them with the host's CLOCK_MONOTONIC,
// so both guests are measured by the same clock and the same code.
//
//   net_client sink PORT BYTES     host to guest: sends BYTES, finishes its
//                                  side, waits for the server's count (8
//                                  bytes, little-endian) and its close
//   net_client source PORT BYTES   guest to host: sends the count wanted,
//                                  reads until that many bytes and the close
//   net_client connect PORT N      N connections one after another, each
//                                  a byte sent, echoed and closed
//   net_client udp PORT N          N round trips of a 64-byte datagram (2 s
//                                  without an echo: counted lost, sent again)
//   net_client quit PORT           one connection to the echo server with
//                                  the byte 'q': the server stops
//
// Prints one line per run, e.g. `net_client: sink bytes=67108864
// seconds=1.234567 mb_per_s=54.36`; exits 0 when the server did exactly
// what it should, 1 (with a line on stderr saying why) otherwise, 2 for
// bad arguments.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { io_bytes = 65536, datagram_bytes = 64, udp_timeout_ms = 2000 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(const char* what) {
    fprintf(stderr, "net_client: %s: %s\n", what, errno ? strerror(errno) : "unexpected");
    return 1;
}

static struct sockaddr_in local(uint16_t port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

static int connect_to(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address = local(port);
    if (connect(fd, (struct sockaddr*)&address, sizeof address) != 0) {
        close(fd);
        return -1;
    }
    // The one-byte exchanges are not to wait for Nagle's algorithm.
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
}

static int write_all(int fd, const void* data, size_t length) {
    const uint8_t* at = data;
    while (length > 0) {
        ssize_t put = write(fd, at, length);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        at += put;
        length -= (size_t)put;
    }
    return 0;
}

// Reads exactly `length` bytes; -1 on an error or an early end of stream.
static int read_all(int fd, void* data, size_t length) {
    uint8_t* at = data;
    while (length > 0) {
        ssize_t got = read(fd, at, length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        at += got;
        length -= (size_t)got;
    }
    return 0;
}

// 0 when the peer closes with nothing more to read.
static int read_end(int fd) {
    uint8_t extra;
    ssize_t got;
    while ((got = read(fd, &extra, 1)) < 0 && errno == EINTR) {
    }
    return got == 0 ? 0 : -1;
}

static void encode(uint8_t out[8], uint64_t value) {
    for (int i = 0; i < 8; ++i)
        out[i] = (uint8_t)(value >> (8 * i));
}

static uint64_t decode(const uint8_t in[8]) {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i)
        value |= (uint64_t)in[i] << (8 * i);
    return value;
}

static uint8_t g_buffer[io_bytes];

static int run_sink(uint16_t port, uint64_t bytes) {
    int fd = connect_to(port);
    if (fd < 0)
        return fail("connect");
    for (size_t i = 0; i < sizeof g_buffer; ++i)
        g_buffer[i] = (uint8_t)(i * 7 + (i >> 10));
    double start = now_s();
    for (uint64_t left = bytes; left > 0;) {
        size_t length = left < sizeof g_buffer ? (size_t)left : sizeof g_buffer;
        if (write_all(fd, g_buffer, length) != 0)
            return fail("send");
        left -= length;
    }
    if (shutdown(fd, SHUT_WR) != 0)
        return fail("shutdown");
    uint8_t count[8];
    errno = 0;
    if (read_all(fd, count, sizeof count) != 0)
        return fail("the server's count");
    double seconds = now_s() - start;
    if (read_end(fd) != 0)
        return fail("the server's close");
    close(fd);
    if (decode(count) != bytes) {
        fprintf(stderr, "net_client: the server counted %llu bytes of %llu\n",
                (unsigned long long)decode(count), (unsigned long long)bytes);
        return 1;
    }
    printf("net_client: sink bytes=%llu seconds=%.6f mb_per_s=%.2f\n", (unsigned long long)bytes,
           seconds, (double)bytes / seconds / 1e6);
    return 0;
}

static int run_source(uint16_t port, uint64_t bytes) {
    int fd = connect_to(port);
    if (fd < 0)
        return fail("connect");
    uint8_t count[8];
    encode(count, bytes);
    double start = now_s();
    if (write_all(fd, count, sizeof count) != 0)
        return fail("send the count");
    uint64_t got = 0;
    for (;;) {
        ssize_t n = read(fd, g_buffer, sizeof g_buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("receive");
        if (n == 0)
            break;
        got += (uint64_t)n;
    }
    double seconds = now_s() - start;
    close(fd);
    if (got != bytes) {
        fprintf(stderr, "net_client: received %llu bytes of %llu\n", (unsigned long long)got,
                (unsigned long long)bytes);
        return 1;
    }
    printf("net_client: source bytes=%llu seconds=%.6f mb_per_s=%.2f\n", (unsigned long long)bytes,
           seconds, (double)bytes / seconds / 1e6);
    return 0;
}

// One connection to the echo server: `byte` sent, echoed, and the close.
static int echo_once(uint16_t port, uint8_t byte) {
    errno = 0;
    int fd = connect_to(port);
    if (fd < 0)
        return fail("connect");
    uint8_t back = 0;
    if (write_all(fd, &byte, 1) != 0 || read_all(fd, &back, 1) != 0 || back != byte)
        return fail("the echoed byte");
    close(fd);
    return 0;
}

static int run_connect(uint16_t port, uint64_t count) {
    double start = now_s();
    for (uint64_t i = 0; i < count; ++i)
        if (echo_once(port, (uint8_t)('a' + i % 16)) != 0)
            return 1;
    double seconds = now_s() - start;
    printf("net_client: connect connections=%llu seconds=%.6f per_s=%.1f\n",
           (unsigned long long)count, seconds, (double)count / seconds);
    return 0;
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static int run_udp(uint16_t port, uint64_t count) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = local(port);
    if (fd < 0 || connect(fd, (struct sockaddr*)&address, sizeof address) != 0)
        return fail("udp socket");
    double* trips = calloc(count, sizeof *trips);
    if (!trips)
        return fail("memory");
    uint64_t lost = 0;
    uint8_t datagram[datagram_bytes], back[datagram_bytes + 1];
    for (uint64_t i = 0; i < count;) {
        // Each datagram carries its number, so that a late echo of a lost
        // one is not taken for the answer to the next.
        memset(datagram, 0x5a, sizeof datagram);
        encode(datagram, i + lost);
        double start = now_s();
        if (send(fd, datagram, sizeof datagram, 0) != (ssize_t)sizeof datagram)
            return fail("udp send");
        int answered = 0;
        for (;;) {
            int left = udp_timeout_ms - (int)((now_s() - start) * 1000);
            struct pollfd wait = {.fd = fd, .events = POLLIN};
            if (left <= 0 || poll(&wait, 1, left) <= 0)
                break;
            ssize_t got = recv(fd, back, sizeof back, 0);
            if (got == (ssize_t)sizeof datagram && memcmp(back, datagram, sizeof datagram) == 0) {
                answered = 1;
                break;
            }
        }
        if (!answered) {
            ++lost;
            if (lost > count)
                return fail("more datagrams lost than asked for");
            continue;
        }
        trips[i++] = (now_s() - start) * 1e6;
    }
    close(fd);
    qsort(trips, count, sizeof *trips, compare_doubles);
    double median = count % 2 ? trips[count / 2] : (trips[count / 2 - 1] + trips[count / 2]) / 2;
    double p99 = trips[(count * 99 + 99) / 100 - 1];
    printf("net_client: udp round_trips=%llu lost=%llu median_us=%.1f p99_us=%.1f\n",
           (unsigned long long)count, (unsigned long long)lost, median, p99);
    free(trips);
    return 0;
}

static int number(const char* text, uint64_t* value) {
    char* end;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || end == text || *end || parsed == 0)
        return -1;
    *value = parsed;
    return 0;
}

int main(int argc, char** argv) {
    uint64_t port = 0, n = 0;
    int quit = argc == 3 && strcmp(argv[1], "quit") == 0;
    if (!(argc == 4 || quit) || number(argv[2], &port) != 0 || port > 65535 ||
        (!quit && number(argv[3], &n) != 0)) {
        fprintf(stderr, "usage: net_client sink|source PORT BYTES | connect|udp PORT N | "
                        "quit PORT\n");
        return 2;
    }
    if (quit)
        return echo_once((uint16_t)port, 'q');
    if (strcmp(argv[1], "sink") == 0)
        return run_sink((uint16_t)port, n);
    if (strcmp(argv[1], "source") == 0)
        return run_source((uint16_t)port, n);
    if (strcmp(argv[1], "connect") == 0)
        return run_connect((uint16_t)port, n);
    if (strcmp(argv[1], "udp") == 0)
        return run_udp((uint16_t)port, n);
    fprintf(stderr, "net_client: unknown mode %s\n", argv[1]);
    return 2;
}
