// lwIP's compiler and platform layer for capOS (lwip/arch.h includes it). The
// same for the freestanding build and the host builds: lwIP is told not to
// use <ctype.h> and <inttypes.h>, which capOS does not have; the few libc
// functions it does call are declared by lib/net/lwip/port/libc for the
// freestanding build.
//
// The embedder of the stack (the network stack program on capOS, a host test,
// the fuzz target) provides three functions: sys_now (lwip/sys.h: the
// milliseconds of a clock that starts anywhere and wraps), and the two below.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// A random number for lwIP's initial sequence numbers, ports, DHCP and DNS
// transaction ids and ND and MLD delays. On capOS from the entropy service;
// the host builds give a fixed sequence, so that a run repeats.
uint32_t capos_lwip_random(void);

// A failed lwIP assertion: an internal invariant broke, and the stack's state
// cannot be trusted further. Never returns: on capOS the process panics, on
// the host the test aborts.
__attribute__((noreturn)) void capos_lwip_assert(const char* message, const char* file, int line);

#ifdef __cplusplus
}
#endif

#define LWIP_RAND() capos_lwip_random()
// The checksum's sum, eight bytes a step (lwIP's own takes two at a time).
#include "lib/net/ones_sum.h"
#define LWIP_CHKSUM(data, length) capos_ones_sum((data), (size_t)(length))
// Assertions stay on in every build (LWIP_NOASSERT is never defined).
#define LWIP_PLATFORM_ASSERT(message) capos_lwip_assert((message), __FILE__, __LINE__)
// lwIP's debug output (LWIP_DEBUG is off) and statistics display are unused.
#define LWIP_PLATFORM_DIAG(message)                                                                \
    do {                                                                                           \
    } while (0)

// x86-64 is little-endian (lwip/arch.h's default, said here for the reader).
#define BYTE_ORDER LITTLE_ENDIAN

// lwIP's own character classes instead of <ctype.h>.
#define LWIP_NO_CTYPE_H 1
// printf formats of lwIP's types, written out instead of taken from
// <inttypes.h> (only debug output uses them).
#define LWIP_NO_INTTYPES_H 1
#define X8_F "02x"
#define U16_F "hu"
#define S16_F "hd"
#define X16_F "hx"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"
