// Ethernet frames built and read byte by byte, for the tests of lwIP
// (tests/host/lwip_test.cpp) and the network fuzz target's seeds: Ethernet,
// ARP, IPv4, IPv6, ICMP, ICMPv6, UDP and TCP headers and their checksums,
// written from the RFCs and not from lwIP, so that a test checks lwIP against
// an independent reading of the wire format. Multi-byte fields are big-endian
// (network order) throughout.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace capos::net::testing {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;
using Ip4 = std::array<uint8_t, 4>;
using Ip6 = std::array<uint8_t, 16>;

inline constexpr uint16_t ethertype_ipv4 = 0x0800;
inline constexpr uint16_t ethertype_arp = 0x0806;
inline constexpr uint16_t ethertype_ipv6 = 0x86dd;
inline constexpr uint8_t protocol_icmp = 1;
inline constexpr uint8_t protocol_tcp = 6;
inline constexpr uint8_t protocol_udp = 17;
inline constexpr uint8_t protocol_icmp6 = 58;
inline constexpr size_t ethernet_header = 14;
inline constexpr size_t ipv6_header = 40;

inline constexpr uint8_t tcp_flag_fin = 0x01;
inline constexpr uint8_t tcp_flag_syn = 0x02;
inline constexpr uint8_t tcp_flag_rst = 0x04;
inline constexpr uint8_t tcp_flag_psh = 0x08;
inline constexpr uint8_t tcp_flag_ack = 0x10;

inline void put16(Bytes& bytes, size_t at, uint16_t value) {
    bytes[at] = static_cast<uint8_t>(value >> 8);
    bytes[at + 1] = static_cast<uint8_t>(value);
}

inline void put32(Bytes& bytes, size_t at, uint32_t value) {
    put16(bytes, at, static_cast<uint16_t>(value >> 16));
    put16(bytes, at + 2, static_cast<uint16_t>(value));
}

