// Processes whose threads end in other orders (scenario.user_threads_procs),
// by its argument:
//   spin        three threads and the main one spin until the process is
//               killed
//   main-exits  the main thread ends itself (ThreadControl.exitThread); the
//               other, still running, ends last with code 7: the process's
//   exit-busy   the main thread calls exit(5) while three threads spin and
//               one is parked: every thread ends, the process with code 5
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
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
    return 12;
}
