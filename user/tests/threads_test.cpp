// Threads (scenario.user_threads): init is this program, holding the thread
// spawner and control, the timer, the spawner and "vm". Each thread has its
// own TLS block, ring and SSE registers; threads on several CPUs share the
// process's memory; a thread blocks in cap_enter on its own; join returns
// the exit code; the kernel refuses what it must; and the process ends with
// threads still blocked, its memory all returned (the runner checks).
#include "schema/capos.capnp.capos.h"
#include "user/rt/sync.h"
#include "user/rt/thread.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

constexpr uint64_t initial_value = 0x1234'5678'9abc'def0;
thread_local uint64_t t_initialised = initial_value; // .tdata
thread_local uint64_t t_zeroed;                      // .tbss
alignas(128) thread_local uint8_t t_aligned[8];      // a block aligned beyond the TCB's 64

uint32_t g_timer = 0;

// TLS: each thread starts with the template's values and keeps its own.
struct TlsWork {
    uint64_t seed;
    bool ok = false;
};

void tls_work(void* argument) {
    auto& work = *static_cast<TlsWork*>(argument);
    bool ok = t_initialised == initial_value && t_zeroed == 0 &&
              reinterpret_cast<uint64_t>(&t_aligned) % 128 == 0;
    for (int round = 0; round < 20; ++round) {
        t_initialised = work.seed + uint64_t(round);
        t_zeroed = ~work.seed;
        (void)test::now_ns(g_timer); // a call on this thread's ring; others run meanwhile
        ok = ok && t_initialised == work.seed + uint64_t(round) && t_zeroed == ~work.seed;
    }
    work.ok = ok;
}

// A counter the threads share.
constexpr uint64_t increments = 20000;
uint64_t g_counter = 0;

void count(void*) {
    for (uint64_t i = 0; i < increments; ++i)
        __atomic_fetch_add(&g_counter, 1, __ATOMIC_RELAXED);
}

void exit_with(void* argument) {
    rt::exit_thread(int64_t(reinterpret_cast<uintptr_t>(argument)));
}

// exitThread asked to unmap what it may not (kernel addresses): the thread
// ends all the same, with its code, and nothing is unmapped.
void exit_unmapping_kernel(void*) {
    schema::ThreadControl::Client<rt::RingTransport> control(rt::transport(),
                                                             test::cap_id("thread"));
    (void)control.exit_thread(9, 0xffff800000000000, 0x10000);
}

// Blocks in cap_enter (Timer.sleep) for `ns`, then says so.
struct Sleeper {
    uint64_t ns;
    bool done = false;
};

void sleep_then_mark(void* argument) {
    auto& sleeper = *static_cast<Sleeper*>(argument);
    (void)test::sleep_ns(g_timer, sleeper.ns);
    __atomic_store_n(&sleeper.done, true, __ATOMIC_RELEASE);
}

void call_many(void*) {
    for (int i = 0; i < 200; ++i)
        (void)test::now_ns(g_timer);
}

// SSE registers: xmm0-15 loaded with a pattern of the thread's own, kept
// through a long spin (preempted, and moved between CPUs), stored back.
struct VectorWork {
    uint64_t seed;
    bool ok = false;
};

