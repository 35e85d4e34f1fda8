#include "kernel/boot/init.h"
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/reclaim.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/platform/acpi.h"
#include "kernel/sched/scheduler.h"
#include "lib/manifest/read.h"
#include "schema/capos.capnp.capos.h"

namespace capos::kernel {

namespace {

struct InitState {
    RefPtr<Process> process;
    uint64_t free_frames_before = 0;
    HeapStats heap_before{};
    bool shutdown_after = false;
};
InitState g_init;

// The manifest's bytes, word-aligned (the archive only aligns data to 4), and
// the manifest read from them: both live as long as the kernel.
capnp::Word* g_manifest_words = nullptr;
constinit manifest::FramedManifest g_manifest;

// The manifest passed manifest::validate: every grant of init's names a kernel
// capability and agrees with its interface.
bool grant_kernel_capabilities(Process& process, schema::InitConfig::Reader init) {
    for (auto grant : init.grants()) {
        auto service = kernel_capability(grant.source().kernel());
        if (service.is_error()) {
            log_error("init: grant '{}': kernel capability {} is not available", grant.name(),
                      uint16_t(grant.source().kernel()));
            return false;
        }
        uint64_t interface_id = service.value()->interface_id();
        auto granted = process.grant(service.release_value(), interface_id, grant.name());
        if (granted.is_error()) {
            log_error("init: grant '{}': {}", grant.name(), to_string(granted.error()));
            return false;
        }
    }
    return true;
}

[[noreturn]] void init_monitor(void*) {
    g_kernel_lock.assert_held(); // a kernel thread: it has the lock whenever it runs
    Process& init = *g_init.process;
    init.wait_for_exit();
    const ExitStatus& status = init.exit_status();
    if (status.kind == ExitStatus::Kind::Exited)
        log_info("init: exited with code {}", status.code);
    else
        log_error("init: ended by exception vector {} at {}", status.vector, Hex{status.address});
    bool clean = status.kind == ExitStatus::Kind::Exited && status.code == 0;
    g_init.process.reset();
    // Processes init started may still be ending on other CPUs: the count
    // below waits for them (a second at most; one that runs on is named).
    if (!Process::wait_until_none_left(uptime_microseconds() + 1000000)) {
        g_kernel_lock.assert_held(); // a kernel thread: it has the lock whenever it runs
        Process::for_each([](Process& process) {
            log_warn("init: process {} ({}) outlives init; memory not checked", process.id(),
                     process.name());
        });
        clean = false;
    }

    // Everything init held is returned once its thread is gone, which has
    // happened by the time this thread runs again, and the frames queued for
    // the reclaim thread are free.
    wait_for_reclaim();
    uint64_t free_after = frame_stats().free_frames;
    // Heap growth keeps frames (pages and their tables); count them as returned.
    uint64_t returned = free_after + heap_stats().footprint_frames;
    if (returned >= g_init.free_frames_before) {
        log_info("memory: every frame init used was returned ({} free)", free_after);
    } else {
        log_error("memory: {} frames were not returned", g_init.free_frames_before - returned);
        clean = false;
    }
    HeapStats heap = heap_stats();
    if (heap.bytes_in_use == g_init.heap_before.bytes_in_use &&
        heap.allocation_count == g_init.heap_before.allocation_count) {
        log_info("memory: every kernel heap allocation init caused was freed ({} in use)",
                 Size{heap.bytes_in_use});
    } else {
        log_error("memory: the kernel heap holds {} allocations ({} bytes) more than before init",
                  int64_t(heap.allocation_count) - int64_t(g_init.heap_before.allocation_count),
                  int64_t(heap.bytes_in_use) - int64_t(g_init.heap_before.bytes_in_use));
        clean = false;
    }

    if (interrupts_off::g_state.measuring) {
        log_info("kernel: the longest stretch with interrupts off was {} us",
                 interrupts_off::g_state.longest_us);
        clean = clean && interrupts_off::g_state.over_bound == 0;
    }
    if (g_init.shutdown_after) {
        if (clean)
            power_off();
        arch::exit_machine(abi::ExitCode::Failure);
    }
    log_info("init has ended; the system is idle");
    for (;;)
        Scheduler::block(no_deadline);
}

} // namespace

bool start_init(const CpioArchive& archive, const CommandLine& command_line) {
    auto file = archive.find("manifest.bin");
    if (!file) {
        log_error("init: the boot archive has no manifest.bin");
        return false;
    }
    // The same reading and checks init makes again and the build made
    // (tools/mkmanifest): a manifest that fails them starts nothing.
    if (auto size = manifest::check_size(file->data.size()); size.is_error()) {
        log_error("init: manifest.bin {}", manifest::to_string(size.error().kind));
        return false;
    }
    size_t words = file->data.size() / sizeof(capnp::Word);
    auto memory = heap_allocate(words * sizeof(capnp::Word), alignof(capnp::Word));
    if (memory.is_error()) {
        log_error("init: no memory for the manifest");
        return false;
    }
    g_manifest_words = static_cast<capnp::Word*>(memory.value());
    __builtin_memcpy(g_manifest_words, file->data.data(), file->data.size());
    auto read = g_manifest.read(std::span<const capnp::Word>(g_manifest_words, words));
    if (read.is_error()) {
        const manifest::ReadError& error = read.error();
        if (error.kind == manifest::ReadErrorKind::Invalid)
            log_error("init: the manifest is invalid: {} '{}'", manifest::reason(error),
                      error.invalid.subject);
        else
            log_error("init: manifest.bin {}: {}", manifest::to_string(error.kind),
                      manifest::reason(error));
        return false;
    }
    schema::SystemManifest::Reader manifest = read.value();
    // From here on the log shows what the manifest asks for (unless the
    // command line chose a level).
    log_set_manifest_level(manifest.kernel().log_level());
    set_boot_package(archive, manifest, file->data);
    schema::InitConfig::Reader init = manifest.init();
    auto elf = find_boot_binary(init.program());
    if (!elf) {
        log_error("init: no binary '{}' in the manifest and archive", init.program());
        return false;
    }

    // The monitor exists before the baseline is taken, so that only what init
    // itself causes is counted.
    auto created_monitor = Thread::create(nullptr, init_monitor, nullptr);
    if (created_monitor.is_error()) {
        log_error("init: no memory for the monitor thread");
        return false;
    }
    RefPtr<Thread> monitor = created_monitor.release_value();
    create_kernel_services();
    g_init.free_frames_before = frame_stats().free_frames + heap_stats().footprint_frames;
    g_init.heap_before = heap_stats();
    g_init.shutdown_after = command_line.has_flag("shutdown");
    auto process = Process::create(init.program());
    if (process.is_error()) {
        log_error("init: cannot create the process: {}", to_string(process.error()));
        return false;
    }
    if (process.value()->load(*elf).is_error())
        return false;
    if (!grant_kernel_capabilities(*process.value(), init))
        return false;
    if (auto prepared = process.value()->prepare_start(); prepared.is_error()) {
        log_error("init: cannot start: {}", to_string(prepared.error()));
        return false;
    }
    process.value()->start();
    log_info("init: started '{}' as process {}", init.program(), process.value()->id());
    g_init.process = process.release_value();

    Scheduler::make_ready(std::move(monitor));
    return true;
}

} // namespace capos::kernel
