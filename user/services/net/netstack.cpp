// netstack: the network stack, lwIP 2.1.3 (lib/net/lwip) over one Nic
// (docs/networking.md "The network stack"), serving NetworkManager on the
// endpoint it is granted as "net", which the service exports.
//
// Grants: "nic" (the interface), "timer" (lwIP's clock and timeouts),
// "entropy" (lwIP's random numbers: initial sequence numbers, ports,
// DHCP and DNS transaction ids), "net" (the endpoint to serve).
//
// One thread, one loop: the stack keeps in flight together a Nic.receive,
// the sends of frames lwIP made, a Timer.sleep to its next timeout and a
// RECV of its callers' next call, and takes whichever completes first
// (rt::RingClient::wait_any). lwIP runs only inside this loop (NO_SYS), so
// nothing in it is shared.
//
// Frames: a received frame is lent to lwIP as a pbuf over its buffer in the
// frame memory (no copy), given back with the receive after lwIP lets it go;
// with half the receive buffers lent, a frame is copied into a pbuf of lwIP's
// pool instead and its buffer given back with the next receive; a frame lwIP
// sends is copied into a free send buffer and goes with the others made in
// the same turn of the loop, in one Nic.send (64 at most: a turn that makes
// more sends each 64 as they are made). With no send buffer or send free
// the frame is dropped (TCP sends it again; counted as the link's drop).
//
// The interface configures itself: DHCPv4 (renewed by lwIP), an IPv6
// link-local address, SLAAC from routers' advertisements and stateless
// DHCPv6 for DNS servers. Each change of its IPv4 address is logged.
#include "user/services/net/stack.h"

#include "lib/net/address.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/rt/syscall.h"

extern "C" {
#include "lwip/dhcp.h"
#include "lwip/dhcp6.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/icmp6.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/raw.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
}

#include <optional>

namespace capos::netstack {

using rt::Line;
using schema::CapException;

namespace {
// How long the stack goes on once every client has gone, while connections
// they closed still have data or a FIN unacknowledged: a few of TCP's
// retransmissions, not its whole patience.
constexpr uint64_t drain_limit_ns = 10'000'000'000;

// How long a received segment's acknowledgement waits for a reply to carry
// it, while nothing else comes. lwIP acknowledges every second segment at
// once and leaves a lone one to its 250 ms timer: a sender in slow start,
// waiting for that acknowledgement, would stall that long each time.
constexpr uint64_t ack_delay_ns = 1'000'000;

// An echo's identifier: the same for every request this stack sends.
constexpr uint16_t echo_identifier = 0xc05a;
// The longest a loop turn sleeps without looking at lwIP's timeouts again:
// one armed sleep cannot be cut short when lwIP asks for an earlier one.
constexpr uint32_t longest_sleep_ms = 100;
} // namespace

[[noreturn]] void fail(std::string_view what, const gen::CallError& error) {
    Line line("netstack: ");
    line.add(what).add(": ").add(rt::call_error_text(error));
    (void)rt::debug_write_line(line.view());
    rt::exit(1);
}

[[noreturn]] void fail(std::string_view what) {
    (void)rt::debug_write_line(Line("netstack: ").add(what).view());
    rt::exit(1);
}

// --- The clock and random numbers lwIP asks for ---------------------------------

namespace {
std::optional<rt::Capability<schema::Timer>> g_timer;
std::optional<rt::Capability<schema::EntropySource>> g_entropy;
} // namespace
uint64_t g_now_ns = 0;
Stack* g_stack = nullptr;
namespace {

void read_clock() {
    auto now = (*g_timer)->now();
    if (now.is_error())
        fail("Timer.now", now.error());
    g_now_ns = now.value().ns();
}

uint8_t g_random[256];
size_t g_random_left = 0;

} // namespace
} // namespace capos::netstack

using namespace capos;
using namespace capos::netstack;

extern "C" u32_t sys_now(void) {
    // Read once per turn of the loop: lwIP's timeouts and TCP's timers need
    // milliseconds, not the instant of each call.
    return u32_t(g_now_ns / 1'000'000);
}

extern "C" uint32_t capos_lwip_random(void) {
    if (g_random_left < 4) {
        auto filled = (*g_entropy)->fill(sizeof g_random);
        if (filled.is_error() || filled.value().bytes().size() != sizeof g_random)
            fail("EntropySource.fill failed");
        __builtin_memcpy(g_random, filled.value().bytes().data(), sizeof g_random);
        g_random_left = sizeof g_random;
    }
    g_random_left -= 4;
    uint32_t value;
    __builtin_memcpy(&value, g_random + g_random_left, 4);
    return value;
}

extern "C" void capos_lwip_assert(const char* message, const char* file, int line) {
    rt::panic(Line("lwIP: ")
                  .add(message)
                  .add(" (")
                  .add(file)
                  .add(":")
                  .udec(uint64_t(line))
                  .add(")")
                  .view());
}

