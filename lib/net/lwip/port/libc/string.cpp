// The C library functions lwIP calls that lib/freestanding/mem.cpp does not
// have (found by linking lwIP's freestanding archive: lib/net/lwip): strncmp
// (def.c's lwip_strnstr) and atoi (netif_find). Part of lwIP's
// freestanding library only; the host builds use libc's.
#include "lib/net/lwip/port/libc/string.h"
#include "lib/net/lwip/port/libc/stdlib.h"

#include <stddef.h>

extern "C" {

int strncmp(const char* left, const char* right, size_t count) {
    auto* a = reinterpret_cast<const unsigned char*>(left);
    auto* b = reinterpret_cast<const unsigned char*>(right);
    for (size_t i = 0; i < count; ++i) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
        if (a[i] == '\0')
            return 0;
    }
    return 0;
}

// Optional white space, an optional sign, then decimal digits; no overflow
// check, as C leaves an out-of-range value undefined. The value is built as
// unsigned so that the largest digits wrap instead of overflowing.
int atoi(const char* text) {
    while (*text == ' ' || (*text >= '\t' && *text <= '\r'))
        ++text;
    bool negative = *text == '-';
    if (*text == '-' || *text == '+')
        ++text;
    unsigned value = 0;
    for (; *text >= '0' && *text <= '9'; ++text)
        value = value * 10 + static_cast<unsigned>(*text - '0');
    return static_cast<int>(negative ? 0u - value : value);
}

} // extern "C"
