// lwIP as capOS builds it (lib/net/lwip: Debian's sources, capOS's options),
// driven only through Ethernet frames: frames built by tests/host/net_frames.h
// go in through netif->input, and what lwIP sends is read back byte by byte
// and its checksums recomputed here. An executable of its own: lwIP's state
// is global and lwip_init runs once a process, so each test adds its netif
// and its pcbs and removes them again.
#include "lib/net/lwip/host_hooks.h"
#include "tests/host/lwip_netif.h"
#include "tests/host/net_frames.h"

#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

using namespace capos::net::testing;

// The embedder's side (lib/net/lwip/host_hooks.h): a clock the tests move.
using capos::net::lwip_host::now_ms;

namespace {

constexpr Mac our_mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac peer_mac = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr Mac broadcast_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Ip4 our_ip = {10, 0, 2, 15};
constexpr Ip4 peer_ip = {10, 0, 2, 2};
constexpr Ip4 netmask = {255, 255, 255, 0};
constexpr Ip4 no_ip = {0, 0, 0, 0};
constexpr Ip4 limited_broadcast = {255, 255, 255, 255};

class LwipEnvironment : public ::testing::Environment {
public:
    void SetUp() override { lwip_init(); }
};

const auto* const environment = ::testing::AddGlobalTestEnvironment(new LwipEnvironment);

// Moves the clock on in steps of 100 ms, running lwIP's timers at each.
void advance(uint32_t milliseconds) {
    for (uint32_t passed = 0; passed < milliseconds; passed += 100) {
        now_ms += 100;
        sys_check_timeouts();
    }
}

std::span<const uint8_t> ethernet_payload(const Bytes& frame) {
    return std::span<const uint8_t>(frame).subspan(ethernet_header);
}

uint16_t ethertype(const Bytes& frame) {
    return get16(frame, 12);
}

Mac destination_mac(const Bytes& frame) {
    Mac mac;
    std::copy_n(frame.begin(), 6, mac.begin());
    return mac;
}

Mac source_mac(const Bytes& frame) {
    Mac mac;
    std::copy_n(frame.begin() + 6, 6, mac.begin());
    return mac;
}

// The IPv4 packet's transport payload (after its header), its length taken
// from the header.
std::span<const uint8_t> ipv4_payload(std::span<const uint8_t> packet) {
    size_t header = static_cast<size_t>(packet[0] & 0x0f) * 4;
    return packet.subspan(header, get16(packet, 2) - header);
}

template <size_t N>
std::array<uint8_t, N> bytes_at(std::span<const uint8_t> bytes, size_t at) {
    std::array<uint8_t, N> out;
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(at), N, out.begin());
    return out;
}

// A netif added for one test and removed after it, with the frames it sent.
class LwipTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (m_added) {
            dhcp_cleanup(&m_nif.netif);
            netif_remove(&m_nif.netif);
        }
        // Nothing a test did may stay in the receive pool or the heap.
        EXPECT_EQ(lwip_stats.memp[MEMP_PBUF_POOL]->used, 0);
    }

    void add_netif(const Ip4& address, const Ip4& mask, const Ip4& gateway) {
        add_captured_netif(m_nif, our_mac, address, mask, gateway);
        m_added = true;
    }

    void add_static_netif() { add_netif(our_ip, netmask, peer_ip); }

    void deliver(const Bytes& frame) { ASSERT_TRUE(deliver_frame(m_nif.netif, frame)); }

    // Frames sent since the last call, of one Ethernet type.
    std::vector<Bytes> take_sent(uint16_t type) {
        std::vector<Bytes> matching;
        for (auto& frame : m_nif.sent) {
            if (frame.size() >= ethernet_header && ethertype(frame) == type)
                matching.push_back(frame);
        }
        m_nif.sent.clear();
        return matching;
    }

    // The peer asks for our MAC, which also puts its own into lwIP's ARP
    // table (a request for our address is trusted: RFC 826's merge).
    void introduce_peer() {
        deliver(ethernet(broadcast_mac, peer_mac, ethertype_arp,
                         arp(1, peer_mac, peer_ip, Mac{}, our_ip)));
    }

    // The single IPv4 packet of `protocol` sent to the peer since the last
    // take, with its header checked.
    Bytes sent_ipv4_packet(uint8_t protocol) {
        auto frames = take_sent(ethertype_ipv4);
        std::optional<Bytes> found;
        for (auto& frame : frames) {
            auto packet = ethernet_payload(frame);
            if (packet.size() >= 20 && packet[9] == protocol) {
                EXPECT_FALSE(found.has_value()) << "more than one packet";
                EXPECT_EQ(destination_mac(frame), peer_mac);
                EXPECT_EQ(source_mac(frame), our_mac);
                found = Bytes(packet.begin(), packet.end());
            }
        }
        if (!found)
            return {};
        EXPECT_TRUE(ipv4_header_valid(*found));
        EXPECT_EQ((bytes_at<4>(*found, 12)), our_ip);
        EXPECT_EQ((bytes_at<4>(*found, 16)), peer_ip);
        return *found;
    }

    CapturedNetif m_nif;
    bool m_added = false;
};

