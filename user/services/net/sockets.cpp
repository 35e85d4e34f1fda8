// The network stack's sockets (docs/networking.md "Sockets"): TCP listen
// authorities, listeners, connections and UDP sockets over lwIP's raw API,
// each a facet of the stack's endpoint (stack.h).
//
// Nothing is copied but once each way. Data that arrives stays in lwIP's
// pbufs until a read copies it into its answer (or into the socket's shared
// buffer). The stack gives the window back (tcp_recved) for up to one window
// of data not yet read as it arrives, so a reader a turn behind does not
// shrink the window the peer sees (Linux's receive buffer is likewise larger
// than the window it advertises), while its receive buffers are plentiful
// (window_advance); past that only as data is read: a reader that does not
// read closes the window, and holds at most two windows.
// A write copies into lwIP's send buffer (TCP_WRITE_FLAG_COPY) as much as
// it has room for; with none, the write waits for the peer's
// acknowledgements to make some (lwIP's own measure of writable: its low
// water marks), and is then answered with 0 for the writer to send again,
// so a waiting write holds no data of the stack's.
#include "user/services/net/stack.h"

extern "C" {
#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
}

namespace capos::netstack {

using schema::CapException;

namespace {

const char* error_text(err_t error) {
    switch (error) {
    case ERR_RST:
        return "the connection was reset";
    case ERR_ABRT:
        return "the connection timed out"; // (lwIP gave up sending again)
    case ERR_CLSD:
        return "the connection is closed";
    default:
        return "the connection failed";
    }
}

// lwIP's callbacks, each with its object as the argument.
err_t accept_callback(void* arg, struct tcp_pcb* pcb, err_t error) {
    if (error != ERR_OK || pcb == nullptr)
        return ERR_VAL;
    return g_stack->on_accept(*static_cast<Listener*>(arg), pcb);
}

err_t connected_callback(void* arg, struct tcp_pcb*, err_t) {
    return g_stack->on_connected(*static_cast<Connection*>(arg));
}

err_t received_callback(void* arg, struct tcp_pcb*, struct pbuf* p, err_t) {
    return g_stack->on_received(*static_cast<Connection*>(arg), p);
}

err_t sent_callback(void* arg, struct tcp_pcb*, u16_t) {
    g_stack->on_sent(*static_cast<Connection*>(arg));
    return ERR_OK;
}

void error_callback(void* arg, err_t error) {
    g_stack->on_error(*static_cast<Connection*>(arg), error);
}

void connect_timeout(void* slot) {
    g_stack->connect_timed_out(size_t(uintptr_t(slot)));
}

void datagram_callback(void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t* from,
                       u16_t port) {
    g_stack->on_datagram(*static_cast<Udp*>(arg), p, from, port);
}

void watch(Connection& connection) {
    tcp_arg(connection.pcb, &connection);
    tcp_recv(connection.pcb, received_callback);
    tcp_sent(connection.pcb, sent_callback);
    tcp_err(connection.pcb, error_callback);
}

// The pcb's callbacks go before the stack lets it go: tcp_abort calls the
// error callback, and a closing connection's data goes to lwIP's default.
void unwatch(struct tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
}

bool writable(struct tcp_pcb* pcb) {
    return tcp_sndbuf(pcb) > TCP_SNDLOWAT && tcp_sndqueuelen(pcb) < TCP_SNDQUEUELOWAT;
}

// The first bytes of `p` into `data` (an answer's Data, not zeroed: every
// byte is written; `data` is never longer than `p`).
void copy_into(std::span<uint8_t> data, struct pbuf* p) {
    uint16_t copied = pbuf_copy_partial(p, data.data(), uint16_t(data.size()), 0);
    if (copied < data.size())
        __builtin_memset(data.data() + copied, 0, data.size() - copied);
}

// How many of the bytes the connection holds a read of up to max_bytes takes
// (it holds some): at most 0xffff (lwIP counts a read in a u16_t).
uint16_t readable(const Connection& connection, uint32_t max_bytes) {
    uint32_t unread = connection.window.unread();
    uint32_t bytes = max_bytes < unread ? max_bytes : unread;
    return uint16_t(bytes < 0xffff ? bytes : 0xffff);
}

// Gives lwIP back `credit` bytes of window (lwIP takes a u16_t at a time).
void open_window(Connection& connection, uint32_t credit) {
    for (; connection.pcb && credit > 0; credit -= credit < 0xffff ? credit : 0xffff)
        tcp_recved(connection.pcb, uint16_t(credit < 0xffff ? credit : 0xffff));
}

// Takes the first bytes the connection holds into `into` (every byte of it
// written), and gives the window back as open_window says.
void take_received(Connection& connection, std::span<uint8_t> into) {
    copy_into(into, connection.received);
    connection.received = pbuf_free_header(connection.received, uint16_t(into.size()));
    open_window(connection,
                connection.window.read(uint32_t(into.size()), g_stack->window_advance()));
}

// A read with nothing to take: the end of the stream, or why it failed.
Status end_of_stream(const Connection& connection) {
    if (connection.finished)
        return {};
    return failure(ExceptionType::Failed, error_text(connection.error));
}

// A read's answer from what the connection holds: data, the end of the
// stream, or why it failed.
Status fill_read(Connection& connection, uint32_t max_bytes,
                 TcpSocket::ReadResults::Builder results) {
    if (!connection.received)
        return end_of_stream(connection);
    take_received(connection, results.fill_data(readable(connection, max_bytes)));
    return {};
}

// The same for readInto: the bytes into the shared buffer, their count in
// the answer (0: the end of the stream).
Status fill_read_into(Connection& connection, const Deferred& read,
                      TcpSocket::ReadIntoResults::Builder results) {
    if (!connection.received)
        return end_of_stream(connection);
    uint16_t bytes = readable(connection, read.bytes);
    take_received(connection, {connection.shared + read.offset, bytes});
    results.set_bytes(bytes);
    return {};
}

// The bytes [offset, offset + bytes) of the connection's shared buffer: at
// least one, all inside it (invalidArgument without a buffer or else).
Result<std::span<uint8_t>, gen::Exception> shared_range(const Connection& connection,
                                                        uint32_t offset, uint32_t bytes) {
    if (!connection.shared)
        return Err{
            gen::Exception{ExceptionType::InvalidArgument, "the socket has no shared buffer"}};
    if (bytes == 0 || uint64_t(offset) + bytes > connection.shared_bytes)
        return Err{gen::Exception{ExceptionType::InvalidArgument,
                                  "the range is 1 byte or more inside the shared buffer"}};
    return std::span<uint8_t>(connection.shared + offset, bytes);
}

bool read_ready(const Connection& connection) {
    return connection.received || connection.finished || connection.error != ERR_OK;
}

} // namespace

Connection* Stack::new_connection() {
    for (Connection& connection : m_tcp) {
        if (!connection.used) {
            connection = {};
            connection.used = true;
            return &connection;
        }
    }
    return nullptr;
}

// --- NetworkManager's socket capabilities -------------------------------------------

Status Stack::tcp_listen_authority(NetworkManager::TcpListenAuthorityParams::Reader params,
                                   NetworkManager::TcpListenAuthorityResults::Builder results) {
    uint16_t first = params.first_port();
    uint16_t last = params.last_port();
    if (first == 0 || first > last)
        return failure(ExceptionType::InvalidArgument,
                       "the ports are 1 to 65535, the first not past the last");
    for (size_t slot = 0; slot < max_authorities; ++slot) {
        Authority& authority = m_authorities[slot];
        if (authority.used)
            continue;
        authority = {true, first, last};
        m_mint_badge = badge_of(Kind::Authority, slot);
        m_mint_interface = TcpListenAuthority::interface_id;
        results.set_authority(m_mint_badge);
        return {};
    }
    return failure(ExceptionType::Overloaded, "too many listen authorities");
}

Status Stack::tcp_connector(NetworkManager::TcpConnectorParams::Reader,
                            NetworkManager::TcpConnectorResults::Builder results) {
    m_mint_badge = connector_badge;
    m_mint_interface = TcpConnector::interface_id;
    results.set_connector(connector_badge);
    return {};
}

// --- Listening ----------------------------------------------------------------------

Status Stack::range(TcpListenAuthority::RangeParams::Reader,
                    TcpListenAuthority::RangeResults::Builder results) {
    const Authority& authority = m_authorities[m_badge & 0xff];
    results.set_first_port(authority.first_port);
    results.set_last_port(authority.last_port);
    return {};
}

Status Stack::listen(TcpListenAuthority::ListenParams::Reader params,
                     TcpListenAuthority::ListenResults::Builder results) {
    const Authority& authority = m_authorities[m_badge & 0xff];
    uint16_t port = params.port();
    uint16_t backlog = params.backlog() == 0 ? default_backlog : params.backlog();
    if (port == 0 || port < authority.first_port || port > authority.last_port)
        return failure(ExceptionType::PermissionDenied, "the port is outside the authority's");
    if (backlog > max_backlog)
        return failure(ExceptionType::InvalidArgument, "the backlog is past 64");
    size_t slot = 0;
    while (slot < max_listeners && m_listeners[slot].used)
        ++slot;
    if (slot == max_listeners)
        return failure(ExceptionType::Overloaded, "too many listeners");
    struct tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (!pcb)
        return failure(ExceptionType::Overloaded, "no room for another listener");
    // A port whose last connections wait out TIME-WAIT may be listened on
    // again at once.
    ip_set_option(pcb, SOF_REUSEADDR);
    err_t bound = tcp_bind(pcb, IP_ANY_TYPE, port);
    if (bound != ERR_OK) {
        tcp_close(pcb);
        return failure(bound == ERR_USE ? ExceptionType::Failed : ExceptionType::Overloaded,
                       bound == ERR_USE ? "the port is taken" : "the port could not be bound");
    }
    err_t listened = ERR_OK;
    struct tcp_pcb* listening =
        tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &listened);
    if (!listening) {
        tcp_close(pcb);
        // (another listener holds the port: SOF_REUSEADDR let the bind through)
        return failure(listened == ERR_USE ? ExceptionType::Failed : ExceptionType::Overloaded,
                       listened == ERR_USE ? "the port is taken" : "no room for another listener");
    }
    Listener& listener = m_listeners[slot];
    listener = {};
    listener.used = true;
    listener.pcb = listening;
    listener.port = port;
    listener.backlog = backlog;
    tcp_arg(listening, &listener);
    tcp_accept(listening, accept_callback);
    m_mint_badge = badge_of(Kind::Listener, slot);
    m_mint_interface = TcpListener::interface_id;
    results.set_listener(m_mint_badge);
    return {};
}

