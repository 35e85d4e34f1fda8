// A line of text built from pieces without allocation (for console output):
//     rt::Line().add("took ").udec(ns).add(" ns").print();
// Text past the capacity is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace capos::rt {

class Line {
public:
    Line() = default;
    Line(std::string_view text) { add(text); }

    Line& add(std::string_view text);
    Line& add(char c);
    Line& dec(int64_t value);
    Line& udec(uint64_t value);
    Line& hex(uint64_t value);

    std::string_view view() const { return {m_text, m_length}; }
    bool empty() const { return m_length == 0; }
    // Writes the line on standard error (debug_write_line).
    bool print() const;

    // `value` / 10 with one decimal ("12.3").
    Line& tenths(uint64_t value);

private:
    char m_text[240];
    size_t m_length = 0;
};

// A Line written with << and printed when the statement ends:
//     rt::PrintLine() << "init: started " << name;
class PrintLine {
public:
    PrintLine() = default;
    PrintLine(const PrintLine&) = delete;
    ~PrintLine() { m_line.print(); }

    PrintLine& operator<<(std::string_view text) {
        m_line.add(text);
        return *this;
    }
    PrintLine& operator<<(const char* text) { return *this << std::string_view(text); }
    template <typename T>
    requires std::is_integral_v<T> PrintLine& operator<<(T value) {
        if constexpr (std::is_signed_v<T>)
            m_line.dec(value);
        else
            m_line.udec(value);
        return *this;
    }
    Line& line() { return m_line; }

private:
    Line m_line;
};

} // namespace capos::rt
