// validate(): the whole message checked up front, without a schema, so that the
// kernel can decode before it invokes. Uses the readers' own checks, so whatever
// validate() accepts reads without errors (within the same limits), Text's NUL
// aside.
//
// The walk runs over pointer sections as runs of words. A near struct or list
// pointer in its own segment, of a sound shape and within the budget, is
// checked and charged right here (the common case, and the whole cost of
// validating); every other pointer (far, capability, other, or anything that
// fails a check) goes to the general path, read_any(), which decides and
// records the error. The fast path charges only once every check has passed,
// so it never charges and then gives way: both paths charge and fail exactly
// alike.
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

using detail::AnyTarget;
using detail::kind_of;
using detail::load;
using detail::PointerKind;
using detail::WireAccess;

namespace {

// Depth-first walk; stops at the first error, which `message` records. Depth is
// bounded by the nesting limit: every recursion takes at least one level.
class Walker {
public:
    explicit Walker(const MessageReader& message) : m_message(message) {}

    bool failed() const { return m_message.error() != WireError::None; }

    void walk_struct(const StructReader& value) {
        if (value.pointer_count() == 0)
            return;
        PointerReader first = value.pointer_field(0);
        walk_run(WireAccess::address_of(first), value.pointer_count(),
                 WireAccess::segment_of(first), WireAccess::nesting_of(first));
    }

    // The `count` pointers from `at`, in segment `segment_id`, whose targets may
    // descend `nesting` more levels (as a PointerReader's nesting).
    void walk_run(const Word* at, uint32_t count, uint32_t segment_id, uint32_t nesting) {
        std::span<const Word> segment = m_message.segment(segment_id);
        for (uint32_t i = 0; i < count; ++i) {
            const Word* pointer = at + i;
            Word word = load<Word>(pointer);
            if (word == 0 || detail::is_capability(word))
                continue; // capabilities are leaves, at any depth
            if (nesting == 0 || !walk_near(segment, pointer, word, segment_id, nesting))
                walk_general(pointer, segment_id, nesting);
            if (failed())
                return;
        }
    }

private:
    // The first word of a near pointer's target, when `words` words from it lie
    // in `segment`; null otherwise (see PointerReader::near_target).
    static const Word* near_target(std::span<const Word> segment, const Word* pointer, Word word,
                                   uint64_t words) {
        int64_t offset = (pointer - segment.data()) + 1 + detail::offset_of(word);
        if (offset < 0 || static_cast<uint64_t>(offset) > segment.size() ||
            words > segment.size() - static_cast<uint64_t>(offset))
            return nullptr;
        return segment.data() + offset;
    }

    // The fast path for one non-null pointer (nesting > 0): false, having
    // charged nothing, when the general path must decide.
    bool walk_near(std::span<const Word> segment, const Word* pointer, Word word,
                   uint32_t segment_id, uint32_t nesting) {
        if (kind_of(word) == PointerKind::Struct) {
            uint16_t data_words = detail::struct_data_words(word);
            uint16_t pointer_count = detail::struct_pointer_count(word);
            uint64_t words = uint64_t{data_words} + pointer_count;
            const Word* at = near_target(segment, pointer, word, words);
            if (at == nullptr || !m_message.consume_traversal(words))
                return false;
            walk_run(at + data_words, pointer_count, segment_id, nesting - 1);
            return true;
        }
        if (kind_of(word) != PointerKind::List)
            return false;

        ElementSize size = detail::list_element_size(word);
        uint32_t count = detail::list_count(word);
        if (size == ElementSize::InlineComposite) {
            const Word* at = near_target(segment, pointer, word, uint64_t{count} + 1);
            if (at == nullptr)
                return false;
            Word tag = load<Word>(at);
            uint32_t elements = detail::tag_element_count(tag);
            uint16_t data_words = detail::struct_data_words(tag);
            uint16_t pointer_count = detail::struct_pointer_count(tag);
            uint64_t words_per_element = uint64_t{data_words} + pointer_count;
            if (kind_of(tag) != PointerKind::Struct || words_per_element == 0 ||
                uint64_t{elements} * words_per_element > count ||
                !m_message.consume_traversal(uint64_t{count} + 1))
                return false;
            if (elements == 0)
                return true;
            // Reading an element takes a nesting level even when it has no
            // pointers (ListReader::get_struct): check that once.
            if (nesting - 1 == 0) {
                m_message.record(WireError::NestingLimit);
                return true;
            }
            for (uint32_t i = 0; i < elements && pointer_count != 0 && !failed(); ++i)
                walk_run(at + 1 + i * words_per_element + data_words, pointer_count, segment_id,
                         nesting - 2);
            return true;
        }
        if (size == ElementSize::Void)
            return false; // charged per element: the general path
        uint32_t step =
            detail::data_bits_per_element(size) + 64u * detail::pointers_per_element(size);
        uint64_t words = (uint64_t{count} * step + 63) / 64;
        const Word* at = near_target(segment, pointer, word, words);
        if (at == nullptr || !m_message.consume_traversal(words))
            return false;
        if (size == ElementSize::Pointer)
            walk_run(at, count, segment_id, nesting - 1);
        return true;
    }

    void walk_general(const Word* pointer, uint32_t segment_id, uint32_t nesting) {
        auto read = WireAccess::read_any(
            WireAccess::make_pointer(&m_message, pointer, segment_id, nesting));
        if (read.is_error()) {
            m_message.record(read.error());
            return;
        }
        const AnyTarget& target = read.value();
        if (target.kind == AnyTarget::Kind::Struct)
            walk_struct(target.structure);
        else if (target.kind == AnyTarget::Kind::List)
            walk_list(target.list);
    }

    void walk_list(const ListReader& list) {
        if (list.element_size() == ElementSize::InlineComposite) {
            // As above: one nesting check even without pointers.
            StructReader first = list.get_struct(0);
            if (first.pointer_count() == 0)
                return;
            for (uint32_t i = 0; i < list.size() && !failed(); ++i)
                walk_struct(list.get_struct(i));
        } else if (list.element_size() == ElementSize::Pointer && list.size() != 0) {
            PointerReader first = list.get_pointer(0);
            walk_run(WireAccess::address_of(first), list.size(), WireAccess::segment_of(first),
                     WireAccess::nesting_of(first));
        }
    }

    const MessageReader& m_message;
};

} // namespace

WireError validate(const MessageReader& message) {
    // A fresh reader over the same segments: the caller's error and traversal
    // budget stay untouched. (Built from its parts rather than copied: a copy
    // reads back the caller's just-written fields with wider loads, which
    // stalls on store forwarding and costs more than the whole walk of a
    // small message.)
    MessageReader scratch = message.m_segments.empty()
                                ? MessageReader(message.m_first, message.m_limits)
                                : MessageReader(message.m_segments, message.m_limits);

    Walker walker(scratch);
    PointerReader root = scratch.root_pointer();
    if (walker.failed() || root.is_null())
        return scratch.error();
    StructReader value = root.get_struct(); // a root that is no struct records its error
    if (!walker.failed())
        walker.walk_struct(value);
    return scratch.error();
}

} // namespace capos::capnp