Status Stack::port(TcpListener::PortParams::Reader, TcpListener::PortResults::Builder results) {
    results.set_port(m_listeners[m_badge & 0xff].port);
    return {};
}

err_t Stack::on_accept(Listener& listener, struct tcp_pcb* pcb) {
    Connection* connection = listener.accept.waiting || listener.waiting_count < listener.backlog
                                 ? new_connection()
                                 : nullptr;
    if (!connection) {
        // No room: the connection is reset (the peer may try again).
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    connection->pcb = pcb;
    connection->listener = int16_t(&listener - m_listeners);
    watch(*connection);
    size_t slot = slot_of(*connection);
    if (!listener.accept.waiting) {
        listener.waiting[listener.waiting_count++] = uint8_t(slot);
        return ERR_OK;
    }
    if (answer_accept(listener, slot))
        return ERR_OK;
    unwatch(pcb);
    tcp_abort(pcb);
    *connection = {};
    return ERR_ABRT;
}

bool Stack::answer_accept(Listener& listener, size_t slot) {
    // The connection is the caller's from here, its facet minted with the
    // answer (a refused one is the caller's to close).
    Connection& connection = m_tcp[slot];
    connection.minted = true;
    connection.listener = -1;
    listener.accept.waiting = false;
    capnp::MessageBuilder builder(m_later_reply);
    TcpListener::AcceptResults::Builder results(builder.init_root(
        TcpListener::AcceptResults::data_words, TcpListener::AcceptResults::pointer_count));
    uint32_t badge = badge_of(Kind::Tcp, slot);
    results.set_socket(badge);
    results.set_address(address_bytes(connection.pcb->remote_ip));
    results.set_port(connection.pcb->remote_port);
    return answer(listener.accept.call_id, builder.words(), false, badge, TcpSocket::interface_id);
}

Status Stack::accept(TcpListener::AcceptParams::Reader, TcpListener::AcceptResults::Builder) {
    Listener& listener = m_listeners[m_badge & 0xff];
    if (listener.accept.waiting)
        return failure(ExceptionType::Overloaded, "another accept waits");
    listener.accept = {true, m_call_id, 0};
    m_deferred = true;
    if (listener.waiting_count == 0)
        return {};
    size_t slot = listener.waiting[0];
    --listener.waiting_count;
    __builtin_memmove(listener.waiting, listener.waiting + 1, listener.waiting_count);
    if (!answer_accept(listener, slot))
        close_connection(m_tcp[slot], true);
    return {};
}

void Stack::close_listener(Listener& listener) {
    if (listener.accept.waiting)
        answer_exception(listener.accept.call_id, ExceptionType::Disconnected,
                         "the listener was released");
    for (uint16_t i = 0; i < listener.waiting_count; ++i)
        close_connection(m_tcp[listener.waiting[i]], true);
    if (listener.pcb) {
        tcp_arg(listener.pcb, nullptr);
        tcp_accept(listener.pcb, nullptr);
        tcp_close(listener.pcb); // (a listening pcb always closes)
    }
    listener = {};
}

// --- Connecting ---------------------------------------------------------------------

Status Stack::connect(TcpConnector::ConnectParams::Reader params,
                      TcpConnector::ConnectResults::Builder) {
    ip_addr_t to;
    if (!to_address(params.address(), to))
        return failure(ExceptionType::InvalidArgument, "an address is 4 bytes (IPv4) or 16 (IPv6)");
    if (params.port() == 0)
        return failure(ExceptionType::InvalidArgument, "port 0");
    if (m_connecting == max_connecting)
        return failure(ExceptionType::Overloaded, "too many connections being opened");
    Connection* connection = new_connection();
    if (!connection)
        return failure(ExceptionType::Overloaded, "no room for another connection");
    connection->pcb = tcp_new_ip_type(u8_t(IP_GET_TYPE(&to)));
    if (!connection->pcb) {
        *connection = {};
        return failure(ExceptionType::Overloaded, "no room for another connection");
    }
    watch(*connection);
    err_t started = tcp_connect(connection->pcb, &to, params.port(), connected_callback);
    if (started != ERR_OK) {
        unwatch(connection->pcb);
        tcp_abort(connection->pcb);
        *connection = {};
        return failure(started == ERR_RTE ? ExceptionType::Failed : ExceptionType::Overloaded,
                       started == ERR_RTE ? "no route to the address"
                                          : "the connection could not be opened");
    }
    connection->connect = {true, m_call_id, 0};
    ++m_connecting;
    uint32_t timeout = params.timeout_ms() == 0 ? default_connect_timeout_ms : params.timeout_ms();
    sys_timeout(timeout, connect_timeout, slot_argument(slot_of(*connection)));
    m_deferred = true;
    return {};
}

bool Stack::answer_connect(Connection& connection, bool opened, const char* why) {
    connection.connect.waiting = false;
    --m_connecting;
    sys_untimeout(connect_timeout, slot_argument(slot_of(connection)));
    if (!opened) {
        answer_exception(connection.connect.call_id, ExceptionType::Failed, why);
        return false;
    }
    connection.minted = true;
    capnp::MessageBuilder builder(m_later_reply);
    TcpConnector::ConnectResults::Builder results(builder.init_root(
        TcpConnector::ConnectResults::data_words, TcpConnector::ConnectResults::pointer_count));
    uint32_t badge = badge_of(Kind::Tcp, slot_of(connection));
    results.set_socket(badge);
    return answer(connection.connect.call_id, builder.words(), false, badge,
                  TcpSocket::interface_id);
}

err_t Stack::on_connected(Connection& connection) {
    if (answer_connect(connection, true, nullptr))
        return ERR_OK;
    unwatch(connection.pcb);
    tcp_abort(connection.pcb);
    connection = {};
    return ERR_ABRT;
}

void Stack::connect_timed_out(size_t slot) {
    Connection& connection = m_tcp[slot];
    if (!connection.connect.waiting)
        return;
    unwatch(connection.pcb);
    tcp_abort(connection.pcb);
    connection.pcb = nullptr;
    answer_connect(connection, false, "no answer: the connection timed out");
    connection = {};
}

// --- Connections ---------------------------------------------------------------------

uint32_t Stack::window_advance() const {
    // Plentiful: less than half of what can hold received data (the frames
    // that may be lent and lwIP's pool) holds any. Past that, readers that
    // stop may hold no more than their window each, as other connections'
    // frames need the rest.
    uint32_t held = m_lent_count + lwip_stats.memp[MEMP_PBUF_POOL]->used;
    return held < (m_receive_buffers / 2 + PBUF_POOL_SIZE) / 2 ? TCP_WND : 0;
}

err_t Stack::on_received(Connection& connection, struct pbuf* p) {
    // (lwIP hands over at most 64 KiB at once, so p->tot_len is its length;
    // the chain of all that is unread may be longer, its head's tot_len
    // then wrong: the window counts it.)
    if (!p) {
        connection.finished = true;
    } else {
        if (connection.received)
            pbuf_cat(connection.received, p);
        else
            connection.received = p;
        open_window(connection, connection.window.arrived(p->tot_len, window_advance()));
    }
    if (connection.read.waiting)
        answer_read(connection);
    return ERR_OK;
}

void Stack::on_sent(Connection& connection) {
    if (!connection.write.waiting || !writable(connection.pcb))
        return;
    connection.write.waiting = false;
    capnp::MessageBuilder builder(m_later_reply);
    TcpSocket::WriteResults::Builder results(builder.init_root(
        TcpSocket::WriteResults::data_words, TcpSocket::WriteResults::pointer_count));
    results.set_written(0);
    answer(connection.write.call_id, builder.words(), false);
}

void Stack::on_error(Connection& connection, err_t error) {
    // lwIP has freed the pcb.
    connection.pcb = nullptr;
    connection.error = error;
    if (error == ERR_CLSD)
        connection.finished = true; // closed both ways in good order
    if (connection.connect.waiting) {
        answer_connect(connection, false,
                       error == ERR_RST ? "the connection was refused" : error_text(error));
        connection = {};
        return;
    }
    if (connection.listener >= 0) {
        // Reset before anyone accepted it: forgotten.
        Listener& listener = m_listeners[connection.listener];
        uint8_t slot = uint8_t(slot_of(connection));
        uint16_t kept = 0;
        for (uint16_t i = 0; i < listener.waiting_count; ++i)
            if (listener.waiting[i] != slot)
                listener.waiting[kept++] = listener.waiting[i];
        listener.waiting_count = kept;
        if (connection.received)
            pbuf_free(connection.received);
        connection = {};
        return;
    }
    if (connection.read.waiting)
        answer_read(connection);
    if (connection.write.waiting) {
        connection.write.waiting = false;
        answer_exception(connection.write.call_id, ExceptionType::Failed, error_text(error));
    }
}

void Stack::answer_read(Connection& connection) {
    connection.read.waiting = false;
    capnp::MessageBuilder builder(m_later_reply);
    Status filled;
    if (connection.read.into) {
        TcpSocket::ReadIntoResults::Builder results(builder.init_root(
            TcpSocket::ReadIntoResults::data_words, TcpSocket::ReadIntoResults::pointer_count));
        filled = fill_read_into(connection, connection.read, results);
    } else {
        TcpSocket::ReadResults::Builder results(builder.init_root(
            TcpSocket::ReadResults::data_words, TcpSocket::ReadResults::pointer_count));
        filled = fill_read(connection, connection.read.bytes, results);
    }
    if (filled.is_error())
        answer_exception(connection.read.call_id, filled.error().type, filled.error().message);
    else
        answer(connection.read.call_id, builder.words(), false);
}

Status Stack::read(TcpSocket::ReadParams::Reader params, TcpSocket::ReadResults::Builder results) {
    Connection& connection = m_tcp[m_badge & 0xff];
    uint32_t max_bytes = params.max_bytes();
    if (max_bytes == 0 || max_bytes > TcpSocket::max_io)
        return failure(ExceptionType::InvalidArgument, "maxBytes is 1 to maxIo");
    if (connection.read.waiting)
        return failure(ExceptionType::Overloaded, "another read waits");
    if (read_ready(connection))
        return fill_read(connection, max_bytes, results);
    connection.read = {true, m_call_id, max_bytes, false, 0};
    m_deferred = true;
    return {};
}

Status Stack::read_into(TcpSocket::ReadIntoParams::Reader params,
                        TcpSocket::ReadIntoResults::Builder results) {
    Connection& connection = m_tcp[m_badge & 0xff];
    TRY(shared_range(connection, params.offset(), params.max_bytes()));
    if (connection.read.waiting)
        return failure(ExceptionType::Overloaded, "another read waits");
    Deferred read{true, m_call_id, params.max_bytes(), true, params.offset()};
    if (read_ready(connection))
        return fill_read_into(connection, read, results);
    connection.read = read;
    m_deferred = true;
    return {};
}

// What write and writeFrom share: queues what of `data` the send buffer
// takes and answers how much, or leaves the call to be answered when there
// is room (m_deferred; the count is then not used).
Result<uint32_t, gen::Exception> Stack::send_data(Connection& connection,
                                                  std::span<const uint8_t> data) {
    if (connection.write.waiting)
        return Err{gen::Exception{ExceptionType::Overloaded, "another write waits"}};
    if (!connection.pcb)
        return Err{gen::Exception{ExceptionType::Failed, error_text(connection.error)}};
    if (connection.write_shut)
        return Err{
            gen::Exception{ExceptionType::Failed, "the connection was shut down for writing"}};
    uint16_t room = tcp_sndbuf(connection.pcb);
    uint16_t bytes = uint16_t(data.size() < room ? data.size() : room);
    if (bytes > 0 && tcp_write(connection.pcb, data.data(), bytes, TCP_WRITE_FLAG_COPY) == ERR_OK) {
        tcp_output(connection.pcb);
        return uint32_t(bytes);
    }
    if (!connection.pcb->unsent && !connection.pcb->unacked)
        // Nothing in flight to make room: lwIP's memory is what ran out.
        return Err{gen::Exception{ExceptionType::Overloaded, "no memory for the data"}};
    connection.write = {true, m_call_id, 0, false, 0};
    m_deferred = true;
    return uint32_t(0);
}

Status Stack::write(TcpSocket::WriteParams::Reader params,
                    TcpSocket::WriteResults::Builder results) {
    auto data = params.data();
    if (data.empty() || data.size() > TcpSocket::max_io)
        return failure(ExceptionType::InvalidArgument, "a write takes 1 to maxIo bytes");
    uint32_t written = TRY(send_data(m_tcp[m_badge & 0xff], data));
    results.set_written(written);
    return {};
}

Status Stack::write_from(TcpSocket::WriteFromParams::Reader params,
                         TcpSocket::WriteFromResults::Builder results) {
    Connection& connection = m_tcp[m_badge & 0xff];
    std::span<uint8_t> data = TRY(shared_range(connection, params.offset(), params.bytes()));
    uint32_t written = TRY(send_data(connection, data));
    results.set_written(written);
    return {};
}

Status Stack::share(TcpSocket::ShareParams::Reader params, TcpSocket::ShareResults::Builder) {
    Connection& connection = m_tcp[m_badge & 0xff];
    if (connection.shared)
        return failure(ExceptionType::InvalidArgument, "the socket has a shared buffer already");
    // The pointer names the capability by its id here (renamed in transfer).
    uint32_t index = 0;
    while (index < m_call_capabilities.size() && m_call_capabilities[index].cap != params.memory())
        ++index;
    if (index == m_call_capabilities.size() ||
        m_call_capabilities[index].interface_id != schema::MemoryObject::interface_id)
        return failure(ExceptionType::InvalidArgument, "memory is not a MemoryObject");
    abi::CapId id{m_call_capabilities[index].cap};
    schema::MemoryObject::Client<rt::ThreadTransport> memory(rt::thread_transport(), id.raw);
    auto info = memory.info();
    if (info.is_error())
        return failure(ExceptionType::InvalidArgument, "memory's size cannot be had");
    uint32_t pages = info.value().pages();
    if (pages == 0 || pages > TcpSocket::max_shared / 4096)
        return failure(ExceptionType::InvalidArgument, "memory is larger than maxShared");
    auto mapped = memory.map(0, 0, pages, schema::Access::ReadWrite);
    if (mapped.is_error())
        return failure(ExceptionType::InvalidArgument, "memory cannot be mapped read-write");
    connection.shared = reinterpret_cast<uint8_t*>(mapped.value().address());
    connection.shared_bytes = pages * 4096;
    connection.shared_memory = id;
    m_capability_taken = index;
    return {};
}

Status Stack::shutdown(TcpSocket::ShutdownParams::Reader, TcpSocket::ShutdownResults::Builder) {
    Connection& connection = m_tcp[m_badge & 0xff];
    if (connection.write_shut)
        return {};
    if (!connection.pcb)
        return failure(ExceptionType::Failed, error_text(connection.error));
    if (tcp_shutdown(connection.pcb, 0, 1) != ERR_OK)
        return failure(ExceptionType::Overloaded, "no memory to finish the stream");
    connection.write_shut = true;
    return {};
}

Status Stack::info(TcpSocket::InfoParams::Reader, TcpSocket::InfoResults::Builder results) {
    const Connection& connection = m_tcp[m_badge & 0xff];
    if (!connection.pcb)
        return failure(ExceptionType::Failed, error_text(connection.error));
    results.set_local_address(address_bytes(connection.pcb->local_ip));
    results.set_local_port(connection.pcb->local_port);
    results.set_remote_address(address_bytes(connection.pcb->remote_ip));
    results.set_remote_port(connection.pcb->remote_port);
    return {};
}

bool Stack::acknowledgements_delayed() const {
    for (const struct tcp_pcb* pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (pcb->flags & TF_ACK_DELAY)
            return true;
    }
    return false;
}

void Stack::send_delayed_acknowledgements() {
    for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (pcb->flags & TF_ACK_DELAY) {
            tcp_ack_now(pcb);
            tcp_output(pcb);
        }
    }
}

