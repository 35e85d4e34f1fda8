// storm_test: a process that writes random and half-valid submissions into
// its ring as fast as it can, scribbles over the ring header now and then,
// and checks the kernel's side of the bargain: it never falls over, takes no
// submission without answering it exactly once, answers in order what it
// answers at once, and gets every frame and heap allocation back (the
// kernel's own check when init ends).
//
// Phase 1 (this process): kernel capabilities (two Nulls) and garbage ids;
// every completion is immediate, so they must come in submission order.
// Phase 2 (a child, the same program, holding the owner of a new endpoint and
// then its client too): calls to itself, Recvs, Returns with random call ids
// and random capability transfers (copies and moves of whatever it holds),
// Releases. Completions come in any order, each exactly once; at the end it
// releases the endpoint, which answers everything still owed.
//
// CAPOS_STORM_ROUNDS (a build definition) sets the length: short in
// `make test`, long in `make torture`.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

#ifndef CAPOS_STORM_ROUNDS
#define CAPOS_STORM_ROUNDS 2000
#endif

using namespace capos;
using abi::TransportError;
using test::Line;

namespace {

test::Suite suite("storm");

using test::Random;

alignas(8) capnp::Word g_params[64];
alignas(8) capnp::Word g_results[16][128];
abi::TransferDescriptor g_transfers[16][abi::max_transfers];

// Submissions and what came back.
struct Ledger {
    uint64_t next_user_data = 1; // the sequence number of the next submission
    uint64_t consumed = 0;       // taken by the kernel (its sq_head moved)
    uint64_t completed = 0;      // completions read
    uint64_t lost = 0;           // completions the kernel could not post (cq_overflow)
    uint64_t out_of_order = 0;   // phase 1: a completion not for the next submission
    uint64_t duplicates = 0;     // phase 2: a user_data answered twice
    uint64_t unknown = 0;        // a user_data never submitted
    uint64_t expected_next = 1;  // phase 1
    uint64_t deliveries = 0;     // phase 2: Recvs that delivered a call
    // Phase 2: answered flags for a window of sequence numbers.
    static constexpr uint64_t window = 8192;
    uint8_t answered[window] = {};
};
Ledger g_ledger;

// The ids a storm uses: its own capabilities and garbage.
struct Pool {
    uint32_t ids[32];
    uint32_t count = 0;
    uint32_t pick(Random& random) const {
        if (count == 0 || random.one_in(8))
            return uint32_t(random.next());
        return ids[random.below(count)];
    }
    // The same, never one of the first `kept` entries (the endpoint's owner
    // and one client, which the storm keeps so that calls keep flowing).
    uint32_t kept = 0;
    bool is_kept(uint32_t id) const {
        for (uint32_t i = 0; i < kept; ++i) {
            if (ids[i] == id)
                return true;
        }
        return false;
    }
    uint32_t pick_releasable(Random& random) const {
        if (count <= kept || random.one_in(8))
            return uint32_t(random.next());
        return ids[kept + random.below(count - kept)];
    }
    void add(uint32_t id) {
        if (count < 32)
            ids[count++] = id;
    }
    // A capability that arrived: it joins the pool, in place of a random
    // one when the pool is full.
    void take_in(Random& random, uint32_t id) {
        if (count < 32)
            ids[count++] = id;
        else
            ids[kept + random.below(32 - kept)] = id;
    }
};

// A small valid message: a root struct of `data` words holding random
// values, optionally with one capability pointer naming `cap`.
uint32_t message(Random& random, uint32_t cap_pointer) {
    uint32_t data = uint32_t(random.below(4));
    uint16_t pointers = cap_pointer ? 1 : 0;
    g_params[0] = capnp::Word{data} << 32 | capnp::Word{pointers} << 48;
    for (uint32_t i = 0; i < data; ++i)
        g_params[1 + i] = random.next();
    if (cap_pointer)
        g_params[1 + data] = capnp::detail::make_capability_pointer(cap_pointer);
    return (1 + data + pointers) * 8;
}

uint64_t random_address(Random& random, uint64_t good) {
    switch (random.below(48)) {
    case 0:
        return 0;
    case 1:
        return random.next();
    case 2:
        return 0xffff800000000000ull + random.below(1 << 20) * 8; // kernel memory
    default:
        return good;
    }
}

// Call ids delivered by a Recv and perhaps not answered yet: what a Return
// names (most of the time).
struct CallIds {
    uint32_t ids[32] = {};
    uint32_t count = 0;
    uint32_t pick(Random& random) const {
        if (count == 0 || random.one_in(4))
            return uint32_t(random.next());
        return ids[random.below(count)];
    }
    void add(Random& random, uint32_t id) {
        if (count < 32)
            ids[count++] = id;
        else
            ids[random.below(32)] = id;
    }
    void answered(uint32_t id) {
        for (uint32_t i = 0; i < count; ++i) {
            if (ids[i] == id) {
                ids[i] = ids[--count];
                return;
            }
        }
    }
};

abi::Sqe random_sqe(Random& random, const Pool& pool, uint32_t slot, bool endpoints,
                    const CallIds& calls) {
    abi::Sqe sqe{};
    if (random.one_in(16)) { // pure garbage
        auto* words = reinterpret_cast<uint64_t*>(&sqe);
        for (size_t i = 0; i < sizeof sqe / 8; ++i)
            words[i] = random.next();
        return sqe;
    }
    // Weights: Nop 1, Release 1, Call 3; with endpoints also Recv 3, Return 3.
    uint32_t kind = uint32_t(random.below(endpoints ? 11 : 5));
    switch (kind) {
    case 0:
        sqe.opcode = uint8_t(abi::Opcode::Nop);
        break;
    case 1:
        sqe.opcode = uint8_t(abi::Opcode::Release);
        sqe.cap = random.one_in(4) ? pool.pick_releasable(random) : uint32_t(random.next());
        break;
    case 2:
    case 3:
    case 4:
        sqe.opcode = uint8_t(abi::Opcode::Call);
        sqe.cap = pool.pick(random);
        sqe.interface_id = random.one_in(3)   ? schema::Null::interface_id
                           : random.one_in(8) ? random.next()
                                              : 0x9e3779b97f4a7c15ull;
        sqe.method = uint16_t(random.below(3));
        break;
    case 5:
    case 6:
    case 7:
        sqe.opcode = uint8_t(abi::Opcode::Recv);
        sqe.cap = random.one_in(4) ? pool.pick(random) : pool.ids[0];
        break;
    default:
        sqe.opcode = uint8_t(abi::Opcode::Return);
        sqe.cap = random.one_in(4) ? pool.pick(random) : pool.ids[0];
        sqe.call_id = calls.pick(random);
        sqe.flags = uint8_t(random.one_in(16) ? random.next() : random.below(2));
        break;
    }
    bool carries =
        sqe.opcode == uint8_t(abi::Opcode::Call) || sqe.opcode == uint8_t(abi::Opcode::Return);
    if (carries && !random.one_in(4)) {
        uint32_t transfers = endpoints && random.one_in(3) ? uint32_t(1 + random.below(3)) : 0;
        uint32_t cap_pointer = transfers ? pool.pick(random) : 0;
        uint32_t length = message(random, cap_pointer);
        sqe.params_addr = random_address(random, reinterpret_cast<uint64_t>(g_params));
        sqe.params_len = random.one_in(16) ? uint32_t(random.next()) : length;
        if (transfers) {
            for (uint32_t i = 0; i < transfers; ++i) {
                uint32_t cap = i == 0 ? cap_pointer : pool.pick(random);
                // The kept capabilities are only ever copied (moves of the
                // copies received are what the storm moves).
                uint8_t mode = pool.is_kept(cap)  ? uint8_t(abi::TransferMode::Copy)
                               : random.one_in(8) ? uint8_t(random.next())
                                                  : uint8_t(random.below(2));
                g_transfers[slot][i] = {cap, mode, {}};
            }
            sqe.transfer_addr =
                random_address(random, reinterpret_cast<uint64_t>(g_transfers[slot]));
            sqe.transfer_count = transfers;
        }
    }
    if (sqe.opcode == uint8_t(abi::Opcode::Call) || sqe.opcode == uint8_t(abi::Opcode::Recv)) {
        sqe.result_addr = random_address(random, reinterpret_cast<uint64_t>(g_results[slot]));
        sqe.result_len = random.one_in(8) ? uint32_t(random.below(64) * 8) : sizeof g_results[slot];
    }
    return sqe;
}

void account(const abi::Cqe& cqe, bool in_order) {
    ++g_ledger.completed;
    uint64_t id = cqe.user_data;
    if (id == 0 || id >= g_ledger.next_user_data) {
        ++g_ledger.unknown;
        return;
    }
    if (in_order) {
        if (id != g_ledger.expected_next)
            ++g_ledger.out_of_order;
        g_ledger.expected_next = id + 1;
        return;
    }
    if (g_ledger.next_user_data - id < Ledger::window) {
        uint8_t& flag = g_ledger.answered[id % Ledger::window];
        if (flag)
            ++g_ledger.duplicates;
        flag = 1;
    }
}

// The call id each recent Return named, by sequence number: an answered
// call leaves the list of ids to answer.
uint32_t g_returned[Ledger::window];
CallIds g_calls;

void drain(bool in_order) {
    abi::Cqe cqe{};
    while (test::raw::pop(cqe)) {
        uint32_t call_id = g_returned[cqe.user_data % Ledger::window];
        if (cqe.result == 0 && call_id != 0)
            g_calls.answered(call_id);
        account(cqe, in_order);
    }
}

// `rounds` batches of 1..16 random submissions, each batch followed by a
// cap_enter (now and then with the header scribbled over) and reading every
// completion there is.
void storm(Random& random, Pool& pool, uint64_t rounds, bool endpoints) {
    abi::RingHeader& header = test::raw::page().header;
    CallIds& calls = g_calls;
    for (uint64_t round = 0; round < rounds; ++round) {
        uint32_t room = abi::ring_sq_entries - (header.sq_tail - header.sq_head);
        uint32_t batch = room == 0 ? 0 : uint32_t(1 + random.below(room));
        for (uint32_t i = 0; i < batch; ++i) {
            // Buffers by sequence number: a completion finds its own.
            uint64_t sequence = g_ledger.next_user_data++;
            abi::Sqe sqe = random_sqe(random, pool, uint32_t(sequence % 16), endpoints, calls);
            sqe.user_data = sequence;
            g_returned[sequence % Ledger::window] =
                sqe.opcode == uint8_t(abi::Opcode::Return) ? sqe.call_id : 0;
            g_ledger.answered[sequence % Ledger::window] = 0;
            test::raw::push(sqe);
        }
        uint32_t head_before = header.sq_head;
        if (random.one_in(64)) {
            // Scribble over the header, enter, then put this process's own
            // fields right; the kernel rewrites its own at every cap_enter.
            uint32_t sq_tail = header.sq_tail, cq_head = header.cq_head;
            auto* words = reinterpret_cast<uint32_t*>(&header);
            uint32_t field = uint32_t(random.below(8));
            words[field] = uint32_t(random.next());
            // A CQ head moved forward to a believable value tells the kernel
            // that unread completions were read: it may then write over them.
            // That only harms this process, but it would spoil the count, so
            // a scribbled head is always one the kernel cannot believe.
            if (&words[field] == &header.cq_head &&
                header.cq_tail - header.cq_head <= abi::ring_cq_entries)
                header.cq_head = header.cq_tail + 1000;
            (void)test::raw::enter(0, 0);
            header.sq_tail = sq_tail;
            header.cq_head = cq_head;
            header.sq_entries = abi::ring_sq_entries;
            header.cq_entries = abi::ring_cq_entries;
            (void)test::raw::enter(0, 0);
        } else {
            uint64_t min = random.below(3);
            (void)test::raw::enter(min, min ? 1'000'000 : 0);
        }
        g_ledger.consumed += uint32_t(header.sq_head - head_before);
        // Recv completions give call ids to Return; capabilities that came
        // with a call or an answer join the pool (whatever their buffer holds
        // by now: a stray id is one more garbage id).
        for (uint32_t at = header.cq_head; at != header.cq_tail; ++at) {
            const abi::Cqe& cqe = test::raw::page().cqes[at % abi::ring_cq_entries];
            if (cqe.call_id != 0) {
                calls.add(random, cqe.call_id);
                if (cqe.result == 0)
                    ++g_ledger.deliveries;
            }
            if (cqe.result >= 0 && cqe.cap_count > 0 && cqe.cap_count <= abi::max_transfers &&
                cqe.result_len + cqe.cap_count * 16 <= sizeof g_results[0]) {
                const capnp::Word* buffer = g_results[cqe.user_data % 16];
                const auto* records =
                    reinterpret_cast<const abi::CapRecord*>(buffer + cqe.result_len / 8);
                pool.take_in(random, records[random.below(cqe.cap_count)].cap);
            }
        }
        drain(!endpoints);
    }
}

// Enters until every submission is consumed and every completion owed came.
bool settle(bool in_order) {
    abi::RingHeader& header = test::raw::page().header;
    for (int i = 0; i < 10000; ++i) {
        uint32_t head_before = header.sq_head;
        (void)test::raw::enter(0, 0);
        g_ledger.consumed += uint32_t(header.sq_head - head_before);
        drain(in_order);
        g_ledger.lost = header.cq_overflow;
        if (header.sq_head == header.sq_tail &&
            g_ledger.completed + g_ledger.lost == g_ledger.consumed)
            return true;
        if (header.sq_head == header.sq_tail)
            (void)test::raw::enter(1, 10'000'000);
    }
    return false;
}

void report(std::string_view phase, bool settled, bool in_order) {
    Line counts;
    counts.add("submitted ")
        .udec(g_ledger.next_user_data - 1)
        .add(", consumed ")
        .udec(g_ledger.consumed)
        .add(", completed ")
        .udec(g_ledger.completed)
        .add(", lost ")
        .udec(g_ledger.lost)
        .add(", unknown ")
        .udec(g_ledger.unknown)
        .add(", twice ")
        .udec(g_ledger.duplicates)
        .add(settled ? "" : ", never settled");
    Line what;
    what.add(phase).add(": every submission taken is answered once");
    suite.check(what.view(),
                settled && g_ledger.unknown == 0 && g_ledger.duplicates == 0 &&
                    g_ledger.completed + g_ledger.lost == g_ledger.consumed,
                counts);
    if (in_order) {
        Line order;
        order.add(phase).add(": immediate answers come in submission order");
        suite.check(order.view(), g_ledger.out_of_order == 0,
                    Line("out of order ").udec(g_ledger.out_of_order));
    }
}

// Receives one call that brings a capability, answers it, returns the
// capability's id here (0 on failure).
uint32_t receive_capability(uint32_t owner) {
    alignas(8) static capnp::Word buffer[64];
    abi::Sqe recv{};
    recv.opcode = uint8_t(abi::Opcode::Recv);
    recv.cap = owner;
    recv.result_addr = reinterpret_cast<uint64_t>(buffer);
    recv.result_len = sizeof buffer;
    abi::Cqe got = test::raw::run(recv);
    if (got.result != 0 || got.cap_count != 1)
        return 0;
    abi::RecvHeader header;
    __builtin_memcpy(&header, buffer, sizeof header);
    const auto* record =
        reinterpret_cast<const abi::CapRecord*>(buffer + (sizeof header + header.params_len) / 8);
    abi::Sqe answer{};
    answer.opcode = uint8_t(abi::Opcode::Return);
    answer.cap = owner;
    answer.call_id = got.call_id;
    return test::raw::run(answer).result == 0 ? record->cap : 0;
}

int child_main(uint32_t owner) {
    // Two calls bring two copies of the endpoint's client side: one for the
    // storm, one kept out of it so that the endpoint outlives whatever the
    // storm does to its own (it releases and moves them too).
    uint32_t client = receive_capability(owner);
    uint32_t anchor = receive_capability(owner);
    if (client == 0 || anchor == 0)
        return 3;

    Pool pool;
    pool.add(owner);
    pool.add(client);
    pool.kept = 2;
    if (uint32_t null = test::cap_id("null"))
        pool.add(null);
    Random random{0xd1b54a32d192ed03ull};
    g_ledger = Ledger{};
    storm(random, pool, CAPOS_STORM_ROUNDS, true);

    // Give the endpoint up: every call still queued or in flight, and a
    // waiting Recv, is answered Disconnected.
    // (The storm may have released the client already: then StaleCap.)
    for (uint32_t cap : {owner, client, anchor}) {
        abi::Sqe release{};
        release.opcode = uint8_t(abi::Opcode::Release);
        release.user_data = g_ledger.next_user_data++;
        release.cap = cap;
        g_ledger.answered[release.user_data % Ledger::window] = 0;
        test::raw::push(release);
    }
    bool settled = settle(false);
    report("endpoint storm", settled, false);
    suite.check("endpoint storm: calls to itself were delivered", g_ledger.deliveries >= 100,
                Line("delivered ").udec(g_ledger.deliveries));
    return suite.finish();
}

} // namespace

