// Formatting into fixed buffers without allocation: format_to(buffer, "a {} b {}", x, y).
// Each {} takes the next argument: integers print in decimal, Hex{v} in hex,
// strings as they are, booleans as true/false. Text past the buffer's end is
// dropped (the result is still NUL-terminated).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::kernel {

struct Hex {
    uint64_t value;
    int min_digits = 1;
};

// Byte count printed with a binary unit (KiB, MiB, GiB), rounded down.
struct Size {
    uint64_t bytes;
};

class FormatBuffer {
public:
    FormatBuffer(char* data, size_t capacity) : m_data(data), m_capacity(capacity) {
        if (m_capacity > 0)
            m_data[0] = '\0';
    }

    void append(char c) {
        if (m_length + 1 < m_capacity) {
            m_data[m_length++] = c;
            m_data[m_length] = '\0';
        }
    }
    void append(std::string_view text) {
        for (char c : text)
            append(c);
    }
    void append_unsigned(uint64_t value, unsigned base, int min_digits) {
        char digits[24];
        int n = 0;
        do {
            digits[n++] = "0123456789abcdef"[value % base];
            value /= base;
        } while (value != 0);
        while (n < min_digits && n < 24)
            digits[n++] = '0';
        while (n > 0)
            append(digits[--n]);
    }

    std::string_view view() const { return {m_data, m_length}; }
    size_t length() const { return m_length; }

private:
    char* m_data;
    size_t m_capacity;
    size_t m_length = 0;
};

inline void format_value(FormatBuffer& out, std::string_view v) {
    out.append(v);
}
inline void format_value(FormatBuffer& out, const char* v) {
    out.append(v ? v : "(null)");
}
inline void format_value(FormatBuffer& out, bool v) {
    out.append(v ? "true" : "false");
}
inline void format_value(FormatBuffer& out, char v) {
    out.append(v);
}
inline void format_value(FormatBuffer& out, Hex v) {
    out.append("0x");
    out.append_unsigned(v.value, 16, v.min_digits);
}
inline void format_value(FormatBuffer& out, Size v) {
    constexpr std::string_view units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    uint64_t value = v.bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
        value /= 1024;
        ++unit;
    }
    out.append_unsigned(value, 10, 1);
    out.append(' ');
    out.append(units[unit]);
}
template <std::unsigned_integral T>
requires(!std::same_as<T, bool> && !std::same_as<T, char>) void format_value(FormatBuffer& out,
                                                                             T v) {
    out.append_unsigned(v, 10, 1);
}
template <std::signed_integral T>
requires(!std::same_as<T, char>) void format_value(FormatBuffer& out, T v) {
    if (v < 0) {
        out.append('-');
        out.append_unsigned(uint64_t(0) - uint64_t(v), 10, 1);
    } else {
        out.append_unsigned(uint64_t(v), 10, 1);
    }
}
template <typename T>
void format_value(FormatBuffer& out, T* v) {
    format_value(out, Hex{reinterpret_cast<uint64_t>(v), 16});
}

inline void format_rest(FormatBuffer& out, std::string_view fmt) {
    out.append(fmt);
}

template <typename First, typename... Rest>
void format_rest(FormatBuffer& out, std::string_view fmt, const First& first, const Rest&... rest) {
    size_t placeholder = fmt.find("{}");
    if (placeholder == std::string_view::npos) {
        out.append(fmt);
        return;
    }
    out.append(fmt.substr(0, placeholder));
    format_value(out, first);
    format_rest(out, fmt.substr(placeholder + 2), rest...);
}

template <typename... Args>
std::string_view format_to(FormatBuffer& out, std::string_view fmt, const Args&... args) {
    format_rest(out, fmt, args...);
    return out.view();
}

} // namespace capos::kernel
