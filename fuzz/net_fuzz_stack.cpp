// The stack of net_fuzz_stack.h: its setup, the saved state, records, the
// checks of every frame it sends, and the leak check.
#include "fuzz/net_fuzz_stack.h"

#include "fuzz/fuzz_checks.h"
#include "tests/host/lwip_netif.h"

#include "lwip/dhcp.h"
#include "lwip/dhcp6.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/nd6.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "lib/net/lwip/host_hooks.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace capos::net::testing;
using capos::fuzz::require;

// The stack's own variables, saved and restored with lwIP's.
namespace {
struct netif stack_netif;
} // namespace
using capos::net::lwip_host::now_ms;
using capos::net::lwip_host::random_state;

// The sections' bounds, from the linker.
extern "C" char __start_lwip_bss[], __stop_lwip_bss[], __start_lwip_data[], __stop_lwip_data[];

namespace capos::net::fuzz {
namespace {

FrameObserver frame_observer = nullptr;
std::vector<char> saved_bss, saved_data;
struct netif saved_netif;
uint32_t saved_now_ms, saved_random_state;
// lwIP's heap and pool statistics at the end of start_stack().
struct stats_mem saved_heap;
struct stats_mem saved_pools[MEMP_MAX];

// What a well-behaved stack sends: a frame no longer than Ethernet allows,
// from its own MAC; an IPv4 header with a correct checksum; a correct
// checksum on every unfragmented IPv4 TCP, UDP and ICMP message and every
// IPv6 TCP, UDP and ICMPv6 message without extension headers.
void check_sent_frame(std::span<const uint8_t> frame) {
    require(frame.size() >= ethernet_header && frame.size() <= 1514);
    require(std::equal(stack_mac.begin(), stack_mac.end(), frame.begin() + 6));
    auto packet = frame.subspan(ethernet_header);
    uint16_t type = get16(frame, 12);
    if (type == ethertype_ipv4) {
        require(ipv4_header_valid(packet));
        bool fragment = (get16(packet, 6) & 0x3fff) != 0; // more fragments, or an offset
        if (fragment)
            return;
        if (packet[9] == protocol_tcp || packet[9] == protocol_udp)
            require(transport4_checksum_valid(packet));
        if (packet[9] == protocol_icmp) {
            size_t header = static_cast<size_t>(packet[0] & 0x0f) * 4;
            size_t total = get16(packet, 2);
            require(total >= header && total <= packet.size());
            require(checksum(add_words(0, packet.subspan(header, total - header))) == 0);
        }
    } else if (type == ethertype_ipv6) {
        require(packet.size() >= ipv6_header && packet[0] >> 4 == 6);
        uint8_t next = packet[6];
        if (next == protocol_tcp || next == protocol_udp || next == protocol_icmp6)
            require(transport6_checksum_valid(packet));
    } else {
        require(type == ethertype_arp);
    }
}

err_t send_frame(struct netif*, struct pbuf* frame) {
    Bytes bytes(frame->tot_len);
    require(pbuf_copy_partial(frame, bytes.data(), frame->tot_len, 0) == frame->tot_len);
    check_sent_frame(bytes);
    if (frame_observer != nullptr)
        frame_observer(bytes);
    return ERR_OK;
}

err_t init_netif(struct netif* netif) {
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->mtu = 1500;
    netif->mtu6 = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    std::copy(stack_mac.begin(), stack_mac.end(), netif->hwaddr);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = send_frame;
    return ERR_OK;
}

void advance_clock(unsigned steps) {
    for (unsigned i = 0; i < steps; ++i) {
        now_ms += clock_step_ms;
        sys_check_timeouts();
    }
}

// The TCP listener's connections echo what they receive, as far as the send
// buffer takes it, and close when the peer does.
err_t echo_received(void*, struct tcp_pcb* pcb, struct pbuf* data, err_t error) {
    if (data == nullptr) {
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    if (error == ERR_OK) {
        for (struct pbuf* part = data; part != nullptr; part = part->next) {
            if (part->len > tcp_sndbuf(pcb) ||
                tcp_write(pcb, part->payload, part->len, TCP_WRITE_FLAG_COPY) != ERR_OK)
                break;
        }
        tcp_output(pcb);
    }
    tcp_recved(pcb, data->tot_len);
    pbuf_free(data);
    return ERR_OK;
}

err_t accept_connection(void*, struct tcp_pcb* pcb, err_t error) {
    if (error != ERR_OK || pcb == nullptr)
        return ERR_VAL;
    tcp_recv(pcb, echo_received);
    return ERR_OK;
}

void echo_datagram(void*, struct udp_pcb* pcb, struct pbuf* datagram, const ip_addr_t* from,
                   u16_t port) {
    ip_addr_t to = *from;
    udp_sendto(pcb, datagram, &to, port);
    pbuf_free(datagram);
}

void name_found(const char*, const ip_addr_t*, void*) {}

void netif_changed(struct netif*) {}

void deliver(std::span<const uint8_t> frame) {
    (void)deliver_frame(stack_netif, frame);
}

// Frames lent to lwIP, as the network stack lends them
// (user/services/net/netstack.cpp): a custom PBUF_REF pbuf over the start of
// the frame's buffer, here one allocated alone, so that AddressSanitizer sees
// any access outside it; each slot's buffer is freed when lwIP frees its
// pbuf, or by reset_stack() when an input left it held.
struct LentFrame {
    struct pbuf_custom custom; // first: the free function gets its pbuf
    uint8_t* bytes = nullptr;  // held by lwIP while not null
};
LentFrame lent[lent_frames];
size_t lent_count = 0;

void lent_frame_freed(struct pbuf* p) {
    auto* frame = reinterpret_cast<LentFrame*>(p);
    require(frame >= lent && frame < lent + lent_frames && frame->bytes != nullptr);
    delete[] frame->bytes;
    frame->bytes = nullptr;
    --lent_count;
}

void deliver_lent(std::span<const uint8_t> frame) {
    LentFrame* slot = std::find_if(std::begin(lent), std::end(lent),
                                   [](const LentFrame& f) { return f.bytes == nullptr; });
    if (slot == std::end(lent) || frame.empty() || frame.size() > max_lent_frame)
        return deliver(frame); // copied, as the stack does
    slot->bytes = new uint8_t[lent_buffer_bytes]();
    std::copy(frame.begin(), frame.end(), slot->bytes);
    ++lent_count;
    slot->custom.custom_free_function = lent_frame_freed;
    struct pbuf* p =
        pbuf_alloced_custom(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_REF, &slot->custom,
                            slot->bytes, static_cast<u16_t>(lent_buffer_bytes));
    require(p != nullptr);
    if (stack_netif.input(p, &stack_netif) != ERR_OK)
        pbuf_free(p);
}

ip4_addr_t lwip_ip4(const Ip4& address) {
    ip4_addr_t lwip;
    IP4_ADDR(&lwip, address[0], address[1], address[2], address[3]);
    return lwip;
}

void save_section(const char* start, const char* stop, std::vector<char>& into) {
    into.assign(start, stop);
}

void restore_section(char* start, const std::vector<char>& from) {
    std::memcpy(start, from.data(), from.size());
}

} // namespace

void set_frame_observer(FrameObserver observer) {
    frame_observer = observer;
}

void start_stack() {
    lwip_init();
    ip4_addr_t address = lwip_ip4(stack_ip), mask = lwip_ip4({255, 255, 255, 0}),
               gateway = lwip_ip4(gateway_ip);
    require(netif_add(&stack_netif, &address, &mask, &gateway, nullptr, init_netif,
                      ethernet_input) != nullptr);
    netif_set_status_callback(&stack_netif, netif_changed);
    netif_set_link_callback(&stack_netif, netif_changed);
    netif_set_default(&stack_netif);
    netif_set_up(&stack_netif);
    netif_set_link_up(&stack_netif);

    // IPv4 DHCP alongside the static address, so that offers and acks are
    // parsed (and may change the address); IPv6 link-local, SLAAC and
    // stateless DHCPv6.
    require(dhcp_start(&stack_netif) == ERR_OK);
    netif_create_ip6_linklocal_address(&stack_netif, 1);
    netif_set_ip6_autoconfig_enabled(&stack_netif, 1);
    require(dhcp6_enable_stateless(&stack_netif) == ERR_OK);

    struct tcp_pcb* listener = tcp_new_ip_type(IPADDR_TYPE_ANY);
    require(listener != nullptr && tcp_bind(listener, IP_ANY_TYPE, tcp_port) == ERR_OK);
    listener = tcp_listen(listener);
    require(listener != nullptr);
    tcp_accept(listener, accept_connection);

    struct udp_pcb* udp = udp_new_ip_type(IPADDR_TYPE_ANY);
    require(udp != nullptr && udp_bind(udp, IP_ANY_TYPE, udp_port) == ERR_OK);
    udp_recv(udp, echo_datagram, nullptr);

    // The DNS query waits for the server's MAC; the server's and the
    // gateway's ARP replies send it and fill the ARP table.
    ip_addr_t server;
    ip_addr_copy_from_ip4(server, lwip_ip4(dns_ip));
    dns_setserver(0, &server);
    ip_addr_t found;
    require(dns_gethostbyname(dns_name, &found, name_found, nullptr) == ERR_INPROGRESS);
    deliver(
        ethernet(stack_mac, dns_mac, ethertype_arp, arp(2, dns_mac, dns_ip, stack_mac, stack_ip)));
    deliver(ethernet(stack_mac, gateway_mac, ethertype_arp,
                     arp(2, gateway_mac, gateway_ip, stack_mac, stack_ip)));

    // Duplicate address detection makes the link-local address preferred.
    advance_clock(12);

    save_section(__start_lwip_bss, __stop_lwip_bss, saved_bss);
    save_section(__start_lwip_data, __stop_lwip_data, saved_data);
    saved_netif = stack_netif;
    saved_now_ms = now_ms;
    saved_random_state = random_state;
    saved_heap = lwip_stats.mem;
    for (int pool = 0; pool < MEMP_MAX; ++pool)
        saved_pools[pool] = *lwip_stats.memp[pool];
}

void reset_stack() {
    restore_section(__start_lwip_bss, saved_bss);
    restore_section(__start_lwip_data, saved_data);
    stack_netif = saved_netif;
    now_ms = saved_now_ms;
    random_state = saved_random_state;
    // Frames the last input left lent belong to the state just dropped.
    for (LentFrame& frame : lent) {
        delete[] frame.bytes;
        frame.bytes = nullptr;
    }
    lent_count = 0;
}

std::span<const uint8_t> apply_record(std::span<const uint8_t> input) {
    if (input.empty())
        return input;
    uint8_t kind = input[0];
    input = input.subspan(1);
    if (kind >= first_clock_record) {
        advance_clock(kind - first_clock_record + 1u);
        return input;
    }
    size_t length = 0;
    if (input.size() >= 2) {
        length = std::min<size_t>(get16(input, 0), max_frame);
        input = input.subspan(2);
    } else {
        input = {};
    }
    length = std::min(length, input.size());
    if (kind < first_copied_record)
        deliver_lent(input.first(length));
    else
        deliver(input.first(length));
    return input.subspan(length);
}

void check_no_leak() {
    // 1. Every connection ends, with whatever it queued.
    auto abort_connections = [] {
        while (tcp_active_pcbs != nullptr)
            tcp_abort(tcp_active_pcbs);
        while (tcp_tw_pcbs != nullptr)
            tcp_abort(tcp_tw_pcbs);
    };
    abort_connections();
    // 2. Reassembly gives up on incomplete datagrams (IPv4 after 15 s, IPv6
    // after 60 s).
    advance_clock(64 * 1000 / clock_step_ms);
    // 3. Frames waiting for an address to be resolved, including any the
    // timers just sent, are dropped; connections a timer opened end.
    etharp_cleanup_netif(&stack_netif);
    nd6_cleanup_netif(&stack_netif);
    abort_connections();

    // Nothing may hold a receive buffer, a buffer reference, heap memory or a
    // queue entry; other pools (pcbs, DNS's per-query UDP pcb, timeouts, MLD
    // groups) may hold what they held at the start or less.
    require(lent_count == 0);
    require(lwip_stats.mem.used == saved_heap.used);
    require(lwip_stats.mem.illegal == 0);
    for (int pool = 0; pool < MEMP_MAX; ++pool) {
        const struct stats_mem& now = *lwip_stats.memp[pool];
        const struct stats_mem& then = saved_pools[pool];
        require(now.illegal == 0);
        switch (pool) {
        case MEMP_PBUF_POOL:
        case MEMP_PBUF:
        case MEMP_TCP_SEG:
        case MEMP_REASSDATA:
        case MEMP_FRAG_PBUF:
        case MEMP_ARP_QUEUE:
        case MEMP_IP6_REASSDATA:
        case MEMP_ND6_QUEUE:
        case MEMP_TCP_PCB:
            require(now.used == then.used);
            break;
        default:
            require(now.used <= then.used);
        }
    }
}

uint32_t dhcp_transaction() {
    return netif_dhcp_data(&stack_netif)->xid;
}

void append_frame_record(Bytes& input, std::span<const uint8_t> frame, bool copied) {
    input.push_back(copied ? first_copied_record : 0);
    input.push_back(static_cast<uint8_t>(frame.size() >> 8));
    input.push_back(static_cast<uint8_t>(frame.size()));
    append(input, frame);
}

void append_clock_record(Bytes& input, unsigned steps) {
    input.push_back(static_cast<uint8_t>(first_clock_record + steps - 1));
}

} // namespace capos::net::fuzz
