// ProcessSpawner and ProcessHandle: starting boot binaries with exactly the
// capabilities the caller chooses to give, and waiting for them to end; the
// binaries' names (what a shell completes after `run`).
// ProcessInspector: listing every process, granting nothing.
//
// spawn decodes everything first (name, binary, every grant, gathering the
// granted capabilities into a Transfer as an endpoint call does) and changes
// nothing the caller sees on failure; then it reserves the caller's slots for
// the handle and the new endpoints, builds the child, and only when the child
// is complete commits the transfer, the endpoints and the handle and starts
// it. Any failure before that point restores the moved capabilities (the
// Transfer undoes itself) and frees the half-built child.
#include "abi/schema.h"
#include "abi/user_layout.h"
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/ipc/endpoint.h"
#include "kernel/ipc/transfer.h"
#include "kernel/lib/log.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "lib/args/args_block.h"
#include "lib/elf/elf.h"
#include "lib/manifest/limits.h"

namespace capos::kernel {

namespace {

using schema::Grant;
using schema::ProcessHandle;
using schema::ProcessInspector;
using schema::ProcessSpawner;

class ProcessHandleObject final : public KernelServiceOf<ProcessHandle, ProcessHandleObject> {
public:
    explicit ProcessHandleObject(RefPtr<Process> child) : m_child(std::move(child)) {}

    Result<void, gen::Exception> wait(ProcessHandle::WaitParams::Reader,
                                      ProcessHandle::WaitResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        // Answered (at once, or when the child ends) through the exit watcher.
        // Refused before deferring: a deferred call's exception is never sent.
        if (m_child->exit_watchers_full())
            return Err{overloaded("too many waits on this process")};
        auto reply = invocation().defer();
        if (!reply)
            return Err{overloaded("too many answers owed to the caller")};
        VERIFY(m_child->add_exit_watcher(std::move(*reply)));
        return {};
    }

    Result<void, gen::Exception> kill(ProcessHandle::KillParams::Reader,
                                      ProcessHandle::KillResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        m_child->request_kill();
        return {};
    }

    Result<void, gen::Exception> set_cpu_weight(ProcessHandle::SetCpuWeightParams::Reader params,
                                                ProcessHandle::SetCpuWeightResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        static constexpr manifest::LimitText rule("a CPU weight is 1 to ", abi::max_cpu_weight, "");
        if (params.weight() == 0 || params.weight() > abi::max_cpu_weight)
            return Err{invalid_argument(rule.c_str())};
        m_child->set_cpu_weight(params.weight());
        return {};
    }

private:
    RefPtr<Process> m_child;
};

// ProcessInspector: every process, read only.
class ProcessInspectorService final
    : public KernelServiceOf<ProcessInspector, ProcessInspectorService> {
public:
    Result<void, gen::Exception> list(ProcessInspector::ListParams::Reader params,
                                      ProcessInspector::ListResults::Builder results) {
        uint32_t after = params.after();
        uint32_t count = 0;
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        Process::for_each([&](Process& process) {
            if (process.id() > after && count < ProcessInspector::max_list)
                ++count;
        });
        auto list = results.init_processes(count);
        if (list.size() != count)
            return Err{overloaded("results buffer too small")};
        uint32_t index = 0;
        Process::for_each([&](Process& process) CAPOS_REQUIRES(g_kernel_lock) {
            if (process.id() <= after || index == count)
                return;
            auto info = list[index++];
            info.set_id(process.id());
            info.set_name(process.name());
            info.set_state(state_of(process));
            info.set_capabilities(uint32_t(process.capabilities().count()));
            info.set_frames(process.frame_ledger().charged());
            info.set_cpu_time_ns(process.cpu_time_ns());
            info.set_threads(process.thread_count());
            info.set_wakes(process.wakes());
        });
        return {};
    }

private:
    // The state of its busiest thread: running, else ready, else waiting.
    static schema::ProcessState state_of(const Process& process) CAPOS_REQUIRES(g_kernel_lock) {
        if (process.has_exited())
            return schema::ProcessState::Ended;
        auto state = schema::ProcessState::Ended;
        process.for_each_thread([&](const Thread& thread) {
            switch (thread.state()) {
            case Thread::State::Running:
                state = schema::ProcessState::Running;
                break;
            case Thread::State::Ready:
                if (state != schema::ProcessState::Running)
                    state = schema::ProcessState::Ready;
                break;
            case Thread::State::Blocked:
                if (state == schema::ProcessState::Ended)
                    state = schema::ProcessState::Waiting;
                break;
            case Thread::State::Dead:
                break;
            }
        });
        return state;
    }
};

constexpr size_t max_grants = abi::capset_max_entries;

class ProcessSpawnerService final : public KernelServiceOf<ProcessSpawner, ProcessSpawnerService> {
public:
    Result<void, gen::Exception> spawn(ProcessSpawner::SpawnParams::Reader params,
                                       ProcessSpawner::SpawnResults::Builder results);

