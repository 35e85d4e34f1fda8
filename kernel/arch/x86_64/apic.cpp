// Interrupt controllers and the timer.
//
// The local APIC runs in x2APIC mode (MSRs) when the CPU has it and the
// command line does not say `x2apic=off`, else in xAPIC mode (memory-mapped
// registers). It delivers the periodic timer, calibrated against the cycle
// counter, and sends and receives interprocessor interrupts.
//
// ISA interrupts (the console UART's) go through the I/O APICs the MADT
// lists, with its interrupt source overrides, to the boot CPU; every pin is
// masked until a device asks for it. Without an I/O APIC (or with
// `ioapic=off`) they go through the 8259 PICs to the local APIC's LINT0 in
// virtual-wire mode. The PICs are remapped out of the exception range and
// masked either way.
//
// A vector nobody registered is acknowledged and counted, never fatal; so are
// the PICs' spurious IRQs 7 and 15 and the local APIC's spurious vector.
#include "kernel/arch/x86_64/apic.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/tlb.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/platform/acpi.h"
#include "lib/apic/apic.h"
#include "lib/base/cmdline.h"

namespace capos::kernel::x86 {
void set_handler(uint8_t vector, arch::InterruptHandler handler);
bool g_stopping = false;     // stop_other_cpus asked every other CPU to stop
uint32_t g_stopped = 0;      // ... and so many said they did
uint32_t g_cpus_started = 0; // CPUs started besides the boot CPU (smp.cpp)
} // namespace capos::kernel::x86

namespace capos::kernel::arch {

namespace {

using apic::Register;

using x86::timer_vector;
constexpr uint8_t isa_vector_base = 0x30;     // ISA IRQ n through an I/O APIC: 0x30 + n
constexpr uint8_t device_vector_first = 0x40; // MSI and MSI-X: 0x40 to 0xDF
constexpr uint8_t device_vector_last = 0xDF;
constexpr uint8_t legacy_pic_base = 0xE0; // the PICs' vectors, masked but for routed lines
constexpr uint8_t spurious_vector = 0xFF;

struct LocalApic {
    bool x2apic = false;
    volatile uint32_t* mmio = nullptr;
    uint64_t physical = 0;

    uint32_t read(Register reg) const {
        if (x2apic)
            return uint32_t(x86::rdmsr(apic::x2apic_msr(reg)));
        return mmio[uint32_t(reg) / 4];
    }
    void write(Register reg, uint32_t value) const {
        if (x2apic)
            x86::wrmsr(apic::x2apic_msr(reg), value);
        else
            mmio[uint32_t(reg) / 4] = value;
    }
    uint32_t id() const { return apic::local_apic_id(read(Register::Id), x2apic); }
    void end_of_interrupt() const { write(Register::EndOfInterrupt, 0); }
};

LocalApic g_local;

struct IoApic {
    volatile uint32_t* mmio = nullptr;
    uint32_t id = 0;
    uint32_t gsi_base = 0;
    uint32_t pins = 0;

