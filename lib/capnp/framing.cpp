// The stream framing: a segment table in front of the segments.
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

Result<std::span<const std::span<const Word>>, WireError>
parse_framed(std::span<const Word> bytes, std::span<std::span<const Word>> storage) {
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(Word) != 0 || bytes.empty())
        return Err{WireError::BadFraming};
    const Word first = detail::load<Word>(bytes.data());
    uint64_t count = uint64_t{static_cast<uint32_t>(first)} + 1;
    if (count > storage.size())
        return Err{WireError::TooManySegments};
    // u32 count, then one u32 per segment, padded to a word.
    uint64_t table_words = (count + 2) / 2;
    if (table_words > bytes.size())
        return Err{WireError::BadFraming};

    uint64_t offset = table_words;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t entry = i + 1; // u32 index in the table
        Word table_word = detail::load<Word>(bytes.data() + entry / 2);
        uint64_t size = static_cast<uint32_t>(entry % 2 == 0 ? table_word : table_word >> 32);
        if (size > bytes.size() - offset)
            return Err{WireError::BadFraming};
        storage[i] = bytes.subspan(offset, size);
        offset += size;
    }
    if (offset != bytes.size())
        return Err{WireError::BadFraming};
    return std::span<const std::span<const Word>>(storage.data(), count);
}

} // namespace capos::capnp
