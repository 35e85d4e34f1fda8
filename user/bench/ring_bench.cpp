// ring_bench: capOS's hot paths timed from user space, init of the bench system
// (bench/manifests/bench.capnp). docs/performance.md describes the figures and
// bench/run_bench.py parses them. One line per figure:
//
//     bench: <name> ticks=<median TSC ticks per op> ns=<median ns per op>
//            min_ns=<fastest batch> max_ns=<slowest batch> batches=<n> per_batch=<ops>
//
// (on one line). Each figure is the median of `batches` batches of about
// `batch_ms` each; a batch's figure is its TSC ticks over its operations. Ticks
// become nanoseconds through the TSC rate calibrated at the start against
// Timer.now (the kernel says nothing about its TSC rate to user space). A
// figure that cannot be measured prints "bench: <name> FAILED (<why>)" and makes
// the exit code nonzero. The first line is "bench: init main tsc=<TSC>", the
// last "bench: done, <n> figures, <m> failed, tsc=<TSC>".
//
// The CapSet holds "console", "timer", "null" and "spawner" (kernel), and, for
// the short run of the smoke test (bench.capos_smoke), "bench-quick": any
// capability under that name means a few short batches instead of the full run.
//
// Integer arithmetic only: user code must not use SSE/x87 (docs/abi.md).
#include "abi/ring.h"
#include "abi/syscall.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/bench/raw_ring.h"
#include "user/bench/timing.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/sync.h"
#include "user/rt/syscall.h"
#include "user/rt/thread.h"

