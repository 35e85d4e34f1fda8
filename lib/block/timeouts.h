// Which of a disk driver's requests has been on its device too long
// (user/drivers/common/block_server.h), told by a coarse clock of ticks
// instead of a reading of the time for every request.
//
// The protocol, in the driver:
//   1. When a request goes to the device, start(slot); when the device
//      answers it, finish(slot).
//   2. While waiting() (a request is on the device), the driver keeps a
//      sleep of tick_ns() outstanding beside its other waits, and submits
//      the next when one ends: the sleeps follow each other, each at least
//      tick_ns() long.
//   3. When a sleep ends, tick(): the slot of the request on the device
//      longest, when that is at least the bound.
//
// A request started after the driver took tick t and before it took tick
// t + 1: the sleep that ends tick t + 2 was submitted when tick t + 1 was
// taken (or, when no sleep was outstanding, the one that ends tick t + 1
// with the request), after the request started, and each sleep lasts at
// least a tick. So when tick t + 1 + n is taken the request has been on the
// device for at least n ticks: it times out at n = ticks_per_bound, between
// the bound and the bound and a tick after it went to the device (the
// driver's own delays aside). No time is read per request, and a driver with
// nothing on its device keeps no sleep.
//
// Pure: the driver owns the timer and the device.
#pragma once

#include <cstdint>
#include <optional>

namespace capos::block {

class RequestTimeouts {
public:
    static constexpr uint32_t max_slots = 64;
    // Ticks in a bound: a request times out at most a quarter of the bound
    // late.
    static constexpr uint32_t ticks_per_bound = 4;

    // `bound_ns`: how long a request may be on the device (at least 1).
    explicit constexpr RequestTimeouts(uint64_t bound_ns)
        : m_bound_ns(bound_ns == 0 ? 1 : bound_ns),
          m_tick_ns((m_bound_ns + ticks_per_bound - 1) / ticks_per_bound) {}

    uint64_t bound_ns() const { return m_bound_ns; }
    // How long each sleep between ticks lasts: ticks_per_bound of them make
    // at least the bound.
    uint64_t tick_ns() const { return m_tick_ns; }

    // Slot `slot`'s request went to the device (its slot free before).
    void start(uint32_t slot) {
        m_started[slot] = m_ticks;
        m_busy |= bit(slot);
    }
    // Its answer came, or it was given up on.
    void finish(uint32_t slot) { m_busy &= ~bit(slot); }
    bool busy(uint32_t slot) const { return (m_busy & bit(slot)) != 0; }
    // Whether a request is on the device: ticks are wanted.
    bool waiting() const { return m_busy != 0; }

    // A sleep of tick_ns() has ended: the slot of the request on the device
    // longest when it has timed out.
    std::optional<uint32_t> tick() {
        ++m_ticks;
        std::optional<uint32_t> oldest;
        for (uint32_t slot = 0; slot < max_slots; ++slot) {
            if (busy(slot) && (!oldest || ticks_since(slot) > ticks_since(*oldest)))
                oldest = slot;
        }
        if (!oldest || whole_ticks(*oldest) < ticks_per_bound)
            return std::nullopt;
        return oldest;
    }

    // How long `slot`'s request has been on the device at least, by the
    // ticks counted: whole ticks since the first that ended after it
    // started.
    uint64_t at_least_ns(uint32_t slot) const { return whole_ticks(slot) * m_tick_ns; }

private:
    static constexpr uint64_t bit(uint32_t slot) { return uint64_t{1} << slot; }
    // Ticks ended since the slot's request started.
    uint64_t ticks_since(uint32_t slot) const { return m_ticks - m_started[slot]; }
    uint64_t whole_ticks(uint32_t slot) const {
        uint64_t since = ticks_since(slot);
        return since == 0 ? 0 : since - 1;
    }

    uint64_t m_bound_ns;
    uint64_t m_tick_ns;
    uint64_t m_ticks = 0;
    uint64_t m_busy = 0;                // one bit per slot with a request on the device
    uint64_t m_started[max_slots] = {}; // the tick count when each started
};

} // namespace capos::block
