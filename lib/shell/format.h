// Text the shell writes for disks: sizes in binary units, block numbers as
// typed, and hexdumps of what a disk holds (`disks`, `blk read`). Pure
// logic: the caller owns the output; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace capos::shell {

// Room format_size needs: "1023.9 EiB" and more.
inline constexpr size_t size_text_max = 16;

// `bytes` in the largest binary unit it reaches (B, KiB, MiB, GiB, TiB,
// PiB, EiB) with one decimal, rounded down: "512 B", "4.0 MiB", "1.5 GiB".
// Writes into `out` (at least size_text_max); returns the length.
size_t format_size(uint64_t bytes, std::span<char, size_text_max> out);

// A number as a person types it: decimal, or hexadecimal after "0x"; all of
// `text`, at most 2^64 - 1. nullopt for anything else (signs, spaces, an
// empty text, "0x" alone, digits past 64 bits).
std::optional<uint64_t> parse_number(std::string_view text);

// Receives a hexdump's lines (without a newline).
class HexdumpOutput {
public:
    virtual void line(std::string_view text) = 0;

protected:
    ~HexdumpOutput() = default;
};

inline constexpr size_t hexdump_line_bytes = 16;

// Writes `bytes` as `hexdump -C` does, the offsets counted from `base`:
//   00000010  01 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  |................|
// sixteen bytes a line (the offset in at least eight hex digits, the bytes
// in two groups of eight, then the printable ASCII ones, others as '.');
// lines that repeat the one before are written once as "*"; the offset of
// the end comes last. Nothing but that last line for no bytes.
void hexdump(std::span<const uint8_t> bytes, uint64_t base, HexdumpOutput& out);

} // namespace capos::shell