namespace capos::netstack {
namespace {

// --- The stack --------------------------------------------------------------------

// Whether a call failed because its server has gone (a driver that
// crashed, which init may start again).
bool gone(const gen::CallError& error) {
    return (error.kind == gen::CallErrorKind::Transport &&
            error.transport_error == int32_t(abi::TransportError::Disconnected)) ||
           (error.kind == gen::CallErrorKind::Exception &&
            error.exception.type == ExceptionType::Disconnected);
}

// lwIP's timeouts of a waiting caller and of an echo, by slot.
void wait_timeout(void* slot) {
    g_stack->wait_timed_out(size_t(uintptr_t(slot)));
}
void echo_timeout(void* slot) {
    g_stack->echo_timed_out(size_t(uintptr_t(slot)));
}

err_t link_output(struct netif*, struct pbuf* p) {
    return g_stack->link_output(p);
}

err_t netif_setup(struct netif* netif) {
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = link_output;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
                   NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
    return ERR_OK;
}

void status_callback(struct netif*) {
    g_stack->status_changed();
}

u8_t icmp4_received(void*, struct raw_pcb*, struct pbuf* p, const ip_addr_t* from) {
    return g_stack->echo_reply(p, from, false);
}

u8_t icmp6_received(void*, struct raw_pcb*, struct pbuf* p, const ip_addr_t* from) {
    return g_stack->echo_reply(p, from, true);
}

} // namespace

bool Stack::attach() {
    auto info = (*m_nic)->info();
    if (info.is_error())
        fail("Nic.info", info.error());
    if (info.value().mac().size() != 6)
        fail("the Nic's MAC is not 6 bytes");
    __builtin_memcpy(m_mac, info.value().mac().data(), 6);
    m_mtu = info.value().mtu();
    m_receive_buffers = info.value().receive_buffers();
    m_send_buffers = info.value().send_buffers();
    bool link_up = info.value().link_up(); // (the next call reuses the answer's buffer)
    if (m_receive_buffers == 0 || m_receive_buffers > max_receive_buffers)
        fail("the Nic's receive buffers are none or too many");
    if (m_send_buffers == 0 || m_send_buffers > std::size(m_free_send))
        fail("the Nic's send buffers are none or too many");
    auto buffers = (*m_nic)->buffers();
    if (buffers.is_error())
        fail("Nic.buffers", buffers.error());
    m_frame_memory.emplace(abi::CapId{buffers.value().memory()});
    uint32_t pages =
        uint32_t((uint64_t(m_receive_buffers) + m_send_buffers) * Nic::frame_bytes / 4096);
    auto mapped = (*m_frame_memory)->map(0, 0, pages, schema::Access::ReadWrite);
    if (mapped.is_error())
        fail("mapping the frame memory", mapped.error());
    m_frames = reinterpret_cast<uint8_t*>(mapped.value().address());
    m_free_send_count = 0;
    for (uint16_t i = 0; i < m_send_buffers; ++i)
        m_free_send[m_free_send_count++] = uint16_t(m_receive_buffers + m_send_buffers - 1 - i);
    m_done_count = 0;
    m_batch_count = 0;
    return link_up;
}

void Stack::rebind(std::string_view what, const gen::CallError& error) {
    if (!m_supervisor)
        fail(what, error);
    (void)Line("netstack: en0: ")
        .add(what)
        .add(": ")
        .add(rt::call_error_text(error))
        .add("; waiting for the driver to be started again")
        .print();
    // The driver's other calls end with it: each is waited for, and what
    // they held (frames in flight, buffers) is forgotten with its memory.
    if (m_receive.in_flight())
        (void)m_receive.finish<Nic::ReceiveResults>(rt::ring().wait(m_receive.ticket()));
    for (Send& send : m_sends) {
        if (send.call.in_flight())
            (void)send.call.finish<Nic::SendResults>(rt::ring().wait(send.call.ticket()));
        send.count = 0;
    }
    m_frames_unsent += m_batch_count;
    // Frames lent to lwIP keep the old frame memory mapped until it lets
    // the last of them go (none are lent from then on).
    if (m_lent_count != 0) {
        for (LentFrame& lent : m_lent)
            lent.retired = lent.lent;
        m_retired_count = m_lent_count;
        m_lent_count = 0;
        m_retired_memory.emplace(std::move(*m_frame_memory));
        m_retired_frames = m_frames;
    } else {
        (void)(*m_frame_memory)->unmap(reinterpret_cast<uint64_t>(m_frames));
    }
    m_frame_memory.reset();
    m_frames = nullptr;
    auto again = (*m_supervisor)->reconnect("nic");
    if (again.is_error())
        fail("the driver is not started again: Supervisor.reconnect", again.error());
    m_nic.emplace(rt::received_capability(again.value().cap()));
    bool link_up = attach();
    if (link_up)
        netif_set_link_up(&m_netif);
    else
        netif_set_link_down(&m_netif);
    ++m_rebinds;
    (void)Line("netstack: en0: bound to the driver again (").udec(m_rebinds).add(")").print();
}

void Stack::start() {
    bool link_up = attach();
    read_clock();
    lwip_init();
    ip4_addr_t any{};
    if (!netif_add(&m_netif, &any, &any, &any, nullptr, netif_setup, ethernet_input))
        fail("lwIP refused the interface");
    __builtin_memcpy(m_netif.hwaddr, m_mac, 6);
    m_netif.mtu = m_mtu;
    m_netif.mtu6 = m_mtu;
    netif_set_status_callback(&m_netif, status_callback);
    netif_set_default(&m_netif);
    netif_set_up(&m_netif);
    if (link_up)
        netif_set_link_up(&m_netif);
    netif_create_ip6_linklocal_address(&m_netif, 1);
    netif_set_ip6_autoconfig_enabled(&m_netif, 1);
    if (dhcp6_enable_stateless(&m_netif) != ERR_OK || dhcp_start(&m_netif) != ERR_OK)
        fail("lwIP could not start DHCP");

    m_icmp4 = raw_new(IP_PROTO_ICMP);
    m_icmp6 = raw_new_ip_type(IPADDR_TYPE_V6, IP6_NEXTH_ICMP6);
    if (!m_icmp4 || !m_icmp6)
        fail("lwIP has no room for the ICMP endpoints");
    raw_recv(m_icmp4, icmp4_received, nullptr);
    raw_recv(m_icmp6, icmp6_received, nullptr);
    // ICMPv6's checksum covers a pseudo-header lwIP knows: it computes it.
    m_icmp6->chksum_reqd = 1;
    m_icmp6->chksum_offset = 2;

    char mac_text[net::mac_text_bytes];
    (void)Line("netstack: en0: MAC ")
        .add(net::format_mac(std::span<const uint8_t, 6>(m_mac, 6), mac_text))
        .add(", MTU ")
        .udec(m_mtu)
        .add(", asking for an address (DHCP)")
        .print();
}

// --- Frames -------------------------------------------------------------------------

void Stack::submit_receive() {
    bool started = m_receive.start<Nic::ReceiveParams>(
        m_nic->id().raw, Nic::interface_id, uint16_t(Nic::Method::Receive),
        [&](Nic::ReceiveParams::Builder params) {
            auto done = params.init_done(uint32_t(m_done_count));
            for (size_t i = 0; i < m_done_count; ++i)
                done.set(uint32_t(i), m_done[i]);
        });
    if (!started)
        fail("Nic.receive's params do not fit");
    m_done_count = 0;
}

void Stack::take_frames(const abi::Cqe& cqe) {
    auto received = m_receive.finish<Nic::ReceiveResults>(cqe);
    if (received.is_error()) {
        if (!gone(received.error()))
            fail("Nic.receive", received.error());
        gen::CallError error = received.error();
        rebind("Nic.receive", error);
        return;
    }
    auto frames = received.value().frames();
    m_receive_answers += frames.size() != 0;
    for (uint32_t i = 0; i < frames.size() && i < Nic::max_batch; ++i) {
        uint16_t buffer = frames[i].buffer();
        uint16_t length = frames[i].length();
        if (buffer >= m_receive_buffers || length > Nic::max_frame ||
            (m_lent[buffer].lent && !m_lent[buffer].retired))
            continue; // (the driver checks all three: a driver that lies is ignored;
                      // a buffer lwIP holds is never handed out again)
        ++m_frames_received;
        struct pbuf* p = frame_pbuf(buffer, length);
        if (!p) {
            LINK_STATS_INC(link.memerr);
            LINK_STATS_INC(link.drop);
            continue;
        }
        LINK_STATS_INC(link.recv);
        if (m_netif.input(p, &m_netif) != ERR_OK)
            pbuf_free(p);
    }
}

struct pbuf* Stack::frame_pbuf(uint16_t buffer, uint16_t length) {
    uint8_t* frame = m_frames + size_t(buffer) * Nic::frame_bytes;
    if (m_lent_count < m_receive_buffers / 2 && !m_retired_memory) {
        LentFrame& lent = m_lent[buffer];
        lent.lent = true;
        ++m_lent_count;
        ++m_frames_lent;
        lent.custom.custom_free_function = [](struct pbuf* p) { g_stack->frame_freed(p); };
        return pbuf_alloced_custom(PBUF_RAW, length, PBUF_REF, &lent.custom, frame,
                                   Nic::frame_bytes);
    }
    m_done[m_done_count++] = buffer;
    struct pbuf* p = pbuf_alloc(PBUF_RAW, length, PBUF_POOL);
    if (p)
        pbuf_take(p, frame, length);
    return p;
}

void Stack::frame_freed(struct pbuf* p) {
    static_assert(offsetof(LentFrame, custom) == 0 && offsetof(struct pbuf_custom, pbuf) == 0);
    auto* lent = reinterpret_cast<LentFrame*>(p);
    auto buffer = uint16_t(lent - m_lent);
    lent->lent = false;
    if (lent->retired) {
        lent->retired = false;
        if (--m_retired_count == 0) {
            (void)(*m_retired_memory)->unmap(reinterpret_cast<uint64_t>(m_retired_frames));
            m_retired_memory.reset();
            m_retired_frames = nullptr;
        }
        return;
    }
    --m_lent_count;
    m_done[m_done_count++] = buffer;
}

err_t Stack::link_output(struct pbuf* p) {
    // A turn that makes more frames than one send carries sends them as it
    // goes, while a send is free.
    if (m_batch_count == Nic::max_batch)
        flush_sends();
    if (m_free_send_count == 0 || m_batch_count == Nic::max_batch || p->tot_len > Nic::max_frame) {
        ++m_frames_unsent;
        LINK_STATS_INC(link.drop);
        return ERR_MEM;
    }
    uint16_t buffer = m_free_send[--m_free_send_count];
    pbuf_copy_partial(p, m_frames + size_t(buffer) * Nic::frame_bytes, p->tot_len, 0);
    m_batch[m_batch_count] = buffer;
    m_batch_length[m_batch_count] = p->tot_len;
    ++m_batch_count;
    LINK_STATS_INC(link.xmit);
    return ERR_OK;
}

void Stack::flush_sends() {
    if (m_batch_count == 0)
        return;
    for (Send& send : m_sends) {
        if (send.call.in_flight())
            continue;
        bool started = send.call.start<Nic::SendParams>(
            m_nic->id().raw, Nic::interface_id, uint16_t(Nic::Method::Send),
            [&](Nic::SendParams::Builder params) {
                auto frames = params.init_frames(uint32_t(m_batch_count));
                for (size_t i = 0; i < m_batch_count; ++i) {
                    frames[uint32_t(i)].set_buffer(m_batch[i]);
                    frames[uint32_t(i)].set_length(m_batch_length[i]);
                }
            });
        if (!started)
            fail("Nic.send's params do not fit");
        __builtin_memcpy(send.buffers, m_batch, m_batch_count * sizeof m_batch[0]);
        send.count = m_batch_count;
        m_frames_sent += m_batch_count;
        ++m_send_calls;
        m_batch_count = 0;
        return;
    }
    // Every send in flight: this turn's frames wait for one to be answered.
}

void Stack::sent(size_t slot, const abi::Cqe& cqe) {
    Send& send = m_sends[slot];
    auto answered = send.call.finish<Nic::SendResults>(cqe);
    if (answered.is_error()) {
        if (!gone(answered.error()))
            fail("Nic.send", answered.error());
        send.count = 0;
        gen::CallError error = answered.error();
        rebind("Nic.send", error);
        return;
    }
    for (size_t i = 0; i < send.count; ++i)
        m_free_send[m_free_send_count++] = send.buffers[i];
    send.count = 0;
}

// --- Time ------------------------------------------------------------------------

void Stack::arm_sleep() {
    if (m_sleep.in_flight())
        return;
    uint32_t ms = sys_timeouts_sleeptime();
    if (ms > longest_sleep_ms)
        ms = longest_sleep_ms;
    uint64_t ns = uint64_t(ms == 0 ? 1 : ms) * 1'000'000;
    bool started = m_sleep.start<schema::Timer::SleepParams>(
        g_timer->id().raw, schema::Timer::interface_id, uint16_t(schema::Timer::Method::Sleep),
        [&](schema::Timer::SleepParams::Builder params) { params.set_ns(ns); });
    if (!started)
        fail("Timer.sleep's params do not fit");
}

// --- Configuration ------------------------------------------------------------

void Stack::status_changed() {
    // Called for every change of the interface (IPv6 addresses too): a line
    // only when its IPv4 address is another.
    bool now = configured();
    uint32_t address_now = ip4_addr_get_u32(netif_ip4_addr(&m_netif));
    bool changed = address_now != m_logged_address;
    m_logged_address = address_now;
    log_ipv6_addresses();
    if (now && changed) {
        char address[IP4ADDR_STRLEN_MAX];
        char mask[IP4ADDR_STRLEN_MAX];
        char gateway[IP4ADDR_STRLEN_MAX];
        ip4addr_ntoa_r(netif_ip4_addr(&m_netif), address, sizeof address);
        ip4addr_ntoa_r(netif_ip4_netmask(&m_netif), mask, sizeof mask);
        ip4addr_ntoa_r(netif_ip4_gw(&m_netif), gateway, sizeof gateway);
        (void)Line("netstack: en0: ")
            .add(address)
            .add(" netmask ")
            .add(mask)
            .add(" gateway ")
            .add(gateway)
            .add(dhcp_supplied_address(&m_netif) ? " (DHCP)" : "")
            .print();
    } else if (changed) {
        (void)Line("netstack: en0: no IPv4 address").print();
    }
    if (!now)
        return;
    for (size_t slot = 0; slot < max_waiting_callers; ++slot) {
        if (m_waiting[slot].used) {
            sys_untimeout(wait_timeout, slot_argument(slot));
            answer_wait(slot, true);
        }
    }
}

void Stack::log_ipv6_addresses() {
    // A line for each IPv6 address as it becomes valid (after duplicate
    // address detection).
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
        bool valid = ip6_addr_isvalid(netif_ip6_addr_state(&m_netif, i));
        const uint32_t* words = netif_ip6_addr(&m_netif, i)->addr;
        bool same = __builtin_memcmp(m_logged_ip6[i], words, 16) == 0;
        if (!valid || (m_ip6_logged[i] && same)) {
            m_ip6_logged[i] = m_ip6_logged[i] && valid;
            continue;
        }
        m_ip6_logged[i] = true;
        __builtin_memcpy(m_logged_ip6[i], words, 16);
        char text[net::ipv6_text_bytes];
        (void)Line("netstack: en0: ")
            .add(net::format_ip({reinterpret_cast<const uint8_t*>(words), 16}, text))
            .add(i == 0 ? " (link-local)" : " (SLAAC)")
            .print();
    }
}

