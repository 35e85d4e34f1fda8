// The network stack's one object (user/services/net): lwIP over one Nic, and
// every capability it serves on its endpoint. netstack.cpp holds the loop,
// the frames, the configuration, NetworkManager and Icmp; sockets.cpp the
// TCP and UDP sockets.
//
// Capabilities are facets of the one endpoint, told apart by badge: 0 is
// NetworkManager (the plain facet), icmp_badge and connector_badge are
// stateless facets any number of holders share, and every stateful object
// (a listen authority, a listener, a TCP connection, a UDP socket) has a
// slot in its kind's table, its badge the kind and the slot. A slot is
// taken for as long as its facet lives: it is freed by the facet's release
// notice (or when the facet was never made), so a badge never names another
// object than the one it was minted for.
#pragma once

#include "lib/net/dns.h"
#include "lib/net/receive_window.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/rt.h"

extern "C" {
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/raw.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
}

#include <optional>
#include <span>
#include <string_view>

namespace capos::netstack {

using schema::ExceptionType;
using schema::Icmp;
using schema::NetworkManager;
using schema::Nic;
using schema::Resolver;
using schema::TcpConnector;
using schema::TcpListenAuthority;
using schema::TcpListener;
using schema::TcpSocket;
using schema::UdpSocket;
using Status = Result<void, gen::Exception>;

[[noreturn]] void fail(std::string_view what, const gen::CallError& error);
[[noreturn]] void fail(std::string_view what);

// The clock, read once per turn of the loop.
extern uint64_t g_now_ns;

// Badges: the stateless facets, then kind << kind_shift | slot.
constexpr uint32_t icmp_badge = 1;
constexpr uint32_t connector_badge = 2;
constexpr uint32_t resolver_badge = 3; // a Resolver asking the interface's servers
constexpr uint32_t kind_shift = 8;
enum class Kind : uint32_t { Authority = 1, Listener = 2, Tcp = 3, Udp = 4, Resolver = 5 };
constexpr uint32_t badge_of(Kind kind, size_t slot) {
    return uint32_t(kind) << kind_shift | uint32_t(slot);
}

constexpr size_t max_authorities = 32;
constexpr size_t max_listeners = MEMP_NUM_TCP_PCB_LISTEN;
constexpr size_t max_connections = MEMP_NUM_TCP_PCB;
constexpr size_t max_udp = MEMP_NUM_UDP_PCB;
constexpr size_t max_resolvers = 16; // Resolvers of a server of their own
constexpr size_t max_lookups = 8;
static_assert(max_authorities <= 256 && max_listeners <= 256 && max_connections <= 256 &&
                  max_udp <= 256 && max_resolvers <= 256,
              "a slot is a badge's low byte");
// Whether `badge` names a slot of an object table (the stack mints no other).
constexpr bool known_badge(uint32_t badge) {
    size_t slot = badge & 0xff;
    switch (Kind(badge >> kind_shift)) {
    case Kind::Authority:
        return slot < max_authorities;
    case Kind::Listener:
        return slot < max_listeners;
    case Kind::Tcp:
        return slot < max_connections;
    case Kind::Udp:
        return slot < max_udp;
    case Kind::Resolver:
        return slot < max_resolvers;
    }
    return false;
}

constexpr size_t max_pending_echoes = 32;
constexpr size_t max_waiting_callers = 16;
constexpr size_t max_connecting = 8;
static_assert(max_pending_echoes + max_waiting_callers + max_connecting + max_lookups <=
                  CAPOS_NETSTACK_TIMEOUTS,
              "each echo, waiting caller, connection being opened and lookup has a timeout of "
              "lwIP's");
constexpr size_t sends_in_flight = 4;
constexpr uint16_t max_backlog = 64;
constexpr uint16_t default_backlog = 16;
constexpr uint32_t default_connect_timeout_ms = 10'000;
static_assert(TCP_WND == TcpSocket::max_window && TCP_SND_BUF == TcpSocket::send_buffer,
              "TcpSocket's constants say lwIP's window and send buffer");
static_assert(TcpSocket::max_io <= 0xffff, "a read's bytes are counted in lwIP's u16_t");

inline Status failure(ExceptionType type, const char* message) {
    return Err{gen::Exception{type, message}};
}

// A call answered later: its id, while one waits.
struct Deferred {
    bool waiting = false;
    uint32_t call_id = 0;
    uint32_t bytes = 0; // a read's maxBytes
    bool into = false;  // readInto (into the shared buffer at `offset`), not read
    uint32_t offset = 0;
};

struct Authority {
    bool used = false;
    uint16_t first_port = 0;
    uint16_t last_port = 0;
};

struct Listener {
    bool used = false;
    struct tcp_pcb* pcb = nullptr;
    uint16_t port = 0;
    uint16_t backlog = 0;
    // The connections that arrived and wait for accept, oldest first (slots
    // of the connection table).
    uint8_t waiting[max_backlog] = {};
    uint16_t waiting_count = 0;
    Deferred accept;
};

struct Connection {
    bool used = false;
    bool minted = false;   // a TcpSocket names it (else: being opened, or waiting in a listener)
    int16_t listener = -1; // the listener it waits in before accept
    struct tcp_pcb* pcb = nullptr;   // null once lwIP has ended it
    struct pbuf* received = nullptr; // arrived, not read yet
    // Its bytes (more than a pbuf's u16_t may count) and the window given
    // back for them: for up to one more window unread while the stack's
    // buffers are plentiful (lib/net/receive_window.h, window_advance).
    net::ReceiveWindow window;
    bool finished = false; // the peer's FIN came (after `received`)
    bool write_shut = false;
    err_t error = ERR_OK; // why lwIP ended it
    // The buffer the socket's holder shared (TcpSocket.share), mapped here.
    abi::CapId shared_memory{};
    uint8_t* shared = nullptr;
    uint32_t shared_bytes = 0;
    Deferred read;
    Deferred write;
    Deferred connect;
};

struct Datagram {
    struct pbuf* data = nullptr;
    ip_addr_t from;
    uint16_t port = 0;
};

struct Udp {
    bool used = false;
    struct udp_pcb* pcb = nullptr;
    Datagram queue[UdpSocket::queued_datagrams];
    uint16_t head = 0;
    uint16_t count = 0;
    Deferred receive;
};

// A Resolver of its own server (NetworkManager.resolver with a server).
struct ResolverServer {
    bool used = false;
    ip_addr_t server;
    uint16_t port = 0;
};

// A name being looked up: its A query, then its AAAA query, each sent again
// every second, to each server in turn, until the deadline.
struct Lookup {
    bool used = false;
    uint32_t call_id = 0;
    char name[net::dns::max_name + 1] = {};
    size_t name_length = 0;
    bool own_server = false; // asks `server` only (else the interface's servers)
    ip_addr_t server;
    uint16_t port = 0;
    uint8_t server_index = 0; // which of the interface's servers is asked
    net::dns::Type type = net::dns::Type::A;
    uint16_t id = 0;
    uint8_t sends = 0; // of this query to this server
    struct udp_pcb* pcb = nullptr;
    uint64_t deadline_ns = 0;
    net::dns::Addresses v4;
    net::dns::Addresses v6;
};

class Stack {
public:
    // `supervisor` (0: none): init's, to get the Nic again when its driver
    // is started again after a crash.
    Stack(abi::CapId nic, abi::CapId owner, abi::CapId supervisor) : m_owner(owner) {
        m_nic.emplace(nic);
        if (supervisor.raw != 0)
            m_supervisor.emplace(supervisor);
    }

