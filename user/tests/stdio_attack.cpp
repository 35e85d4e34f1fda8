// stdio_attack [flood|after-exit]: what a program may throw at the StdIO the
// shell serves it (user/shell/stdio_service.h), each answer said on that
// StdIO; the shell must answer every one and stay. Without an argument: an
// unknown method, another interface, an unknown stream, a write one byte
// over maxWrite, a 60,000-byte message, params of the wrong shape and a
// capability sent along (the timer, if granted), then "stdio_attack: still
// heard" and exit 0. `flood` writes numbered lines until stopped (for Ctrl-C
// in the middle of a write); `after-exit` leaves writes in flight and exits
// without waiting for their answers.
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

namespace {

using capos::rt::Line;
using capos::schema::StdIO;
using capos::schema::StdStream;

// The answer to a raw call, in a few words.
std::string_view outcome(const capos::gen::Reply& reply) {
    switch (reply.kind) {
    case capos::gen::ReplyKind::TransportError:
        return capos::abi::cqe_result_name(reply.transport_error);
    case capos::gen::ReplyKind::Exception: {
        capos::capnp::MessageReader message(reply.message);
        return capos::schema::CapException::Reader(message.root()).message();
    }
    default:
        return "answered";
    }
}

void say(std::string_view what, std::string_view answer) {
    Line line("stdio_attack: ");
    line.add(what).add(": ").add(answer);
    capos::rt::write_output_line(line.view());
}

alignas(8) capos::capnp::Word g_large[60'000 / 8 + 16];

// A write's params whose data is 60,000 bytes.
std::span<const capos::capnp::Word> large_write() {
    capos::capnp::MessageBuilder message(g_large);
    StdIO::WriteParams::Builder params(
        message.init_root(StdIO::WriteParams::data_words, StdIO::WriteParams::pointer_count));
    static uint8_t bytes[60'000];
    for (auto& byte : bytes)
        byte = 'x';
    params.set_data(bytes);
    return message.words();
}

} // namespace

int main() {
    auto found = capos::rt::find_capability("stdio");
    if (found.is_error())
        return 1;
    uint32_t stdio_id = found.value().id.raw;
    auto& transport = capos::rt::transport();
    StdIO::Client<capos::rt::RingTransport> stdio(transport, stdio_id);
    auto args = capos::rt::arguments();

    if (args.count() == 1 && args[0] == "flood") {
        for (uint64_t i = 1;; ++i) {
            if (!capos::rt::write_output_line(Line("flood ").udec(i).view()))
                return 2;
        }
    }
    if (args.count() == 1 && args[0] == "after-exit") {
        // Writes submitted and never waited for: the shell answers them after
        // this process has gone, or finds them dropped.
        alignas(8) static capos::capnp::Word params[8][16];
        capos::rt::RingClient& ring = capos::rt::ring();
        for (auto& words : params) {
            capos::capnp::MessageBuilder message(words);
            StdIO::WriteParams::Builder write(message.init_root(StdIO::WriteParams::data_words,
                                                                StdIO::WriteParams::pointer_count));
            static const uint8_t text[] = "unanswered\n";
            write.set_data(std::span(text, sizeof text - 1));
            capos::abi::Sqe sqe{};
            sqe.opcode = uint8_t(capos::abi::Opcode::Call);
            sqe.cap = stdio_id;
            sqe.interface_id = StdIO::interface_id;
            sqe.method = uint16_t(StdIO::Method::Write);
            sqe.params_addr = reinterpret_cast<uint64_t>(message.words().data());
            sqe.params_len = uint32_t(message.words().size_bytes());
            (void)ring.submit(sqe);
        }
        ring.flush();
        return 0;
    }

    // An unknown method.
    {
        capos::capnp::MessageBuilder message(transport.params_buffer());
        (void)message.init_root(0, 0);
        say("method 9", outcome(transport.call(stdio_id, StdIO::interface_id, 9, message.words())));
    }
    // Console's writeLine, on the StdIO.
    {
        capos::capnp::MessageBuilder message(transport.params_buffer());
        capos::schema::Console::WriteLineParams::Builder params(
            message.init_root(capos::schema::Console::WriteLineParams::data_words,
                              capos::schema::Console::WriteLineParams::pointer_count));
        params.set_text("not for a StdIO");
        say("Console.writeLine",
            outcome(transport.call(stdio_id, capos::schema::Console::interface_id,
                                   uint16_t(capos::schema::Console::Method::WriteLine),
                                   message.words())));
    }
    // A stream the schema does not name.
    {
        static const uint8_t text[] = "lost\n";
        auto written = stdio.write(static_cast<StdStream>(9), std::span(text, sizeof text - 1));
        say("stream 9", written.is_ok() ? "written" : capos::rt::call_error_text(written.error()));
    }
    // One byte over maxWrite.
    {
        static uint8_t bytes[StdIO::max_write + 1];
        for (auto& byte : bytes)
            byte = 'y';
        auto written = stdio.write(StdStream::Output, bytes);
        say("maxWrite + 1",
            written.is_ok() ? "written" : capos::rt::call_error_text(written.error()));
    }
    // A message as large as any call may be.
    say("60000 bytes", outcome(transport.call(stdio_id, StdIO::interface_id,
                                              uint16_t(StdIO::Method::Write), large_write())));
    // A write whose data pointer is a struct: malformed params.
    {
        capos::capnp::MessageBuilder message(transport.params_buffer());
        auto root = message.init_root(1, 1);
        (void)root.pointer_field(0).init_struct(2, 0);
        say("malformed", outcome(transport.call(stdio_id, StdIO::interface_id,
                                                uint16_t(StdIO::Method::Write), message.words())));
    }
    // Its own stdio sent along: the client side of a served endpoint cannot
    // be passed on.
    {
        (void)transport.send_with_next_call(capos::abi::CapId{stdio_id},
                                            capos::abi::TransferMode::Copy);
        capos::capnp::MessageBuilder message(transport.params_buffer());
        StdIO::WriteParams::Builder params(
            message.init_root(StdIO::WriteParams::data_words, StdIO::WriteParams::pointer_count));
        params.set_data(std::span<const uint8_t>());
        say("stdio passed on",
            outcome(transport.call(stdio_id, StdIO::interface_id, uint16_t(StdIO::Method::Write),
                                   message.words())));
    }
    // A capability sent along, which the shell drops.
    if (auto timer = capos::rt::find_capability("timer"); timer.is_ok()) {
        for (int i = 0; i < 300; ++i) {
            static const uint8_t text[] = "";
            (void)transport.send_with_next_call(timer.value().id, capos::abi::TransferMode::Copy);
            capos::capnp::MessageBuilder message(transport.params_buffer());
            StdIO::WriteParams::Builder params(message.init_root(
                StdIO::WriteParams::data_words, StdIO::WriteParams::pointer_count));
            params.set_data(std::span(text, 0));
            auto reply = transport.call(stdio_id, StdIO::interface_id,
                                        uint16_t(StdIO::Method::Write), message.words());
            if (reply.kind != capos::gen::ReplyKind::Results) {
                Line what("a timer sent along, call ");
                say(what.udec(uint64_t(i) + 1).view(), outcome(reply));
                return 3;
            }
        }
        say("a timer sent along, 300 times", "answered");
    }
    capos::rt::write_output_line("stdio_attack: still heard");
    return 0;
}
