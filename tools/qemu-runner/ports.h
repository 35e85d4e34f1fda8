// Host ports for a scenario's network: each `{port:NAME}` placeholder in a
// `netdev:`, `host:` or `send:` value stands for one free port on 127.0.0.1,
// picked afresh for every run so that scenarios running at once never share one.
//
// A port is picked by binding it, TCP (listening) and UDP both, and the runner
// holds both sockets until the port has its user:
//   - a name used in a `netdev:` value is QEMU's to bind (a hostfwd rule): the
//     runner closes its sockets right before it starts QEMU, and retries the
//     run with new ports should QEMU then find one taken;
//   - any other name is the host commands': they inherit both sockets, already
//     bound and listening, and find them in CAPOS_TCP_<NAME> and
//     CAPOS_UDP_<NAME> (port_env_name()), so a host server never races the
//     guest for its port.
#pragma once

#include "lib/base/result.h"
#include "tools/qemu-runner/unique_fd.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace capos::qemu {

inline constexpr std::string_view port_placeholder_start = "{port:";
// The listening socket's backlog: connections the guest or a host peer makes
// before a host server accepts.
inline constexpr int port_backlog = 64;

// A port name: one or more letters, digits, '_' and '-'.
bool is_valid_port_name(std::string_view name);

// The names of the `{port:NAME}` placeholders in `text`, in order (a name as
// often as it is used), or what is wrong with the first malformed one: a
// `{port:` not followed by a valid name and '}'. Any other '{' is text.
Result<std::vector<std::string>, std::string> port_placeholders(std::string_view text);

// The port picked for each name.
using PortMap = std::map<std::string, uint16_t, std::less<>>;

// `text` with every `{port:NAME}` whose NAME `ports` holds replaced by the
// port in decimal; anything else, including a placeholder of a name it does
// not hold, is kept as it is.
std::string substitute_ports(std::string_view text, const PortMap& ports);

// The environment variable that gives a host command the descriptor of its
// `protocol` ("TCP" or "UDP") socket for port `name`: CAPOS_<protocol>_<NAME>
// with NAME upper-cased and each '-' written '_'.
std::string port_env_name(std::string_view protocol, std::string_view name);

// A port picked for a run, held by the runner: a TCP socket listening on
// 127.0.0.1:port and a UDP socket bound to the same port, both close-on-exec.
struct BoundPort {
    uint16_t port = 0;
    UniqueFd tcp;
    UniqueFd udp;
};

// Binds a TCP socket to an ephemeral port of 127.0.0.1 and listens, then binds
// a UDP socket to the same port; tries a few ports when that one's UDP side is
// taken.
Result<BoundPort, std::string> bind_free_port();

} // namespace capos::qemu
