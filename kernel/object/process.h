// A process: an address space, its capabilities, its ring, and its threads.
//
// Life: create() makes an empty address space; load() maps the program, its
// stack, the ring page and the CapSet page; start() makes the main thread
// ready. The process ends when it calls exit or faults (one thread for now):
// terminate() tears the address space down at once, records the status and
// wakes whoever waits; the Process object lives on while references remain.
#pragma once

#include "abi/capset.h"
#include "abi/limits.h"
#include "abi/ring.h"
#include "kernel/ipc/completion.h"
#include "kernel/ipc/ring.h"
#include "kernel/mm/user_address_space.h"
#include "kernel/object/kernel_object.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/cap/cap_table.h"
#include "schema/capos.capnp.capos.h"
#include <span>
#include <string_view>

namespace capos::kernel {

class Thread;
struct EndpointCall;
struct OutgoingCallLink; // EndpointCall's node on the list below

enum class SpawnError : uint8_t { OutOfMemory, BadElf, NameTooLong, TooManyGrants };
const char* to_string(SpawnError error);

struct ExitStatus {
    enum class Kind : uint8_t { Running, Exited, Faulted, Killed };
    Kind kind = Kind::Running;
    int64_t code = 0;         // Exited
    uint8_t vector = 0;       // Faulted: the exception
    uint64_t address = 0;     // Faulted: the faulting instruction
    const char* detail = "";  // Faulted: what the CPU reported
    uint64_t cpu_time_ns = 0; // its threads', when it ended
};

// Calls in an interface the capability's interface extends are accepted (the
// schema's generated ancestry table; lib/cap/cap_table.h).
using ProcessCapTable = CapTable<RefPtr<KernelObject>, schema::InterfaceAncestry>;

// A process's resource bounds (schema/capos.capnp ResourceLimits): what its
// manifest entry or spawner asked for, within the kernel's maximums. The
// defaults and maximums are abi/limits.h, shared with lib/manifest.
struct ProcessLimits {
    uint32_t capability_slots = abi::default_capability_slots;
    uint32_t outstanding_calls = abi::default_outstanding_calls;
    uint64_t queued_bytes = abi::default_queued_bytes;
    uint64_t frames = abi::default_frames;
    uint32_t cpu_weight = abi::default_cpu_weight; // each of its threads'

    bool within_maximums() const {
        return abi::limits_within_maximums(capability_slots, outstanding_calls, queued_bytes,
                                           frames, cpu_weight);
    }
};

struct AllProcessesLink;

class Process final : public KernelObject, public IntrusiveListNode<AllProcessesLink> {
public:
    static constexpr ObjectType object_type = ObjectType::Process;
    static constexpr size_t max_name_length = schema::max_process_name;

    static Result<RefPtr<Process>, SpawnError> create(std::string_view name,
                                                      const ProcessLimits& limits = {});
    const ProcessLimits& limits() const { return m_limits; }
    // Its threads' CPU weight from now on (1 to abi::max_cpu_weight).
    void set_cpu_weight(uint32_t weight) CAPOS_REQUIRES(g_kernel_lock);
    // The CPU time its threads have used (up to each one's last switch or
    // tick), or used in all once it has ended.
    uint64_t cpu_time_ns() const;

    // Maps the ELF program `elf`, the stack, the ring and the CapSet page.
    // On failure the address space is left for destroy (nothing leaks).
    Result<void, SpawnError> load(std::span<const uint8_t> elf);
    // Writes the arguments block (abi/args.h) the process finds at its
    // start; load() writes an empty one. `args` must fit (args::fits). Before
    // start() only.
    void set_arguments(std::span<const std::string_view> args);
    // Gives the process `object` speaking `interface_id`, listed in its CapSet
    // under `name`. Before start() only.
    Result<abi::CapId, SpawnError> grant(RefPtr<KernelObject> object, uint64_t interface_id,
                                         std::string_view name,
                                         CapFlags flags = CapFlags::Transferable);
    // Creates the main thread (the last step of building a process that can
    // fail), then start() makes it ready and cannot fail.
    Result<void, SpawnError> prepare_start();
    void start();

    uint32_t id() const { return m_id; }
    uint64_t entry_point() const { return m_entry; }
    abi::CapSetPage* capset() const { return m_capset; }
    std::string_view name() const { return {m_name, m_name_length}; }
    PageTables& page_tables() { return m_space.tables(); }
    UserAddressSpace& address_space() { return m_space; }
    const ExitStatus& exit_status() const { return m_exit_status; }
    // False once the teardown of the address space has begun.
    bool address_space_live() const { return m_address_space_live; }
    bool has_exited() const { return m_exit_status.kind != ExitStatus::Kind::Running; }
    // Asks the process to end (ProcessHandle.kill): its thread ends it the
    // next time it returns to user mode or leaves a wait in cap_enter, and is
    // woken if it waits. Nothing for a process that has ended.
    void request_kill();
    bool kill_requested() const { return m_kill_requested; }
    // Ends the current process if a kill was requested (no return then).
    static void end_current_if_killed() CAPOS_REQUIRES(g_kernel_lock);
    // Every process from its creation until it is destroyed, in id order
    // (ids only grow), for ProcessInspector. Under the kernel lock.
    template <typename F>
    static void for_each(F&& visit) {
        for (Process& process : s_all)
            visit(process);
    }
    // Waits until no process is left (each is destroyed once it has ended
    // and its last holder let go), or until uptime reaches `deadline_us`;
    // true when none is left. Other CPUs may still be ending processes when
    // the one that started them ends.
    static bool wait_until_none_left(uint64_t deadline_us);
    // Its main thread, if it has one that has not ended.
    const Thread* main_thread() const { return m_main_thread; }
    FrameLedger& frame_ledger() { return m_space.ledger(); }

