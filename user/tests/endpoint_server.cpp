// endpoint_server: a server the endpoint test (endpoint_test.cpp) steers step
// by step. It owns the endpoints granted as "control", "work" and (if given)
// "work2"; every call on "control" is an Echo.echo whose text is a command,
// run before the answer is sent, so the test decides exactly when calls on the
// work endpoints are received, held in flight, answered or left queued:
//
//   hold <ep> <n>       receive n calls on <ep> and keep them in flight
//   release <ep> [<n>]  RETURN the n oldest held calls (all without n); the
//                       caller's completion queue (abi::ring_cq_entries) must
//                       have room for their answers and this command's
//   serve <ep> <n>      receive and answer n calls (echoing their text)
//   recv <ep>           one RECV: answers "received" (the call is held) or the
//                       transport error's name
//   start-recv <ep>     a RECV that waits (nothing may be queued): answers
//                       "waiting" once the kernel holds it
//   await-recv <ep>     waits for that RECV: answers like recv
//   self-check <ep>     RETURN to a call id that does not exist (NoSuchCall),
//                       RETURN on <ep> to the control call's id (NoSuchCall:
//                       call ids belong to their endpoint), CALL on the owner
//                       facet (WrongInterface), and RECVs that wait (nothing
//                       is queued) up to the endpoint's bound, then one more
//                       (QuotaExceeded); the waiting ones stay pending
//   finish-recv <ep>    waits for the first pending RECV's call and answers
//                       it, then for the calls of the others behind it: each
//                       the next call in order
//   drain-big <ep> <n>  a RECV whose 4 KiB buffer is too small for the big
//                       call at the queue's head (ResultTooSmall, the call
//                       stays queued), then n RECVs with a 64 KiB buffer (the
//                       most a buffer may be), each answered
//   exit                ends the process at once, control call unanswered
//
// Checks made here print as "endpoint-server: ..."; when the control endpoint
// has no clients left the server prints its summary and exits with it.
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/syscall.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

using abi::TransportError;
using schema::Echo;

test::Suite suite("endpoint-server");

constexpr uint32_t max_held = 64;
struct Work {
    std::string_view name;
    uint32_t id = 0;
    uint32_t held[max_held] = {};
    uint32_t held_count = 0;
    uint64_t pending_ticket = 0; // self-check's first RECV, or start-recv's
    // self-check's RECVs behind the first
    uint64_t behind_tickets[abi::endpoint_max_receivers - 1] = {};
};
Work g_work[2] = {{"work"}, {"work2"}};

constexpr size_t receive_words = 4096 / 8 + sizeof(abi::RecvHeader) / 8;
alignas(8) capnp::Word g_control_buffer[receive_words];
alignas(8) capnp::Word g_work_buffer[receive_words];
alignas(8) capnp::Word g_pending_buffer[receive_words];
// A small call's each, for the RECVs that wait behind the pending one.
constexpr size_t behind_words = 64;
alignas(8) capnp::Word g_behind_buffers[abi::endpoint_max_receivers - 1][behind_words];
// The largest buffer a RECV may name (64 KiB): header and params must fit.
alignas(8) capnp::Word g_big_buffer[64 * 1024 / 8];

abi::Sqe recv_sqe(uint32_t owner, capnp::Word* buffer, size_t bytes) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Recv);
    sqe.cap = owner;
    sqe.result_addr = reinterpret_cast<uint64_t>(buffer);
    sqe.result_len = uint32_t(bytes);
    return sqe;
}

abi::Sqe return_sqe(uint32_t owner, uint32_t call_id, std::span<const capnp::Word> message) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Return);
    sqe.cap = owner;
    sqe.call_id = call_id;
    if (!message.empty()) {
        sqe.params_addr = reinterpret_cast<uint64_t>(message.data());
        sqe.params_len = uint32_t(message.size() * 8);
    }
    return sqe;
}

// An Echo.echo results message holding `text`, in `buffer`.
std::span<const capnp::Word> echo_results(std::span<capnp::Word> buffer, std::string_view text) {
    capnp::MessageBuilder builder(buffer);
    Echo::EchoResults::Builder results(
        builder.init_root(Echo::EchoResults::data_words, Echo::EchoResults::pointer_count));
    results.set_text(text);
    return builder.words();
}

// The text of the Echo.echo params that follow a RecvHeader in `buffer`.
std::string_view echo_text(const capnp::Word* buffer, const abi::Cqe& cqe) {
    abi::RecvHeader header;
    __builtin_memcpy(&header, buffer, sizeof header);
    if (cqe.result_len < sizeof header || header.params_len == 0)
        return {};
    static capnp::MessageReader* reader;
    alignas(capnp::MessageReader) static unsigned char storage[sizeof(capnp::MessageReader)];
    reader = new (storage) capnp::MessageReader(
        std::span<const capnp::Word>(buffer + sizeof header / 8, header.params_len / 8));
    return Echo::EchoParams::Reader(reader->root()).text();
}

