// Endpoints under pressure: init (this program) is the client of
// endpoint_server, which it steers through the server's "control" endpoint
// (endpoint_server.cpp lists the commands), and makes raw asynchronous CALLs
// on the server's "work" endpoints with the runtime's RingClient (submit now,
// wait for each ticket later). Checked:
//   - the queue bound: with the server not receiving, 32 CALLs of two callers
//     (queue_filler's 16 and 16 of this one) queue and the 33rd completes
//     with QuotaExceeded; the 32 are all answered later;
//   - RECV and RETURN on a client facet are WrongInterface (the server checks
//     an Echo CALL on the owner facet, RETURN to unknown call ids, a 17th RECV);
//   - 16 RECVs waiting when 16 calls arrive get them directly, oldest first;
//   - the caller's ledger: as many outstanding calls as the default bound
//     allows (held by the server, a batch at a time, plus a control call)
//     and one more fails with QuotaExceeded although the endpoint's queue
//     has room; kernel calls still work meanwhile;
//   - the 256 KiB of queued params: four calls of 65,504 bytes (the most a
//     64 KiB RECV buffer takes) and one of 128 bytes fill it exactly; a fifth
//     big one and one of 136 bytes are QuotaExceeded; a RECV too small for
//     the call at the queue's head is ResultTooSmall and leaves it queued;
//   - server death: every outstanding call (held, queued, the control call
//     itself) completes with Disconnected, and new calls fail so;
//   - client death (endpoint_caller, holding the endpoint's only client
//     facet, told to exit once the server holds 2 of its 5 calls): the calls
//     its server held are answered into the void (RETURN still succeeds), the
//     queued ones are dropped (the server's next RECV is Disconnected, not one
//     of them);
//   - a RECV waiting when the last client facet is released completes with
//     Disconnected.
// Nothing here waits for time to pass: every step that depends on another
// process having reached a state waits for that process's answer.
#include "abi/limits.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::endpoint_grant;
using capos::test::GrantSpec;
using capos::test::Line;
using capos::test::move_grant;

namespace {

using abi::TransportError;
using schema::Echo;

test::Suite suite("endpoint");
uint32_t g_spawner, g_console, g_null;

// One asynchronous call: its ticket and its result buffer.
struct Pending {
    uint64_t ticket = 0;
    alignas(8) capnp::Word result[16];
};
Pending g_calls[70];

std::span<const capnp::Word> echo_params(std::span<capnp::Word> buffer, std::string_view text) {
    capnp::MessageBuilder builder(buffer);
    Echo::EchoParams::Builder(
        builder.init_root(Echo::EchoParams::data_words, Echo::EchoParams::pointer_count))
        .set_text(text);
    return builder.words();
}

abi::Sqe call_sqe(uint32_t cap, std::span<const capnp::Word> params, capnp::Word* result,
                  size_t result_bytes) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.method = uint16_t(Echo::Method::Echo);
    sqe.interface_id = Echo::interface_id;
    sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
    sqe.params_len = uint32_t(params.size() * 8);
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = uint32_t(result_bytes);
    return sqe;
}

// Queues `count` Echo calls on `cap` into g_calls[first...] (the kernel sees
// them at the next cap_enter: flush).
void submit_calls(uint32_t cap, std::span<const capnp::Word> params, uint32_t first,
                  uint32_t count) {
    for (uint32_t i = first; i < first + count; ++i)
        g_calls[i].ticket =
            rt::ring().submit(call_sqe(cap, params, g_calls[i].result, sizeof g_calls[i].result));
}

// The text of an Echo reply in `pending`'s buffer.
std::string_view reply_text(const Pending& pending, const abi::Cqe& cqe) {
    static capnp::MessageReader* reader;
    alignas(capnp::MessageReader) static unsigned char storage[sizeof(capnp::MessageReader)];
    reader = new (storage)
        capnp::MessageReader(std::span<const capnp::Word>(pending.result, cqe.result_len / 8));
    return Echo::EchoResults::Reader(reader->root()).text();
}