bool Stack::connections_closing() const {
    // Past FIN_WAIT_2 everything this side sent is acknowledged; before it
    // (FIN_WAIT_1, CLOSING, LAST_ACK, and a connection not yet closed),
    // something is still owed.
    for (const struct tcp_pcb* pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (pcb->state != FIN_WAIT_2 && pcb->state != TIME_WAIT && pcb->state != CLOSED)
            return true;
    }
    return false;
}

void Stack::close_connection(Connection& connection, bool reset) {
    if (connection.read.waiting)
        answer_exception(connection.read.call_id, ExceptionType::Disconnected,
                         "the socket was released");
    if (connection.write.waiting)
        answer_exception(connection.write.call_id, ExceptionType::Disconnected,
                         "the socket was released");
    if (connection.pcb) {
        unwatch(connection.pcb);
        if (reset || tcp_close(connection.pcb) != ERR_OK)
            tcp_abort(connection.pcb);
    }
    if (connection.received)
        pbuf_free(connection.received);
    if (connection.shared) {
        schema::MemoryObject::Client<rt::ThreadTransport> memory(rt::thread_transport(),
                                                                 connection.shared_memory.raw);
        (void)memory.unmap(reinterpret_cast<uint64_t>(connection.shared));
        (void)rt::release(connection.shared_memory);
    }
    connection = {};
}