namespace {

using namespace capos;
using schema::Echo;
using schema::Null;
using schema::ProcessHandle;
using schema::ProcessSpawner;
using schema::Timer;

// ---------------------------------------------------------------------------
// Output

using Line = rt::PrintLine;

// ---------------------------------------------------------------------------
// Time (user/bench/timing.h: the TSC, its rate, the figure line)

using bench::mul_div;
using bench::rdtsc;

struct Config {
    uint32_t batches = 30;
    uint64_t batch_ms = 20;
    uint64_t calibrate_ms = 50;
    bool quick = false;
};
Config g_config;

bench::TscRate g_rate;
uint32_t g_timer = 0;

// ---------------------------------------------------------------------------
// Figures

uint32_t g_figures = 0;
uint32_t g_failures = 0;

void failed(std::string_view name, std::string_view why) {
    ++g_failures;
    Line() << "bench: " << name << " FAILED (" << why << ")";
}

constexpr uint32_t max_batches = 64;

// Times `run(n)`, which performs n iterations of `ops_per_iteration`
// operations each and returns false when one fails. Sizes a batch to about
// batch_ms first (which also warms up), then runs the batches.
// The one figure to profile, when a capability is granted as
// "bench-figure:<name>" or "bench-figure:<name>*<iterations>"
// (bench/profile.py); empty: every figure, timed.
std::string_view g_only;
// Iterations of the profiled figure, between the two markers.
uint64_t profile_iterations = 1000;

// The markers the profiling plugin (bench/plugin) watches for: two
// instructions no compiler emits, which change nothing.
void profile_begin() {
    asm volatile("xchg %%rbx, %%rbx" ::: "memory");
}
void profile_end() {
    asm volatile("xchg %%rcx, %%rcx" ::: "memory");
}

// Starts and waits for the smallest program: in a measurement build the
// kernel logs its stage sums when a process ends (kernel/lib/stage_clock.h),
// so this brackets a profiled figure for bench/profile.py --stage-clock.
bool stage_clock_report();

template <typename Run>
void measure(std::string_view name, uint64_t ops_per_iteration, Run&& run) {
    if (!g_only.empty()) {
        if (name != g_only)
            return;
        // Warm, then exactly profile_iterations between the markers.
        if (!run(profile_iterations))
            return failed(name, "an operation failed");
        if (!stage_clock_report())
            return failed(name, "cannot run bench-minimal");
        uint64_t start = rdtsc();
        profile_begin();
        bool ok = run(profile_iterations);
        profile_end();
        uint64_t ticks = rdtsc() - start;
        if (!stage_clock_report())
            return failed(name, "cannot run bench-minimal");
        if (!ok)
            return failed(name, "an operation failed");
        ++g_figures;
        Line() << "bench: " << name << " profiled iterations=" << profile_iterations
               << " ops=" << profile_iterations * ops_per_iteration << " ticks=" << ticks;
        return;
    }
    const uint64_t target = g_rate.ticks_for_ms(g_config.batch_ms);
    // One untimed iteration first: the first call of a kind pays for cold
    // caches and, for a server, its start.
    if (!run(1))
        return failed(name, "an operation failed");
    uint64_t n = 1;
    for (;;) {
        uint64_t start = rdtsc();
        if (!run(n))
            return failed(name, "an operation failed");
        uint64_t elapsed = rdtsc() - start;
        if (elapsed >= target / 4 || n >= (uint64_t(1) << 40)) {
            n = elapsed == 0 ? n : mul_div(n, target, elapsed);
            if (n == 0)
                n = 1;
            break;
        }
        n *= elapsed < target / 64 ? 8 : 2;
    }
    uint64_t per_op[max_batches]; // hundredths of a tick
    uint32_t batches = g_config.batches < max_batches ? g_config.batches : max_batches;
    for (uint32_t b = 0; b < batches; ++b) {
        uint64_t start = rdtsc();
        if (!run(n))
            return failed(name, "an operation failed");
        uint64_t elapsed = rdtsc() - start;
        per_op[b] = mul_div(elapsed, 100, n * ops_per_iteration);
    }
    ++g_figures;
    bench::print_figure(g_rate, name, per_op, batches, n * ops_per_iteration);
}

// ---------------------------------------------------------------------------
// The raw ring (user/bench/raw_ring.h).

using bench::pop;
using bench::push;
abi::RingPage& page() {
    return bench::ring_page();
}

// `count` NOPs per cap_enter; each must complete with result 0, in order.
// The loop is the Linux peer's io_uring loop (bench/linux/peer_bench.c,
// run_uring) step for step: each entry cleared and filled in place, the SQ
// tail published once per batch, every completion checked, the CQ head
// published once per batch.
bool nops(uint64_t n, uint32_t count) {
    abi::RingPage& ring = page();
    for (uint64_t i = 0; i < n; ++i) {
        uint32_t tail = ring.header.sq_tail;
        for (uint32_t k = 0; k < count; ++k, ++tail) {
            abi::Sqe& sqe = ring.sqes[tail % abi::ring_sq_entries];
            sqe = abi::Sqe{};
            sqe.opcode = uint8_t(abi::Opcode::Nop);
            sqe.user_data = k + 1;
        }
        __atomic_store_n(&ring.header.sq_tail, tail, __ATOMIC_RELEASE);
        if (rt::cap_enter(count, abi::no_timeout) != int64_t(count))
            return false;
        uint32_t head = ring.header.cq_head;
        for (uint32_t k = 0; k < count; ++k, ++head) {
            if (head == __atomic_load_n(&ring.header.cq_tail, __ATOMIC_ACQUIRE))
                return false;
            const abi::Cqe& cqe = ring.cqes[head % abi::ring_cq_entries];
            if (cqe.result != 0 || cqe.user_data != k + 1)
                return false;
        }
        __atomic_store_n(&ring.header.cq_head, head, __ATOMIC_RELEASE);
    }
    return true;
}

// Timer.now, 16 per cap_enter: raw SQEs whose params were encoded once (an
// empty NowParams) and travel in the entry (SqeInlineParams), their results
// in the completion (SqeInlineResult: Timer.now's always fit, so no result
// buffer), each read with the generated reader as the generated client does
// (MessageReader, traverse, error check).
constexpr uint32_t batch_calls = abi::ring_max_batch;
alignas(8) capnp::Word g_now_params[2];
std::span<const capnp::Word> g_now_params_words;
uint64_t g_sink = 0;

bool encode_now_params() {
    capnp::MessageBuilder builder(g_now_params);
    (void)builder.init_root(Timer::NowParams::data_words, Timer::NowParams::pointer_count);
    if (builder.error() != capnp::WireError::None ||
        builder.words().size_bytes() > abi::sqe_inline_params_bytes)
        return false;
    g_now_params_words = builder.words();
    return true;
}

bool timer_now_batch(uint64_t n) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.flags = abi::SqeInlineParams | abi::SqeInlineResult;
    sqe.method = uint16_t(Timer::Method::Now);
    sqe.cap = g_timer;
    sqe.interface_id = Timer::interface_id;
    sqe.params_len = uint32_t(g_now_params_words.size_bytes());
    __builtin_memcpy(reinterpret_cast<std::byte*>(&sqe) + abi::sqe_inline_params_offset,
                     g_now_params_words.data(), g_now_params_words.size_bytes());
    for (uint64_t i = 0; i < n; ++i) {
        for (uint32_t k = 0; k < batch_calls; ++k) {
            sqe.user_data = k;
            push(sqe);
        }
        if (rt::cap_enter(batch_calls, abi::no_timeout) < 0)
            return false;
        for (uint32_t k = 0; k < batch_calls; ++k) {
            abi::Cqe cqe;
            if (!pop(cqe) || cqe.result != int32_t(abi::CallStatus::OkInline) ||
                cqe.result_len > abi::cqe_inline_bytes)
                return false;
            capnp::Word words[2];
            abi::cqe_inline_words(cqe, words);
            // Read as the runtime reads what the kernel delivers (validated:
            // no second traverse; see rt::RingTransport::call).
            auto message = capnp::MessageReader::validated(
                std::span<const capnp::Word>(words, cqe.result_len / 8));
            Timer::NowResults::Reader results(message.root());
            if (message.error() != capnp::WireError::None)
                return false;
            g_sink += results.ns();
        }
    }
    return true;
}