    void start();
    [[noreturn]] void run();

    // lwIP's callbacks.
    err_t link_output(struct pbuf* p);
    void status_changed();
    u8_t echo_reply(struct pbuf* p, const ip_addr_t* from, bool v6);
    void echo_timed_out(size_t slot);
    void wait_timed_out(size_t slot);
    err_t on_accept(Listener& listener, struct tcp_pcb* pcb);
    err_t on_connected(Connection& connection);
    void connect_timed_out(size_t slot);
    err_t on_received(Connection& connection, struct pbuf* p);
    void on_sent(Connection& connection);
    void on_error(Connection& connection, err_t error);
    void on_datagram(Udp& socket, struct pbuf* p, const ip_addr_t* from, uint16_t port);
    void on_dns_answer(Lookup& lookup, struct pbuf* p, const ip_addr_t* from, uint16_t port);
    void lookup_tick(size_t slot);

    // The interfaces, called by the generated dispatch (udp_bind shadows
    // lwIP's: the stack calls lwIP's as ::udp_bind). A call answered
    // later sets m_deferred; one whose answer carries a new facet, m_mint.
    Status interfaces(NetworkManager::InterfacesParams::Reader,
                      NetworkManager::InterfacesResults::Builder results);
    Status wait_configured(NetworkManager::WaitConfiguredParams::Reader params,
                           NetworkManager::WaitConfiguredResults::Builder);
    Status icmp(NetworkManager::IcmpParams::Reader, NetworkManager::IcmpResults::Builder results);
    Status tcp_listen_authority(NetworkManager::TcpListenAuthorityParams::Reader params,
                                NetworkManager::TcpListenAuthorityResults::Builder results);
    Status tcp_connector(NetworkManager::TcpConnectorParams::Reader,
                         NetworkManager::TcpConnectorResults::Builder results);
    Status udp_bind(NetworkManager::UdpBindParams::Reader params,
                    NetworkManager::UdpBindResults::Builder results);
    Status resolver(NetworkManager::ResolverParams::Reader params,
                    NetworkManager::ResolverResults::Builder results);
    Status resolve(Resolver::ResolveParams::Reader params, Resolver::ResolveResults::Builder);
    Status echo(Icmp::EchoParams::Reader params, Icmp::EchoResults::Builder);
    Status listen(TcpListenAuthority::ListenParams::Reader params,
                  TcpListenAuthority::ListenResults::Builder results);
    Status range(TcpListenAuthority::RangeParams::Reader,
                 TcpListenAuthority::RangeResults::Builder results);
    Status accept(TcpListener::AcceptParams::Reader, TcpListener::AcceptResults::Builder results);
    Status port(TcpListener::PortParams::Reader, TcpListener::PortResults::Builder results);
    Status connect(TcpConnector::ConnectParams::Reader params,
                   TcpConnector::ConnectResults::Builder);
    Status read(TcpSocket::ReadParams::Reader params, TcpSocket::ReadResults::Builder results);
    Status write(TcpSocket::WriteParams::Reader params, TcpSocket::WriteResults::Builder results);
    Status shutdown(TcpSocket::ShutdownParams::Reader, TcpSocket::ShutdownResults::Builder);
    Status info(TcpSocket::InfoParams::Reader, TcpSocket::InfoResults::Builder results);
    Status share(TcpSocket::ShareParams::Reader params, TcpSocket::ShareResults::Builder);
    Status read_into(TcpSocket::ReadIntoParams::Reader params,
                     TcpSocket::ReadIntoResults::Builder results);
    Status write_from(TcpSocket::WriteFromParams::Reader params,
                      TcpSocket::WriteFromResults::Builder results);
    // How much unread data's window a connection may give back as it
    // arrives: a window while the receive buffers are plentiful, else none.
    uint32_t window_advance() const;
    Status send_to(UdpSocket::SendToParams::Reader params, UdpSocket::SendToResults::Builder);
    Status receive(UdpSocket::ReceiveParams::Reader, UdpSocket::ReceiveResults::Builder results);
    Status port(UdpSocket::PortParams::Reader, UdpSocket::PortResults::Builder results);

private:
    struct Send {
        rt::AsyncCall<2048> call;
        uint16_t buffers[Nic::max_batch];
        size_t count = 0;
    };
    struct PendingEcho {
        bool used = false;
        uint32_t call_id = 0;
        uint16_t sequence = 0;
        bool v6 = false;
        ip_addr_t address;
        uint64_t sent_ns = 0;
    };
    struct WaitingCaller {
        bool used = false;
        uint32_t call_id = 0;
    };

