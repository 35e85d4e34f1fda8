#include "kernel/sched/scheduler.h"
#include "abi/user_layout.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/lib/stage_clock.h"
#include "kernel/mm/heap.h"
#include "kernel/object/process.h"
#include "kernel/platform/cpus.h"
#include "lib/sched/fair.h"

namespace capos::kernel {

namespace {

constinit IntrusiveList<Thread, SleeperLink>
    g_sleepers CAPOS_GUARDED_BY(g_kernel_lock); // blocked with a deadline, unsorted
// No sleeper is due before this uptime (a bound, not always the earliest:
// a sleeper woken early leaves it): written under the kernel lock held
// exclusively, read by ticks under it held shared.
uint64_t g_sleepers_due = no_deadline;
// Preemption points (preemption_point).
constexpr uint64_t interrupt_window_us = 250;

// The idle thread: gives up the kernel lock it was started with (the lock
// goes with the CPU, and an idle CPU holds none), then halts until an
// interrupt, whose handler switches to whatever it made ready.
[[noreturn]] void idle_loop(void*) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    g_kernel_lock.leave();
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

uint64_t Scheduler::threads_run(uint32_t cpu) {
    g_kernel_lock.assert_held();
    VERIFY(cpu < max_cpus);
    return s_cpus[cpu] ? __atomic_load_n(&s_cpus[cpu]->threads_run, __ATOMIC_RELAXED) : 0;
}

const Thread* Scheduler::running_on(uint32_t cpu) {
    g_kernel_lock.assert_held();
    VERIFY(cpu < max_cpus);
    const CpuSchedule* c = s_cpus[cpu];
    return c && c->joined && c->running != c->idle ? c->running : nullptr;
}

void Scheduler::boot_cpu_init() {
    g_kernel_lock.assert_held();
    s_cpus[0] = &s_boot_cpu;
    arch::set_cpu_local(&s_boot_cpu);
}

void Scheduler::init() {
    g_kernel_lock.assert_held();
    VERIFY(cpu_count() <= max_cpus);
    for (size_t i = 0; i < cpu_count(); ++i) {
        if (!cpu_record(i).online)
            continue;
        if (i != 0) {
            auto memory = heap_allocate(sizeof(CpuSchedule));
            if (memory.is_error())
                panic("scheduler: no memory for CPU {}", i);
            s_cpus[i] = new (memory.value()) CpuSchedule();
        }
        auto idle = Thread::create(nullptr, idle_loop, nullptr);
        if (idle.is_error())
            panic("scheduler: no memory for the idle threads");
        s_cpus[i]->idle = idle.release_value().leak();
        s_cpus[i]->idle->m_cpu = uint32_t(i);
    }
    arch::set_interrupt_handler(arch::ipi_vector_reschedule, on_reschedule);
}

// Every thread that is ready, running or blocked holds one reference, the
// scheduler's: make_ready takes it over, exit_current drops it. Moving a
// thread between a queue, a CPU and the sleeper list changes no count.
void Scheduler::enqueue(Thread* t, uint32_t cpu) {
    t->m_state = Thread::State::Ready;
    t->m_cpu = cpu;
    CpuSchedule& target = schedule_of(cpu);
    target.ready.insert_sorted(
        *t, [](const Thread& a, const Thread& b) { return a.m_vtime < b.m_vtime; });
    // An idle CPU is woken to run it (this one too: the interrupt that made
    // it ready returns to the idle loop, and the reschedule follows at once).
    if (target.joined && target.running == target.idle) {
        if (cpu == arch::current_cpu_index())
            arch::send_ipi_self(arch::ipi_vector_reschedule);
        else
            (void)arch::send_ipi(cpu_record(cpu).interrupt_id, arch::ipi_vector_reschedule);
    }
}

// A thread that was not on `cpu`'s queue or CPU (new, woken, taken from
// another CPU) joins it: placed by the lag it brings against that CPU's floor.
void Scheduler::arrive(Thread* t, uint32_t cpu) {
    t->m_vtime = sched::place(t->m_lag, schedule_of(cpu).floor);
    enqueue(t, cpu);
}

// Charges the running thread for the cycles since it was last charged (an
// idle CPU's time goes to nobody).
void Scheduler::charge(CpuSchedule& self, uint64_t now) {
    Thread* t = self.running;
    uint64_t cycles = now - self.run_started;
    self.run_started = now;
    if (!t || t == self.idle)
        return;
    t->m_runtime_cycles += cycles;
    t->m_vtime = sched::charge(t->m_vtime, cycles, t->m_weight_factor);
}

// At each tick: the floor follows the smallest virtual time here.
void Scheduler::advance_floor(CpuSchedule& self) {
    uint64_t smallest = UINT64_MAX;
    if (self.running && self.running != self.idle)
        smallest = self.running->m_vtime;
    if (Thread* first = self.ready.front())
        smallest = first->m_vtime < smallest ? first->m_vtime : smallest;
    if (smallest != UINT64_MAX)
        self.floor = sched::advance_floor(self.floor, smallest);
}

int64_t Scheduler::max_lag() {
    if (s_max_lag == 0)
        s_max_lag = int64_t(cycles_per_microsecond() * max_lag_us);
    return s_max_lag;
}

uint64_t Scheduler::account_running() {
    g_kernel_lock.assert_held();
    CpuSchedule& self = here();
    charge(self, arch::read_cycle_counter());
    return cpu_time_ns(*self.running);
}

void Scheduler::set_weight(Thread& thread, uint32_t weight) {
    g_kernel_lock.assert_held();
    VERIFY(sched::weight_valid(weight));
    thread.m_weight_factor = sched::weight_factor(weight);
}

uint64_t Scheduler::cpu_time_ns(const Thread& thread) {
    g_kernel_lock.assert_held();
    return clock::g_to_nanoseconds.apply(thread.m_runtime_cycles);
}

void Scheduler::set_fs_base(uint64_t base) {
    g_kernel_lock.assert_held();
    CpuSchedule& self = here();
    VERIFY(self.running->m_process && base < abi::user_limit);
    self.running->m_fs_base = base;
    arch::set_user_fs_base(base);
    self.fs_base = base;
}

CpuSchedule& Scheduler::schedule_of(uint32_t cpu) {
    // This CPU's through its per-CPU area: the table is on a page of its own.
    if (cpu == arch::current_cpu_index())
        return here();
    VERIFY(cpu < max_cpus && s_cpus[cpu]);
    return *s_cpus[cpu];
}

bool Scheduler::idle_now(uint32_t cpu) {
    const CpuSchedule* c = cpu == arch::current_cpu_index() ? &here() : s_cpus[cpu];
    return c && c->joined && c->running == c->idle && c->ready.empty();
}

void Scheduler::place(Thread* t) {
    uint32_t last = t->m_cpu;
    if (!idle_now(last)) {
        for (uint32_t i = 0; i < cpu_count(); ++i) {
            if (idle_now(i)) {
                last = i;
                break;
            }
        }
    }
    arrive(t, last);
}

// A ready thread from the longest queue of another CPU, for `cpu`: the last
// one queued that may move (the first may be a handoff's; a pinned one's
// call has its scratch on its CPU).
Thread* Scheduler::steal(uint32_t cpu) {
    size_t longest = 0;
    uint32_t victim = cpu;
    for (uint32_t i = 0; i < cpu_count(); ++i) {
        if (i != cpu && s_cpus[i] && s_cpus[i]->ready.size() > longest) {
            longest = s_cpus[i]->ready.size();
            victim = i;
        }
    }
    if (longest == 0)
        return nullptr;
    auto& queue = s_cpus[victim]->ready;
    Thread* t = nullptr;
    for (Thread& candidate : queue) {
        if (!candidate.m_pinned)
            t = &candidate;
    }
    if (!t)
        return nullptr;
    queue.remove(*t);
    t->m_vtime =
        sched::place(sched::lag(t->m_vtime, s_cpus[victim]->floor, max_lag()), s_cpus[cpu]->floor);
    t->m_cpu = cpu;
    return t;
}

void Scheduler::make_ready(RefPtr<Thread> thread) {
    g_kernel_lock.assert_held();
    place(thread.leak());
}

void Scheduler::switch_to_next() {
    uint32_t cpu = arch::current_cpu_index();
    CpuSchedule& self = here();
    charge(self, arch::read_cycle_counter());
    Thread* next = self.ready.pop_front();
    if (!next)
        next = steal(cpu);
    if (!next)
        next = self.idle;
    switch_to(self, next);
}

bool Scheduler::wake_first_here(Thread* thread) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    uint32_t cpu = arch::current_cpu_index();
    if (thread->m_cpu != cpu || thread->m_state != Thread::State::Blocked ||
        thread->m_deadline_us != no_deadline)
        return false;
    // wake_first's work (not on the sleeper list: no deadline).
    CpuSchedule& self = here_unlocked();
    thread->m_woken = true;
    thread->m_vtime = sched::place(thread->m_lag, self.floor);
    thread->m_state = Thread::State::Ready;
    self.ready.push_front(*thread);
    self.handed_to = thread;
    return true;
}

void Scheduler::block_here() CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    CpuSchedule& self = here_unlocked();
    Thread* running = self.running;
    VERIFY(running != self.idle && g_kernel_lock.shared_here());
    running->m_state = Thread::State::Blocked;
    running->m_woken = false;
    running->m_deadline_us = no_deadline;
    charge(self, arch::read_cycle_counter());
    Thread* next = self.ready.pop_front();
    switch_to(self, next ? next : self.idle);
}

