// Writes dns_fuzz's seeds into the directory given as the only argument:
// responses to the fuzz target's query (dns_fuzz.h) of each kind a server
// sends (one A; several A compressed against the question; AAAA; a CNAME
// then its A; NXDOMAIN; a truncated answer; a question that points forward
// to an answer's name; more records than are kept), so that mutations
// start past the checks that a response is ours, and the query's name as
// text for the name checks.
#include "fuzz/dns_fuzz.h"
#include "lib/net/dns.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace dns = capos::net::dns;
namespace query = capos::fuzz::dns_query;
using Bytes = std::vector<uint8_t>;

constexpr uint16_t type_a = 1;
constexpr uint16_t type_cname = 5;
constexpr uint16_t type_aaaa = 28;
constexpr uint16_t question = 12; // where the question's name starts

void put16(Bytes& bytes, uint16_t value) {
    bytes.push_back(uint8_t(value >> 8));
    bytes.push_back(uint8_t(value));
}

void labels(Bytes& bytes, std::string_view dotted) {
    while (!dotted.empty()) {
        size_t dot = dotted.find('.');
        std::string_view label = dotted.substr(0, dot);
        bytes.push_back(uint8_t(label.size()));
        bytes.insert(bytes.end(), label.begin(), label.end());
        dotted = dot == std::string_view::npos ? "" : dotted.substr(dot + 1);
    }
}

void pointer(Bytes& bytes, uint16_t offset) {
    put16(bytes, uint16_t(0xc000 | offset));
}

void record(Bytes& bytes, uint16_t type, uint32_t ttl, const Bytes& data) {
    put16(bytes, type);
    put16(bytes, 1); // IN
    put16(bytes, uint16_t(ttl >> 16));
    put16(bytes, uint16_t(ttl));
    put16(bytes, uint16_t(data.size()));
    bytes.insert(bytes.end(), data.begin(), data.end());
}

// The query as a response with `answers` records to come and `rcode`/TC
// among its flags.
Bytes response(dns::Type type, uint16_t answers, uint16_t flags = 0) {
    Bytes bytes(dns::max_message);
    bytes.resize(dns::write_query(query::id, query::name, type, bytes));
    uint16_t all = uint16_t(0x8180 | flags); // QR, RD, RA
    bytes[2] = uint8_t(all >> 8);
    bytes[3] = uint8_t(all);
    bytes[6] = uint8_t(answers >> 8);
    bytes[7] = uint8_t(answers);
    return bytes;
}

Bytes one_a() {
    Bytes bytes = response(dns::Type::A, 1);
    pointer(bytes, question);
    record(bytes, type_a, 300, {192, 0, 2, 1});
    return bytes;
}

Bytes several_a() {
    Bytes bytes = response(dns::Type::A, 3);
    for (uint8_t i = 1; i <= 3; ++i) {
        pointer(bytes, question);
        record(bytes, type_a, 60u * i, {10, 0, 0, i});
    }
    return bytes;
}

Bytes aaaa() {
    Bytes bytes = response(dns::Type::Aaaa, 2);
    for (uint8_t i = 1; i <= 2; ++i) {
        pointer(bytes, question);
        record(bytes, type_aaaa, 120, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i});
    }
    return bytes;
}

Bytes cname_then_a() {
    Bytes bytes = response(dns::Type::A, 2);
    pointer(bytes, question);
    Bytes target;
    labels(target, "web");
    pointer(target, question + 4); // "example.com" in the question
    record(bytes, type_cname, 3600, target);
    uint16_t target_at = uint16_t(bytes.size() - target.size());
    pointer(bytes, target_at);
    record(bytes, type_a, 30, {198, 51, 100, 7});
    return bytes;
}

// The question's name is a pointer to the answer's owner name, written
// out after it.
Bytes forward_question() {
    Bytes bytes = {uint8_t(query::id >> 8), uint8_t(query::id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    pointer(bytes, question + 6);
    put16(bytes, type_a);
    put16(bytes, 1);
    labels(bytes, query::name);
    bytes.push_back(0);
    record(bytes, type_a, 5, {203, 0, 113, 9});
    return bytes;
}

Bytes many_a() {
    Bytes bytes = response(dns::Type::A, uint16_t(dns::max_addresses + 2));
    for (uint8_t i = 0; i < dns::max_addresses + 2; ++i) {
        pointer(bytes, question);
        record(bytes, type_a, 1000u - i, {10, 1, 0, i});
    }
    return bytes;
}

bool write(const std::string& directory, const char* name, const Bytes& bytes) {
    std::string path = directory + "/" + name;
    FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr)
        return false;
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    return std::fclose(file) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    std::string directory = argv[1];
    bool ok = write(directory, "one_a", one_a()) && write(directory, "several_a", several_a()) &&
              write(directory, "aaaa", aaaa()) && write(directory, "cname_a", cname_then_a()) &&
              write(directory, "nxdomain", response(dns::Type::A, 0, 3)) &&
              write(directory, "truncated", response(dns::Type::A, 0, 0x0200)) &&
              write(directory, "forward_question", forward_question()) &&
              write(directory, "many_a", many_a()) &&
              write(directory, "name", Bytes(query::name.begin(), query::name.end()));
    if (!ok) {
        std::perror(argv[1]);
        return 1;
    }
    return 0;
}
