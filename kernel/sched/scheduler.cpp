#include "kernel/sched/scheduler.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/lib/stage_clock.h"
#include "kernel/mm/heap.h"
#include "kernel/object/process.h"
#include "kernel/platform/cpus.h"

namespace capos::kernel {

namespace {

Thread* g_idle = nullptr;
constinit IntrusiveList<Thread, ReadyLink> g_ready;      // run in this order
constinit IntrusiveList<Thread, SleeperLink> g_sleepers; // blocked with a deadline, unsorted
Thread* g_dead = nullptr;   // exited, its reference dropped once off its stack
uint64_t g_ticks = 0;       // timer ticks since boot
uint64_t g_switched_at = 0; // g_ticks when the running thread's slice began
// Switches to a thread other than idle. Beside the other switch state: a
// counter on another page would cost a page walk per switch under TCG.
uint64_t g_threads_run = 0;
// The thread wake_first put first: when it runs, it goes on with the slice of
// the thread that handed it the CPU (only compared, never dereferenced).
const Thread* g_handed_to = nullptr;
// Preemption points (preemption_point).
constexpr uint64_t interrupt_window_us = 250;
bool g_in_window = false; // a tick now interrupted kernel work
arch::ThreadContext g_boot_context;

[[noreturn]] void idle_loop(void*) {
    for (;;)
        cpu_idle_wait();
}

} // namespace

uint64_t deadline_after_ns(uint64_t ns) {
    uint64_t microseconds = ns / 1000 + (ns % 1000 != 0);
    uint64_t now = uptime_microseconds();
    if (microseconds >= no_deadline - now)
        return no_deadline;
    return now + microseconds;
}

uint64_t Scheduler::threads_run() {
    return __atomic_load_n(&g_threads_run, __ATOMIC_RELAXED);
}

void Scheduler::init() {
    auto idle = Thread::create(nullptr, idle_loop, nullptr);
    if (idle.is_error())
        panic("scheduler: no memory for the idle thread");
    g_idle = idle.release_value().leak();
}

// Every thread that is ready, running or blocked holds one reference, the
// scheduler's: make_ready takes it over, exit_current drops it. Moving a
// thread between the queue, the CPU and the sleeper list changes no count.
void Scheduler::enqueue(Thread* t, bool first) {
    t->m_state = Thread::State::Ready;
    if (first)
        g_ready.push_front(*t);
    else
        g_ready.push_back(*t);
}

void Scheduler::make_ready(RefPtr<Thread> thread) {
    enqueue(thread.leak());
}

void Scheduler::switch_to_next() {
    Thread* previous = running;
    Thread* next = g_ready.pop_front();
    if (!next)
        next = g_idle;
    if (next == previous) {
        previous->m_state = Thread::State::Running;
        return;
    }
    next->m_state = Thread::State::Running;
    running = next;
    stage_clock::Stage stage = stage_clock::current();
    stage_clock::enter(stage_clock::Stage::Switch);
    // A direct handoff passes the slice on: two processes calling each other
    // back and forth share one slice, and the tick still lets every other
    // ready thread in (a flood of calls cannot starve the terminal's thread).
    if (next != g_handed_to)
        g_switched_at = g_ticks;
    if (next != g_idle)
        ++g_threads_run;
    if (previous == g_idle)
        cpu_idle_end();
    g_handed_to = nullptr;
    resched = false;
    arch::set_kernel_stack(next->kernel_stack_top());
    activate_address_space_of(next);
    arch::context_switch(previous ? previous->m_context : g_boot_context, next->m_context);
    // Running again as `previous` (new threads get here through Thread::start).
    stage_clock::enter(stage);
    finish_switch();
}

void Scheduler::finish_switch() {
    if (Thread* dead = g_dead) {
        g_dead = nullptr;
        dead->release_reference();
    }
}

void Scheduler::run() {
    running = nullptr;
    switch_to_next();
    panic("scheduler: the boot context was resumed");
}

void Scheduler::yield() {
    Thread* self = running;
    if (g_ready.empty())
        return;
    if (self != g_idle)
        enqueue(self);
    switch_to_next();
}

bool Scheduler::block(uint64_t deadline_us) {
    Thread* self = running;
    VERIFY(self != g_idle);
    self->m_state = Thread::State::Blocked;
    self->m_woken = false;
    self->m_deadline_us = deadline_us;
    if (deadline_us != no_deadline)
        g_sleepers.push_front(*self);
    switch_to_next();
    return self->m_woken;
}

void Scheduler::wake(Thread* thread) {
    if (thread->m_state != Thread::State::Blocked)
        return;
    unblock(thread);
    enqueue(thread);
}

void Scheduler::wake_first(Thread* thread) {
    if (thread->m_state != Thread::State::Blocked)
        return;
    unblock(thread);
    enqueue(thread, true);
    g_handed_to = thread;
}

void Scheduler::unblock(Thread* thread) {
    // Off the sleeper list, if it is on it.
    if (g_sleepers.contains(*thread))
        g_sleepers.remove(*thread);
    thread->m_woken = true;
}

void Scheduler::exit_current() {
    Thread* self = running;
    VERIFY(self != g_idle);
    self->m_state = Thread::State::Dead;
    VERIFY(g_dead == nullptr);
    g_dead = self; // the running reference, dropped by whoever runs next
    switch_to_next();
    panic("scheduler: a dead thread was resumed");
}

void Scheduler::tick() {
    uint64_t now = uptime_microseconds();
    for (auto it = g_sleepers.begin(); it != g_sleepers.end();) {
        Thread& sleeper = *it;
        if (sleeper.m_deadline_us > now) {
            ++it;
            continue;
        }
        it = g_sleepers.erase(it);
        sleeper.m_woken = false;
        enqueue(&sleeper);
    }
    // A thread keeps the CPU until a whole tick period has passed since its
    // slice began (between one and two periods): one that was just given
    // the CPU is not preempted by the tick that happens to fall right after.
    // A thread handed the CPU directly (a server receiving a call) goes on
    // with the slice of the one that handed it over.
    ++g_ticks;
    if (!running || g_ready.empty() || (running != g_idle && g_ticks - g_switched_at < 2))
        return;
    if (g_in_window) {
        // Kernel work at a preemption point: it gives up the CPU there,
        // where it can save what it must.
        resched = true;
        return;
    }
    yield();
}

void Scheduler::preemption_point_due() {
    if (!running)
        return;
    uint64_t now = arch::read_cycle_counter();
    if (window_cycles == 0)
        window_cycles = interrupt_window_us * cycles_per_microsecond();
    if (!resched && now - window_at < window_cycles)
        return;
    g_in_window = true;
    arch::open_interrupt_window();
    g_in_window = false;
    window_at = arch::read_cycle_counter();
    if (!resched || g_ready.empty())
        return;
    resched = false;
    // The call's scratch goes to the heap while other threads run; without
    // the memory for that, this thread keeps the CPU for now.
    CallScratch live = call_scratch;
    size_t total = live.bytes[0] + live.bytes[1];
    void* saved = nullptr;
    if (total != 0) {
        auto memory = heap_allocate(total);
        if (memory.is_error())
            return;
        saved = memory.value();
        __builtin_memcpy(saved, live.parts[0], live.bytes[0]);
        __builtin_memcpy(static_cast<uint8_t*>(saved) + live.bytes[0], live.parts[1],
                         live.bytes[1]);
    }
    set_call_scratch_use(0, 0);
    yield();
    if (saved) {
        __builtin_memcpy(live.parts[0], saved, live.bytes[0]);
        __builtin_memcpy(live.parts[1], static_cast<uint8_t*>(saved) + live.bytes[0],
                         live.bytes[1]);
        heap_free(saved);
    }
    set_call_scratch_use(live.bytes[0], live.bytes[1]);
}

void arch::handle_timer_tick() {
    Scheduler::tick();
}

} // namespace capos::kernel
