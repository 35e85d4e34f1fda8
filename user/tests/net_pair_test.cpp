// Two capOS machines on one Ethernet link, IPv6 only (scenario.net_pair):
// QEMU joins their NICs with -netdev socket; there is no router and no
// DHCP server, so each stack has its link-local address only (from its
// MAC). The same program plays both ends, by its arguments:
//   serve                 listens on port 7 and echoes one connection
//   connect <address>     pings the other end, then sends it 100,000
//                         bytes over TCP and checks the echo
// Each waits for its link-local address to be valid (duplicate address
// detection) first, and the client tries the other end again until it
// answers (it may boot later).
#include "lib/net/address.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/net.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using capos::test::read_some;
using capos::test::taken;
using schema::Icmp;
using schema::NetworkManager;
using schema::TcpConnector;
using schema::TcpListenAuthority;
using schema::TcpListener;
using schema::TcpSocket;
using schema::Timer;

namespace {

test::Suite suite("net-pair");

constexpr uint16_t port = 7;
constexpr uint64_t bytes = 100'000;
constexpr int attempts = 60; // a try each 500 ms: 30 s

uint8_t pattern(uint64_t at) {
    return uint8_t(at * 29 + (at >> 8));
}

// Whether the interface's link-local address is valid, looked for every
// 100 ms for 20 s.
bool wait_link_local(rt::Capability<NetworkManager>& net, rt::Capability<Timer>& timer) {
    for (int i = 0; i < 200; ++i) {
        auto listed = net->interfaces();
        if (listed.is_ok() && listed.value().interfaces().size() == 1) {
            auto v6 = listed.value().interfaces()[0].ipv6();
            for (uint32_t a = 0; a < v6.size(); ++a)
                if (v6[a].size() == 16 && v6[a][0] == 0xfe && v6[a][1] == 0x80)
                    return true;
        }
        if (timer->sleep(100'000'000).is_error())
            return false;
    }
    return false;
}

int serve(rt::Capability<NetworkManager>& net) {
    auto made = net->tcp_listen_authority(port, port);
    abi::CapId authority_id = taken(made, [](auto reply) { return reply.authority(); });
    suite.check_ok("tcpListenAuthority(7, 7)", made);
    rt::Capability<TcpListenAuthority> authority(authority_id);
    auto listening = authority->listen(port, 0);
    abi::CapId listener_id = taken(listening, [](auto reply) { return reply.listener(); });
    if (!suite.check_ok("listen on port 7", listening))
        return suite.finish();
    rt::Capability<TcpListener> listener(listener_id);
    auto accepted = listener->accept();
    abi::CapId socket_id = taken(accepted, [](auto reply) { return reply.socket(); });
    if (!suite.check_ok("accept the other machine's connection", accepted))
        return suite.finish();
    rt::Capability<TcpSocket> socket(socket_id);
    suite.check("it comes over IPv6", accepted.value().address().size() == 16);
    uint64_t total = 0;
    bool ok = capos::test::echo_to_end(suite, socket, pattern, total);
    suite.check("the other machine's 100,000 bytes are echoed", ok && total == bytes,
                Line("bytes ").udec(total));
    suite.check_ok("shutdown", socket->shutdown());
    return suite.finish();
}

int connect(rt::Capability<NetworkManager>& net, rt::Capability<Timer>& timer,
            const net::IpAddress& other) {
    auto icmp_made = net->icmp();
    if (!suite.check_ok("icmp", icmp_made))
        return suite.finish();
    rt::Capability<Icmp> icmp(abi::CapId{icmp_made.value().icmp()});
    bool answered = false;
    for (int i = 0; i < attempts && !answered; ++i) {
        auto echo = icmp->echo(other.view(), uint16_t(i), 56, 500);
        answered = echo.is_ok() && echo.value().answered();
    }
    suite.check("the other machine answers an ICMPv6 echo on the link", answered);
    auto connector_made = net->tcp_connector();
    abi::CapId connector_id = taken(connector_made, [](auto reply) { return reply.connector(); });
    if (!suite.check_ok("tcpConnector", connector_made))
        return suite.finish();
    rt::Capability<TcpConnector> connector(connector_id);
    abi::CapId socket_id{};
    for (int i = 0; i < attempts && socket_id.raw == 0; ++i) {
        auto connected = connector->connect(other.view(), port, 5000);
        socket_id = taken(connected, [](auto reply) { return reply.socket(); });
        if (socket_id.raw == 0 && timer->sleep(500'000'000).is_error())
            break;
    }
    if (!suite.check("a TCP connection to its port 7 opens", socket_id.raw != 0))
        return suite.finish();
    rt::Capability<TcpSocket> socket(socket_id);
    static uint8_t data[bytes];
    for (uint64_t i = 0; i < bytes; ++i)
        data[i] = pattern(i);
    // Written and read in turns (the echo comes back as it is written).
    uint64_t sent = 0;
    uint64_t received = 0;
    bool ok = true;
    while (ok && received < bytes) {
        if (sent < bytes) {
            uint64_t size = bytes - sent < 3072 ? bytes - sent : 3072;
            auto written = socket->write({data + sent, size});
            ok = written.is_ok();
            if (ok)
                sent += written.value().written();
            if (ok && sent == bytes)
                ok = socket->shutdown().is_ok();
        }
        if (!ok || received == sent)
            continue;
        auto read = read_some(socket);
        ok = read.is_ok() && !read.value().data().empty();
        if (!ok)
            break;
        auto got = read.value().data();
        for (size_t i = 0; i < got.size() && ok; ++i)
            ok = got[i] == pattern(received + i);
        received += got.size();
    }
    suite.check("100,000 bytes go and come back unchanged", ok && received == bytes,
                Line("bytes ").udec(received));
    auto end = read_some(socket);
    suite.check("then the other end finishes", end.is_ok() && end.value().data().empty());
    return suite.finish();
}

} // namespace

int main() {
    auto net = rt::lookup<NetworkManager>("net");
    auto timer = rt::lookup<Timer>("timer");
    if (!suite.check("the CapSet has 'net' and 'timer'", net.is_ok() && timer.is_ok()))
        return suite.finish();
    suite.check("the link-local address is valid", wait_link_local(net.value(), timer.value()));
    auto args = rt::arguments();
    if (args.count() == 1 && args[0] == std::string_view("serve"))
        return serve(net.value());
    std::optional<net::IpAddress> other;
    if (args.count() == 2 && args[0] == std::string_view("connect"))
        other = net::parse_ip(args[1]);
    if (!suite.check("the arguments are 'serve' or 'connect <address>'", other.has_value()))
        return suite.finish();
    return connect(net.value(), timer.value(), *other);
}
