// A process: an address space, its capabilities and its threads (each with a
// ring of its own).
//
// Life: create() makes an empty address space; load() maps the program, its
// stack and the CapSet page; prepare_start() creates the main thread and
// start() makes it ready; more threads come from add_thread (ThreadSpawner).
// The process ends when one of its threads calls exit or faults, when it is
// killed, or when its last thread ends: every other thread is asked to end
// (woken if it waits, interrupted if it runs), and the last one to end tears
// the address space down, records the status and wakes whoever waits; the
// Process object lives on while references remain (each started thread holds
// one).
#pragma once

#include "abi/capset.h"
#include "abi/limits.h"
#include "abi/ring.h"
#include "kernel/ipc/completion.h"
#include "kernel/ipc/ring.h"
#include "kernel/mm/user_address_space.h"
#include "kernel/object/kernel_object.h"
#include "kernel/object/thread.h"
#include "lib/base/intrusive_list.h"
#include "lib/base/result.h"
#include "lib/cap/cap_table.h"
#include "lib/elf/elf.h"
#include "schema/capos.capnp.capos.h"
#include <span>
#include <string_view>

namespace capos::kernel {

class Thread;
struct ProcessThreadLink;
struct EndpointCall;
struct OutgoingCallLink; // EndpointCall's node on the list below

enum class SpawnError : uint8_t {
    OutOfMemory,
    BadElf,
    NameTooLong,
    TooManyGrants,
    TooManyThreads, // add_thread: abi::max_threads already
    BadStack,       // add_thread: the stack cannot take the TLS block
    Ending,         // add_thread: the process is ending
};
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

// Where a new thread starts (ThreadSpawner.spawn): its code, the stack area
// it runs on (its TLS block goes at the top, lib/elf/tls_layout.h) and the
// argument it finds in rsi.
struct ThreadStart {
    uint64_t entry;
    uint64_t stack_bottom;
    uint64_t stack_top;
    uint64_t argument;
};

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
    // Times a thread of it waiting in cap_enter was woken (ProcessInfo.wakes):
    // counted by cap_enter's waits, under the kernel lock held either way.
    void count_wake() { __atomic_fetch_add(&m_wakes, 1, __ATOMIC_RELAXED); }
    uint64_t wakes() const { return __atomic_load_n(&m_wakes, __ATOMIC_RELAXED); }

    // Maps the ELF program `elf`, the stack, the ring and the CapSet page.
    // On failure the address space is left for destroy (nothing leaks).
    Result<void, SpawnError> load(std::span<const uint8_t> elf) CAPOS_REQUIRES(g_kernel_lock);
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
    // A new thread of this running process (its ring mapped, its TLS block
    // laid out on its stack), ready to run; the caller is one of its threads.
    Result<RefPtr<Thread>, SpawnError> add_thread(const ThreadStart& start)
        CAPOS_REQUIRES(g_kernel_lock);
    // Ends the calling thread with `code` (ThreadControl.exitThread); when it
    // is the last, the process ends with that code.
    [[noreturn]] static void exit_current_thread(int64_t code) CAPOS_REQUIRES(g_kernel_lock);
    // Its threads that have not ended, in the order they were added.
    template <typename F>
    void for_each_thread(F&& visit) const CAPOS_REQUIRES(g_kernel_lock) {
        // (The list has no const iteration; nothing here changes it.)
        for (const Thread& thread : const_cast<Process*>(this)->m_threads)
            visit(thread);
    }
    uint32_t thread_count() const CAPOS_REQUIRES(g_kernel_lock) {
        return uint32_t(m_threads.size());
    }

