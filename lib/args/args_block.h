// The arguments block of abi/args.h: written by the kernel for a new process,
// read by the runtime. Pure logic, host-tested; the one place that knows the
// layout.
#pragma once

#include "abi/args.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::args {

using Block = std::span<uint8_t, abi::args_block_size>;
using ConstBlock = std::span<const uint8_t, abi::args_block_size>;

// Whether `args` fit in a block: at most abi::args_max_count of them, their
// bytes and a NUL each within abi::args_max_text.
bool fits(std::span<const std::string_view> args);

// Writes `args` (which must fit) into `block`, the rest of it zeroed.
void write(Block block, std::span<const std::string_view> args);

// A block as found in memory the process could have written: every entry is
// checked as it is read.
class Reader {
public:
    // An invalid block (bad magic, count beyond the maximum) reads as none.
    explicit Reader(ConstBlock block);
    size_t count() const { return m_count; }
    // Argument `index`, or empty for an index beyond count() or an entry
    // that does not lie within the block.
    std::string_view operator[](size_t index) const;

private:
    ConstBlock m_block;
    size_t m_count = 0;
};

} // namespace capos::args