    bool configured() const { return !ip4_addr_isany_val(*netif_ip4_addr(&m_netif)); }
    // Takes the Nic's frame memory (afresh); whether its link is up.
    bool attach();
    // The Nic's driver has gone: with a supervisor, waits for init to start
    // it again and attaches to the new one (lwIP's state, connections
    // included, goes on: frames lost meanwhile are sent again by TCP);
    // without one, or when it is not started again, the stack exits.
    void rebind(std::string_view what, const gen::CallError& error);
    void log_ipv6_addresses();
    void take_frames(const abi::Cqe& cqe);
    // A received frame as a pbuf: its buffer lent to lwIP when few are
    // lent, else copied into a pbuf of the pool (null when none is free).
    struct pbuf* frame_pbuf(uint16_t buffer, uint16_t length);
    // lwIP let go of a lent frame: its buffer goes back with the next
    // receive (or, lent before a rebind, the old frame memory goes with the
    // last of them).
    void frame_freed(struct pbuf* p);
    void submit_receive();
    void flush_sends();
    void sent(size_t slot, const abi::Cqe& cqe);
    void arm_sleep();
    void serve_call(const abi::Cqe& cqe);
    // Whether a connection owes a delayed acknowledgement, and sending each
    // now (sockets.cpp).
    bool acknowledgements_delayed() const;
    void send_delayed_acknowledgements();
    // Whether a connection its clients closed still has data or its FIN
    // unacknowledged (sockets.cpp).
    bool connections_closing() const;
    // Once every client has gone: exits when no connection is closing, or
    // drain_limit_ns after the last client went.
    void exit_when_drained();
    gen::DispatchResult dispatch(const abi::RecvHeader& header, capnp::MessageReader params);
    void released(uint32_t badge);
    // Sends an answer; one that mints `mint_badge` (not 0) as a facet
    // speaking `mint_interface` returns false when the facet was refused
    // (the caller's table is full), the call then answered with overloaded.
    bool answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                uint32_t mint_badge = 0, uint64_t mint_interface = 0);
    void answer_exception(uint32_t call_id, ExceptionType type, std::string_view message);
    void answer_wait(size_t slot, bool configured);
    void answer_echo(size_t slot, bool answered, uint64_t round_trip_us, uint8_t ttl);
    // The address the caller gave (4 or 16 bytes), with the interface's zone
    // for IPv6; false for another length.
    bool to_address(std::span<const uint8_t> bytes, ip_addr_t& address) const;

