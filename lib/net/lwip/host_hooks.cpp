#include "lib/net/lwip/host_hooks.h"

#include "lwip/sys.h"

#include <cstdio>

namespace capos::net::lwip_host {

uint32_t now_ms = 1000;
uint32_t random_state = 0x2545f491;

} // namespace capos::net::lwip_host

using capos::net::lwip_host::now_ms;
using capos::net::lwip_host::random_state;

extern "C" {

u32_t sys_now(void) {
    return now_ms;
}

uint32_t capos_lwip_random(void) {
    // xorshift32: any fixed sequence will do, as long as it repeats.
    random_state ^= random_state << 13;
    random_state ^= random_state >> 17;
    random_state ^= random_state << 5;
    return random_state;
}

void capos_lwip_assert(const char* message, const char* file, int line) {
    std::fprintf(stderr, "lwIP assertion failed: %s (%s:%d)\n", message, file, line);
    __builtin_trap();
}

} // extern "C"
