// What a test build of a disk driver changes, by the compile definitions of
// its target (user/drivers/CMakeLists.txt): included by each driver's own
// source file only, so that every program has one definition of these.
//   CAPOS_FAULT_AT_REQUEST=n   the driver faults (an invalid opcode) at its
//                              n-th request, holding the call, as a driver
//                              with a bug would (scenario.blk_restart)
//   CAPOS_HANG_AT_REQUEST=n    from its n-th request on it gives the device
//                              nothing and says it did, as a device that
//                              stopped answering would look
//                              (scenario.blk_timeout, nvme_timeout)
//   CAPOS_REQUEST_TIMEOUT_MS=t the bound on a request's time on the device
#pragma once

#include "user/drivers/common/block_server.h"

#include <cstdint>

namespace capos::drivers::test_build {

#ifdef CAPOS_REQUEST_TIMEOUT_MS
inline constexpr uint64_t request_timeout_ns = uint64_t{CAPOS_REQUEST_TIMEOUT_MS} * 1'000'000;
#else
inline constexpr uint64_t request_timeout_ns = BlockServer::default_request_timeout_ns;
#endif

// Called by the backend's submit for each request: faults at the faulty
// build's request; true when the hung build gives this one and every later
// one to nobody (submit then says it was taken).
inline bool request_goes_nowhere() {
    [[maybe_unused]] static uint32_t requests = 0;
#ifdef CAPOS_FAULT_AT_REQUEST
    if (++requests == CAPOS_FAULT_AT_REQUEST)
        __builtin_trap();
#endif
#ifdef CAPOS_HANG_AT_REQUEST
    if (++requests >= CAPOS_HANG_AT_REQUEST)
        return true;
#endif
    return false;
}

} // namespace capos::drivers::test_build