// Waits for g_calls[first, first + count) and counts those that completed
// with `result` (and, for 0, with the reply `text`).
uint32_t wait_calls(uint32_t first, uint32_t count, int32_t result, std::string_view text,
                    Line& detail) {
    uint32_t matching = 0;
    for (uint32_t i = first; i < first + count; ++i) {
        abi::Cqe cqe = rt::ring().wait(g_calls[i].ticket);
        bool ok = cqe.result == result && (result != 0 || reply_text(g_calls[i], cqe) == text);
        if (ok)
            ++matching;
        else if (detail.empty())
            detail.add("call ")
                .udec(i)
                .add(": result ")
                .dec(cqe.result)
                .add(' ')
                .add(abi::cqe_result_name(cqe.result));
    }
    return matching;
}

void expect_calls(std::string_view what, uint32_t first, uint32_t count, int32_t result,
                  std::string_view text = {}) {
    Line detail;
    uint32_t matching = wait_calls(first, count, result, text, detail);
    suite.check(what, matching == count,
                detail.add(" (").udec(matching).add(" of ").udec(count).add(")"));
}

// A control command and its reply, or the error.
Line command(uint32_t control, std::string_view text) {
    schema::Echo::Client<rt::RingTransport> client(rt::transport(), control);
    auto reply = client.echo(text);
    if (reply.is_error())
        return Line("error: ").add(test::describe(reply.error()).view());
    return Line(reply.value().text());
}

void expect_command(std::string_view what, uint32_t control, std::string_view text,
                    std::string_view expected) {
    Line reply = command(control, text);
    suite.check(what, reply.view() == expected, Line("reply '").add(reply.view()).add("'"));
}

// A control command sent without waiting for its reply.
Pending g_control_call;
void submit_command(uint32_t control, std::string_view text) {
    alignas(8) static capnp::Word params[32];
    g_control_call.ticket = rt::ring().submit(call_sqe(
        control, echo_params(params, text), g_control_call.result, sizeof g_control_call.result));
    rt::ring().flush();
}
Line finish_command() {
    abi::Cqe cqe = rt::ring().wait(g_control_call.ticket);
    if (cqe.result != 0)
        return Line("result ").dec(cqe.result).add(' ').add(abi::cqe_result_name(cqe.result));
    return Line(reply_text(g_control_call, cqe));
}

struct Server {
    abi::CapId handle;
    uint32_t control = 0, work = 0, work2 = 0;
};

bool start_server(Server& server) {
    const GrantSpec grants[] = {endpoint_grant("control"), endpoint_grant("work"),
                                endpoint_grant("work2"), copy_grant("console", g_console)};
    auto spawned = test::spawn(g_spawner, "endpoint-server", "endpoint-server", grants);
    if (!suite.check_ok("endpoint-server spawned with three new endpoints", spawned))
        return false;
    if (!suite.check("spawn returned three endpoint clients", spawned.value().endpoint_count == 3))
        return false;
    server.handle = spawned.value().handle;
    server.control = spawned.value().endpoints[0];
    server.work = spawned.value().endpoints[1];
    server.work2 = spawned.value().endpoints[2];
    return true;
}

void expect_exit(std::string_view what, abi::CapId handle, int64_t code) {
    auto ended = test::wait(handle.raw);
    suite.check(what, ended.is_ok() && ended.value().exited && ended.value().code == code,
                ended.is_error() ? test::describe(ended.error())
                                 : Line("ended with ").dec(ended.value().code));
    (void)rt::release(handle);
}