void Stack::wait_timed_out(size_t slot) {
    if (m_waiting[slot].used)
        answer_wait(slot, false);
}

void Stack::answer_wait(size_t slot, bool is_configured) {
    m_waiting[slot].used = false;
    capnp::MessageBuilder builder(m_later_reply);
    NetworkManager::WaitConfiguredResults::Builder results(
        builder.init_root(NetworkManager::WaitConfiguredResults::data_words,
                          NetworkManager::WaitConfiguredResults::pointer_count));
    results.set_configured(is_configured);
    answer(m_waiting[slot].call_id, builder.words(), false);
}

// --- ICMP echo ------------------------------------------------------------------

u8_t Stack::echo_reply(struct pbuf* p, const ip_addr_t* from, bool v6) {
    // The pbuf starts at the IP header.
    uint16_t header = 0;
    uint8_t ttl = 0;
    if (v6) {
        if (p->len < IP6_HLEN)
            return 0;
        auto* ip6 = static_cast<const struct ip6_hdr*>(p->payload);
        header = IP6_HLEN;
        ttl = IP6H_HOPLIM(ip6);
    } else {
        if (p->len < IP_HLEN)
            return 0;
        auto* ip4 = static_cast<const struct ip_hdr*>(p->payload);
        header = uint16_t(IPH_HL_BYTES(ip4));
        ttl = IPH_TTL(ip4);
    }
    if (p->tot_len < header + 8)
        return 0;
    uint8_t icmp[8];
    pbuf_copy_partial(p, icmp, sizeof icmp, header);
    uint8_t reply_type = v6 ? ICMP6_TYPE_EREP : ICMP_ER;
    uint16_t identifier = uint16_t(icmp[4] << 8 | icmp[5]);
    uint16_t sequence = uint16_t(icmp[6] << 8 | icmp[7]);
    if (icmp[0] != reply_type || identifier != echo_identifier)
        return 0; // not ours: lwIP's own handling goes on
    for (size_t slot = 0; slot < max_pending_echoes; ++slot) {
        PendingEcho& echo = m_echoes[slot];
        if (!echo.used || echo.v6 != v6 || echo.sequence != sequence ||
            !ip_addr_cmp(&echo.address, from))
            continue;
        sys_untimeout(echo_timeout, slot_argument(slot));
        answer_echo(slot, true, (g_now_ns - echo.sent_ns) / 1000, ttl);
        break;
    }
    pbuf_free(p);
    return 1;
}

