// A page unmapped while another thread reads it (scenario.user_threads_procs):
// the reader, on another CPU where there are several, reads the page
// without pause and checks what it reads; once it has read it 1,000 times
// the main thread unmaps it. The reader must fault (#PF: the process ends
// faulted) and never read anything but what was written (exit 3), and it
// must fault soon (exit 4 when it still reads after two seconds). Exit
// codes from 10 on: a step before the test failed.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/syscall.h"
#include "user/rt/thread.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;

namespace {

constexpr uint64_t pattern = 0x5eed'f00d'cafe'beef;
volatile uint64_t* g_page = nullptr;
uint64_t g_reads = 0;

void read_forever(void*) {
    for (;;) {
        if (*g_page != pattern)
            rt::exit(3); // a value never written: a stale translation to a reused frame
        __atomic_fetch_add(&g_reads, 1, __ATOMIC_RELAXED);
    }
}

} // namespace

int main() {
    uint32_t timer = test::cap_id("timer");
    uint32_t vm_id = test::cap_id("vm");
    if (!timer || !vm_id)
        return 10;
    schema::VirtualMemory::Client<rt::RingTransport> vm(rt::transport(), vm_id);
    auto mapped = vm.map(0, 4096, schema::Access::ReadWrite);
    if (mapped.is_error())
        return 11;
    uint64_t address = mapped.value().address(); // read before the next call reuses the buffer
    g_page = reinterpret_cast<volatile uint64_t*>(address);
    *g_page = pattern;
    auto reader = rt::Thread::start(read_forever, nullptr);
    if (reader.is_error())
        return 12;
    while (__atomic_load_n(&g_reads, __ATOMIC_RELAXED) < 1000)
        __builtin_ia32_pause();
    if (vm.unmap(address, 4096).is_error())
        return 13;
    (void)test::sleep_ns(timer, 2'000'000'000);
    return 4;
}
