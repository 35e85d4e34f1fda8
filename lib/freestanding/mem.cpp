// memcpy, memmove, memset, memcmp, memchr and strlen for freestanding code
// (the kernel and user programs): clang emits calls to the first four, and
// header-only parts of libstdc++ use the others. Not part of the host builds,
// which have libc's. Compiled with -ffreestanding, which also stops clang from
// turning these loops back into calls to themselves.
#include <cstddef>

extern "C" {

// Eight bytes per step, then the rest byte by byte: the string instructions
// are fast on current CPUs either way, but an emulator runs a `rep` prefix
// one step at a time, so quadwords are eight times fewer steps (zeroing a
// page, copying a program).
void* memcpy(void* destination, const void* source, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    auto* s = static_cast<const unsigned char*>(source);
    size_t quads = count / 8;
    size_t rest = count % 8;
    asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(quads)::"memory");
    asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(rest)::"memory");
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
    unsigned long long pattern = 0x0101010101010101ull * static_cast<unsigned char>(value);
    size_t quads = count / 8;
    size_t rest = count % 8;
    asm volatile("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(d), "+c"(rest) : "a"(pattern) : "memory");
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
