// NetworkManager and Icmp through the network stack (user/services/net/
// netstack.cpp: lwIP over the virtio-net driver's Nic), on QEMU's user
// network as scenario.net_stack attaches it: SLIRP's DHCP server gives
// 10.0.2.15/24 with the gateway 10.0.2.2 and the DNS server 10.0.2.3, and
// its router advertises the prefix fec0::/64; the gateway answers echo
// requests on 10.0.2.2 and fec0::2.
//
// Checked: the interface configures itself (DHCP bound, its address,
// prefix, gateway, DNS server; an IPv6 link-local address from its MAC and
// one from SLAAC); echo requests to the gateway answered on IPv4 and
// IPv6; one to an address nobody holds answered false at its timeout; bad
// echoes refused; the Icmp capability speaks Icmp only.
//
// Sockets: every bad call refused (ports outside an authority, bad
// backlogs, taken ports, bad sizes and addresses, a refused and an
// unanswered connect); then, with a peer on the host
// (tests/net/stalled_peer.py) reaching port 7 through QEMU's hostfwd: the
// peer's first connection sends 1 MiB that this test does not read while
// its second is echoed whole (a reader that stops holds up no one else),
// then the first is read to its end and every byte checked.
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/tests/common/net.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using capos::test::read_some;
using capos::test::taken;
using schema::ExceptionType;
using schema::Icmp;
using schema::NetworkManager;
using schema::TcpConnector;
using schema::TcpListenAuthority;
using schema::TcpListener;
using schema::TcpSocket;
using schema::UdpSocket;