void queue_bound(const Server& server) {
    // Two callers fill the queue, so the bound is the endpoint's, not a
    // caller's: queue_filler's 16, then this process's 16; the 33rd is
    // refused.
    const GrantSpec grants[] = {copy_grant("work", server.work), endpoint_grant("done")};
    auto filler = test::spawn(g_spawner, "queue-filler", "queue-filler", grants);
    if (!suite.check_ok("queue-filler spawned", filler))
        return;
    uint32_t done = filler.value().endpoints[0];
    expect_command("queue-filler has queued 16 calls", done, "queued?", "queued 16");
    alignas(8) static capnp::Word params_words[16];
    auto params = echo_params(params_words, "queued call");
    submit_calls(server.work, params, 0, 17);
    rt::ring().flush();
    abi::Cqe refused = rt::ring().wait(g_calls[16].ticket);
    suite.check_result("with the server not receiving, the 33rd queued CALL is QuotaExceeded",
                       refused.result, TransportError::QuotaExceeded);
    // Not this process's own bound: a call to another endpoint still queues.
    submit_calls(server.work2, params, 17, 1);
    rt::ring().flush();
    expect_command("the server answers 16 of the queued calls", server.control, "serve work 16",
                   "served 16");
    expect_command("and the other 16", server.control, "serve work 16", "served 16");
    expect_calls("this process's 16 queued calls are all answered, in full", 0, 16, 0,
                 "queued call");
    expect_command("and queue-filler's 16", done, "answered?", "answered 16");
    expect_exit("queue-filler exited with 0", filler.value().handle, 0);
    (void)rt::release(abi::CapId{done});
    expect_command("the call queued on work2 meanwhile is answered too", server.control,
                   "serve work2 1", "served 1");
    expect_calls("(its answer)", 17, 1, 0, "queued call");
}

void wrong_facets(const Server& server) {
    alignas(8) static capnp::Word buffer[64];
    abi::Sqe recv{};
    recv.opcode = uint8_t(abi::Opcode::Recv);
    recv.cap = server.work;
    recv.result_addr = reinterpret_cast<uint64_t>(buffer);
    recv.result_len = sizeof buffer;
    suite.check_result("RECV on a client facet is WrongInterface", rt::ring().run(recv).result,
                       TransportError::WrongInterface);
    abi::Sqe ret{};
    ret.opcode = uint8_t(abi::Opcode::Return);
    ret.cap = server.work;
    ret.call_id = 1;
    suite.check_result("RETURN on a client facet is WrongInterface", rt::ring().run(ret).result,
                       TransportError::WrongInterface);

    expect_command("the server's own checks ran", server.control, "self-check work", "checked");
    alignas(8) static capnp::Word params_words[16];
    submit_calls(server.work, echo_params(params_words, "into the waiting RECV"), 0, 1);
    alignas(8) static capnp::Word behind_words[16];
    submit_calls(server.work, echo_params(behind_words, "into a RECV behind it"), 1, 15);
    rt::ring().flush();
    expect_command("the server finishes the waiting RECV", server.control, "finish-recv work",
                   "finished");
    expect_calls("the call delivered to the waiting RECV is answered", 0, 1, 0,
                 "into the waiting RECV");
    expect_calls("and the 15 delivered to the RECVs behind it", 1, 15, 0, "into a RECV behind it");
}