    // Sockets (sockets.cpp).
    Connection* new_connection();
    // Answer a waiting accept (connect) with the connection, minting its
    // facet; false when that was refused (the connection then the caller's
    // to close) or, for a connect, when it failed for `why`.
    bool answer_accept(Listener& listener, size_t slot);
    void answer_read(Connection& connection);
    Result<uint32_t, gen::Exception> send_data(Connection& connection,
                                               std::span<const uint8_t> data);
    bool answer_connect(Connection& connection, bool opened, const char* why);
    void answer_udp_receive(Udp& socket);
    // Closes the connection (with a reset when `reset`), answering the
    // calls that wait on it, and frees its slot.
    void close_connection(Connection& connection, bool reset = false);
    void close_listener(Listener& listener);
    void close_udp(Udp& socket);
    size_t slot_of(const Connection& connection) const { return size_t(&connection - m_tcp); }

    // Names (resolver.cpp).
    // The server `lookup` asks now; false when none is left to ask.
    bool lookup_server(const Lookup& lookup, ip_addr_t& server, uint16_t& port) const;
    // Sends the lookup's query (again), arming its tick; false when it
    // cannot be sent.
    bool send_query(Lookup& lookup);
    // The query's answer is in: the AAAA query next, or the caller answered.
    void next_query(Lookup& lookup);
    // Tries the next server (a fresh id); false when none is left.
    bool next_server(Lookup& lookup);
    // Answers the lookup's caller: its addresses, or why there are none.
    void finish_lookup(Lookup& lookup, std::string_view failure = {});

    std::optional<rt::Capability<Nic>> m_nic;
    std::optional<rt::Capability<schema::Supervisor>> m_supervisor;
    std::optional<rt::Capability<schema::MemoryObject>> m_frame_memory;
    uint64_t m_rebinds = 0;
    abi::CapId m_owner;
    struct netif m_netif {};
    uint8_t m_mac[6] = {};
    uint16_t m_mtu = 1500;
    uint8_t* m_frames = nullptr;
    uint16_t m_receive_buffers = 0;
    uint16_t m_send_buffers = 0;
    uint64_t m_frames_received = 0;
    uint64_t m_frames_sent = 0;
    uint64_t m_receive_answers = 0; // Nic.receive answers with frames
    uint64_t m_send_calls = 0;      // Nic.send calls
    uint64_t m_frames_unsent = 0;