// --- UDP ------------------------------------------------------------------------------

Status Stack::udp_bind(NetworkManager::UdpBindParams::Reader params,
                       NetworkManager::UdpBindResults::Builder results) {
    size_t slot = 0;
    while (slot < max_udp && m_udp[slot].used)
        ++slot;
    if (slot == max_udp)
        return failure(ExceptionType::Overloaded, "too many UDP sockets");
    struct udp_pcb* pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (!pcb)
        return failure(ExceptionType::Overloaded, "no room for another UDP socket");
    err_t bound = ::udp_bind(pcb, IP_ANY_TYPE, params.port());
    if (bound != ERR_OK) {
        udp_remove(pcb);
        return failure(bound == ERR_USE ? ExceptionType::Failed : ExceptionType::Overloaded,
                       bound == ERR_USE ? "the port is taken" : "the port could not be bound");
    }
    Udp& socket = m_udp[slot];
    socket = {};
    socket.used = true;
    socket.pcb = pcb;
    udp_recv(pcb, datagram_callback, &socket);
    m_mint_badge = badge_of(Kind::Udp, slot);
    m_mint_interface = UdpSocket::interface_id;
    results.set_socket(m_mint_badge);
    return {};
}

void Stack::on_datagram(Udp& socket, struct pbuf* p, const ip_addr_t* from, uint16_t port) {
    if (p->tot_len > UdpSocket::max_datagram || socket.count == UdpSocket::queued_datagrams) {
        pbuf_free(p);
        UDP_STATS_INC(udp.drop);
        return;
    }
    Datagram& datagram = socket.queue[(socket.head + socket.count) % UdpSocket::queued_datagrams];
    datagram.data = p;
    ip_addr_copy(datagram.from, *from);
    datagram.port = port;
    ++socket.count;
    if (socket.receive.waiting)
        answer_udp_receive(socket);
}

