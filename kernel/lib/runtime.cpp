// The few symbols a freestanding C++ kernel needs from a runtime besides the
// mem* functions (lib/freestanding/mem.cpp): operator new/delete (nothrow
// only: plain `new` is deliberately left undefined, so a throwing new cannot
// link), the pure-virtual trap and libstdc++'s misuse hooks.
#include "kernel/lib/log.h"
#include "kernel/mm/heap.h"
#include <bits/functexcept.h>
#include <cstddef>
#include <new>

extern "C" {

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
