// FAT's names and times, pure: the UTF-8 names of the Volume interface turned
// into the UTF-16 long names (VFAT LFN entries) FAT stores and back, the 8.3
// short name every entry also carries (exact when the name is one, otherwise
// a basis with a numeric tail, NAME~1.EXT), the checksum that ties long-name
// entries to their short entry, the reassembly of long names read from a
// directory, and FAT's local date and time to and from nanoseconds since the
// Unix epoch (taken as UTC: FAT keeps no zone).
//
// Nothing here allocates or touches a disk; bytes read from a disk are never
// trusted (every function bounds what it reads by the entry's 32 bytes or the
// buffer it is given). lib/fs/fat/fat.cpp is the one user.
#pragma once

#include "lib/base/result.h"
#include "lib/fs/volume.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace capos::fs::fat {

inline constexpr size_t entry_size = 32;
// The longest long name, in UTF-16 units, and how many LFN entries hold it.
inline constexpr size_t max_long_units = 255;
inline constexpr size_t units_per_lfn = 13;
inline constexpr size_t max_lfn_entries = 20;
// The most UTF-8 bytes a long name (or a short one) becomes.
inline constexpr size_t max_utf8_name = max_long_units * 3;

// A name as FAT stores it in LFN entries: UTF-16, 1 to 255 units.
struct LongName {
    uint16_t units[max_long_units];
    size_t length = 0;
    std::span<const uint16_t> view() const { return {units, length}; }
};

// The 11 bytes of a short name: base and extension, space padded ("README  TXT").
struct ShortName {
    uint8_t bytes[11];
    bool operator==(const ShortName& other) const {
        return __builtin_memcmp(bytes, other.bytes, sizeof bytes) == 0;
    }
};

// A name of the interface (already through check_name) as a long name:
// BadName for bad UTF-8, characters FAT forbids (control characters and
// "*/:<>?\|), or a trailing dot or space (which Windows would strip);
// NameTooLong past 255 units.
Result<void, FsError> to_long_name(std::string_view utf8, LongName& out);

// UTF-8 of `units` into `out` (at least 3 bytes a unit); a lone surrogate
// becomes U+FFFD. Returns the bytes written.
size_t to_utf8(std::span<const uint16_t> units, std::span<char> out);

// Whether two names are the same as Windows compares them (ASCII letters
// without case; the rest unit by unit).
bool same_name(std::span<const uint16_t> a, std::span<const uint16_t> b);

// The name as a short name when it is one exactly (upper-case ASCII, a base
// of 1 to 8 characters and an extension of up to 3 that short names allow):
// then no LFN entries are needed.
std::optional<ShortName> exact_short_name(const LongName& name);

// The basis of the short name of a long one (upper case, characters short
// names cannot hold as '_', spaces and leading dots dropped, the last dot
// splitting base and extension); with_tail makes it unique.
ShortName short_basis(const LongName& name);
// The basis with the tail ~n (n from 1 to 999999), the base cut to make room.
ShortName with_tail(const ShortName& basis, uint32_t n);
// The n for which with_tail(basis, n) is `candidate`, if there is one.
std::optional<uint32_t> tail_of(const ShortName& basis, const ShortName& candidate);

// The checksum each LFN entry of a name keeps of its short entry.
uint8_t short_checksum(const ShortName& name);

// A short entry's name as UTF-16 ("README.TXT"), its bytes read as code page
// 437 and lowered where the entry's case flags (byte 12) say. Returns the
// units written to `out` (at most 12).
size_t short_to_units(const uint8_t* entry, uint16_t out[12]);

// Fills LFN entry `ordinal` (1: the first 13 units) of `name`; the one of
// the highest ordinal, which comes first on the disk, is marked last (0x40).
void put_lfn_entry(uint8_t* entry, const LongName& name, unsigned ordinal, uint8_t checksum);
// How many LFN entries hold `name`.
inline size_t lfn_entries(const LongName& name) {
    return (name.length + units_per_lfn - 1) / units_per_lfn;
}

// Reassembles a long name from the LFN entries before a short entry, in
// directory order. Entries out of order, with checksums that disagree, or
// not ending right before the short entry leave the name unusable (the
// entry is then known by its short name, as Windows does).
class LfnAssembler {
public:
    void reset() { m_valid = false; }
    // An LFN entry at slot `index`.
    void add(const uint8_t* entry, uint32_t index);
    // Whether the entries seen form the long name of `short_entry`.
    bool complete_for(const uint8_t* short_entry) const;
    std::span<const uint16_t> name() const { return {m_units, m_length}; }
    // The slot of the first LFN entry of the name.
    uint32_t first_index() const { return m_first; }

private:
    uint16_t m_units[max_lfn_entries * units_per_lfn];
    size_t m_length = 0;
    uint32_t m_first = 0;
    uint8_t m_checksum = 0;
    uint8_t m_expect = 0;
    bool m_valid = false;
};

// FAT's date and time of an entry: 2-second time, the date from 1980, and
// (creation only) a count of 10 ms.
struct Timestamp {
    uint16_t date = 0;
    uint16_t time = 0;
    uint8_t hundredths = 0;
};
// 0 for a date FAT never writes (month or day 0, past the month's end).
uint64_t to_ns(Timestamp stamp);
// Clamped to what FAT can hold: 1980-01-01 to 2107-12-31 (0, an unknown
// date, is 1980-01-01).
Timestamp from_ns(uint64_t ns);

} // namespace capos::fs::fat
