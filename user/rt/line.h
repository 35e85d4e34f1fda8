// A line of text built from pieces without allocation (for console output):
//     rt::Line().add("took ").udec(ns).add(" ns").print();
// Text past the capacity is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

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
    // Writes the line to the process's console, if it holds one.
    bool print() const;

private:
    char m_text[200];
    size_t m_length = 0;
};

} // namespace capos::rt