    uint32_t read(uint8_t reg) const {
        mmio[apic::ioapic_select_offset / 4] = reg;
        return mmio[apic::ioapic_window_offset / 4];
    }
    void write(uint8_t reg, uint32_t value) const {
        mmio[apic::ioapic_select_offset / 4] = reg;
        mmio[apic::ioapic_window_offset / 4] = value;
    }
    uint64_t redirection(uint32_t pin) const {
        return uint64_t(read(apic::ioapic_redirection_high(pin))) << 32 |
               read(apic::ioapic_redirection_low(pin));
    }
    void set_redirection(uint32_t pin, uint64_t value) const {
        // Masked while the halves disagree.
        write(apic::ioapic_redirection_low(pin), uint32_t(value) | (1u << 16));
        write(apic::ioapic_redirection_high(pin), uint32_t(value >> 32));
        write(apic::ioapic_redirection_low(pin), uint32_t(value));
    }
};

IoApic g_io_apics[AcpiPlatform::max_io_apics];
size_t g_io_apic_count = 0;
uint32_t g_io_apic_gsi_bases[AcpiPlatform::max_io_apics];
uint32_t g_io_apic_pin_counts[AcpiPlatform::max_io_apics];
apic::SourceOverride g_overrides[AcpiPlatform::max_overrides];
size_t g_override_count = 0;

apic::IsaRoute isa_route(uint8_t irq) {
    return apic::route_isa_irq(irq, {g_overrides, g_override_count});
}
std::optional<apic::IoApicPin> io_apic_pin(uint32_t gsi) {
    return apic::find_io_apic_pin(gsi, {g_io_apic_gsi_bases, g_io_apic_count},
                                  {g_io_apic_pin_counts, g_io_apic_count});
}

// Counters of what arrived without being asked for.
InterruptCounts g_counts;

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

// Every vector the local APIC delivers (all but the PICs' and the spurious
// one) comes here: acknowledged first (all are edge-triggered, and a handler
// may switch threads and not come back soon), then handed to its handler.
// One nobody registered is counted: without the acknowledgement its
// in-service bit would hold off every interrupt of its priority and below.
CAPOS_LARGE_BSS InterruptHandler g_handlers[256];
CAPOS_LARGE_BSS bool g_device_vector_taken[device_vector_last - device_vector_first + 1];
uint32_t g_boot_apic_id = 0;

void on_local_apic_vector(uint8_t vector) {
    g_local.end_of_interrupt();
    if (InterruptHandler handler = g_handlers[vector])
        handler(vector);
    else if (g_counts.unexpected++ == 0)
        log_warn("interrupt: unexpected vector {} (counted; reported once)", vector);
}

void on_timer(uint8_t) {
    handle_timer_tick();
}

void on_spurious(uint8_t) {
    ++g_counts.spurious; // no EOI for the spurious vector
}

// The handlers of ISA IRQs, by IRQ, whichever controller brings them.
InterruptHandler g_isa_handlers[16] = {};

void on_isa_through_io_apic(uint8_t vector) {
    g_isa_handlers[vector - isa_vector_base](vector);
}

uint8_t g_legacy_mask[2] = {0xFF, 0xFF}; // master, slave: what is masked

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
    if (irq == 7 && !(pic_in_service(0x20) & 0x80)) {
        ++g_counts.spurious;
        return;
    }
    if (irq == 15 && !(pic_in_service(0xA0) & 0x80)) {
        ++g_counts.spurious;
        x86::outb(0x20, 0x20);
        return;
    }
    if (g_isa_handlers[irq])
        g_isa_handlers[irq](vector);
    else if (g_counts.unexpected++ == 0)
        log_warn("interrupt: unexpected legacy PIC line {} (counted; reported once)", irq);
    if (irq >= 8)
        x86::outb(0xA0, 0x20);
    x86::outb(0x20, 0x20);
}

// Enables the local APIC of the CPU running this, in the mode chosen at boot:
// software-enabled with the spurious vector, nothing above priority 0
// blocked, LINT0 masked (enable_isa_irq unmasks it for the PICs), LINT1 NMI.
void local_apic_enable() {
    uint64_t base = x86::rdmsr(apic::msr_apic_base);
    // xAPIC, then x2APIC: the architecture forbids going there from disabled.
    x86::wrmsr(apic::msr_apic_base, base | apic::apic_base_enable);
    if (g_local.x2apic)
        x86::wrmsr(apic::msr_apic_base, base | apic::apic_base_enable | apic::apic_base_x2apic);
    g_local.write(Register::TaskPriority, 0);
    g_local.write(Register::SpuriousVector, 0x100 | spurious_vector); // software enable
    g_local.write(Register::LvtLint0, 1u << 16);                      // masked
    g_local.write(Register::LvtLint1, uint32_t(apic::DeliveryMode::Nmi) << 8);
}

void local_apic_init(const CommandLine& command_line) {
    uint64_t base = x86::rdmsr(apic::msr_apic_base);
    bool has_x2apic = (x86::cpuid(1).ecx & (1u << 21)) != 0;
    g_local.x2apic = has_x2apic && command_line.value("x2apic") != "off";
    g_local.physical = base & apic::apic_base_address_mask;
    if (!g_local.x2apic) {
        auto mapped = map_mmio(g_local.physical, 4096);
        if (mapped.is_error())
            panic("apic: cannot map the local APIC at {}", Hex{g_local.physical});
        g_local.mmio = reinterpret_cast<volatile uint32_t*>(mapped.value());
    }
    local_apic_enable();
    g_boot_apic_id = g_local.id();
    log_info("interrupt: local APIC id {} in {} mode{}", g_local.id(),
             g_local.x2apic ? "x2APIC" : "xAPIC",
             has_x2apic ? (g_local.x2apic ? "" : " (x2APIC turned off)")
                        : " (the CPU has no x2APIC)");
}

void io_apics_init(const CommandLine& command_line) {
    const AcpiPlatform& platform = acpi_platform();
    for (size_t i = 0; i < platform.override_count && i < AcpiPlatform::max_overrides; ++i) {
        const auto& o = platform.overrides[i];
        g_overrides[g_override_count++] = {o.source, o.gsi, o.flags};
    }
    if (command_line.value("ioapic") == "off") {
        log_info("interrupt: I/O APICs turned off: ISA interrupts through the 8259 PICs");
        return;
    }
    if (platform.io_apic_count == 0) {
        log_info("interrupt: no I/O APIC in the MADT: ISA interrupts through the 8259 PICs");
        return;
    }
    for (size_t i = 0; i < platform.io_apic_count && i < AcpiPlatform::max_io_apics; ++i) {
        const auto& entry = platform.io_apics[i];
        auto mapped = map_mmio(entry.address, 4096);
        if (mapped.is_error()) {
            log_warn("interrupt: cannot map the I/O APIC at {}: left out", Hex{entry.address});
            continue;
        }
        IoApic& io = g_io_apics[g_io_apic_count];
        io.mmio = reinterpret_cast<volatile uint32_t*>(mapped.value());
        io.id = entry.id;
        io.gsi_base = entry.gsi_base;
        io.pins = apic::ioapic_pin_count(io.read(apic::ioapic_version_register));
        for (uint32_t pin = 0; pin < io.pins; ++pin)
            io.set_redirection(pin, apic::encode_redirection({}));
        g_io_apic_gsi_bases[g_io_apic_count] = io.gsi_base;
        g_io_apic_pin_counts[g_io_apic_count] = io.pins;
        ++g_io_apic_count;
        log_info("interrupt: I/O APIC {} at {}: GSIs {}-{}, all masked", io.id, Hex{entry.address},
                 io.gsi_base, io.gsi_base + io.pins - 1);
    }
}

} // namespace

