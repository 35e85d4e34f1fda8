// Fuzzes renumber_capabilities (lib/capnp/capabilities.h), which the kernel
// runs on every message that carries capabilities from one process to
// another. An input is a rename table and a single-segment message:
//   byte 0: bits 0-2, the number of renames; bit 3, how the message is made:
//     clear, the input's remaining whole words as they are; set, built by
//     Generator from the remaining bytes, which reaches shared objects (DAGs),
//     cycles, far pointers and capability pointers far more often than
//     random words do;
//   then two bytes per rename, `from` and `to`, both below 8, so that swaps
//   (A->B, B->A), chains and repeated `from`s are common.
// The properties, with the limits the kernel uses (ReaderLimits::for_message):
//   1. the result is what its contract says: the first wire error, or
//      CapabilityPointer at the first index without a rename, of a read walk
//      (for_each_capability) over the message; None when there is neither;
//   2. on failure the message is byte for byte what it was;
//   3. on success each word a read walk reported beforehand (the snapshot,
//      offset -> index) holds the `to` of the first rename whose `from` is its
//      old index, so it was renamed exactly once, and every other word is as
//      it was; a read walk afterwards reports the same words with their new
//      indexes.
// Crashes, sanitizer reports and broken properties (a trap) are the findings.
#include "lib/capnp/capabilities.h"
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

namespace {

namespace wire = capos::capnp;
using wire::ElementSize;
using wire::Word;
using Words = std::vector<Word>;

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

// Pointer words, from the encoding spec.
Word struct_word(int64_t offset, uint16_t data_words, uint16_t pointer_count) {
    return Word{static_cast<uint32_t>(static_cast<uint32_t>(offset) << 2)} |
           Word{data_words} << 32 | Word{pointer_count} << 48;
}
Word list_word(int64_t offset, ElementSize size, uint32_t count) {
    return Word{static_cast<uint32_t>(static_cast<uint32_t>(offset) << 2)} | 1 |
           Word{static_cast<uint8_t>(size)} << 32 | Word{count} << 35;
}
Word far_word(bool is_double, uint64_t position) {
    return Word{static_cast<uint32_t>(position) << 3} | Word{is_double} << 2 | 2;
}
Word capability_word(uint32_t index) {
    return 3 | Word{index} << 32;
}
// The same pointer word with its offset replaced (struct and list pointers).
Word with_offset(Word descriptor, int64_t offset) {
    return (descriptor & ~Word{0xffffffff}) | (descriptor & 3) |
           Word{static_cast<uint32_t>(static_cast<uint32_t>(offset) << 2)};
}

class Bytes {
public:
    Bytes(const uint8_t* data, size_t size) : m_data(data), m_size(size) {}
    uint8_t next() { return m_at < m_size ? m_data[m_at++] : 0; }
    bool empty() const { return m_at >= m_size; }

private:
    const uint8_t* m_data;
    size_t m_size;
    size_t m_at = 0;
};

// Builds a message from bytes, object by object, depth first: each pointer
// slot becomes null, a capability, a new struct, pointer list or struct list,
// a pointer to an object already placed (sharing, or a cycle when it is an
// ancestor), a single or double far pointer within the segment, or a raw word.
class Generator {
public:
    explicit Generator(Bytes& bytes) : m_bytes(bytes) {}

    Words build() {
        m_words.assign(1, 0);
        fill(0, 0);
        return m_words;
    }

private:
    static constexpr int max_depth = 8;
    static constexpr size_t max_words = 1024;

    struct Object {
        size_t start;    // the first word (a struct list's tag)
        Word descriptor; // its struct or list pointer, offset 0
    };

    // A new object of `words` zero words at the end; returns its start.
    size_t allocate(size_t words) {
        size_t start = m_words.size();
        m_words.resize(start + words, 0);
        return start;
    }

    // Points the pointer word at `slot` (or a far landing pad) at `object`.
    void point(size_t slot, const Object& object) {
        Word word = with_offset(object.descriptor, static_cast<int64_t>(object.start) -
                                                       static_cast<int64_t>(slot + 1));
        if (word == 0) // an empty struct right after its pointer: offset -1, not null
            word = with_offset(object.descriptor, -1);
        m_words[slot] = word;
    }

    // A new object, its pointers filled in; false when there is no room.
    bool place(int depth, Object& object) {
        if (m_words.size() >= max_words || depth >= max_depth)
            return false;
        uint8_t kind = m_bytes.next() % 3;
        if (kind == 0) {
            uint16_t data = m_bytes.next() % 3;
            uint16_t pointers = m_bytes.next() % 4;
            size_t start = allocate(data + pointers);
            object = {start, struct_word(0, data, pointers)};
            m_placed.push_back(object);
            for (uint16_t i = 0; i < pointers; ++i)
                fill(start + data + i, depth + 1);
        } else if (kind == 1) {
            uint32_t count = m_bytes.next() % 5;
            size_t start = allocate(count);
            object = {start, list_word(0, ElementSize::Pointer, count)};
            m_placed.push_back(object);
            for (uint32_t i = 0; i < count; ++i)
                fill(start + i, depth + 1);
        } else {
            uint32_t count = m_bytes.next() % 4;
            uint16_t data = m_bytes.next() % 2;
            uint16_t pointers = m_bytes.next() % 3;
            uint32_t words = count * (data + pointers);
            size_t tag = allocate(1 + words);
            m_words[tag] = struct_word(count, data, pointers); // the tag: count in the offset
            object = {tag, list_word(0, ElementSize::InlineComposite, words)};
            m_placed.push_back(object);
            for (uint32_t element = 0; element < count; ++element)
                for (uint16_t i = 0; i < pointers; ++i)
                    fill(tag + 1 + element * (data + pointers) + data + i, depth + 1);
        }
        return true;
    }

