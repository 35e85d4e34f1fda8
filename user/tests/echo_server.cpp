// Serves Echo on the endpoint granted as "echo" until the endpoint closes.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"

namespace {

using capos::schema::Echo;

uint64_t checksum(std::string_view text) {
    uint64_t sum = text.size();
    for (char c : text)
        sum = sum * 131 + uint8_t(c);
    return sum;
}

struct EchoHandler {
    capos::Result<void, capos::gen::Exception> echo(Echo::EchoParams::Reader params,
                                                    Echo::EchoResults::Builder results) {
        std::string_view text = params.text();
        uint64_t sum = checksum(text);
        results.set_text(text);
        // rt::Server builds the answer after the call it answers: the params
        // are still there.
        if (checksum(params.text()) != sum)
            return capos::Err{capos::gen::Exception{capos::schema::ExceptionType::Failed,
                                                    "the params changed under the results"}};
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