    // Receiving: the call in flight, and the buffers to give back with the
    // next (the last answer's copied frames and the lent ones freed since).
    rt::AsyncCall<2048> m_receive;
    static constexpr uint16_t max_receive_buffers = 256;
    uint16_t m_done[max_receive_buffers] = {};
    size_t m_done_count = 0;
    // Frames lent to lwIP: a custom pbuf over each receive buffer, at most
    // half of them lent at once, so the device always has the other half
    // (a buffer freed while a receive waits goes back only with the next).
    struct LentFrame {
        struct pbuf_custom custom; // first: lwIP's free function gets its pbuf
        bool lent = false;
        bool retired = false; // lent from the frame memory before a rebind
    };
    LentFrame m_lent[max_receive_buffers];
    uint16_t m_lent_count = 0;
    uint64_t m_frames_lent = 0;
    // The frame memory before a rebind, kept mapped while lwIP holds frames
    // of it (none are lent meanwhile).
    std::optional<rt::Capability<schema::MemoryObject>> m_retired_memory;
    uint8_t* m_retired_frames = nullptr;
    uint16_t m_retired_count = 0;
    // Sending: free send buffers, the frames of this turn, the sends in flight.
    uint16_t m_free_send[512] = {};
    size_t m_free_send_count = 0;
    uint16_t m_batch[Nic::max_batch] = {};
    uint16_t m_batch_length[Nic::max_batch] = {};
    size_t m_batch_count = 0;
    Send m_sends[sends_in_flight];
    // The clock: one sleep in flight, to the next timeout or longest_sleep_ms.
    rt::AsyncCall<256> m_sleep;
    // The endpoint: one RECV, into a buffer every call fits (64 KiB, the most
    // a RECV takes); answers made at once, and answers made later.
    static constexpr size_t message_words = 8192;
    uint64_t m_recv_ticket = 0;
    // Every client has gone: the stack finishes closing connections, then
    // exits (no more RECV).
    bool m_clients_gone = false;
    uint64_t m_drain_deadline_ns = 0;
    alignas(8) capnp::Word m_call[message_words];
    alignas(8) capnp::Word m_reply[message_words];
    alignas(8) capnp::Word m_later_reply[message_words];
    uint32_t m_call_id = 0;
    uint32_t m_badge = 0;
    // The capabilities that came with the call being served: each released
    // after it but the one a method took (by its index, else none).
    std::span<const abi::CapRecord> m_call_capabilities;
    uint32_t m_capability_taken = UINT32_MAX;
    bool m_deferred = false;
    uint32_t m_mint_badge = 0;
    uint64_t m_mint_interface = 0;
    // ICMP.
    struct raw_pcb* m_icmp4 = nullptr;
    struct raw_pcb* m_icmp6 = nullptr;
    PendingEcho m_echoes[max_pending_echoes];
    WaitingCaller m_waiting[max_waiting_callers];
    uint32_t m_logged_address = 0;
    bool m_ip6_logged[LWIP_IPV6_NUM_ADDRESSES] = {};
    uint32_t m_logged_ip6[LWIP_IPV6_NUM_ADDRESSES][4] = {};
    // Sockets.
    Authority m_authorities[max_authorities];
    Listener m_listeners[max_listeners];
    Connection m_tcp[max_connections];
    Udp m_udp[max_udp];
    size_t m_connecting = 0;
    ResolverServer m_resolvers[max_resolvers];
    Lookup m_lookups[max_lookups];
};

extern Stack* g_stack;

// lwIP's timeouts name their slot by the argument (sys_untimeout finds a
// timeout by its function and argument).
inline void* slot_argument(size_t slot) {
    return reinterpret_cast<void*>(uintptr_t(slot));
}

// An address as a 4- or 16-byte Data value.
inline std::span<const uint8_t> address_bytes(const ip_addr_t& address) {
    if (IP_IS_V6_VAL(address))
        return {reinterpret_cast<const uint8_t*>(ip_2_ip6(&address)->addr), 16};
    return {reinterpret_cast<const uint8_t*>(&ip_2_ip4(&address)->addr), 4};
}

} // namespace capos::netstack
