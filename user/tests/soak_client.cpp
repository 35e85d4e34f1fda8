// A client of the SMP soak (smp_soak.cpp): makes the number of Echo round
// trips its first argument says through the endpoint granted as "echo", each
// text its own (the round trip's number), and exits 0 when every reply held
// the text sent, 1 when one did not, 2 when it could not start.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

int main() {
    auto echo = capos::rt::lookup<capos::schema::Echo>("echo");
    auto args = capos::rt::arguments();
    if (echo.is_error() || args.count() != 1)
        return 2;
    uint64_t count = 0;
    for (char c : args[0]) {
        if (c < '0' || c > '9')
            return 2;
        count = count * 10 + uint64_t(c - '0');
    }
    for (uint64_t i = 0; i < count; ++i) {
        capos::rt::Line text;
        text.udec(i);
        auto reply = echo.value().client().echo(text.view());
        if (reply.is_error() || reply.value().text() != text.view())
            return 1;
    }
    return 0;
}
