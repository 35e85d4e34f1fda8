// udp-echo <count>: sends back each datagram that comes to the UdpSocket it
// is granted as "socket" (NetworkManager's udpBind) to the address and port
// it came from, until <count> have; then prints how many and their bytes
// on its standard output and exits 0. Exits 1 when the socket fails, 2 for
// bad arguments.
#include "lib/base/decimal.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace rt = capos::rt;
using capos::schema::UdpSocket;

int main() {
    auto args = rt::arguments();
    uint64_t count = 0;
    if (args.count() != 1 || !capos::parse_decimal(args[0], 1, 9'999'999, count)) {
        rt::write_error_line("usage: udp-echo <count: 1 to 9999999>");
        return 2;
    }
    auto socket = rt::lookup<UdpSocket>("socket");
    if (socket.is_error()) {
        rt::write_error_line("udp-echo: no 'socket' capability (UdpSocket: call "
                             "@net.udpBind(port = 9) -> @udp, then run udp-echo ... with { "
                             "socket: @udp })");
        return 1;
    }
    auto port = socket.value()->port();
    if (port.is_ok())
        rt::write_output_line(Line("udp-echo: on port ").udec(port.value().port()).view());
    static rt::AsyncCall<UdpSocket::max_datagram + 512> receiver;
    uint64_t bytes = 0;
    for (uint64_t done = 0; done < count; ++done) {
        // (The thread's own transport takes answers of 4 KiB: a datagram of
        // up to maxDatagram has a buffer of its own.)
        (void)receiver.start<UdpSocket::ReceiveParams>(
            socket.value().id().raw, UdpSocket::interface_id, uint16_t(UdpSocket::Method::Receive),
            [](UdpSocket::ReceiveParams::Builder) {});
        auto received =
            receiver.finish<UdpSocket::ReceiveResults>(rt::ring().wait(receiver.ticket()));
        if (received.is_error()) {
            rt::write_error_line(
                Line("udp-echo: ").add(rt::call_error_text(received.error())).view());
            return 1;
        }
        // The answer stays in the receiver's buffer while the send (built
        // in the thread's transport) takes it back.
        auto datagram = received.value();
        bytes += datagram.data().size();
        auto sent = socket.value()->send_to(datagram.address(), datagram.port(), datagram.data());
        if (sent.is_error()) {
            rt::write_error_line(Line("udp-echo: ").add(rt::call_error_text(sent.error())).view());
            return 1;
        }
    }
    rt::write_output_line(
        Line("udp-echo: ").udec(count).add(" datagrams, ").udec(bytes).add(" bytes echoed").view());
    return 0;
}