TEST_F(LwipTest, ArpRequestForOurAddressGetsReplyWithOurMac) {
    add_static_netif();
    take_sent(ethertype_arp); // the gratuitous ARP of bringing the netif up
    introduce_peer();
    auto replies = take_sent(ethertype_arp);
    ASSERT_EQ(replies.size(), 1u);
    const Bytes& reply = replies[0];
    EXPECT_EQ(destination_mac(reply), peer_mac);
    EXPECT_EQ(source_mac(reply), our_mac);
    auto body = ethernet_payload(reply);
    ASSERT_GE(body.size(), 28u);
    EXPECT_EQ(get16(body, 0), 1);              // Ethernet
    EXPECT_EQ(get16(body, 2), ethertype_ipv4); // IPv4
    EXPECT_EQ(get16(body, 6), 2);              // reply
    EXPECT_EQ((bytes_at<6>(body, 8)), our_mac);
    EXPECT_EQ((bytes_at<4>(body, 14)), our_ip);
    EXPECT_EQ((bytes_at<6>(body, 18)), peer_mac);
    EXPECT_EQ((bytes_at<4>(body, 24)), peer_ip);
}

TEST_F(LwipTest, ArpRequestForAnotherAddressIsIgnored) {
    add_static_netif();
    take_sent(ethertype_arp);
    deliver(ethernet(broadcast_mac, peer_mac, ethertype_arp,
                     arp(1, peer_mac, peer_ip, Mac{}, Ip4{10, 0, 2, 16})));
    EXPECT_TRUE(take_sent(ethertype_arp).empty());
}

TEST_F(LwipTest, IcmpEchoRequestGetsIdenticalReply) {
    add_static_netif();
    introduce_peer();
    take_sent(ethertype_arp);
    Bytes data(56);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(i * 7 + 3);
    deliver(ethernet(our_mac, peer_mac, ethertype_ipv4,
                     ipv4(peer_ip, our_ip, protocol_icmp, icmp4_echo(8, 0x1234, 7, data))));
    Bytes reply = sent_ipv4_packet(protocol_icmp);
    ASSERT_FALSE(reply.empty());
    auto icmp = ipv4_payload(reply);
    ASSERT_EQ(icmp.size(), 8 + data.size());
    EXPECT_EQ(icmp[0], 0); // echo reply
    EXPECT_EQ(icmp[1], 0);
    EXPECT_EQ(get16(icmp, 4), 0x1234);
    EXPECT_EQ(get16(icmp, 6), 7);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), icmp.begin() + 8));
    EXPECT_EQ(checksum(add_words(0, icmp)), 0) << "ICMP checksum";
}

TEST_F(LwipTest, IcmpEchoRequestWithBadChecksumIsDroppedAndCounted) {
    add_static_netif();
    introduce_peer();
    take_sent(ethertype_arp);
    auto before = lwip_stats.icmp.chkerr;
    Bytes message = icmp4_echo(8, 1, 1, Bytes(8, 0xaa));
    message[2] ^= 0x01;
    deliver(
        ethernet(our_mac, peer_mac, ethertype_ipv4, ipv4(peer_ip, our_ip, protocol_icmp, message)));
    EXPECT_TRUE(take_sent(ethertype_ipv4).empty());
    EXPECT_EQ(lwip_stats.icmp.chkerr, before + 1);
}

