// memcpy, memmove, memset, memcmp, memchr and strlen for freestanding code
// (the kernel and user programs): clang emits calls to the first four, and
// header-only parts of libstdc++ use the others. Not part of the host builds,
// which have libc's. Compiled with -ffreestanding, which also stops clang from
// turning these loops back into calls to themselves.
#include <cstddef>

extern "C" {

// Plain loops, 64 bytes a step, then 8, then the rest byte by byte. Not the
// string instructions: QEMU's TCG, which capOS's figures are measured in, runs
// a `rep` prefix one step at a time, each step a pass through its dispatch,
// and even a `rep` with nothing to do ends a translated block; a loop step
// that moves eight words is one pass for 64 bytes (zeroing a page, copying a
// program, a message of a few words). The words are loaded before any is
// stored, so each step is a plain block of moves.
void* memcpy(void* destination, const void* source, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    auto* s = static_cast<const unsigned char*>(source);
    using Word = unsigned long long;
#pragma clang loop unroll(disable)
    for (; count >= 64; count -= 64, d += 64, s += 64) {
        Word w[8];
        __builtin_memcpy(w, s, 64);
        __builtin_memcpy(d, w, 64);
    }
#pragma clang loop unroll(disable)
    for (; count >= 8; count -= 8, d += 8, s += 8) {
        Word w;
        __builtin_memcpy(&w, s, 8);
        __builtin_memcpy(d, &w, 8);
    }
#pragma clang loop unroll(disable)
    for (; count > 0; --count)
        *d++ = *s++;
    return destination;
}

void* memmove(void* destination, const void* source, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    auto* s = static_cast<const unsigned char*>(source);
    if (d == s || count == 0)
        return destination;
    if (d < s || d >= s + count)
        return memcpy(destination, source, count);
    for (size_t i = count; i > 0; --i)
        d[i - 1] = s[i - 1];
    return destination;
}

void* memset(void* destination, int value, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    using Word = unsigned long long;
    Word pattern = 0x0101010101010101ull * static_cast<unsigned char>(value);
#pragma clang loop unroll(disable)
    for (; count >= 64; count -= 64, d += 64) {
        const Word w[8] = {pattern, pattern, pattern, pattern, pattern, pattern, pattern, pattern};
        __builtin_memcpy(d, w, 64);
    }
#pragma clang loop unroll(disable)
    for (; count >= 8; count -= 8, d += 8)
        __builtin_memcpy(d, &pattern, 8);
#pragma clang loop unroll(disable)
    for (; count > 0; --count)
        *d++ = static_cast<unsigned char>(value);
    return destination;
}

int memcmp(const void* left, const void* right, size_t count) {
    auto* a = static_cast<const unsigned char*>(left);
    auto* b = static_cast<const unsigned char*>(right);
    for (size_t i = 0; i < count; ++i) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

void* memchr(const void* memory, int value, size_t count) {
    auto* bytes = static_cast<const unsigned char*>(memory);
    for (size_t i = 0; i < count; ++i) {
        if (bytes[i] == static_cast<unsigned char>(value))
            return const_cast<unsigned char*>(bytes + i);
    }
    return nullptr;
}

size_t strlen(const char* text) {
    size_t length = 0;
    while (text[length] != '\0')
        ++length;
    return length;
}

} // extern "C"