void vector_work(void* argument) {
    auto& work = *static_cast<VectorWork*>(argument);
    alignas(16) uint64_t in[32];
    alignas(16) uint64_t out[32];
    for (int i = 0; i < 32; ++i)
        in[i] = work.seed * 0x9e37'79b9'7f4a'7c15 + uint64_t(i);
    bool ok = true;
    for (int round = 0; round < 4; ++round) {
        asm volatile("movdqa 0(%[in]), %%xmm0\n movdqa 16(%[in]), %%xmm1\n"
                     "movdqa 32(%[in]), %%xmm2\n movdqa 48(%[in]), %%xmm3\n"
                     "movdqa 64(%[in]), %%xmm4\n movdqa 80(%[in]), %%xmm5\n"
                     "movdqa 96(%[in]), %%xmm6\n movdqa 112(%[in]), %%xmm7\n"
                     "movdqa 128(%[in]), %%xmm8\n movdqa 144(%[in]), %%xmm9\n"
                     "movdqa 160(%[in]), %%xmm10\n movdqa 176(%[in]), %%xmm11\n"
                     "movdqa 192(%[in]), %%xmm12\n movdqa 208(%[in]), %%xmm13\n"
                     "movdqa 224(%[in]), %%xmm14\n movdqa 240(%[in]), %%xmm15\n"
                     "mov $30000000, %%rcx\n"
                     "1: dec %%rcx\n jnz 1b\n"
                     "movdqa %%xmm0, 0(%[out])\n movdqa %%xmm1, 16(%[out])\n"
                     "movdqa %%xmm2, 32(%[out])\n movdqa %%xmm3, 48(%[out])\n"
                     "movdqa %%xmm4, 64(%[out])\n movdqa %%xmm5, 80(%[out])\n"
                     "movdqa %%xmm6, 96(%[out])\n movdqa %%xmm7, 112(%[out])\n"
                     "movdqa %%xmm8, 128(%[out])\n movdqa %%xmm9, 144(%[out])\n"
                     "movdqa %%xmm10, 160(%[out])\n movdqa %%xmm11, 176(%[out])\n"
                     "movdqa %%xmm12, 192(%[out])\n movdqa %%xmm13, 208(%[out])\n"
                     "movdqa %%xmm14, 224(%[out])\n movdqa %%xmm15, 240(%[out])\n"
                     :
                     : [in] "r"(in), [out] "r"(out)
                     : "rcx", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                       "xmm15");
        for (int i = 0; i < 32; ++i)
            ok = ok && out[i] == in[i];
        for (int i = 0; i < 32; ++i)
            in[i] = in[i] * 3 + 1; // another pattern for the next round
    }
    work.ok = ok;
}

// A thread's first SSE instruction finds every register in its reset state,
// though the CPU last held another thread's of the same process (the load
// of a thread's state at its first use: no reset between threads of one
// process).
void vector_clean(void* argument) {
    alignas(16) uint64_t out[32];
    uint32_t mxcsr = 0;
    asm volatile("movdqa %%xmm0, 0(%[out])\n movdqa %%xmm1, 16(%[out])\n"
                 "movdqa %%xmm2, 32(%[out])\n movdqa %%xmm3, 48(%[out])\n"
                 "movdqa %%xmm4, 64(%[out])\n movdqa %%xmm5, 80(%[out])\n"
                 "movdqa %%xmm6, 96(%[out])\n movdqa %%xmm7, 112(%[out])\n"
                 "movdqa %%xmm8, 128(%[out])\n movdqa %%xmm9, 144(%[out])\n"
                 "movdqa %%xmm10, 160(%[out])\n movdqa %%xmm11, 176(%[out])\n"
                 "movdqa %%xmm12, 192(%[out])\n movdqa %%xmm13, 208(%[out])\n"
                 "movdqa %%xmm14, 224(%[out])\n movdqa %%xmm15, 240(%[out])\n"
                 "stmxcsr %[mxcsr]\n"
                 : [mxcsr] "=m"(mxcsr)
                 : [out] "r"(out)
                 : "memory");
    bool clean = mxcsr == 0x1f80;
    for (uint64_t word : out)
        clean = clean && word == 0;
    *static_cast<bool*>(argument) = clean;
}

// Joins the handle it is given once it has it: its own (refused).
struct SelfJoin {
    uint32_t handle = 0;
    bool refused = false;
};

void join_self(void* argument) {
    auto& self = *static_cast<SelfJoin*>(argument);
    uint32_t handle;
    while ((handle = __atomic_load_n(&self.handle, __ATOMIC_ACQUIRE)) == 0)
        __builtin_ia32_pause();
    schema::ThreadHandle::Client<rt::RingTransport> client(rt::transport(), handle);
    auto joined = client.join();
    self.refused = joined.is_error() && joined.error().kind == gen::CallErrorKind::Exception &&
                   joined.error().exception.type == schema::ExceptionType::Failed;
}