namespace {

// The oldest datagram of `socket` into `results`, taken from the queue.
void take_datagram(Udp& socket, UdpSocket::ReceiveResults::Builder results) {
    Datagram& datagram = socket.queue[socket.head];
    results.set_address(address_bytes(datagram.from));
    results.set_port(datagram.port);
    copy_into(results.fill_data(datagram.data->tot_len), datagram.data);
    pbuf_free(datagram.data);
    datagram = {};
    socket.head = uint16_t((socket.head + 1) % UdpSocket::queued_datagrams);
    --socket.count;
}

} // namespace

void Stack::answer_udp_receive(Udp& socket) {
    socket.receive.waiting = false;
    capnp::MessageBuilder builder(m_later_reply);
    UdpSocket::ReceiveResults::Builder results(builder.init_root(
        UdpSocket::ReceiveResults::data_words, UdpSocket::ReceiveResults::pointer_count));
    take_datagram(socket, results);
    answer(socket.receive.call_id, builder.words(), false);
}

Status Stack::receive(UdpSocket::ReceiveParams::Reader,
                      UdpSocket::ReceiveResults::Builder results) {
    Udp& socket = m_udp[m_badge & 0xff];
    if (socket.receive.waiting)
        return failure(ExceptionType::Overloaded, "another receive waits");
    if (socket.count > 0) {
        take_datagram(socket, results);
        return {};
    }
    socket.receive = {true, m_call_id, 0};
    m_deferred = true;
    return {};
}

