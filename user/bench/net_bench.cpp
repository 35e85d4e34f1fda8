// net-bench: capOS's side of the network figures (docs/performance.md,
// "Network"), the same four servers as the Linux peer's `peer_bench --net`
// (bench/linux/peer_bench.c), driven from the host by bench/net_client.c
// through QEMU's port forwards:
//
//   TCP 5001  sink: counts the bytes that come until the peer finishes,
//             then writes the count (8 bytes, little-endian) and closes.
//   TCP 5002  source: reads a count (8 bytes, little-endian), writes that
//             many bytes, and closes.
//
// The sink reads and the source writes through a buffer each connection
// shares with the stack (TcpSocket.share, readInto, writeFrom: the bytes are
// copied once, by the stack, as Linux's read and write copy them once).
//   TCP 5003  echo of one byte: reads a byte, writes it back and closes;
//             the byte 'q' also ends the program once it is written back.
//   UDP 5004  echo: sends each datagram back to where it came from.
//
// Each sink connection, from its accept to the end of its bytes, is marked
// for the profiling plugin (bench/plugin; bench/net_profile.py): the two
// marker instructions are no-ops when it is not loaded.
//
// It holds only the NetworkManager it is granted as "net" (and the
// console). It waits for the interface's address, listens, prints
// "net-bench: ready" and serves until the 'q'; then prints its counts and
// exits 0. Exits 1 when it cannot listen or an accept fails.
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace abi = capos::abi;
namespace rt = capos::rt;
using capos::schema::FrameAllocator;
using capos::schema::MemoryObject;
using capos::schema::NetworkManager;
using capos::schema::TcpListenAuthority;
using capos::schema::TcpListener;
using capos::schema::TcpSocket;
using capos::schema::UdpSocket;

