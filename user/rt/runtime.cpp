// Runtime symbols user programs need besides the mem* functions: the
// pure-virtual trap and libstdc++'s misuse hooks, which end the program.
#include "user/rt/rt.h"
#include <bits/functexcept.h>
#include <new>

extern "C" void __cxa_pure_virtual() {
    capos::rt::panic("pure virtual function called");
}

namespace std {
const nothrow_t nothrow{};
void __throw_out_of_range_fmt(const char* message, ...) {
    capos::rt::panic(message);
}
void __throw_length_error(const char* message) {
    capos::rt::panic(message);
}
} // namespace std
