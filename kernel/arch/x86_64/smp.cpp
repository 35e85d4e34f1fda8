// Starting the other CPUs (application processors): the start-up page below
// 1 MiB with ap_start.S's code, a start-up PML4 that also maps that page at
// its own address, and the INIT, start-up, start-up sequence of
// interprocessor interrupts (Intel SDM vol. 3, 8.4.4.1). One CPU is started
// at a time: the boot CPU waits until the new one has reached the kernel's
// tables and its own per-CPU area, or gives up on it.
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/apic.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/tlb.h"
#include "kernel/boot/boot_info.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frame_ledger.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/layout.h"
#include <new>

extern "C" const uint8_t capos_ap_start[], capos_ap_start_end[], capos_ap_protected[],
    capos_ap_long[], capos_ap_gdt[], capos_ap_field_gdt_base[], capos_ap_field_far32[],
    capos_ap_field_far64[], capos_ap_field_cr3[], capos_ap_field_stack[], capos_ap_field_entry[],
    capos_ap_field_argument[];

namespace capos::kernel {
const BootInfo& boot_info();
}
namespace capos::kernel::x86 {
void idt_load();
}

namespace capos::kernel::x86 {
extern uint32_t g_cpus_started;
}

namespace capos::kernel::arch {

namespace {

constexpr uint64_t start_page_lowest = 0x1000;
constexpr uint64_t start_page_end = 0x9F000; // below the EBDA and the video memory
constexpr uint64_t four_gib = 0x100000000ull;

uint64_t g_start_page = 0; // physical; 0: not prepared
PageTables g_start_tables = PageTables::active();
RefPtr<FrameLedger> g_start_ledger;

// What the boot CPU hands the new one. It lives on the boot CPU's stack while
// it waits; the new CPU copies what it needs before it says it has started.
struct Launch {
    x86::Cpu* cpu;
    CpuStart start;
    volatile bool started;
};

uint64_t offset_of(const uint8_t* label) {
    return uint64_t(label - capos_ap_start);
}

template <typename T>
void patch(const uint8_t* field, T value) {
    uint8_t* page = phys_to_ptr<uint8_t>(g_start_page);
    __builtin_memcpy(page + offset_of(field), &value, sizeof(T));
}

// A page of usable memory below 1 MiB that holds none of the loader's data;
// low memory is never handed out, so nothing else uses it.
std::optional<uint64_t> find_start_page() {
    const BootInfo& boot = boot_info();
    for (uint64_t page = start_page_end - page_size; page >= start_page_lowest; page -= page_size) {
        bool usable = false;
        for (size_t i = 0; i < boot.memory_count && !usable; ++i) {
            const MemoryRange& m = boot.memory[i];
            usable = m.type == MemoryType::Usable && page >= m.range.base &&
                     page + page_size <= m.range.end();
        }
        for (size_t i = 0; i < boot.boot_data_count && usable; ++i)
            usable = !boot.boot_data[i].overlaps({page, page_size});
        for (size_t i = 0; i < boot.module_count && usable; ++i)
            usable = !boot.modules[i].range.overlaps({page, page_size});
        if (usable)
            return page;
    }
    return std::nullopt;
}

void wait_microseconds(uint64_t us) {
    uint64_t start = read_cycle_counter();
    while (read_cycle_counter() - start < us * cycles_per_microsecond())
        __builtin_ia32_pause();
}

bool wait_started(const Launch& launch, uint64_t us) {
    uint64_t start = read_cycle_counter();
    while (read_cycle_counter() - start < us * cycles_per_microsecond()) {
        if (__atomic_load_n(&launch.started, __ATOMIC_ACQUIRE))
            return true;
        __builtin_ia32_pause();
    }
    return __atomic_load_n(&launch.started, __ATOMIC_ACQUIRE);
}

[[noreturn]] void cpu_entry(Launch* launch) {
    // Not activate(): that notes the tables in the per-CPU area, not set up
    // yet (tlb_cpu_ready notes them below).
    x86::write_cr3(kernel_page_tables().root());
    x86::Cpu& cpu = *launch->cpu;
    CpuStart start = launch->start;
    x86::cpu_tables_load(cpu, start.double_fault_top, start.nmi_top, start.machine_check_top);
    x86::idt_load();
    enable_protection();
    user_state_init();
    syscall_init();
    x86::local_apic_enable_this_cpu();
    cpu.apic_id = x86::local_apic_id();
    x86::tlb_cpu_ready();
    __atomic_fetch_add(&x86::g_cpus_started, 1u, __ATOMIC_RELEASE);
    __atomic_store_n(&launch->started, true, __ATOMIC_RELEASE);
    // `launch` is gone from here on.
    start.entry(start.argument);
    for (;;)
        asm volatile("sti; hlt; cli" ::: "memory");
}

} // namespace

const char* to_string(CpuStartError error) {
    switch (error) {
    case CpuStartError::NoStartPage:
        return "no free page below 1 MiB for the start-up code";
    case CpuStartError::TablesTooHigh:
        return "the start-up page tables are above 4 GiB";
    case CpuStartError::OutOfMemory:
        return "out of memory";
    case CpuStartError::CannotAddress:
        return "the interrupt controller cannot address it";
    case CpuStartError::NoAnswer:
        return "it did not answer the start-up interrupts";
    }
    return "?";
}

Result<void, CpuStartError> cpu_start_prepare() {
    auto page = find_start_page();
    if (!page)
        return Err{CpuStartError::NoStartPage};
    g_start_ledger = FrameLedger::create();
    if (!g_start_ledger)
        return Err{CpuStartError::OutOfMemory};
    auto tables = PageTables::create_address_space(kernel_page_tables(), *g_start_ledger);
    if (tables.is_error())
        return Err{CpuStartError::OutOfMemory};
    g_start_tables = tables.value();
    g_start_page = *page;
    if (g_start_tables
            .map(g_start_page, g_start_page, PageSize::Small, Access::ReadExecute,
                 Privilege::Kernel)
            .is_error()) {
        cpu_start_finish();
        return Err{CpuStartError::OutOfMemory};
    }
    if (g_start_tables.root() >= four_gib) {
        cpu_start_finish();
        return Err{CpuStartError::TablesTooHigh};
    }
    size_t length = size_t(capos_ap_start_end - capos_ap_start);
    VERIFY(length <= page_size);
    __builtin_memcpy(phys_to_ptr<uint8_t>(g_start_page), capos_ap_start, length);
    patch<uint32_t>(capos_ap_field_gdt_base, uint32_t(g_start_page + offset_of(capos_ap_gdt)));
    patch<uint32_t>(capos_ap_field_far32, uint32_t(g_start_page + offset_of(capos_ap_protected)));
    patch<uint32_t>(capos_ap_field_far64, uint32_t(g_start_page + offset_of(capos_ap_long)));
    patch<uint32_t>(capos_ap_field_cr3, uint32_t(g_start_tables.root()));
    patch<uint64_t>(capos_ap_field_entry, reinterpret_cast<uint64_t>(cpu_entry));
    return {};
}

void cpu_start_finish() {
    if (g_start_page == 0)
        return;
    if (g_start_tables.root() != 0)
        g_start_tables.destroy_address_space();
    g_start_ledger.reset();
    g_start_page = 0;
}

Result<void, CpuStartError> start_cpu(uint32_t interrupt_id, const CpuStart& start) {
    VERIFY(g_start_page != 0);
    auto* cpu = new (std::nothrow) x86::Cpu{};
    if (!cpu)
        return Err{CpuStartError::OutOfMemory};
    cpu->index = start.index;
    cpu->apic_id = interrupt_id;
    Launch launch{cpu, start, false};
    patch<uint64_t>(capos_ap_field_stack, start.stack_top);
    patch<uint64_t>(capos_ap_field_argument, reinterpret_cast<uint64_t>(&launch));

    if (!x86::apic_send({.mode = apic::DeliveryMode::Init,
                         .destination = interrupt_id,
                         .level_trigger = true})) {
        delete cpu;
        return Err{CpuStartError::CannotAddress};
    }
    wait_microseconds(10000);
    uint8_t page_number = uint8_t(g_start_page >> 12);
    for (int attempt = 0; attempt < 2; ++attempt) {
        x86::apic_send({.vector = page_number,
                        .mode = apic::DeliveryMode::Startup,
                        .destination = interrupt_id});
        if (wait_started(launch, attempt == 0 ? 200 : 1000000))
            return {};
    }
    // It may still arrive later and find `launch` gone: park it first.
    x86::apic_send(
        {.mode = apic::DeliveryMode::Init, .destination = interrupt_id, .level_trigger = true});
    delete cpu;
    return Err{CpuStartError::NoAnswer};
}

} // namespace capos::kernel::arch
