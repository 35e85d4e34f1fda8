// Timing for the in-system benchmarks (user/bench): the TSC, its rate
// calibrated against Timer.now (the kernel says nothing about its TSC rate to
// user space), and the figure line bench/run_bench.py parses:
//
//     bench: <name> ticks=<median TSC ticks per op> ns=<median ns per op>
//            min_ns=<fastest batch> max_ns=<slowest batch> batches=<n> per_batch=<ops>
//
// (on one line, anything after per_batch= is the figure's own).
//
// Integer arithmetic only: user code must not use SSE/x87 (docs/abi.md).
#pragma once

#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

#include <cstdint>
#include <string_view>

namespace capos::bench {

inline uint64_t rdtsc() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t(high) << 32) | low;
}

// a * b / c, exact while (a % c) * b fits in 64 bits, which holds for every use
// here (the operands are at most about 2^40 and 2^28); freestanding code has
// no 128-bit division.
inline uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
    return a / c * b + a % c * b / c;
}

// The TSC rate: ticks() ticks took ns() nanoseconds by Timer.now.
class TscRate {
public:
    // Samples Timer.now (TSC read just before and after each call) for at
    // least `ms` and prints "bench: tsc_khz=...". False when a call fails.
    bool calibrate(uint32_t timer, uint64_t ms) {
        Sample start, end;
        if (!sample(timer, start))
            return false;
        do {
            if (!sample(timer, end))
                return false;
        } while (end.ns - start.ns < ms * 1000000);
        m_ticks = end.tsc - start.tsc;
        m_ns = end.ns - start.ns;
        if (m_ticks == 0)
            return false;
        rt::PrintLine() << "bench: tsc_khz=" << mul_div(m_ticks, 1000000, m_ns)
                        << " (calibrated against Timer.now over " << m_ns / 1000 << " us)";
        return true;
    }
    uint64_t ticks_for_ms(uint64_t ms) const { return mul_div(ms * 1000000, m_ticks, m_ns); }
    // Hundredths of a tick to tenths of a nanosecond.
    uint64_t centiticks_to_tenth_ns(uint64_t centiticks) const {
        return mul_div(centiticks, m_ns, m_ticks) / 10;
    }

private:
    struct Sample {
        uint64_t ns;
        uint64_t tsc;
    };
    static bool sample(uint32_t timer, Sample& out) {
        schema::Timer::Client<rt::RingTransport> client(rt::transport(), timer);
        uint64_t before = rdtsc();
        auto now = client.now();
        uint64_t after = rdtsc();
        if (now.is_error())
            return false;
        out = {now.value().ns(), before + (after - before) / 2};
        return true;
    }

    uint64_t m_ticks = 1;
    uint64_t m_ns = 1;
};

inline void sort(uint64_t* values, uint32_t count) {
    for (uint32_t i = 1; i < count; ++i) {
        uint64_t value = values[i];
        uint32_t j = i;
        for (; j > 0 && values[j - 1] > value; --j)
            values[j] = values[j - 1];
        values[j] = value;
    }
}

// Sorts `per_op` (each batch's hundredths of a tick per operation) and
// prints the figure's line; `extra` (" key=value...") ends it.
inline void print_figure(const TscRate& rate, std::string_view name, uint64_t* per_op,
                         uint32_t batches, uint64_t per_batch, std::string_view extra = {}) {
    sort(per_op, batches);
    uint64_t median =
        batches % 2 ? per_op[batches / 2] : (per_op[batches / 2 - 1] + per_op[batches / 2]) / 2;
    rt::PrintLine line;
    line << "bench: " << name << " ticks=" << (median + 50) / 100 << " ns=";
    line.line().tenths(rate.centiticks_to_tenth_ns(median));
    line << " min_ns=";
    line.line().tenths(rate.centiticks_to_tenth_ns(per_op[0]));
    line << " max_ns=";
    line.line().tenths(rate.centiticks_to_tenth_ns(per_op[batches - 1]));
    line << " batches=" << uint64_t(batches) << " per_batch=" << per_batch << extra;
}

} // namespace capos::bench