TEST_F(LwipTest, TcpSynToListenerGetsSynAckAndToClosedPortGetsRst) {
    add_static_netif();
    introduce_peer();
    take_sent(ethertype_arp);
    struct tcp_pcb* listener = tcp_new_ip_type(IPADDR_TYPE_ANY);
    ASSERT_NE(listener, nullptr);
    ASSERT_EQ(tcp_bind(listener, IP_ANY_TYPE, 7777), ERR_OK);
    listener = tcp_listen(listener);
    ASSERT_NE(listener, nullptr);

    TcpSegment syn{
        .source_port = 40000, .destination_port = 7777, .sequence = 1000, .flags = tcp_flag_syn};
    deliver(ethernet(our_mac, peer_mac, ethertype_ipv4,
                     ipv4(peer_ip, our_ip, protocol_tcp, tcp4(peer_ip, our_ip, syn))));
    Bytes syn_ack = sent_ipv4_packet(protocol_tcp);
    ASSERT_FALSE(syn_ack.empty());
    EXPECT_TRUE(transport4_checksum_valid(syn_ack));
    auto segment = ipv4_payload(syn_ack);
    EXPECT_EQ(get16(segment, 0), 7777);
    EXPECT_EQ(get16(segment, 2), 40000);
    EXPECT_EQ(get32(segment, 8), 1001u); // acknowledges the SYN
    EXPECT_EQ(segment[13] & (tcp_flag_syn | tcp_flag_ack | tcp_flag_rst | tcp_flag_fin),
              tcp_flag_syn | tcp_flag_ack);

    TcpSegment closed{
        .source_port = 40001, .destination_port = 7778, .sequence = 5000, .flags = tcp_flag_syn};
    deliver(ethernet(our_mac, peer_mac, ethertype_ipv4,
                     ipv4(peer_ip, our_ip, protocol_tcp, tcp4(peer_ip, our_ip, closed))));
    Bytes rst = sent_ipv4_packet(protocol_tcp);
    ASSERT_FALSE(rst.empty());
    EXPECT_TRUE(transport4_checksum_valid(rst));
    segment = ipv4_payload(rst);
    EXPECT_EQ(get16(segment, 0), 7778);
    EXPECT_EQ(get16(segment, 2), 40001);
    EXPECT_TRUE(segment[13] & tcp_flag_rst);
    EXPECT_EQ(get32(segment, 8), 5001u);

    // The half-open connection, then the listener.
    while (tcp_active_pcbs != nullptr)
        tcp_abort(tcp_active_pcbs);
    EXPECT_EQ(tcp_close(listener), ERR_OK);
}

TEST_F(LwipTest, UdpDatagramIsDeliveredToBoundPcbWithItsPayload) {
    add_static_netif();
    struct Received {
        Bytes payload;
        ip_addr_t from = {};
        u16_t port = 0;
        int count = 0;
    } received;
    struct udp_pcb* pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    ASSERT_NE(pcb, nullptr);
    ASSERT_EQ(udp_bind(pcb, IP_ANY_TYPE, 9999), ERR_OK);
    udp_recv(
        pcb,
        [](void* argument, struct udp_pcb*, struct pbuf* datagram, const ip_addr_t* from,
           u16_t port) {
            auto* into = static_cast<Received*>(argument);
            into->payload.resize(datagram->tot_len);
            pbuf_copy_partial(datagram, into->payload.data(), datagram->tot_len, 0);
            into->from = *from;
            into->port = port;
            ++into->count;
            pbuf_free(datagram);
        },
        &received);
    Bytes payload = {'h', 'e', 'l', 'l', 'o', ',', ' ', 'l', 'w', 'I', 'P'};
    deliver(
        ethernet(our_mac, peer_mac, ethertype_ipv4,
                 ipv4(peer_ip, our_ip, protocol_udp, udp4(peer_ip, our_ip, 1234, 9999, payload))));
    // A datagram to another port is not.
    deliver(
        ethernet(our_mac, peer_mac, ethertype_ipv4,
                 ipv4(peer_ip, our_ip, protocol_udp, udp4(peer_ip, our_ip, 1234, 9998, payload))));
    udp_remove(pcb);
    EXPECT_EQ(received.count, 1);
    EXPECT_EQ(received.payload, payload);
    EXPECT_EQ(received.port, 1234);
    ip_addr_t peer;
    IP_ADDR4(&peer, peer_ip[0], peer_ip[1], peer_ip[2], peer_ip[3]);
    EXPECT_TRUE(ip_addr_cmp(&received.from, &peer));
}

// A DHCP client message lwIP broadcast: its fields checked, and its
// transaction id and message type (option 53) returned.
struct DhcpClientMessage {
    uint32_t transaction = 0;
    int type = -1;
};

