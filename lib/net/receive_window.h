// A TCP connection's receive window as the network stack gives it back
// (user/services/net/sockets.cpp; docs/networking.md "Sockets"): the window
// of each byte that arrives is given back (lwIP's tcp_recved) once, when it
// arrives if no more than `advance` bytes are then unread, else when it is
// read. So a reader a little behind does not shrink the window the sender
// sees, and one that stops closes it after window + advance bytes. Pure
// arithmetic, host-tested (tests/host/net_test.cpp, ReceiveWindow).
#pragma once

#include <cstdint>

namespace capos::net {

class ReceiveWindow {
public:
    explicit ReceiveWindow(uint32_t advance) : m_advance(advance) {}

    // `bytes` arrived (not read yet): how much window to give back now.
    uint32_t arrived(uint32_t bytes) {
        m_unread += bytes;
        return settle(0);
    }
    // `bytes` of the unread ones were read: how much window to give back now.
    uint32_t read(uint32_t bytes) {
        m_unread -= bytes;
        return settle(bytes);
    }

    uint32_t unread() const { return m_unread; }
    // Of the unread bytes, those whose window was given back already.
    uint32_t advanced() const { return m_advanced; }

private:
    // The window of `read` bytes just read that was not given back yet, and
    // of unread ones up to the advance: since the unread bytes fell by
    // `read`, the advanced ones fell by at most as many, so this is never
    // negative.
    uint32_t settle(uint32_t read) {
        uint32_t advanced = m_unread < m_advance ? m_unread : m_advance;
        uint32_t credit = read + advanced - m_advanced;
        m_advanced = advanced;
        return credit;
    }

    uint32_t m_advance;
    uint32_t m_unread = 0;
    uint32_t m_advanced = 0;
};

} // namespace capos::net