void interrupt_controllers_init(std::string_view command_line_text) {
    CommandLine command_line(command_line_text);
    mask_legacy_pics();
    for (uint8_t v = legacy_pic_base; v < legacy_pic_base + 16; ++v)
        x86::set_handler(v, on_legacy_pic);
    for (int v = 32; v < 256; ++v) {
        if (v < legacy_pic_base || v >= legacy_pic_base + 16)
            x86::set_handler(uint8_t(v), on_local_apic_vector);
    }
    x86::set_handler(spurious_vector, on_spurious);
    local_apic_init(command_line);
    io_apics_init(command_line);
    x86::tlb_cpu_ready();
}

namespace {
constinit uint32_t g_timer_period = 0; // the initial count of every CPU's periodic timer
} // namespace

// A periodic timer stops when its initial count is written 0 and starts over
// when the count is written again.
void timer_pause() {
    x86::Cpu& cpu = x86::this_cpu();
    if (cpu.timer_paused || g_timer_period == 0)
        return;
    g_local.write(Register::TimerInitialCount, 0);
    cpu.timer_paused = true;
}

void timer_resume() {
    x86::Cpu& cpu = x86::this_cpu();
    if (!cpu.timer_paused)
        return;
    g_local.write(Register::TimerInitialCount, g_timer_period);
    cpu.timer_paused = false;
}

