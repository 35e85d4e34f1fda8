/* A minimal static user program for the ELF loader tests (tests/host/elf_test.cpp)
 * and the ELF fuzz seeds: text, read-only data, data, bss and TLS, linked by lld at
 * fixed addresses. Anchors hold link-time addresses next to a magic string, so a
 * test can find them in the file and check where the load plan puts them. Never run. */
typedef unsigned long u64;

void _start(void);

struct Anchor {
    const void* self;
    const void* target;
    u64 size;
    char magic[16];
};

__thread unsigned tls_value = 0xC0FFEE42u;
__thread char tls_zeroed[64];
static char bss_area[3 * 4096];

/* target: the entry point. */
const struct Anchor rodata_anchor = {&rodata_anchor, (const void*)&_start, 0, "capOS-rodata"};
/* target, size: the bss array. */
struct Anchor data_anchor = {&data_anchor, bss_area, sizeof bss_area, "capOS-data"};

volatile u64 sink;

__attribute__((noreturn)) void _start(void) {
    sink = (u64)&data_anchor + (u64)&rodata_anchor + tls_value + (u64)tls_zeroed + bss_area[1];
    for (;;)
        __asm__ volatile("hlt");
}
