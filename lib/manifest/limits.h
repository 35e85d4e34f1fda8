// The bounds on names and counts that a boot manifest and a spawn request
// share, the rules that apply them, and the text that states them. Each bound
// has one source: a process name and the number of services are schema facts
// (schema/capos.capnp maxProcessName, maxServices); a grant name and the
// number of grants are ABI facts, bounded by the CapSet page that lists them
// (abi/capset.h). lib/manifest's checks, the kernel's ProcessSpawner and init
// all use these, and their messages are made from the same constants at
// compile time (LimitText), so no number is written twice.
#pragma once

#include "abi/capset.h"
#include "schema/capos.capnp.capos.h"
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::manifest {

// Text made at compile time from a limit: `before`, the number in decimal,
// `after`. Always used as a constexpr value: a text longer than the capacity
// is not a constant expression and fails to compile. NUL-terminated.
class LimitText {
public:
    static constexpr size_t capacity = 96;

    constexpr LimitText(std::string_view before, uint64_t number, std::string_view after) {
        append(before);
        char digits[20] = {};
        size_t count = 0;
        do {
            digits[count++] = char('0' + number % 10);
            number /= 10;
        } while (number != 0);
        while (count != 0)
            append(digits[--count]);
        append(after);
    }

    constexpr std::string_view view() const { return {m_text, m_size}; }
    constexpr const char* c_str() const { return m_text; }
    constexpr operator std::string_view() const { return view(); }

private:
    constexpr void append(std::string_view text) {
        for (char c : text)
            append(c);
    }
    constexpr void append(char c) {
        if (m_size + 1 >= capacity)
            __builtin_trap(); // not a constant expression: the text does not fit
        m_text[m_size++] = c;
    }

    char m_text[capacity] = {};
    size_t m_size = 0;
};

// Whether `name` may name a process (spawn's name, a manifest service).
constexpr bool process_name_valid(std::string_view name) {
    return !name.empty() && name.size() <= schema::max_process_name;
}

// Whether `name` may name a grant (a CapSet entry).
constexpr bool grant_name_valid(std::string_view name) {
    return !name.empty() && name.size() <= abi::capset_name_max;
}

// Whether a process may be started with `count` grants (CapSet entries).
constexpr bool grant_count_valid(size_t count) {
    return count <= abi::capset_max_entries;
}

// Whether a manifest may list `count` services (each supervisor grant
// counting as one more).
constexpr bool service_count_valid(size_t count) {
    return count <= schema::max_services;
}

// The rules above, stated.
inline constexpr LimitText process_name_rule{"process name must be 1..", schema::max_process_name,
                                             " bytes"};
inline constexpr LimitText grant_name_rule{"grant names must be 1..", abi::capset_name_max,
                                           " bytes"};
inline constexpr LimitText grant_count_rule{"too many grants (at most ", abi::capset_max_entries,
                                            ")"};
inline constexpr LimitText service_count_rule{"too many services (at most ", schema::max_services,
                                              ", each supervisor grant counting as one)"};

} // namespace capos::manifest
