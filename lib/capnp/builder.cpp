// Building a single-segment message in a caller's buffer, and deep copies from
// readers in canonical form (https://capnproto.org/encoding.html#canonicalization):
// objects laid out in pre-order, struct data sections without trailing zero
// words and pointer sections without trailing nulls; for a struct list the
// largest such sizes over its elements.
//
// Allocation only ever appends, so every target lies after the pointer that
// leads to it and offsets are never negative (but for the empty struct's -1).
// A copy writes the pointer that leads to it last: the source may be part of
// the same message, even the struct that holds that very pointer.
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

using detail::AnyTarget;
using detail::load;
using detail::store;
using detail::WireAccess;

namespace {

int64_t offset_between(const Word* pointer, const Word* target) {
    return target - (pointer + 1);
}

uint16_t words_for_bytes(uint32_t bytes) {
    return static_cast<uint16_t>((bytes + 7) / 8);
}

} // namespace

// ---------------------------------------------------------------------------
// MessageBuilder

Word* MessageBuilder::allocation_failed() {
    m_full = true;
    record(WireError::BufferFull);
    return nullptr;
}

void MessageBuilder::set_root(StructReader value) {
    root_pointer().set_struct(value);
}

Result<size_t, WireError> MessageBuilder::write_framed(std::span<Word> out) const {
    if (m_error != WireError::None)
        return Err{m_error};
    size_t size = framed_size_words();
    if (out.size() < size)
        return Err{WireError::BufferFull};
    // Segment count - 1 (zero) in the low half, the segment's size in the high.
    out[0] = Word{static_cast<uint32_t>(m_used)} << 32;
    __builtin_memcpy(out.data() + 1, m_buffer, m_used * bytes_per_word);
    return size;
}

// ---------------------------------------------------------------------------
// Builders

StructReader StructBuilder::as_reader() const {
    if (m_message == nullptr)
        return {};
    const MessageReader& reader = m_message->m_reader;
    return StructReader(&reader, m_data, m_pointers, m_data_bytes, m_pointer_count, 0,
                        reader.limits().nesting);
}

ListReader ListBuilder::as_reader() const {
    if (m_message == nullptr)
        return {};
    const MessageReader& reader = m_message->m_reader;
    return ListReader(&reader, m_elements, m_count, m_step_bits, m_data_bits, m_pointer_count,
                      m_element_size, 0, reader.limits().nesting);
}

PointerReader PointerBuilder::as_reader() const {
    if (m_pointer == nullptr)
        return {};
    const MessageReader& reader = m_message->m_reader;
    return PointerReader(&reader, m_pointer, 0, reader.limits().nesting);
}

ListBuilder PointerBuilder::init_list(ElementSize size, uint32_t count) {
    if (m_pointer == nullptr)
        return {};
    if (size == ElementSize::InlineComposite) {
        m_message->record(WireError::WrongElementSize);
        store<Word>(m_pointer, 0);
        return {};
    }
    uint32_t data_bits = detail::data_bits_per_element(size);
    uint16_t pointer_count = detail::pointers_per_element(size);
    uint32_t step = data_bits + 64u * pointer_count;
    Word* at = count > detail::max_list_count
                   ? m_message->allocate(UINT64_MAX) // more than any buffer: BufferFull
                   : m_message->allocate((uint64_t{count} * step + 63) / 64);
    if (at == nullptr) {
        store<Word>(m_pointer, 0);
        return {};
    }
    store(m_pointer, detail::make_list_pointer(offset_between(m_pointer, at), size, count));
    return ListBuilder(m_message, reinterpret_cast<uint8_t*>(at), count, step, data_bits,
                       pointer_count, size);
}

