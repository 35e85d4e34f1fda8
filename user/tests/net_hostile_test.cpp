// The network stack on a hostile wire (scenario.net_hostile): the NIC's
// only peer is tests/net/wire_peer.py, which serves DHCP after 35
// malformed offers, then sends an ARP storm, an ICMP echo flood, malformed
// ICMP, and TCP SYNs with malformed options to port 7, where this test
// listens, and one good SYN; then a UDP datagram "done" to port 9.
//
// Checked: the stack is bound by the good offer (10.0.3.15/24, gateway and
// DNS 10.0.3.2); after it all it still serves: the "done" datagram comes,
// an echo request to the peer is answered, and the interface counts what
// it dropped.
//
// With the argument "renew" (scenario.net_dhcp_renew) the peer is not
// hostile: it leases the address with a renewal time of 30 s and says
// "done" once the stack
// has renewed the lease; the address and DHCP's bound state are checked
// after it.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/net.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using capos::test::taken;
using schema::Icmp;
using schema::NetworkManager;
using schema::TcpListenAuthority;
using schema::TcpListener;
using schema::UdpSocket;

namespace {

test::Suite suite("net-hostile");

constexpr uint8_t our_ip[4] = {10, 0, 3, 15};
constexpr uint8_t peer_ip[4] = {10, 0, 3, 2};

bool same(std::span<const uint8_t> data, std::span<const uint8_t> expected) {
    return data.size() == expected.size() &&
           __builtin_memcmp(data.data(), expected.data(), data.size()) == 0;
}

} // namespace

int main() {
    auto net = rt::lookup<NetworkManager>("net");
    if (!suite.check("the CapSet has 'net'", net.is_ok()))
        return suite.finish();
    auto configured = net.value()->wait_configured(60000);
    suite.check("the interface is configured despite the malformed offers",
                configured.is_ok() && configured.value().configured());
    auto listed = net.value()->interfaces();
    bool bound = listed.is_ok() && listed.value().interfaces().size() == 1 &&
                 same(listed.value().interfaces()[0].ipv4(), our_ip) &&
                 listed.value().interfaces()[0].ipv4_prefix_length() == 24 &&
                 same(listed.value().interfaces()[0].ipv4_gateway(), peer_ip);
    suite.check("by the good offer: 10.0.3.15/24, gateway 10.0.3.2", bound);

    auto made = net.value()->tcp_listen_authority(7, 7);
    abi::CapId authority_id = taken(made, [](auto reply) { return reply.authority(); });
    suite.check_ok("tcpListenAuthority(7, 7)", made);
    rt::Capability<TcpListenAuthority> authority(authority_id);
    auto listening = authority->listen(7, 0);
    abi::CapId listener_id = taken(listening, [](auto reply) { return reply.listener(); });
    suite.check_ok("listen on port 7", listening);
    rt::Capability<TcpListener> listener(listener_id);
    auto udp_made = net.value()->udp_bind(9);
    abi::CapId udp_id = taken(udp_made, [](auto reply) { return reply.socket(); });
    if (!suite.check_ok("udpBind(9)", udp_made))
        return suite.finish();
    rt::Capability<UdpSocket> udp(udp_id);

    auto done = udp->receive();
    suite.check("after the storm, the flood and the bad segments, the peer's \"done\" comes",
                done.is_ok() && same(done.value().address(), peer_ip) &&
                    done.value().data().size() == 4 &&
                    __builtin_memcmp(done.value().data().data(), "done", 4) == 0);
    auto icmp_made = net.value()->icmp();
    if (suite.check_ok("icmp", icmp_made)) {
        rt::Capability<Icmp> icmp(abi::CapId{icmp_made.value().icmp()});
        auto answered = icmp->echo({peer_ip, 4}, 1, 56, 10000);
        suite.check("the peer answers an echo request",
                    answered.is_ok() && answered.value().answered());
    }
    auto args = rt::arguments();
    if (args.count() == 1 && args[0] == std::string_view("renew")) {
        auto renewed = net.value()->interfaces();
        suite.check("after the renewal the address is 10.0.3.15 still, DHCP bound",
                    renewed.is_ok() && renewed.value().interfaces().size() == 1 &&
                        same(renewed.value().interfaces()[0].ipv4(), our_ip) &&
                        renewed.value().interfaces()[0].dhcp() == schema::DhcpState::Bound);
        return suite.finish();
    }
    auto after = net.value()->interfaces();
    uint64_t dropped = after.is_ok() && after.value().interfaces().size() == 1
                           ? after.value().interfaces()[0].dropped()
                           : 0;
    uint64_t received = after.is_ok() && after.value().interfaces().size() == 1
                            ? after.value().interfaces()[0].frames_received()
                            : 0;
    suite.check("the frames came, and what was bad was dropped and counted",
                received > 5000 && dropped > 0,
                Line("received ").udec(received).add(", dropped ").udec(dropped));
    return suite.finish();
}
