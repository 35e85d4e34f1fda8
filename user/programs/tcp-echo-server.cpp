// tcp-echo-server <port> [connections]: listens on <port> through the
// TcpListenAuthority it is granted as "listen" (NetworkManager's
// tcpListenAuthority) and sends back everything each connection sends,
// closing its side when the peer has finished. Serves up to 8 connections
// at once, each with one call in flight (rt::AsyncCall), all waited for
// together. After `connections` connections have ended (without it: never)
// prints how many and the bytes echoed on its standard output and exits 0;
// exits 1 when it cannot listen, 2 for bad arguments.
#include "lib/base/decimal.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace abi = capos::abi;
namespace rt = capos::rt;
using capos::schema::TcpListenAuthority;
using capos::schema::TcpListener;
using capos::schema::TcpSocket;

namespace {

constexpr size_t max_clients = 8;

struct Client {
    enum class State { Free, Reading, Writing, Finishing };
    State state = State::Free;
    abi::CapId socket{};
    rt::AsyncCall<TcpSocket::max_io + 512> call;
    uint8_t data[TcpSocket::max_io];
    uint32_t length = 0;
    uint32_t sent = 0;
};

Client g_clients[max_clients];
uint64_t g_bytes = 0;
uint64_t g_ended = 0;
uint64_t g_failed = 0;

void start_read(Client& client) {
    client.state = Client::State::Reading;
    (void)client.call.start<TcpSocket::ReadParams>(
        client.socket.raw, TcpSocket::interface_id, uint16_t(TcpSocket::Method::Read),
        [](TcpSocket::ReadParams::Builder params) { params.set_max_bytes(TcpSocket::max_io); });
}

void start_write(Client& client) {
    client.state = Client::State::Writing;
    (void)client.call.start<TcpSocket::WriteParams>(
        client.socket.raw, TcpSocket::interface_id, uint16_t(TcpSocket::Method::Write),
        [&](TcpSocket::WriteParams::Builder params) {
            params.set_data({client.data + client.sent, client.length - client.sent});
        });
}

void start_finish(Client& client) {
    client.state = Client::State::Finishing;
    (void)client.call.start<TcpSocket::ShutdownParams>(client.socket.raw, TcpSocket::interface_id,
                                                       uint16_t(TcpSocket::Method::Shutdown),
                                                       [](TcpSocket::ShutdownParams::Builder) {});
}

void end(Client& client, bool failed) {
    (void)rt::release(client.socket);
    client.socket = {};
    client.state = Client::State::Free;
    ++g_ended;
    g_failed += failed ? 1 : 0;
}

template <typename Answer>
bool failed(Client& client, const Answer& answer) {
    if (answer.is_ok())
        return false;
    rt::write_error_line(Line("tcp-echo-server: ").add(rt::call_error_text(answer.error())).view());
    end(client, true);
    return true;
}

// The next step of a client whose call has completed with `cqe`.
void step(Client& client, const abi::Cqe& cqe) {
    switch (client.state) {
    case Client::State::Reading: {
        auto read = client.call.finish<TcpSocket::ReadResults>(cqe);
        if (failed(client, read))
            return;
        auto data = read.value().data();
        if (data.empty()) {
            start_finish(client); // the peer has finished: so does this side
            return;
        }
        __builtin_memcpy(client.data, data.data(), data.size());
        client.length = uint32_t(data.size());
        client.sent = 0;
        start_write(client);
        return;
    }
    case Client::State::Writing: {
        auto written = client.call.finish<TcpSocket::WriteResults>(cqe);
        if (failed(client, written))
            return;
        client.sent += written.value().written();
        g_bytes += written.value().written();
        if (client.sent < client.length)
            start_write(client); // (0 written: the socket had no room; again)
        else
            start_read(client);
        return;
    }
    case Client::State::Finishing: {
        auto finished = client.call.finish<TcpSocket::ShutdownResults>(cqe);
        if (!failed(client, finished))
            end(client, false);
        return;
    }
    case Client::State::Free:
        return;
    }
}

} // namespace

int main() {
    auto args = rt::arguments();
    uint64_t port = 0;
    uint64_t connections = 0;
    if (args.count() < 1 || args.count() > 2 || !capos::parse_decimal(args[0], 1, 65535, port) ||
        (args.count() == 2 && !capos::parse_decimal(args[1], 1, 1'000'000, connections))) {
        rt::write_error_line("usage: tcp-echo-server <port> [connections: 1 to 1000000]");
        return 2;
    }
    auto authority = rt::lookup<TcpListenAuthority>("listen");
    if (authority.is_error()) {
        rt::write_error_line("tcp-echo-server: no 'listen' capability (TcpListenAuthority: "
                             "call @net.tcpListenAuthority(firstPort = 7, lastPort = 7) -> "
                             "@listen)");
        return 1;
    }
    auto listening = authority.value()->listen(uint16_t(port), 0);
    if (listening.is_error()) {
        rt::write_error_line(
            Line("tcp-echo-server: ").add(rt::call_error_text(listening.error())).view());
        return 1;
    }
    rt::Capability<TcpListener> listener(rt::received_capability(listening.value().listener()));
    rt::write_output_line(Line("tcp-echo-server: listening on port ").udec(port).view());

    rt::AsyncCall<512> accept;
    uint64_t accepted = 0;
    while (connections == 0 || g_ended < connections) {
        // An accept in flight while a client is free and more may come.
        bool room = false;
        for (Client& client : g_clients)
            room = room || client.state == Client::State::Free;
        if (room && !accept.in_flight() && (connections == 0 || accepted < connections))
            (void)accept.start<TcpListener::AcceptParams>(
                listener.id().raw, TcpListener::interface_id, uint16_t(TcpListener::Method::Accept),
                [](TcpListener::AcceptParams::Builder) {});
        uint64_t tickets[1 + max_clients] = {accept.ticket()};
        for (size_t i = 0; i < max_clients; ++i)
            tickets[1 + i] = g_clients[i].call.ticket();
        size_t which = 0;
        abi::Cqe cqe = rt::ring().wait_any(tickets, which);
        if (which > 0) {
            step(g_clients[which - 1], cqe);
            continue;
        }
        auto answer = accept.finish<TcpListener::AcceptResults>(cqe);
        if (answer.is_error()) {
            rt::write_error_line(
                Line("tcp-echo-server: accept: ").add(rt::call_error_text(answer.error())).view());
            return 1;
        }
        ++accepted;
        for (Client& client : g_clients) {
            if (client.state != Client::State::Free)
                continue;
            client.socket = accept.received_capability(answer.value().socket());
            start_read(client);
            break;
        }
    }
    rt::write_output_line(Line("tcp-echo-server: ")
                              .udec(g_ended)
                              .add(" connections (")
                              .udec(g_failed)
                              .add(" failed), ")
                              .udec(g_bytes)
                              .add(" bytes echoed")
                              .view());
    return 0;
}