void Scheduler::switch_to(CpuSchedule& self, Thread* next) {
    uint32_t cpu = arch::current_cpu_index();
    Thread* previous = self.running;
    if (next == previous) {
        previous->m_state = Thread::State::Running;
        return;
    }
    next->m_state = Thread::State::Running;
    next->m_cpu = cpu;
    // A thread leaving the CPU for good takes its lag (one going back on the
    // queue keeps its place there).
    if (previous && previous->m_state != Thread::State::Ready)
        previous->m_lag = sched::lag(previous->m_vtime, self.floor, max_lag());
    self.running = next;
    stage_clock::Stage stage = stage_clock::current();
    stage_clock::enter(stage_clock::Stage::Switch);
    // A direct handoff passes the slice on: two processes calling each other
    // back and forth share one slice, and the tick still lets every other
    // ready thread in (a flood of calls cannot starve the terminal's thread).
    if (next != self.handed_to)
        self.switched_at = self.ticks;
    if (next != self.idle)
        __atomic_store_n(&self.threads_run, self.threads_run + 1, __ATOMIC_RELAXED);
    if (previous == self.idle) {
        cpu_idle_end();
        arch::timer_resume(); // an idle CPU other than the boot CPU stops its tick
    }
    self.handed_to = nullptr;
    self.resched = false;
    // The user registers go with the thread that uses them (the trap is off
    // while it runs); the kernel does not touch them until finish_switch.
    if (previous && previous->m_uses_user_state)
        arch::user_state_save(previous->m_user_state);
    arch::set_kernel_stack(next->kernel_stack_top());
    // The thread pointer: loaded only when it differs (every main thread's
    // is at one address, abi/user_layout.h).
    if (next->m_process && next->m_fs_base != self.fs_base) {
        arch::set_user_fs_base(next->m_fs_base);
        self.fs_base = next->m_fs_base;
    }
    activate_address_space_of(next);
    if (previous)
        previous->m_left_shared = g_kernel_lock.shared_here();
    arch::context_switch(previous ? previous->m_context : self.boot_context, next->m_context);
    // Running again as `previous` (new threads get here through
    // Thread::start), maybe on another CPU.
    stage_clock::enter(stage);
    finish_switch();
}

