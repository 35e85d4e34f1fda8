// A TCP connection's receive window as the network stack gives it back
// (user/services/net/sockets.cpp; docs/networking.md "Sockets"): the window
// of each byte that arrives is given back (lwIP's tcp_recved) once, when it
// arrives if no more than the advance the caller allows is then unread,
// else when it is read. So a reader a little behind does not shrink the
// window the sender sees, and one that stops closes it after window +
// advance bytes. The caller may lower the advance at any time (when its
// buffers run short); window already given back stays given. Pure
// arithmetic, host-tested (tests/host/net_test.cpp, ReceiveWindow).
#pragma once

#include <cstdint>

namespace capos::net {

class ReceiveWindow {
public:
    // `bytes` arrived (not read yet), with up to `advance` unread bytes'
    // window given back: how much window to give back now.
    uint32_t arrived(uint32_t bytes, uint32_t advance) {
        m_unread += bytes;
        return settle(0, advance);
    }
    // `bytes` of the unread ones were read: how much window to give back now.
    uint32_t read(uint32_t bytes, uint32_t advance) {
        m_unread -= bytes;
        return settle(bytes, advance);
    }

    uint32_t unread() const { return m_unread; }
    // Of the unread bytes, those whose window was given back already.
    uint32_t advanced() const { return m_advanced; }

private:
    // The window of `read` bytes just read that was not given back yet, and
    // of unread ones up to the advance. What was given back stays given: the
    // advanced bytes fall by at most the bytes read (so no more are unread
    // than advanced, and the credit is never negative).
    uint32_t settle(uint32_t read, uint32_t advance) {
        uint32_t wanted = m_unread < advance ? m_unread : advance;
        uint32_t kept = m_advanced - (read < m_advanced ? read : m_advanced);
        uint32_t advanced = wanted > kept ? wanted : kept;
        uint32_t credit = read + advanced - m_advanced;
        m_advanced = advanced;
        return credit;
    }

    uint32_t m_unread = 0;
    uint32_t m_advanced = 0;
};

} // namespace capos::net