void block_forever(void*) {
    (void)test::sleep_ns(g_timer, 3600'000'000'000ull);
}

// A plain counter under the runtime's mutex: every increment lands.
// (threads_torture, in make torture, runs every loop longer.)
#ifndef CAPOS_THREADS_ROUNDS
#define CAPOS_THREADS_ROUNDS 1
#endif
constexpr uint64_t rounds = CAPOS_THREADS_ROUNDS;
constexpr uint64_t locked_increments = 3000 * rounds;
rt::Mutex g_mutex;
uint64_t g_locked_counter = 0;

void count_locked(void*) {
    for (uint64_t i = 0; i < locked_increments; ++i) {
        rt::MutexLock lock(g_mutex);
        uint64_t value = g_locked_counter;
        if (i % 64 == 0)
            (void)test::now_ns(g_timer); // sometimes a call while holding it
        g_locked_counter = value + 1;
    }
}

// A one-slot queue between a producer and a consumer (mutex and condition
// variable): every item arrives once, in order.
constexpr uint32_t items = uint32_t(2000 * rounds);
struct Handoff {
    rt::Mutex mutex;
    rt::CondVar changed;
    bool full = false;
    uint32_t item = 0;
    uint64_t sum = 0;
    bool in_order = true;
};

void produce(void* argument) {
    auto& h = *static_cast<Handoff*>(argument);
    for (uint32_t i = 1; i <= items; ++i) {
        rt::MutexLock lock(h.mutex);
        while (h.full)
            h.changed.wait(h.mutex);
        h.item = i;
        h.full = true;
        h.changed.notify_all();
    }
}

void consume(void* argument) {
    auto& h = *static_cast<Handoff*>(argument);
    for (uint32_t i = 1; i <= items; ++i) {
        rt::MutexLock lock(h.mutex);
        while (!h.full)
            h.changed.wait(h.mutex);
        h.in_order = h.in_order && h.item == i;
        h.sum += h.item;
        h.full = false;
        h.changed.notify_all();
    }
}

// Parks on a word nobody unparks: the process ends with it parked.
uint32_t g_never = 0;
void park_forever(void*) {
    (void)rt::park(&g_never, 0);
}

// Threads changing one address space at once: map, unmap, protect,
// reserve, commit and decommit, and map and unmap a MemoryObject, at random
// in one window (the kernel
// interleaves them at its preemption points; each must leave the space
// whole). Errors are expected; the kernel must not fail.
constexpr uint64_t window = 0x200000000000;
// Ranges up to 256 pages: zeroing or walking that many takes longer than the
// kernel's interrupt window (250 µs), so other threads get in mid-operation.
constexpr uint64_t window_pages = 512;
constexpr uint64_t most_pages = 256;
uint32_t g_vm = 0;
uint32_t g_object = 0; // a MemoryObject of 4 pages

void churn(void* argument) {
    test::Random random{reinterpret_cast<uintptr_t>(argument) * 0x9e3779b97f4a7c15ull + 1};
    schema::VirtualMemory::Client<rt::RingTransport> vm(rt::transport(), g_vm);
    schema::MemoryObject::Client<rt::RingTransport> object(rt::transport(), g_object);
    for (uint64_t i = 0; i < 150 * rounds; ++i) {
        uint64_t first = random.below(window_pages);
        uint64_t pages =
            1 + random.below(window_pages - first < most_pages ? window_pages - first : most_pages);
        uint64_t address = window + first * 4096;
        uint64_t length = pages * 4096;
        auto access = random.one_in(2) ? schema::Access::Read : schema::Access::ReadWrite;
        switch (random.below(8)) {
        case 6:
            (void)object.map(address, 0, uint32_t(pages < 4 ? pages : 4), access);
            break;
        case 7:
            (void)object.unmap(address);
            break;
        case 0:
            (void)vm.map(address, length, access);
            break;
        case 1:
            (void)vm.unmap(address, length);
            break;
        case 2:
            (void)vm.protect(address, length, access);
            break;
        case 3:
            (void)vm.reserve(address, length);
            break;
        case 4:
            (void)vm.commit(address, length, access);
            break;
        case 5:
            (void)vm.decommit(address, length);
            break;
        }
    }
}

// Detached threads that end at once: each gives its own stack back.
uint64_t g_finished = 0;
void finish(void*) {
    __atomic_fetch_add(&g_finished, 1, __ATOMIC_RELEASE);
}

// Runs function(n) on four new threads (n = 1 to 4) and on the main thread
// (n = 5) at once, and joins them; false when a thread did not start (the
// others are joined all the same).
constexpr int helpers = 4;
bool run_on_five(void (*function)(void*), size_t stack_size = rt::Thread::default_stack_size) {
    alignas(rt::Thread) unsigned char storage[helpers][sizeof(rt::Thread)];
    rt::Thread* running[helpers] = {};
    bool started = true;
    for (int i = 0; i < helpers; ++i) {
        auto thread =
            rt::Thread::start(function, reinterpret_cast<void*>(uintptr_t(i + 1)), stack_size);
        if (thread.is_error()) {
            started = false;
            break;
        }
        running[i] = new (storage[i]) rt::Thread(std::move(thread.value()));
    }
    function(reinterpret_cast<void*>(uintptr_t(helpers + 1)));
    for (auto* thread : running)
        if (thread) {
            thread->join();
            thread->~Thread();
        }
    return started;
}

abi::Cqe park_sqe(abi::Opcode opcode, uint32_t cap, uint64_t address, uint32_t value,
                  uint64_t timeout_ns) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(opcode);
    sqe.cap = cap;
    sqe.params_addr = address;
    sqe.params_len = value;
    sqe.result_addr = timeout_ns;
    return rt::ring().run(sqe);
}

} // namespace

