// udp-ping <address> <port> [count]: sends <count> (default 4, at most
// 1000) datagrams of 64 to 1,064 bytes, each carrying its sequence number,
// from the UdpSocket it is granted as "socket" to <port> at an IPv4 or IPv6
// address, and waits up to 2 s (its "timer") for each to come back
// unchanged from there (a UDP echo server). Prints a line per answer and
// how many were answered; exits 0 when all were, 1 when any was not (or
// without its grants), 2 for bad arguments.
#include "lib/base/decimal.h"
#include "lib/net/address.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace abi = capos::abi;
namespace net = capos::net;
namespace rt = capos::rt;
using capos::schema::Timer;
using capos::schema::UdpSocket;

namespace {

constexpr uint64_t timeout_ns = 2'000'000'000;
constexpr uint64_t max_count = 1000;

uint64_t now_ns(rt::Capability<Timer>& timer) {
    auto now = timer->now();
    return now.is_ok() ? now.value().ns() : 0;
}

// Datagram `sequence`: its number (4 bytes) then a pattern of it.
size_t fill(uint32_t sequence, uint8_t* out) {
    size_t length = 64 + (sequence * 37) % 1001;
    for (size_t i = 0; i < length; ++i)
        out[i] = uint8_t(i < 4 ? sequence >> (8 * i) : sequence * 7 + i);
    return length;
}

} // namespace

int main() {
    auto args = rt::arguments();
    std::optional<net::IpAddress> address;
    uint64_t port = 0;
    uint64_t count = 4;
    if (args.count() >= 2 && args.count() <= 3)
        address = net::parse_ip(args[0]);
    if (!address || !capos::parse_decimal(args[1], 1, 65535, port) ||
        (args.count() == 3 && !capos::parse_decimal(args[2], 1, max_count, count))) {
        rt::write_error_line("usage: udp-ping <IPv4 or IPv6 address> <port> [count: 1 to 1000]");
        return 2;
    }
    auto socket = rt::lookup<UdpSocket>("socket");
    auto timer = rt::lookup<Timer>("timer");
    if (socket.is_error() || timer.is_error()) {
        rt::write_error_line("udp-ping: needs 'socket' (UdpSocket: call @net.udpBind(port = 0) "
                             "-> @udp) and 'timer'");
        return 1;
    }
    char text[net::ipv6_text_bytes];
    std::string_view name = net::format_ip(address->view(), text);
    static uint8_t datagram[2048];
    static rt::AsyncCall<UdpSocket::max_datagram + 512> receive;
    rt::AsyncCall<256> sleep;
    uint64_t answered = 0;
    for (uint32_t sequence = 1; sequence <= count; ++sequence) {
        size_t length = fill(sequence, datagram);
        auto sent = socket.value()->send_to(address->view(), uint16_t(port), {datagram, length});
        if (sent.is_error()) {
            rt::write_error_line(Line("udp-ping: ").add(rt::call_error_text(sent.error())).view());
            return 1;
        }
        uint64_t started = now_ns(timer.value());
        uint64_t deadline = started + timeout_ns;
        bool matched = false;
        while (!matched) {
            // One sleep in flight at most, to this datagram's deadline; one
            // that ends earlier (armed for an earlier datagram) is armed again.
            if (!sleep.in_flight()) {
                uint64_t now = now_ns(timer.value());
                if (now >= deadline)
                    break;
                (void)sleep.start<Timer::SleepParams>(
                    timer.value().id().raw, Timer::interface_id, uint16_t(Timer::Method::Sleep),
                    [&](Timer::SleepParams::Builder params) { params.set_ns(deadline - now); });
            }
            if (!receive.in_flight())
                (void)receive.start<UdpSocket::ReceiveParams>(
                    socket.value().id().raw, UdpSocket::interface_id,
                    uint16_t(UdpSocket::Method::Receive), [](UdpSocket::ReceiveParams::Builder) {});
            uint64_t tickets[2] = {receive.ticket(), sleep.ticket()};
            size_t which = 0;
            abi::Cqe cqe = rt::ring().wait_any(tickets, which);
            if (which == 1) {
                (void)sleep.finish<Timer::SleepResults>(cqe);
                continue;
            }
            auto reply = receive.finish<UdpSocket::ReceiveResults>(cqe);
            if (reply.is_error()) {
                rt::write_error_line(
                    Line("udp-ping: ").add(rt::call_error_text(reply.error())).view());
                return 1;
            }
            auto data = reply.value().data();
            matched = data.size() == length && __builtin_memcmp(data.data(), datagram, length) == 0;
        }
        if (!matched) {
            rt::write_output_line(
                Line("no answer from ").add(name).add(": seq=").udec(sequence).view());
            continue;
        }
        ++answered;
        uint64_t us = (now_ns(timer.value()) - started) / 1000;
        rt::write_output_line(Line()
                                  .udec(length)
                                  .add(" bytes from ")
                                  .add(name)
                                  .add(": seq=")
                                  .udec(sequence)
                                  .add(" time=")
                                  .udec(us)
                                  .add(" us")
                                  .view());
    }
    rt::write_output_line(Line().udec(count).add(" sent, ").udec(answered).add(" answered").view());
    return answered == count ? 0 : 1;
}
