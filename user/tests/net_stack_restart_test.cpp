// A network stack that crashes (scenario.net_stack_restart): netstack_faulty
// faults at the 6th call it serves, every process of it, and init starts it
// again once. Its clients' capabilities are facets of the dead process's
// endpoint.
//
// Checked: five calls are served (a UDP socket, a listen authority, and
// calls through both); the sixth, in flight when the stack dies, is
// answered Disconnected, and so is every later call through the old
// capabilities; the supervisor's reconnect hands the new stack's
// NetworkManager, which configures its interface again (the same Nic,
// taken over) and makes a new socket, while the old one stays
// disconnected.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/net.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::taken;
using schema::NetworkManager;
using schema::Supervisor;
using schema::TcpListenAuthority;
using schema::UdpSocket;

namespace {

test::Suite suite("net-stack-restart");

} // namespace

int main() {
    auto net = rt::lookup<NetworkManager>("net");
    auto supervisor = rt::lookup<Supervisor>("supervisor");
    if (!suite.check("the network and the supervisor are granted",
                     net.is_ok() && supervisor.is_ok()))
        return suite.finish();
    // Calls 1 to 5.
    auto configured = net.value()->wait_configured(20000);
    suite.check("the interface has an IPv4 address",
                configured.is_ok() && configured.value().configured());
    auto bound = net.value()->udp_bind(0);
    abi::CapId udp_id = taken(bound, [](auto reply) { return reply.socket(); });
    suite.check_ok("udpBind(0)", bound);
    rt::Capability<UdpSocket> udp(udp_id);
    auto made = net.value()->tcp_listen_authority(7, 7);
    abi::CapId authority_id = taken(made, [](auto reply) { return reply.authority(); });
    suite.check_ok("tcpListenAuthority(7, 7)", made);
    rt::Capability<TcpListenAuthority> authority(authority_id);
    suite.check_ok("the socket's port", udp->port());
    suite.check_ok("the authority's range", authority->range());
    // Call 6: the stack dies holding it.
    suite.check_transport("the call the stack dies in is answered Disconnected",
                          net.value()->interfaces(), abi::TransportError::Disconnected);
    suite.check_transport("the old socket is disconnected", udp->port(),
                          abi::TransportError::Disconnected);
    suite.check_transport("the old authority is disconnected", authority->listen(7, 0),
                          abi::TransportError::Disconnected);
    auto again = supervisor.value()->reconnect("net");
    abi::CapId new_id = taken(again, [](auto reply) { return reply.cap(); });
    if (!suite.check_ok("reconnect hands the new stack's NetworkManager", again))
        return suite.finish();
    rt::Capability<NetworkManager> fresh(new_id);
    auto reconfigured = fresh->wait_configured(20000);
    suite.check("the new stack configures the interface again",
                reconfigured.is_ok() && reconfigured.value().configured());
    auto rebound = fresh->udp_bind(0);
    abi::CapId fresh_udp_id = taken(rebound, [](auto reply) { return reply.socket(); });
    suite.check_ok("the new stack makes a socket", rebound);
    rt::Capability<UdpSocket> fresh_udp(fresh_udp_id);
    suite.check_ok("which answers", fresh_udp->port());
    suite.check_transport("while the old socket stays disconnected", udp->port(),
                          abi::TransportError::Disconnected);
    return suite.finish();
}
