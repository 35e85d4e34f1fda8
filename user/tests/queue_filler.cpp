// queue_filler: a second caller for endpoint_test's queue bound (the bound is
// the endpoint's, whoever queues: two callers fill it). It makes 16 Echo
// calls on "work", then answers a call on the endpoint it owns, "done", with
// "queued 16"; asked there again, it waits for its 16 answers and replies
// "answered <n>".
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/tests/common/test.h"

using namespace capos;
using schema::Echo;

namespace {

constexpr uint32_t calls = 16;
alignas(8) capnp::Word g_params[16];
alignas(8) capnp::Word g_results[calls][16];
alignas(8) capnp::Word g_receive[64];
alignas(8) capnp::Word g_reply[16];

// Receives one call on `done` and answers it with `text` (an Echo result).
bool answer_done(uint32_t done, std::string_view text) {
    abi::Sqe recv{};
    recv.opcode = uint8_t(abi::Opcode::Recv);
    recv.cap = done;
    recv.result_addr = reinterpret_cast<uint64_t>(g_receive);
    recv.result_len = sizeof g_receive;
    abi::Cqe got = rt::ring().run(recv);
    if (got.result != 0)
        return false;
    capnp::MessageBuilder reply(g_reply);
    Echo::EchoResults::Builder(
        reply.init_root(Echo::EchoResults::data_words, Echo::EchoResults::pointer_count))
        .set_text(text);
    abi::Sqe ret{};
    ret.opcode = uint8_t(abi::Opcode::Return);
    ret.cap = done;
    ret.call_id = got.call_id;
    ret.params_addr = reinterpret_cast<uint64_t>(reply.words().data());
    ret.params_len = uint32_t(reply.words().size() * 8);
    return rt::ring().run(ret).result == 0;
}

} // namespace

int main() {
    uint32_t work = test::cap_id("work");
    uint32_t done = test::cap_id("done");
    if (work == 0 || done == 0)
        return 2;
    capnp::MessageBuilder params(g_params);
    Echo::EchoParams::Builder(
        params.init_root(Echo::EchoParams::data_words, Echo::EchoParams::pointer_count))
        .set_text("queued call");
    uint64_t tickets[calls];
    for (uint32_t i = 0; i < calls; ++i) {
        abi::Sqe sqe{};
        sqe.opcode = uint8_t(abi::Opcode::Call);
        sqe.cap = work;
        sqe.method = uint16_t(Echo::Method::Echo);
        sqe.interface_id = Echo::interface_id;
        sqe.params_addr = reinterpret_cast<uint64_t>(params.words().data());
        sqe.params_len = uint32_t(params.words().size() * 8);
        sqe.result_addr = reinterpret_cast<uint64_t>(g_results[i]);
        sqe.result_len = sizeof g_results[i];
        tickets[i] = rt::ring().submit(sqe);
    }
    rt::ring().flush();
    if (!answer_done(done, "queued 16"))
        return 3;
    uint32_t answered = 0;
    for (uint64_t ticket : tickets)
        answered += rt::ring().wait(ticket).result == 0;
    test::Line text("answered ");
    text.udec(answered);
    return answer_done(done, text.view()) && answered == calls ? 0 : 4;
}
