// User floating-point and vector state (arch.h): XSAVE with every user
// component the CPU offers, or FXSAVE (x87 and SSE) where there is no XSAVE.
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"

namespace capos::kernel::arch {

namespace {

enum class Mechanism : uint8_t { Fxsave, Xsave, Xsaveopt };

constexpr uint64_t cr0_mp = 1ull << 1; // WAIT honours TS
constexpr uint64_t cr0_em = 1ull << 2; // x87 instructions trap (#NM)
constexpr uint64_t cr0_ts = 1ull << 3; // the next x87/SSE instruction traps (#NM)
constexpr uint64_t cr0_ne = 1ull << 5; // x87 errors raise #MF, not the PIC line
constexpr uint64_t cr4_osfxsr = 1ull << 9;
constexpr uint64_t cr4_osxmmexcpt = 1ull << 10; // unmasked SSE errors raise #XM
constexpr uint64_t cr4_osxsave = 1ull << 18;

constexpr uint64_t component_x87 = 1ull << 0;
constexpr uint64_t component_sse = 1ull << 1;
constexpr uint64_t component_avx = 1ull << 2;
constexpr uint64_t components_avx512 = 7ull << 5; // opmask, ZMM_Hi256, Hi16_ZMM

// Offsets in the legacy (FXSAVE) region, which XSAVE's format begins with.
constexpr size_t fcw_offset = 0;
constexpr size_t mxcsr_offset = 24;
constexpr uint16_t fcw_reset = 0x037F;   // every x87 exception masked, 64-bit precision
constexpr uint32_t mxcsr_reset = 0x1F80; // every SSE exception masked, round to nearest

// The reset state: the legacy region with the control words' reset values
// (FXRSTOR takes them from there, and XRSTOR takes MXCSR from there whatever
// the header says) and an XSAVE header of zeros, which marks every component
// as in its reset state (XRSTOR then reads no further).
struct alignas(64) ResetArea {
    uint8_t bytes[512 + 64];
};
constexpr ResetArea s_reset_area = [] {
    ResetArea area{};
    area.bytes[fcw_offset] = uint8_t(fcw_reset);
    area.bytes[fcw_offset + 1] = uint8_t(fcw_reset >> 8);
    for (size_t i = 0; i < 4; ++i)
        area.bytes[mxcsr_offset + i] = uint8_t(mxcsr_reset >> (8 * i));
    return area;
}();

constinit Mechanism s_mechanism = Mechanism::Fxsave;
constinit uint64_t s_components = 0;
constinit size_t s_size = 0;

constexpr const char* name(Mechanism mechanism) {
    switch (mechanism) {
    case Mechanism::Fxsave:
        return "fxsave";
    case Mechanism::Xsave:
        return "xsave";
    case Mechanism::Xsaveopt:
        return "xsaveopt";
    }
    return "?";
}

void decide_format() {
    if ((x86::cpuid(1).ecx & (1u << 26)) == 0) { // no XSAVE
        s_mechanism = Mechanism::Fxsave;
        s_components = component_x87 | component_sse;
        s_size = sizeof(ResetArea); // 512 bytes and room for a header FXRSTOR ignores
        return;
    }
    x86::CpuidResult leaf = x86::cpuid(0xD, 0);
    uint64_t offered = leaf.eax | (uint64_t(leaf.edx) << 32);
    uint64_t components = offered & (component_x87 | component_sse | component_avx);
    // AVX-512 only whole and on top of AVX (XSETBV refuses anything else).
    if ((components & component_avx) && (offered & components_avx512) == components_avx512)
        components |= components_avx512;
    s_components = components;
    s_mechanism = (x86::cpuid(0xD, 1).eax & 1) ? Mechanism::Xsaveopt : Mechanism::Xsave;
}

} // namespace

UserStateFormat user_state_init() {
    if (s_size == 0)
        decide_format();
    x86::write_cr0((x86::read_cr0() | cr0_mp | cr0_ne) & ~(cr0_em | cr0_ts));
    uint64_t cr4 = x86::read_cr4() | cr4_osfxsr | cr4_osxmmexcpt;
    if (s_mechanism != Mechanism::Fxsave) {
        x86::write_cr4(cr4 | cr4_osxsave);
        x86::xsetbv(0, s_components);
        if (s_size == 0)
            s_size = x86::cpuid(0xD, 0).ebx; // the size for what XCR0 holds now
    } else {
        x86::write_cr4(cr4);
    }
    return {name(s_mechanism), s_components, s_size};
}

size_t user_state_size() {
    return s_size;
}

void user_state_clear(void* area) {
    auto* bytes = static_cast<uint8_t*>(area);
    __builtin_memcpy(bytes, s_reset_area.bytes, sizeof s_reset_area.bytes);
    __builtin_memset(bytes + sizeof s_reset_area.bytes, 0, s_size - sizeof s_reset_area.bytes);
}

void user_state_save(void* area) {
    switch (s_mechanism) {
    case Mechanism::Xsaveopt:
        asm volatile("xsaveopt64 (%0)" ::"r"(area), "a"(~0u), "d"(~0u) : "memory");
        return;
    case Mechanism::Xsave:
        asm volatile("xsave64 (%0)" ::"r"(area), "a"(~0u), "d"(~0u) : "memory");
        return;
    case Mechanism::Fxsave:
        asm volatile("fxsave64 (%0)" ::"r"(area) : "memory");
        return;
    }
}

void user_state_reset() {
    user_state_load(&s_reset_area);
}

void user_state_trap(bool on) {
    if (on)
        x86::write_cr0(x86::read_cr0() | cr0_ts);
    else
        asm volatile("clts" ::: "memory");
}

void user_state_load(const void* area) {
    if (s_mechanism == Mechanism::Fxsave)
        asm volatile("fxrstor64 (%0)" ::"r"(area) : "memory");
    else
        asm volatile("xrstor64 (%0)" ::"r"(area), "a"(~0u), "d"(~0u) : "memory");
}

} // namespace capos::kernel::arch
