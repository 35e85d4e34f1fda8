// libFuzzer target for lib/net/dns: the input read as a server's response to
// a fixed query (dns_fuzz.h) for A and for AAAA records, and as a name to
// check and write a query for. A response read must keep the contract the
// network stack relies on: Answered has 1 to max_addresses addresses, each
// of the type's length and found in the message, and the least TTL below
// 2^31; every other status leaves the addresses empty; a status other than
// NotOurs and Malformed needs a whole header with the query's id, QR set and
// opcode 0, and another id is never ours. A name is valid exactly when a
// plain re-reading of the rules says so; a query is written for it exactly
// then, of the length the name gives, not into a byte less, and read back as
// a response (QR set) it is ours with no records. Reads outside the message
// are the sanitizers' to catch: libFuzzer hands over a buffer of exactly the
// input's size. Any violation traps, which libFuzzer reports as a crash.
#include "fuzz/dns_fuzz.h"
#include "fuzz/fuzz_checks.h"
#include "lib/net/dns.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace {

namespace dns = capos::net::dns;
namespace query = capos::fuzz::dns_query;
using capos::fuzz::require;

bool contains(std::span<const uint8_t> message, const uint8_t* bytes, size_t length) {
    for (size_t at = 0; at + length <= message.size(); ++at)
        if (std::memcmp(message.data() + at, bytes, length) == 0)
            return true;
    return false;
}

bool empty(const dns::Addresses& addresses) {
    dns::Addresses none;
    return addresses.count == 0 && addresses.ttl == 0 &&
           std::memcmp(addresses.bytes, none.bytes, sizeof none.bytes) == 0 &&
           std::memcmp(addresses.length, none.length, sizeof none.length) == 0;
}

void check_response(std::span<const uint8_t> message, dns::Type type) {
    dns::Addresses out;
    dns::Status status = dns::read_response(message, query::id, query::name, type, out);
    if (status == dns::Status::Answered) {
        size_t length = type == dns::Type::A ? 4 : 16;
        require(out.count >= 1 && out.count <= dns::max_addresses);
        require(out.ttl <= 0x7fffffff);
        for (size_t i = 0; i < dns::max_addresses; ++i) {
            if (i >= out.count) {
                require(out.length[i] == 0);
                continue;
            }
            require(out.length[i] == length);
            require(contains(message, out.bytes[i], length));
            for (size_t b = length; b < 16; ++b)
                require(out.bytes[i][b] == 0);
        }
    } else {
        require(empty(out));
    }
    if (status != dns::Status::NotOurs && status != dns::Status::Malformed) {
        require(message.size() >= 12);
        require((message[0] << 8 | message[1]) == query::id);
        require((message[2] & 0x80) != 0 && (message[2] >> 3 & 0xf) == 0);
        require((message[4] << 8 | message[5]) == 1);
        require((status == dns::Status::Truncated) == ((message[2] & 0x02) != 0));
    }
    // Two bytes are enough to tell another id.
    if (message.size() >= 2) {
        uint16_t other = uint16_t((message[0] << 8 | message[1]) ^ 0x0101);
        dns::Addresses ignored;
        require(dns::read_response(message, other, query::name, type, ignored) ==
                dns::Status::NotOurs);
        require(empty(ignored));
    }
}

// The rules of dns.h read plainly: labels of 1 to 63 bytes of letters,
// digits, '-' and '_' between single dots, 1 to 253 bytes after dropping one
// final dot.
bool plainly_valid(std::string_view name) {
    if (name.ends_with('.'))
        name.remove_suffix(1);
    if (name.empty() || name.size() > 253 || name.starts_with('.') || name.ends_with('.') ||
        name.find("..") != std::string_view::npos)
        return false;
    size_t run = 0;
    for (char c : name) {
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        if (c == '.') {
            run = 0;
            continue;
        }
        if (!letter && !digit && c != '-' && c != '_')
            return false;
        if (++run > 63)
            return false;
    }
    return true;
}

void check_name(std::string_view name) {
    bool valid = dns::valid_name(name);
    require(valid == plainly_valid(name));
    uint8_t out[dns::max_message];
    for (dns::Type type : {dns::Type::A, dns::Type::Aaaa}) {
        size_t length = dns::write_query(0x0102, name, type, out);
        if (!valid) {
            require(length == 0);
            continue;
        }
        size_t text = name.ends_with('.') ? name.size() - 1 : name.size();
        require(length == 12 + text + 2 + 4 && length <= dns::max_message);
        require(dns::write_query(0x0102, name, type, std::span<uint8_t>(out, length - 1)) == 0);
        out[2] |= 0x80; // the query as its own response: no records
        dns::Addresses addresses;
        std::span<const uint8_t> response(out, length);
        require(dns::read_response(response, 0x0102, name, type, addresses) ==
                dns::Status::NoRecords);
        require(empty(addresses));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> message(data, size);
    check_response(message, dns::Type::A);
    check_response(message, dns::Type::Aaaa);
    check_name(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