    // An object to point at: a new one or, sometimes, one already placed.
    bool target(int depth, Object& object) {
        if (!m_placed.empty() && m_bytes.next() % 3 == 0) {
            object = m_placed[m_bytes.next() % m_placed.size()];
            return true;
        }
        return place(depth, object);
    }

    void fill(size_t slot, int depth) {
        Object object;
        switch (m_bytes.next() % 8) {
        case 0:
            return; // null
        case 1:
        case 2:
            m_words[slot] = capability_word(m_bytes.next() % 8);
            return;
        case 3:
        case 4:
            if (target(depth, object))
                point(slot, object);
            return;
        case 5: { // a single far pointer: a landing pad holding the pointer
            size_t pad = allocate(1);
            m_words[slot] = far_word(false, pad);
            fill(pad, depth);
            return;
        }
        case 6: { // a double far pointer: a far pointer to the object, then its tag
            if (!target(depth, object))
                return;
            size_t pad = allocate(2);
            m_words[slot] = far_word(true, pad);
            m_words[pad] = far_word(false, object.start);
            m_words[pad + 1] = object.descriptor;
            return;
        }
        default: { // anything at all
            Word word = 0;
            for (int i = 0; i < 8; ++i)
                word |= Word{m_bytes.next()} << (8 * i);
            m_words[slot] = word;
            return;
        }
        }
    }

    Bytes& m_bytes;
    Words m_words;
    std::vector<Object> m_placed;
};

const wire::CapabilityRename* find(const std::vector<wire::CapabilityRename>& renames,
                                   uint32_t index) {
    for (const wire::CapabilityRename& rename : renames) {
        if (rename.from == index)
            return &rename;
    }
    return nullptr;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Bytes bytes(data, size);
    uint8_t header = bytes.next();
    std::vector<wire::CapabilityRename> renames(header & 7);
    for (wire::CapabilityRename& rename : renames) {
        rename.from = bytes.next() % 8;
        rename.to = bytes.next() % 8;
    }
    Words words;
    if ((header & 8) != 0) {
        Generator generator(bytes);
        words = generator.build();
    } else {
        size_t used = 1 + 2 * renames.size();
        size_t count = size > used ? (size - used) / sizeof(Word) : 0;
        words.resize(count);
        if (count != 0)
            std::memcpy(words.data(), data + used, count * sizeof(Word));
    }
    const Words original = words;
    const wire::ReaderLimits limits = wire::ReaderLimits::for_message(words.size());

    // The snapshot: every capability pointer a full read walk reaches.
    std::map<size_t, uint32_t> snapshot;
    wire::MessageReader before(std::span<const Word>(original), limits);
    wire::WireError read = wire::for_each_capability(before, [&](const wire::CapabilityPointer& p) {
        require(p.segment == 0 && p.offset < original.size());
        require(original[p.offset] == capability_word(p.index));
        auto [at, inserted] = snapshot.emplace(p.offset, p.index);
        require(inserted || at->second == p.index);
        return true;
    });
    // What the contract says the result is.
    wire::MessageReader check(std::span<const Word>(original), limits);
    wire::WireError expected = wire::for_each_capability(
        check, [&](const wire::CapabilityPointer& p) { return find(renames, p.index) != nullptr; });
    if (read != wire::WireError::None)
        require(expected != wire::WireError::None);

    // Scratch as the kernel's would be: left over from earlier messages.
    std::vector<uint64_t> seen(wire::renumber_bitmap_words(words.size()), 0x5555aaaa5555aaaaull);
    wire::WireError result = wire::renumber_capabilities(words, limits, renames, seen);
    require(result == expected);
    if (result != wire::WireError::None) {
        require(words == original);
        return 0;
    }

    require(read == wire::WireError::None);
    for (size_t i = 0; i < words.size(); ++i) {
        auto found = snapshot.find(i);
        if (found == snapshot.end()) {
            require(words[i] == original[i]);
            continue;
        }
        const wire::CapabilityRename* rename = find(renames, found->second);
        require(rename != nullptr && words[i] == capability_word(rename->to));
    }
    wire::MessageReader after(std::span<const Word>(words), limits);
    std::map<size_t, uint32_t> renamed;
    require(wire::for_each_capability(after, [&](const wire::CapabilityPointer& p) {
                renamed.emplace(p.offset, p.index);
                return true;
            }) == wire::WireError::None);
    require(renamed.size() == snapshot.size());
    for (auto [offset, index] : snapshot) {
        auto found = renamed.find(offset);
        require(found != renamed.end() && found->second == find(renames, index)->to);
    }
    return 0;
}
