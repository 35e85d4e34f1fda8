#include "lib/args/args_block.h"

namespace capos::args {

namespace {

constexpr size_t text_start = sizeof(abi::ArgsHeader) + abi::args_max_count * sizeof(abi::ArgEntry);
static_assert(text_start + abi::args_max_text == abi::args_block_size);

} // namespace

bool fits(std::span<const std::string_view> args) {
    if (args.size() > abi::args_max_count)
        return false;
    size_t bytes = 0;
    for (std::string_view arg : args) {
        if (arg.size() >= abi::args_max_text - bytes)
            return false;
        bytes += arg.size() + 1;
    }
    return true;
}

void write(Block block, std::span<const std::string_view> args) {
    __builtin_memset(block.data(), 0, block.size());
    abi::ArgsHeader header{abi::args_magic, uint32_t(args.size())};
    __builtin_memcpy(block.data(), &header, sizeof header);
    // The text after the largest table there can be: where it starts does
    // not depend on the count.
    size_t at = text_start;
    for (size_t i = 0; i < args.size(); ++i) {
        abi::ArgEntry entry{uint32_t(at), uint32_t(args[i].size())};
        __builtin_memcpy(block.data() + sizeof header + i * sizeof entry, &entry, sizeof entry);
        __builtin_memcpy(block.data() + at, args[i].data(), args[i].size());
        at += args[i].size() + 1; // the NUL is already there
    }
}

Reader::Reader(ConstBlock block) : m_block(block) {
    abi::ArgsHeader header;
    __builtin_memcpy(&header, block.data(), sizeof header);
    if (header.magic == abi::args_magic && header.count <= abi::args_max_count)
        m_count = header.count;
}

std::string_view Reader::operator[](size_t index) const {
    if (index >= m_count)
        return {};
    abi::ArgEntry entry;
    __builtin_memcpy(&entry, m_block.data() + sizeof(abi::ArgsHeader) + index * sizeof entry,
                     sizeof entry);
    if (entry.offset > m_block.size() || entry.length > m_block.size() - entry.offset)
        return {};
    return {reinterpret_cast<const char*>(m_block.data()) + entry.offset, entry.length};
}

} // namespace capos::args
