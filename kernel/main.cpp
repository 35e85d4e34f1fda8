// Kernel start-up, from the boot code's first call to the "ready" line.
//
// 1. kernel_entry (boot page tables, boot stack): console, CPU tables, clock,
//    boot information, frame allocator, kernel page tables, protections,
//    guarded stacks.
// 2. kernel_main (guarded stack): heap, boot archive, scheduler and timer,
//    init, then either the test the command line names or the ready state.
//
// The kernel has no global constructors: every global is constant-initialized
// (kernel.image_checks fails on a non-empty .init_array), so nothing can be
// re-initialized after it is in use.
#include "kernel/arch/arch.h"
#include "kernel/boot/boot_archive.h"
#include "kernel/boot/boot_info.h"
#include "kernel/boot/init.h"
#include "kernel/ipc/ring.h"
#include "kernel/ipc/timed_answer.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/lib/stage_clock.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/kernel_stack.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/reclaim.h"
#include "kernel/platform/acpi.h"
#include "kernel/platform/cpus.h"
#include "kernel/platform/iommu.h"
#include "kernel/platform/pci.h"
#include "kernel/sched/scheduler.h"
#include "kernel/test/kernel_tests.h"
#include "lib/base/cmdline.h"

namespace capos::kernel {

namespace {

CAPOS_LARGE_DATA constinit BootInfo g_boot;
uint64_t g_cycles_per_microsecond = 0;
constexpr uint64_t main_stack_pages = 8;
constexpr uint64_t emergency_stack_pages = 2;

void apply_log_level(const CommandLine& command_line) {
    auto level = command_line.value("loglevel");
    if (!level)
        return;
    if (auto named = log_level_named(*level))
        log_set_level(*named);
    else
        log_warn("boot: unknown loglevel '{}' (error, warn, info, debug)", *level);
}

void log_memory_map() {
    for (size_t i = 0; i < g_boot.memory_count; ++i) {
        const MemoryRange& m = g_boot.memory[i];
        log_info("memory: [{} - {}] {} ({})", Hex{m.range.base, 16}, Hex{m.range.end() - 1, 16},
                 to_string(m.type), Size{m.range.length});
    }
    FrameStats stats = frame_stats();
    log_info("memory: {} usable, {} free frames ({})", Size{stats.usable_bytes}, stats.free_frames,
             Size{stats.free_frames * page_size});
}

uint64_t guarded_stack_top(uint64_t pages, const char* purpose) {
    auto stack = allocate_kernel_stack(pages);
    if (stack.is_error())
        panic("boot: no memory for the {} stack", purpose);
    return stack.value().top;
}

[[noreturn]] void kernel_main() {
    heap_init();
    CommandLine command_line(g_boot.command_line);
    arch::interrupt_controllers_init(g_boot.command_line);
    cpus_init(g_boot.command_line);
    g_kernel_lock.assert_held(); // the boot CPU's from the start
    iommu_enable();              // its fault interrupt goes to the boot CPU

    boot_archive_init(g_boot);
    const CpioArchive* archive = boot_archive();
    if (archive) {
        if (auto motd = archive->find("etc/motd")) {
            std::string_view text(reinterpret_cast<const char*>(motd->data.data()),
                                  motd->data.size());
            while (!text.empty() && text.back() == '\n')
                text.remove_suffix(1);
            log_info("motd: {}", text);
        }
    }

    if (auto test = command_line.value("test"))
        run_kernel_test(*test); // does not return
    if (auto bound = command_line.value("irqoff")) {
        uint64_t us = 0;
        bool number = !bound->empty();
        for (char c : *bound) {
            number = number && c >= '0' && c <= '9' && us < UINT64_MAX / 10;
            us = us * 10 + uint64_t(c - '0');
        }
        if (number)
            interrupts_off::configure(us);
        else
            log_warn("boot: irqoff wants a bound in microseconds, not '{}'", *bound);
    }

    Scheduler::init();
    ring_init(); // after Scheduler::init: gives each CPU's state its scratch
    if (auto path = command_line.value("ring")) {
        if (*path == "general") {
            ring_general_path_only();
            log_info("ring: every submission takes the general path");
        } else {
            log_warn("boot: ring wants 'general', not '{}'", *path);
        }
    }

    reclaim_start();
    Deadline::start();
    arch::syscall_init();
    arch::timer_init(timer_hz, g_cycles_per_microsecond);
    g_kernel_lock.assert_held(); // the boot CPU's from the start (kernel/lib/kernel_lock.h)
    bool init_started = archive && start_init(*archive, command_line);

    log_info("capOS ready");
    if (!init_started && command_line.has_flag("shutdown")) {
        // No init, nothing ran: a failed boot.
        log_info("shutdown requested on the command line");
        arch::exit_machine(abi::ExitCode::Failure);
    }
    Scheduler::run();
}

} // namespace

const BootInfo& boot_info() {
    return g_boot;
}

extern "C" [[noreturn]] void kernel_entry(uint32_t protocol, uint32_t info) {
    arch::console_init();
    arch::early_init();
    Scheduler::boot_cpu_init();
    g_cycles_per_microsecond = arch::calibrate_cycles_per_microsecond();
    log_start_clock(g_cycles_per_microsecond);
    stage_clock::calibrate();

    auto boot_protocol = static_cast<BootProtocol>(protocol);
    if (!parse_boot_info(boot_protocol, info, g_boot))
        panic("boot: cannot read the boot information");
    CommandLine command_line(g_boot.command_line);
    apply_log_level(command_line);

    log_info("capOS 0.1 for x86_64: {} boot{}{}", to_string(boot_protocol),
             g_boot.loader.empty() ? "" : " by ", g_boot.loader);
    log_info("command line: '{}'", g_boot.command_line);

    frames_init(g_boot);
    log_memory_map();

    kernel_map_init();
    arch::ProtectionFeatures protection = arch::enable_protection();
    log_info("cpu: NX {}, SMEP {}, SMAP {}", protection.nx ? "on" : "off",
             protection.smep ? "on" : "off (not supported)",
             protection.smap ? "on" : "off (not supported)");
    arch::UserStateFormat user_state = arch::user_state_init();
    log_info("cpu: user registers {}{}{} kept by {} ({} bytes a thread) for threads that use them",
             (user_state.components & 1) ? "x87" : "", (user_state.components & 2) ? " SSE" : "",
             (user_state.components & 0xE4) == 0xE4 ? " AVX AVX-512"
             : (user_state.components & 4)          ? " AVX"
                                                    : "",
             user_state.mechanism, user_state.size);
    acpi_init(g_boot);
    iommu_init();
    pci_init();

    arch::set_emergency_stacks(guarded_stack_top(emergency_stack_pages, "double-fault"),
                               guarded_stack_top(emergency_stack_pages, "NMI"),
                               guarded_stack_top(emergency_stack_pages, "machine-check"));
    arch::switch_stack_and_call(guarded_stack_top(main_stack_pages, "kernel"), kernel_main);
}

} // namespace capos::kernel
