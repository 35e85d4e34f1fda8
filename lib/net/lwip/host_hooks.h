// What a host program that runs lwIP provides it (port/arch/cc.h): the host
// tests' and the fuzz target's clock, which they move themselves, a fixed
// sequence of random numbers (so that a run repeats), and assertions that
// end the run. capOS's network stack has its own (user/services/net).
#pragma once

#include <cstdint>

namespace capos::net::lwip_host {

// sys_now()'s milliseconds.
extern uint32_t now_ms;
// capos_lwip_random()'s xorshift32 state.
extern uint32_t random_state;

} // namespace capos::net::lwip_host