uint32_t call_id_of(const capnp::Word* buffer) {
    abi::RecvHeader header;
    __builtin_memcpy(&header, buffer, sizeof header);
    return header.call_id;
}

Work* find_work(std::string_view name) {
    for (Work& work : g_work) {
        if (work.name == name && work.id != 0)
            return &work;
    }
    return nullptr;
}

// Splits "op ep n" into its words.
struct Command {
    std::string_view op, endpoint;
    uint32_t count = 0;
};
Command parse(std::string_view text) {
    std::string_view words[3];
    size_t n = 0;
    size_t i = 0;
    while (i < text.size() && n < 3) {
        while (i < text.size() && text[i] == ' ')
            ++i;
        size_t start = i;
        while (i < text.size() && text[i] != ' ')
            ++i;
        if (i > start)
            words[n++] = text.substr(start, i - start);
    }
    Command command{words[0], words[1], 0};
    for (char c : words[2])
        command.count = command.count * 10 + uint32_t(c - '0');
    return command;
}

// Receives up to `count` calls on `work` and holds them; stops at an error.
Line hold(Work& work, uint32_t count) {
    uint32_t received = 0;
    while (received < count && work.held_count < max_held) {
        abi::Cqe cqe = rt::ring().run(recv_sqe(work.id, g_work_buffer, sizeof g_work_buffer));
        if (cqe.result < 0)
            return Line("held ").udec(received).add(", then ").add(
                abi::cqe_result_name(cqe.result));
        work.held[work.held_count++] = cqe.call_id;
        ++received;
    }
    return Line("held ").udec(received);
}

// RETURNs the `count` oldest held calls (every one for 0).
Line release(Work& work, uint32_t count) {
    if (count == 0 || count > work.held_count)
        count = work.held_count;
    alignas(8) static capnp::Word results[16];
    auto message = echo_results(results, "released");
    uint32_t ok = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (rt::ring().run(return_sqe(work.id, work.held[i], message)).result == 0)
            ++ok;
    }
    for (uint32_t i = count; i < work.held_count; ++i)
        work.held[i - count] = work.held[i];
    work.held_count -= count;
    Line reply("released ");
    reply.udec(count).add(", ").udec(ok).add(" returned 0");
    return reply;
}

// The answer of a RECV made for recv or await-recv.
Line received(Work& work, const abi::Cqe& cqe) {
    if (cqe.result < 0)
        return Line(abi::cqe_result_name(cqe.result));
    if (work.held_count < max_held)
        work.held[work.held_count++] = cqe.call_id;
    return Line("received");
}

// The RECV is in the kernel once flush() returns: a call that arrives, or the
// release of the endpoint's last client facet, completes it from then on.
Line start_recv(Work& work) {
    work.pending_ticket =
        rt::ring().submit(recv_sqe(work.id, g_pending_buffer, sizeof g_pending_buffer));
    rt::ring().flush();
    return Line("waiting");
}

Line await_recv(Work& work) {
    if (work.pending_ticket == 0)
        return Line("no RECV waiting");
    abi::Cqe cqe = rt::ring().wait(work.pending_ticket);
    work.pending_ticket = 0;
    return received(work, cqe);
}

Line serve(Work& work, uint32_t count) {
    alignas(8) static capnp::Word results[64];
    for (uint32_t i = 0; i < count; ++i) {
        abi::Cqe cqe = rt::ring().run(recv_sqe(work.id, g_work_buffer, sizeof g_work_buffer));
        if (cqe.result < 0)
            return Line("served ").udec(i).add(", then ").add(abi::cqe_result_name(cqe.result));
        auto message = echo_results(results, echo_text(g_work_buffer, cqe));
        if (rt::ring().run(return_sqe(work.id, cqe.call_id, message)).result != 0)
            return Line("served ").udec(i).add(", then a RETURN failed");
    }
    return Line("served ").udec(count);
}

Line self_check(Work& work, uint32_t control_call_id) {
    suite.check_result("RETURN to a call id that does not exist is NoSuchCall",
                       rt::ring().run(return_sqe(work.id, 0x7fffffff, {})).result,
                       TransportError::NoSuchCall);
    suite.check_result("RETURN on a work endpoint to the control call's id is NoSuchCall",
                       rt::ring().run(return_sqe(work.id, control_call_id, {})).result,
                       TransportError::NoSuchCall);
    schema::Echo::Client<rt::RingTransport> owner_as_client(rt::transport(), work.id);
    suite.check_transport("an Echo CALL on the owner facet (it speaks Endpoint) is WrongInterface",
                          owner_as_client.echo("x"), TransportError::WrongInterface);

    // The first RECV waits (nothing is queued), the endpoint's bound of them
    // in all; one more is refused at once.
    work.pending_ticket =
        rt::ring().submit(recv_sqe(work.id, g_pending_buffer, sizeof g_pending_buffer));
    for (uint32_t i = 0; i < std::size(work.behind_tickets); ++i)
        work.behind_tickets[i] =
            rt::ring().submit(recv_sqe(work.id, g_behind_buffers[i], sizeof g_behind_buffers[i]));
    rt::ring().flush();
    abi::Cqe over = rt::ring().run(recv_sqe(work.id, g_work_buffer, sizeof g_work_buffer));
    suite.check_result("16 RECVs wait at once and a 17th is QuotaExceeded", over.result,
                       TransportError::QuotaExceeded);
    static_assert(abi::endpoint_max_receivers == 16);
    return Line("checked");
}