void Stack::echo_timed_out(size_t slot) {
    if (m_echoes[slot].used)
        answer_echo(slot, false, 0, 0);
}

void Stack::answer_echo(size_t slot, bool answered, uint64_t round_trip_us, uint8_t ttl) {
    m_echoes[slot].used = false;
    capnp::MessageBuilder builder(m_later_reply);
    Icmp::EchoResults::Builder results(
        builder.init_root(Icmp::EchoResults::data_words, Icmp::EchoResults::pointer_count));
    results.set_answered(answered);
    results.set_round_trip_us(round_trip_us);
    results.set_ttl(ttl);
    answer(m_echoes[slot].call_id, builder.words(), false);
}

Status Stack::echo(Icmp::EchoParams::Reader params, Icmp::EchoResults::Builder) {
    auto address = params.address();
    uint16_t payload = params.payload_bytes();
    if (address.size() != 4 && address.size() != 16)
        return Err{gen::Exception{ExceptionType::InvalidArgument,
                                  "an address is 4 bytes (IPv4) or 16 (IPv6)"}};
    if (payload > Icmp::max_payload)
        return Err{
            gen::Exception{ExceptionType::InvalidArgument, "the payload is past maxPayload"}};
    size_t slot = 0;
    while (slot < max_pending_echoes && m_echoes[slot].used)
        ++slot;
    if (slot == max_pending_echoes)
        return Err{gen::Exception{ExceptionType::Overloaded, "too many echoes in flight"}};
    bool v6 = address.size() == 16;
    ip_addr_t to;
    (void)to_address(address, to);
    struct pbuf* p = pbuf_alloc(PBUF_IP, uint16_t(8 + payload), PBUF_RAM);
    if (!p)
        return Err{gen::Exception{ExceptionType::Overloaded, "no memory for the request"}};
    auto* icmp = static_cast<uint8_t*>(p->payload);
    icmp[0] = v6 ? ICMP6_TYPE_EREQ : ICMP_ECHO;
    icmp[1] = 0;
    icmp[2] = icmp[3] = 0;
    icmp[4] = uint8_t(echo_identifier >> 8);
    icmp[5] = uint8_t(echo_identifier);
    icmp[6] = uint8_t(params.sequence() >> 8);
    icmp[7] = uint8_t(params.sequence());
    for (uint16_t i = 0; i < payload; ++i)
        icmp[8 + i] = uint8_t(i);
    if (!v6) {
        uint16_t sum = inet_chksum(icmp, uint16_t(8 + payload));
        __builtin_memcpy(icmp + 2, &sum, 2); // (in network order already)
    }
    err_t sent = raw_sendto(v6 ? m_icmp6 : m_icmp4, p, &to);
    pbuf_free(p);
    if (sent == ERR_RTE)
        return Err{gen::Exception{ExceptionType::Failed, "no route to the address"}};
    if (sent != ERR_OK)
        return Err{gen::Exception{ExceptionType::Overloaded, "the request could not be sent"}};
    m_echoes[slot] = {true, m_call_id, params.sequence(), v6, to, g_now_ns};
    uint32_t timeout = params.timeout_ms();
    sys_timeout(timeout == 0 ? 1 : timeout, echo_timeout, slot_argument(slot));
    m_deferred = true;
    return {};
}