void timer_init(uint32_t hz, uint64_t cycles_per_microsecond) {
    VERIFY(g_local.x2apic || g_local.mmio != nullptr);
    g_local.write(Register::TimerDivide, 0x3);
    static uint32_t ticks_per_10ms = 0; // the boot CPU's calibration, for all
    bool calibrated = ticks_per_10ms != 0;
    if (!calibrated) {
        // Count APIC timer ticks (divide by 16) across 10 ms of the cycle counter.
        g_local.write(Register::LvtTimer, 1 << 16); // masked, one-shot
        g_local.write(Register::TimerInitialCount, 0xFFFFFFFF);
        uint64_t start = read_cycle_counter();
        while (read_cycle_counter() - start < 10000 * cycles_per_microsecond) {
        }
        ticks_per_10ms = 0xFFFFFFFF - g_local.read(Register::TimerCurrentCount);
        g_local.write(Register::TimerInitialCount, 0);
    }

    uint64_t period = uint64_t(ticks_per_10ms) * 100 / hz;
    if (period == 0)
        period = 1;
    g_timer_period = uint32_t(period);
    set_interrupt_handler(timer_vector, on_timer);
    g_local.write(Register::LvtTimer, timer_vector | (1 << 17)); // periodic
    g_local.write(Register::TimerInitialCount, uint32_t(period));
    if (!calibrated)
        log_info("timer: local APIC {} ticks per 10 ms, {} Hz", ticks_per_10ms, hz);
}

void enable_isa_irq(uint8_t irq, InterruptHandler handler) {
    VERIFY(irq < 16 && irq != 2 && handler != nullptr);
    g_isa_handlers[irq] = handler;
    if (g_io_apic_count > 0) {
        apic::IsaRoute route = isa_route(irq);
        auto pin = io_apic_pin(route.gsi);
        uint32_t destination = g_local.id();
        if (pin && destination <= 0xFF) {
            uint8_t vector = uint8_t(isa_vector_base + irq);
            set_interrupt_handler(vector, on_isa_through_io_apic);
            const IoApic& io = g_io_apics[pin->io_apic];
            io.set_redirection(pin->pin, apic::encode_redirection({
                                             .vector = vector,
                                             .polarity = route.polarity,
                                             .trigger = route.trigger,
                                             .masked = false,
                                             .destination = uint8_t(destination),
                                         }));
            log_info("interrupt: ISA IRQ {} is GSI {} (I/O APIC {} pin {}, {}, active {}), vector "
                     "{}",
                     irq, route.gsi, io.id, pin->pin,
                     route.trigger == apic::Trigger::Edge ? "edge" : "level",
                     route.polarity == apic::Polarity::ActiveHigh ? "high" : "low", Hex{vector});
            return;
        }
        log_warn("interrupt: ISA IRQ {} (GSI {}) has no I/O APIC pin: through the 8259 PICs", irq,
                 route.gsi);
    }
    // The PICs reach the CPU through LINT0 as external interrupts.
    g_local.write(Register::LvtLint0, uint32_t(apic::DeliveryMode::ExtInt) << 8);
    if (irq >= 8) {
        g_legacy_mask[1] &= uint8_t(~(1u << (irq - 8)));
        g_legacy_mask[0] &= uint8_t(~(1u << 2)); // the cascade
    } else {
        g_legacy_mask[0] &= uint8_t(~(1u << irq));
    }
    x86::outb(0x21, g_legacy_mask[0]);
    x86::outb(0xA1, g_legacy_mask[1]);
}

uint32_t this_cpu_interrupt_id() {
    return g_local.id();
}

bool send_ipi(uint32_t target, uint8_t vector) {
    return x86::apic_send({.vector = vector, .destination = target});
}

void send_ipi_self(uint8_t vector) {
    x86::apic_send({.vector = vector, .shorthand = apic::Shorthand::Self});
}

InterruptCounts interrupt_counts() {
    return g_counts;
}

std::optional<IsaRouteState> isa_route_state(uint8_t irq) {
    if (g_io_apic_count == 0 || irq >= 16)
        return std::nullopt;
    apic::IsaRoute route = isa_route(irq);
    auto pin = io_apic_pin(route.gsi);
    if (!pin)
        return std::nullopt;
    apic::Redirection entry =
        apic::decode_redirection(g_io_apics[pin->io_apic].redirection(pin->pin));
    return IsaRouteState{.gsi = route.gsi,
                         .vector = entry.vector,
                         .masked = entry.masked,
                         .level = entry.trigger == apic::Trigger::Level,
                         .active_low = entry.polarity == apic::Polarity::ActiveLow,
                         .destination = entry.destination};
}

