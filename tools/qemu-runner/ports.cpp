#include "tools/qemu-runner/ports.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

namespace capos::qemu {
namespace {

// How many ephemeral ports bind_free_port() tries before it gives up: each
// one's UDP side was taken (another program's UDP socket on a port free for
// TCP is rare).
constexpr int max_port_tries = 8;

bool is_port_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// The placeholder that starts at `text[0]` (which starts with
// port_placeholder_start): its name, or what is wrong with it.
Result<std::string_view, std::string> placeholder_name(std::string_view text) {
    std::string_view rest = text.substr(port_placeholder_start.size());
    size_t close = rest.find('}');
    std::string_view name = rest.substr(0, close);
    if (close != std::string_view::npos && is_valid_port_name(name))
        return name;
    // What the scenario wrote: up to the brace, or a little of it.
    size_t end =
        close == std::string_view::npos ? text.size() : port_placeholder_start.size() + close + 1;
    std::string shown(text.substr(0, std::min(end, size_t(40))));
    return Err{"bad placeholder '" + shown +
               "' (want {port:NAME}, NAME letters, digits, '_' or '-')"};
}

sockaddr_in loopback(uint16_t port) {
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

} // namespace

bool is_valid_port_name(std::string_view name) {
    if (name.empty())
        return false;
    for (char c : name) {
        if (!is_port_name_char(c))
            return false;
    }
    return true;
}

Result<std::vector<std::string>, std::string> port_placeholders(std::string_view text) {
    std::vector<std::string> names;
    for (size_t at = text.find(port_placeholder_start); at != std::string_view::npos;
         at = text.find(port_placeholder_start, at + 1)) {
        std::string_view name = TRY(placeholder_name(text.substr(at)));
        names.emplace_back(name);
    }
    return names;
}

std::string substitute_ports(std::string_view text, const PortMap& ports) {
    std::string out;
    for (;;) {
        size_t at = text.find(port_placeholder_start);
        if (at == std::string_view::npos)
            return out.append(text);
        out.append(text.substr(0, at));
        text.remove_prefix(at);
        auto name = placeholder_name(text);
        auto port = name.is_ok() ? ports.find(name.value()) : ports.end();
        if (port == ports.end()) {
            out += text.front();
            text.remove_prefix(1);
            continue;
        }
        out += std::to_string(port->second);
        text.remove_prefix(port_placeholder_start.size() + name.value().size() + 1);
    }
}

std::string port_env_name(std::string_view protocol, std::string_view name) {
    std::string variable = "CAPOS_" + std::string(protocol) + "_";
    for (char c : name) {
        if (c == '-')
            variable += '_';
        else if (c >= 'a' && c <= 'z')
            variable += static_cast<char>(c - 'a' + 'A');
        else
            variable += c;
    }
    return variable;
}

Result<BoundPort, std::string> bind_free_port() {
    for (int attempt = 0; attempt < max_port_tries; ++attempt) {
        BoundPort bound;
        bound.tcp.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!bound.tcp.is_open())
            return Err{errno_text("socket")};
        sockaddr_in address = loopback(0);
        socklen_t length = sizeof address;
        if (bind(bound.tcp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            listen(bound.tcp.get(), port_backlog) != 0 ||
            getsockname(bound.tcp.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            return Err{errno_text("binding a TCP port on 127.0.0.1")};
        }
        bound.port = ntohs(address.sin_port);
        bound.udp.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!bound.udp.is_open())
            return Err{errno_text("socket")};
        address = loopback(bound.port);
        if (bind(bound.udp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0)
            return bound;
        if (errno != EADDRINUSE)
            return Err{errno_text("binding a UDP port on 127.0.0.1")};
    }
    return Err{"no port of 127.0.0.1 free for both TCP and UDP in " +
               std::to_string(max_port_tries) + " tries"};
}

} // namespace capos::qemu