// --- NetworkManager --------------------------------------------------------------

Status Stack::interfaces(NetworkManager::InterfacesParams::Reader,
                         NetworkManager::InterfacesResults::Builder results) {
    auto list = results.init_interfaces(1);
    auto interface = list[0];
    interface.set_name("en0");
    interface.set_mac({m_mac, 6});
    interface.set_mtu(m_mtu);
    interface.set_link_up(netif_is_link_up(&m_netif));
    if (configured()) {
        const ip4_addr_t* address = netif_ip4_addr(&m_netif);
        interface.set_ipv4({reinterpret_cast<const uint8_t*>(&address->addr), 4});
        interface.set_ipv4_prefix_length(
            uint8_t(__builtin_popcount(ip4_addr_get_u32(netif_ip4_netmask(&m_netif)))));
        const ip4_addr_t* gateway = netif_ip4_gw(&m_netif);
        if (!ip4_addr_isany(gateway))
            interface.set_ipv4_gateway({reinterpret_cast<const uint8_t*>(&gateway->addr), 4});
    }
    interface.set_dhcp(dhcp_supplied_address(&m_netif) ? schema::DhcpState::Bound
                       : netif_dhcp_data(&m_netif)     ? schema::DhcpState::Searching
                                                       : schema::DhcpState::Off);
    uint32_t valid = 0;
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i)
        valid += ip6_addr_isvalid(netif_ip6_addr_state(&m_netif, i)) ? 1 : 0;
    auto v6 = interface.init_ipv6(valid);
    uint32_t at = 0;
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
        if (ip6_addr_isvalid(netif_ip6_addr_state(&m_netif, i)))
            v6.set(at++, {reinterpret_cast<const uint8_t*>(netif_ip6_addr(&m_netif, i)->addr), 16});
    }
    uint32_t servers = 0;
    for (u8_t i = 0; i < DNS_MAX_SERVERS; ++i)
        servers += ip_addr_isany(dns_getserver(i)) ? 0 : 1;
    auto dns = interface.init_dns_servers(servers);
    at = 0;
    for (u8_t i = 0; i < DNS_MAX_SERVERS; ++i) {
        const ip_addr_t* server = dns_getserver(i);
        if (ip_addr_isany(server))
            continue;
        if (IP_IS_V6(server))
            dns.set(at++, {reinterpret_cast<const uint8_t*>(ip_2_ip6(server)->addr), 16});
        else
            dns.set(at++, {reinterpret_cast<const uint8_t*>(&ip_2_ip4(server)->addr), 4});
    }
    interface.set_frames_received(m_frames_received);
    interface.set_frames_sent(m_frames_sent);
    uint64_t dropped = uint64_t(lwip_stats.link.drop) + lwip_stats.etharp.drop +
                       lwip_stats.ip.drop + lwip_stats.icmp.drop + lwip_stats.udp.drop +
                       lwip_stats.tcp.drop + lwip_stats.ip6.drop + lwip_stats.icmp6.drop +
                       lwip_stats.nd6.drop;
    interface.set_dropped(dropped);
    return {};
}

