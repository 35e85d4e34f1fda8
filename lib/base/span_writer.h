// Text written into a fixed buffer, cut at its end: what lib/ formats into a
// caller's buffer (log records, device descriptions) without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos {

class SpanWriter {
public:
    explicit SpanWriter(std::span<char> out) : m_out(out) {}

    void put(char c) {
        if (m_length < m_out.size())
            m_out[m_length++] = c;
    }
    void text(std::string_view text) {
        for (char c : text)
            put(c);
    }
    // `value` in decimal, at least `digits` digits (zeros in front).
    void decimal(uint64_t value, int digits = 1) { digits_of(value, 10, digits); }
    // `value` in lower-case hex, at least `digits` digits.
    void hex(uint64_t value, int digits = 1) { digits_of(value, 16, digits); }

    size_t length() const { return m_length; }

private:
    void digits_of(uint64_t value, unsigned base, int digits) {
        char reversed[20];
        int count = 0;
        do {
            reversed[count++] = "0123456789abcdef"[value % base];
            value /= base;
        } while (value != 0);
        for (int i = count; i < digits; ++i)
            put('0');
        while (count > 0)
            put(reversed[--count]);
    }

    std::span<char> m_out;
    size_t m_length = 0;
};

} // namespace capos
