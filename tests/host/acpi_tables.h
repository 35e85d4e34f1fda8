// Building ACPI tables byte by byte, for lib/acpi's host tests and the fuzz
// seeds: little-endian fields, checksums set so the bytes sum to 0, and a
// system description table's header around a body.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace capos::acpi::testing {

using Bytes = std::vector<uint8_t>;

// `value`'s low `size` bytes, little-endian.
inline Bytes le(uint64_t value, size_t size) {
    Bytes bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    return bytes;
}

inline Bytes chars(std::string_view text) {
    return Bytes(text.begin(), text.end());
}

inline Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

inline void put(Bytes& bytes, size_t at, uint64_t value, size_t size) {
    for (size_t i = 0; i < size; ++i)
        bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

// Sets bytes[at] so that the first `length` bytes sum to 0.
inline void fix_checksum(Bytes& bytes, size_t at, size_t length) {
    bytes[at] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i)
        sum = static_cast<uint8_t>(sum + bytes[i]);
    bytes[at] = static_cast<uint8_t>(-sum);
}

// The checksum again after an edit, over the length the header states (or the
// bytes there are, if fewer).
inline void reseal(Bytes& table) {
    size_t length = table[4] | table[5] << 8 | table[6] << 16 | table[7] << 24;
    fix_checksum(table, 9, std::min(length, table.size()));
}

// A system description table: the header, then `body`; the length field is
// the whole size and the checksum is right.
inline Bytes make_table(std::string_view signature, const Bytes& body, uint8_t revision = 1) {
    Bytes table = chars(signature) + le(0, 4) + Bytes{revision, 0} + chars("CAPOS ") +
                  chars("CAPOSTBL") + le(1, 4) + chars("CAPS") + le(1, 4) + body;
    put(table, 4, table.size(), 4);
    reseal(table);
    return table;
}

} // namespace capos::acpi::testing
