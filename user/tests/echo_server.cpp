// Serves Echo on the endpoint granted as "echo" until the endpoint closes.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"

namespace {

using capos::schema::Echo;

struct EchoHandler {
    capos::Result<void, capos::gen::Exception> echo(Echo::EchoParams::Reader params,
                                                    Echo::EchoResults::Builder results) {
        results.set_text(params.text());
        ++calls;
        return {};
    }
    uint64_t calls = 0;
};

} // namespace

int main() {
    auto found = capos::rt::find_capability("echo");
    if (found.is_error())
        return 1;
    capos::rt::Server server(found.value().id);
    EchoHandler handler;
    server.serve<Echo>(handler);
    return 0;
}
