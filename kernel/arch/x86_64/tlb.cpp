#include "kernel/arch/x86_64/tlb.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"

namespace capos::kernel::x86 {

namespace {

constexpr size_t max_cpus = 64;
constexpr uint64_t address_mask = 0x000FFFFFFFFFF000ull;
constexpr uint64_t page_bytes = 4096;
// Up to this many pages a flush goes page by page, beyond it all at once.
constexpr uint64_t page_flush_limit = 32;

enum class Kind : uint32_t { Flush, Unload };

// One per CPU: what the CPU holding the kernel lock asks of it.
struct alignas(64) Request {
    uint64_t root = 0;
    uint64_t first = 0;
    uint64_t pages = 0;
    uint64_t replacement = 0;
    bool kernel_half = false;
    Kind kind = Kind::Flush;
    uint32_t pending = 0; // set by the asker, cleared by the CPU once done
};

// Cold: touched by shootdowns only (what every address-space switch
// touches is in the per-CPU area: Cpu::loaded_root).
CAPOS_LARGE_BSS Request g_requests[max_cpus];
CAPOS_LARGE_BSS Cpu* g_cpu_areas[max_cpus]; // set once each CPU is ready
uint32_t g_cpu_limit = 0;                   // one past the highest index that is ready

uint64_t loaded_root_of(uint32_t index) {
    return __atomic_load_n(&g_cpu_areas[index]->loaded_root, __ATOMIC_ACQUIRE);
}

void flush_here(uint64_t first, uint64_t pages, bool kernel_half) {
    if (pages <= page_flush_limit) {
        for (uint64_t i = 0; i < pages; ++i)
            invlpg(first + i * page_bytes);
    } else if (kernel_half) {
        // Global pages go only when CR4.PGE changes.
        uint64_t cr4 = read_cr4();
        write_cr4(cr4 & ~cr4_pge);
        write_cr4(cr4);
    } else {
        write_cr3(read_cr3());
    }
}

void on_shootdown(uint8_t) {
    arch::serve_tlb_requests();
}

// Asks CPU `index` to serve `request` (its slot is free: the asker holds the
// kernel lock and waits for every answer).
void ask(uint32_t index, const Request& request) {
    Request& slot = g_requests[index];
    slot.root = request.root;
    slot.first = request.first;
    slot.pages = request.pages;
    slot.replacement = request.replacement;
    slot.kernel_half = request.kernel_half;
    slot.kind = request.kind;
    __atomic_store_n(&slot.pending, 1u, __ATOMIC_RELEASE);
    VERIFY(arch::send_ipi(g_cpu_areas[index]->apic_id, arch::ipi_vector_tlb));
}

void wait_for_answers(const bool* asked) {
    for (uint32_t i = 0; i < g_cpu_limit; ++i) {
        if (!asked[i])
            continue;
        while (__atomic_load_n(&g_requests[i].pending, __ATOMIC_ACQUIRE) != 0)
            __builtin_ia32_pause();
    }
}

} // namespace

void load_root(uint64_t root) {
    write_cr3(root);
    __atomic_store_n(&this_cpu().loaded_root, root, __ATOMIC_RELEASE);
}

void tlb_cpu_ready() {
    Cpu& cpu = this_cpu();
    uint32_t index = cpu.index;
    VERIFY(index < max_cpus);
    if (index == 0)
        arch::set_interrupt_handler(arch::ipi_vector_tlb, on_shootdown);
    cpu.apic_id = arch::this_cpu_interrupt_id();
    __atomic_store_n(&cpu.loaded_root, read_cr3() & address_mask, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cpu_areas[index], &cpu, __ATOMIC_RELEASE);
    if (index + 1 > __atomic_load_n(&g_cpu_limit, __ATOMIC_RELAXED))
        __atomic_store_n(&g_cpu_limit, index + 1, __ATOMIC_RELEASE);
}

void shootdown(uint64_t root, bool kernel_half, uint64_t first, uint64_t pages) {
    uint32_t limit = __atomic_load_n(&g_cpu_limit, __ATOMIC_ACQUIRE);
    if (limit <= 1)
        return;
    uint32_t self = arch::current_cpu_index();
    bool asked[max_cpus] = {};
    bool any = false;
    Request request{.root = root,
                    .first = first & ~(page_bytes - 1),
                    .pages = pages,
                    .kernel_half = kernel_half,
                    .kind = Kind::Flush};
    for (uint32_t i = 0; i < limit; ++i) {
        if (i == self || !__atomic_load_n(&g_cpu_areas[i], __ATOMIC_ACQUIRE))
            continue;
        if (!kernel_half && loaded_root_of(i) != root)
            continue;
        ask(i, request);
        asked[i] = any = true;
    }
    if (any)
        wait_for_answers(asked);
}

void shootdown_unload(uint64_t root, uint64_t replacement) {
    uint32_t limit = __atomic_load_n(&g_cpu_limit, __ATOMIC_ACQUIRE);
    uint32_t self = arch::current_cpu_index();
    bool asked[max_cpus] = {};
    bool any = false;
    Request request{.root = root, .replacement = replacement, .kind = Kind::Unload};
    for (uint32_t i = 0; i < limit; ++i) {
        if (i == self || !__atomic_load_n(&g_cpu_areas[i], __ATOMIC_ACQUIRE) ||
            loaded_root_of(i) != root)
            continue;
        ask(i, request);
        asked[i] = any = true;
    }
    if (any)
        wait_for_answers(asked);
}

} // namespace capos::kernel::x86

namespace capos::kernel::arch {

void serve_tlb_requests() {
    uint32_t self = current_cpu_index();
    x86::Request& request = x86::g_requests[self];
    if (__atomic_load_n(&request.pending, __ATOMIC_ACQUIRE) == 0)
        return;
    uint64_t loaded = x86::read_cr3() & x86::address_mask;
    if (request.kind == x86::Kind::Unload) {
        if (loaded == request.root)
            x86::load_root(request.replacement);
    } else if (request.kernel_half || loaded == request.root) {
        x86::flush_here(request.first, request.pages, request.kernel_half);
    }
    __atomic_store_n(&request.pending, 0u, __ATOMIC_RELEASE);
}

} // namespace capos::kernel::arch
