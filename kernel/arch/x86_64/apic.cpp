// Interrupt controllers and the timer: the legacy 8259 PICs are remapped out of
// the exception range and masked but for the lines a device asked for (the
// console UART's), which reach the CPU through the local APIC's LINT0 in
// virtual-wire mode (ExtINT); the local APIC (xAPIC, MMIO) delivers a
// periodic timer interrupt calibrated against the cycle counter.
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/log.h"
#include "kernel/mm/kernel_map.h"

namespace capos::kernel::x86 {
void set_handler(uint8_t vector, arch::InterruptHandler handler);
}

namespace capos::kernel::arch {

namespace {

constexpr uint32_t msr_apic_base = 0x1B;
constexpr uint8_t timer_vector = 0x20;
constexpr uint8_t spurious_vector = 0xFF;
constexpr uint8_t legacy_pic_base = 0xE0; // PIC vectors land here, masked

enum ApicRegister : uint32_t {
    Id = 0x20,
    EndOfInterrupt = 0xB0,
    SpuriousVector = 0xF0,
    LvtTimer = 0x320,
    LvtLint0 = 0x350,
    TimerInitialCount = 0x380,
    TimerCurrentCount = 0x390,
    TimerDivide = 0x3E0,
};

volatile uint32_t* g_apic = nullptr;

uint32_t apic_read(ApicRegister reg) {
    return g_apic[reg / 4];
}
void apic_write(ApicRegister reg, uint32_t value) {
    g_apic[reg / 4] = value;
}

void mask_legacy_pics() {
    // ICW1..ICW4: init, vector base, cascade wiring, 8086 mode; then mask all.
    x86::outb(0x20, 0x11);
    x86::outb(0xA0, 0x11);
    x86::outb(0x21, legacy_pic_base);
    x86::outb(0xA1, legacy_pic_base + 8);
    x86::outb(0x21, 0x04);
    x86::outb(0xA1, 0x02);
    x86::outb(0x21, 0x01);
    x86::outb(0xA1, 0x01);
    x86::outb(0x21, 0xFF);
    x86::outb(0xA1, 0xFF);
}

void on_timer(uint8_t) {
    // Acknowledge first: the tick may switch threads and not come back soon.
    apic_write(EndOfInterrupt, 0);
    handle_timer_tick();
}

void on_spurious(uint8_t) {} // no EOI for spurious interrupts

// The handlers of the legacy lines unmasked by enable_legacy_irq.
InterruptHandler g_legacy_handlers[16] = {};
uint8_t g_legacy_mask[2] = {0xFF, 0xFF}; // master, slave: what is masked
uint64_t g_unexpected_legacy = 0;

// In-service register of a PIC (OCW3 read ISR).
uint8_t pic_in_service(uint16_t command_port) {
    x86::outb(command_port, 0x0B);
    return x86::inb(command_port);
}

void on_legacy_pic(uint8_t vector) {
    uint8_t irq = vector - legacy_pic_base;
    // IRQ 7 and 15 are what a PIC reports when the line it was raising went
    // away: spurious unless really in service, and then not acknowledged
    // (the slave's still needs the master's EOI for the cascade).
    if (irq == 7 && !(pic_in_service(0x20) & 0x80))
        return;
    if (irq == 15 && !(pic_in_service(0xA0) & 0x80)) {
        x86::outb(0x20, 0x20);
        return;
    }
    if (g_legacy_handlers[irq])
        g_legacy_handlers[irq](vector);
    else if (g_unexpected_legacy++ == 0)
        log_warn("interrupt: unexpected legacy PIC line {} (counted, reported once)", irq);
    if (irq >= 8)
        x86::outb(0xA0, 0x20);
    x86::outb(0x20, 0x20);
}

} // namespace

void timer_init(uint32_t hz, uint64_t cycles_per_microsecond) {
    mask_legacy_pics();
    for (uint8_t v = legacy_pic_base; v < legacy_pic_base + 16; ++v)
        x86::set_handler(v, on_legacy_pic);

    uint64_t base = x86::rdmsr(msr_apic_base);
    uint64_t phys = base & 0xFFFFFF000ull;
    auto mapped = map_mmio(phys, 4096);
    if (mapped.is_error())
        panic("apic: cannot map the local APIC at {}", Hex{phys});
    g_apic = reinterpret_cast<volatile uint32_t*>(mapped.value());
    x86::wrmsr(msr_apic_base, base | (1 << 11)); // global enable

    x86::set_handler(spurious_vector, on_spurious);
    apic_write(SpuriousVector, 0x100 | spurious_vector); // software enable

    // Count APIC timer ticks (divide by 16) across 10 ms of the cycle counter.
    apic_write(TimerDivide, 0x3);
    apic_write(LvtTimer, 1 << 16); // masked, one-shot
    apic_write(TimerInitialCount, 0xFFFFFFFF);
    uint64_t start = read_cycle_counter();
    while (read_cycle_counter() - start < 10000 * cycles_per_microsecond) {
    }
    uint32_t ticks_per_10ms = 0xFFFFFFFF - apic_read(TimerCurrentCount);
    apic_write(TimerInitialCount, 0);

    uint64_t period = uint64_t(ticks_per_10ms) * 100 / hz;
    if (period == 0)
        period = 1;
    x86::set_handler(timer_vector, on_timer);
    apic_write(LvtTimer, timer_vector | (1 << 17)); // periodic
    apic_write(TimerInitialCount, uint32_t(period));
    log_info("timer: local APIC {} ticks per 10 ms, {} Hz", ticks_per_10ms, hz);
}

void enable_legacy_irq(uint8_t irq, InterruptHandler handler) {
    VERIFY(irq < 16 && irq != 2 && g_apic != nullptr);
    g_legacy_handlers[irq] = handler;
    // The PICs reach the CPU through LINT0 as external interrupts (what
    // firmware sets up for the boot CPU; set here, since not every boot path
    // leaves it so).
    apic_write(LvtLint0, 0x700);
    if (irq >= 8) {
        g_legacy_mask[1] &= uint8_t(~(1u << (irq - 8)));
        g_legacy_mask[0] &= uint8_t(~(1u << 2)); // the cascade
    } else {
        g_legacy_mask[0] &= uint8_t(~(1u << irq));
    }
    x86::outb(0x21, g_legacy_mask[0]);
    x86::outb(0xA1, g_legacy_mask[1]);
}

void set_interrupt_handler(uint8_t vector, InterruptHandler handler) {
    x86::set_handler(vector, handler);
}

void open_interrupt_window() {
    interrupts_off::end();
    asm volatile("sti; nop; cli" ::: "memory");
    interrupts_off::begin();
}

void wait_for_interrupt() {
    interrupts_off::end();
    asm volatile("sti; hlt; cli" ::: "memory");
}

} // namespace capos::kernel::arch