ListBuilder PointerBuilder::init_struct_list(uint32_t count, uint16_t data_words,
                                             uint16_t pointer_count) {
    if (m_pointer == nullptr)
        return {};
    uint64_t words_per_element = uint64_t{data_words} + pointer_count;
    uint64_t words = uint64_t{count} * words_per_element;
    Word* at = count > detail::max_list_count || words > detail::max_list_count
                   ? m_message->allocate(UINT64_MAX) // more than any buffer: BufferFull
                   : m_message->allocate(words + 1);
    if (at == nullptr) {
        store<Word>(m_pointer, 0);
        return {};
    }
    store(at, detail::make_tag(count, data_words, pointer_count));
    store(m_pointer,
          detail::make_list_pointer(offset_between(m_pointer, at), ElementSize::InlineComposite,
                                    static_cast<uint32_t>(words)));
    return ListBuilder(m_message, reinterpret_cast<uint8_t*>(at + 1), count,
                       static_cast<uint32_t>(words_per_element * 64), uint32_t{data_words} * 64,
                       pointer_count, ElementSize::InlineComposite);
}

void PointerBuilder::set_struct(StructReader value) {
    if (m_pointer != nullptr)
        WireAccess::copy_struct(*m_message, m_pointer, value);
}

void PointerBuilder::set_list(ListReader value) {
    if (m_pointer != nullptr)
        WireAccess::copy_list(*m_message, m_pointer, value);
}

void PointerBuilder::set_capability(uint32_t index) {
    if (m_pointer != nullptr)
        store(m_pointer, detail::make_capability_pointer(index));
}

void PointerBuilder::clear() {
    if (m_pointer != nullptr)
        store<Word>(m_pointer, 0);
}

// ---------------------------------------------------------------------------
// Canonical deep copies