int main() {
    if (uint32_t owner = test::cap_id("work"))
        return child_main(owner);

    uint32_t spawner = test::cap_id("spawner");
    uint32_t null = test::cap_id("null");
    uint32_t spare = test::cap_id("spare");
    uint32_t console = test::cap_id("console");
    if (!spawner || !null || !spare || !console)
        return 2;

    Pool pool;
    pool.add(null);
    pool.add(spare);
    Random random{0x9e3779b97f4a7c15ull};
    storm(random, pool, CAPOS_STORM_ROUNDS, false);
    report("kernel storm", settle(true), true);

    // (The storm above may have released its Nulls.)
    const test::GrantSpec grants[] = {test::endpoint_grant("work"),
                                      test::copy_grant("console", console)};
    auto child = test::spawn(spawner, "storm-child", "storm", grants);
    if (!suite.check_ok("the endpoint storm starts", child))
        return suite.finish();
    // Hand the child its own endpoint's client side, then let go of ours.
    uint32_t client = child.value().endpoints[0];
    alignas(8) static capnp::Word hand[2] = {capnp::Word{1} << 48,
                                             capnp::detail::make_capability_pointer(client)};
    alignas(8) static capnp::Word result[16];
    abi::TransferDescriptor copy{client, uint8_t(abi::TransferMode::Copy), {}};
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = client;
    sqe.interface_id = 1;
    sqe.params_addr = reinterpret_cast<uint64_t>(hand);
    sqe.params_len = sizeof hand;
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = sizeof result;
    sqe.transfer_addr = reinterpret_cast<uint64_t>(&copy);
    sqe.transfer_count = 1;
    suite.check_result("the child gets its endpoint's client side", test::raw::run(sqe).result, 0);
    suite.check_result("... twice", test::raw::run(sqe).result, 0);
    (void)rt::release(abi::CapId{client});
    auto ended = test::wait(child.value().handle.raw);
    suite.check("the endpoint storm's checks pass",
                ended.is_ok() && ended.value().exited && ended.value().code == 0,
                ended.is_ok() ? Line("code ").dec(ended.value().code) : Line("wait failed"));
    return suite.finish();
}
