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

[[noreturn]] void user_thread_entry(void* argument) {
    auto* process = static_cast<Process*>(argument);
    arch::UserEntry entry{
        .instruction_pointer = process->entry_point(),
        .stack_pointer = abi::user_args_address,
        .arguments = {abi::user_ring_address, process->id(), abi::user_capset_address},
    };
    arch::enter_user_mode(entry, Scheduler::current()->kernel_stack_top());
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
    }
    return "unknown spawn error";
}

Result<RefPtr<Process>, SpawnError> Process::create(std::string_view name,
                                                    const ProcessLimits& limits) {
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

    auto stack = m_space.map_fixed(abi::user_stack_top - abi::user_stack_initial_size,
                                   abi::user_stack_initial_size / page_size, Access::ReadWrite);
    auto ring = m_space.map_fixed(abi::user_ring_address, 1, Access::ReadWrite);
    auto capset = m_space.map_fixed(abi::user_capset_address, 1, Access::Read);
    if (stack.is_error() || ring.is_error() || capset.is_error())
        return Err{SpawnError::OutOfMemory};
    m_ring = phys_to_ptr<abi::RingPage>(ring.value());
    m_ring->header.sq_entries = abi::ring_sq_entries;
    m_ring->header.cq_entries = abi::ring_cq_entries;

    m_capset = phys_to_ptr<abi::CapSetPage>(capset.value());
    m_capset->header = {abi::capset_magic, abi::capset_version, 0, 0};
    set_arguments({});
    return {};
}

void Process::set_arguments(std::span<const std::string_view> args) {
    VERIFY(!m_main_thread && args::fits(args));
    auto block = page_tables().translate(abi::user_args_address);
    VERIFY(block.has_value()); // the top page of the stack, mapped by load()
    args::write(args::Block(phys_to_ptr<uint8_t>(block->phys), abi::args_block_size), args);
}

Result<abi::CapId, SpawnError> Process::grant(RefPtr<KernelObject> object, uint64_t interface_id,
                                              std::string_view name, CapFlags flags) {
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
    VERIFY(!m_prepared_thread && !m_main_thread);
    auto thread = Thread::create(this, user_thread_entry, this);
    if (thread.is_error())
        return Err{SpawnError::OutOfMemory};
    m_prepared_thread = thread.release_value().leak();
    return {};
}

void Process::start() {
    VERIFY(m_prepared_thread);
    m_main_thread = std::exchange(m_prepared_thread, nullptr);
    // The running thread keeps its process alive.
    add_reference();
    Scheduler::make_ready(RefPtr<Thread>::adopt(m_main_thread));
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
    m_ring = nullptr;
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

void Process::add_outgoing(EndpointCall* call) {
    m_outgoing.push_front(*call);
}

void Process::remove_outgoing(EndpointCall* call) {
    m_outgoing.remove(*call);
}

EndpointCall* Process::take_spare_call() {
    return m_spare_calls.pop_front();
}

void Process::keep_spare_call(EndpointCall* call) {
    m_spare_calls.push_front(*call);
}

void Process::free_spare_calls() {
    while (EndpointCall* call = m_spare_calls.pop_front())
        heap_destroy(call);
}

void Process::terminate_current(ExitStatus status) {
    Process* process = current();
    VERIFY(process != nullptr);
    stage_clock::report(process->id());
    status.cpu_time_ns = Scheduler::account_running();
    process->m_exit_status = status;
    // Answers owed to this process at a deadline go nowhere.
    TimedAnswer::cancel_all_of(*process);
    // Calls this process made and nobody answered yet: dropped or orphaned.
    while (EndpointCall* call = process->m_outgoing.front())
        call->endpoint->cancel(call);
    process->free_spare_calls();
    VERIFY(process->m_queued_bytes == 0);
    process->release_address_space(UserAddressSpace::Teardown::Preemptible);
    if (Thread* waiter = process->m_waiter)
        Scheduler::wake(waiter);
    for (size_t i = 0; i < process->m_exit_watcher_count; ++i) {
        answer_exit_watcher(process->m_exit_watchers[i], status);
    }
    process->m_exit_watcher_count = 0;
    process->m_main_thread = nullptr;
    // Drop the running thread's reference on the process; the scheduler drops
    // the thread once another thread runs.
    process->release_reference();
    Scheduler::exit_current();
}

void Process::set_cpu_weight(uint32_t weight) {
    m_limits.cpu_weight = weight;
    if (m_main_thread && !has_exited())
        Scheduler::set_weight(*m_main_thread, weight);
}

uint64_t Process::cpu_time_ns() const {
    if (has_exited() || !m_main_thread)
        return m_exit_status.cpu_time_ns;
    return Scheduler::cpu_time_ns(*m_main_thread);
}

void Process::request_kill() {
    if (has_exited() || m_kill_requested)
        return;
    m_kill_requested = true;
    // A thread blocked in cap_enter leaves its wait and ends; a ready one
    // ends when it next returns to user mode, and one running on another
    // CPU is interrupted there to do so.
    if (m_main_thread) {
        Scheduler::wake(m_main_thread);
        Scheduler::interrupt(m_main_thread);
    }
}

void Process::end_current_if_killed() {
    Process* process = current();
    if (process && process->m_kill_requested) {
        log_info("process {} ({}) killed by its handle's holder", process->id(), process->name());
        terminate_current({.kind = ExitStatus::Kind::Killed});
    }
}

void Process::wait_for_exit() {
    while (!has_exited()) {
        m_waiter = Scheduler::current();
        Scheduler::block(no_deadline);
    }
    m_waiter = nullptr;
}

constinit IntrusiveList<Process, AllProcessesLink> Process::s_all;

bool Process::wait_until_none_left(uint64_t deadline_us) {
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
    s_all.remove(*this);
    if (s_all.empty() && s_none_left_waiter)
        Scheduler::wake(s_none_left_waiter);
    if (Thread* never_started = std::exchange(m_prepared_thread, nullptr))
        never_started->release_reference();
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
