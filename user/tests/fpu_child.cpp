// fpu_child <seed>: checks that its x87, SSE and AVX registers are its own.
//
// First, that it starts clean: x87 control word 0x37F with an empty register
// stack, MXCSR 0x1F80, every register zero (with AVX, the YMM registers
// whole), however many other fpu_childs have filled theirs on this CPU before
// it.
//
// Then, with a seed other than 0, rounds: each loads a pattern made from the
// seed and the round into every x87 register, the x87 control word, MXCSR,
// XMM0-15 and the YMM upper halves, then, without touching them, spins on the
// cycle counter and waits in cap_enter (four times 10 ms and 1 ms), and reads
// them all back: each must hold what was loaded. Run beside other fpu_childs
// on one CPU, each is preempted and switched away from inside its rounds; on
// several, it may also move between CPUs.
//
// Exit code: when it ran, start_ms * 100000 + end_ms since boot (spawn.h,
// Span), or 1 when a check failed (the console says which).
#include "schema/capos.capnp.capos.h"
#include "user/rt/syscall.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

constexpr uint64_t ms = 1000 * 1000;
constexpr int rounds = 6;

// The FXSAVE layout, and the YMM upper halves beside it.
struct alignas(64) Registers {
    uint8_t legacy[512];
    uint8_t high[16][16];
};
constexpr size_t fcw_at = 0, fsw_at = 2, ftw_at = 4, mxcsr_at = 24, st_at = 32, xmm_at = 160;
// Every pattern byte has this in its high nibble.
constexpr uint8_t pattern_mark = 0xA0;
constexpr uint32_t mxcsr_reset = 0x1F80;

uint16_t get16(const uint8_t* p) {
    return uint16_t(p[0] | (p[1] << 8));
}
uint32_t get32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v);
    p[1] = uint8_t(v >> 8);
}
void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = uint8_t(v >> (8 * i));
}

inline uint64_t cycles() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t(high) << 32) | low;
}

bool avx_enabled() {
    uint32_t a = 1, b, c = 0, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if ((c & (1u << 27)) == 0 || (c & (1u << 28)) == 0) // OSXSAVE, AVX
        return false;
    uint32_t low, high;
    asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return (low & 6) == 6;
}

#define CAPOS_EACH_YMM(op)                                                                         \
    op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) op(14) \
        op(15)
#define CAPOS_STORE_HIGH(n) "vextractf128 $1, %%ymm" #n ", " #n "*16(%[high_out])\n"
#define CAPOS_LOAD_HIGH(n) "vinsertf128 $1, " #n "*16(%[high_in]), %%ymm" #n ", %%ymm" #n "\n"
#define CAPOS_XMM_CLOBBERS                                                                         \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",       \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

// Reads the registers as they are (nothing runs in between that uses them:
// the caller has just started, or has just loaded them).
void read_registers(Registers& out, bool avx) {
    asm volatile("fxsave64 %0" : "=m"(out.legacy));
    if (avx)
        asm volatile(CAPOS_EACH_YMM(CAPOS_STORE_HIGH)::[high_out] "r"(out.high) : "memory");
}