    // The ring page through the kernel's direct map. Its contents are written
    // by the process at any time: read each field once, validate, then use.
    abi::RingPage* ring() const { return m_ring; }
    RingState& ring_state() { return m_ring_state; }
    // The thread blocked in cap_enter waiting for completions, if any.
    Thread* ring_waiter() const CAPOS_REQUIRES(g_kernel_lock) { return m_ring_waiter; }
    void set_ring_waiter(Thread* thread) CAPOS_REQUIRES(g_kernel_lock) { m_ring_waiter = thread; }

    // Answers `reply` with this process's ExitStatus once it has ended (at once
    // if it has). False when too many answers are already waiting.
    bool add_exit_watcher(PendingReply reply) CAPOS_REQUIRES(g_kernel_lock);
    // Whether add_exit_watcher would refuse: check it before deferring a call.
    bool exit_watchers_full() const {
        return !has_exited() && m_exit_watcher_count == max_exit_watchers;
    }

    // The resource ledger for calls this process has made through endpoints:
    // how many are outstanding and how many bytes of params the kernel holds
    // for it. Bounded; cleared when the process ends (its calls are cancelled).
    bool can_add_outgoing(uint64_t queued_bytes) const CAPOS_REQUIRES(g_kernel_lock) {
        return m_outgoing.size() < m_limits.outstanding_calls &&
               queued_bytes <= m_limits.queued_bytes - m_queued_bytes;
    }
    void add_outgoing(EndpointCall* call) CAPOS_REQUIRES(g_kernel_lock);
    void remove_outgoing(EndpointCall* call) CAPOS_REQUIRES(g_kernel_lock);
    void charge_queued(uint64_t bytes) CAPOS_REQUIRES(g_kernel_lock) { m_queued_bytes += bytes; }
    void uncharge_queued(uint64_t bytes) CAPOS_REQUIRES(g_kernel_lock) { m_queued_bytes -= bytes; }
    uint32_t outstanding_calls() const CAPOS_REQUIRES(g_kernel_lock) {
        return uint32_t(m_outgoing.size());
    }
    // Records of this process's finished calls, kept for its next ones (a
    // round trip then allocates nothing); freed when the process ends.
    EndpointCall* take_spare_call();
    void keep_spare_call(EndpointCall* call);

    // Completions the kernel owes this process for submissions it has taken
    // (PendingReply keeps the count): with the unread ones they must fit the
    // completion queue, so cap_enter takes no submission without room for
    // its answer.
    void owe_completion() CAPOS_REQUIRES(g_kernel_lock) { ++m_completions_owed; }
    void settle_completion() CAPOS_REQUIRES(g_kernel_lock) {
        VERIFY(m_completions_owed > 0);
        --m_completions_owed;
    }
    uint32_t completions_owed() const CAPOS_REQUIRES(g_kernel_lock) { return m_completions_owed; }
    uint64_t queued_bytes() const CAPOS_REQUIRES(g_kernel_lock) { return m_queued_bytes; }
    ProcessCapTable& capabilities() { return m_capabilities; }

    // Ends the calling thread's process (the current one) with `status` and
    // never returns.
    [[noreturn]] static void terminate_current(ExitStatus status) CAPOS_REQUIRES(g_kernel_lock);

    // Blocks the calling thread until the process has ended.
    void wait_for_exit();

    static Process* current();

private:
    Process(PageTables tables, RefPtr<FrameLedger> ledger, std::span<ProcessCapTable::Slot> slots,
            const ProcessLimits& limits)
        : KernelObject(object_type), m_limits(limits), m_space(tables, std::move(ledger)),
          m_capabilities(slots) {}
    void destroy() override;
    void release_address_space(UserAddressSpace::Teardown teardown);

    uint32_t m_id = 0;
    char m_name[max_name_length + 1] = {};
    size_t m_name_length = 0;
    ProcessLimits m_limits;
    UserAddressSpace m_space;
    bool m_address_space_live = true;
    abi::RingPage* m_ring = nullptr;
    abi::CapSetPage* m_capset = nullptr;
    RingState m_ring_state;
    ProcessCapTable::Slot* m_slots; // heap array behind m_capabilities
    ProcessCapTable m_capabilities;
    uint64_t m_entry = 0;
    Thread* m_main_thread = nullptr;     // not owned: the scheduler holds it
    Thread* m_prepared_thread = nullptr; // owns a reference between prepare_start and start
    Thread* m_waiter = nullptr;          // a kernel thread waiting for exit (init's monitor)
    Thread* m_ring_waiter CAPOS_GUARDED_BY(g_kernel_lock) = nullptr; // blocked in cap_enter
    static constexpr size_t max_exit_watchers = 4;
    PendingReply m_exit_watchers[max_exit_watchers];
    size_t m_exit_watcher_count = 0;
    // Calls made through endpoints, not yet answered, newest first.
    IntrusiveList<EndpointCall, OutgoingCallLink> m_outgoing CAPOS_GUARDED_BY(g_kernel_lock);
    IntrusiveList<EndpointCall, OutgoingCallLink> m_spare_calls; // never outgoing at once
    void free_spare_calls();
    uint64_t m_queued_bytes CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    uint32_t m_completions_owed CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    static constinit IntrusiveList<Process, AllProcessesLink> s_all;
    static inline Thread* s_none_left_waiter = nullptr; // wait_until_none_left's
    ExitStatus m_exit_status;
    bool m_kill_requested = false;
};

// Loads the address space `thread` runs in (its process's, or for kernel
// threads whichever is active: they only touch the shared kernel half).
void activate_address_space_of(Thread* thread);

} // namespace capos::kernel
