// fetch [-q] <url>: a minimal HTTP/1.1 client. GETs an http:// URL whose
// host is an IPv4 or IPv6 address (in brackets: http://[fec0::2]:8080/), or
// a name looked up through the Resolver it is granted as "resolver",
// through the TcpConnector it is granted as "tcp" (NetworkManager's
// tcpConnector), and writes the response's body on its standard output
// (not with -q), then a line on its standard error with the status, the
// body's length and its SHA-256. Exits 0 for a
// status of 200 to 299, 1 for another or when the response cannot be had
// (refused, timed out, malformed, cut short), 2 for bad arguments.
#include "lib/crypto/sha256.h"
#include "lib/net/address.h"
#include "lib/net/http.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace http = capos::net::http;
namespace net = capos::net;
namespace rt = capos::rt;
using capos::schema::Resolver;
using capos::schema::TcpConnector;
using capos::schema::TcpSocket;

namespace {

constexpr uint32_t connect_timeout_ms = 10'000;
constexpr uint32_t resolve_timeout_ms = 5000;

int failed(std::string_view what, std::string_view why) {
    rt::write_error_line(Line("fetch: ").add(what).add(": ").add(why).view());
    return 1;
}

// Sends all of `bytes`, writing again what the socket had no room for.
bool write_all(rt::Capability<TcpSocket>& socket, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        auto written = socket->write(bytes);
        if (written.is_error()) {
            (void)failed("sending the request", rt::call_error_text(written.error()));
            return false;
        }
        bytes = bytes.subspan(written.value().written());
    }
    return true;
}

} // namespace

int main() {
    auto args = rt::arguments();
    std::optional<http::Url> url;
    bool quiet = args.count() == 2 && args[0] == std::string_view("-q");
    if (args.count() == (quiet ? 2u : 1u))
        url = http::parse_url(args[quiet ? 1 : 0]);
    if (!url) {
        rt::write_error_line("usage: fetch [-q] http://<address>[:port][/path]");
        return 2;
    }
    auto address = net::parse_ip(url->host);
    if (address ? (address->length == 16) != url->bracketed : url->bracketed) {
        rt::write_error_line(
            Line("fetch: '").add(url->host).add("' is not an address (IPv6 in brackets)").view());
        return 2;
    }
    if (!address) {
        // A name: its first address (IPv4 before IPv6), from the resolver.
        auto resolver = rt::lookup<Resolver>("resolver");
        if (resolver.is_error()) {
            rt::write_error_line("fetch: a name needs a 'resolver' capability (Resolver: call "
                                 "@net.resolver() -> @dns, then run fetch ... with { tcp: @tcp, "
                                 "resolver: @dns })");
            return 1;
        }
        auto resolved = resolver.value()->resolve(url->host, resolve_timeout_ms);
        if (resolved.is_error())
            return failed(url->host, rt::call_error_text(resolved.error()));
        auto first = resolved.value().addresses()[0];
        address.emplace();
        address->length = uint8_t(first.size() == 16 ? 16 : 4);
        __builtin_memcpy(address->bytes, first.data(), address->length);
    }
    auto connector = rt::lookup<TcpConnector>("tcp");
    if (connector.is_error()) {
        rt::write_error_line("fetch: no 'tcp' capability (TcpConnector: call @net.tcpConnector() "
                             "-> @tcp, then run fetch ... with { tcp: @tcp })");
        return 1;
    }
    char request[1024];
    size_t request_length = http::write_request(*url, request);
    if (request_length == 0) {
        rt::write_error_line("fetch: the URL is too long");
        return 2;
    }
    auto connected = connector.value()->connect(address->view(), url->port, connect_timeout_ms);
    if (connected.is_error())
        return failed("connecting", rt::call_error_text(connected.error()));
    rt::Capability<TcpSocket> socket(rt::received_capability(connected.value().socket()));
    if (!write_all(socket, {reinterpret_cast<const uint8_t*>(request), request_length}))
        return 1;

    static http::ResponseReader response;
    static rt::AsyncCall<TcpSocket::max_io + 512> reader;
    uint64_t body_bytes = 0;
    bool output_ok = true;
    capos::crypto::Sha256 digest;
    auto body = [&](std::span<const uint8_t> piece) {
        body_bytes += piece.size();
        digest.update(piece.data(), piece.size());
        if (!quiet)
            output_ok = output_ok && rt::write_output({reinterpret_cast<const char*>(piece.data()),
                                                       piece.size()});
    };
    http::ResponseReader::State state = response.state();
    while (state == http::ResponseReader::State::Head ||
           state == http::ResponseReader::State::Body) {
        // (The thread's own transport takes answers of 4 KiB: a read of up
        // to maxIo has a buffer of its own.)
        (void)reader.start<TcpSocket::ReadParams>(
            socket.id().raw, TcpSocket::interface_id, uint16_t(TcpSocket::Method::Read),
            [](TcpSocket::ReadParams::Builder params) { params.set_max_bytes(TcpSocket::max_io); });
        auto read = reader.finish<TcpSocket::ReadResults>(rt::ring().wait(reader.ticket()));
        if (read.is_error())
            return failed("reading the response", rt::call_error_text(read.error()));
        auto data = read.value().data();
        state = data.empty() ? response.finish() : response.feed(data, body);
    }
    if (state == http::ResponseReader::State::Error)
        return failed("the response", response.error());
    Line summary("fetch: HTTP ");
    summary.udec(response.status()).add(", ").udec(body_bytes).add(" bytes, sha256 ");
    for (uint8_t byte : digest.finish())
        summary.add("0123456789abcdef"[byte >> 4]).add("0123456789abcdef"[byte & 15]);
    rt::write_error_line(summary.view());
    if (!output_ok)
        return failed("writing the body", "the standard output refused it");
    return response.status() >= 200 && response.status() < 300 ? 0 : 1;
}
