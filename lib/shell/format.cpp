#include "lib/shell/format.h"

namespace capos::shell {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// `value` in decimal at `out`; returns the digits written.
size_t put_decimal(uint64_t value, char* out) {
    char digits[20];
    size_t count = 0;
    do {
        digits[count++] = char('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (size_t i = 0; i < count; ++i)
        out[i] = digits[count - 1 - i];
    return count;
}

// The offset of a hexdump line: eight hex digits, more when it needs them.
size_t put_offset(uint64_t offset, char* out) {
    size_t digits = 8;
    while (digits < 16 && (offset >> (4 * digits)) != 0)
        ++digits;
    for (size_t i = 0; i < digits; ++i)
        out[i] = hex_digits[(offset >> (4 * (digits - 1 - i))) & 0xf];
    return digits;
}

} // namespace

size_t format_size(uint64_t bytes, std::span<char, size_text_max> out) {
    static constexpr std::string_view units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t unit = 0;
    while (unit + 1 < std::size(units) && (bytes >> (10 * (unit + 1))) != 0)
        ++unit;
    size_t length = 0;
    if (unit == 0) {
        length = put_decimal(bytes, out.data());
    } else {
        uint64_t whole = bytes >> (10 * unit);
        // The remainder is below 2^60: times ten it stays in 64 bits.
        uint64_t rest = bytes & ((uint64_t{1} << (10 * unit)) - 1);
        uint64_t tenth = (rest * 10) >> (10 * unit);
        length = put_decimal(whole, out.data());
        out[length++] = '.';
        out[length++] = char('0' + tenth);
    }
    out[length++] = ' ';
    for (char c : units[unit])
        out[length++] = c;
    return length;
}

std::optional<uint64_t> parse_number(std::string_view text) {
    uint64_t base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    if (text.empty())
        return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        uint64_t digit;
        if (c >= '0' && c <= '9')
            digit = uint64_t(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            digit = uint64_t(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            digit = uint64_t(c - 'A' + 10);
        else
            return std::nullopt;
        if (value > (UINT64_MAX - digit) / base)
            return std::nullopt;
        value = value * base + digit;
    }
    return value;
}

void hexdump(std::span<const uint8_t> bytes, uint64_t base, HexdumpOutput& out) {
    // offset, two spaces, 16 x "hh " with one more space in the middle,
    // space, |ascii|
    char line[16 + 2 + 3 * hexdump_line_bytes + 1 + 1 + hexdump_line_bytes + 1];
    bool starred = false;
    for (size_t at = 0; at < bytes.size(); at += hexdump_line_bytes) {
        size_t count =
            bytes.size() - at < hexdump_line_bytes ? bytes.size() - at : hexdump_line_bytes;
        // A whole line like the whole one before it: one '*' for the run.
        if (at != 0 && count == hexdump_line_bytes &&
            __builtin_memcmp(bytes.data() + at, bytes.data() + at - hexdump_line_bytes,
                             hexdump_line_bytes) == 0) {
            if (!starred)
                out.line("*");
            starred = true;
            continue;
        }
        starred = false;
        size_t length = put_offset(base + at, line);
        line[length++] = ' ';
        for (size_t i = 0; i < hexdump_line_bytes; ++i) {
            if (i == 8)
                line[length++] = ' ';
            line[length++] = ' ';
            if (i < count) {
                line[length++] = hex_digits[bytes[at + i] >> 4];
                line[length++] = hex_digits[bytes[at + i] & 0xf];
            } else {
                line[length++] = ' ';
                line[length++] = ' ';
            }
        }
        line[length++] = ' ';
        line[length++] = ' ';
        line[length++] = '|';
        for (size_t i = 0; i < count; ++i) {
            uint8_t c = bytes[at + i];
            line[length++] = c >= 0x20 && c < 0x7f ? char(c) : '.';
        }
        line[length++] = '|';
        out.line({line, length});
    }
    size_t length = put_offset(base + bytes.size(), line);
    out.line({line, length});
}

} // namespace capos::shell