namespace {

test::Suite suite("net");

constexpr uint8_t our_ip[4] = {10, 0, 2, 15};
constexpr uint8_t gateway_ip[4] = {10, 0, 2, 2};
constexpr uint8_t dns_ip[4] = {10, 0, 2, 3};
constexpr uint8_t nobody_ip[4] = {10, 0, 2, 99};
// fe80::5054:ff:fe12:3456 (from the MAC 52:54:00:12:34:56) and SLIRP's
// prefix fec0::/64 with the same interface identifier.
constexpr uint8_t link_local[16] = {0xfe, 0x80, 0, 0,    0,    0,    0,    0,
                                    0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56};
constexpr uint8_t slaac[16] = {0xfe, 0xc0, 0, 0,    0,    0,    0,    0,
                               0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56};
constexpr uint8_t gateway_ip6[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

bool same(std::span<const uint8_t> data, std::span<const uint8_t> expected) {
    return data.size() == expected.size() &&
           __builtin_memcmp(data.data(), expected.data(), data.size()) == 0;
}

template <typename List>
bool holds(const List& list, std::span<const uint8_t> expected) {
    for (uint32_t i = 0; i < list.size(); ++i)
        if (same(list[i], expected))
            return true;
    return false;
}

void check_interface(rt::Capability<NetworkManager>& net) {
    auto configured = net->wait_configured(20000);
    suite.check_ok("waitConfigured", configured);
    suite.check("the interface has an IPv4 address within 20 s",
                configured.is_ok() && configured.value().configured());
    auto listed = net->interfaces();
    if (!suite.check_ok("interfaces", listed))
        return;
    auto interfaces = listed.value().interfaces();
    if (!suite.check("one interface, en0", interfaces.size() == 1 && interfaces[0].name() == "en0"))
        return;
    auto en0 = interfaces[0];
    suite.check("DHCP is bound", en0.dhcp() == schema::DhcpState::Bound);
    suite.check("its address is 10.0.2.15/24",
                same(en0.ipv4(), our_ip) && en0.ipv4_prefix_length() == 24);
    suite.check("its gateway is 10.0.2.2", same(en0.ipv4_gateway(), gateway_ip));
    suite.check("its DNS server is 10.0.2.3", holds(en0.dns_servers(), dns_ip));
    suite.check("the link is up, MTU 1500", en0.link_up() && en0.mtu() == 1500);
    suite.check("frames went both ways", en0.frames_received() > 0 && en0.frames_sent() > 0);
}

void check_ipv6(rt::Capability<NetworkManager>& net, rt::Capability<schema::Timer>& timer) {
    // An address is valid once duplicate address detection has passed (a
    // second or so), and SLAAC's once SLIRP's router has answered the
    // stack's solicitation: looked for every 100 ms, for at most 20 s.
    bool local = false;
    bool global = false;
    for (int attempt = 0; attempt < 200 && !(local && global); ++attempt) {
        auto listed = net->interfaces();
        if (listed.is_error() || listed.value().interfaces().size() != 1)
            break;
        local = holds(listed.value().interfaces()[0].ipv6(), link_local);
        global = holds(listed.value().interfaces()[0].ipv6(), slaac);
        if (!(local && global) && timer->sleep(100'000'000).is_error())
            break;
    }
    suite.check("it has the link-local address fe80::5054:ff:fe12:3456", local);
    suite.check("SLAAC gives fec0::5054:ff:fe12:3456", global);
}

void check_echo(rt::Capability<Icmp>::Client& icmp) {
    auto answered = icmp.echo({gateway_ip, 4}, 1, 56, 5000);
    suite.check_ok("echo 10.0.2.2", answered);
    suite.check("10.0.2.2 answers", answered.is_ok() && answered.value().answered(),
                answered.is_ok() ? Line("ttl ").udec(answered.value().ttl()) : Line());
    auto answered6 = icmp.echo({gateway_ip6, 16}, 2, 56, 5000);
    suite.check_ok("echo fec0::2", answered6);
    suite.check("fec0::2 answers", answered6.is_ok() && answered6.value().answered());
    auto nobody = icmp.echo({nobody_ip, 4}, 3, 56, 500);
    suite.check("an echo to 10.0.2.99, which nobody holds, is answered false at its timeout",
                nobody.is_ok() && !nobody.value().answered());
    uint8_t five[5] = {10, 0, 2, 2, 0};
    suite.check_exception("an address of 5 bytes is invalidArgument",
                          icmp.echo({five, 5}, 4, 56, 500), ExceptionType::InvalidArgument);
    suite.check_exception("a payload past maxPayload is invalidArgument",
                          icmp.echo({gateway_ip, 4}, 5, uint16_t(Icmp::max_payload + 1), 500),
                          ExceptionType::InvalidArgument);
}

constexpr uint16_t peer_port = 7;
// What tests/net/stalled_peer.py sends on each connection.
constexpr uint64_t stalled_bytes = 1 << 20;
constexpr uint64_t echoed_bytes = 200'000;

uint8_t pattern(uint64_t at) {
    return uint8_t(at * 7 + (at >> 10));
}

void check_bad_socket_calls(rt::Capability<NetworkManager>& net) {
    suite.check_exception("an authority for port 0 is invalidArgument",
                          net->tcp_listen_authority(0, 10), ExceptionType::InvalidArgument);
    suite.check_exception("an authority whose first port is past its last is invalidArgument",
                          net->tcp_listen_authority(20, 10), ExceptionType::InvalidArgument);
    auto made = net->tcp_listen_authority(7000, 7001);
    abi::CapId authority_id = taken(made, [](auto reply) { return reply.authority(); });
    if (!suite.check_ok("tcpListenAuthority(7000, 7001)", made))
        return;
    rt::Capability<TcpListenAuthority> authority(authority_id);
    auto range = authority->range();
    suite.check("its range is 7000 to 7001", range.is_ok() && range.value().first_port() == 7000 &&
                                                 range.value().last_port() == 7001);
    suite.check_exception("listening on 7002 is permissionDenied", authority->listen(7002, 0),
                          ExceptionType::PermissionDenied);
    suite.check_exception("a backlog of 65 is invalidArgument", authority->listen(7000, 65),
                          ExceptionType::InvalidArgument);
    auto listening = authority->listen(7000, 0);
    abi::CapId listener_id = taken(listening, [](auto reply) { return reply.listener(); });
    if (!suite.check_ok("listen on 7000", listening))
        return;
    rt::Capability<TcpListener> listener(listener_id);
    suite.check_exception("listening on 7000 again: the port is taken", authority->listen(7000, 0),
                          ExceptionType::Failed);
    auto port = listener->port();
    suite.check("the listener says port 7000", port.is_ok() && port.value().port() == 7000);
    suite.check_transport(
        "the listener does not speak NetworkManager",
        NetworkManager::Client<rt::RingTransport>(rt::transport(), listener.id().raw).interfaces(),
        abi::TransportError::WrongInterface);

    auto connector_made = net->tcp_connector();
    abi::CapId connector_id = taken(connector_made, [](auto reply) { return reply.connector(); });
    if (!suite.check_ok("tcpConnector", connector_made))
        return;
    rt::Capability<TcpConnector> connector(connector_id);
    uint8_t five[5] = {10, 0, 2, 2, 0};
    suite.check_exception("connecting to an address of 5 bytes is invalidArgument",
                          connector->connect({five, 5}, 80, 1000), ExceptionType::InvalidArgument);
    suite.check_exception("connecting to port 0 is invalidArgument",
                          connector->connect({gateway_ip, 4}, 0, 1000),
                          ExceptionType::InvalidArgument);
    suite.check_exception("connecting to a port nobody listens on is refused (failed)",
                          connector->connect({gateway_ip, 4}, 1, 5000), ExceptionType::Failed);
    suite.check_exception("connecting to 10.0.2.99, which nobody holds, fails at its timeout",
                          connector->connect({nobody_ip, 4}, 80, 500), ExceptionType::Failed);

    auto udp_made = net->udp_bind(5353);
    abi::CapId udp_id = taken(udp_made, [](auto reply) { return reply.socket(); });
    if (!suite.check_ok("udpBind(5353)", udp_made))
        return;
    rt::Capability<UdpSocket> udp(udp_id);
    suite.check_exception("binding 5353 again: the port is taken", net->udp_bind(5353),
                          ExceptionType::Failed);
    auto any = net->udp_bind(0);
    abi::CapId picked_id = taken(any, [](auto reply) { return reply.socket(); });
    if (suite.check_ok("udpBind(0) picks a port", any)) {
        rt::Capability<UdpSocket> picked(picked_id);
        auto picked_port = picked->port();
        suite.check("the port picked is not 0 or 5353", picked_port.is_ok() &&
                                                            picked_port.value().port() != 0 &&
                                                            picked_port.value().port() != 5353);
    }
    // (Params past the thread's 4 KiB transport: a call of its own.)
    static uint8_t big[UdpSocket::max_datagram + 1];
    static rt::AsyncCall<UdpSocket::max_datagram + 1024> sender;
    (void)sender.start<UdpSocket::SendToParams>(udp.id().raw, UdpSocket::interface_id,
                                                uint16_t(UdpSocket::Method::SendTo),
                                                [](UdpSocket::SendToParams::Builder params) {
                                                    params.set_address({gateway_ip, 4});
                                                    params.set_port(9);
                                                    params.set_data({big, sizeof big});
                                                });
    suite.check_exception("a datagram past maxDatagram is invalidArgument",
                          sender.finish<UdpSocket::SendToResults>(rt::ring().wait(sender.ticket())),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a datagram to port 0 is invalidArgument",
                          udp->send_to({gateway_ip, 4}, 0, {big, 10}),
                          ExceptionType::InvalidArgument);
    suite.check_ok("a datagram to the gateway's port 9 is sent",
                   udp->send_to({gateway_ip, 4}, 9, {big, 100}));
}

// Shares a buffer of maxShared bytes with `socket` (TcpSocket.share) after
// the refusals around it; the buffer as mapped here, or null.
uint8_t* share_buffer(rt::Capability<TcpSocket>& socket, rt::Capability<schema::Timer>& timer) {
    using schema::MemoryObject;
    constexpr uint32_t pages = TcpSocket::max_shared / 4096;
    suite.check_exception("readInto without a shared buffer is invalidArgument",
                          socket->read_into(0, 1), ExceptionType::InvalidArgument);
    suite.check_exception("writeFrom without a shared buffer is invalidArgument",
                          socket->write_from(0, 1), ExceptionType::InvalidArgument);
    auto frames = rt::lookup<schema::FrameAllocator>("frames");
    if (!suite.check("the CapSet has 'frames'", frames.is_ok()))
        return nullptr;
    // (A kernel service's answer names the capability by its id.)
    auto made = frames.value()->allocate(pages, false);
    abi::CapId memory_id{made.is_ok() ? made.value().memory() : 0};
    auto larger = frames.value()->allocate(pages + 1, false);
    abi::CapId larger_id{larger.is_ok() ? larger.value().memory() : 0};
    if (!suite.check_ok("allocate the buffer", made) || !suite.check_ok("and a larger", larger))
        return nullptr;
    rt::Capability<MemoryObject> memory(memory_id);
    rt::Capability<MemoryObject> too_large(larger_id);
    auto share = [&](abi::CapId id) {
        rt::thread_transport().send_with_next_call(id, abi::TransferMode::Copy);
        return socket->share(id.raw);
    };
    suite.check_exception("sharing a Timer is invalidArgument", share(timer.id()),
                          ExceptionType::InvalidArgument);
    suite.check_exception("sharing more than maxShared is invalidArgument", share(too_large.id()),
                          ExceptionType::InvalidArgument);
    if (!suite.check_ok("share maxShared bytes", share(memory.id())))
        return nullptr;
    suite.check_exception("sharing a second buffer is invalidArgument", share(memory.id()),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a readInto of 0 bytes is invalidArgument", socket->read_into(0, 0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a readInto past the buffer's end is invalidArgument",
                          socket->read_into(TcpSocket::max_shared - 1, 2),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a writeFrom past the buffer's end is invalidArgument",
                          socket->write_from(1, TcpSocket::max_shared),
                          ExceptionType::InvalidArgument);
    auto mapped = memory->map(0, 0, pages, schema::Access::ReadWrite);
    if (!suite.check_ok("map the buffer here too", mapped))
        return nullptr;
    return reinterpret_cast<uint8_t*>(mapped.value().address());
}

// Echoes `socket` to the end of its stream through its shared buffer
// (mapped at `shared`): each readInto checked against the pattern, then
// written back by writeFrom; false at a failed call or a differing byte.
bool echo_shared(rt::Capability<TcpSocket>& socket, const uint8_t* shared, uint64_t& total) {
    bool same = true;
    for (;;) {
        auto read = socket->read_into(0, TcpSocket::max_shared);
        if (read.is_error())
            return false;
        uint32_t bytes = read.value().bytes();
        if (bytes == 0)
            return same;
        for (uint32_t i = 0; i < bytes; ++i)
            same = same && shared[i] == pattern(total + i);
        total += bytes;
        for (uint32_t done = 0; done < bytes;) {
            auto written = socket->write_from(done, bytes - done);
            if (written.is_error())
                return false;
            done += written.value().written();
        }
    }
}

// The host peer's two connections to port 7: the first is not read until
// the second has been echoed whole.
void check_stalled_reader(rt::Capability<NetworkManager>& net,
                          rt::Capability<schema::Timer>& timer) {
    auto made = net->tcp_listen_authority(peer_port, peer_port);
    abi::CapId authority_id = taken(made, [](auto reply) { return reply.authority(); });
    if (!suite.check_ok("tcpListenAuthority(7, 7)", made))
        return;
    rt::Capability<TcpListenAuthority> authority(authority_id);
    auto listening = authority->listen(peer_port, 4);
    abi::CapId listener_id = taken(listening, [](auto reply) { return reply.listener(); });
    if (!suite.check_ok("listen on port 7", listening))
        return;
    rt::Capability<TcpListener> listener(listener_id);
    // Each connection's first byte says which it is ('S' or 'E'): the peer
    // opens both at once, and they may come in either order.
    abi::CapId sockets[2] = {};
    uint8_t tags[2] = {};
    for (int i = 0; i < 2; ++i) {
        auto accepted = listener->accept();
        sockets[i] = taken(accepted, [](auto reply) { return reply.socket(); });
        if (!suite.check_ok("accept a connection of the peer's", accepted))
            return;
        suite.check("it comes from 10.0.2.2", same(accepted.value().address(), gateway_ip));
    }
    for (int i = 0; i < 2; ++i) {
        rt::Capability<TcpSocket> socket(sockets[i]);
        auto tag = read_some(socket, 1);
        tags[i] = tag.is_ok() && tag.value().data().size() == 1 ? tag.value().data()[0] : 0;
        socket.leak();
    }
    if (!suite.check("one connection is S, the other E",
                     (tags[0] == 'S' && tags[1] == 'E') || (tags[0] == 'E' && tags[1] == 'S')))
        return;
    rt::Capability<TcpSocket> stalled(sockets[tags[0] == 'S' ? 0 : 1]);
    rt::Capability<TcpSocket> echoed(sockets[tags[0] == 'S' ? 1 : 0]);
    suite.check_exception("a read of 0 bytes is invalidArgument", echoed->read(0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a read past maxIo is invalidArgument",
                          echoed->read(TcpSocket::max_io + 1), ExceptionType::InvalidArgument);
    suite.check_exception("an empty write is invalidArgument", echoed->write({}),
                          ExceptionType::InvalidArgument);
    auto info = echoed->info();
    suite.check("info: 10.0.2.15 port 7 to 10.0.2.2",
                info.is_ok() && same(info.value().local_address(), our_ip) &&
                    info.value().local_port() == peer_port &&
                    same(info.value().remote_address(), gateway_ip));

    // The second is echoed whole, through a shared buffer, while the first's
    // data waits unread.
    uint8_t* shared = share_buffer(echoed, timer);
    uint64_t total = 0;
    static const uint8_t one[1] = {1};
    bool ok = shared != nullptr && echo_shared(echoed, shared, total);
    suite.check("the second connection's 200,000 bytes are echoed through the shared buffer "
                "(readInto, writeFrom) while the first waits unread",
                ok && total == echoed_bytes, Line("bytes ").udec(total));
    suite.check_ok("shutdown", echoed->shutdown());
    auto after = echoed->write(one);
    suite.check_exception("a write after shutdown fails", after, ExceptionType::Failed);

    // Now the first, to its end.
    ok = test::read_to_end(suite, stalled, pattern, total);
    suite.check("then the first connection's 1 MiB is read whole and unchanged",
                ok && total == stalled_bytes, Line("bytes ").udec(total));
    auto end = read_some(stalled, 100);
    suite.check("a read after the end is the end again", end.is_ok() && end.value().data().empty());
}

} // namespace

int main() {
    auto net = rt::lookup<NetworkManager>("net");
    if (!suite.check("the CapSet has 'net'", net.is_ok()))
        return suite.finish();
    auto timer = rt::lookup<schema::Timer>("timer");
    if (!suite.check("the CapSet has 'timer'", timer.is_ok()))
        return suite.finish();
    check_interface(net.value());
    check_ipv6(net.value(), timer.value());
    auto made = net.value()->icmp();
    if (!suite.check_ok("icmp", made))
        return suite.finish();
    rt::Capability<Icmp> icmp(abi::CapId{made.value().icmp()});
    check_echo(icmp.client());
    suite.check_transport(
        "the Icmp capability does not speak NetworkManager",
        NetworkManager::Client<rt::RingTransport>(rt::transport(), icmp.id().raw).interfaces(),
        abi::TransportError::WrongInterface);
    check_bad_socket_calls(net.value());
    check_stalled_reader(net.value(), timer.value());
    return suite.finish();
}