namespace {

enum class Kind { Sink, Source, Echo };

constexpr uint16_t first_port = 5001;
constexpr uint16_t udp_port = 5004;
constexpr uint8_t quit_byte = 'q';

struct Listener {
    Kind kind = Kind::Sink;
    abi::CapId id{};
    rt::AsyncCall<512> accept;
};

// The client drives one connection at a time; a few slots let the next
// one be accepted while the last one is still being closed.
constexpr size_t max_connections = 4;

struct Connection {
    enum class State { Free, Reading, Writing };
    State state = State::Free;
    Kind kind = Kind::Sink;
    abi::CapId socket{};
    // Reads answer with up to max_io bytes, more than the thread's own
    // transport takes: each connection's calls have a buffer of their own.
    rt::AsyncCall<TcpSocket::max_io + 512> call;
    // Its buffer shared with the stack (sink and source), mapped here.
    abi::CapId memory{};
    uint8_t* shared = nullptr;
    bool into = false;   // the call in flight is a readInto or writeFrom
    uint64_t bytes = 0;  // sink: received; source: still to write
    uint8_t header[8]{}; // sink: the count written back; source: the count read
    uint32_t header_done = 0;
    uint8_t echo = 0;
};

// Ports first_port, +1, +2, in this order.
Listener g_listeners[3];
constexpr Kind listener_kinds[3] = {Kind::Sink, Kind::Source, Kind::Echo};
Connection g_connections[max_connections];
bool g_quit = false;
uint64_t g_served = 0;
uint64_t g_failed = 0;
uint64_t g_bytes_in = 0;
uint64_t g_bytes_out = 0;
uint64_t g_datagrams = 0;

// The profiling plugin's window (bench/plugin/capos_profile.cpp).
void profile_begin() {
    asm volatile("xchg %%rbx, %%rbx" ::: "memory");
}
void profile_end() {
    asm volatile("xchg %%rcx, %%rcx" ::: "memory");
}

// A sink's next read: into the shared buffer.
void start_read_into(Connection& c) {
    c.state = Connection::State::Reading;
    c.into = true;
    (void)c.call.start<TcpSocket::ReadIntoParams>(c.socket.raw, TcpSocket::interface_id,
                                                  uint16_t(TcpSocket::Method::ReadInto),
                                                  [](TcpSocket::ReadIntoParams::Builder params) {
                                                      params.set_offset(0);
                                                      params.set_max_bytes(TcpSocket::max_shared);
                                                  });
}

void start_read(Connection& c) {
    if (c.kind == Kind::Sink)
        return start_read_into(c);
    c.state = Connection::State::Reading;
    c.into = false;
    (void)c.call.start<TcpSocket::ReadParams>(
        c.socket.raw, TcpSocket::interface_id, uint16_t(TcpSocket::Method::Read),
        [](TcpSocket::ReadParams::Builder params) { params.set_max_bytes(TcpSocket::max_io); });
}

void start_write(Connection& c, const uint8_t* data, uint32_t length) {
    c.state = Connection::State::Writing;
    c.into = false;
    (void)c.call.start<TcpSocket::WriteParams>(c.socket.raw, TcpSocket::interface_id,
                                               uint16_t(TcpSocket::Method::Write),
                                               [&](TcpSocket::WriteParams::Builder params) {
                                                   params.set_data({data, length});
                                               });
}

// The next write of a source connection: the shared buffer's pattern, up to
// all of it.
void write_source(Connection& c) {
    uint64_t length = c.bytes < TcpSocket::max_shared ? c.bytes : TcpSocket::max_shared;
    c.state = Connection::State::Writing;
    c.into = true;
    (void)c.call.start<TcpSocket::WriteFromParams>(c.socket.raw, TcpSocket::interface_id,
                                                   uint16_t(TcpSocket::Method::WriteFrom),
                                                   [&](TcpSocket::WriteFromParams::Builder params) {
                                                       params.set_offset(0);
                                                       params.set_bytes(uint32_t(length));
                                                   });
}

void write_header(Connection& c) {
    start_write(c, c.header + c.header_done, uint32_t(sizeof c.header - c.header_done));
}

// Releasing the socket closes it: a FIN after what was written.
void end(Connection& c, bool failed) {
    (void)rt::release(c.socket);
    c.socket = {};
    c.state = Connection::State::Free;
    ++g_served;
    g_failed += failed ? 1 : 0;
}

void fail(Connection& c, const char* what, std::string_view why) {
    rt::write_error_line(Line("net-bench: ").add(what).add(": ").add(why).view());
    end(c, true);
}

void read_done(Connection& c, std::span<const uint8_t> data) {
    switch (c.kind) {
    case Kind::Sink:
        if (!data.empty()) {
            c.bytes += data.size();
            g_bytes_in += data.size();
            start_read(c);
            return;
        }
        profile_end();
        rt::write_output_line(Line("net-bench: sink received ").udec(c.bytes).add(" bytes").view());
        for (size_t i = 0; i < sizeof c.header; ++i)
            c.header[i] = uint8_t(c.bytes >> (8 * i));
        c.header_done = 0;
        write_header(c);
        return;
    case Kind::Source:
        if (data.empty())
            return fail(c, "source", "the peer finished before sending a count");
        for (uint8_t byte : data) {
            if (c.header_done < sizeof c.header)
                c.header[c.header_done++] = byte;
        }
        if (c.header_done < sizeof c.header) {
            start_read(c);
            return;
        }
        c.bytes = 0;
        for (size_t i = 0; i < sizeof c.header; ++i)
            c.bytes |= uint64_t(c.header[i]) << (8 * i);
        rt::write_output_line(
            Line("net-bench: source sending ").udec(c.bytes).add(" bytes").view());
        if (c.bytes == 0)
            return end(c, false);
        write_source(c);
        return;
    case Kind::Echo:
        if (data.empty())
            return fail(c, "echo", "the peer finished before sending a byte");
        c.echo = data[0];
        start_write(c, &c.echo, 1);
        return;
    }
}

void write_done(Connection& c, uint32_t written) {
    // (0 written: the socket had no room; the same write again.)
    switch (c.kind) {
    case Kind::Sink:
        c.header_done += written;
        if (c.header_done < sizeof c.header)
            return write_header(c);
        return end(c, false);
    case Kind::Source:
        c.bytes -= written;
        g_bytes_out += written;
        if (c.bytes > 0)
            return write_source(c);
        return end(c, false);
    case Kind::Echo:
        if (written == 0)
            return start_write(c, &c.echo, 1);
        g_quit = g_quit || c.echo == quit_byte;
        return end(c, false);
    }
}

void step(Connection& c, const abi::Cqe& cqe) {
    if (c.state == Connection::State::Reading && c.into) {
        auto read = c.call.finish<TcpSocket::ReadIntoResults>(cqe);
        if (read.is_error())
            return fail(c, "readInto", rt::call_error_text(read.error()));
        // (the bytes are in the shared buffer; the sink only counts them)
        read_done(c, {c.shared, read.value().bytes()});
    } else if (c.state == Connection::State::Writing && c.into) {
        auto written = c.call.finish<TcpSocket::WriteFromResults>(cqe);
        if (written.is_error())
            return fail(c, "writeFrom", rt::call_error_text(written.error()));
        write_done(c, written.value().written());
    } else if (c.state == Connection::State::Reading) {
        auto read = c.call.finish<TcpSocket::ReadResults>(cqe);
        if (read.is_error())
            return fail(c, "read", rt::call_error_text(read.error()));
        read_done(c, read.value().data());
    } else if (c.state == Connection::State::Writing) {
        auto written = c.call.finish<TcpSocket::WriteResults>(cqe);
        if (written.is_error())
            return fail(c, "write", rt::call_error_text(written.error()));
        write_done(c, written.value().written());
    }
}

// Each connection slot's buffer to share: maxShared bytes of the pattern.
bool make_buffers() {
    auto frames = rt::lookup<FrameAllocator>("frames");
    if (frames.is_error()) {
        rt::write_error_line("net-bench: no 'frames' capability (FrameAllocator)");
        return false;
    }
    for (Connection& c : g_connections) {
        auto made = frames.value()->allocate(TcpSocket::max_shared / 4096, false);
        if (made.is_error()) {
            rt::write_error_line(
                Line("net-bench: allocate: ").add(rt::call_error_text(made.error())).view());
            return false;
        }
        c.memory = abi::CapId{made.value().memory()}; // (a kernel service's answer)
        MemoryObject::Client<rt::ThreadTransport> memory(rt::thread_transport(), c.memory.raw);
        auto mapped =
            memory.map(0, 0, TcpSocket::max_shared / 4096, capos::schema::Access::ReadWrite);
        if (mapped.is_error()) {
            rt::write_error_line(
                Line("net-bench: map: ").add(rt::call_error_text(mapped.error())).view());
            return false;
        }
        c.shared = reinterpret_cast<uint8_t*>(mapped.value().address());
        for (size_t i = 0; i < TcpSocket::max_shared; ++i)
            c.shared[i] = uint8_t(i * 7 + (i >> 10));
    }
    return true;
}

// Shares the slot's buffer with its new socket (a sink or a source).
bool share(Connection& c) {
    rt::thread_transport().send_with_next_call(c.memory, abi::TransferMode::Copy);
    auto shared = TcpSocket::Client<rt::ThreadTransport>(rt::thread_transport(), c.socket.raw)
                      .share(c.memory.raw);
    if (shared.is_error())
        rt::write_error_line(
            Line("net-bench: share: ").add(rt::call_error_text(shared.error())).view());
    return shared.is_ok();
}

bool listen(rt::Capability<TcpListenAuthority>& authority) {
    for (size_t i = 0; i < 3; ++i) {
        auto listening = authority->listen(uint16_t(first_port + i), 0);
        if (listening.is_error()) {
            rt::write_error_line(Line("net-bench: listen on ")
                                     .udec(first_port + i)
                                     .add(": ")
                                     .add(rt::call_error_text(listening.error()))
                                     .view());
            return false;
        }
        g_listeners[i].kind = listener_kinds[i];
        g_listeners[i].id = rt::received_capability(listening.value().listener());
    }
    return true;
}

} // namespace

