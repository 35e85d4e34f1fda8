// validate(): the whole message checked up front, without a schema, so that the
// kernel can decode before it invokes. Uses the readers' own checks, so whatever
// validate() accepts reads without errors (within the same limits), Text's NUL
// aside.
//
// The walk runs over pointer sections as runs of words. A near struct or list
// pointer in its own segment, of a sound shape and within the budget, is
// checked and charged right here (the common case, and the whole cost of
// validating a message); every other pointer (far, other than a capability, or
// anything that fails a check) goes to the general path, read_any(), which
// decides and records the error. The fast path charges only once every check
// has passed, so it never charges and then gives way: both paths charge and
// fail exactly alike. The fast path keeps the traversal budget in a register,
// passed down and back up the recursion, and hands it to the MessageReader
// around each general-path call.
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
    // `budget` is `message`'s own traversal budget.
    Walker(const MessageReader& message, uint64_t& budget) : m_message(message), m_budget(budget) {}

    bool failed() const { return m_message.error() != WireError::None; }
    bool met_capability() const { return m_capabilities; }

    void walk_struct(const StructReader& value) {
        if (value.pointer_count() == 0)
            return;
        PointerReader first = value.pointer_field(0);
        m_budget = walk_run(WireAccess::address_of(first), value.pointer_count(),
                            WireAccess::segment_of(first), WireAccess::nesting_of(first), m_budget);
    }

