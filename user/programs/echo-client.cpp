// echo-client [text...]: calls the Echo service it is granted as "echo" with
// each text (one "hello" without any) and says on its standard output (the
// shell's StdIO) what came back, then makes 100 more round trips, every reply checked.
// Exits 0 when every reply held what was sent, 2 at the first that did not
// (said), 1 without an echo capability.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

namespace {

using capos::rt::Line;
using capos::schema::Echo;

// Sends `text`; true when the reply holds it, else says what went wrong.
bool echoes(capos::rt::Capability<Echo>::Client& echo, std::string_view text, bool say) {
    auto reply = echo.echo(text);
    Line line("echo-client: ");
    if (reply.is_error()) {
        line.add("'").add(text).add("': ").add(capos::rt::call_error_text(reply.error()));
        capos::rt::write_error_line(line.view());
        return false;
    }
    if (reply.value().text() != text) {
        line.add("sent '").add(text).add("', got '").add(reply.value().text()).add("'");
        capos::rt::write_error_line(line.view());
        return false;
    }
    if (say) {
        line.add("'").add(text).add("' came back");
        capos::rt::write_output_line(line.view());
    }
    return true;
}

} // namespace

int main() {
    auto echo = capos::rt::lookup<Echo>("echo");
    if (echo.is_error()) {
        capos::rt::debug_write_line("echo-client: no 'echo' capability (Echo)");
        return 1;
    }
    auto args = capos::rt::arguments();
    if (args.count() == 0 && !echoes(echo.value().client(), "hello", true))
        return 2;
    for (size_t i = 0; i < args.count(); ++i) {
        if (!echoes(echo.value().client(), args[i], true))
            return 2;
    }
    constexpr uint32_t round_trips = 100;
    for (uint32_t i = 1; i <= round_trips; ++i) {
        Line text("ping #");
        text.udec(i);
        if (!echoes(echo.value().client(), text.view(), false))
            return 2;
    }
    capos::rt::write_output_line(
        Line("echo-client: ").udec(round_trips).add(" round trips checked").view());
    return 0;
}