// ---------------------------------------------------------------------------
// Processes

uint32_t g_spawner = 0;

struct Child {
    abi::CapId handle;
    abi::CapId endpoint; // the client side of its "echo" endpoint, if it has one
};

// Starts boot binary `binary`; with a nonempty `endpoint`, it gets a fresh
// endpoint under that name, whose client side comes back in out.endpoint.
bool spawn(std::string_view binary, std::string_view endpoint, Child& out) {
    ProcessSpawner::Client<rt::RingTransport> spawner(rt::transport(), g_spawner);
    auto spawned = spawner.spawn([&](ProcessSpawner::SpawnParams::Builder params) {
        params.set_name(binary);
        params.set_binary(binary);
        if (!endpoint.empty()) {
            auto grants = params.init_grants(1);
            grants[0].set_name(endpoint);
            grants[0].set_new_endpoint();
        }
    });
    if (spawned.is_error())
        return false;
    out.handle = abi::CapId{spawned.value().handle()};
    auto endpoints = spawned.value().endpoints();
    out.endpoint = abi::CapId{endpoints.size() > 0 ? endpoints[0] : 0};
    return endpoint.empty() || out.endpoint.raw != 0;
}

// Waits for the child behind `handle`, releases the handle; true when it exited 0.
bool wait_and_release(abi::CapId handle) {
    ProcessHandle::Client<rt::RingTransport> client(rt::transport(), handle.raw);
    auto waited = client.wait();
    bool clean = waited.is_ok() && waited.value().status().is_exited() &&
                 waited.value().status().exited() == 0;
    return rt::release(handle) == 0 && clean;
}

bool stage_clock_report() {
    Child child;
    return spawn("bench-minimal", {}, child) && wait_and_release(child.handle);
}

// (e) through the runtime: the generated Echo client, bench-echo serving with
// rt::Server and the generated dispatch. A one-byte text each way.
void endpoint_round_trip() {
    Child server;
    if (!spawn("bench-echo", "echo", server))
        return failed("ipc_echo", "cannot start bench-echo");
    Echo::Client<rt::RingTransport> echo(rt::transport(), server.endpoint.raw);
    measure("ipc_echo", 1, [&](uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            auto reply = echo.echo("x");
            if (reply.is_error() || reply.value().text() != "x")
                return false;
        }
        return true;
    });
    // Its last client gone, the server's Recv ends in Disconnected and it exits 0.
    (void)rt::release(server.endpoint);
    if (!wait_and_release(server.handle))
        failed("ipc_echo", "bench-echo did not exit cleanly");
}

