// Thin wrappers around x86_64 instructions and control registers. Only code
// under kernel/arch/x86_64/ includes this header.
#pragma once

#include <cstdint>

namespace capos::kernel::x86 {

inline void outb(uint16_t port, uint8_t value) {
    asm volatile("outb %0, %1" ::"a"(value), "Nd"(port));
}
inline uint8_t inb(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

inline uint64_t rdmsr(uint32_t msr) {
    uint32_t low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return (uint64_t(high) << 32) | low;
}
inline void wrmsr(uint32_t msr, uint64_t value) {
    asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)));
}

inline uint64_t read_cr0() {
    uint64_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
inline void write_cr0(uint64_t v) {
    asm volatile("mov %0, %%cr0" ::"r"(v) : "memory");
}
inline uint64_t read_cr2() {
    uint64_t v;
    asm volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
inline uint64_t read_cr3() {
    uint64_t v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
inline void write_cr3(uint64_t v) {
    asm volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}
inline uint64_t read_cr4() {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
inline void write_cr4(uint64_t v) {
    asm volatile("mov %0, %%cr4" ::"r"(v) : "memory");
}

struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid"
                 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf));
    return r;
}

inline void xsetbv(uint32_t index, uint64_t value) {
    asm volatile("xsetbv" ::"c"(index), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)));
}

inline void invlpg(uint64_t address) {
    asm volatile("invlpg (%0)" ::"r"(address) : "memory");
}

inline uint64_t read_rflags() {
    uint64_t flags;
    asm volatile("pushfq; popq %0" : "=r"(flags));
    return flags;
}

inline constexpr uint32_t msr_efer = 0xC0000080;
inline constexpr uint32_t msr_tsc_aux = 0xC0000103; // what rdtscp and rdpid return
inline constexpr uint64_t efer_nxe = 1ull << 11;
inline constexpr uint64_t cr0_wp = 1ull << 16;
inline constexpr uint64_t rflags_interrupts = 1ull << 9;
inline constexpr uint64_t cr4_pge = 1ull << 7;
inline constexpr uint64_t cr4_smep = 1ull << 20;
inline constexpr uint64_t cr4_smap = 1ull << 21;

} // namespace capos::kernel::x86
