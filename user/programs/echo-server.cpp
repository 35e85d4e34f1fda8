// echo-server: answers Echo calls on the endpoint it is granted as "service"
// (the owner side; the shell's `new endpoint` grant makes one and keeps the
// client side) until no client is left, then says how many calls it answered
// on its standard output (the shell's StdIO) and exits 0. Exits 1 without an
// endpoint to serve.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/rt/stdio.h"

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
    auto found = capos::rt::find_capability("service");
    if (found.is_error()) {
        capos::rt::debug_write_line("echo-server: no 'service' endpoint to serve");
        return 1;
    }
    capos::rt::Server server(found.value().id);
    EchoHandler handler;
    int32_t ended = server.serve<Echo>(handler);
    capos::rt::Line line("echo-server: ");
    line.udec(handler.calls).add(" calls answered; ");
    line.add(capos::abi::cqe_result_name(ended));
    capos::rt::write_output_line(line.view());
    return 0;
}