Status Stack::send_to(UdpSocket::SendToParams::Reader params, UdpSocket::SendToResults::Builder) {
    Udp& socket = m_udp[m_badge & 0xff];
    ip_addr_t to;
    if (!to_address(params.address(), to))
        return failure(ExceptionType::InvalidArgument, "an address is 4 bytes (IPv4) or 16 (IPv6)");
    auto data = params.data();
    if (params.port() == 0 || data.size() > UdpSocket::max_datagram)
        return failure(ExceptionType::InvalidArgument, "port 0, or more than maxDatagram bytes");
    struct pbuf* p = pbuf_alloc(PBUF_TRANSPORT, uint16_t(data.size()), PBUF_RAM);
    if (!p)
        return failure(ExceptionType::Overloaded, "no memory for the datagram");
    pbuf_take(p, data.data(), uint16_t(data.size()));
    err_t sent = udp_sendto(socket.pcb, p, &to, params.port());
    pbuf_free(p);
    if (sent == ERR_RTE)
        return failure(ExceptionType::Failed, "no route to the address");
    if (sent != ERR_OK)
        return failure(ExceptionType::Overloaded, "the datagram could not be sent");
    return {};
}

Status Stack::port(UdpSocket::PortParams::Reader, UdpSocket::PortResults::Builder results) {
    results.set_port(m_udp[m_badge & 0xff].pcb->local_port);
    return {};
}

void Stack::close_udp(Udp& socket) {
    if (socket.receive.waiting)
        answer_exception(socket.receive.call_id, ExceptionType::Disconnected,
                         "the socket was released");
    for (uint16_t i = 0; i < socket.count; ++i)
        pbuf_free(socket.queue[(socket.head + i) % UdpSocket::queued_datagrams].data);
    if (socket.pcb)
        udp_remove(socket.pcb);
    socket = {};
}

} // namespace capos::netstack