// Loads `in`, keeps it through `stretches` of spinning until the cycle
// counter passes `spin` cycles and blocking 1 ms in cap_enter, then reads the
// registers into `out` and leaves the x87 and MXCSR as the ABI wants them.
void hold(const Registers& in, Registers& out, bool avx, uint64_t spin, uint64_t stretches) {
    asm volatile(
        "fxrstor64 (%[legacy_in])\n"
        "test %[avx], %[avx]\n"
        "jz 1f\n" CAPOS_EACH_YMM(CAPOS_LOAD_HIGH) "1:\n"
                                                  // spin: rdtsc until `spin` cycles have passed
                                                  "rdtsc\n"
                                                  "shl $32, %%rdx\n"
                                                  "or %%rdx, %%rax\n"
                                                  "mov %%rax, %%r8\n"
                                                  "2:\n"
                                                  "rdtsc\n"
                                                  "shl $32, %%rdx\n"
                                                  "or %%rdx, %%rax\n"
                                                  "sub %%r8, %%rax\n"
                                                  "cmp %[spin], %%rax\n"
                                                  "jb 2b\n"
                                                  // cap_enter(0xffff, 1 ms): more completions than
                                                  // the CQ holds, so it waits the whole timeout
                                                  "xor %%eax, %%eax\n"
                                                  "mov $0xffff, %%edi\n"
                                                  "mov $1000000, %%esi\n"
                                                  "syscall\n"
                                                  "dec %[stretches]\n"
                                                  "jnz 1b\n"
                                                  "fxsave64 (%[legacy_out])\n"
                                                  "test %[avx], %[avx]\n"
                                                  "jz 3f\n" CAPOS_EACH_YMM(
                                                      CAPOS_STORE_HIGH) "3:\n"
                                                                        "fninit\n"
                                                                        "ldmxcsr %[mxcsr_reset]\n"
        : [stretches] "+r"(stretches)
        : [legacy_in] "r"(in.legacy), [high_in] "r"(in.high), [legacy_out] "r"(out.legacy),
          [high_out] "r"(out.high), [avx] "r"(uint64_t(avx)), [spin] "r"(spin),
          [mxcsr_reset] "m"(mxcsr_reset)
        : "rax", "rcx", "rdx", "rdi", "rsi", "r8", "r11", "memory", "cc", CAPOS_XMM_CLOBBERS);
}

uint8_t pattern_byte(uint64_t seed, int round, int reg, int byte) {
    uint32_t h = uint32_t(seed * 0x9E3779B1u) ^ uint32_t(round * 0x85EBCA6Bu) ^
                 uint32_t(reg * 0xC2B2AE35u) ^ uint32_t(byte * 0x27D4EB2Fu);
    h ^= h >> 15;
    return uint8_t(pattern_mark | (h & 0x0F));
}

void make_pattern(Registers& r, uint64_t seed, int round) {
    __builtin_memset(&r, 0, sizeof r);
    // Control words with every exception masked: rounding mode from the seed,
    // and MXCSR's flush-to-zero bit on.
    put16(r.legacy + fcw_at, uint16_t(0x037F | ((seed & 3) << 10)));
    r.legacy[ftw_at] = 0xFF; // all eight x87 registers in use
    put32(r.legacy + mxcsr_at, uint32_t(0x1F80 | ((seed & 3) << 13) | (1u << 15)));
    for (int reg = 0; reg < 8; ++reg)
        for (int byte = 0; byte < 10; ++byte)
            r.legacy[st_at + 16 * reg + byte] = pattern_byte(seed, round, reg, byte);
    for (int reg = 0; reg < 16; ++reg)
        for (int byte = 0; byte < 16; ++byte) {
            r.legacy[xmm_at + 16 * reg + byte] = pattern_byte(seed, round, 8 + reg, byte);
            r.high[reg][byte] = pattern_byte(seed, round, 24 + reg, byte);
        }
}

class Checker {
public:
    Checker(schema::Console::Client<rt::RingTransport>& out, uint64_t seed)
        : m_out(out), m_seed(seed) {}
    bool ok() const { return m_failures == 0; }
    void fail(std::string_view what, uint64_t got, uint64_t want) {
        if (m_failures++ >= 8)
            return;
        Line line("fpu_child ");
        line.udec(m_seed).add(": ").add(what).add(" is ").hex(got).add(", not ").hex(want);
        line.add(" ... FAILED");
        (void)m_out.write_line(line.view());
    }
    void expect(std::string_view what, uint64_t got, uint64_t want) {
        if (got != want)
            fail(what, got, want);
    }

private:
    schema::Console::Client<rt::RingTransport>& m_out;
    uint64_t m_seed;
    uint32_t m_failures = 0;
};

uint64_t bytes_at(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 8; ++i)
        v |= uint64_t(p[i]) << (8 * i);
    return v;
}

