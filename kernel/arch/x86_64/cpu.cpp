// The arch.h entry points that are not tables or the console: protection
// features, the cycle counter, stack switching, and stopping the machine.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/gdt.h"

extern "C" [[noreturn]] void capos_switch_stack_and_call(uint64_t stack_top, void (*entry)());

namespace capos::kernel::x86 {
void idt_init();
}

namespace capos::kernel::x86 {
constinit bool smap_enabled = false;
}

namespace capos::kernel::arch {

void early_init() {
    x86::gdt_init();
    x86::idt_init();
}

ProtectionFeatures protection_state() {
    return {
        .nx = (x86::rdmsr(x86::msr_efer) & x86::efer_nxe) != 0,
        .smep = (x86::read_cr4() & x86::cr4_smep) != 0,
        .smap = (x86::read_cr4() & x86::cr4_smap) != 0,
    };
}

ProtectionFeatures protection_supported() {
    uint32_t features = x86::cpuid(0).eax >= 7 ? x86::cpuid(7, 0).ebx : 0;
    bool nx = (x86::cpuid(0x80000001).edx & (1u << 20)) != 0;
    return {.nx = nx, .smep = (features & (1u << 7)) != 0, .smap = (features & (1u << 20)) != 0};
}

ProtectionFeatures enable_protection() {
    ProtectionFeatures supported = protection_supported();
    uint64_t cr4 = x86::read_cr4() | x86::cr4_pge;
    if (supported.smep)
        cr4 |= x86::cr4_smep;
    if (supported.smap)
        cr4 |= x86::cr4_smap;
    x86::write_cr4(cr4);
    x86::smap_enabled = (cr4 & x86::cr4_smap) != 0;
    return protection_state();
}

bool kernel_write_protect_enabled() {
    return (x86::read_cr0() & x86::cr0_wp) != 0;
}

namespace {

bool rdseed(uint64_t& value) {
    unsigned char ok;
    asm volatile("rdseed %0; setc %1" : "=r"(value), "=qm"(ok));
    return ok;
}

bool rdrand(uint64_t& value) {
    unsigned char ok;
    asm volatile("rdrand %0; setc %1" : "=r"(value), "=qm"(ok));
    return ok;
}

} // namespace

bool machine_is_qemu() {
    if ((x86::cpuid(1).ecx & (1u << 31)) == 0) // no hypervisor
        return false;
    x86::CpuidResult leaf = x86::cpuid(0x40000000);
    char vendor[13] = {};
    __builtin_memcpy(vendor, &leaf.ebx, 4);
    __builtin_memcpy(vendor + 4, &leaf.ecx, 4);
    __builtin_memcpy(vendor + 8, &leaf.edx, 4);
    std::string_view name(vendor);
    return name == "TCGTCGTCGTCG" || name == "KVMKVMKVM";
}

bool hardware_entropy(uint64_t* out, size_t words) {
    bool has_rdseed = x86::cpuid(0).eax >= 7 && (x86::cpuid(7, 0).ebx & (1u << 18));
    bool has_rdrand = (x86::cpuid(1).ecx & (1u << 30)) != 0;
    if (!has_rdseed && !has_rdrand)
        return false;
    for (size_t i = 0; i < words; ++i) {
        bool got = false;
        // Both instructions may fail transiently; Intel advises bounded retries.
        for (int attempt = 0; attempt < 100 && !got && has_rdseed; ++attempt)
            got = rdseed(out[i]);
        for (int attempt = 0; attempt < 10 && !got && has_rdrand; ++attempt)
            got = rdrand(out[i]);
        if (!got)
            return false;
    }
    return true;
}

// Counts TSC cycles across 10 ms of PIT channel 2 (1.193182 MHz), gated through
// port 0x61 so no interrupt is needed.
uint64_t calibrate_cycles_per_microsecond() {
    constexpr uint32_t pit_hz = 1193182;
    constexpr uint32_t milliseconds = 10;
    constexpr uint16_t count = pit_hz * milliseconds / 1000;

    uint8_t gate = x86::inb(0x61);
    x86::outb(0x61, (gate & ~0x02) | 0x01); // gate on, speaker off
    x86::outb(0x43, 0xB0);                  // channel 2, lobyte/hibyte, mode 0
    x86::outb(0x42, count & 0xFF);
    x86::outb(0x42, count >> 8);
    uint64_t start = read_cycle_counter();
    // Mode 0 raises OUT2 (bit 5 of port 0x61) when the count reaches zero. The
    // bound keeps a missing PIT from hanging the boot.
    for (uint64_t spins = 0; spins < 100000000 && !(x86::inb(0x61) & 0x20); ++spins) {
    }
    uint64_t cycles = read_cycle_counter() - start;
    x86::outb(0x61, gate);
    uint64_t per_us = cycles / (milliseconds * 1000);
    return per_us == 0 ? 1 : per_us;
}

void switch_stack_and_call(uint64_t stack_top, void (*entry)()) {
    capos_switch_stack_and_call(stack_top, entry);
}

uint64_t interrupts_save_disable() {
    uint64_t flags = x86::read_rflags();
    asm volatile("cli" ::: "memory");
    return flags & (1 << 9);
}

void interrupts_restore(uint64_t state) {
    if (state)
        asm volatile("sti" ::: "memory");
}

void exit_machine(abi::ExitCode code) {
    asm volatile("cli");
    debug_exit(code);
    halt_forever();
}

void debug_exit(abi::ExitCode code) {
    x86::outb(abi::debug_exit_port, static_cast<uint8_t>(code));
}

void port_write8(uint16_t port, uint8_t value) {
    x86::outb(port, value);
}

void port_write16(uint16_t port, uint16_t value) {
    asm volatile("outw %0, %1" ::"a"(value), "Nd"(port));
}

uint8_t port_read8(uint16_t port) {
    return x86::inb(port);
}

uint16_t port_read16(uint16_t port) {
    uint16_t value;
    asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

uint32_t port_read32(uint16_t port) {
    uint32_t value;
    asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

void port_write32(uint16_t port, uint32_t value) {
    asm volatile("outl %0, %1" ::"a"(value), "Nd"(port));
}

void reset_machine() {
    asm volatile("cli");
    // The reset control register of PC chipsets (ICH9 on q35, PIIX3): a
    // hard reset.
    x86::outb(0xCF9, 0x02);
    x86::outb(0xCF9, 0x06);
    // The keyboard controller's reset line, once its input buffer is empty.
    for (int spins = 0; spins < 100000 && (x86::inb(0x64) & 0x02); ++spins) {
    }
    x86::outb(0x64, 0xFE);
    // A triple fault: no interrupt table, then an exception.
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } empty{0, 0};
    asm volatile("lidt %0; int3" ::"m"(empty));
    halt_forever();
}

void halt_forever() {
    stop_other_cpus();
    for (;;)
        asm volatile("cli; hlt");
}

} // namespace capos::kernel::arch