private:
    // The `count` pointers from `at`, in segment `segment_id`, whose targets may
    // descend `nesting` more levels (as a PointerReader's nesting), with `left`
    // words of budget; returns the budget left.
    uint64_t walk_run(const Word* at, uint32_t count, uint32_t segment_id, uint32_t nesting,
                      uint64_t left) {
        std::span<const Word> segment = m_message.segment(segment_id);
        for (uint32_t i = 0; i < count; ++i) {
            const Word* pointer = at + i;
            Word word = load<Word>(pointer);
            if (word == 0)
                continue;
            if (detail::is_capability(word)) {
                m_capabilities = true;
                continue; // capabilities are leaves, at any depth
            }
            if (nesting != 0) {
                // Text and Data, the most common targets, first.
                if (kind_of(word) == PointerKind::List &&
                    detail::list_element_size(word) == ElementSize::Byte) {
                    uint64_t words = (uint64_t{detail::list_count(word)} + 7) / 8;
                    uint64_t charge = detail::traversal_charge(words);
                    if (near_target(segment, pointer, word, words) != nullptr && charge <= left) {
                        left -= charge;
                        continue;
                    }
                } else if (kind_of(word) == PointerKind::Struct) {
                    uint16_t data_words = detail::struct_data_words(word);
                    uint16_t pointer_count = detail::struct_pointer_count(word);
                    uint64_t words = uint64_t{data_words} + pointer_count;
                    const Word* target = near_target(segment, pointer, word, words);
                    uint64_t charge = detail::traversal_charge(words);
                    if (target != nullptr && charge <= left) {
                        left -= charge;
                        if (pointer_count == 0)
                            continue;
                        left = walk_run(target + data_words, pointer_count, segment_id, nesting - 1,
                                        left);
                        if (failed())
                            return left;
                        continue;
                    }
                } else if (kind_of(word) == PointerKind::List) {
                    uint64_t after = left;
                    if (walk_near_list(segment, pointer, word, segment_id, nesting, after)) {
                        left = after;
                        if (failed())
                            return left;
                        continue;
                    }
                }
            }
            // The general path, with the budget in the MessageReader; what it
            // finds below the pointer is walked here, so that the recursion
            // runs through this function alone.
            m_budget = left;
            Runs runs = walk_general(pointer, segment_id, nesting);
            left = m_budget;
            for (uint32_t run = 0; run < runs.count && !failed(); ++run)
                left = walk_run(runs.first + uint64_t{run} * runs.stride, runs.length, runs.segment,
                                runs.nesting, left);
            if (failed())
                return left;
        }
        return left;
    }

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

    // The fast path for a near list pointer other than Byte (nesting > 0):
    // false, `left` untouched, when the general path must decide; else true
    // with `left` charged and the list walked.
    bool walk_near_list(std::span<const Word> segment, const Word* pointer, Word word,
                        uint32_t segment_id, uint32_t nesting, uint64_t& left) {
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
                uint64_t{elements} * words_per_element > count || uint64_t{count} + 1 > left)
                return false;
            left -= uint64_t{count} + 1;
            if (elements == 0)
                return true;
            // Reading an element takes a nesting level even when it has no
            // pointers (ListReader::get_struct): check that once.
            if (nesting - 1 == 0) {
                m_message.record(WireError::NestingLimit);
                return true;
            }
            for (uint32_t i = 0; i < elements && pointer_count != 0 && !failed(); ++i)
                left = walk_run(at + 1 + i * words_per_element + data_words, pointer_count,
                                segment_id, nesting - 2, left);
            return true;
        }
        if (size == ElementSize::Void)
            return false; // charged per element: the general path
        uint32_t step =
            detail::data_bits_per_element(size) + 64u * detail::pointers_per_element(size);
        uint64_t words = (uint64_t{count} * step + 63) / 64;
        const Word* at = near_target(segment, pointer, word, words);
        uint64_t charge = detail::traversal_charge(words);
        if (at == nullptr || charge > left)
            return false;
        left -= charge;
        if (size == ElementSize::Pointer)
            left = walk_run(at, count, segment_id, nesting - 1, left);
        return true;
    }

    // The runs of pointers the general path found below a pointer: `count`
    // runs of `length` pointers, `stride` words apart.
    struct Runs {
        const Word* first = nullptr;
        uint32_t count = 0;
        uint32_t length = 0;
        uint64_t stride = 0;
        uint32_t segment = 0;
        uint32_t nesting = 0; // of each pointer in a run
    };

    // Reads any pointer through read_any (charging the MessageReader's budget,
    // recording errors) and returns what lies below it. Out of line, so that
    // its larger locals stay out of walk_run's frame, which is the one the
    // recursion repeats (about 180 bytes a level on x86_64).
    [[gnu::noinline]] Runs walk_general(const Word* pointer, uint32_t segment_id,
                                        uint32_t nesting) {
        auto read = WireAccess::read_any(
            WireAccess::make_pointer(&m_message, pointer, segment_id, nesting));
        if (read.is_error()) {
            m_message.record(read.error());
            return {};
        }
        const AnyTarget& target = read.value();
        if (target.kind == AnyTarget::Kind::Struct)
            return runs_of(target.structure);
        if (target.kind != AnyTarget::Kind::List) {
            m_capabilities = true;
            return {}; // a capability
        }
        const ListReader& list = target.list;
        if (list.element_size() == ElementSize::InlineComposite) {
            // Reading an element takes a nesting level even when it has no
            // pointers: check that once (get_struct records the error).
            Runs runs = runs_of(list.get_struct(0));
            runs.count = runs.count != 0 ? list.size() : 0;
            runs.stride = WireAccess::step_bits_of(list) / 64;
            return runs;
        }
        if (list.element_size() == ElementSize::Pointer && list.size() != 0) {
            PointerReader first = list.get_pointer(0);
            return {WireAccess::address_of(first), 1, list.size(), 0, WireAccess::segment_of(first),
                    WireAccess::nesting_of(first)};
        }
        return {};
    }

    static Runs runs_of(const StructReader& value) {
        if (value.pointer_count() == 0)
            return {};
        PointerReader first = value.pointer_field(0);
        return {WireAccess::address_of(first), 1,
                value.pointer_count(),         0,
                WireAccess::segment_of(first), WireAccess::nesting_of(first)};
    }

    const MessageReader& m_message;
    uint64_t& m_budget; // m_message's: current only around general-path calls
    bool m_capabilities = false;
};

} // namespace

WireError detail::validate_by_walking(const MessageReader& message, bool* capabilities) {
    // A fresh reader over the same segments, with the limits `message` was
    // made with (ReaderLimits::for_message for an untrusted message bounds the
    // walk by its size): the caller's error and traversal budget stay
    // untouched. (Built from its parts rather than copied: a copy
    // reads back the caller's just-written fields with wider loads, which
    // stalls on store forwarding and costs more than the whole walk of a
    // small message.)
    MessageReader scratch = message.m_segments.empty()
                                ? MessageReader(message.m_first, message.m_limits)
                                : MessageReader(message.m_segments, message.m_limits);

    Walker walker(scratch, scratch.m_traversal_left);
    if (capabilities)
        *capabilities = false;
    PointerReader root = scratch.root_pointer();
    if (walker.failed() || root.is_null())
        return scratch.error();
    StructReader value = root.get_struct(); // a root that is no struct records its error
    if (!walker.failed())
        walker.walk_struct(value);
    if (capabilities)
        *capabilities = walker.met_capability();
    return scratch.error();
}

} // namespace capos::capnp