namespace detail {

void WireAccess::copy_pointer(MessageBuilder& message, Word* destination,
                              const PointerReader& value) {
    if (value.is_null()) {
        store<Word>(destination, 0);
        return;
    }
    auto read = read_any(value);
    if (read.is_error()) {
        value.m_message->record(read.error());
        store<Word>(destination, 0);
        return;
    }
    const AnyTarget& target = read.value();
    switch (target.kind) {
    case AnyTarget::Kind::Struct:
        copy_struct(message, destination, target.structure);
        return;
    case AnyTarget::Kind::List:
        copy_list(message, destination, target.list);
        return;
    case AnyTarget::Kind::Capability:
        store(destination, make_capability_pointer(target.capability));
        return;
    }
}

void WireAccess::copy_struct(MessageBuilder& message, Word* destination,
                             const StructReader& value) {
    uint32_t data_bytes = trimmed_data_bytes(value);
    uint16_t data_words = words_for_bytes(data_bytes);
    uint16_t pointer_count = trimmed_pointer_count(value);
    if (data_words == 0 && pointer_count == 0) {
        store(destination, empty_struct_pointer);
        return;
    }
    Word* at = message.allocate(uint64_t{data_words} + pointer_count);
    if (at == nullptr) {
        store<Word>(destination, 0);
        return;
    }
    if (data_bytes != 0)
        __builtin_memcpy(at, value.m_data, data_bytes);
    for (uint16_t i = 0; i < pointer_count; ++i)
        copy_pointer(message, at + data_words + i, value.pointer_field(i));
    store(destination,
          make_struct_pointer(offset_between(destination, at), data_words, pointer_count));
}

void WireAccess::copy_list(MessageBuilder& message, Word* destination, const ListReader& value) {
    uint32_t count = value.size();
    ElementSize size = value.element_size();

    if (size == ElementSize::InlineComposite) {
        uint16_t data_words = 0;
        uint16_t pointer_count = 0;
        for (uint32_t i = 0; i < count; ++i) {
            StructReader element = value.get_struct(i);
            uint16_t element_data = words_for_bytes(trimmed_data_bytes(element));
            uint16_t element_pointers = trimmed_pointer_count(element);
            data_words = element_data > data_words ? element_data : data_words;
            pointer_count = element_pointers > pointer_count ? element_pointers : pointer_count;
        }
        uint64_t words_per_element = uint64_t{data_words} + pointer_count;
        uint64_t words = uint64_t{count} * words_per_element; // no more than the source's
        Word* at = message.allocate(words + 1);
        if (at == nullptr) {
            store<Word>(destination, 0);
            return;
        }
        store(at, make_tag(count, data_words, pointer_count));
        Word* element_at = at + 1;
        for (uint32_t i = 0; i < count; ++i) {
            StructReader element = value.get_struct(i);
            uint32_t data_bytes = element.data_bytes() < uint32_t{data_words} * 8
                                      ? element.data_bytes()
                                      : uint32_t{data_words} * 8;
            if (data_bytes != 0)
                __builtin_memcpy(element_at, element.m_data, data_bytes);
            for (uint16_t j = 0; j < pointer_count; ++j)
                copy_pointer(message, element_at + data_words + j, element.pointer_field(j));
            element_at += words_per_element;
        }
        store(destination,
              make_list_pointer(offset_between(destination, at), ElementSize::InlineComposite,
                                static_cast<uint32_t>(words)));
        return;
    }

    if (size == ElementSize::Pointer) {
        Word* at = message.allocate(count);
        if (at == nullptr) {
            store<Word>(destination, 0);
            return;
        }
        for (uint32_t i = 0; i < count; ++i)
            copy_pointer(message, at + i, value.get_pointer(i));
        store(destination, make_list_pointer(offset_between(destination, at), size, count));
        return;
    }

    // Primitive elements: the bits as they are, the unused bits of a last
    // partial byte (bit lists) cleared.
    uint64_t bits = uint64_t{count} * value.step_bits();
    Word* at = message.allocate((bits + 63) / 64);
    if (at == nullptr) {
        store<Word>(destination, 0);
        return;
    }
    uint64_t whole_bytes = bits / 8;
    if (whole_bytes != 0)
        __builtin_memcpy(at, value.m_elements, whole_bytes);
    if (bits % 8 != 0) {
        uint8_t mask = static_cast<uint8_t>((1u << (bits % 8)) - 1);
        reinterpret_cast<uint8_t*>(at)[whole_bytes] =
            static_cast<uint8_t>(value.m_elements[whole_bytes] & mask);
    }
    store(destination, make_list_pointer(offset_between(destination, at), size, count));
}

// The sizes below mirror the copies above exactly.

uint64_t WireAccess::pointer_words(const PointerReader& value) {
    if (value.is_null())
        return 0;
    auto read = read_any(value);
    if (read.is_error()) {
        value.m_message->record(read.error());
        return 0;
    }
    const AnyTarget& target = read.value();
    switch (target.kind) {
    case AnyTarget::Kind::Struct:
        return struct_words(target.structure);
    case AnyTarget::Kind::List:
        return list_words(target.list);
    case AnyTarget::Kind::Capability:
        return 0;
    }
    return 0;
}

uint64_t WireAccess::struct_words(const StructReader& value) {
    uint16_t pointer_count = trimmed_pointer_count(value);
    uint64_t words = uint64_t{words_for_bytes(trimmed_data_bytes(value))} + pointer_count;
    for (uint16_t i = 0; i < pointer_count; ++i)
        words += pointer_words(value.pointer_field(i));
    return words;
}

uint64_t WireAccess::list_words(const ListReader& value) {
    uint32_t count = value.size();
    if (value.element_size() == ElementSize::InlineComposite) {
        uint16_t data_words = 0;
        uint16_t pointer_count = 0;
        for (uint32_t i = 0; i < count; ++i) {
            StructReader element = value.get_struct(i);
            uint16_t element_data = words_for_bytes(trimmed_data_bytes(element));
            uint16_t element_pointers = trimmed_pointer_count(element);
            data_words = element_data > data_words ? element_data : data_words;
            pointer_count = element_pointers > pointer_count ? element_pointers : pointer_count;
        }
        uint64_t words = 1 + uint64_t{count} * (uint64_t{data_words} + pointer_count);
        for (uint32_t i = 0; i < count && pointer_count != 0; ++i) {
            StructReader element = value.get_struct(i);
            for (uint16_t j = 0; j < pointer_count; ++j)
                words += pointer_words(element.pointer_field(j));
        }
        return words;
    }
    if (value.element_size() == ElementSize::Pointer) {
        uint64_t words = count;
        for (uint32_t i = 0; i < count; ++i)
            words += pointer_words(value.get_pointer(i));
        return words;
    }
    return (uint64_t{count} * value.step_bits() + 63) / 64;
}

} // namespace detail

uint64_t StructReader::total_words() const {
    return WireAccess::struct_words(*this);
}

uint64_t ListReader::total_words() const {
    return WireAccess::list_words(*this);
}

} // namespace capos::capnp
