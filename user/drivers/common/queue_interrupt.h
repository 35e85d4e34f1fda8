// A device queue's interrupt (an MSI-X entry routed by Device.interrupt),
// waited for in the two ways a driver needs: at once, while it brings the
// device up, and as a call kept outstanding beside the endpoint's RECV while
// it serves (arm, then taken when its completion comes). Either way each
// interrupt is acknowledged before the driver looks at its queue: one that
// comes meanwhile stays pending, and the next wait returns at once.
#pragma once

#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

#include <optional>

namespace capos::drivers {

class QueueInterrupt {
public:
    // The Interrupt a route gave (ClaimedDevice::route_interrupt).
    void hold(abi::CapId interrupt) { m_interrupt.emplace(interrupt); }

    // Waits for an interrupt past the last acknowledged and acknowledges it.
    void wait();

    // Submits Interrupt.wait on the ring; its ticket.
    uint64_t arm();
    // The completion of the wait arm() submitted: checked, acknowledged.
    void taken(const abi::Cqe& cqe);

private:
    void acknowledge(uint64_t count);

    std::optional<rt::Capability<schema::Interrupt>> m_interrupt;
    // The last interrupt count acknowledged.
    uint64_t m_acknowledged = 0;
    alignas(8) capnp::Word m_result[8];
};

} // namespace capos::drivers
