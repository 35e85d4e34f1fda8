// Forced (-include) into each of lwIP's sources in the net_input fuzz target
// and its seed generator: every variable lwIP defines goes to the sections
// whose bytes net_fuzz_stack.cpp saves after setting the stack up and copies
// back before each input. The names are C identifiers, so the linker gives
// their bounds (__start_lwip_bss, ...). lwIP's sources are compiled without
// AddressSanitizer's red zones around globals (fuzz/CMakeLists.txt), so the
// sections hold lwIP's bytes alone.
#pragma clang section bss = "lwip_bss" data = "lwip_data"