Status Stack::wait_configured(NetworkManager::WaitConfiguredParams::Reader params,
                              NetworkManager::WaitConfiguredResults::Builder results) {
    if (configured()) {
        results.set_configured(true);
        return {};
    }
    size_t slot = 0;
    while (slot < max_waiting_callers && m_waiting[slot].used)
        ++slot;
    if (slot == max_waiting_callers)
        return Err{gen::Exception{ExceptionType::Overloaded, "too many callers waiting"}};
    m_waiting[slot] = {true, m_call_id};
    uint32_t timeout = params.timeout_ms();
    sys_timeout(timeout == 0 ? 1 : timeout, wait_timeout, slot_argument(slot));
    m_deferred = true;
    return {};
}

Status Stack::icmp(NetworkManager::IcmpParams::Reader,
                   NetworkManager::IcmpResults::Builder results) {
    results.set_icmp(icmp_badge);
    m_mint_badge = icmp_badge;
    m_mint_interface = Icmp::interface_id;
    return {};
}

bool Stack::to_address(std::span<const uint8_t> bytes, ip_addr_t& address) const {
    if (bytes.size() == 16) {
        IP_SET_TYPE_VAL(address, IPADDR_TYPE_V6);
        __builtin_memcpy(ip_2_ip6(&address)->addr, bytes.data(), 16);
        ip6_addr_clear_zone(ip_2_ip6(&address));
        ip6_addr_assign_zone(ip_2_ip6(&address), IP6_UNICAST, &m_netif);
        return true;
    }
    if (bytes.size() == 4) {
        IP_SET_TYPE_VAL(address, IPADDR_TYPE_V4);
        __builtin_memcpy(&ip_2_ip4(&address)->addr, bytes.data(), 4);
        return true;
    }
    return false;
}