void set_interrupt_handler(uint8_t vector, InterruptHandler handler) {
    VERIFY(vector >= 32 && vector != spurious_vector &&
           (vector < legacy_pic_base || vector >= legacy_pic_base + 16));
    g_handlers[vector] = handler;
}

// Given up and taken back: held on return as on entry.
std::optional<uint8_t> allocate_device_vector(InterruptHandler handler) {
    VERIFY(handler != nullptr);
    for (unsigned v = device_vector_first; v <= device_vector_last; ++v) {
        if (!g_device_vector_taken[v - device_vector_first]) {
            g_device_vector_taken[v - device_vector_first] = true;
            g_handlers[v] = handler;
            return uint8_t(v);
        }
    }
    return std::nullopt;
}

void free_device_vector(uint8_t vector) {
    VERIFY(vector >= device_vector_first && vector <= device_vector_last &&
           g_device_vector_taken[vector - device_vector_first]);
    g_handlers[vector] = nullptr;
    g_device_vector_taken[vector - device_vector_first] = false;
}

std::optional<MessageSignal> device_vector_message(uint8_t vector, uint32_t interrupt_id) {
    auto message = apic::msi_message(interrupt_id, vector);
    if (!message)
        return std::nullopt;
    return MessageSignal{message->address, message->data};
}

size_t stop_other_cpus() {
    // Before the local APIC is set up no other CPU runs.
    if (!g_local.x2apic && g_local.mmio == nullptr)
        return 0;
    if (__atomic_exchange_n(&x86::g_stopping, true, __ATOMIC_ACQ_REL))
        return __atomic_load_n(&x86::g_stopped, __ATOMIC_ACQUIRE); // asked already
    (void)x86::apic_send(
        {.mode = apic::DeliveryMode::Nmi, .shorthand = apic::Shorthand::AllExcludingSelf});
    uint32_t others = __atomic_load_n(&x86::g_cpus_started, __ATOMIC_ACQUIRE);
    uint64_t start = read_cycle_counter();
    while (__atomic_load_n(&x86::g_stopped, __ATOMIC_ACQUIRE) < others &&
           read_cycle_counter() - start < 1000000 * cycles_per_microsecond())
        __builtin_ia32_pause();
    return __atomic_load_n(&x86::g_stopped, __ATOMIC_ACQUIRE);
}

void open_interrupt_window() CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    interrupts_off::end();
    g_kernel_lock.leave();
    asm volatile("sti; nop; cli" ::: "memory");
    g_kernel_lock.enter();
    interrupts_off::begin();
}

void wait_for_interrupt() {
    interrupts_off::end();
    asm volatile("sti; hlt; cli" ::: "memory");
}

} // namespace capos::kernel::arch

namespace capos::kernel::x86 {

using apic::Register;

void local_apic_enable_this_cpu() {
    arch::local_apic_enable();
}

uint32_t local_apic_id() {
    return arch::g_local.id();
}

void local_apic_end_of_interrupt() {
    arch::g_local.end_of_interrupt();
}

bool apic_send(const apic::Ipi& ipi) {
    if (arch::g_local.x2apic) {
        wrmsr(apic::x2apic_msr(Register::InterruptCommand), apic::x2apic_icr(ipi));
        return true;
    }
    auto high = apic::xapic_icr_high(ipi.destination);
    if (!high)
        return false;
    uint64_t state = arch::interrupts_save_disable(); // the two halves go together
    arch::g_local.write(Register::InterruptCommandHigh, *high);
    arch::g_local.write(Register::InterruptCommand, apic::icr_low(ipi));
    for (int spins = 0; spins < 1000000; ++spins) {
        if (!(arch::g_local.read(Register::InterruptCommand) & apic::icr_delivery_pending))
            break;
        __builtin_ia32_pause();
    }
    arch::interrupts_restore(state);
    return true;
}

} // namespace capos::kernel::x86
