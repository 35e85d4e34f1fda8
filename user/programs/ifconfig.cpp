// ifconfig: prints each interface of the network stack it is granted as
// "net" (NetworkManager): its link, MTU and MAC, IPv4 address, prefix,
// gateway and DHCP state, IPv6 addresses, DNS servers and frame counts, on
// its standard output. Exits 0, 1 without a net or when the call fails, 2
// for arguments (it takes none).
#include "lib/net/address.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace net = capos::net;
namespace rt = capos::rt;
using capos::schema::DhcpState;
using capos::schema::NetworkManager;

int main() {
    if (rt::arguments().count() != 0) {
        rt::write_error_line("usage: ifconfig (with { net: @net })");
        return 2;
    }
    auto manager = rt::lookup<NetworkManager>("net");
    if (manager.is_error()) {
        rt::write_error_line("ifconfig: no 'net' capability (NetworkManager)");
        return 1;
    }
    auto listed = manager.value()->interfaces();
    if (listed.is_error()) {
        rt::write_error_line(Line("ifconfig: ").add(rt::call_error_text(listed.error())).view());
        return 1;
    }
    char text[net::ipv6_text_bytes];
    for (auto interface : listed.value().interfaces()) {
        Line line(interface.name());
        line.add(": link ").add(interface.link_up() ? "up" : "down").add(", MTU ");
        line.udec(interface.mtu());
        if (interface.mac().size() == 6) {
            char mac[net::mac_text_bytes];
            line.add(", MAC ").add(
                net::format_mac(std::span<const uint8_t, 6>(interface.mac().data(), 6), mac));
        }
        rt::write_output_line(line.view());
        Line v4("    inet ");
        if (interface.ipv4().size() == 4) {
            v4.add(net::format_ip(interface.ipv4(), text))
                .add('/')
                .udec(interface.ipv4_prefix_length());
            if (interface.ipv4_gateway().size() == 4)
                v4.add(" gateway ").add(net::format_ip(interface.ipv4_gateway(), text));
        } else {
            v4.add("none");
        }
        DhcpState dhcp = interface.dhcp();
        v4.add(dhcp == DhcpState::Bound       ? " (DHCP: bound)"
               : dhcp == DhcpState::Searching ? " (DHCP: searching)"
                                              : "");
        rt::write_output_line(v4.view());
        for (auto address : interface.ipv6())
            rt::write_output_line(Line("    inet6 ").add(net::format_ip(address, text)).view());
        for (auto server : interface.dns_servers())
            rt::write_output_line(Line("    dns ").add(net::format_ip(server, text)).view());
        Line counts("    frames: ");
        counts.udec(interface.frames_received()).add(" received, ");
        counts.udec(interface.frames_sent())
            .add(" sent, ")
            .udec(interface.dropped())
            .add(" dropped");
        rt::write_output_line(counts.view());
    }
    return 0;
}
