// ThreadSpawner, ThreadHandle and ThreadControl: threads of the caller's own
// process (docs/abi.md "Threads").
#include "abi/user_layout.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

using schema::ThreadControl;
using schema::ThreadHandle;
using schema::ThreadSpawner;

class ThreadHandleObject final : public KernelServiceOf<ThreadHandle, ThreadHandleObject> {
public:
    void set_thread(RefPtr<Thread> thread) { m_thread = std::move(thread); }

    Result<void, gen::Exception> join(ThreadHandle::JoinParams::Reader,
                                      ThreadHandle::JoinResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        if (m_thread->has_ended()) {
            results.set_code(m_thread->exit_code());
            return {};
        }
        if (&invocation().thread == m_thread.get())
            return Err{failed("a thread cannot join itself")};
        // Refused before deferring: a deferred call's exception is never sent.
        if (m_thread->joiner())
            return Err{failed("another join of this thread waits already")};
        auto reply = invocation().defer();
        if (!reply)
            return Err{overloaded("too many answers owed to the caller")};
        m_thread->set_joiner(std::move(*reply));
        return {};
    }

private:
    RefPtr<Thread> m_thread;
};

class ThreadSpawnerService final : public KernelServiceOf<ThreadSpawner, ThreadSpawnerService> {
public:
    Result<void, gen::Exception> spawn(ThreadSpawner::SpawnParams::Reader params,
                                       ThreadSpawner::SpawnResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        auto in_user_space = [](uint64_t address) {
            return address >= abi::user_min_address && address < abi::user_limit;
        };
        if (!in_user_space(params.entry()) || !in_user_space(params.stack_bottom()) ||
            !in_user_space(params.stack_top() - 1) || params.stack_top() <= params.stack_bottom())
            return Err{invalid_argument("entry or stack outside user space")};
        Process& caller = invocation().caller;
        auto slot = caller.capabilities().reserve();
        if (slot.is_error())
            return Err{overloaded("capability table full")};
        auto handle = heap_create<ThreadHandleObject>();
        if (handle.is_error())
            return Err{overloaded("out of memory")};
        RefPtr<KernelObject> handle_object = RefPtr<KernelObject>::adopt(handle.value());
        auto thread = caller.add_thread({.entry = params.entry(),
                                         .stack_bottom = params.stack_bottom(),
                                         .stack_top = params.stack_top(),
                                         .argument = params.argument()});
        if (thread.is_error()) {
            switch (thread.error()) {
            case SpawnError::BadStack:
                return Err{invalid_argument(to_string(thread.error()))};
            case SpawnError::Ending:
                return Err{failed(to_string(thread.error()))};
            default:
                return Err{overloaded(to_string(thread.error()))};
            }
        }
        handle.value()->set_thread(thread.release_value());
        abi::CapId id = caller.capabilities().commit(slot.release_value(), std::move(handle_object),
                                                     ThreadHandle::interface_id, CapFlags::None);
        results.set_thread(id.raw);
        return {};
    }
};

class ThreadControlService final : public KernelServiceOf<ThreadControl, ThreadControlService> {
public:
    Result<void, gen::Exception> set_fs_base(ThreadControl::SetFsBaseParams::Reader params,
                                             ThreadControl::SetFsBaseResults::Builder) {
        if (params.base() >= abi::user_limit)
            return Err{invalid_argument("FS base beyond user space")};
        Scheduler::set_fs_base(params.base());
        return {};
    }

    Result<void, gen::Exception> exit_thread(ThreadControl::ExitThreadParams::Reader params,
                                             ThreadControl::ExitThreadResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        // The call's scratch is nobody's any more.
        Scheduler::set_call_scratch_use(0, 0);
        // Its stack, say: this thread runs no more user code.
        if (params.unmap_length() != 0)
            (void)invocation().caller.address_space().unmap(params.unmap_address(),
                                                            params.unmap_length());
        Process::exit_current_thread(params.code());
    }
};

} // namespace

RefPtr<KernelService> create_thread_spawner_service() {
    return make_service<ThreadSpawnerService>();
}

namespace {

// Methods: none. The ring's PARK and UNPARK name it (kernel/ipc/park.h).
class ParkSpaceService final : public KernelServiceOf<schema::ParkSpace, ParkSpaceService> {};

} // namespace

RefPtr<KernelService> create_park_space_service() {
    return make_service<ParkSpaceService>();
}

RefPtr<KernelService> create_thread_control_service() {
    return make_service<ThreadControlService>();
}

} // namespace capos::kernel