    uint32_t id() const { return m_id; }
    uint64_t entry_point() const { return m_entry; }
    abi::CapSetPage* capset() const { return m_capset; }
    std::string_view name() const { return {m_name, m_name_length}; }
    PageTables& page_tables() CAPOS_REQUIRES(g_kernel_lock) { return m_space.tables(); }
    UserAddressSpace& address_space() { return m_space; }
    const ExitStatus& exit_status() const CAPOS_REQUIRES(g_kernel_lock) { return m_exit_status; }
    // False once the teardown of the address space has begun.
    bool address_space_live() const { return m_address_space_live; }
    bool has_exited() const CAPOS_REQUIRES_SHARED(g_kernel_lock) {
        return m_exit_status.kind != ExitStatus::Kind::Running;
    }
    // Asks the process to end (ProcessHandle.kill): its threads end it the
    // next time one of them returns to user mode or leaves a wait in
    // cap_enter; each is woken if it waits. Nothing for a process that has
    // ended.
    void request_kill() CAPOS_REQUIRES(g_kernel_lock);
    // Whether its threads are to end: it was killed, or one of them exited or
    // faulted and the others have not all ended yet.
    bool ending() const CAPOS_REQUIRES_SHARED(g_kernel_lock) {
        return m_ending || m_kill_requested;
    }
    // Ends the current thread if its process is ending (no return then).
    static void end_current_if_killed() CAPOS_REQUIRES(g_kernel_lock);
    // Every process from its creation until it is destroyed, in id order
    // (ids only grow), for ProcessInspector. Under the kernel lock.
    template <typename F>
    static void for_each(F&& visit) CAPOS_REQUIRES(g_kernel_lock) {
        for (Process& process : s_all)
            visit(process);
    }
    // Waits until no process is left (each is destroyed once it has ended
    // and its last holder let go), or until uptime reaches `deadline_us`;
    // true when none is left. Other CPUs may still be ending processes when
    // the one that started them ends.
    static bool wait_until_none_left(uint64_t deadline_us);
    FrameLedger& frame_ledger() CAPOS_REQUIRES(g_kernel_lock) { return m_space.ledger(); }

    // Answers `reply` with this process's ExitStatus once it has ended (at once
    // if it has). False when too many answers are already waiting.
    bool add_exit_watcher(PendingReply reply) CAPOS_REQUIRES(g_kernel_lock);
    // Whether add_exit_watcher would refuse: check it before deferring a call.
    bool exit_watchers_full() const CAPOS_REQUIRES(g_kernel_lock) {
        return !has_exited() && m_exit_watcher_count == max_exit_watchers;
    }

    // The resource ledger for calls this process has made through endpoints:
    // how many are outstanding and how many bytes of params the kernel holds
    // for it. Bounded; cleared when the process ends (its calls are cancelled).
    // Under its own lock (the shared part of cap_enter makes and answers
    // calls), which each of these takes. (Two of its threads calling at once
    // on two CPUs may both pass the check before either adds: the bound on
    // outstanding calls then holds to within one call per thread.)
    bool can_add_outgoing(uint64_t queued_bytes) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // A call made, with `queued_bytes` of params the kernel holds for it;
    // one ended, with what it still held; the params of one delivered.
    void add_outgoing(EndpointCall* call, uint64_t queued_bytes)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    void remove_outgoing(EndpointCall* call, uint64_t queued_bytes)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    void uncharge_queued(uint64_t bytes) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    uint32_t outstanding_calls() CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Records of this process's finished calls, kept for its next ones (a
    // round trip then allocates nothing); freed when the process ends.
    EndpointCall* take_spare_call() CAPOS_REQUIRES_SHARED(g_kernel_lock);
    void keep_spare_call(EndpointCall* call) CAPOS_REQUIRES_SHARED(g_kernel_lock);

    uint64_t queued_bytes() CAPOS_REQUIRES_SHARED(g_kernel_lock);
    ProcessCapTable& capabilities() CAPOS_REQUIRES(g_kernel_lock) { return m_capabilities; }
    // The same for lookups only (lookup, find): the table changes only under
    // the kernel lock held exclusively, so shared holders look up too.
    ProcessCapTable& capabilities_to_look_up() CAPOS_REQUIRES_SHARED(g_kernel_lock) {
        return m_capabilities;
    }