// The same round trip with the ring alone on both sides: a raw CALL with
// params encoded once (an empty struct, as Null.ping's) carried in the entry,
// bench-echo answering from the raw ring ("echo-raw") with an empty struct,
// which comes back in the completion (SqeInlineParams, SqeInlineResult, as
// the runtime's calls send them). What the kernel's endpoint path costs
// without Cap'n Proto or the runtime.
void endpoint_round_trip_raw() {
    Child server;
    if (!spawn("bench-echo", "echo-raw", server))
        return failed("ipc_raw", "cannot start bench-echo");
    alignas(8) static capnp::Word params[1];
    alignas(8) static capnp::Word results[8];
    capnp::MessageBuilder builder(params);
    (void)builder.init_root(0, 0);
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.flags = abi::SqeInlineParams | abi::SqeInlineResult;
    sqe.method = uint16_t(Null::Method::Ping);
    sqe.cap = server.endpoint.raw;
    sqe.interface_id = Null::interface_id;
    sqe.params_len = uint32_t(builder.words().size_bytes());
    __builtin_memcpy(reinterpret_cast<std::byte*>(&sqe) + abi::sqe_inline_params_offset,
                     builder.words().data(), builder.words().size_bytes());
    sqe.result_addr = reinterpret_cast<uint64_t>(results);
    sqe.result_len = sizeof results;
    measure("ipc_raw", 1, [&](uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            sqe.user_data = i + 1;
            push(sqe);
            if (rt::cap_enter(1, abi::no_timeout) < 0)
                return false;
            abi::Cqe cqe;
            if (!pop(cqe) || cqe.result != int32_t(abi::CallStatus::OkInline) ||
                cqe.user_data != i + 1 || cqe.result_len != 8)
                return false;
        }
        return true;
    });
    (void)rt::release(server.endpoint);
    if (!wait_and_release(server.handle))
        failed("ipc_raw", "bench-echo did not exit cleanly");
}

// ---------------------------------------------------------------------------

uint32_t capability(std::string_view name) {
    auto found = rt::find_capability(name);
    return found.is_ok() ? found.value().id.raw : 0;
}

// (g): a PARK/UNPARK round trip between two threads of this process, as the
// Linux peer's futex_threads does it with futex: the main thread bumps
// `ping` and unparks the partner, which copies it to `pong` and unparks the
// main thread.
struct ParkPair {
    uint32_t ping = 0;
    uint32_t pong = 0;
    uint32_t sequence = 0;
};
constexpr uint32_t park_stop = UINT32_MAX;
ParkPair g_park_pair;

void park_partner(void*) {
    uint32_t seen = 0;
    for (;;) {
        uint32_t value;
        while ((value = __atomic_load_n(&g_park_pair.ping, __ATOMIC_ACQUIRE)) == seen)
            (void)rt::park(&g_park_pair.ping, seen);
        seen = value;
        if (value == park_stop)
            return;
        __atomic_store_n(&g_park_pair.pong, value, __ATOMIC_RELEASE);
        (void)rt::unpark(&g_park_pair.pong, 1);
    }
}

bool park_round_trips(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
        uint32_t previous = g_park_pair.sequence;
        uint32_t next = previous == 0x7fffffff ? 1 : previous + 1;
        g_park_pair.sequence = next;
        __atomic_store_n(&g_park_pair.ping, next, __ATOMIC_RELEASE);
        if (rt::unpark(&g_park_pair.ping, 1) < 0)
            return false;
        while (__atomic_load_n(&g_park_pair.pong, __ATOMIC_ACQUIRE) != next)
            if (rt::park(&g_park_pair.pong, previous) == rt::ParkOutcome::Failed)
                return false;
    }
    return true;
}