inline uint16_t get16(std::span<const uint8_t> bytes, size_t at) {
    return static_cast<uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

inline uint32_t get32(std::span<const uint8_t> bytes, size_t at) {
    return static_cast<uint32_t>(get16(bytes, at)) << 16 | get16(bytes, at + 2);
}

inline void append(Bytes& bytes, std::span<const uint8_t> more) {
    bytes.insert(bytes.end(), more.begin(), more.end());
}

// RFC 1071: the ones' complement sum of 16-bit words, an odd last byte padded
// with zero, added to `sum` (a partial sum, e.g. of a pseudo-header).
inline uint32_t add_words(uint32_t sum, std::span<const uint8_t> bytes) {
    for (size_t i = 0; i + 1 < bytes.size(); i += 2)
        sum += get16(bytes, i);
    if (bytes.size() % 2 != 0)
        sum += static_cast<uint32_t>(bytes.back()) << 8;
    return sum;
}

// The checksum field's value: the complement of the folded sum. Over bytes
// that include a correct checksum the result is 0.
inline uint16_t checksum(uint32_t sum) {
    while (sum > 0xffff)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// The pseudo-headers of RFC 768/793 (IPv4) and RFC 8200 section 8.1 (IPv6).
inline uint32_t pseudo_sum4(const Ip4& source, const Ip4& destination, uint8_t protocol,
                            size_t length) {
    uint32_t sum = add_words(0, source);
    sum = add_words(sum, destination);
    return sum + protocol + static_cast<uint32_t>(length);
}

inline uint32_t pseudo_sum6(const Ip6& source, const Ip6& destination, uint8_t next_header,
                            size_t length) {
    uint32_t sum = add_words(0, source);
    sum = add_words(sum, destination);
    return sum + static_cast<uint32_t>(length >> 16) + static_cast<uint32_t>(length & 0xffff) +
           next_header;
}

inline Bytes ethernet(const Mac& destination, const Mac& source, uint16_t type,
                      std::span<const uint8_t> payload) {
    Bytes frame(ethernet_header);
    std::copy(destination.begin(), destination.end(), frame.begin());
    std::copy(source.begin(), source.end(), frame.begin() + 6);
    put16(frame, 12, type);
    append(frame, payload);
    return frame;
}

// RFC 826 for Ethernet and IPv4; operation 1 is a request, 2 a reply.
inline Bytes arp(uint16_t operation, const Mac& sender_mac, const Ip4& sender_ip,
                 const Mac& target_mac, const Ip4& target_ip) {
    Bytes packet(8);
    put16(packet, 0, 1); // Ethernet
    put16(packet, 2, ethertype_ipv4);
    packet[4] = 6;
    packet[5] = 4;
    put16(packet, 6, operation);
    append(packet, sender_mac);
    append(packet, sender_ip);
    append(packet, target_mac);
    append(packet, target_ip);
    return packet;
}

// RFC 791: a 20-byte header (no options), not fragmented, with its checksum.
inline Bytes ipv4(const Ip4& source, const Ip4& destination, uint8_t protocol,
                  std::span<const uint8_t> payload, uint8_t ttl = 64, uint16_t id = 1) {
    Bytes packet(20);
    packet[0] = 0x45;
    put16(packet, 2, static_cast<uint16_t>(20 + payload.size()));
    put16(packet, 4, id);
    packet[8] = ttl;
    packet[9] = protocol;
    std::copy(source.begin(), source.end(), packet.begin() + 12);
    std::copy(destination.begin(), destination.end(), packet.begin() + 16);
    put16(packet, 10, checksum(add_words(0, packet)));
    append(packet, payload);
    return packet;
}

// RFC 8200: a 40-byte header with no extension headers.
inline Bytes ipv6(const Ip6& source, const Ip6& destination, uint8_t next_header,
                  std::span<const uint8_t> payload, uint8_t hop_limit = 64) {
    Bytes packet(ipv6_header);
    packet[0] = 0x60;
    put16(packet, 4, static_cast<uint16_t>(payload.size()));
    packet[6] = next_header;
    packet[7] = hop_limit;
    std::copy(source.begin(), source.end(), packet.begin() + 8);
    std::copy(destination.begin(), destination.end(), packet.begin() + 24);
    append(packet, payload);
    return packet;
}

// RFC 768: the datagram with its checksum over the IPv4 pseudo-header.
inline Bytes udp4(const Ip4& source, const Ip4& destination, uint16_t source_port,
                  uint16_t destination_port, std::span<const uint8_t> payload) {
    Bytes datagram(8);
    put16(datagram, 0, source_port);
    put16(datagram, 2, destination_port);
    put16(datagram, 4, static_cast<uint16_t>(8 + payload.size()));
    append(datagram, payload);
    uint16_t sum = checksum(
        add_words(pseudo_sum4(source, destination, protocol_udp, datagram.size()), datagram));
    put16(datagram, 6, sum == 0 ? 0xffff : sum);
    return datagram;
}

inline Bytes udp6(const Ip6& source, const Ip6& destination, uint16_t source_port,
                  uint16_t destination_port, std::span<const uint8_t> payload) {
    Bytes datagram(8);
    put16(datagram, 0, source_port);
    put16(datagram, 2, destination_port);
    put16(datagram, 4, static_cast<uint16_t>(8 + payload.size()));
    append(datagram, payload);
    uint16_t sum = checksum(
        add_words(pseudo_sum6(source, destination, protocol_udp, datagram.size()), datagram));
    put16(datagram, 6, sum == 0 ? 0xffff : sum);
    return datagram;
}

// RFC 793: a 20-byte header (no options) with its checksum.
struct TcpSegment {
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    uint32_t sequence = 0;
    uint32_t acknowledgment = 0;
    uint8_t flags = 0;
    uint16_t window = 0xffff;
};

inline Bytes tcp4(const Ip4& source, const Ip4& destination, const TcpSegment& segment,
                  std::span<const uint8_t> payload = {}) {
    Bytes packet(20);
    put16(packet, 0, segment.source_port);
    put16(packet, 2, segment.destination_port);
    put32(packet, 4, segment.sequence);
    put32(packet, 8, segment.acknowledgment);
    packet[12] = 5 << 4;
    packet[13] = segment.flags;
    put16(packet, 14, segment.window);
    append(packet, payload);
    put16(
        packet, 16,
        checksum(add_words(pseudo_sum4(source, destination, protocol_tcp, packet.size()), packet)));
    return packet;
}

// RFC 792 echo (type 8 request, 0 reply): id, sequence and data.
inline Bytes icmp4_echo(uint8_t type, uint16_t id, uint16_t sequence,
                        std::span<const uint8_t> data) {
    Bytes message(8);
    message[0] = type;
    put16(message, 4, id);
    put16(message, 6, sequence);
    append(message, data);
    put16(message, 2, checksum(add_words(0, message)));
    return message;
}

// RFC 4443: an ICMPv6 message of `type` and `code` whose body (after the
// checksum) is given, with its checksum over the IPv6 pseudo-header.
inline Bytes icmp6(const Ip6& source, const Ip6& destination, uint8_t type, uint8_t code,
                   std::span<const uint8_t> body) {
    Bytes message(4);
    message[0] = type;
    message[1] = code;
    append(message, body);
    put16(message, 2,
          checksum(add_words(pseudo_sum6(source, destination, protocol_icmp6, message.size()),
                             message)));
    return message;
}

// RFC 4291 appendix A: the link-local address whose interface identifier is
// the modified EUI-64 of a MAC address.
inline Ip6 link_local(const Mac& mac) {
    return {
        0xfe,   0x80,   0,    0,    0,      0,      0,     0, static_cast<uint8_t>(mac[0] ^ 0x02),
        mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]};
}

// RFC 4291 section 2.7.1: the solicited-node multicast group of an address,
// and RFC 2464 section 7: the Ethernet address of an IPv6 multicast group.
inline Ip6 solicited_node(const Ip6& address) {
    return {0xff, 0x02, 0, 0,    0,    0,           0,           0,
            0,    0,    0, 0x01, 0xff, address[13], address[14], address[15]};
}

inline Mac multicast_mac(const Ip6& group) {
    return {0x33, 0x33, group[12], group[13], group[14], group[15]};
}

// RFC 2131: a server's DHCP message (op 2) of `message_type` (option 53: 2
// offer, 5 ack, 6 nak) to the client of `transaction` with `client` MAC,
// offering `address` with a /24 mask, `server` as router, server identifier
// and DNS server, and a lease of a day.
inline Bytes dhcp_reply(uint8_t message_type, uint32_t transaction, const Mac& client,
                        const Ip4& address, const Ip4& server) {
    Bytes message(236);
    message[0] = 2; // BOOTREPLY
    message[1] = 1; // Ethernet
    message[2] = 6;
    put32(message, 4, transaction);
    std::copy(address.begin(), address.end(), message.begin() + 16); // yiaddr
    std::copy(server.begin(), server.end(), message.begin() + 20);   // siaddr
    std::copy(client.begin(), client.end(), message.begin() + 28);   // chaddr
    const uint8_t cookie[] = {0x63, 0x82, 0x53, 0x63};
    append(message, cookie);
    auto option = [&](uint8_t code, std::span<const uint8_t> value) {
        message.push_back(code);
        message.push_back(static_cast<uint8_t>(value.size()));
        append(message, value);
    };
    const uint8_t type[] = {message_type};
    const uint8_t lease[] = {0, 1, 0x51, 0x80}; // 86,400 s
    const uint8_t mask[] = {255, 255, 255, 0};
    option(53, type);
    option(54, server); // server identifier
    option(51, lease);
    option(1, mask);
    option(3, server); // router
    option(6, server); // DNS server
    message.push_back(255);
    return message;
}

// The checks of a frame lwIP sent, each over the bytes as they are: the IPv4
// header's checksum, and a transport checksum over its pseudo-header.
inline bool ipv4_header_valid(std::span<const uint8_t> packet) {
    if (packet.size() < 20 || packet[0] >> 4 != 4)
        return false;
    size_t header = static_cast<size_t>(packet[0] & 0x0f) * 4;
    return header >= 20 && header <= packet.size() &&
           checksum(add_words(0, packet.first(header))) == 0;
}

inline bool transport4_checksum_valid(std::span<const uint8_t> packet) {
    size_t header = static_cast<size_t>(packet[0] & 0x0f) * 4;
    size_t total = get16(packet, 2);
    if (total < header || total > packet.size())
        return false;
    Ip4 source, destination;
    std::copy_n(packet.begin() + 12, 4, source.begin());
    std::copy_n(packet.begin() + 16, 4, destination.begin());
    auto segment = packet.subspan(header, total - header);
    return checksum(add_words(pseudo_sum4(source, destination, packet[9], segment.size()),
                              segment)) == 0;
}

inline bool transport6_checksum_valid(std::span<const uint8_t> packet) {
    if (packet.size() < ipv6_header || packet.size() < ipv6_header + get16(packet, 4))
        return false;
    Ip6 source, destination;
    std::copy_n(packet.begin() + 8, 16, source.begin());
    std::copy_n(packet.begin() + 24, 16, destination.begin());
    auto payload = packet.subspan(ipv6_header, get16(packet, 4));
    return checksum(add_words(pseudo_sum6(source, destination, packet[6], payload.size()),
                              payload)) == 0;
}

} // namespace capos::net::testing
