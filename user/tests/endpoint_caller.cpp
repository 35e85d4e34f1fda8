// endpoint_caller: a client that dies with calls outstanding. It makes five
// Echo calls on the endpoint granted as "work" without waiting for them, then
// waits on the endpoint it owns as "exit" until the endpoint test calls it (the
// test does once the server holds 2 of the 5), answers "exiting", says so and
// exits: the calls still queued must be dropped, those in flight answered into
// the void, and its client facet - the endpoint's last - released.
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/server.h"
#include "user/tests/common/test.h"

using namespace capos;

int main() {
    uint32_t work = test::cap_id("work");
    uint32_t exit_signal = test::cap_id("exit");
    if (work == 0 || exit_signal == 0)
        return 2;
    alignas(8) static capnp::Word params_words[16];
    capnp::MessageBuilder params(params_words);
    schema::Echo::EchoParams::Builder(params.init_root(schema::Echo::EchoParams::data_words,
                                                       schema::Echo::EchoParams::pointer_count))
        .set_text("from a caller about to die");
    alignas(8) static capnp::Word results[5][16];
    for (auto& result : results) {
        abi::Sqe sqe{};
        sqe.opcode = uint8_t(abi::Opcode::Call);
        sqe.cap = work;
        sqe.method = uint16_t(schema::Echo::Method::Echo);
        sqe.interface_id = schema::Echo::interface_id;
        sqe.params_addr = reinterpret_cast<uint64_t>(params.words().data());
        sqe.params_len = uint32_t(params.words().size() * 8);
        sqe.result_addr = reinterpret_cast<uint64_t>(result);
        sqe.result_len = sizeof result;
        (void)rt::ring().submit(sqe);
    }
    rt::ring().flush();

    rt::Server exit_server(abi::CapId{exit_signal});
    auto call = exit_server.receive();
    if (call.is_error()) {
        rt::debug_write_line("endpoint-caller: waiting for the word to exit failed");
        return 1;
    }
    alignas(8) static capnp::Word reply_words[16];
    capnp::MessageBuilder reply(reply_words);
    schema::Echo::EchoResults::Builder(reply.init_root(schema::Echo::EchoResults::data_words,
                                                       schema::Echo::EchoResults::pointer_count))
        .set_text("exiting");
    if (exit_server.reply(call.value().header.call_id, reply.words(), false) < 0)
        return 1;
    rt::debug_write_line("endpoint-caller: 5 calls made, exiting with them unanswered");
    return 0;
}