Line finish_recv(Work& work) {
    abi::Cqe cqe = rt::ring().wait(work.pending_ticket);
    work.pending_ticket = 0;
    suite.check_result("the waiting RECV receives the next call", cqe.result, 0);
    std::string_view text = cqe.result == 0 ? echo_text(g_pending_buffer, cqe) : "";
    suite.check("its params arrived whole", text == "into the waiting RECV");
    alignas(8) static capnp::Word results[64];
    auto message = echo_results(results, text);
    uint32_t first_id = call_id_of(g_pending_buffer);
    suite.check_result("and its RETURN succeeds",
                       rt::ring().run(return_sqe(work.id, first_id, message)).result, 0);
    // The calls that came behind it, one to each RECV behind it, in order.
    uint32_t in_order = 0;
    auto behind = echo_results(results, "into a RECV behind it");
    for (uint32_t i = 0; i < std::size(work.behind_tickets); ++i) {
        abi::Cqe cqe = rt::ring().wait(work.behind_tickets[i]);
        work.behind_tickets[i] = 0;
        if (cqe.result != 0)
            continue;
        uint32_t id = call_id_of(g_behind_buffers[i]);
        if (id == first_id + 1 + i &&
            echo_text(g_behind_buffers[i], cqe) == "into a RECV behind it" &&
            rt::ring().run(return_sqe(work.id, id, behind)).result == 0)
            ++in_order;
    }
    suite.check("the 15 RECVs behind it receive the next 15 calls, in order",
                in_order == std::size(work.behind_tickets), Line().udec(in_order).add(" of 15"));
    return Line("finished");
}

Line drain_big(Work& work, uint32_t count) {
    abi::Cqe small = rt::ring().run(recv_sqe(work.id, g_work_buffer, sizeof g_work_buffer));
    suite.check_result("RECV with a 4 KiB buffer and a big call queued is ResultTooSmall",
                       small.result, TransportError::ResultTooSmall);
    alignas(8) static capnp::Word results[16];
    auto message = echo_results(results, "big");
    uint32_t drained = 0;
    for (uint32_t i = 0; i < count; ++i) {
        abi::Cqe cqe = rt::ring().run(recv_sqe(work.id, g_big_buffer, sizeof g_big_buffer));
        if (cqe.result != 0) {
            suite.check_result("RECV with a 64 KiB buffer", cqe.result, 0);
            break;
        }
        if (rt::ring().run(return_sqe(work.id, cqe.call_id, message)).result != 0)
            break;
        ++drained;
    }
    suite.check("the calls left queued are received with a 64 KiB buffer", drained == count,
                Line().udec(drained).add(" of ").udec(count));
    return Line("drained ").udec(drained);
}

Line execute(std::string_view text, uint32_t control_call_id) {
    Command command = parse(text);
    if (command.op == "exit")
        rt::exit(suite.finish());
    Work* work = find_work(command.endpoint);
    if (!work)
        return Line("no endpoint '").add(command.endpoint).add("'");
    if (command.op == "hold")
        return hold(*work, command.count);
    if (command.op == "release")
        return release(*work, command.count);
    if (command.op == "serve")
        return serve(*work, command.count);
    if (command.op == "recv")
        return received(*work,
                        rt::ring().run(recv_sqe(work->id, g_work_buffer, sizeof g_work_buffer)));
    if (command.op == "start-recv")
        return start_recv(*work);
    if (command.op == "await-recv")
        return await_recv(*work);
    if (command.op == "self-check")
        return self_check(*work, control_call_id);
    if (command.op == "finish-recv")
        return finish_recv(*work);
    if (command.op == "drain-big")
        return drain_big(*work, command.count);
    return Line("unknown command '").add(command.op).add("'");
}

} // namespace

int main() {
    uint32_t control = test::cap_id("control");
    g_work[0].id = test::cap_id("work");
    g_work[1].id = test::cap_id("work2");
    if (control == 0 || g_work[0].id == 0)
        return 2;

    alignas(8) static capnp::Word results[64];
    for (;;) {
        abi::Cqe cqe = rt::ring().run(recv_sqe(control, g_control_buffer, sizeof g_control_buffer));
        if (cqe.result < 0) {
            Line line("control RECV ended: ");
            line.add(abi::cqe_result_name(cqe.result));
            suite.note(line.view());
            break;
        }
        Line reply = execute(echo_text(g_control_buffer, cqe), cqe.call_id);
        (void)rt::ring().run(return_sqe(control, cqe.call_id, echo_results(results, reply.view())));
    }
    return suite.finish();
}
