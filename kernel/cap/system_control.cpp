// SystemControl: powering the machine off or resetting it, for whoever was
// given the capability (the default system gives it to the shell only).
// SystemInfo: what the machine runs and its memory, which grants nothing.
#include "kernel/arch/arch.h"
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frames.h"
#include "kernel/object/process.h"
#include "kernel/platform/acpi.h"
#include "kernel/platform/cpus.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

using schema::SystemControl;
using schema::SystemInfo;

// `part` of `whole` in thousandths (0 of nothing, at most 1000).
uint32_t per_mille(uint64_t part, uint64_t whole) {
    return whole == 0 ? 0 : uint32_t(part >= whole ? 1000 : part * 1000 / whole);
}

class SystemControlService final : public KernelServiceOf<SystemControl, SystemControlService> {
public:
    Result<void, gen::Exception> halt(SystemControl::HaltParams::Reader,
                                      SystemControl::HaltResults::Builder) {
        Process& caller = invocation().caller;
        log_info("system: halt asked by process {} ({}); powering off", caller.id(), caller.name());
        power_off();
    }
    Result<void, gen::Exception> reboot(SystemControl::RebootParams::Reader,
                                        SystemControl::RebootResults::Builder) {
        Process& caller = invocation().caller;
        log_info("system: reboot asked by process {} ({}); resetting", caller.id(), caller.name());
        reset();
    }
};

class SystemInfoService final : public KernelServiceOf<SystemInfo, SystemInfoService> {
public:
    Result<void, gen::Exception> motd(SystemInfo::MotdParams::Reader,
                                      SystemInfo::MotdResults::Builder results) {
        std::span<const uint8_t> text = boot_file("etc/motd");
        results.set_text({reinterpret_cast<const char*>(text.data()), text.size()});
        return {};
    }
    Result<void, gen::Exception> build(SystemInfo::BuildParams::Reader,
                                       SystemInfo::BuildResults::Builder results) {
        constexpr std::string_view prefix = "capOS 0.1 for x86_64, built with clang ";
        std::string_view version = __clang_version__;
        while (!version.empty() && version.back() == ' ')
            version.remove_suffix(1);
        char text[128];
        size_t length = 0;
        for (std::string_view part : {prefix, version}) {
            size_t take = part.size() < sizeof text - length ? part.size() : sizeof text - length;
            __builtin_memcpy(text + length, part.data(), take);
            length += take;
        }
        results.set_text({text, length});
        return {};
    }
    Result<void, gen::Exception> memory(SystemInfo::MemoryParams::Reader,
                                        SystemInfo::MemoryResults::Builder results) {
        FrameStats frames = frame_stats();
        HeapStats heap = heap_stats();
        results.set_total_frames(frames.total_frames);
        results.set_free_frames(frames.free_frames);
        results.set_usable_bytes(frames.usable_bytes);
        results.set_heap_in_use_bytes(heap.bytes_in_use);
        results.set_heap_footprint_frames(heap.footprint_frames);
        return {};
    }
    Result<void, gen::Exception> cpus(SystemInfo::CpusParams::Reader,
                                      SystemInfo::CpusResults::Builder results) {
        size_t count = cpu_count();
        auto list = results.init_cpus(uint32_t(count));
        if (list.size() != count)
            return Err{overloaded("results buffer too small")};
        uint64_t now = arch::read_cycle_counter();
        for (size_t i = 0; i < count; ++i) {
            const CpuRecord& cpu = cpu_record(i);
            auto info = list[uint32_t(i)];
            bool online = __atomic_load_n(&cpu.online, __ATOMIC_ACQUIRE);
            info.set_index(cpu.index);
            info.set_apic_id(cpu.interrupt_id);
            info.set_online(online);
            info.set_threads_run(Scheduler::threads_run(uint32_t(i)));
            const Thread* running = Scheduler::running_on(uint32_t(i));
            info.set_running_process(running && running->process() ? running->process()->id() : 0);
            uint64_t idle = cpu_idle_cycles(cpu, now);
            uint64_t span = online && now > cpu.online_at ? now - cpu.online_at : 0;
            info.set_idle_per_mille(per_mille(idle, span));
            info.set_lock_wait_per_mille(per_mille(KernelLock::wait_cycles(uint32_t(i)), span));
            info.set_lock_waits(KernelLock::contended(uint32_t(i)));
        }
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_system_info_service() {
    return make_service<SystemInfoService>();
}

RefPtr<KernelService> create_system_control_service() {
    return make_service<SystemControlService>();
}

} // namespace capos::kernel
