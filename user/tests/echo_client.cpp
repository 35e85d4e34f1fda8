// Calls the Echo service granted as "echo" and checks that every reply holds the
// text sent: five messages (up to 3,000 bytes), then 2000 round trips, every 100th with a text of
// its own (so that a stale or constant reply shows). The first wrong reply
// prints "echo-client: ... FAILED (...)" and ends the client with a nonzero code.
//
// Then 16 calls in flight together (rt::CallBatch), each answer checked
// against its own call.
#include "schema/capos.capnp.capos.h"
#include "user/rt/batch.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

namespace {

using capos::rt::Line;

// Sends `text`; true when the reply holds it. Otherwise prints what went wrong.
bool echoes(capos::rt::Capability<capos::schema::Echo>::Client& echo, std::string_view what,
            std::string_view text) {
    auto reply = echo.echo(text);
    if (reply.is_ok() && reply.value().text() == text)
        return true;
    Line line("echo-client: ");
    line.add(what).add(" ... FAILED (sent '").add(text).add("', ");
    if (reply.is_error())
        line.add("the call failed)");
    else
        line.add("got '").add(reply.value().text()).add("')");
    line.print();
    return false;
}

// 16 echoes in flight together, each answer checked against its call.
int batch_of_calls(uint32_t echo) {
    using capos::schema::Echo;
    constexpr uint32_t calls = 16;
    static capos::rt::CallBatch<calls, 256> batch(capos::rt::ring());
    char texts[calls][8];
    for (uint32_t i = 0; i < calls; ++i) {
        texts[i][0] = 'b';
        texts[i][1] = char('a' + i);
        if (!batch.add<Echo::EchoParams>(echo, Echo::interface_id, uint16_t(Echo::Method::Echo),
                                         [&](Echo::EchoParams::Builder params) {
                                             params.set_text({texts[i], 2});
                                         })) {
            capos::rt::debug_write_line("echo-client: CallBatch.add ... FAILED");
            return 5;
        }
    }
    batch.run();
    for (uint32_t i = 0; i < calls; ++i) {
        auto answer = batch.results<Echo::EchoResults>(i);
        if (answer.is_error() || answer.value().text() != std::string_view(texts[i], 2)) {
            capos::rt::PrintLine() << "echo-client: call " << i << " of the batch ... FAILED";
            return 5;
        }
    }
    capos::rt::PrintLine() << "echo-client: " << calls << " calls in flight answered";
    return 0;
}

} // namespace

int main() {
    auto echo = capos::rt::lookup<capos::schema::Echo>("echo");
    if (echo.is_error()) {
        capos::rt::debug_write_line("echo-client: no echo capability");
        return 1;
    }
    // Longer texts too: a server that built its answer over the call it
    // answers (rt::Server builds it after) would send back a mangled one.
    static char long_text[3000];
    for (size_t i = 0; i < sizeof long_text; ++i)
        long_text[i] = char('a' + (i * 7 + i / 26) % 26);
    const std::string_view messages[] = {"hello, server", "a second message", "",
                                         std::string_view(long_text, 100),
                                         std::string_view(long_text, sizeof long_text)};
    for (std::string_view message : messages) {
        if (!echoes(echo.value().client(), "a message comes back as sent", message))
            return 2;
    }
    capos::rt::debug_write_line("echo-client: 5 messages echoed");
    // A call naming an interface Echo neither is nor extends reaches the server
    // (an endpoint speaks any interface), which answers it unimplemented
    // instead of running Echo's method of the same ordinal.
    capos::schema::Console::Client<capos::rt::RingTransport> other(capos::rt::transport(),
                                                                   echo.value().id().raw);
    auto refused = other.write("not an echo");
    if (refused.is_ok() || refused.error().kind != capos::gen::CallErrorKind::Exception ||
        refused.error().exception.type != capos::schema::ExceptionType::Unimplemented) {
        capos::rt::debug_write_line("echo-client: another interface's call ... FAILED");
        return 4;
    }
    capos::rt::debug_write_line("echo-client: another interface's call is unimplemented");
    // Many round trips: the server and the kernel must not leak per call.
    for (uint32_t i = 1; i <= 2000; ++i) {
        Line text("ping");
        if (i % 100 == 0)
            text.add(" #").udec(i);
        if (!echoes(echo.value().client(), "a round trip comes back as sent", text.view()))
            return 3;
    }
    capos::rt::debug_write_line("echo-client: 2000 round trips done");
    return batch_of_calls(echo.value().id().raw);
}