void Scheduler::finish_switch() {
    CpuSchedule& self = here_unlocked();
    // The lock in the mode this thread held it when it left (a new thread:
    // exclusively).
    g_kernel_lock.convert_here(self.running->m_left_shared);
    if (Thread* dead = self.dead) {
        self.dead = nullptr;
        dead->release_reference();
    }
    // A thread holding the lock shared switches away only with nothing left
    // for the exclusive part (what it dropped above, switched back to, is
    // destroyed by its own exclusive part): nothing is left behind.
    VERIFY(g_kernel_lock.shared_here() || !KernelLock::deferred_here());
    // Nothing to do for a kernel thread, nor (the common case) for a thread
    // that has not used the user registers while the trap is armed and they
    // hold only reset values.
    Thread* running = self.running;
    if (running->m_user_state &&
        (running->m_uses_user_state || !self.user_state_trapping || self.user_state_process != 0))
        switch_user_state(self, running);
}

void Scheduler::switch_user_state(CpuSchedule& self, Thread* running) {
    if (running->m_uses_user_state) {
        load_user_state(self, running);
        return;
    }
    // A thread that has not used the registers runs with the trap armed. The
    // registers must not hold another process's values even behind the trap
    // (a CPU may read them speculatively before it traps: "LazyFP").
    if (self.user_state_process != 0 && self.user_state_process != running->m_process->id()) {
        if (self.user_state_trapping) {
            arch::user_state_trap(false);
            self.user_state_trapping = false;
        }
        arch::user_state_reset();
        self.user_state_thread = nullptr;
        self.user_state_process = 0;
    }
    if (!self.user_state_trapping) {
        arch::user_state_trap(true);
        self.user_state_trapping = true;
    }
}