    // Ends the calling thread's process (the current one) with `status` and
    // never returns: the other threads end as soon as they can, the last
    // one to end finishes the process.
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
    void release_address_space(UserAddressSpace::Teardown teardown) CAPOS_REQUIRES(g_kernel_lock);
    // A thread (not yet ready) in a free slot with its ring mapped.
    Result<RefPtr<Thread>, SpawnError> create_thread(uint64_t entry, uint64_t stack_pointer,
                                                     uint64_t argument, uint64_t fs_base);
    // Lays out a TLS block (lib/elf/tls_layout.h) on the stack area [bottom,
    // top) of this process: the template's bytes copied, the rest zeroed, the
    // control block's self pointer written. The stack pointer and thread
    // pointer, or nullopt when the area cannot take it or is not writable.
    std::optional<std::pair<uint64_t, uint64_t>> lay_out_tls(uint64_t bottom, uint64_t top)
        CAPOS_REQUIRES(g_kernel_lock);
    // Copies within this address space, or fills, through the direct map
    // (the space need not be active); false when a destination page is not
    // user-writable or a source page not user-readable.
    bool copy_in_space(uint64_t destination, uint64_t source, uint64_t length)
        CAPOS_REQUIRES(g_kernel_lock);
    // Ends the running thread, the process's thread `thread`: its answers
    // cancelled, its ring unmapped, its joiner answered; the last thread to
    // end finishes the process (with `status` when it was not ending
    // already). Never returns.
    [[noreturn]] void end_thread(Thread& thread, int64_t code) CAPOS_REQUIRES(g_kernel_lock);
    // The end of the last thread: everything of the process released.
    void finish(ExitStatus status) CAPOS_REQUIRES(g_kernel_lock);

    uint32_t m_id = 0;
    char m_name[max_name_length + 1] = {};
    size_t m_name_length = 0;
    ProcessLimits m_limits;
    UserAddressSpace m_space;
    bool m_address_space_live = true;
    abi::CapSetPage* m_capset = nullptr;
    std::optional<ElfTlsTemplate> m_tls;
    ProcessCapTable::Slot* m_slots; // heap array behind m_capabilities
    ProcessCapTable m_capabilities CAPOS_GUARDED_BY(g_kernel_lock);
    uint64_t m_entry = 0;
    // Threads that have not ended (the scheduler holds them; a thread
    // prepared but not started is held here), and the slots they take.
    IntrusiveList<Thread, ProcessThreadLink> m_threads CAPOS_GUARDED_BY(g_kernel_lock);
    uint64_t m_thread_slots CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    // Owns a reference between prepare_start and start.
    Thread* m_prepared_thread CAPOS_GUARDED_BY(g_kernel_lock) = nullptr;
    // A kernel thread waiting for exit (init's monitor).
    Thread* m_waiter CAPOS_GUARDED_BY(g_kernel_lock) = nullptr;
    // CPU time of its threads that ended.
    uint64_t m_ended_threads_ns CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    uint64_t m_wakes = 0; // atomic: count_wake
    static constexpr size_t max_exit_watchers = 4;
    PendingReply m_exit_watchers[max_exit_watchers] CAPOS_GUARDED_BY(g_kernel_lock);
    size_t m_exit_watcher_count CAPOS_GUARDED_BY(g_kernel_lock) = 0;
    // Calls made through endpoints, not yet answered, newest first.
    ObjectLock m_calls_lock;
    IntrusiveList<EndpointCall, OutgoingCallLink> m_outgoing CAPOS_GUARDED_BY(m_calls_lock);
    // Never outgoing at once.
    IntrusiveList<EndpointCall, OutgoingCallLink> m_spare_calls CAPOS_GUARDED_BY(m_calls_lock);
    void free_spare_calls() CAPOS_REQUIRES(g_kernel_lock);
    uint64_t m_queued_bytes CAPOS_GUARDED_BY(m_calls_lock) = 0;
    // Its oldest outgoing call made by `thread`, if any.
    EndpointCall* outgoing_of(const Thread& thread) CAPOS_REQUIRES_SHARED(g_kernel_lock);
    static constinit IntrusiveList<Process, AllProcessesLink> s_all CAPOS_GUARDED_BY(g_kernel_lock);
    // wait_until_none_left's.
    static inline Thread* s_none_left_waiter CAPOS_GUARDED_BY(g_kernel_lock) = nullptr;
    ExitStatus m_exit_status CAPOS_GUARDED_BY(g_kernel_lock);
    ExitStatus m_end_status CAPOS_GUARDED_BY(g_kernel_lock); // what ends it, once m_ending
    bool m_ending CAPOS_GUARDED_BY(g_kernel_lock) = false;
    bool m_kill_requested CAPOS_GUARDED_BY(g_kernel_lock) = false;
};

// Loads the address space `thread` runs in (its process's, or for kernel
// threads whichever is active: they only touch the shared kernel half).
void activate_address_space_of(Thread* thread) CAPOS_REQUIRES(g_kernel_lock);

} // namespace capos::kernel
