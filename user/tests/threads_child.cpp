// Processes whose threads end in other orders (scenario.user_threads_procs),
// by its argument:
//   spin        three threads and the main one spin until the process is
//               killed
//   main-exits  the main thread ends itself (ThreadControl.exitThread); the
//               other, still running, ends last with code 7: the process's
//   exit-busy   the main thread calls exit(5) while three threads spin and
//               one is parked: every thread ends, the process with code 5
//   recv-behind ("work": an endpoint's owner) the main thread's RECV waits,
//               a thread's RECV waits behind it and the thread ends; the
//               first call is answered (once the thread has ended), then
//               the second, which must pass over the ended thread's RECV to
//               reach the main thread's next one: exit 0 (another code says
//               which step failed)
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/rt/sync.h"
#include "user/rt/syscall.h"
#include "user/rt/thread.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;

namespace {

uint32_t g_timer = 0;
uint64_t g_running = 0;
uint32_t g_word = 0;

void spin(void*) {
    __atomic_fetch_add(&g_running, 1, __ATOMIC_RELAXED);
    for (;;)
        __builtin_ia32_pause();
}

void park_on_word(void*) {
    (void)rt::park(&g_word, 0);
}

uint32_t g_work = 0;

// Submits a RECV on "work" and ends with it waiting.
void recv_then_end(void*) {
    alignas(8) static capnp::Word buffer[64];
    (void)rt::ring().submit(rt::recv_sqe(abi::CapId{g_work}, buffer));
    rt::ring().flush();
    rt::exit_thread(0);
}

// The main thread's part of recv-behind.
int recv_behind() {
    g_work = test::cap_id("work");
    if (!g_work)
        return 20;
    alignas(8) static capnp::Word first[64], second[64];
    uint64_t ticket = rt::ring().submit(rt::recv_sqe(abi::CapId{g_work}, first));
    rt::ring().flush();
    auto thread = rt::Thread::start(recv_then_end, nullptr);
    if (thread.is_error() || thread.value().join() != 0)
        return 21;
    abi::Cqe call = rt::ring().wait(ticket);
    if (call.result != 0)
        return 22;
    if (rt::ring().run(rt::return_sqe(abi::CapId{g_work}, call.call_id, {}, false)).result != 0)
        return 23;
    call = rt::ring().run(rt::recv_sqe(abi::CapId{g_work}, second));
    if (call.result != 0)
        return 24;
    if (rt::ring().run(rt::return_sqe(abi::CapId{g_work}, call.call_id, {}, false)).result != 0)
        return 25;
    return 0;
}

void outlive_main(void*) {
    (void)test::sleep_ns(g_timer, 100'000'000);
    rt::exit_thread(7);
}

} // namespace

int main() {
    g_timer = test::cap_id("timer");
    auto args = rt::arguments();
    if (!g_timer || args.count() != 1)
        return 10;
    std::string_view mode = args[0];
    if (mode == "spin") {
        for (int i = 0; i < 3; ++i)
            if (rt::Thread::start(spin, nullptr).is_error())
                return 11;
        spin(nullptr);
    }
    if (mode == "main-exits") {
        if (rt::Thread::start(outlive_main, nullptr).is_error())
            return 11;
        rt::exit_thread(0);
    }
    if (mode == "exit-busy") {
        for (int i = 0; i < 3; ++i)
            if (rt::Thread::start(spin, nullptr).is_error())
                return 11;
        if (rt::Thread::start(park_on_word, nullptr).is_error())
            return 11;
        while (__atomic_load_n(&g_running, __ATOMIC_RELAXED) < 3)
            (void)test::sleep_ns(g_timer, 1'000'000);
        rt::exit(5);
    }
    if (mode == "recv-behind")
        return recv_behind();
    return 12;
}