// Makes the registers `thread`'s, with the trap off. They still are if it was
// the last loaded here and was not loaded anywhere else since (where it may
// have changed them).
void Scheduler::load_user_state(CpuSchedule& self, Thread* thread) {
    uint32_t cpu = arch::current_cpu_index();
    if (self.user_state_trapping) {
        arch::user_state_trap(false);
        self.user_state_trapping = false;
    }
    if (self.user_state_thread != thread || thread->m_user_state_cpu != cpu) {
        arch::user_state_load(thread->m_user_state);
        self.user_state_thread = thread;
        self.user_state_process = thread->m_process->id();
        thread->m_user_state_cpu = cpu;
    }
}

void Scheduler::user_state_first_use() {
    g_kernel_lock.assert_held();
    CpuSchedule& self = here();
    Thread* running = self.running;
    VERIFY(running->m_user_state);
    running->m_uses_user_state = true;
    load_user_state(self, running);
}

void Scheduler::forget_user_state(const Thread* thread) {
    g_kernel_lock.assert_held();
    uint32_t cpu = thread->m_user_state_cpu;
    if (cpu < max_cpus && s_cpus[cpu] && s_cpus[cpu]->user_state_thread == thread)
        s_cpus[cpu]->user_state_thread = nullptr;
}

void Scheduler::run() {
    g_kernel_lock.assert_held();
    uint32_t cpu = arch::current_cpu_index();
    VERIFY(cpu < max_cpus && s_cpus[cpu] && s_cpus[cpu]->idle);
    arch::set_cpu_local(s_cpus[cpu]);
    CpuSchedule& self = here();
    self.running = nullptr;
    self.joined = true;
    self.run_started = arch::read_cycle_counter();
    if (cpu == 0) {
        // The others wait for this (cpus.cpp) halted: wake them.
        __atomic_store_n(&s_started, true, __ATOMIC_RELEASE);
        for (uint32_t i = 1; i < cpu_count(); ++i) {
            if (s_cpus[i])
                (void)arch::send_ipi(cpu_record(i).interrupt_id, arch::ipi_vector_reschedule);
        }
    }
    switch_to_next();
    panic("scheduler: the boot context was resumed");
}

