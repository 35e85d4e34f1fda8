#include "user/rt/line.h"
#include "user/rt/rt.h"

namespace capos::rt {

Line& Line::add(std::string_view text) {
    for (char c : text)
        add(c);
    return *this;
}

Line& Line::add(char c) {
    if (m_length < sizeof(m_text))
        m_text[m_length++] = c;
    return *this;
}

Line& Line::udec(uint64_t value) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = char('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0)
        add(digits[--n]);
    return *this;
}

Line& Line::dec(int64_t value) {
    if (value < 0) {
        add('-');
        return udec(uint64_t(0) - uint64_t(value));
    }
    return udec(uint64_t(value));
}

Line& Line::hex(uint64_t value) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % 16];
        value /= 16;
    } while (value != 0);
    add("0x");
    while (n > 0)
        add(digits[--n]);
    return *this;
}

Line& Line::tenths(uint64_t value) {
    udec(value / 10);
    add('.');
    return add(char('0' + value % 10));
}

bool Line::print() const {
    return debug_write_line(view());
}

} // namespace capos::rt
