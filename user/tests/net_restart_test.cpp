// A NIC driver that crashes under a network stack's traffic
// (scenario.net_restart): virtio_net_faulty faults at its 150th frame sent,
// every process of it, and init starts it again each time; the stack
// (holding a supervisor) binds to each new driver with lwIP's state kept.
//
// Checked: a TCP connection from a peer on the host
// (tests/net/steady_peer.py, through QEMU's hostfwd to port 7) that sends
// 500 messages of 512 bytes one at a time, each echoed here, lives through
// the crashes: every byte comes back in order (TCP sends again what was
// lost with each driver). The peer's first connection sends 16,000 bytes
// before the echo starts, read here only after it ends: the stack holds
// them through every crash (lent frames of the first driver's frame
// memory), and they are read whole. Then the gateway answers an echo
// request through the last driver, and the interface has counted frames
// both ways.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/net.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::echo_to_end;
using capos::test::Line;
using capos::test::taken;
using schema::Icmp;
using schema::NetworkManager;
using schema::TcpListenAuthority;
using schema::TcpListener;
using schema::TcpSocket;

namespace {

test::Suite suite("net-restart");

constexpr uint16_t port = 7;
constexpr uint64_t expected_bytes = 500 * 512;
constexpr uint64_t parked_bytes = 16000;
constexpr uint64_t parked_start = uint64_t(1) << 20; // steady_peer.py's PARKED_START
constexpr uint8_t gateway_ip[4] = {10, 0, 2, 2};

// Each byte the peer sends: its offset in the stream, mixed.
uint8_t pattern(uint64_t at) {
    return uint8_t(at * 13 + (at >> 9));
}

} // namespace

int main() {
    auto net = rt::lookup<NetworkManager>("net");
    if (!suite.check("the CapSet has 'net'", net.is_ok()))
        return suite.finish();
    auto configured = net.value()->wait_configured(20000);
    suite.check("the interface has an IPv4 address within 20 s",
                configured.is_ok() && configured.value().configured());
    auto made = net.value()->tcp_listen_authority(port, port);
    abi::CapId authority_id = taken(made, [](auto reply) { return reply.authority(); });
    if (!suite.check_ok("tcpListenAuthority(7, 7)", made))
        return suite.finish();
    rt::Capability<TcpListenAuthority> authority(authority_id);
    auto listening = authority->listen(port, 0);
    abi::CapId listener_id = taken(listening, [](auto reply) { return reply.listener(); });
    if (!suite.check_ok("listen on port 7", listening))
        return suite.finish();
    rt::Capability<TcpListener> listener(listener_id);
    auto first = listener->accept();
    abi::CapId first_id = taken(first, [](auto reply) { return reply.socket(); });
    if (!suite.check_ok("accept the peer's first connection", first))
        return suite.finish();
    rt::Capability<TcpSocket> parked(first_id);
    auto accepted = listener->accept();
    abi::CapId socket_id = taken(accepted, [](auto reply) { return reply.socket(); });
    if (!suite.check_ok("accept the peer's connection", accepted))
        return suite.finish();
    rt::Capability<TcpSocket> socket(socket_id);

    uint64_t total = 0;
    bool ok = echo_to_end(suite, socket, pattern, total);
    suite.check("the peer's 256,000 bytes are echoed in order through the crashes",
                ok && total == expected_bytes, Line("bytes ").udec(total));
    suite.check_ok("shutdown", socket->shutdown());

    uint64_t read = 0;
    bool same = test::read_to_end(
        suite, parked, [](uint64_t at) { return pattern(parked_start + at); }, read);
    suite.check("the first connection's 16,000 bytes, held through the crashes, are read whole",
                same && read == parked_bytes, Line("bytes ").udec(read));
    suite.check_ok("shutdown the first connection", parked->shutdown());

    auto icmp_made = net.value()->icmp();
    if (suite.check_ok("icmp", icmp_made)) {
        rt::Capability<Icmp> icmp(abi::CapId{icmp_made.value().icmp()});
        auto answered = icmp->echo({gateway_ip, 4}, 1, 56, 5000);
        suite.check("10.0.2.2 answers an echo through the last driver",
                    answered.is_ok() && answered.value().answered());
    }
    auto listed = net.value()->interfaces();
    suite.check("frames went both ways", listed.is_ok() &&
                                             listed.value().interfaces().size() == 1 &&
                                             listed.value().interfaces()[0].frames_sent() > 150);
    return suite.finish();
}