void Scheduler::yield() {
    g_kernel_lock.assert_held();
    CpuSchedule& self = here();
    Thread* running = self.running;
    if (self.ready.empty() && running != self.idle)
        return;
    if (running != self.idle) {
        charge(self, arch::read_cycle_counter()); // its place in the queue is by virtual time
        enqueue(running, arch::current_cpu_index());
    }
    switch_to_next();
}

bool Scheduler::block(uint64_t deadline_us) {
    g_kernel_lock.assert_held();
    CpuSchedule& self = here();
    Thread* running = self.running;
    VERIFY(running != self.idle);
    running->m_state = Thread::State::Blocked;
    running->m_woken = false;
    running->m_deadline_us = deadline_us;
    if (deadline_us != no_deadline) {
        g_sleepers.push_front(*running);
        if (deadline_us < g_sleepers_due)
            __atomic_store_n(&g_sleepers_due, deadline_us, __ATOMIC_RELAXED);
    }
    switch_to_next();
    return running->m_woken;
}

void Scheduler::wake(Thread* thread) {
    g_kernel_lock.assert_held();
    if (thread->m_state != Thread::State::Blocked)
        return;
    unblock(thread);
    place(thread);
}

void Scheduler::wake_first(Thread* thread) {
    g_kernel_lock.assert_held();
    if (thread->m_state != Thread::State::Blocked)
        return;
    unblock(thread);
    // enqueue's work for the front of this CPU's queue, inline (the IPC path).
    CpuSchedule& self = here();
    thread->m_vtime = sched::place(thread->m_lag, self.floor);
    thread->m_state = Thread::State::Ready;
    thread->m_cpu = arch::current_cpu_index();
    self.ready.push_front(*thread);
    self.handed_to = thread;
}

void Scheduler::interrupt(Thread* thread) {
    g_kernel_lock.assert_held();
    uint32_t cpu = thread->m_cpu;
    if (thread->m_state == Thread::State::Running && cpu != arch::current_cpu_index())
        (void)arch::send_ipi(cpu_record(cpu).interrupt_id, arch::ipi_vector_reschedule);
}

void Scheduler::unblock(Thread* thread) {
    // Off the sleeper list, if it is on it.
    if (g_sleepers.contains(*thread))
        g_sleepers.remove(*thread);
    thread->m_woken = true;
}

void Scheduler::exit_current() {
    g_kernel_lock.assert_held();
    CpuSchedule& self = here();
    Thread* running = self.running;
    VERIFY(running != self.idle);
    running->m_state = Thread::State::Dead;
    VERIFY(self.dead == nullptr);
    self.dead = running; // the running reference, dropped by whoever runs next here
    switch_to_next();
    panic("scheduler: a dead thread was resumed");
}

void Scheduler::tick() {
    g_kernel_lock.assert_held();
    uint64_t now = uptime_microseconds();
    uint64_t due = no_deadline;
    for (auto it = g_sleepers.begin(); it != g_sleepers.end();) {
        Thread& sleeper = *it;
        if (sleeper.m_deadline_us > now) {
            due = sleeper.m_deadline_us < due ? sleeper.m_deadline_us : due;
            ++it;
            continue;
        }
        it = g_sleepers.erase(it);
        sleeper.m_woken = false;
        place(&sleeper);
    }
    __atomic_store_n(&g_sleepers_due, due, __ATOMIC_RELAXED);
    // A thread keeps the CPU until a whole tick period has passed since its
    // slice began (between one and two periods): one that was just given
    // the CPU is not preempted by the tick that happens to fall right after.
    // A thread handed the CPU directly (a server receiving a call) goes on
    // with the slice of the one that handed it over. Then it gives way to
    // the first ready thread unless it is still behind that one in virtual
    // time (lib/sched/fair.h).
    CpuSchedule& self = here();
    ++self.ticks;
    if (!self.running)
        return;
    if (self.running == self.idle) {
        // Work may wait on a busy CPU's queue.
        yield();
        return;
    }
    charge(self, arch::read_cycle_counter());
    advance_floor(self);
    // Push balancing: idle CPUs other than this one have no tick of their
    // own to look for work with; one is woken to take some from here.
    if (!self.ready.empty())
        wake_an_idle_cpu();
    if (!slice_over(self))
        return;
    if (self.in_window) {
        // Kernel work at a preemption point: it gives up the CPU there,
        // where it can save what it must.
        self.resched = true;
        return;
    }
    yield();
}