void park_threads() {
    auto partner = rt::Thread::start(park_partner, nullptr);
    if (partner.is_error())
        return failed("park_threads", rt::to_string(partner.error()));
    measure("park_threads", 1, park_round_trips);
    __atomic_store_n(&g_park_pair.ping, park_stop, __ATOMIC_RELEASE);
    (void)rt::unpark(&g_park_pair.ping, 1);
    partner.value().join();
}

} // namespace

int main() {
    // The harness times QEMU's start to this line (bench/run_bench.py), and
    // checks the calibration below against its own clock with the TSC values
    // of this line and the last.
    Line() << "bench: init main tsc=" << rdtsc();
    g_timer = capability("timer");
    g_spawner = capability("spawner");
    uint32_t null = capability("null");
    if (g_timer == 0 || g_spawner == 0 || null == 0) {
        (void)rt::debug_write_line("bench: FAILED (needs timer, spawner and null)");
        return 1;
    }
    if (auto first = Timer::Client<rt::RingTransport>(rt::transport(), g_timer).now();
        first.is_ok())
        Line() << "bench: boot kernel_clock_to_init_main_ns=" << first.value().ns();
    constexpr std::string_view figure_prefix = "bench-figure:";
    const abi::CapSetPage& capset = rt::capset();
    for (uint32_t i = 0; i < capset.header.count && i < abi::capset_max_entries; ++i) {
        std::string_view name(capset.entries[i].name);
        if (name.starts_with(figure_prefix)) {
            g_only = name.substr(figure_prefix.size());
            if (size_t star = g_only.find('*'); star != std::string_view::npos) {
                uint64_t iterations = 0;
                for (char c : g_only.substr(star + 1))
                    iterations = c >= '0' && c <= '9' ? iterations * 10 + uint64_t(c - '0') : 0;
                if (iterations != 0)
                    profile_iterations = iterations;
                g_only = g_only.substr(0, star);
            }
        }
    }
    if (capability("bench-quick") != 0)
        g_config = {.batches = 3, .batch_ms = 2, .calibrate_ms = 10, .quick = true};
    Line() << "bench: config batches=" << uint64_t(g_config.batches)
           << " batch_ms=" << g_config.batch_ms << (g_config.quick ? " (quick)" : "");
    if (!g_rate.calibrate(g_timer, g_config.calibrate_ms)) {
        (void)rt::debug_write_line("bench: FAILED (cannot calibrate the TSC against Timer.now)");
        return 1;
    }

    // (a), (b): the ring alone.
    measure("nop_1", 1, [](uint64_t n) { return nops(n, 1); });
    measure("nop_16", 16, [](uint64_t n) { return nops(n, 16); });

    // (c): kernel capability calls through the generated clients, one per cap_enter.
    Timer::Client<rt::RingTransport> timer(rt::transport(), g_timer);
    measure("timer_now_1", 1, [&](uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            auto now = timer.now();
            if (now.is_error())
                return false;
            g_sink += now.value().ns();
        }
        return true;
    });
    Null::Client<rt::RingTransport> ping(rt::transport(), null);
    measure("null_ping_1", 1, [&](uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            if (ping.ping().is_error())
                return false;
        }
        return true;
    });

    // (d): 16 per cap_enter.
    if (encode_now_params())
        measure("timer_now_16", batch_calls, timer_now_batch);
    else
        failed("timer_now_16", "cannot encode the params");

    // (e): endpoint round trip between two processes.
    endpoint_round_trip();
    endpoint_round_trip_raw();

    // (g): park and unpark between two threads.
    park_threads();

    // (f): spawn + wait of the smallest program.
    measure("spawn_wait", 1, [](uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            Child child;
            if (!spawn("bench-minimal", {}, child) || !wait_and_release(child.handle))
                return false;
        }
        return true;
    });

    Line() << "bench: done, " << uint64_t(g_figures) << " figures, " << uint64_t(g_failures)
           << " failed, tsc=" << rdtsc();
    return g_failures == 0 ? 0 : 1;
}
