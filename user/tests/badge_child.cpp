// badge_child: the other processes of the user_badges scenario
// (badge_test.cpp), one role per first argument:
//   plain   calls Echo.echo("plain") through "service" (the plain client
//           facet of an endpoint its parent serves) and exits 0 when the
//           answer is the same text;
//   holder  holds "facet", a copy of a minted facet (Echo) its parent
//           granted: checks its CapSet and typed lookups show Echo, says so
//           through the facet ("typed ok", or what differed) and exits 0
//           once answered;
//   server  serves Echo on "service" (a fresh endpoint it owns) through
//           rt::Server: "mint" mints a facet (badges from 7 on, speaking
//           Echo) and moves it to the caller with the answer "minted <badge>";
//           "owner" is answered with the interface its CapSet records for
//           "service" ("Endpoint", or the id in hex);
//           anything else is answered "badge <b> released <list>": the
//           badge of the facet the call came through and the badges whose
//           release notices reached the handler's released(), in order
//           ("none" before any).
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"

using namespace capos;
using schema::Echo;

namespace {

int plain() {
    auto service = rt::lookup<Echo>("service");
    if (service.is_error())
        return 2;
    auto reply = service.value()->echo("plain");
    return reply.is_ok() && reply.value().text() == "plain" ? 0 : 1;
}

int holder() {
    auto found = rt::find_capability("facet");
    if (found.is_error())
        return 2;
    rt::Line text;
    if (found.value().interface_id != Echo::interface_id)
        text.add("CapSet interface ").hex(found.value().interface_id).add(' ');
    auto as_null = rt::lookup<schema::Null>("facet");
    if (as_null.is_ok() || as_null.error() != rt::LookupError::WrongInterface)
        text.add("lookup as Null did not fail WrongInterface ");
    auto facet = rt::lookup<Echo>("facet");
    if (facet.is_error())
        return 3;
    if (text.empty())
        text.add("typed ok");
    auto reply = facet.value()->echo(text.view());
    return reply.is_ok() ? 0 : 1;
}

class MintingServer {
public:
    MintingServer(rt::Server& server, uint64_t owner_interface)
        : m_server(server), m_owner_interface(owner_interface) {}

    Result<void, gen::Exception> echo(Echo::EchoParams::Reader params,
                                      Echo::EchoResults::Builder results) {
        if (params.text() == "mint") {
            auto minted = m_server.mint(m_next_badge, Echo::interface_id);
            if (minted.is_error() ||
                !m_server.send_with_reply(minted.value(), abi::TransferMode::Move))
                return Err{gen::Exception{schema::ExceptionType::Failed, "mint failed"}};
            results.set_text(rt::Line("minted ").udec(m_next_badge++).view());
            return {};
        }
        if (params.text() == "owner") {
            rt::Line text;
            if (m_owner_interface == schema::Endpoint::interface_id)
                text.add("Endpoint");
            else
                text.hex(m_owner_interface);
            results.set_text(text.view());
            return {};
        }
        rt::Line text("badge ");
        text.udec(m_server.badge()).add(" released ");
        text.add(m_released.empty() ? std::string_view("none") : m_released.view());
        results.set_text(text.view());
        return {};
    }

    // The release notice of a facet minted here (rt::Server calls it).
    void released(uint32_t badge) {
        if (!m_released.empty())
            m_released.add(',');
        m_released.udec(badge);
    }

private:
    rt::Server& m_server;
    uint64_t m_owner_interface;
    uint32_t m_next_badge = 7;
    rt::Line m_released;
};

int server() {
    auto found = rt::find_capability("service");
    if (found.is_error())
        return 2;
    static rt::Server server(found.value().id);
    MintingServer handler(server, found.value().interface_id);
    return server.serve<Echo>(handler) == int32_t(abi::TransportError::Disconnected) ? 0 : 1;
}

} // namespace

int main() {
    std::string_view role = rt::arguments()[0];
    if (role == "plain")
        return plain();
    if (role == "holder")
        return holder();
    if (role == "server")
        return server();
    return 4;
}