int main() {
    test::Suite suite("threads");
    g_timer = test::cap_id("timer");
    uint32_t spawner_id = test::cap_id("threads");
    if (!g_timer || !spawner_id)
        return 2;

    {
        Line detail("initialised ");
        detail.hex(t_initialised).add(", zeroed ").hex(t_zeroed).add(", aligned at ");
        detail.hex(reinterpret_cast<uint64_t>(&t_aligned));
        suite.check("the main thread has its TLS block",
                    t_initialised == initial_value && t_zeroed == 0 &&
                        reinterpret_cast<uint64_t>(&t_aligned) % 128 == 0,
                    detail);
    }

    {
        TlsWork work[4] = {{1}, {2}, {3}, {4}};
        bool started = true;
        bool ok = true;
        for (auto& w : work) {
            auto thread = rt::Thread::start(tls_work, &w);
            started = started && thread.is_ok();
            if (thread.is_ok())
                thread.value().join();
        }
        for (auto& w : work)
            ok = ok && w.ok;
        suite.check("four threads each start with the TLS template and keep their own values",
                    started && ok);
        suite.check("the main thread's TLS is untouched by them",
                    t_initialised == initial_value && t_zeroed == 0);
    }

    {
        bool started = run_on_five(count); // the main thread counts too
        Line detail("counted ");
        detail.dec(int64_t(g_counter));
        suite.check("five threads' atomic increments all land (100000)",
                    started && g_counter == (helpers + 1) * increments, detail);
    }

    {
        auto thread = rt::Thread::start(exit_with, reinterpret_cast<void*>(uintptr_t(42)));
        suite.check("join returns the code the thread exited with",
                    thread.is_ok() && thread.value().join() == 42);
    }

    {
        Sleeper sleeper{.ns = 1'000'000'000};
        auto sleeping = rt::Thread::start(sleep_then_mark, &sleeper);
        auto calling = rt::Thread::start(call_many, nullptr);
        bool ok = sleeping.is_ok() && calling.is_ok();
        if (calling.is_ok())
            calling.value().join();
        bool still_asleep = !__atomic_load_n(&sleeper.done, __ATOMIC_ACQUIRE);
        if (sleeping.is_ok())
            sleeping.value().join();
        suite.check("a thread makes 200 calls while another waits in cap_enter",
                    ok && still_asleep && sleeper.done);
    }

    {
        VectorWork work[2] = {{11}, {12}};
        auto first = rt::Thread::start(vector_work, &work[0]);
        auto second = rt::Thread::start(vector_work, &work[1]);
        VectorWork own{13};
        vector_work(&own);
        if (first.is_ok())
            first.value().join();
        if (second.is_ok())
            second.value().join();
        suite.check("three threads keep their own SSE registers through preemption",
                    first.is_ok() && second.is_ok() && work[0].ok && work[1].ok && own.ok);
        // The main thread's patterns are still in the registers here.
        bool clean = false;
        auto fresh = rt::Thread::start(vector_clean, &clean);
        if (fresh.is_ok())
            fresh.value().join();
        suite.check("a new thread's first SSE instruction finds the reset state", clean);
    }

    {
        g_vm = test::cap_id("vm");
        schema::FrameAllocator::Client<rt::RingTransport> frames(rt::transport(),
                                                                 test::cap_id("frames"));
        auto allocated = frames.allocate(4, false);
        g_object = allocated.is_ok() ? allocated.value().memory() : 0;
        bool started = run_on_five(churn, 32 * 1024);
        // Whatever memory they left goes, page by page (reservations stay:
        // they cost nothing), and the space still works.
        schema::VirtualMemory::Client<rt::RingTransport> vm(rt::transport(), g_vm);
        schema::MemoryObject::Client<rt::RingTransport> object(rt::transport(), g_object);
        for (uint64_t page = 0; page < window_pages; ++page) {
            (void)object.unmap(window + page * 4096);
            (void)vm.decommit(window + page * 4096, 4096);
            (void)vm.unmap(window + page * 4096, 4096);
        }
        (void)rt::release(abi::CapId{g_object});
        auto fresh = vm.map(0, 4096, schema::Access::ReadWrite);
        bool works = fresh.is_ok();
        if (works) {
            uint64_t address = fresh.value().address();
            auto* word = reinterpret_cast<volatile uint64_t*>(address);
            *word = 0x1234;
            works = *word == 0x1234 && vm.unmap(address, 4096).is_ok();
        }
        suite.check("five threads map, protect and unmap memory and a MemoryObject in one "
                    "window at once; memory works after",
                    started && g_object != 0 && works);
    }

    {
        // 2,010 stacks of 68 KiB (135 MiB), detached in batches of 30: far
        // beyond the process's 64 MiB unless each is given back.
        constexpr uint64_t batch = 30;
        bool started = true;
        for (uint64_t round = 1; round <= 67 && started; ++round) {
            for (uint64_t i = 0; i < batch && started; ++i)
                started = rt::Thread::start(finish, nullptr).is_ok(); // detached at once
            while (__atomic_load_n(&g_finished, __ATOMIC_ACQUIRE) < round * batch)
                (void)test::sleep_ns(g_timer, 1'000'000);
        }
        Line detail("finished ");
        detail.dec(int64_t(__atomic_load_n(&g_finished, __ATOMIC_ACQUIRE)));
        suite.check("2,010 detached threads come and go within the memory of 64 MiB "
                    "(each gives its stack back)",
                    started, detail);
    }

    schema::ThreadSpawner::Client<rt::RingTransport> spawner(rt::transport(), spawner_id);
    {
        auto unmapped = spawner.spawn(0x400000, 0x100000000000, 0x100000010000, 0);
        suite.check_exception("a stack that is not mapped is refused", unmapped,
                              schema::ExceptionType::InvalidArgument);
        auto outside = spawner.spawn(0x400000, 0x100000000000, 0x900000000000, 0);
        suite.check_exception("a stack beyond user space is refused", outside,
                              schema::ExceptionType::InvalidArgument);
        auto no_entry = spawner.spawn(0, 0x100000000000, 0x100000010000, 0);
        suite.check_exception("entry 0 is refused", no_entry,
                              schema::ExceptionType::InvalidArgument);
        // Big enough for the TLS block and 4 KiB of stack, but read-only.
        schema::VirtualMemory::Client<rt::RingTransport> vm(rt::transport(), test::cap_id("vm"));
        auto mapped = vm.map(0, 16384, schema::Access::ReadWrite);
        uint64_t stack = mapped.is_ok() ? mapped.value().address() : 0;
        bool refused = stack != 0 && vm.protect(stack, 16384, schema::Access::Read).is_ok();
        if (refused) {
            auto read_only = spawner.spawn(0x400000, stack, stack + 16384, 0);
            refused = read_only.is_error() &&
                      read_only.error().kind == gen::CallErrorKind::Exception &&
                      read_only.error().exception.type == schema::ExceptionType::InvalidArgument;
            (void)vm.unmap(stack, 16384);
        }
        suite.check("a read-only stack is refused", refused);
        auto wrapped = spawner.spawn(0x400000, 0x100000000000, 0, 0);
        suite.check_exception("a stack ending at 0 (wrapping) is refused", wrapped,
                              schema::ExceptionType::InvalidArgument);
        auto thread = rt::Thread::start(exit_unmapping_kernel, nullptr);
        suite.check("exitThread asked to unmap kernel memory ends the thread with its code",
                    thread.is_ok() && thread.value().join() == 9);
    }

    {
        SelfJoin self;
        auto thread = rt::Thread::start(join_self, &self);
        if (suite.check("a thread to join itself started", thread.is_ok())) {
            __atomic_store_n(&self.handle, thread.value().handle(), __ATOMIC_RELEASE);
            thread.value().join();
            suite.check("a thread joining itself is refused", self.refused);
        }
    }

    {
        // A second join while one waits: the first submitted without waiting.
        Sleeper sleeper{.ns = 500'000'000};
        auto thread = rt::Thread::start(sleep_then_mark, &sleeper);
        if (suite.check("a thread to join twice started", thread.is_ok())) {
            uint32_t handle = thread.value().handle();
            abi::Sqe sqe{.opcode = uint8_t(abi::Opcode::Call),
                         .flags = abi::SqeInlineParams | abi::SqeInlineResult,
                         .method = 0,
                         .cap = handle,
                         .interface_id = schema::ThreadHandle::interface_id,
                         .params_len = 8};
            uint64_t ticket = rt::ring().submit(sqe);
            rt::ring().flush();
            schema::ThreadHandle::Client<rt::RingTransport> client(rt::transport(), handle);
            auto second = client.join();
            suite.check_exception("a second join while one waits is refused", second,
                                  schema::ExceptionType::Failed);
            abi::Cqe first = rt::ring().wait(ticket);
            suite.check("the first join returns once the thread has ended",
                        first.result == int32_t(abi::CallStatus::OkInline) &&
                            __atomic_load_n(&sleeper.done, __ATOMIC_ACQUIRE));
            thread.value().join();
        }
    }

    {
        bool started = run_on_five(count_locked);
        Line detail("counted ");
        detail.dec(int64_t(g_locked_counter)).add(" of ");
        detail.dec(int64_t((helpers + 1) * locked_increments));
        suite.check("five threads' increments under the mutex all land",
                    started && g_locked_counter == (helpers + 1) * locked_increments, detail);
    }

    {
        Handoff handoff;
        auto producer = rt::Thread::start(produce, &handoff);
        auto consumer = rt::Thread::start(consume, &handoff);
        if (producer.is_ok())
            producer.value().join();
        if (consumer.is_ok())
            consumer.value().join();
        suite.check("items pass one at a time through a condition variable, in order",
                    producer.is_ok() && consumer.is_ok() && handoff.in_order &&
                        handoff.sum == uint64_t(items) * (items + 1) / 2);
    }

    {
        uint32_t park_cap = test::cap_id("park");
        uint32_t word = 7;
        auto address = reinterpret_cast<uint64_t>(&word);
        abi::Cqe cqe = park_sqe(abi::Opcode::Park, park_cap, address, 8, abi::park_no_timeout);
        suite.check_result("park on a word that holds another value returns at once", cqe.result,
                           int32_t(abi::ParkResult::NotExpected));
        cqe = park_sqe(abi::Opcode::Park, park_cap, address, 7, 20'000'000);
        suite.check_result("park times out", cqe.result, int32_t(abi::ParkResult::TimedOut));
        cqe = park_sqe(abi::Opcode::Park, park_cap, 0x100000000000, 0, abi::park_no_timeout);
        suite.check_result("park on an unmapped word", cqe.result, abi::TransportError::BadBuffer);
        cqe = park_sqe(abi::Opcode::Park, park_cap, address + 2, 0, abi::park_no_timeout);
        suite.check_result("park on a misaligned word", cqe.result, abi::TransportError::BadBuffer);
        cqe = park_sqe(abi::Opcode::Unpark, park_cap, 0x100000000000, 1, 0);
        suite.check_result("unpark of an unmapped word", cqe.result,
                           abi::TransportError::BadBuffer);
        cqe = park_sqe(abi::Opcode::Park, g_timer, address, 7, abi::park_no_timeout);
        suite.check_result("park on a capability that is not a ParkSpace", cqe.result,
                           abi::TransportError::WrongInterface);
        bool all_none = true;
        for (int i = 0; i < 10000; ++i)
            all_none = all_none &&
                       park_sqe(abi::Opcode::Unpark, park_cap, address, UINT32_MAX, 0).result == 0;
        suite.check("10000 unparks with nobody parked each wake none", all_none);

        // A park left waiting, then a second from the same thread.
        abi::Sqe first{};
        first.opcode = uint8_t(abi::Opcode::Park);
        first.cap = park_cap;
        first.params_addr = address;
        first.params_len = 7;
        first.result_addr = abi::park_no_timeout;
        uint64_t ticket = rt::ring().submit(first);
        rt::ring().flush();
        cqe = park_sqe(abi::Opcode::Park, park_cap, address, 7, abi::park_no_timeout);
        suite.check_result("a second park while one waits is refused", cqe.result,
                           abi::TransportError::QuotaExceeded);
        cqe = park_sqe(abi::Opcode::Unpark, park_cap, address, 5, 0);
        suite.check_result("unpark wakes the one parked", cqe.result, 1);
        suite.check_result("the waiting park completes, woken", rt::ring().wait(ticket).result,
                           int32_t(abi::ParkResult::Woken));
    }

    {
        // Threads blocked for an hour up to the limit: 64 with the main one
        // (one of them parked).
        auto parked = rt::Thread::start(park_forever, nullptr, 32 * 1024);
        int started = parked.is_ok() ? 1 : 0;
        for (;;) {
            auto thread = rt::Thread::start(block_forever, nullptr, 32 * 1024);
            if (thread.is_error())
                break;
            ++started; // detached (destroyed here): it blocks on
        }
        auto refused = spawner.spawn(0x400000, 0x100000000000, 0x100000010000, 0);
        Line detail("started ");
        detail.dec(started);
        suite.check("63 more threads start, then no more", started == 63, detail);
        suite.check_exception("spawn beyond 64 threads is overloaded", refused,
                              schema::ExceptionType::Overloaded);
    }
    // The process ends with 63 threads blocked in cap_enter.
    return suite.finish();
}
