// The network stack's Resolver (docs/networking.md "Names"): a stub
// resolver of its own over lwIP's UDP (lib/net/dns reads and writes the
// messages), so that a Resolver may ask any server at any port; lwIP's
// own DNS client only keeps the servers DHCP, DHCPv6 and routers'
// advertisements name.
//
// A lookup asks for the name's A records, then its AAAA records, from its
// own UDP port with a fresh random id for each query; it sends each query
// again after a second without an answer, twice to a server before the
// next, cycling through the servers until its deadline. An answer counts
// only from the server asked, with the id and question asked
// (read_response's NotOurs is ignored); a server that fails or answers
// what cannot be read makes way for the next.
#include "lib/net/address.h"
#include "user/services/net/stack.h"

extern "C" {
#include "lwip/dns.h"
#include "lwip/timeouts.h"
}

extern "C" uint32_t capos_lwip_random(void);

namespace capos::netstack {

namespace dns = net::dns;

namespace {

constexpr uint32_t default_timeout_ms = 5000;
constexpr uint32_t resend_ms = 1000;
constexpr uint8_t sends_per_server = 2;

void answer_callback(void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t* from,
                     u16_t port) {
    g_stack->on_dns_answer(*static_cast<Lookup*>(arg), p, from, port);
}

void tick(void* slot) {
    g_stack->lookup_tick(size_t(uintptr_t(slot)));
}

// The first of the interface's DNS servers from `from` on that is known
// (DNS_MAX_SERVERS: none is).
uint8_t known_server(uint8_t from) {
    while (from < DNS_MAX_SERVERS && ip_addr_isany(dns_getserver(from)))
        ++from;
    return from;
}

uint16_t new_id() {
    return uint16_t(capos_lwip_random());
}

} // namespace

Status Stack::resolver(NetworkManager::ResolverParams::Reader params,
                       NetworkManager::ResolverResults::Builder results) {
    auto server = params.server();
    if (server.empty()) {
        m_mint_badge = resolver_badge;
        m_mint_interface = Resolver::interface_id;
        results.set_resolver(resolver_badge);
        return {};
    }
    ip_addr_t address;
    if (!to_address(server, address))
        return failure(ExceptionType::InvalidArgument, "a server is 4 bytes (IPv4) or 16 (IPv6)");
    for (size_t slot = 0; slot < max_resolvers; ++slot) {
        ResolverServer& resolver = m_resolvers[slot];
        if (resolver.used)
            continue;
        resolver.used = true;
        ip_addr_copy(resolver.server, address);
        resolver.port = params.port() == 0 ? dns::port : params.port();
        m_mint_badge = badge_of(Kind::Resolver, slot);
        m_mint_interface = Resolver::interface_id;
        results.set_resolver(m_mint_badge);
        return {};
    }
    return failure(ExceptionType::Overloaded, "too many resolvers of their own server");
}

Status Stack::resolve(Resolver::ResolveParams::Reader params,
                      Resolver::ResolveResults::Builder results) {
    std::string_view name = params.name();
    // An address written as text is its own answer.
    if (auto address = net::parse_ip(name)) {
        results.init_addresses(1).set(0, address->view());
        return {};
    }
    if (!dns::valid_name(name))
        return failure(ExceptionType::InvalidArgument, "not a name");
    size_t slot = 0;
    while (slot < max_lookups && m_lookups[slot].used)
        ++slot;
    if (slot == max_lookups)
        return failure(ExceptionType::Overloaded, "too many lookups wait");
    Lookup& lookup = m_lookups[slot];
    lookup = {};
    if (m_badge != resolver_badge) {
        const ResolverServer& resolver = m_resolvers[m_badge & 0xff];
        lookup.own_server = true;
        ip_addr_copy(lookup.server, resolver.server);
        lookup.port = resolver.port;
    } else {
        lookup.server_index = known_server(0);
        if (lookup.server_index == DNS_MAX_SERVERS)
            return failure(ExceptionType::Failed, "no DNS server is known");
    }
    lookup.pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (!lookup.pcb)
        return failure(ExceptionType::Overloaded, "no room for another lookup");
    if (::udp_bind(lookup.pcb, IP_ANY_TYPE, 0) != ERR_OK) {
        udp_remove(lookup.pcb);
        return failure(ExceptionType::Overloaded, "no port for another lookup");
    }
    udp_recv(lookup.pcb, answer_callback, &lookup);
    lookup.used = true;
    lookup.call_id = m_call_id;
    __builtin_memcpy(lookup.name, name.data(), name.size());
    lookup.name_length = name.size();
    lookup.id = new_id();
    uint32_t timeout = params.timeout_ms() == 0 ? default_timeout_ms : params.timeout_ms();
    lookup.deadline_ns = g_now_ns + uint64_t(timeout) * 1'000'000;
    send_query(lookup);
    m_deferred = true;
    return {};
}

bool Stack::lookup_server(const Lookup& lookup, ip_addr_t& server, uint16_t& port) const {
    if (lookup.own_server) {
        ip_addr_copy(server, lookup.server);
        port = lookup.port;
        return true;
    }
    if (lookup.server_index >= DNS_MAX_SERVERS || ip_addr_isany(dns_getserver(lookup.server_index)))
        return false; // (the server was forgotten since)
    ip_addr_copy(server, *dns_getserver(lookup.server_index));
    port = dns::port;
    return true;
}

bool Stack::send_query(Lookup& lookup) {
    size_t slot = size_t(&lookup - m_lookups);
    uint32_t wait = resend_ms;
    if (lookup.deadline_ns > g_now_ns && (lookup.deadline_ns - g_now_ns) / 1'000'000 < wait)
        wait = uint32_t((lookup.deadline_ns - g_now_ns) / 1'000'000);
    sys_timeout(wait == 0 ? 1 : wait, tick, slot_argument(slot));
    ip_addr_t server;
    uint16_t port = 0;
    if (!lookup_server(lookup, server, port))
        return false;
    uint8_t query[dns::max_message];
    size_t length =
        dns::write_query(lookup.id, {lookup.name, lookup.name_length}, lookup.type, query);
    struct pbuf* p = length ? pbuf_alloc(PBUF_TRANSPORT, uint16_t(length), PBUF_RAM) : nullptr;
    if (!p)
        return false; // (sent again at the tick)
    pbuf_take(p, query, uint16_t(length));
    err_t sent = udp_sendto(lookup.pcb, p, &server, port);
    pbuf_free(p);
    ++lookup.sends;
    return sent == ERR_OK;
}

bool Stack::next_server(Lookup& lookup) {
    lookup.sends = 0;
    lookup.id = new_id();
    if (lookup.own_server)
        return false;
    lookup.server_index = known_server(uint8_t(lookup.server_index + 1));
    return lookup.server_index < DNS_MAX_SERVERS;
}

void Stack::lookup_tick(size_t slot) {
    Lookup& lookup = m_lookups[slot];
    if (!lookup.used)
        return;
    if (g_now_ns >= lookup.deadline_ns) {
        finish_lookup(lookup, "no answer in time");
        return;
    }
    if (lookup.sends >= sends_per_server && !next_server(lookup)) {
        // Every server asked: round again from the first.
        lookup.server_index = lookup.own_server ? 0 : known_server(0);
    }
    send_query(lookup);
}

void Stack::on_dns_answer(Lookup& lookup, struct pbuf* p, const ip_addr_t* from, uint16_t port) {
    alignas(8) uint8_t message[dns::max_message];
    uint16_t length = p->tot_len;
    bool fits = length <= sizeof message;
    if (fits)
        pbuf_copy_partial(p, message, length, 0);
    pbuf_free(p);
    ip_addr_t server;
    uint16_t server_port = 0;
    if (!lookup_server(lookup, server, server_port) || !ip_addr_cmp(&server, from) ||
        server_port != port)
        return; // not from the server asked
    dns::Status status =
        fits ? dns::read_response({message, length}, lookup.id, {lookup.name, lookup.name_length},
                                  lookup.type, lookup.type == dns::Type::A ? lookup.v4 : lookup.v6)
             : dns::Status::Malformed;
    switch (status) {
    case dns::Status::NotOurs:
        return;
    case dns::Status::Answered:
    case dns::Status::NoRecords:
        next_query(lookup);
        return;
    case dns::Status::NoSuchName:
        finish_lookup(lookup, "no such name");
        return;
    case dns::Status::ServerFailed:
    case dns::Status::Truncated:
    case dns::Status::Malformed:
        if (!next_server(lookup)) {
            finish_lookup(lookup, dns::to_string(status));
            return;
        }
        sys_untimeout(tick, slot_argument(size_t(&lookup - m_lookups)));
        send_query(lookup);
        return;
    }
}

void Stack::next_query(Lookup& lookup) {
    if (lookup.type == dns::Type::Aaaa) {
        finish_lookup(lookup);
        return;
    }
    lookup.type = dns::Type::Aaaa;
    lookup.id = new_id();
    lookup.sends = 0;
    sys_untimeout(tick, slot_argument(size_t(&lookup - m_lookups)));
    send_query(lookup);
}

void Stack::finish_lookup(Lookup& lookup, std::string_view failure) {
    sys_untimeout(tick, slot_argument(size_t(&lookup - m_lookups)));
    udp_remove(lookup.pcb); // (lwIP touches no pcb after its receive callback)
    size_t count = lookup.v4.count + lookup.v6.count;
    uint32_t call_id = lookup.call_id;
    if (failure.empty() && count == 0)
        failure = "the name has no addresses";
    if (!failure.empty()) {
        lookup = {};
        answer_exception(call_id, ExceptionType::Failed, failure);
        return;
    }
    capnp::MessageBuilder builder(m_later_reply);
    Resolver::ResolveResults::Builder results(builder.init_root(
        Resolver::ResolveResults::data_words, Resolver::ResolveResults::pointer_count));
    auto list = results.init_addresses(uint32_t(count));
    uint32_t at = 0;
    for (const dns::Addresses* found : {&lookup.v4, &lookup.v6})
        for (size_t i = 0; i < found->count; ++i)
            list.set(at++, {found->bytes[i], found->length[i]});
    lookup = {};
    answer(call_id, builder.words(), false);
}

} // namespace capos::netstack
