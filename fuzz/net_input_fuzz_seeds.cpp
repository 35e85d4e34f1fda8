// Writes net_input_fuzz's seeds into the directory given: inputs that take
// the fuzz target's stack (net_fuzz_stack.h) through whole conversations, so
// that mutations start deep in each protocol. Each seed is played on the
// same stack here as it is built, and later frames answer what the stack sent
// (its TCP sequence number, DHCP and DHCPv6 transaction ids, the DNS query's
// id and port), so the seeds hold what a real peer would send.
#include "fuzz/net_fuzz_stack.h"

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

using namespace capos::net::fuzz;
using namespace capos::net::testing;

namespace {

std::vector<Bytes> sent_frames;

void keep_frame(std::span<const uint8_t> frame) {
    sent_frames.emplace_back(frame.begin(), frame.end());
}

// An input being written, each record applied to the stack as it is added.
class Seed {
public:
    Seed() {
        reset_stack();
        sent_frames.clear();
    }

    // Every third frame copied into the pool, the others lent.
    void frame(const Bytes& bytes) {
        Bytes record;
        append_frame_record(record, bytes, m_frames++ % 3 == 2);
        apply(record);
    }

    void wait(unsigned steps) {
        Bytes record;
        append_clock_record(record, steps);
        apply(record);
    }

    const Bytes& input() const { return m_input; }

private:
    void apply(const Bytes& record) {
        auto rest = apply_record(record);
        if (!rest.empty())
            std::abort();
        append(m_input, record);
    }

    Bytes m_input;
    size_t m_frames = 0;
};

// The transport payload of the last frame the stack sent of `protocol` to
// `port` (UDP, or TCP when `protocol` says so), over IPv4 or IPv6.
struct Sent {
    Bytes packet;         // the IP packet
    size_t transport = 0; // where its transport header starts
};

std::optional<Sent> last_sent(uint8_t protocol, uint16_t destination_port) {
    for (auto frame = sent_frames.rbegin(); frame != sent_frames.rend(); ++frame) {
        std::span<const uint8_t> packet(frame->begin() + ethernet_header, frame->end());
        uint16_t type = get16(*frame, 12);
        size_t transport = 0;
        if (type == ethertype_ipv4 && packet[9] == protocol)
            transport = static_cast<size_t>(packet[0] & 0x0f) * 4;
        else if (type == ethertype_ipv6 && packet[6] == protocol)
            transport = ipv6_header;
        else
            continue;
        if (get16(packet, transport + 2) == destination_port)
            return Sent{Bytes(packet.begin(), packet.end()), transport};
    }
    return std::nullopt;
}

const Ip6 router_ll = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const Mac router_mac = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x01};
const Ip6 stack_ll = link_local(stack_mac);
const Ip6 all_nodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

Bytes to_stack4(const Mac& from_mac, const Ip4& from, uint8_t protocol, const Bytes& payload) {
    return ethernet(stack_mac, from_mac, ethertype_ipv4, ipv4(from, stack_ip, protocol, payload));
}