// --- The endpoint ------------------------------------------------------------------

bool Stack::answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                   uint32_t mint_badge, uint64_t mint_interface) {
    abi::Sqe sqe = rt::return_sqe(m_owner, call_id, message, exception);
    alignas(8) abi::TransferDescriptor mint[1] = {{mint_badge, abi::transfer_mint, {0, 0, 0}}};
    if (mint_badge != 0) {
        sqe.transfer_count = 1;
        sqe.transfer_addr = reinterpret_cast<uint64_t>(mint);
        sqe.interface_id = mint_interface;
    }
    int32_t result = rt::ring().run(sqe).result;
    if (result >= 0 || mint_badge == 0)
        return true; // (an answer to a caller that has gone is lost with it)
    answer_exception(call_id, ExceptionType::Overloaded, "reply capabilities refused");
    return false;
}

void Stack::answer_exception(uint32_t call_id, ExceptionType type, std::string_view message) {
    gen::DispatchResult encoded =
        gen::encode_exception<CapException>(m_later_reply, {type, message});
    answer(call_id, encoded.message(), true);
}

gen::DispatchResult Stack::dispatch(const abi::RecvHeader& header, capnp::MessageReader params) {
    uint64_t interface = header.interface_id;
    uint16_t method = header.method;
    if (header.badge == 0)
        return NetworkManager::dispatch(*this, interface, method, params, m_reply);
    if (header.badge == icmp_badge)
        return Icmp::dispatch(*this, interface, method, params, m_reply);
    if (header.badge == connector_badge)
        return TcpConnector::dispatch(*this, interface, method, params, m_reply);
    if (header.badge == resolver_badge)
        return Resolver::dispatch(*this, interface, method, params, m_reply);
    if (!known_badge(header.badge))
        return gen::encode_exception<CapException>(m_reply,
                                                   {ExceptionType::Failed, "no such object"});
    switch (Kind(header.badge >> kind_shift)) {
    case Kind::Authority:
        return TcpListenAuthority::dispatch(*this, interface, method, params, m_reply);
    case Kind::Listener:
        return TcpListener::dispatch(*this, interface, method, params, m_reply);
    case Kind::Tcp:
        return TcpSocket::dispatch(*this, interface, method, params, m_reply);
    case Kind::Udp:
        return UdpSocket::dispatch(*this, interface, method, params, m_reply);
    case Kind::Resolver:
        return Resolver::dispatch(*this, interface, method, params, m_reply);
    }
    return gen::encode_exception<CapException>(m_reply, {ExceptionType::Failed, "no such object"});
}

void Stack::serve_call(const abi::Cqe& cqe) {
    if (cqe.result == int32_t(abi::TransportError::Disconnected)) {
        // No client is left, and none can come: the connections they closed
        // are seen to their end first (their data may wait for an
        // acknowledgement or a retransmission).
        m_clients_gone = true;
        m_drain_deadline_ns = g_now_ns + drain_limit_ns;
        exit_when_drained();
        return;
    }
    auto call = rt::received_call(cqe, m_call);
    if (call.is_error())
        fail("receiving a call failed");
    const abi::RecvHeader& header = call.value().header;
    if (abi::is_release_notice(header)) {
        // The badges of the notices taken with it follow (a 0 fills the word).
        released(header.badge);
        for (capnp::Word word : call.value().params)
            for (uint32_t badge : {uint32_t(word), uint32_t(word >> 32)})
                if (badge != 0)
                    released(badge);
        return;
    }
#ifdef CAPOS_FAULT_AT_CALL
    // The test build netstack_faulty faults (an invalid opcode) at the n-th
    // call it serves, holding it, as a stack with a bug would
    // (scenario.net_stack_restart).
    static uint32_t calls = 0;
    if (++calls == CAPOS_FAULT_AT_CALL)
        __builtin_trap();
#endif
    m_call_id = header.call_id;
    m_badge = header.badge;
    m_deferred = false;
    m_mint_badge = 0;
    m_mint_interface = 0;
    m_call_capabilities = call.value().capabilities;
    m_capability_taken = UINT32_MAX;
    auto params = capnp::MessageReader::validated(call.value().params);
    gen::DispatchResult result = dispatch(header, params);
    for (uint32_t i = 0; i < m_call_capabilities.size(); ++i)
        if (i != m_capability_taken)
            (void)rt::release(abi::CapId{m_call_capabilities[i].cap});
    m_call_capabilities = {};
    if (result.status() == gen::DispatchStatus::BufferFull)
        result = gen::encode_exception<CapException>(m_reply,
                                                     {ExceptionType::Failed, "results too large"});
    bool exception = result.status() == gen::DispatchStatus::Exception;
    if (m_deferred && !exception)
        return;
    uint32_t mint = exception ? 0 : m_mint_badge;
    if (!answer(header.call_id, result.message(), exception, mint, m_mint_interface))
        released(mint); // the facet was never made
}