DhcpClientMessage read_dhcp_client_message(const Bytes& frame) {
    DhcpClientMessage read;
    EXPECT_EQ(destination_mac(frame), broadcast_mac);
    EXPECT_EQ(source_mac(frame), our_mac);
    auto packet = ethernet_payload(frame);
    EXPECT_TRUE(ipv4_header_valid(packet));
    EXPECT_EQ(packet[9], protocol_udp);
    EXPECT_EQ((bytes_at<4>(packet, 16)), limited_broadcast);
    auto udp = ipv4_payload(packet);
    EXPECT_EQ(get16(udp, 0), 68);
    EXPECT_EQ(get16(udp, 2), 67);
    EXPECT_EQ(get16(udp, 4), udp.size());
    if (get16(udp, 6) != 0)
        EXPECT_TRUE(transport4_checksum_valid(packet));
    auto bootp = udp.subspan(8);
    if (bootp.size() < 240) {
        ADD_FAILURE() << "short DHCP message";
        return read;
    }
    EXPECT_EQ(bootp[0], 1); // BOOTREQUEST
    EXPECT_EQ((bytes_at<6>(bootp, 28)), our_mac);
    EXPECT_EQ(get32(bootp, 236), 0x63825363u) << "magic cookie";
    read.transaction = get32(bootp, 4);
    // Options: code, length, value; 0 is padding, 255 the end.
    for (size_t at = 240; at < bootp.size() && bootp[at] != 255;) {
        if (bootp[at] == 0) {
            ++at;
            continue;
        }
        if (at + 1 >= bootp.size() || at + 2 + bootp[at + 1] > bootp.size())
            break;
        if (bootp[at] == 53 && bootp[at + 1] == 1)
            read.type = bootp[at + 2];
        at += 2 + bootp[at + 1];
    }
    return read;
}

TEST_F(LwipTest, DhcpDiscoverOfferRequestAckConfiguresTheNetif) {
    add_netif(no_ip, no_ip, no_ip);
    m_nif.sent.clear();
    ASSERT_EQ(dhcp_start(&m_nif.netif), ERR_OK);
    auto discovers = take_sent(ethertype_ipv4);
    ASSERT_EQ(discovers.size(), 1u);
    DhcpClientMessage discover = read_dhcp_client_message(discovers[0]);
    EXPECT_EQ(discover.type, 1); // DHCPDISCOVER

    auto server_frame = [&](uint8_t type, uint32_t transaction) {
        return ethernet(broadcast_mac, peer_mac, ethertype_ipv4,
                        ipv4(peer_ip, limited_broadcast, protocol_udp,
                             udp4(peer_ip, limited_broadcast, 67, 68,
                                  dhcp_reply(type, transaction, our_mac, our_ip, peer_ip))));
    };
    // An offer for another transaction is not taken.
    deliver(server_frame(2, discover.transaction + 1));
    EXPECT_TRUE(take_sent(ethertype_ipv4).empty());

    deliver(server_frame(2, discover.transaction)); // DHCPOFFER
    auto requests = take_sent(ethertype_ipv4);
    ASSERT_EQ(requests.size(), 1u);
    DhcpClientMessage request = read_dhcp_client_message(requests[0]);
    EXPECT_EQ(request.type, 3); // DHCPREQUEST
    EXPECT_FALSE(dhcp_supplied_address(&m_nif.netif));

    deliver(server_frame(5, request.transaction)); // DHCPACK
    // lwIP probes the address with ARP before taking it (DHCP_DOES_ARP_CHECK);
    // nobody answers.
    advance(3000);
    EXPECT_TRUE(dhcp_supplied_address(&m_nif.netif));
    EXPECT_EQ(ip4_addr_get_u32(netif_ip4_addr(&m_nif.netif)), PP_HTONL(LWIP_MAKEU32(10, 0, 2, 15)));
    EXPECT_EQ(ip4_addr_get_u32(netif_ip4_netmask(&m_nif.netif)),
              PP_HTONL(LWIP_MAKEU32(255, 255, 255, 0)));
    EXPECT_EQ(ip4_addr_get_u32(netif_ip4_gw(&m_nif.netif)), PP_HTONL(LWIP_MAKEU32(10, 0, 2, 2)));
    dhcp_stop(&m_nif.netif);
}

class LwipIpv6Test : public LwipTest {
protected:
    // A link-local address from the MAC, through duplicate address detection
    // (one neighbour solicitation nobody answers) to preferred.
    void add_ipv6_netif() {
        add_static_netif();
        netif_create_ip6_linklocal_address(&m_nif.netif, 1);
        advance(3000);
    }

