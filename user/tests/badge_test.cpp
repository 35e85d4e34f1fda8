// Badged client facets and release notices (Endpoint.mint, docs/abi.md
// "Endpoints"). init (this program) serves an endpoint itself (the owner
// side of a servedEndpoint grant to badge_child), mints facets on it, calls
// through them and receives on its own ring with raw RECVs. Checked:
//   - the plain facet's calls arrive with badge 0; three minted facets'
//     calls each with its own badge, from this process;
//   - a minted facet speaks the interface it was minted with: a call in
//     another is WrongInterface; a child granted a copy finds Echo in its
//     CapSet and through typed lookups;
//   - a facet copied to a child: releasing this process's copy gives no
//     notice (a later call is received first), the child's exit gives
//     exactly one, with its badge, call id 0, no interface, caller, params
//     or capabilities; a RETURN to it is NoSuchCall;
//   - a move of a facet refused (a malformed call, BadTransfer) leaves it
//     live and makes no notice (a facet minted for any interface carries
//     the call); a facet released while a call through it is queued: the
//     call is received first, then the notice;
//   - mint with badge 0 is invalidArgument; mint on a facet is
//     WrongInterface; beyond abi::endpoint_max_minted facets (released ones
//     whose notices are not received yet count) mint is overloaded, and
//     allowed again once the notices are received, each once, in order;
//   - the last client facet released with two RECVs waiting: the first gets
//     the notice, the second Disconnected; released with none waiting: the
//     notice is received first, then Disconnected;
//   - an owner capability is recorded as speaking Endpoint (a child's CapSet);
//   - the owner released with a notice pending (dropped, its memory freed);
//   - rt::Server (badge_child server): the badge of the call being served,
//     released() called for a notice, the minted facet's CapRecord showing
//     Echo; the owner killed: calls through its minted facet are
//     Disconnected.
#include "abi/ring.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/server.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::copy_grant;
using capos::test::GrantSpec;
using capos::test::Line;