// The state every thread starts with. Nothing of this program's has touched
// the registers before (user code uses them for floating point only).
void check_clean(const Registers& r, bool avx, Checker& check) {
    check.expect("the x87 control word at start", get16(r.legacy + fcw_at), 0x037F);
    check.expect("the x87 status word at start", get16(r.legacy + fsw_at), 0);
    check.expect("the x87 tag word at start", r.legacy[ftw_at], 0);
    check.expect("MXCSR at start", get32(r.legacy + mxcsr_at), 0x1F80);
    for (int reg = 0; reg < 8; ++reg)
        check.expect("an x87 register at start", bytes_at(r.legacy + st_at + 16 * reg, 8), 0);
    for (int reg = 0; reg < 16; ++reg) {
        const uint8_t* x = r.legacy + xmm_at + 16 * reg;
        check.expect("an XMM register at start", bytes_at(x, 8) | bytes_at(x + 8, 8), 0);
        if (avx)
            check.expect("a YMM upper half at start",
                         bytes_at(r.high[reg], 8) | bytes_at(r.high[reg] + 8, 8), 0);
    }
}

void check_same(const Registers& got, const Registers& want, bool avx, Checker& check) {
    check.expect("the x87 control word", get16(got.legacy + fcw_at), get16(want.legacy + fcw_at));
    check.expect("the x87 tag word", got.legacy[ftw_at], want.legacy[ftw_at]);
    check.expect("MXCSR", get32(got.legacy + mxcsr_at), get32(want.legacy + mxcsr_at));
    for (int reg = 0; reg < 8; ++reg) {
        const uint8_t* g = got.legacy + st_at + 16 * reg;
        const uint8_t* w = want.legacy + st_at + 16 * reg;
        check.expect("an x87 register's significand", bytes_at(g, 8), bytes_at(w, 8));
        check.expect("an x87 register's exponent", get16(g + 8), get16(w + 8));
    }
    for (int reg = 0; reg < 16; ++reg) {
        const uint8_t* g = got.legacy + xmm_at + 16 * reg;
        const uint8_t* w = want.legacy + xmm_at + 16 * reg;
        check.expect("an XMM register's low half", bytes_at(g, 8), bytes_at(w, 8));
        check.expect("an XMM register's high half", bytes_at(g + 8, 8), bytes_at(w + 8, 8));
        if (avx) {
            check.expect("a YMM upper half's low part", bytes_at(got.high[reg], 8),
                         bytes_at(want.high[reg], 8));
            check.expect("a YMM upper half's high part", bytes_at(got.high[reg] + 8, 8),
                         bytes_at(want.high[reg] + 8, 8));
        }
    }
}

Registers g_start, g_want, g_got;

} // namespace

int main() {
    bool avx = avx_enabled();
    read_registers(g_start, avx); // first: nothing of this program's has run
    uint32_t console = test::cap_id("console");
    uint32_t timer = test::cap_id("timer");
    if (console == 0 || timer == 0)
        return 2;
    schema::Console::Client<rt::RingTransport> out(rt::transport(), console);
    uint64_t seed = 0;
    for (char c : rt::arguments()[0])
        seed = seed * 10 + uint64_t(c - '0');
    Checker check(out, seed);
    check_clean(g_start, avx, check);

    uint64_t start = test::now_ns(timer);
    if (seed != 0) {
        // Cycles per millisecond, as spinner.cpp measures them.
        uint64_t c0 = cycles(), t0 = test::now_ns(timer);
        (void)test::sleep_ns(timer, 10 * ms);
        uint64_t c1 = cycles(), t1 = test::now_ns(timer);
        uint64_t per_ms = (c1 - c0) * ms / (t1 - t0 > 0 ? t1 - t0 : 1);
        for (int round = 0; round < rounds && check.ok(); ++round) {
            make_pattern(g_want, seed, round);
            hold(g_want, g_got, avx, 10 * per_ms, 4);
            check_same(g_got, g_want, avx, check);
        }
    }
    uint64_t end = test::now_ns(timer);
    Line line("fpu_child ");
    line.udec(seed).add(check.ok() ? ": clean at start" : ": FAILED");
    if (check.ok() && seed != 0)
        line.add(", registers kept through ").udec(rounds).add(" rounds");
    line.add(avx ? " (x87, SSE, AVX)" : " (x87, SSE)");
    (void)out.write_line(line.view());
    if (!check.ok())
        return 1;
    return test::span_code(start, end);
}
