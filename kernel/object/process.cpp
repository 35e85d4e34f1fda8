#include "kernel/object/process.h"
#include "abi/capset.h"
#include "abi/user_layout.h"
#include "kernel/ipc/endpoint.h"
#include "kernel/ipc/timed_answer.h"
#include "kernel/lib/log.h"
#include "kernel/lib/stage_clock.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"
#include "lib/args/args_block.h"
#include "lib/elf/elf.h"
#include "lib/elf/tls_layout.h"
#include "schema/capos.capnp.capos.h"

namespace capos::kernel {

namespace {

uint32_t g_next_process_id = 1;

Access access_of(ElfPageAccess access) {
    switch (access) {
    case ElfPageAccess::Read:
        return Access::Read;
    case ElfPageAccess::ReadWrite:
        return Access::ReadWrite;
    case ElfPageAccess::ReadExecute:
        return Access::ReadExecute;
    }
    return Access::Read;
}

// Every user thread's first instructions in the kernel.
[[noreturn]] void user_thread_entry(void* argument) {
    auto* thread = static_cast<Thread*>(argument);
    {
        g_kernel_lock.assert_held();      // a new thread starts with the lock, as after any switch
        Process::end_current_if_killed(); // its process may be ending already
    }
    arch::UserEntry entry{
        .instruction_pointer = thread->user_entry(),
        .stack_pointer = thread->user_stack(),
        .arguments = {abi::thread_ring_address(thread->slot()), thread->user_argument(),
                      abi::user_capset_address},
    };
    arch::enter_user_mode(entry, thread->kernel_stack_top());
}

} // namespace

const char* to_string(SpawnError error) {
    switch (error) {
    case SpawnError::OutOfMemory:
        return "out of memory";
    case SpawnError::BadElf:
        return "not a loadable program";
    case SpawnError::NameTooLong:
        return "name too long";
    case SpawnError::TooManyGrants:
        return "too many capabilities granted";
    case SpawnError::TooManyThreads:
        return "too many threads";
    case SpawnError::BadStack:
        return "stack too small or not writable";
    case SpawnError::Ending:
        return "process ending";
    }
    return "unknown spawn error";
}

Result<RefPtr<Process>, SpawnError> Process::create(std::string_view name,
                                                    const ProcessLimits& limits) {
    g_kernel_lock.assert_held();
    VERIFY(limits.within_maximums());
    if (name.size() > max_name_length)
        return Err{SpawnError::NameTooLong};
    RefPtr<FrameLedger> ledger = FrameLedger::create(limits.frames);
    if (!ledger)
        return Err{SpawnError::OutOfMemory};
    auto tables = PageTables::create_address_space(kernel_page_tables(), *ledger);
    if (tables.is_error())
        return Err{SpawnError::OutOfMemory};
    // The process and its capability slots in one allocation, the process at
    // the start of a page: its fields and its first slots (the capabilities it
    // was started with, which its calls name most) share that page. Every page
    // the kernel touches after an address-space switch costs QEMU a refill
    // (docs/performance.md).
    using Slot = ProcessCapTable::Slot;
    static_assert(sizeof(Process) < page_size, "the process's fields must fit one page");
    constexpr size_t slots_offset =
        (sizeof(Process) + alignof(Slot) - 1) / alignof(Slot) * alignof(Slot);
    auto memory = heap_allocate(slots_offset + sizeof(Slot) * limits.capability_slots, page_size);
    if (memory.is_error()) {
        (void)tables.value().destroy_address_space();
        return Err{SpawnError::OutOfMemory};
    }
    auto* slot_array =
        reinterpret_cast<Slot*>(static_cast<std::byte*>(memory.value()) + slots_offset);
    for (size_t i = 0; i < limits.capability_slots; ++i)
        new (&slot_array[i]) ProcessCapTable::Slot();
    auto* process = new (memory.value()) Process(
        tables.value(), std::move(ledger), std::span(slot_array, limits.capability_slots), limits);
    process->m_slots = slot_array;
    process->m_id = g_next_process_id++;
    s_all.push_back(*process);
    __builtin_memcpy(process->m_name, name.data(), name.size());
    process->m_name_length = name.size();
    return RefPtr<Process>::adopt(process);
}

Result<void, SpawnError> Process::load(std::span<const uint8_t> elf) {
    auto plan = ElfLoadPlan::create(elf, {abi::user_image_base, abi::user_map_base});
    if (plan.is_error()) {
        log_error("process {}: {}: {}", m_id, name(), to_string(plan.error()));
        return Err{SpawnError::BadElf};
    }
    for (const ElfPageRun& run : plan.value().page_runs()) {
        if (m_space.map_fixed(run.first_page, run.page_count, access_of(run.access)).is_error())
            return Err{SpawnError::OutOfMemory};
    }
    for (const ElfCopy& copy : plan.value().copies()) {
        // Page by page through the direct map: the frames need not be contiguous.
        uint64_t done = 0;
        while (done < copy.length) {
            uint64_t virt = copy.destination + done;
            uint64_t chunk = page_size - (virt % page_size);
            if (chunk > copy.length - done)
                chunk = copy.length - done;
            auto translation = page_tables().translate(virt);
            VERIFY(translation.has_value()); // the plan guarantees it is mapped
            __builtin_memcpy(phys_to_ptr<void>(translation->phys),
                             elf.data() + copy.file_offset + done, chunk);
            done += chunk;
            Scheduler::preemption_point();
        }
    }
    m_entry = plan.value().entry();
    m_tls = plan.value().tls();
    if (m_tls && m_tls->memory_size > elf::max_tls_size) {
        log_error("process {}: {}: TLS block of {} bytes (at most {})", m_id, name(),
                  m_tls->memory_size, elf::max_tls_size);
        return Err{SpawnError::BadElf};
    }

    auto stack = m_space.map_fixed(abi::user_stack_top - abi::user_stack_initial_size,
                                   abi::user_stack_initial_size / page_size, Access::ReadWrite);
    auto capset = m_space.map_fixed(abi::user_capset_address, 1, Access::Read);
    if (stack.is_error() || capset.is_error())
        return Err{SpawnError::OutOfMemory};

    m_capset = phys_to_ptr<abi::CapSetPage>(capset.value());
    m_capset->header = {abi::capset_magic, abi::capset_version, 0, 0};
    set_arguments({});
    return {};
}

void Process::set_arguments(std::span<const std::string_view> args) {
    g_kernel_lock.assert_held();
    VERIFY((m_threads.empty() || m_prepared_thread) && args::fits(args)); // not started
    auto block = page_tables().translate(abi::user_args_address);
    VERIFY(block.has_value()); // the top page of the stack, mapped by load()
    args::write(args::Block(phys_to_ptr<uint8_t>(block->phys), abi::args_block_size), args);
}

Result<abi::CapId, SpawnError> Process::grant(RefPtr<KernelObject> object, uint64_t interface_id,
                                              std::string_view name, CapFlags flags) {
    g_kernel_lock.assert_held();
    VERIFY(m_capset != nullptr);
    uint32_t index = m_capset->header.count;
    if (index >= abi::capset_max_entries || name.size() > abi::capset_name_max)
        return Err{SpawnError::TooManyGrants};
    auto id = m_capabilities.insert(std::move(object), interface_id, flags);
    if (id.is_error())
        return Err{SpawnError::TooManyGrants};
    abi::CapSetEntry& entry = m_capset->entries[index];
    entry.cap_id = id.value().raw;
    entry.interface_id = interface_id;
    __builtin_memcpy(entry.name, name.data(), name.size());
    entry.name[name.size()] = '\0';
    m_capset->header.count = index + 1;
    return id.value();
}

Result<void, SpawnError> Process::prepare_start() {
    g_kernel_lock.assert_held();
    VERIFY(!m_prepared_thread && m_threads.empty());
    // The main thread's TLS block lies below the arguments block, its stack
    // below that (the initial stack is mapped).
    auto tls =
        lay_out_tls(abi::user_stack_top - abi::user_stack_initial_size, abi::user_args_address);
    if (!tls)
        return Err{SpawnError::OutOfMemory};
    auto thread = TRY(create_thread(m_entry, tls->first, m_id, tls->second));
    m_prepared_thread = thread.leak();
    return {};
}

void Process::start() {
    g_kernel_lock.assert_held();
    VERIFY(m_prepared_thread);
    // Each started thread keeps its process alive (Thread::destroy drops it).
    add_reference();
    m_prepared_thread->m_holds_process = true;
    Scheduler::make_ready(RefPtr<Thread>::adopt(std::exchange(m_prepared_thread, nullptr)));
}

Result<RefPtr<Thread>, SpawnError> Process::create_thread(uint64_t entry, uint64_t stack_pointer,
                                                          uint64_t argument, uint64_t fs_base) {
    g_kernel_lock.assert_held();
    if (ending() || has_exited())
        return Err{SpawnError::Ending};
    if (m_thread_slots == ~uint64_t{0})
        return Err{SpawnError::TooManyThreads};
    static_assert(abi::max_threads == 64, "one bit of m_thread_slots per slot");
    uint32_t slot = uint32_t(__builtin_ctzll(~m_thread_slots));
    auto created = Thread::create(this, user_thread_entry, nullptr);
    if (created.is_error())
        return Err{SpawnError::OutOfMemory};
    RefPtr<Thread> thread = created.release_value();
    auto ring = m_space.map_fixed(abi::thread_ring_address(slot), 1, Access::ReadWrite);
    if (ring.is_error())
        return Err{SpawnError::OutOfMemory};
    auto* page = phys_to_ptr<abi::RingPage>(ring.value());
    page->header.sq_entries = abi::ring_sq_entries;
    page->header.cq_entries = abi::ring_cq_entries;
    thread->ring().page = page;
    thread->m_argument = thread.get();
    thread->m_slot = slot;
    thread->m_user_entry = entry;
    thread->m_user_stack = stack_pointer;
    thread->m_user_argument = argument;
    thread->m_fs_base = fs_base;
    m_thread_slots |= uint64_t{1} << slot;
    m_threads.push_back(*thread);
    return thread;
}

Result<RefPtr<Thread>, SpawnError> Process::add_thread(const ThreadStart& start) {
    if (ending() || has_exited())
        return Err{SpawnError::Ending};
    if (m_thread_slots == ~uint64_t{0})
        return Err{SpawnError::TooManyThreads};
    auto tls = lay_out_tls(start.stack_bottom, start.stack_top);
    if (!tls)
        return Err{SpawnError::BadStack};
    RefPtr<Thread> thread =
        TRY(create_thread(start.entry, tls->first, start.argument, tls->second));
    add_reference(); // the started thread's (Thread::destroy drops it)
    thread->m_holds_process = true;
    Scheduler::make_ready(thread);
    return thread;
}

std::optional<std::pair<uint64_t, uint64_t>> Process::lay_out_tls(uint64_t bottom, uint64_t top) {
    uint64_t memory_size = m_tls ? m_tls->memory_size : 0;
    auto layout = elf::tls_layout(bottom, top, memory_size, m_tls ? m_tls->alignment : 1);
    if (!layout)
        return std::nullopt;
    uint64_t file_size = m_tls ? m_tls->file_size : 0;
    uint64_t tp = layout->thread_pointer;
    // The block (template bytes, then zeros) and the control block's self
    // pointer; the rest of the control block is zero.
    if ((file_size != 0 && !copy_in_space(layout->block, m_tls->vaddr, file_size)) ||
        !copy_in_space(layout->block + file_size, 0,
                       tp + elf::tls_tcb_size - layout->block - file_size))
        return std::nullopt;
    auto self = m_space.translate(tp); // writable: just zeroed
    *reinterpret_cast<uint64_t*>(phys_to_ptr<std::byte>(self->phys)) = tp;
    return std::pair{layout->stack_pointer, tp};
}

// `source` 0 fills with zeros.
bool Process::copy_in_space(uint64_t destination, uint64_t source, uint64_t length) {
    while (length != 0) {
        uint64_t chunk = page_size - destination % page_size;
        if (source != 0 && page_size - source % page_size < chunk)
            chunk = page_size - source % page_size;
        if (chunk > length)
            chunk = length;
        auto to = m_space.translate(destination);
        // (A device's registers are neither memory to copy nor in the
        // direct map.)
        if (!to || !to->user || !to->writable || to->uncached)
            return false;
        std::byte* out = phys_to_ptr<std::byte>(to->phys); // the byte's own address
        if (source == 0) {
            __builtin_memset(out, 0, chunk);
        } else {
            auto from = m_space.translate(source);
            if (!from || !from->user || from->uncached)
                return false;
            __builtin_memcpy(out, phys_to_ptr<std::byte>(from->phys), chunk);
            source += chunk;
        }
        destination += chunk;
        length -= chunk;
    }
    return true;
}

Process* Process::current() {
    Thread* thread = Scheduler::current();
    return thread ? thread->process() : nullptr;
}

void Process::release_address_space(UserAddressSpace::Teardown teardown) {
    m_capabilities.clear([](RefPtr<KernelObject>&&) {});
    if (!m_address_space_live)
        return;
    // From here the tables are never loaded again (activate_address_space_of)
    // and nothing is written into the ring: the teardown may give up the CPU
    // half way.
    m_address_space_live = false;
    m_capset = nullptr;
    if (PageTables::active().root() == page_tables().root())
        kernel_page_tables().activate();
    page_tables().unload_elsewhere(kernel_page_tables());
    m_space.destroy(teardown);
}

namespace {

void answer_exit_watcher(PendingReply& reply, const ExitStatus& status)
    CAPOS_REQUIRES(g_kernel_lock) {
    using schema::ProcessHandle;
    capnp::Word buffer[32];
    capnp::MessageBuilder message(buffer);
    ProcessHandle::WaitResults::Builder results(message.init_root(
        ProcessHandle::WaitResults::data_words, ProcessHandle::WaitResults::pointer_count));
    auto exit_status = results.init_status();
    exit_status.set_cpu_time_ns(status.cpu_time_ns);
    if (status.kind == ExitStatus::Kind::Exited) {
        exit_status.set_exited(status.code);
    } else if (status.kind == ExitStatus::Kind::Killed) {
        exit_status.set_killed();
    } else {
        auto faulted = exit_status.init_faulted();
        faulted.set_vector(status.vector);
        faulted.set_address(status.address);
        faulted.set_detail(status.detail);
    }
    VERIFY(message.error() == capnp::WireError::None);
    reply.complete_with_message(abi::CallStatus::Ok, message.words());
}

} // namespace

bool Process::add_exit_watcher(PendingReply reply) {
    if (has_exited()) {
        answer_exit_watcher(reply, m_exit_status);
        return true;
    }
    if (m_exit_watcher_count == max_exit_watchers)
        return false;
    m_exit_watchers[m_exit_watcher_count++] = std::move(reply);
    return true;
}

bool Process::can_add_outgoing(uint64_t queued_bytes) {
    ObjectLockGuard guard(m_calls_lock);
    return m_outgoing.size() < m_limits.outstanding_calls &&
           queued_bytes <= m_limits.queued_bytes - m_queued_bytes;
}

void Process::add_outgoing(EndpointCall* call, uint64_t queued_bytes) {
    ObjectLockGuard guard(m_calls_lock);
    m_outgoing.push_front(*call);
    m_queued_bytes += queued_bytes;
}

void Process::remove_outgoing(EndpointCall* call, uint64_t queued_bytes) {
    ObjectLockGuard guard(m_calls_lock);
    m_outgoing.remove(*call);
    m_queued_bytes -= queued_bytes;
}

void Process::uncharge_queued(uint64_t bytes) {
    ObjectLockGuard guard(m_calls_lock);
    m_queued_bytes -= bytes;
}

uint32_t Process::outstanding_calls() {
    ObjectLockGuard guard(m_calls_lock);
    return uint32_t(m_outgoing.size());
}

uint64_t Process::queued_bytes() {
    ObjectLockGuard guard(m_calls_lock);
    return m_queued_bytes;
}

EndpointCall* Process::take_spare_call() {
    ObjectLockGuard guard(m_calls_lock);
    return m_spare_calls.pop_front();
}

void Process::keep_spare_call(EndpointCall* call) {
    ObjectLockGuard guard(m_calls_lock);
    m_spare_calls.push_front(*call);
}

EndpointCall* Process::outgoing_of(const Thread& thread) {
    ObjectLockGuard guard(m_calls_lock);
    return m_outgoing.find_if([&](const EndpointCall& c) { return c.reply.thread() == &thread; });
}

void Process::free_spare_calls() {
    ObjectLockGuard guard(m_calls_lock);
    while (EndpointCall* call = m_spare_calls.pop_front())
        heap_destroy(call);
}

void Process::terminate_current(ExitStatus status) {
    Thread* thread = Scheduler::current();
    Process* process = thread->process();
    VERIFY(process != nullptr);
    if (!process->m_ending) {
        process->m_ending = true;
        process->m_end_status = status;
        // Every other thread leaves its wait in cap_enter, or is interrupted
        // where it runs, and ends on its way back to user mode.
        for (Thread& other : process->m_threads) {
            if (&other == thread)
                continue;
            Scheduler::wake(&other);
            Scheduler::interrupt(&other);
        }
    }
    process->end_thread(*thread, status.code);
}

void Process::exit_current_thread(int64_t code) {
    Thread* thread = Scheduler::current();
    thread->process()->end_thread(*thread, code);
}

namespace {

void answer_join(PendingReply& reply, int64_t code) CAPOS_REQUIRES(g_kernel_lock) {
    using schema::ThreadHandle;
    capnp::Word buffer[4];
    capnp::MessageBuilder message(buffer);
    ThreadHandle::JoinResults::Builder results(message.init_root(
        ThreadHandle::JoinResults::data_words, ThreadHandle::JoinResults::pointer_count));
    results.set_code(code);
    VERIFY(message.error() == capnp::WireError::None);
    reply.complete_with_message(abi::CallStatus::Ok, message.words());
}

} // namespace

void Process::end_thread(Thread& thread, int64_t code) {
    VERIFY(&thread == Scheduler::current() && !thread.m_ended);
    thread.m_ended = true;
    thread.m_exit_code = code;
    m_ended_threads_ns += Scheduler::account_running();
    // Answers owed to it go nowhere: those due at a deadline are dropped, its
    // calls through endpoints cancelled (queued ones dropped, ones a server
    // holds orphaned).
    TimedAnswer::cancel_all_of(thread);
    park_cancel(thread);
    while (EndpointCall* call = outgoing_of(thread))
        call->endpoint->cancel(call);
    m_threads.remove(thread);
    thread.ring().page = nullptr;
    if (!m_threads.empty()) {
        // Its ring page goes now (the last thread's with the address space).
        m_space.unmap_fixed(abi::thread_ring_address(thread.m_slot), 1);
        m_thread_slots &= ~(uint64_t{1} << thread.m_slot);
    }
    if (thread.m_joiner)
        answer_join(thread.m_joiner, code);
    if (m_threads.empty()) {
        stage_clock::report(m_id);
        finish(m_ending ? m_end_status
                        : ExitStatus{.kind = ExitStatus::Kind::Exited, .code = code});
    }
    // The scheduler drops the thread once another runs here (and with it the
    // thread's reference on the process).
    Scheduler::exit_current();
}

void Process::finish(ExitStatus status) {
    status.cpu_time_ns = m_ended_threads_ns;
    m_exit_status = status;
    m_ending = true;
    VERIFY(outstanding_calls() == 0 && queued_bytes() == 0);
    free_spare_calls();
    release_address_space(UserAddressSpace::Teardown::Preemptible);
    if (Thread* waiter = m_waiter)
        Scheduler::wake(waiter);
    for (size_t i = 0; i < m_exit_watcher_count; ++i)
        answer_exit_watcher(m_exit_watchers[i], status);
    m_exit_watcher_count = 0;
}

void Process::set_cpu_weight(uint32_t weight) {
    m_limits.cpu_weight = weight;
    for (Thread& thread : m_threads)
        Scheduler::set_weight(thread, weight);
}

uint64_t Process::cpu_time_ns() const {
    g_kernel_lock.assert_held();
    if (has_exited())
        return m_exit_status.cpu_time_ns;
    uint64_t total = m_ended_threads_ns;
    for_each_thread([&](const Thread& thread) { total += Scheduler::cpu_time_ns(thread); });
    return total;
}

void Process::request_kill() {
    if (has_exited() || ending())
        return;
    m_kill_requested = true;
    // A thread blocked in cap_enter leaves its wait and ends the process; a
    // ready one does so when it next returns to user mode, and one running
    // on another CPU is interrupted there to do so.
    for (Thread& thread : m_threads) {
        Scheduler::wake(&thread);
        Scheduler::interrupt(&thread);
    }
}

void Process::end_current_if_killed() {
    Process* process = current();
    if (!process || !process->ending())
        return;
    if (process->m_ending)
        process->end_thread(*Scheduler::current(), process->m_end_status.code);
    log_info("process {} ({}) killed by its handle's holder", process->id(), process->name());
    terminate_current({.kind = ExitStatus::Kind::Killed});
}

void Process::wait_for_exit() {
    g_kernel_lock.assert_held();
    while (!has_exited()) {
        m_waiter = Scheduler::current();
        Scheduler::block(no_deadline);
    }
    m_waiter = nullptr;
}

constinit IntrusiveList<Process, AllProcessesLink> Process::s_all;

bool Process::wait_until_none_left(uint64_t deadline_us) {
    g_kernel_lock.assert_held();
    while (!s_all.empty()) {
        s_none_left_waiter = Scheduler::current();
        bool woken = Scheduler::block(deadline_us);
        s_none_left_waiter = nullptr;
        if (!woken)
            return s_all.empty();
    }
    return true;
}

void Process::destroy() {
    g_kernel_lock.assert_held();
    s_all.remove(*this);
    if (s_all.empty() && s_none_left_waiter)
        Scheduler::wake(s_none_left_waiter);
    if (Thread* never_started = std::exchange(m_prepared_thread, nullptr)) {
        m_threads.remove(*never_started);
        never_started->release_reference();
    }
    VERIFY(m_threads.empty());
    // Reached when the last reference goes, inside whatever work dropped it:
    // no preemption there.
    release_address_space(UserAddressSpace::Teardown::AtOnce);
    free_spare_calls();
    ProcessCapTable::Slot* slots = m_slots;
    size_t slot_count = m_limits.capability_slots;
    this->~Process();
    for (size_t i = 0; i < slot_count; ++i)
        slots[i].~Slot();
    heap_free(this); // the slots too (create)
}

void activate_address_space_of(Thread* thread) {
    Process* process = thread->process();
    if (process && process->address_space_live()) {
        PageTables& tables = process->page_tables();
        if (PageTables::active().root() != tables.root())
            tables.activate();
    }
}

} // namespace capos::kernel