    Result<void, gen::Exception> binaries(ProcessSpawner::BinariesParams::Reader params,
                                          ProcessSpawner::BinariesResults::Builder results) {
        size_t total = boot_binary_count();
        size_t from = params.from() < total ? params.from() : total;
        size_t left = total - from;
        uint32_t count = uint32_t(
            left < ProcessSpawner::max_binary_list ? left : ProcessSpawner::max_binary_list);
        auto names = results.init_names(count);
        if (names.size() != count)
            return Err{overloaded("results buffer too small")};
        for (uint32_t i = 0; i < count; ++i)
            names.set(i, boot_binary_name(from + i));
        return {};
    }
};

// The child's limits: the defaults where the params say 0.
ProcessLimits limits_of(schema::ResourceLimits::Reader requested) {
    ProcessLimits limits;
    if (requested.capability_slots() != 0)
        limits.capability_slots = requested.capability_slots();
    if (requested.outstanding_calls() != 0)
        limits.outstanding_calls = requested.outstanding_calls();
    if (requested.queued_bytes() != 0)
        limits.queued_bytes = requested.queued_bytes();
    if (requested.frames() != 0)
        limits.frames = requested.frames();
    if (requested.cpu_weight() != 0)
        limits.cpu_weight = requested.cpu_weight();
    return limits;
}

gen::Exception grant_refused(TransferError error) {
    switch (error) {
    case TransferError::NotHeld:
        return permission_denied("granted capability is not held");
    case TransferError::NotTransferable:
        return permission_denied("granted capability cannot be transferred");
    case TransferError::MovedTwice:
        return invalid_argument("a moved capability is granted twice");
    case TransferError::TooMany:
        break;
    }
    return invalid_argument(manifest::grant_count_rule);
}

// The params' arguments (at most abi::args_max_count of them), as views into
// the params.
std::span<const std::string_view> arguments_of(ProcessSpawner::SpawnParams::Reader params,
                                               std::string_view (&out)[abi::args_max_count]) {
    auto args = params.args();
    size_t count = args.size() < abi::args_max_count ? args.size() : abi::args_max_count;
    for (uint32_t i = 0; i < count; ++i)
        out[i] = args[i];
    return {out, count};
}

// Decode: every check on the params, and the capabilities being granted
// gathered into `transfer` (moves taken out of the caller's sight, restored
// if the spawn fails: nothing the caller sees changes before the commit).
Result<std::span<const uint8_t>, gen::Exception>
check_spawn(ProcessSpawner::SpawnParams::Reader params, GrantTransfer& transfer) {
    ProcessLimits limits = limits_of(params.limits());
    if (!limits.within_maximums())
        return Err{invalid_argument("resource limits beyond the kernel's maximums")};
    std::string_view name = params.name();
    if (!manifest::process_name_valid(name))
        return Err{invalid_argument(manifest::process_name_rule)};
    auto elf = find_boot_binary(params.binary());
    if (!elf)
        return Err{invalid_argument("no such binary in the boot package")};
    if (ElfLoadPlan::create(*elf, {abi::user_image_base, abi::user_map_base}).is_error())
        return Err{invalid_argument("the binary is not a loadable program")};

    if (params.args().size() > abi::args_max_count)
        return Err{invalid_argument("too many arguments (abi/args.h)")};
    std::string_view arg_views[abi::args_max_count];
    if (!args::fits(arguments_of(params, arg_views)))
        return Err{invalid_argument("the arguments are too long (abi/args.h)")};

    auto grants = params.grants();
    if (!manifest::grant_count_valid(grants.size()))
        return Err{invalid_argument(manifest::grant_count_rule)};
    if (grants.size() > limits.capability_slots)
        return Err{invalid_argument("more grants than the child's capability slots")};
    for (uint32_t i = 0; i < grants.size(); ++i) {
        Grant::Reader grant = grants[i];
        if (!manifest::grant_name_valid(grant.name()))
            return Err{invalid_argument(manifest::grant_name_rule)};
        for (uint32_t j = 0; j < i; ++j) {
            if (grants[j].name() == grant.name())
                return Err{invalid_argument("duplicate grant name")};
        }
        if (grant.is_capability()) {
            auto capability = grant.capability();
            auto mode = abi::transfer_mode_of(capability.mode());
            if (!mode)
                return Err{invalid_argument("unknown transfer mode")};
            auto added =
                transfer.add(abi::CapId{capability.cap()}, *mode == abi::TransferMode::Move);
            if (added.is_error())
                return Err{grant_refused(added.error())};
            uint64_t speaks = transfer.interface_id(transfer.count() - 1);
            if (grant.interface_id() != 0 && speaks != any_interface &&
                speaks != grant.interface_id())
                return Err{invalid_argument("a grant's interfaceId is not what it speaks")};
        } else if (grant.which() != Grant::Which::NewEndpoint &&
                   grant.which() != Grant::Which::ServedEndpoint) {
            return Err{invalid_argument("unknown grant kind")};
        }
    }
    return *elf;
}

Result<void, gen::Exception>
ProcessSpawnerService::spawn(ProcessSpawner::SpawnParams::Reader params,
                             ProcessSpawner::SpawnResults::Builder results) {
    g_kernel_lock.assert_held(); // a service method: inside cap_enter
    Process& caller = invocation().caller;
    GrantTransfer transfer(caller);
    std::span<const uint8_t> elf = TRY(check_spawn(params, transfer));
    auto grants = params.grants();

    // Invoke. Everything that can fail comes before the commits below: the
    // caller's slots for the handle and for the client side of every new
    // endpoint are reserved, the child built down to its thread. A failure on
    // the way drops the tokens and the transfer (which undo themselves) and
    // the half-built child.
    uint32_t endpoint_count = 0;
    for (uint32_t i = 0; i < grants.size(); ++i) {
        if (grants[i].which() == Grant::Which::NewEndpoint ||
            grants[i].which() == Grant::Which::ServedEndpoint)
            ++endpoint_count;
    }
    auto handle_slot = caller.capabilities().reserve();
    if (handle_slot.is_error())
        return Err{overloaded("capability table full")};
    ProcessCapTable::Reservation client_slots[max_grants];
    for (uint32_t i = 0; i < endpoint_count; ++i) {
        auto slot = caller.capabilities().reserve();
        if (slot.is_error())
            return Err{overloaded("capability table full")};
        client_slots[i] = slot.release_value();
    }
    auto endpoint_list = results.init_endpoints(endpoint_count);
    if (endpoint_list.size() != endpoint_count)
        return Err{overloaded("results buffer too small")};

    EndpointPair endpoints[max_grants];
    for (uint32_t i = 0; i < endpoint_count; ++i) {
        auto pair = create_endpoint_pair();
        if (pair.is_error())
            return Err{overloaded("out of memory")};
        endpoints[i] = pair.release_value();
    }

    auto created = Process::create(params.name(), limits_of(params.limits()));
    if (created.is_error())
        return Err{overloaded("out of memory")};
    RefPtr<Process> child = created.release_value();
    if (child->load(elf).is_error() || child->prepare_start().is_error())
        return Err{overloaded("out of memory")};
    std::string_view arg_views[abi::args_max_count];
    child->set_arguments(arguments_of(params, arg_views)); // checked to fit above
    auto handle = heap_create<ProcessHandleObject>(child);
    if (handle.is_error())
        return Err{overloaded("out of memory")};
    RefPtr<KernelObject> handle_object = RefPtr<KernelObject>::adopt(handle.value());

    // Commit: nothing below can fail (the child's table has room for every
    // grant, checked above; the caller's slots are reserved), so moves finish
    // and endpoints are handed out.
    uint32_t next_endpoint = 0;
    uint32_t next_capability = 0;
    for (uint32_t i = 0; i < grants.size(); ++i) {
        Grant::Reader grant = grants[i];
        Result<abi::CapId, SpawnError> granted = Err{SpawnError::TooManyGrants};
        if (grant.is_capability()) {
            auto record = transfer.finish(next_capability++);
            // Narrowed to the interface asked for, when it spoke any.
            uint64_t speaks =
                record.interface_id == any_interface ? grant.interface_id() : record.interface_id;
            granted = child->grant(std::move(record.object), speaks, grant.name(), record.flags);
        } else {
            EndpointPair& pair = endpoints[next_endpoint];
            // The owner side stays with the process it was made for; a
            // served endpoint's client side stays with the child.
            RefPtr<KernelObject> owner(std::move(pair.owner));
            RefPtr<KernelObject> client(std::move(pair.client));
            // The owner speaks Endpoint (kernel-served: mint); the plain
            // client facet any interface, its server's.
            // (or the one the grant names).
            bool served = grant.which() == Grant::Which::ServedEndpoint;
            uint64_t owner_interface = schema::Endpoint::interface_id;
            uint64_t client_interface = grant.interface_id(); // 0: any
            granted = child->grant(served ? std::move(client) : std::move(owner),
                                   served ? client_interface : owner_interface, grant.name(),
                                   CapFlags::None);
            abi::CapId kept =
                caller.capabilities().commit(std::move(client_slots[next_endpoint]),
                                             served ? std::move(owner) : std::move(client),
                                             served ? owner_interface : client_interface,
                                             served ? CapFlags::None : CapFlags::Transferable);
            endpoint_list.set(next_endpoint, kept.raw);
            ++next_endpoint;
        }
        VERIFY(granted.is_ok());
    }
    abi::CapId handle_id =
        caller.capabilities().commit(handle_slot.release_value(), std::move(handle_object),
                                     ProcessHandle::interface_id, CapFlags::None);
    results.set_handle(handle_id.raw);
    child->start();
    log_debug("spawn: {} started '{}' as process {}", caller.name(), child->name(), child->id());
    return {};
}

} // namespace

RefPtr<KernelService> create_process_inspector_service() {
    return make_service<ProcessInspectorService>();
}

RefPtr<KernelService> create_process_spawner_service() {
    return make_service<ProcessSpawnerService>();
}

} // namespace capos::kernel