void outstanding_limit(const Server& server) {
    alignas(8) static capnp::Word params_words[16];
    auto params = echo_params(params_words, "ledger call");
    // The default bound (abi::default_outstanding_calls, what the completion
    // queue may owe): calls held by the server, taken off the queue a batch
    // at a time (its reply says it holds them), then this control call
    // outstanding until the server holds the last batch. The next outstanding
    // call is refused while the queue is far from full.
    constexpr uint32_t limit = abi::default_outstanding_calls;
    constexpr uint32_t held = limit - 1; // and the control call
    constexpr uint32_t batch = 16;
    static_assert(std::size(g_calls) > limit);
    // The server's replies, in order, and what they should be.
    Line replies, expected;
    uint32_t submitted = 0;
    for (; held - submitted > batch; submitted += batch) {
        submit_calls(server.work, params, submitted, batch);
        rt::ring().flush();
        replies.add(command(server.control, Line("hold work ").udec(batch).view()).view());
        replies.add("; ");
        expected.add("held ").udec(batch).add("; ");
    }
    uint32_t last = held - submitted;
    submit_command(server.control, Line("hold work ").udec(last).view());
    submit_calls(server.work, params, submitted, last + 1);
    rt::ring().flush();
    schema::Null::Client<rt::RingTransport> null(rt::transport(), g_null);
    suite.check_ok("with every call the default allows outstanding a kernel call still works",
                   null.ping());
    abi::Cqe refused = rt::ring().wait(g_calls[held].ticket);
    suite.check_result("one outstanding CALL more is QuotaExceeded (the queue had room)",
                       refused.result, TransportError::QuotaExceeded);
    replies.add(finish_command().view());
    expected.add("held ").udec(last);
    // Answered a batch at a time, each collected before the next is asked
    // for. The server answers the oldest first, and it received them in the
    // order they were made (an endpoint's queue is FIFO).
    Line detail;
    uint32_t answered = 0;
    for (uint32_t first = 0; first < held; first += batch) {
        uint32_t count = held - first < batch ? held - first : batch;
        replies.add("; ").add(
            command(server.control, Line("release work ").udec(batch).view()).view());
        expected.add("; released ").udec(count).add(", ").udec(count).add(" returned 0");
        answered += wait_calls(first, count, 0, "released", detail);
    }
    suite.check("the held calls are all answered", answered == held,
                detail.add(" (").udec(answered).add(" of ").udec(held).add(")"));
    suite.check("the server held them in batches and answered them",
                replies.view() == expected.view(), Line("replies '").add(replies.view()).add("'"));
    submit_calls(server.work, params, 0, 1);
    rt::ring().flush();
    expect_command("once they are answered calls go through again", server.control, "serve work 1",
                   "served 1");
    expect_calls("(that call answered)", 0, 1, 0, "ledger call");
}

void queued_bytes(const Server& server) {
    // Echo params as big as a server can receive: its 64 KiB RECV buffer holds
    // the 32-byte RecvHeader and the params. Four of them leave 128 bytes of
    // the caller's 256 KiB.
    constexpr size_t big_bytes = 64 * 1024 - sizeof(abi::RecvHeader);
    alignas(8) static capnp::Word big_words[big_bytes / 8];
    alignas(8) static char text[big_bytes];
    constexpr size_t text_length = big_bytes - 2 * 8 - 1; // root pointer, struct, NUL
    for (size_t i = 0; i < text_length; ++i)
        text[i] = char('a' + i % 26);
    auto big = echo_params(big_words, std::string_view(text, text_length));
    if (!suite.check("a 65,504-byte Echo params message is built", big.size() * 8 == big_bytes,
                     Line().udec(big.size() * 8).add(" bytes")))
        return;
    // 136 and 128 bytes: root pointer, struct, text of 112 / 104 bytes.
    alignas(8) static capnp::Word over_words[17], exact_words[16];
    auto over = echo_params(over_words, std::string_view(text, 115));
    auto exact = echo_params(exact_words, std::string_view(text, 110));
    if (!suite.check("136- and 128-byte params messages are built",
                     over.size() * 8 == 136 && exact.size() * 8 == 128))
        return;
    submit_calls(server.work2, big, 0, 5);
    submit_calls(server.work2, over, 5, 1);
    submit_calls(server.work2, exact, 6, 1);
    rt::ring().flush();
    abi::Cqe fifth = rt::ring().wait(g_calls[4].ticket);
    suite.check_result("four big calls queue (262,016 bytes); a fifth is QuotaExceeded",
                       fifth.result, TransportError::QuotaExceeded);
    abi::Cqe sixth = rt::ring().wait(g_calls[5].ticket);
    suite.check_result("so is a 136-byte call (128 bytes left)", sixth.result,
                       TransportError::QuotaExceeded);
    expect_command("the server drains the four big calls and the 128-byte one", server.control,
                   "drain-big work2 5", "drained 5");
    expect_calls("the four big calls are answered", 0, 4, 0, "big");
    expect_calls("and the 128-byte call that filled the 256 KiB exactly", 6, 1, 0, "big");
}

