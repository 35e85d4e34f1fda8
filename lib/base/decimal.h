// Whole numbers as people write them: decimal digits (a count, a port on a
// command line or in a URL).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace capos {

// All of `text` as a decimal number: one or more digits and nothing else
// (no sign, no spaces), at most `max`; nullopt otherwise.
inline std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max = UINT64_MAX) {
    if (text.empty())
        return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        uint64_t digit = uint64_t(c - '0');
        if (value > (max - digit) / 10)
            return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

// The same, into `value`, and true when it is from `min` to `max`.
inline bool parse_decimal(std::string_view text, uint64_t min, uint64_t max, uint64_t& value) {
    std::optional<uint64_t> parsed = parse_decimal(text, max);
    if (!parsed || *parsed < min)
        return false;
    value = *parsed;
    return true;
}

} // namespace capos
