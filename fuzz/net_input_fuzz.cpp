// net_input_fuzz: lwIP as capOS builds it (lib/net/lwip) on hostile frames.
// Each input is a list of frames and clock steps (net_fuzz_stack.h) given to
// a stack with IPv4 (static, and DHCP waiting for an offer), IPv6
// (link-local, SLAAC, stateless DHCPv6), a TCP listener and a UDP pcb that
// echo, and an outstanding DNS query. Properties: no lwIP assertion fails
// (each traps), no memory error (ASan, and lwIP's own pool and heap overflow
// checks, which ASan cannot see inside), every frame the stack sends is
// well-formed with correct checksums, and at the end nothing holds a buffer
// (check_no_leak). The stack is reset to its saved state before each input,
// so that an input gives the same result alone as in a run.
#include "fuzz/net_fuzz_stack.h"

#include <cstddef>
#include <cstdint>
#include <span>

using namespace capos::net::fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    start_stack();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    reset_stack();
    std::span<const uint8_t> input(data, size);
    while (!input.empty())
        input = apply_record(input);
    check_no_leak();
    return 0;
}
