// Network addresses as people read and write them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace capos::net {

inline constexpr size_t mac_text_bytes = 17;
// "255.255.255.255" and the longest RFC 5952 IPv6 text
// ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is not made: no
// embedded IPv4 form).
inline constexpr size_t ipv4_text_bytes = 15;
inline constexpr size_t ipv6_text_bytes = 39;

// An IPv4 (4 bytes) or IPv6 (16 bytes) address, in network order.
struct IpAddress {
    uint8_t bytes[16] = {};
    uint8_t length = 0; // 4 or 16

    std::span<const uint8_t> view() const { return {bytes, length}; }
};

// "52:54:00:12:34:56": six bytes in lower-case hex, colon-separated, into
// `out`; the text.
std::string_view format_mac(std::span<const uint8_t, 6> mac, std::span<char, mac_text_bytes> out);

// Dotted-quad IPv4 ("10.0.2.15": four decimal numbers of 0 to 255, no
// leading zeros, nothing else), or IPv6 as RFC 4291 2.2 writes it (hex
// groups of at most four digits, one "::" for a run of zero groups; no
// embedded IPv4 part, no zone). Nothing for any other text.
std::optional<IpAddress> parse_ip(std::string_view text);

// An address as text: IPv4 dotted-quad, IPv6 as RFC 5952 recommends (lower
// case, no leading zeros, the longest run of two or more zero groups, the
// first of equals, as "::"). Into `out` (room for ipv6_text_bytes); the
// text. An address of another length gives "?".
std::string_view format_ip(std::span<const uint8_t> address, std::span<char, ipv6_text_bytes> out);

} // namespace capos::net