    // The single ICMPv6 message of `type` sent since the last take, with its
    // IPv6 header and checksum checked; the whole IPv6 packet.
    Bytes sent_icmp6(uint8_t type) {
        std::optional<Bytes> found;
        for (auto& frame : take_sent(ethertype_ipv6)) {
            auto packet = ethernet_payload(frame);
            if (packet.size() > ipv6_header && packet[6] == protocol_icmp6 &&
                packet[ipv6_header] == type) {
                EXPECT_FALSE(found.has_value()) << "more than one message";
                EXPECT_EQ(destination_mac(frame), peer_mac);
                EXPECT_EQ(source_mac(frame), our_mac);
                found = Bytes(packet.begin(), packet.end());
            }
        }
        if (!found)
            return {};
        EXPECT_EQ((*found)[0] >> 4, 6);
        EXPECT_TRUE(transport6_checksum_valid(*found)) << "ICMPv6 checksum";
        return *found;
    }

    const Ip6 m_our_ll = link_local(our_mac);
    const Ip6 m_peer_ll = link_local(peer_mac);
};

TEST_F(LwipIpv6Test, LinkLocalAddressComesFromTheMacAndBecomesPreferred) {
    add_ipv6_netif();
    const ip6_addr_t* address = netif_ip6_addr(&m_nif.netif, 0);
    Ip6 bytes;
    std::memcpy(bytes.data(), address->addr, 16);
    EXPECT_EQ(bytes, link_local(our_mac));
    EXPECT_TRUE(ip6_addr_ispreferred(netif_ip6_addr_state(&m_nif.netif, 0)));
}

TEST_F(LwipIpv6Test, NeighbourSolicitationGetsAdvertisementAndEchoGetsReply) {
    add_ipv6_netif();
    m_nif.sent.clear();
    // Neighbour solicitation (RFC 4861 4.3) for our address, from the peer,
    // with its link-layer address (option 1).
    Bytes solicitation(4);
    append(solicitation, m_our_ll);
    const uint8_t option[] = {1, 1};
    append(solicitation, option);
    append(solicitation, peer_mac);
    Ip6 group = solicited_node(m_our_ll);
    deliver(ethernet(multicast_mac(group), peer_mac, ethertype_ipv6,
                     ipv6(m_peer_ll, group, protocol_icmp6,
                          icmp6(m_peer_ll, group, 135, 0, solicitation), 255)));
    Bytes advertisement = sent_icmp6(136);
    ASSERT_FALSE(advertisement.empty());
    EXPECT_EQ(advertisement[7], 255); // hop limit of ND
    EXPECT_EQ((bytes_at<16>(advertisement, 8)), m_our_ll);
    EXPECT_EQ((bytes_at<16>(advertisement, 24)), m_peer_ll);
    auto message = std::span<const uint8_t>(advertisement).subspan(ipv6_header);
    ASSERT_GE(message.size(), 24u);
    EXPECT_TRUE(message[4] & 0x40) << "solicited flag";
    EXPECT_EQ((bytes_at<16>(message, 8)), m_our_ll);
    if (message.size() >= 32) {
        EXPECT_EQ(message[24], 2); // target link-layer address
        EXPECT_EQ((bytes_at<6>(message, 26)), our_mac);
    }

    // Echo request (RFC 4443 4.1): id, sequence, data.
    Bytes echo(4);
    put16(echo, 0, 0xbeef);
    put16(echo, 2, 3);
    for (int i = 0; i < 40; ++i)
        echo.push_back(static_cast<uint8_t>(i ^ 0x5a));
    deliver(ethernet(
        our_mac, peer_mac, ethertype_ipv6,
        ipv6(m_peer_ll, m_our_ll, protocol_icmp6, icmp6(m_peer_ll, m_our_ll, 128, 0, echo))));
    Bytes reply = sent_icmp6(129);
    ASSERT_FALSE(reply.empty());
    EXPECT_EQ((bytes_at<16>(reply, 8)), m_our_ll);
    EXPECT_EQ((bytes_at<16>(reply, 24)), m_peer_ll);
    auto reply_message = std::span<const uint8_t>(reply).subspan(ipv6_header);
    ASSERT_EQ(reply_message.size(), 4 + echo.size());
    EXPECT_EQ(reply_message[1], 0);
    EXPECT_TRUE(std::equal(echo.begin(), echo.end(), reply_message.begin() + 4));
}

} // namespace
