// Converting a cycle count to a time unit with a multiply and a shift instead
// of a division. The kernel reads the clock on every Timer.now and at its
// preemption points; a 64-bit division is tens of cycles on hardware and a
// helper call out of the translated code under QEMU's TCG, a 128-bit
// multiply is neither.
//
// For a rate of c cycles per microsecond and u units per microsecond (1 for
// microseconds, 1000 for nanoseconds), make() picks the largest shift s
// (at most 64) for which m = floor(u * 2^s / c) fits 64 bits; apply(n) is
// floor(n * m / 2^s). That is never more than the exact floor(n * u / c), and
// less by at most 1 + n / 2^s: by at most 1 whenever c > u (s is then 64),
// which every calibrated clock is for microseconds and any clock of more
// than 1 GHz is for nanoseconds. It never decreases as n grows.
#pragma once

#include <cstdint>

namespace capos {

struct CycleScale {
    uint64_t multiplier = 0;
    uint32_t shift = 0;

    // `cycles_per_microsecond` must not be 0. Run once, at calibration.
    static constexpr CycleScale make(uint64_t cycles_per_microsecond,
                                     uint64_t units_per_microsecond) {
        for (uint32_t shift = 64;; --shift) {
            // units << shift as a 128-bit number, divided bit by bit (the
            // kernel has no 128-bit division routine).
            uint64_t high = shift == 0    ? 0
                            : shift == 64 ? units_per_microsecond
                                          : units_per_microsecond >> (64 - shift);
            uint64_t low = shift == 64 ? 0 : units_per_microsecond << shift;
            auto [quotient_high, quotient_low] = divide(high, low, cycles_per_microsecond);
            if (quotient_high == 0 || shift == 0)
                return {quotient_low, shift};
        }
    }

    constexpr uint64_t apply(uint64_t cycles) const {
        return uint64_t((unsigned __int128)cycles * multiplier >> shift);
    }

private:
    struct Quotient {
        uint64_t high, low;
    };
    // (high:low) / divisor, restoring division one bit at a time.
    static constexpr Quotient divide(uint64_t high, uint64_t low, uint64_t divisor) {
        Quotient quotient{0, 0};
        uint64_t remainder = 0;
        for (int bit = 127; bit >= 0; --bit) {
            uint64_t next = bit >= 64 ? (high >> (bit - 64)) & 1 : (low >> bit) & 1;
            bool carry = (remainder >> 63) != 0;
            remainder = remainder << 1 | next;
            if (carry || remainder >= divisor) {
                remainder -= divisor;
                if (bit >= 64)
                    quotient.high |= uint64_t{1} << (bit - 64);
                else
                    quotient.low |= uint64_t{1} << bit;
            }
        }
        return quotient;
    }
};

} // namespace capos
