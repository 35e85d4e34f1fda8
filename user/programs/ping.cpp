// ping <address> [count]: sends `count` (default 4, at most 1000) ICMP
// echo requests of 56 bytes to an IPv4 or IPv6 address through the Icmp
// capability it is granted as "icmp" (NetworkManager.icmp), one a second
// when it holds a "timer", each waited for at most 2 s, and prints a line
// per answer and a summary on its standard output. Exits 0 when any was
// answered, 1 when none was (or without an icmp), 2 for bad arguments.
#include "lib/base/decimal.h"
#include "lib/net/address.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace net = capos::net;
namespace rt = capos::rt;
using capos::schema::Icmp;

namespace {

constexpr uint16_t payload_bytes = 56;
constexpr uint32_t timeout_ms = 2000;
constexpr uint64_t max_count = 1000;

} // namespace

int main() {
    auto args = rt::arguments();
    uint64_t count = 4;
    std::optional<net::IpAddress> address;
    if (args.count() >= 1 && args.count() <= 2)
        address = net::parse_ip(args[0]);
    if (!address || (args.count() == 2 && !capos::parse_decimal(args[1], 1, max_count, count))) {
        rt::write_error_line("usage: ping <IPv4 or IPv6 address> [count: 1 to 1000]");
        return 2;
    }
    auto icmp = rt::lookup<Icmp>("icmp");
    if (icmp.is_error()) {
        rt::write_error_line("ping: no 'icmp' capability (Icmp: call @net.icmp() -> @icmp, then "
                             "run ping ... with { icmp: @icmp })");
        return 1;
    }
    auto timer = rt::lookup<capos::schema::Timer>("timer");
    char text[net::ipv6_text_bytes];
    std::string_view name = net::format_ip(address->view(), text);
    rt::write_output_line(
        Line("PING ").add(name).add(": ").udec(payload_bytes).add(" data bytes").view());
    uint64_t answered = 0;
    uint64_t total_us = 0;
    for (uint64_t sequence = 1; sequence <= count; ++sequence) {
        auto echo =
            icmp.value()->echo(address->view(), uint16_t(sequence), payload_bytes, timeout_ms);
        if (echo.is_error()) {
            rt::write_error_line(Line("ping: ").add(rt::call_error_text(echo.error())).view());
            return 1;
        }
        if (echo.value().answered()) {
            ++answered;
            uint64_t us = echo.value().round_trip_us();
            total_us += us;
            Line line;
            line.udec(payload_bytes + 8).add(" bytes from ").add(name).add(": icmp_seq=");
            line.udec(sequence).add(address->length == 4 ? " ttl=" : " hlim=");
            line.udec(echo.value().ttl()).add(" time=").udec(us / 1000).add('.');
            line.udec(us / 100 % 10).udec(us / 10 % 10).udec(us % 10).add(" ms");
            rt::write_output_line(line.view());
        } else {
            rt::write_output_line(
                Line("no answer from ").add(name).add(": icmp_seq=").udec(sequence).view());
        }
        if (sequence < count && timer.is_ok())
            (void)timer.value()->sleep(1'000'000'000);
    }
    rt::write_output_line(Line("--- ").add(name).add(" ping statistics ---").view());
    Line summary;
    summary.udec(count).add(" sent, ").udec(answered).add(" answered, ");
    summary.udec((count - answered) * 100 / count).add("% lost");
    if (answered)
        summary.add(", average ")
            .udec(total_us / answered / 1000)
            .add('.')
            .udec(total_us / answered / 100 % 10)
            .add(" ms");
    rt::write_output_line(summary.view());
    return answered > 0 ? 0 : 1;
}