bool Scheduler::slice_over(CpuSchedule& self) {
    return !self.ready.empty() && self.ticks - self.switched_at >= 2 &&
           sched::should_yield(self.running->m_vtime, self.ready.front()->m_vtime);
}

// tick()'s work for a CPU running a user thread when no sleeper is due. It
// touches this CPU's own queue, its running thread and the one yield()
// switches to (with a thread ready here it takes none from other CPUs),
// which no other CPU touches while this one holds the lock shared (as in
// block_here).
arch::SharedTick Scheduler::tick_shared() CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    CpuSchedule& self = here_unlocked();
    Thread* running = self.running;
    if (!running || running == self.idle ||
        __atomic_load_n(&g_sleepers_due, __ATOMIC_RELAXED) <= uptime_microseconds())
        return arch::SharedTick::Declined;
    ++self.ticks;
    charge(self, arch::read_cycle_counter());
    advance_floor(self);
    if (!self.ready.empty()) {
        wake_an_idle_cpu();
        if (slice_over(self))
            yield(); // comes back holding the lock shared
    }
    // The return to user mode ends a thread whose process is ending, and
    // destroys what a thread switched from left.
    if (running->m_process->ending() || KernelLock::deferred_here())
        return arch::SharedTick::ReturnExclusive;
    return arch::SharedTick::Done;
}

arch::SharedTick arch::handle_timer_tick_shared() {
    g_kernel_lock.assert_shared(); // the interrupt's entry took it so
    return Scheduler::tick_shared();
}

// Looks only at which CPUs halt in their idle loops (a hint: one that just
// woke takes the interrupt as a look at its queue), so a tick under the lock
// held shared does it too.
void Scheduler::wake_an_idle_cpu() {
    uint32_t self = arch::current_cpu_index();
    for (uint32_t i = 0; i < cpu_count(); ++i) {
        if (i != self && cpu_halted_idle(cpu_record(i))) {
            (void)arch::send_ipi(cpu_record(i).interrupt_id, arch::ipi_vector_reschedule);
            return;
        }
    }
}

// Another CPU queued work here while this one was idle.
void Scheduler::on_reschedule(uint8_t) {
    g_kernel_lock.assert_held();
    if (!arch::cpu_local())
        return; // a CPU that has not joined yet (it looks at started())
    CpuSchedule& self = here();
    if (self.joined && self.running == self.idle)
        yield();
}

void Scheduler::preemption_point_due() {
    CpuSchedule& self = here();
    if (!self.running)
        return;
    uint64_t now = arch::read_cycle_counter();
    if (window_cycles == 0)
        window_cycles = interrupt_window_us * cycles_per_microsecond();
    if (!self.resched && now - window_at < window_cycles)
        return;
    self.in_window = true;
    arch::open_interrupt_window();
    self.in_window = false;
    window_at = arch::read_cycle_counter();
    if (!self.resched || self.ready.empty())
        return;
    self.resched = false;
    // The call's scratch goes to the heap while other threads run; without
    // the memory for that, this thread keeps the CPU for now.
    CallScratch live = self.call_scratch;
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
    Thread* running = self.running;
    running->m_pinned = true;
    yield();
    running->m_pinned = false;
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