namespace {

using abi::TransportError;
using schema::Echo;

test::Suite suite("badges");
uint32_t g_spawner, g_console;
abi::CapId g_owner;

// One asynchronous Echo call: its params, its ticket and its result buffer.
struct Pending {
    uint64_t ticket = 0;
    alignas(8) capnp::Word params[16];
    alignas(8) capnp::Word result[16];
};

// Submits Echo.echo(`text`) through `cap` (the kernel takes it at the next
// entry: flush).
void submit_echo(uint32_t cap, std::string_view text, Pending& pending,
                 uint64_t interface_id = Echo::interface_id) {
    capnp::MessageBuilder builder(pending.params);
    Echo::EchoParams::Builder(
        builder.init_root(Echo::EchoParams::data_words, Echo::EchoParams::pointer_count))
        .set_text(text);
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.method = uint16_t(Echo::Method::Echo);
    sqe.interface_id = interface_id;
    sqe.params_addr = reinterpret_cast<uint64_t>(pending.params);
    sqe.params_len = uint32_t(builder.words().size() * 8);
    sqe.result_addr = reinterpret_cast<uint64_t>(pending.result);
    sqe.result_len = sizeof pending.result;
    pending.ticket = rt::ring().submit(sqe);
}

// Waits for `pending` and checks it was answered with `text`.
void expect_answer(std::string_view what, Pending& pending, std::string_view text) {
    abi::Cqe cqe = rt::ring().wait(pending.ticket);
    if (cqe.result != 0) {
        suite.check(what, false, Line("result ").add(abi::cqe_result_name(cqe.result)));
        return;
    }
    auto reader = capnp::MessageReader::validated(
        std::span<const capnp::Word>(pending.result, cqe.result_len / 8));
    std::string_view answer = Echo::EchoResults::Reader(reader.root()).text();
    suite.check(what, answer == text, Line("answer '").add(answer).add("'"));
}

// What a RECV on the owner received.
struct Received {
    abi::Cqe cqe;
    abi::RecvHeader header{};
    std::string_view text;                    // an Echo call's
    std::span<const capnp::Word> params = {}; // a notice's: the badges taken with it
};
alignas(8) capnp::Word g_receive_buffers[2][512];

abi::Sqe recv_entry(uint32_t buffer) {
    return rt::recv_sqe(g_owner, g_receive_buffers[buffer]);
}

Received received(const abi::Cqe& cqe, uint32_t buffer = 0) {
    Received out{cqe, {}, {}};
    if (cqe.result < 0 || cqe.result_len < sizeof(abi::RecvHeader))
        return out;
    __builtin_memcpy(&out.header, g_receive_buffers[buffer], sizeof out.header);
    if (abi::is_release_notice(out.header) && out.header.params_len <= 4096 - sizeof out.header)
        out.params = std::span<const capnp::Word>(
            g_receive_buffers[buffer] + sizeof(abi::RecvHeader) / 8, out.header.params_len / 8);
    if (out.header.params_len != 0 && out.header.interface_id == Echo::interface_id) {
        auto reader = capnp::MessageReader::validated(std::span<const capnp::Word>(
            g_receive_buffers[buffer] + sizeof(abi::RecvHeader) / 8, out.header.params_len / 8));
        out.text = Echo::EchoParams::Reader(reader.root()).text();
    }
    return out;
}

Received receive() {
    return received(rt::ring().run(recv_entry(0)));
}

// Answers call `call_id` with Echo results `text`; the RETURN's result.
int32_t answer(uint32_t call_id, std::string_view text) {
    alignas(8) static capnp::Word message[32];
    capnp::MessageBuilder builder(message);
    Echo::EchoResults::Builder(
        builder.init_root(Echo::EchoResults::data_words, Echo::EchoResults::pointer_count))
        .set_text(text);
    return rt::ring().run(rt::return_sqe(g_owner, call_id, builder.words(), false)).result;
}

Line describe(const Received& got) {
    if (got.cqe.result < 0)
        return Line("result ").add(abi::cqe_result_name(got.cqe.result));
    Line line;
    if (abi::is_release_notice(got.header))
        line.add("a notice");
    else
        line.add("call ").udec(got.header.call_id).add(" '").add(got.text).add("'");
    return line.add(", badge ").udec(got.header.badge);
}

// Receives one call and checks it is an Echo call of `text` with `badge`
// (from this process when `own`); answers it with the same text.
void expect_call(std::string_view what, uint32_t badge, std::string_view text, bool own = true) {
    Received got = receive();
    bool ok = got.cqe.result == 0 && !abi::is_release_notice(got.header) &&
              got.header.badge == badge && got.text == text &&
              got.header.interface_id == Echo::interface_id &&
              (!own || got.header.caller == rt::process_id());
    suite.check(what, ok, describe(got));
    if (got.cqe.result == 0 && got.header.call_id != 0)
        (void)answer(got.header.call_id, got.text);
}

bool is_notice_of(const Received& got, uint32_t badge) {
    const abi::RecvHeader& h = got.header;
    return got.cqe.result == 0 && abi::is_release_notice(h) && h.badge == badge && h.call_id == 0 &&
           h.interface_id == 0 && h.caller == 0 && h.params_len == 0 && h.cap_count == 0 &&
           got.cqe.call_id == 0 && got.cqe.extra == 0 &&
           got.cqe.result_len == sizeof(abi::RecvHeader);
}

void expect_notice(std::string_view what, uint32_t badge) {
    Received got = receive();
    suite.check(what, is_notice_of(got, badge), describe(got));
}

abi::CapId mint(uint32_t badge, uint64_t interface_id = Echo::interface_id) {
    auto minted = rt::mint(g_owner, badge, interface_id);
    return minted.is_ok() ? minted.value() : abi::CapId{};
}

void expect_exit(std::string_view what, abi::CapId handle) {
    auto ended = test::wait(handle.raw);
    suite.check(what, ended.is_ok() && ended.value().exited && ended.value().code == 0,
                ended.is_error() ? test::describe(ended.error())
                                 : Line("ended with ").dec(ended.value().code));
    (void)rt::release(handle);
}

abi::CapId spawn_child(std::string_view what, std::string_view role,
                       std::span<const GrantSpec> grants, uint32_t* endpoint = nullptr) {
    std::string_view args[] = {role};
    auto spawned = test::spawn(g_spawner, "badge-child", "badge-child", grants, {}, args);
    if (!suite.check_ok(what, spawned))
        return abi::CapId{};
    if (endpoint)
        *endpoint = spawned.value().endpoint_count == 1 ? spawned.value().endpoints[0] : 0;
    return spawned.value().handle;
}

// The plain facet, then three minted ones, each call with its badge.
void badges(abi::CapId (&facets)[4]) {
    const GrantSpec grants[] = {test::served_endpoint_grant("service"),
                                copy_grant("console", g_console)};
    uint32_t owner = 0;
    abi::CapId child =
        spawn_child("badge-child (plain) spawned serving us an endpoint", "plain", grants, &owner);
    if (child.raw == 0)
        return;
    g_owner = abi::CapId{owner};
    expect_call("the plain facet's call arrives with badge 0", 0, "plain", false);
    expect_exit("badge-child (plain) got its answer", child);

    auto zero = rt::mint(g_owner, 0, Echo::interface_id);
    suite.check_exception("mint with badge 0 is invalidArgument", zero,
                          schema::ExceptionType::InvalidArgument);

    for (uint32_t badge = 1; badge <= 3; ++badge)
        facets[badge] = mint(badge);
    suite.check("three facets minted", facets[1].raw && facets[2].raw && facets[3].raw);
    static Pending calls[3];
    const char* texts[] = {"one", "two", "three"};
    for (uint32_t i = 0; i < 3; ++i)
        submit_echo(facets[i + 1].raw, texts[i], calls[i]);
    rt::ring().flush();
    expect_call("a call through facet 1 arrives with badge 1", 1, "one");
    expect_call("through facet 2 with badge 2", 2, "two");
    expect_call("through facet 3 with badge 3", 3, "three");
    for (uint32_t i = 0; i < 3; ++i)
        expect_answer("the call through each facet is answered", calls[i], texts[i]);

    static Pending other;
    submit_echo(facets[1].raw, "null", other, schema::Null::interface_id);
    suite.check_result("a call through a facet minted as Echo naming Null is WrongInterface",
                       rt::ring().wait(other.ticket).result, TransportError::WrongInterface);
    schema::Endpoint::Client<rt::RingTransport> facet_as_owner(rt::transport(), facets[2].raw);
    suite.check_transport("mint on a facet is WrongInterface", facet_as_owner.mint(9, 0),
                          TransportError::WrongInterface);
}

// A facet copied to a child: one notice, when the child's copy goes too.
void copied_to_a_child(abi::CapId (&facets)[4]) {
    const GrantSpec grants[] = {copy_grant("facet", facets[1].raw),
                                copy_grant("console", g_console)};
    abi::CapId child =
        spawn_child("badge-child (holder) spawned with a copy of facet 1", "holder", grants);
    if (child.raw == 0)
        return;
    Received got = receive();
    bool from_child =
        got.cqe.result == 0 && got.header.badge == 1 && got.header.caller != rt::process_id();
    suite.check("its call arrives with badge 1, from the child", from_child, describe(got));
    suite.check("it found Echo in its CapSet and by typed lookup", got.text == "typed ok",
                Line("'").add(got.text).add("'"));
    suite.check_result("this process's copy of facet 1 is released", rt::release(facets[1]), 0);
    facets[1] = abi::CapId{};
    static Pending after;
    submit_echo(facets[2].raw, "after the release", after);
    rt::ring().flush();
    expect_call("no notice yet: the next RECV takes a later call", 2, "after the release");
    expect_answer("(that call answered)", after, "after the release");
    suite.check_result("the child's call is answered", answer(got.header.call_id, got.text), 0);
    expect_exit("the child exits", child);

    static Pending behind;
    submit_echo(facets[2].raw, "behind the notice", behind);
    rt::ring().flush();
    Received notice = receive();
    suite.check("the child's exit gives the notice of facet 1: call id 0, badge 1, nothing else",
                is_notice_of(notice, 1), describe(notice));
    suite.check_result("a RETURN to the notice's call id is NoSuchCall",
                       answer(notice.header.call_id, "x"), TransportError::NoSuchCall);
    expect_call("exactly one notice: the next RECV takes the call queued behind it", 2,
                "behind the notice");
    expect_answer("(that call answered)", behind, "behind the notice");
}

// A CALL through `through` moving `moved` whose params name `named`
// instead: refused (BadTransfer), the move rolled back.
int32_t refused_move(uint32_t through, uint32_t moved, uint32_t named) {
    alignas(8) static capnp::Word params[8];
    capnp::MessageBuilder builder(params);
    schema::CapabilityBox::PutParams::Builder(
        builder.init_root(schema::CapabilityBox::PutParams::data_words,
                          schema::CapabilityBox::PutParams::pointer_count))
        .set_cap(named);
    abi::TransferDescriptor descriptor{moved, uint8_t(abi::TransferMode::Move), {0, 0, 0}};
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = through;
    sqe.method = uint16_t(schema::CapabilityBox::Method::Put);
    sqe.interface_id = schema::CapabilityBox::interface_id;
    sqe.params_addr = reinterpret_cast<uint64_t>(params);
    sqe.params_len = uint32_t(builder.words().size() * 8);
    sqe.transfer_count = 1;
    sqe.transfer_addr = reinterpret_cast<uint64_t>(&descriptor);
    return rt::ring().run(sqe).result;
}

// A call queued through a facet that is then released; before that, a
// refused move of it, which must leave it as it was (no notice).
void queued_then_released(abi::CapId (&facets)[4]) {
    abi::CapId any = mint(5, 0);
    suite.check_result("a move of facet 3 in a malformed call is refused (BadTransfer)",
                       refused_move(any.raw, facets[3].raw, facets[2].raw),
                       TransportError::BadTransfer);
    (void)rt::release(any);
    expect_notice("(the notice of the facet it went through)", 5);
    static Pending queued;
    submit_echo(facets[3].raw, "queued", queued);
    rt::ring().flush();
    suite.check_result("facet 3 is released with a call through it queued", rt::release(facets[3]),
                       0);
    facets[3] = abi::CapId{};
    expect_call("the queued call is received first, with badge 3", 3, "queued");
    expect_notice("then the notice of facet 3", 3);
    expect_answer("the queued call is answered", queued, "queued");
}

// RETURN of call `call_id` with a CapabilityBox.take answer naming `named`
// (0: none), the descriptors given and interface_id `interface_id`.
int32_t answer_with(uint32_t call_id, uint32_t named, const abi::TransferDescriptor* descriptors,
                    uint32_t count, uint64_t interface_id) {
    alignas(8) static capnp::Word message[8];
    capnp::MessageBuilder builder(message);
    auto results = schema::CapabilityBox::TakeResults::Builder(
        builder.init_root(schema::CapabilityBox::TakeResults::data_words,
                          schema::CapabilityBox::TakeResults::pointer_count));
    if (named != 0)
        results.set_cap(named);
    abi::Sqe sqe = rt::return_sqe(g_owner, call_id, builder.words(), false);
    sqe.interface_id = interface_id;
    sqe.transfer_count = count;
    sqe.transfer_addr = reinterpret_cast<uint64_t>(descriptors);
    return rt::ring().run(sqe).result;
}

// An answer that mints the facet it carries (abi::transfer_mint): the caller
// gets a new facet with the badge and the interface the RETURN names; its
// calls come with that badge, and its release gives the notice. Refused: a
// mint in a CALL, badge 0, a RETURN naming an interface with nothing to mint.
// An answer that fails mints nothing: no notice comes for it.
void minted_by_the_answer(abi::CapId (&facets)[4]) {
    abi::TransferDescriptor in_call{79, abi::transfer_mint, {0, 0, 0}};
    abi::Sqe call_sqe{};
    call_sqe.opcode = uint8_t(abi::Opcode::Call);
    call_sqe.cap = facets[2].raw;
    call_sqe.method = uint16_t(Echo::Method::Echo);
    call_sqe.interface_id = Echo::interface_id;
    call_sqe.params_addr = reinterpret_cast<uint64_t>(rt::no_params().data());
    call_sqe.params_len = uint32_t(rt::no_params().size_bytes());
    call_sqe.transfer_count = 1;
    call_sqe.transfer_addr = reinterpret_cast<uint64_t>(&in_call);
    suite.check_result("a mint descriptor in a CALL is refused (BadTransfer)",
                       rt::ring().run(call_sqe).result, TransportError::BadTransfer);

    static Pending call;
    submit_echo(facets[2].raw, "mint me", call);
    rt::ring().flush();
    Received got = receive();
    uint32_t id = got.header.call_id;
    suite.check("(a call to answer with a minted facet)", got.cqe.result == 0 && id != 0,
                describe(got));
    abi::TransferDescriptor zero{0, abi::transfer_mint, {0, 0, 0}};
    suite.check_result("a mint of badge 0 is refused (BadTransfer)",
                       answer_with(id, 0, &zero, 1, Echo::interface_id),
                       TransportError::BadTransfer);
    suite.check_result("a RETURN naming an interface with nothing to mint is refused (BadTransfer)",
                       answer_with(id, 0, nullptr, 0, Echo::interface_id),
                       TransportError::BadTransfer);
    const abi::TransferDescriptor with_unheld[2] = {
        {77, abi::transfer_mint, {0, 0, 0}},
        {0x7fff1234, uint8_t(abi::TransferMode::Copy), {0, 0, 0}}};
    suite.check_result("an answer minting 77 beside a capability not held fails (BadTransfer)",
                       answer_with(id, 77, with_unheld, 2, Echo::interface_id),
                       TransportError::BadTransfer);
    abi::TransferDescriptor good{78, abi::transfer_mint, {0, 0, 0}};
    suite.check_result("an answer minting facet 78 is taken",
                       answer_with(id, 78, &good, 1, Echo::interface_id), 0);
    abi::Cqe cqe = rt::ring().wait(call.ticket);
    abi::CapRecord record{};
    if (cqe.result == 0 && cqe.cap_count == 1 && cqe.result_len + 16 <= sizeof call.result)
        __builtin_memcpy(&record, reinterpret_cast<const uint8_t*>(call.result) + cqe.result_len,
                         sizeof record);
    uint32_t named = 0;
    if (record.cap != 0) {
        auto reader = capnp::MessageReader::validated(
            std::span<const capnp::Word>(call.result, cqe.result_len / 8));
        named = schema::CapabilityBox::TakeResults::Reader(reader.root()).cap();
    }
    suite.check("the caller gets one new facet speaking Echo, which the answer names",
                record.cap != 0 && record.interface_id == Echo::interface_id && named == record.cap,
                Line("result ").dec(cqe.result).add(", caps ").udec(cqe.cap_count));
    static Pending through;
    submit_echo(record.cap, "through 78", through);
    rt::ring().flush();
    expect_call("a call through it arrives with badge 78", 78, "through 78");
    expect_answer("(that call answered)", through, "through 78");
    suite.check_result("the minted facet is released", rt::release(abi::CapId{record.cap}), 0);
    expect_notice("its notice comes, the first since: the failed answer minted nothing", 78);
}

// The bound on minted facets, with notices not yet received counting.
void bound() {
    // Facet 2 lives: the others released now until mint is refused.
    constexpr uint32_t first_badge = 1000;
    uint32_t minted = 0;
    Result<abi::CapId, gen::CallError> refused = Err{gen::CallError{}};
    for (;;) {
        auto facet = rt::mint(g_owner, first_badge + minted, Echo::interface_id);
        if (facet.is_error()) {
            refused = facet;
            break;
        }
        ++minted;
        if (rt::release(facet.value()) != 0 || minted > abi::endpoint_max_minted)
            break;
    }
    suite.check("endpoint_max_minted facets exist with their notices unreceived",
                minted == abi::endpoint_max_minted - 1, Line().udec(minted).add(" more minted"));
    suite.check_exception("one more mint is overloaded", refused,
                          schema::ExceptionType::Overloaded);
    // Waiting one after another, they come up to notice_max_badges a RECV:
    // the header's badge, then the others in the params (a 0 fills a word).
    uint32_t in_order = 0, most = 0;
    bool good = true;
    Received got{};
    while (good && in_order < minted) {
        got = receive();
        good = got.cqe.result == 0 && abi::is_release_notice(got.header) &&
               got.header.badge == first_badge + in_order;
        if (!good)
            break;
        uint32_t taken = 1;
        ++in_order;
        bool ended = false; // by a 0
        for (capnp::Word word : got.params) {
            for (uint32_t badge : {uint32_t(word), uint32_t(word >> 32)}) {
                if (badge == 0 && !ended) {
                    ended = true;
                    continue;
                }
                good = good && !ended && badge == first_badge + in_order;
                ++in_order;
                ++taken;
            }
        }
        most = taken > most ? taken : most;
    }
    suite.check("their notices are received, each once, in order", good && in_order == minted,
                Line().udec(in_order).add(" in order, then ").add(describe(got).view()));
    suite.check("a RECV takes up to notice_max_badges of them at once",
                most == abi::notice_max_badges, Line("at most ").udec(most));
    abi::CapId again = mint(first_badge);
    suite.check("once received, mint works again", again.raw != 0);
    (void)rt::release(again);
    expect_notice("(its notice)", first_badge);
}

// The last client facet goes.
void last_client(abi::CapId (&facets)[4]) {
    uint64_t first = rt::ring().submit(recv_entry(0));
    uint64_t second = rt::ring().submit(recv_entry(1));
    rt::ring().flush();
    suite.check_result("the last client facet (2) is released with two RECVs waiting",
                       rt::release(facets[2]), 0);
    facets[2] = abi::CapId{};
    Received notice = received(rt::ring().wait(first), 0);
    suite.check("the first RECV gets its notice", is_notice_of(notice, 2), describe(notice));
    suite.check_result("the second is Disconnected", rt::ring().wait(second).result,
                       TransportError::Disconnected);

    abi::CapId last = mint(4);
    suite.check_result("a new facet released with no RECV waiting", rt::release(last), 0);
    expect_notice("the next RECV gets its notice", 4);
    suite.check_result("and the one after is Disconnected: no client left", receive().cqe.result,
                       TransportError::Disconnected);
}

// rt::Server on the other side, and its owner's end.
void server() {
    const GrantSpec grants[] = {test::endpoint_grant("service"), copy_grant("console", g_console)};
    uint32_t plain = 0;
    abi::CapId child = spawn_child("badge-child (server) spawned", "server", grants, &plain);
    if (child.raw == 0)
        return;
    Echo::Client<rt::RingTransport> service(rt::transport(), plain);
    auto command = [&](Echo::Client<rt::RingTransport>& client, std::string_view text) {
        auto reply = client.echo(text);
        return reply.is_ok() ? Line(reply.value().text()) : test::describe(reply.error());
    };
    auto expect = [&](std::string_view what, Echo::Client<rt::RingTransport>& client,
                      std::string_view text, std::string_view expected) {
        Line reply = command(client, text);
        suite.check(what, reply.view() == expected, Line("'").add(reply.view()).add("'"));
    };
    auto take_facet = [&](std::string_view what, std::string_view expected) {
        Line reply = command(service, "mint");
        auto records = rt::transport().received();
        bool ok = reply.view() == expected && records.size() == 1 &&
                  records[0].interface_id == Echo::interface_id;
        suite.check(what, ok,
                    Line("'").add(reply.view()).add("', ").udec(records.size()).add(" records"));
        return ok ? records[0].cap : 0;
    };
    expect("the owner side of its endpoint grant speaks Endpoint (its CapSet)", service, "owner",
           "Endpoint");
    uint32_t seven =
        take_facet("the server mints facet 7 and sends it: its CapRecord says Echo", "minted 7");
    Echo::Client<rt::RingTransport> facet(rt::transport(), seven);
    expect("rt::Server gives the badge of the call it serves", facet, "who",
           "badge 7 released none");
    expect("and 0 for the plain facet's", service, "who", "badge 0 released none");
    suite.check_result("facet 7 is released", rt::release(abi::CapId{seven}), 0);
    expect("the server's released() got its notice, which was not answered", service, "who",
           "badge 0 released 7");
    uint32_t eight = take_facet("it mints facet 8", "minted 8");
    suite.check("the server is killed", test::kill(child.raw));
    auto ended = test::wait(child.raw);
    suite.check("and ends", ended.is_ok() && ended.value().killed);
    (void)rt::release(child);
    Echo::Client<rt::RingTransport> facet8(rt::transport(), eight);
    suite.check_transport("a call through its minted facet is Disconnected", facet8.echo("x"),
                          TransportError::Disconnected);
    suite.check_transport("and through the plain one", service.echo("x"),
                          TransportError::Disconnected);
    suite.check_result("the facet is released after its owner's end",
                       rt::release(abi::CapId{eight}), 0);
    (void)rt::release(abi::CapId{plain});
}

} // namespace

int main() {
    g_spawner = test::cap_id("spawner");
    g_console = test::cap_id("console");
    abi::CapId facets[4] = {};
    badges(facets);
    if (g_owner.raw == 0)
        return suite.finish();
    copied_to_a_child(facets);
    queued_then_released(facets);
    minted_by_the_answer(facets);
    bound();
    last_client(facets);
    // Notices left pending when the owner goes are dropped (and their memory
    // freed: the scenario checks the heap), as many as may be.
    uint32_t pending = 0;
    for (abi::CapId facet; (facet = mint(6 + pending)).raw != 0; ++pending)
        (void)rt::release(facet);
    suite.check("16,384 facets released with their notices left pending",
                pending == abi::endpoint_max_minted, Line().udec(pending));
    suite.check_result("the owner is released", rt::release(g_owner), 0);
    server();
    return suite.finish();
}
