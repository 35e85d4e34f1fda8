// resolve <name>...: looks each name up through the Resolver it is granted
// as "resolver" (NetworkManager's resolver) and prints a line for each:
// its IPv4 and IPv6 addresses, or why it has none. Exits 0 when every name
// was resolved, 1 when any was not (or without a resolver), 2 for bad
// arguments.
#include "lib/net/address.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

using capos::rt::Line;
namespace net = capos::net;
namespace rt = capos::rt;
using capos::schema::Resolver;

namespace {

constexpr uint32_t timeout_ms = 5000;

} // namespace

int main() {
    auto args = rt::arguments();
    if (args.count() < 1) {
        rt::write_error_line("usage: resolve <name>...");
        return 2;
    }
    auto resolver = rt::lookup<Resolver>("resolver");
    if (resolver.is_error()) {
        rt::write_error_line("resolve: no 'resolver' capability (Resolver: call "
                             "@net.resolver() -> @dns, then run resolve ... with { resolver: "
                             "@dns })");
        return 1;
    }
    int status = 0;
    for (uint32_t i = 0; i < args.count(); ++i) {
        std::string_view name = args[i];
        auto answer = resolver.value()->resolve(name, timeout_ms);
        Line line;
        line.add(name).add(':');
        if (answer.is_error()) {
            line.add(" ").add(rt::call_error_text(answer.error()));
            status = 1;
        } else {
            auto addresses = answer.value().addresses();
            for (uint32_t a = 0; a < addresses.size(); ++a) {
                char text[net::ipv6_text_bytes];
                line.add(' ').add(net::format_ip(addresses[a], text));
            }
        }
        rt::write_output_line(line.view());
    }
    return status;
}
