#include "lib/capnp/capabilities.h"
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

using detail::AnyTarget;
using detail::WireAccess;

namespace {

using Visit = bool (*)(void* context, const CapabilityPointer& pointer);

// Depth-first over every pointer reachable from where it starts, following
// each with the reader's budget and nesting limit (the recursion is bounded by
// the nesting limit: each level takes one).
class CapabilityWalker {
public:
    CapabilityWalker(Visit visit, void* context) : m_visit(visit), m_context(context) {}

    // False when the walk must stop (a wire error or the visitor said so).
    bool pointer(const PointerReader& p) {
        if (p.is_null())
            return true;
        auto target = WireAccess::read_any(p);
        if (target.is_error()) {
            m_error = target.error();
            return false;
        }
        const AnyTarget& any = target.value();
        switch (any.kind) {
        case AnyTarget::Kind::Capability: {
            // Capability pointers are never behind far pointers: the word is
            // where the PointerReader is, in its segment.
            uint32_t segment = WireAccess::segment_of(p);
            const Word* at = WireAccess::address_of(p);
            const Word* start = WireAccess::message_of(p)->segment(segment).data();
            CapabilityPointer found{segment, any.capability, static_cast<size_t>(at - start)};
            if (!m_visit(m_context, found)) {
                m_stopped = true;
                return false;
            }
            return true;
        }
        case AnyTarget::Kind::Struct:
            return structure(any.structure);
        case AnyTarget::Kind::List:
            return list(any.list);
        }
        return true;
    }

    // None, the walk's own error, CapabilityPointer when the visitor stopped
    // it, or an error `message` recorded on the way (a struct list element
    // past the nesting limit).
    WireError result(const MessageReader& message) const {
        if (m_stopped)
            return WireError::CapabilityPointer;
        if (m_error != WireError::None)
            return m_error;
        return message.error();
    }

private:
    bool structure(const StructReader& value) {
        for (uint16_t i = 0; i < value.pointer_count(); ++i) {
            if (!pointer(value.pointer_field(i)))
                return false;
        }
        return true;
    }

    bool list(const ListReader& value) {
        switch (value.element_size()) {
        case ElementSize::Pointer:
            for (uint32_t i = 0; i < value.size(); ++i) {
                if (!pointer(value.get_pointer(i)))
                    return false;
            }
            return true;
        case ElementSize::InlineComposite:
            for (uint32_t i = 0; i < value.size(); ++i) {
                if (!structure(value.get_struct(i)))
                    return false;
            }
            return true;
        default:
            return true; // primitive elements hold no pointers
        }
    }

    Visit m_visit;
    void* m_context;
    bool m_stopped = false;
    WireError m_error = WireError::None;
};

const CapabilityRename* find_rename(std::span<const CapabilityRename> renames, uint32_t index) {
    for (const CapabilityRename& rename : renames) {
        if (rename.from == index)
            return &rename;
    }
    return nullptr;
}

} // namespace

WireError for_each_capability(const MessageReader& message, Visit visit, void* context) {
    CapabilityWalker walker(visit, context);
    walker.pointer(message.root_pointer());
    return walker.result(message);
}

WireError renumber_capabilities(std::span<Word> message, ReaderLimits limits,
                                std::span<const CapabilityRename> renames,
                                std::span<uint64_t> seen) {
    size_t bitmap_words = renumber_bitmap_words(message.size());
    if (seen.size() < bitmap_words)
        return WireError::BufferFull;
    std::span<const Word> words(message);

    // 1. Decode: every capability pointer has a rename. Nothing is written.
    MessageReader check(words, limits);
    WireError checked = for_each_capability(check, [&](const CapabilityPointer& pointer) {
        return find_rename(renames, pointer.index) != nullptr;
    });
    if (checked != WireError::None)
        return checked;

    // 2. Invoke: the same walk (see the header), rewriting each word the first
    // time it is reached; a word marked in `seen` already holds its new id.
    for (size_t i = 0; i < bitmap_words; ++i)
        seen[i] = 0;
    MessageReader rewrite(words, limits);
    return for_each_capability(rewrite, [&](const CapabilityPointer& pointer) {
        uint64_t& marks = seen[pointer.offset / 64];
        uint64_t mark = uint64_t{1} << (pointer.offset % 64);
        if ((marks & mark) != 0)
            return true;
        marks |= mark;
        const CapabilityRename* rename = find_rename(renames, pointer.index);
        if (rename == nullptr)
            return false; // cannot happen: pass 1 found one for this very word
        detail::store<Word>(&message[pointer.offset], detail::make_capability_pointer(rename->to));
        return true;
    });
}

} // namespace capos::capnp
