// A DNS stub resolver's pure parts (RFC 1035, 3596): the query for a name's
// A or AAAA records, and the answer read from a server's UDP response.
// The network stack sends the query and hands each datagram that comes back
// to read_response until one is the answer; the reading trusts nothing in
// the datagram, which may come from anyone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::net::dns {

inline constexpr size_t max_name = 253;     // a name's text, without a final dot
inline constexpr size_t max_message = 512;  // a UDP message without EDNS
inline constexpr size_t max_addresses = 16; // addresses kept from one answer
inline constexpr uint16_t port = 53;

enum class Type : uint16_t { A = 1, Aaaa = 28 };

// Whether `name` is a name a query may ask for: labels of 1 to 63 bytes of
// letters, digits, '-' and '_', separated by single dots, at most max_name
// bytes in all; one final dot allowed (and not counted). No empty name.
bool valid_name(std::string_view name);

// A standard query (opcode 0, RD set, one question of class IN) for `name`
// and `type` with `id`, into `out`; its length, or 0 when the name is not
// valid or the query does not fit. (Its length is at most 12 + 255 + 4,
// so it always fits max_message bytes.)
size_t write_query(uint16_t id, std::string_view name, Type type, std::span<uint8_t> out);

enum class Status {
    Answered,     // NOERROR with at least one record of the type
    NoRecords,    // NOERROR, none of the type (the name has none)
    NoSuchName,   // NXDOMAIN
    ServerFailed, // another RCODE (SERVFAIL, REFUSED, ...)
    Truncated,    // TC set: the answer did not fit in UDP (not retried over TCP)
    NotOurs,      // not a response to this query (not QR, another id, another question, opcode):
                  // ignore it, keep waiting
    Malformed,    // a response to it that cannot be read
};

struct Addresses {
    uint8_t bytes[max_addresses][16] = {};
    uint8_t length[max_addresses] = {}; // 4 (A) or 16 (AAAA)
    size_t count = 0;
    uint32_t ttl = 0; // the least TTL of the records kept
};

// Reads `message` as the answer to the query (id, name, type): the
// addresses of the answer section's records of `type` and class IN, in
// order, at most max_addresses (more are skipped), each RDLENGTH 4 for A
// and 16 for AAAA (another length: Malformed). Records of other types
// (CNAME chains, RRSIGs) are stepped over. The question must echo the
// query's name (ASCII case-insensitively), type and class, else NotOurs.
// `out` is left empty unless the status is Answered.
Status read_response(std::span<const uint8_t> message, uint16_t id, std::string_view name,
                     Type type, Addresses& out);

std::string_view to_string(Status status); // "answered", "no such name", ... for messages

} // namespace capos::net::dns
