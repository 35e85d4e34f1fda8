// Calls the Echo service granted as "echo" and checks what comes back.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

int main() {
    auto echo = capos::rt::lookup<capos::schema::Echo>("echo");
    if (echo.is_error()) {
        capos::rt::debug_write_line("echo-client: no echo capability");
        return 1;
    }
    const std::string_view messages[] = {"hello, server", "a second message", ""};
    for (std::string_view message : messages) {
        auto reply = echo.value()->echo(message);
        if (reply.is_error() || reply.value().text() != message) {
            capos::rt::debug_write_line("echo-client: wrong reply");
            return 2;
        }
    }
    capos::rt::debug_write_line("echo-client: 3 messages echoed");
    // Many round trips: the server and the kernel must not leak per call.
    for (int i = 0; i < 2000; ++i) {
        if (echo.value()->echo("ping").is_error()) {
            capos::rt::debug_write_line("echo-client: a round trip failed");
            return 3;
        }
    }
    capos::rt::debug_write_line("echo-client: 2000 round trips done");
    return 0;
}