void server_death(Server& server) {
    alignas(8) static capnp::Word params_words[16];
    auto params = echo_params(params_words, "doomed");
    submit_calls(server.work, params, 0, 6);
    rt::ring().flush();
    expect_command("the server holds 3 of 6 calls (3 stay queued)", server.control, "hold work 3",
                   "held 3");
    submit_command(server.control, "exit");
    expect_calls("the server exits: the 3 held and the 3 queued calls are Disconnected", 0, 6,
                 int32_t(TransportError::Disconnected));
    Line reply = finish_command();
    suite.check("and so is the control call it never answered",
                reply.view() == "result -10 Disconnected", reply);
    submit_calls(server.work, params, 0, 1);
    rt::ring().flush();
    expect_calls("a new CALL on the dead server's endpoint is Disconnected", 0, 1,
                 int32_t(TransportError::Disconnected));
    Line control = command(server.control, "serve work 1");
    suite.check("a new control call is Disconnected too",
                control.view() == "error: transport error -10 Disconnected", control);
    expect_exit("the server exited with 0 (its own checks passed)", server.handle, 0);
    (void)rt::release(abi::CapId{server.control});
    (void)rt::release(abi::CapId{server.work});
    (void)rt::release(abi::CapId{server.work2});
}

void client_death(Server& server) {
    submit_command(server.control, "hold work 2");
    // The caller owns "exit": it makes its 5 calls, then waits there for the
    // word to exit.
    const GrantSpec grants[] = {move_grant("work", server.work), endpoint_grant("exit"),
                                copy_grant("console", g_console)};
    auto caller = test::spawn(g_spawner, "endpoint-caller", "endpoint-caller", grants);
    if (!suite.check_ok("endpoint-caller spawned with the only work client facet", caller))
        return;
    uint32_t caller_exit = caller.value().endpoints[0];
    schema::Echo::Client<rt::RingTransport> moved(rt::transport(), server.work);
    suite.check_transport("the moved client facet's old id is StaleCap", moved.echo("x"),
                          TransportError::StaleCap);
    Line held = finish_command();
    suite.check("the server received 2 of the caller's 5 calls", held.view() == "held 2", held);
    // Only now, with 2 of its calls held and 3 queued, may the caller die.
    expect_command("the caller is told to exit and answers", caller_exit, "exit", "exiting");
    expect_exit("the caller exited with its calls unanswered", caller.value().handle, 0);
    (void)rt::release(abi::CapId{caller_exit});
    expect_command("RETURN of the 2 calls of the dead caller still succeeds", server.control,
                   "release work", "released 2, 2 returned 0");
    expect_command("the 3 calls it left queued are gone: the next RECV is Disconnected",
                   server.control, "recv work", "Disconnected");

    expect_command("the server has a RECV waiting on work2", server.control, "start-recv work2",
                   "waiting");
    suite.check_result("the last client facet of work2 is released",
                       rt::release(abi::CapId{server.work2}), 0);
    expect_command("the RECV waiting on it completes with Disconnected", server.control,
                   "await-recv work2", "Disconnected");

    suite.check_result("the control client is released", rt::release(abi::CapId{server.control}),
                       0);
    expect_exit("the server sees no clients left and exits with 0", server.handle, 0);
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    g_console = test::cap_id("console");
    g_null = test::cap_id("null");
    if (!g_spawner || !g_console || !g_null)
        return 2;

    Server first;
    if (start_server(first)) {
        queue_bound(first);
        wrong_facets(first);
        outstanding_limit(first);
        queued_bytes(first);
        server_death(first);
    }
    Server second;
    if (start_server(second))
        client_death(second);
    return suite.finish();
}