// ARP for the stack's address, then a ping.
Bytes arp_ping() {
    Seed seed;
    seed.frame(ethernet({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, gateway_mac, ethertype_arp,
                        arp(1, gateway_mac, gateway_ip, Mac{}, stack_ip)));
    seed.frame(
        to_stack4(gateway_mac, gateway_ip, protocol_icmp, icmp4_echo(8, 0x77, 1, Bytes(32, 0x61))));
    seed.wait(4);
    return seed.input();
}

// A ping of 2,000 bytes in two fragments: reassembled, and its reply
// fragmented.
Bytes ping_fragments() {
    Seed seed;
    Bytes data(2000);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(i);
    Bytes message = icmp4_echo(8, 0x78, 2, data);
    const size_t split = 1480;
    for (size_t offset = 0; offset < message.size(); offset += split) {
        size_t end = std::min(message.size(), offset + split);
        Bytes part(message.begin() + static_cast<ptrdiff_t>(offset),
                   message.begin() + static_cast<ptrdiff_t>(end));
        Bytes packet = ipv4(gateway_ip, stack_ip, protocol_icmp, part, 64, 0x4242);
        bool more = end < message.size();
        put16(packet, 6, static_cast<uint16_t>((more ? 0x2000 : 0) | offset / 8));
        put16(packet, 10, 0);
        put16(packet, 10, checksum(add_words(0, std::span<const uint8_t>(packet).first(20))));
        seed.frame(ethernet(stack_mac, gateway_mac, ethertype_ipv4, packet));
    }
    seed.wait(4);
    return seed.input();
}

// A TCP connection to the echoing listener: handshake, data echoed, closed
// from both ends.
Bytes tcp_echo() {
    Seed seed;
    TcpSegment segment{.source_port = 40000,
                       .destination_port = tcp_port,
                       .sequence = 1000,
                       .flags = tcp_flag_syn};
    seed.frame(
        to_stack4(gateway_mac, gateway_ip, protocol_tcp, tcp4(gateway_ip, stack_ip, segment)));
    auto syn_ack = last_sent(protocol_tcp, 40000);
    if (!syn_ack)
        std::abort();
    uint32_t their = get32(syn_ack->packet, syn_ack->transport + 4) + 1;
    const std::string text = "GET / HTTP/1.0\r\n\r\n";
    Bytes data(text.begin(), text.end());
    segment = {.source_port = 40000,
               .destination_port = tcp_port,
               .sequence = 1001,
               .acknowledgment = their,
               .flags = tcp_flag_ack | tcp_flag_psh};
    seed.frame(to_stack4(gateway_mac, gateway_ip, protocol_tcp,
                         tcp4(gateway_ip, stack_ip, segment, data)));
    their += static_cast<uint32_t>(data.size()); // the echo
    segment.sequence = 1001 + static_cast<uint32_t>(data.size());
    segment.acknowledgment = their;
    segment.flags = tcp_flag_ack | tcp_flag_fin;
    seed.frame(
        to_stack4(gateway_mac, gateway_ip, protocol_tcp, tcp4(gateway_ip, stack_ip, segment)));
    segment.sequence += 1;
    segment.acknowledgment = their + 1; // the stack's FIN
    segment.flags = tcp_flag_ack;
    seed.frame(
        to_stack4(gateway_mac, gateway_ip, protocol_tcp, tcp4(gateway_ip, stack_ip, segment)));
    seed.wait(8);
    return seed.input();
}

Bytes udp_echo() {
    Seed seed;
    Bytes data = {'e', 'c', 'h', 'o'};
    seed.frame(to_stack4(gateway_mac, gateway_ip, protocol_udp,
                         udp4(gateway_ip, stack_ip, 5000, udp_port, data)));
    return seed.input();
}

// DHCP: an offer, then an ack for the request it brings, then the time of
// the ARP probe of the address.
Bytes dhcp() {
    Seed seed;
    const Ip4 offered = {10, 0, 2, 16};
    auto server_frame = [&](uint8_t type, uint32_t transaction) {
        const Ip4 broadcast = {255, 255, 255, 255};
        return ethernet({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, gateway_mac, ethertype_ipv4,
                        ipv4(gateway_ip, broadcast, protocol_udp,
                             udp4(gateway_ip, broadcast, 67, 68,
                                  dhcp_reply(type, transaction, stack_mac, offered, gateway_ip))));
    };
    seed.frame(server_frame(2, dhcp_transaction()));
    auto request = last_sent(protocol_udp, 67);
    if (!request)
        std::abort();
    seed.frame(server_frame(5, get32(request->packet, request->transport + 8 + 4)));
    seed.wait(16);
    return seed.input();
}

// The answer to the outstanding DNS query (its question sent back, and one
// address).
Bytes dns(const Sent& query) {
    Seed seed;
    std::span<const uint8_t> message(
        query.packet.begin() + static_cast<ptrdiff_t>(query.transport) + 8, query.packet.end());
    Bytes answer(message.begin(), message.end()); // header and question
    put16(answer, 2, 0x8180);                     // a response, recursion available
    put16(answer, 6, 1);                          // one answer
    const uint8_t record[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 80};
    append(answer, record);
    uint16_t port = get16(query.packet, query.transport);
    seed.frame(
        ethernet(stack_mac, dns_mac, ethertype_ipv4,
                 ipv4(dns_ip, stack_ip, protocol_udp, udp4(dns_ip, stack_ip, 53, port, answer))));
    return seed.input();
}

// IPv6: a neighbour solicitation and a ping to the link-local address, a
// router advertisement with a prefix to autoconfigure and a DNS server
// (RDNSS), asking for other configuration (DHCPv6), and the DHCPv6 reply.
Bytes ipv6_seed() {
    Seed seed;
    Bytes solicitation(4);
    append(solicitation, stack_ll);
    const uint8_t source_option[] = {1, 1};
    append(solicitation, source_option);
    append(solicitation, router_mac);
    Ip6 group = solicited_node(stack_ll);
    seed.frame(ethernet(multicast_mac(group), router_mac, ethertype_ipv6,
                        ipv6(router_ll, group, protocol_icmp6,
                             icmp6(router_ll, group, 135, 0, solicitation), 255)));
    Bytes echo = {0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
    seed.frame(ethernet(
        stack_mac, router_mac, ethertype_ipv6,
        ipv6(router_ll, stack_ll, protocol_icmp6, icmp6(router_ll, stack_ll, 128, 0, echo))));

    Bytes advertisement = {64, 0x40, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0}; // O flag, 1800 s
    append(advertisement, source_option);
    append(advertisement, router_mac);
    // Prefix information (RFC 4861 4.6.2): 2001:db8:1::/64, on-link and
    // autonomous, valid for 7,200 s and preferred for 3,600.
    const uint8_t prefix_option[] = {3, 4, 64,   0xc0, 0, 0, 0x1c, 0x20,
                                     0, 0, 0x0e, 0x10, 0, 0, 0,    0};
    const Ip6 prefix = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
    append(advertisement, prefix_option);
    append(advertisement, prefix);
    // A recursive DNS server (RFC 8106) for 3,600 s: 2001:db8:1::35.
    const uint8_t rdnss_option[] = {25, 3, 0, 0, 0, 0, 0x0e, 0x10};
    const Ip6 dns_server = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35};
    append(advertisement, rdnss_option);
    append(advertisement, dns_server);
    seed.frame(ethernet(multicast_mac(all_nodes), router_mac, ethertype_ipv6,
                        ipv6(router_ll, all_nodes, protocol_icmp6,
                             icmp6(router_ll, all_nodes, 134, 0, advertisement), 255)));
    seed.wait(8);

    auto request = last_sent(protocol_udp, 547);
    if (request) {
        Bytes reply = {7}; // REPLY
        reply.insert(reply.end(),
                     request->packet.begin() + static_cast<ptrdiff_t>(request->transport) + 9,
                     request->packet.begin() + static_cast<ptrdiff_t>(request->transport) + 12);
        const uint8_t dns_servers_option[] = {0, 23, 0, 16}; // RFC 3646, one address
        append(reply, dns_servers_option);
        append(reply, dns_server);
        seed.frame(ethernet(
            stack_mac, router_mac, ethertype_ipv6,
            ipv6(router_ll, stack_ll, protocol_udp, udp6(router_ll, stack_ll, 547, 546, reply))));
    }
    return seed.input();
}

bool save(const std::string& path, const Bytes& bytes) {
    FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr)
        return false;
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    return std::fclose(file) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: net_input_fuzz_seedgen <directory>\n");
        return 2;
    }
    std::string dir = argv[1];
    set_frame_observer(keep_frame);
    start_stack();
    auto query = last_sent(protocol_udp, 53);
    if (!query) {
        std::fprintf(stderr, "net_input_fuzz_seedgen: the stack sent no DNS query\n");
        return 1;
    }
    bool ok = save(dir + "/arp_ping", arp_ping()) &&
              save(dir + "/ping_fragments", ping_fragments()) &&
              save(dir + "/tcp_echo", tcp_echo()) && save(dir + "/udp_echo", udp_echo()) &&
              save(dir + "/dhcp", dhcp()) && save(dir + "/dns", dns(*query)) &&
              save(dir + "/ipv6", ipv6_seed());
    return ok ? 0 : 1;
}