void Stack::exit_when_drained() {
    if (connections_closing() && g_now_ns < m_drain_deadline_ns)
        return;
    (void)Line("netstack: every client has gone (")
        .udec(m_frames_received)
        .add(" frames received in ")
        .udec(m_receive_answers)
        .add(" receives, ")
        .udec(m_frames_lent)
        .add(" lent to lwIP, ")
        .udec(m_frames_sent)
        .add(" sent in ")
        .udec(m_send_calls)
        .add(" sends)")
        .add(connections_closing() ? "; connections still closing were dropped" : "")
        .print();
    rt::exit(0);
}

void Stack::released(uint32_t badge) {
    // The stateless facets keep nothing; an object's slot is free again.
    if (!known_badge(badge))
        return;
    switch (Kind(badge >> kind_shift)) {
    case Kind::Authority:
        m_authorities[badge & 0xff] = {};
        break;
    case Kind::Listener:
        close_listener(m_listeners[badge & 0xff]);
        break;
    case Kind::Tcp:
        close_connection(m_tcp[badge & 0xff]);
        break;
    case Kind::Udp:
        close_udp(m_udp[badge & 0xff]);
        break;
    case Kind::Resolver:
        // (its lookups go on: each holds its own copy of the server)
        m_resolvers[badge & 0xff] = {};
        break;
    }
}

void Stack::run() {
    // The clock is read once a turn, as the wait ends (start() read it for
    // the first): a Timer.now is a system call, and the work of a turn is
    // short beside lwIP's millisecond timers.
    for (;;) {
        sys_check_timeouts();
        flush_sends();
        if (!m_receive.in_flight())
            submit_receive();
        if (m_clients_gone)
            exit_when_drained();
        arm_sleep();
        if (m_recv_ticket == 0 && !m_clients_gone)
            m_recv_ticket = rt::ring().submit(rt::recv_sqe(m_owner, m_call));
        uint64_t tickets[3 + sends_in_flight] = {m_receive.ticket(), m_sleep.ticket(),
                                                 m_recv_ticket};
        for (size_t i = 0; i < sends_in_flight; ++i)
            tickets[3 + i] = m_sends[i].call.ticket();
        size_t which = 0;
        // A delayed acknowledgement is sent after ack_delay_ns without
        // anything to do (sooner when two segments come: lwIP's rule).
        std::optional<abi::Cqe> came = acknowledgements_delayed()
                                           ? rt::ring().wait_any_for(tickets, which, ack_delay_ns)
                                           : rt::ring().wait_any(tickets, which);
        read_clock();
        if (!came) {
            send_delayed_acknowledgements();
            continue;
        }
        const abi::Cqe& cqe = *came;
        if (which == 0) {
            take_frames(cqe);
        } else if (which == 1) {
            auto slept = m_sleep.finish<schema::Timer::SleepResults>(cqe);
            if (slept.is_error())
                fail("Timer.sleep", slept.error());
        } else if (which == 2) {
            m_recv_ticket = 0;
            serve_call(cqe);
        } else {
            sent(which - 3, cqe);
        }
    }
}

} // namespace capos::netstack

int main() {
    auto nic = rt::lookup<Nic>("nic");
    if (nic.is_error())
        fail("no Nic granted as 'nic'");
    auto timer = rt::lookup<schema::Timer>("timer");
    if (timer.is_error())
        fail("no 'timer' granted (lwIP's clock)");
    g_timer.emplace(std::move(timer.value()));
    auto entropy = rt::lookup<schema::EntropySource>("entropy");
    if (entropy.is_error())
        fail("no 'entropy' granted (lwIP's random numbers)");
    g_entropy.emplace(std::move(entropy.value()));
    auto net = rt::find_capability("net");
    if (net.is_error())
        fail("no endpoint granted as 'net' to serve");
    auto supervisor = rt::lookup<schema::Supervisor>("supervisor");
    static Stack stack(nic.value().leak(), net.value().id,
                       supervisor.is_ok() ? supervisor.value().leak() : abi::CapId{});
    g_stack = &stack;
    stack.start();
    stack.run();
}
