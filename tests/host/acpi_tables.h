// Building ACPI tables byte by byte, for lib/acpi's host tests and the fuzz
// seeds: little-endian fields, checksums set so the bytes sum to 0, a
// system description table's header around a body, and the DMAR table's
// structures.
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

// DMAR pieces (Intel VT-d, chapter 8), each with its lengths filled in: a
// device scope (its path as device, function byte pairs), a remapping
// structure of any type around `body` (the bytes after its type and length),
// each structure type this tree reads, and the table around them.
inline Bytes device_scope(uint8_t type, uint8_t enumeration_id, uint8_t start_bus,
                          const Bytes& path, uint8_t flags = 0) {
    return Bytes{type, static_cast<uint8_t>(6 + path.size()), flags, 0, enumeration_id, start_bus} +
           path;
}
inline Bytes dmar_structure(uint16_t type, const Bytes& body) {
    return le(type, 2) + le(4 + body.size(), 2) + body;
}
inline Bytes drhd(uint8_t flags, uint16_t segment, uint64_t base, const Bytes& scopes,
                  uint8_t size = 0) {
    return dmar_structure(0, Bytes{flags, size} + le(segment, 2) + le(base, 8) + scopes);
}
inline Bytes rmrr(uint16_t segment, uint64_t base, uint64_t limit, const Bytes& scopes) {
    return dmar_structure(1, le(0, 2) + le(segment, 2) + le(base, 8) + le(limit, 8) + scopes);
}
inline Bytes atsr(uint8_t flags, uint16_t segment, const Bytes& scopes) {
    return dmar_structure(2, Bytes{flags, 0} + le(segment, 2) + scopes);
}
inline Bytes rhsa(uint64_t base, uint32_t proximity_domain) {
    return dmar_structure(3, le(0, 4) + le(base, 8) + le(proximity_domain, 4));
}
inline Bytes andd(uint8_t acpi_device_number, std::string_view name) {
    return dmar_structure(4, Bytes{0, 0, 0, acpi_device_number} + chars(name) + Bytes{0});
}
inline Bytes satc(uint8_t flags, uint16_t segment, const Bytes& scopes) {
    return dmar_structure(5, Bytes{flags, 0} + le(segment, 2) + scopes);
}
// `width_field` is the host address width minus 1.
inline Bytes make_dmar(uint8_t width_field, uint8_t flags, const Bytes& structures) {
    return make_table("DMAR", Bytes{width_field, flags} + Bytes(10, 0) + structures, 1);
}

// The DMAR QEMU's q35 machine gives with -device intel-iommu,intremap=on: a
// 39-bit host address width, interrupt remapping, one unit at 0xfed90000 for
// all of segment 0 whose scope holds the I/O APIC (id 0) at the pseudo
// requester 0xff:00.0; with device-iotlb=on, an ATSR for all root ports too.
inline Bytes qemu_q35_dmar(bool device_iotlb = false) {
    Bytes ioapic = device_scope(3, 0, 0xff, Bytes{0, 0});
    Bytes structures = drhd(1, 0, 0xfed90000, ioapic);
    if (device_iotlb)
        structures = structures + atsr(1, 0, {});
    return make_dmar(38, 1, structures);
}

} // namespace capos::acpi::testing