int main() {
    auto net = rt::lookup<NetworkManager>("net");
    if (net.is_error()) {
        rt::write_error_line("net-bench: no 'net' capability (NetworkManager)");
        return 1;
    }
    auto configured = net.value()->wait_configured(20000);
    if (configured.is_error() || !configured.value().configured()) {
        rt::write_error_line("net-bench: the interface has no IPv4 address after 20 s");
        return 1;
    }
    auto made = net.value()->tcp_listen_authority(first_port, first_port + 2);
    if (made.is_error()) {
        rt::write_error_line(Line("net-bench: ").add(rt::call_error_text(made.error())).view());
        return 1;
    }
    rt::Capability<TcpListenAuthority> authority(rt::received_capability(made.value().authority()));
    if (!listen(authority))
        return 1;
    auto bound = net.value()->udp_bind(udp_port);
    if (bound.is_error()) {
        rt::write_error_line(
            Line("net-bench: udp: ").add(rt::call_error_text(bound.error())).view());
        return 1;
    }
    rt::Capability<UdpSocket> udp(rt::received_capability(bound.value().socket()));
    if (!make_buffers())
        return 1;
    rt::write_output_line(
        "net-bench: ready (tcp 5001 sink, 5002 source, 5003 echo; udp 5004 echo)");

    static rt::AsyncCall<UdpSocket::max_datagram + 512> receiver;
    while (!g_quit) {
        // An accept in flight on each listener while a slot is left for
        // every accept that may complete.
        size_t free = 0;
        for (const Connection& c : g_connections)
            free += c.state == Connection::State::Free ? 1 : 0;
        for (const Listener& l : g_listeners)
            free -= l.accept.in_flight() && free > 0 ? 1 : 0;
        for (Listener& l : g_listeners) {
            if (free == 0 || l.accept.in_flight())
                continue;
            (void)l.accept.start<TcpListener::AcceptParams>(
                l.id.raw, TcpListener::interface_id, uint16_t(TcpListener::Method::Accept),
                [](TcpListener::AcceptParams::Builder) {});
            --free;
        }
        if (!receiver.in_flight())
            (void)receiver.start<UdpSocket::ReceiveParams>(
                udp.id().raw, UdpSocket::interface_id, uint16_t(UdpSocket::Method::Receive),
                [](UdpSocket::ReceiveParams::Builder) {});

        uint64_t tickets[4 + max_connections] = {receiver.ticket()};
        for (size_t i = 0; i < 3; ++i)
            tickets[1 + i] = g_listeners[i].accept.ticket();
        for (size_t i = 0; i < max_connections; ++i)
            tickets[4 + i] = g_connections[i].call.ticket();
        size_t which = 0;
        abi::Cqe cqe = rt::ring().wait_any(tickets, which);
        if (which >= 4) {
            step(g_connections[which - 4], cqe);
            continue;
        }
        if (which == 0) {
            auto received = receiver.finish<UdpSocket::ReceiveResults>(cqe);
            if (received.is_error()) {
                rt::write_error_line(
                    Line("net-bench: udp: ").add(rt::call_error_text(received.error())).view());
                return 1;
            }
            // The datagram stays in the receiver's buffer while the send
            // (through the thread's transport) takes it back.
            auto datagram = received.value();
            auto sent = udp->send_to(datagram.address(), datagram.port(), datagram.data());
            if (sent.is_error())
                rt::write_error_line(
                    Line("net-bench: udp: ").add(rt::call_error_text(sent.error())).view());
            else
                ++g_datagrams;
            continue;
        }
        Listener& l = g_listeners[which - 1];
        auto accepted = l.accept.finish<TcpListener::AcceptResults>(cqe);
        if (accepted.is_error()) {
            rt::write_error_line(
                Line("net-bench: accept: ").add(rt::call_error_text(accepted.error())).view());
            return 1;
        }
        for (Connection& c : g_connections) {
            if (c.state != Connection::State::Free)
                continue;
            c.kind = l.kind;
            c.socket = l.accept.received_capability(accepted.value().socket());
            c.bytes = 0;
            c.header_done = 0;
            if (c.kind == Kind::Sink)
                profile_begin();
            if (c.kind != Kind::Echo && !share(c)) {
                end(c, true);
                break;
            }
            start_read(c);
            break;
        }
    }
    rt::write_output_line(Line("net-bench: ")
                              .udec(g_served)
                              .add(" connections (")
                              .udec(g_failed)
                              .add(" failed), ")
                              .udec(g_bytes_in)
                              .add(" bytes in, ")
                              .udec(g_bytes_out)
                              .add(" bytes out, ")
                              .udec(g_datagrams)
                              .add(" datagrams echoed")
                              .view());
    return 0;
}
