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
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::ExceptionType;
using schema::Icmp;
using schema::NetworkManager;

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
    return suite.finish();
}
