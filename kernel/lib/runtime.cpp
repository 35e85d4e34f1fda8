// The few symbols a freestanding C++ kernel needs from a runtime: the mem*
// functions clang emits calls to, operator new/delete (nothrow only: plain
// `new` is deliberately left undefined, so a throwing new cannot link), and
// the pure-virtual trap.
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include <bits/functexcept.h>
#include <cstddef>
#include <new>

extern "C" {

void* memcpy(void* destination, const void* source, size_t count) {
    auto* d = static_cast<unsigned char*>(destination);
    auto* s = static_cast<const unsigned char*>(source);
    asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(count)::"memory");
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
    asm volatile("rep stosb" : "+D"(d), "+c"(count) : "a"(value) : "memory");
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

void __cxa_pure_virtual() {
    capos::kernel::panic("pure virtual function called");
}

} // extern "C"

// libstdc++'s header-only parts call these on misuse (for example
// string_view::substr past the end). In the kernel that is a bug.
namespace std {
const nothrow_t nothrow{};
void __throw_out_of_range_fmt(const char* message, ...) {
    capos::kernel::panic("libstdc++: {}", message);
}
void __throw_length_error(const char* message) {
    capos::kernel::panic("libstdc++: {}", message);
}
} // namespace std

void* operator new(size_t size, const std::nothrow_t&) noexcept {
    auto memory = capos::kernel::heap_allocate(size);
    return memory.is_ok() ? memory.value() : nullptr;
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    auto memory = capos::kernel::heap_allocate(size);
    return memory.is_ok() ? memory.value() : nullptr;
}
void operator delete(void* pointer) noexcept {
    if (pointer)
        capos::kernel::heap_free(pointer);
}
void operator delete(void* pointer, size_t) noexcept {
    if (pointer)
        capos::kernel::heap_free(pointer);
}
void operator delete[](void* pointer) noexcept {
    if (pointer)
        capos::kernel::heap_free(pointer);
}
void operator delete[](void* pointer, size_t) noexcept {
    if (pointer)
        capos::kernel::heap_free(pointer);
}
