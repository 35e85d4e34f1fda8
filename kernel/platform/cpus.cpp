#include "kernel/platform/cpus.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/kernel_stack.h"
#include "kernel/platform/acpi.h"
#include "kernel/sched/scheduler.h"
#include "lib/base/cmdline.h"

namespace capos::kernel {

namespace {

constexpr uint64_t cpu_stack_pages = 8;
constexpr uint64_t emergency_stack_pages = 2;

CAPOS_LARGE_BSS CpuRecord g_cpus[AcpiPlatform::max_cpus];
static_assert(KernelLock::max_cpus >= AcpiPlatform::max_cpus);
size_t g_cpu_count = 1; // the boot CPU's record is there from the start

void on_test_interrupt(uint8_t) {
    CpuRecord& self = current_cpu();
    if (auto call = __atomic_exchange_n(&self.test_call, nullptr, __ATOMIC_ACQUIRE))
        call(self.test_argument);
    __atomic_fetch_add(&self.test_interrupts, 1, __ATOMIC_RELEASE);
}

// Another CPU, once started: it waits for the scheduler to start (the boot
// CPU wakes it then), starts its timer and runs threads.
[[noreturn]] void cpu_main(void* argument) {
    auto* record = static_cast<CpuRecord*>(argument);
    record->online_at = arch::read_cycle_counter();
    __atomic_store_n(&record->online, true, __ATOMIC_RELEASE);
    while (!Scheduler::started())
        cpu_idle_wait();
    g_kernel_lock.enter();
    arch::timer_init(timer_hz, cycles_per_microsecond());
    Scheduler::run();
}

std::optional<uint64_t> stack_top(uint64_t pages) {
    auto stack = allocate_kernel_stack(pages);
    if (stack.is_error())
        return std::nullopt;
    return stack.value().top;
}

// Parses `cpus=<n>` (n >= 1); no limit without it.
size_t cpu_limit(const CommandLine& command_line) {
    auto value = command_line.value("cpus");
    if (!value)
        return AcpiPlatform::max_cpus;
    size_t n = 0;
    bool number = !value->empty() && value->size() < 4;
    for (char c : *value) {
        number = number && c >= '0' && c <= '9';
        n = n * 10 + size_t(c - '0');
    }
    if (!number || n == 0) {
        log_warn("boot: cpus wants a number of CPUs from 1, not '{}'", *value);
        return AcpiPlatform::max_cpus;
    }
    return n;
}

} // namespace

void cpus_init(std::string_view command_line_text) {
    CommandLine command_line(command_line_text);
    CpuRecord& boot = g_cpus[0];
    boot.index = 0;
    boot.interrupt_id = arch::this_cpu_interrupt_id();
    boot.online = true;
    boot.online_at = 0; // the cycle counter starts at reset
    arch::set_interrupt_handler(arch::ipi_vector_test, on_test_interrupt);

    const AcpiPlatform& platform = acpi_platform();
    size_t limit = cpu_limit(command_line);
    size_t others = 0;
    for (size_t i = 0; i < platform.cpu_count; ++i)
        others += platform.cpu_enabled[i] && platform.cpu_apic_ids[i] != boot.interrupt_id;
    if (others > 0 && limit > 1) {
        auto prepared = arch::cpu_start_prepare();
        if (prepared.is_error()) {
            log_error("smp: cannot start the other CPUs: {}", arch::to_string(prepared.error()));
            others = 0;
        }
    }
    size_t skipped = 0;
    for (size_t i = 0; i < platform.cpu_count && others > 0; ++i) {
        uint32_t id = platform.cpu_apic_ids[i];
        if (!platform.cpu_enabled[i] || id == boot.interrupt_id)
            continue;
        if (g_cpu_count >= limit) {
            ++skipped;
            continue;
        }
        CpuRecord& record = g_cpus[g_cpu_count];
        record.index = uint32_t(g_cpu_count);
        record.interrupt_id = id;
        auto stack = stack_top(cpu_stack_pages);
        auto double_fault = stack_top(emergency_stack_pages);
        auto nmi = stack_top(emergency_stack_pages);
        auto machine_check = stack_top(emergency_stack_pages);
        if (!stack || !double_fault || !nmi || !machine_check) {
            log_error("smp: no memory for the stacks of the CPU with APIC id {}", id);
            break;
        }
        arch::CpuStart start{.index = record.index,
                             .stack_top = *stack,
                             .double_fault_top = *double_fault,
                             .nmi_top = *nmi,
                             .machine_check_top = *machine_check,
                             .entry = cpu_main,
                             .argument = &record};
        ++g_cpu_count;
        auto started = arch::start_cpu(id, start);
        if (started.is_error()) {
            log_error("smp: CPU {} (APIC id {}) did not start: {}", record.index, id,
                      arch::to_string(started.error()));
            continue;
        }
        // It says it is online after it has left the start-up code.
        for (int spins = 0; spins < 100000000 && !__atomic_load_n(&record.online, __ATOMIC_ACQUIRE);
             ++spins)
            __builtin_ia32_pause();
        log_info("smp: CPU {} (APIC id {}) online", record.index, id);
    }
    if (others > 0 && limit > 1)
        arch::cpu_start_finish();
    size_t online = 0;
    for (size_t i = 0; i < g_cpu_count; ++i)
        online += g_cpus[i].online;
    if (skipped > 0)
        log_info("smp: {} CPUs left off (cpus={})", skipped, limit);
    log_info("smp: {} of {} CPUs online", online, g_cpu_count);
}

size_t cpu_count() {
    return g_cpu_count;
}

CpuRecord& cpu_record(size_t index) {
    VERIFY(index < g_cpu_count);
    return g_cpus[index];
}

void cpu_idle_wait() {
    CpuRecord& self = current_cpu();
    // Every CPU but the boot CPU stops its tick while idle: work for it
    // comes with an interprocessor interrupt (Scheduler::enqueue, and a busy
    // CPU's tick pushing work its way), and the boot CPU's tick wakes the
    // sleepers. The switch away from the idle thread starts it again.
    if (self.index != 0)
        arch::timer_pause();
    __atomic_store_n(&self.idle_since, arch::read_cycle_counter(), __ATOMIC_RELAXED);
    arch::wait_for_interrupt();
    cpu_idle_end();
}

// Read by the CPU listing, on any CPU: whole words, stored atomically.
void cpu_idle_end() {
    CpuRecord& self = current_cpu();
    uint64_t since = self.idle_since;
    if (since == 0)
        return;
    __atomic_store_n(&self.idle_cycles, self.idle_cycles + (arch::read_cycle_counter() - since),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&self.idle_since, uint64_t(0), __ATOMIC_RELAXED);
}

uint64_t cpu_idle_cycles(const CpuRecord& cpu, uint64_t now) {
    uint64_t since = __atomic_load_n(&cpu.idle_since, __ATOMIC_RELAXED);
    uint64_t idle = __atomic_load_n(&cpu.idle_cycles, __ATOMIC_RELAXED);
    return idle + (since != 0 && now > since ? now - since : 0);
}

CpuRecord& current_cpu() {
    return g_cpus[arch::current_cpu_index()];
}

} // namespace capos::kernel
