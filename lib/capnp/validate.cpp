// validate(): the whole message checked up front, without a schema, so that the
// kernel can decode before it invokes. Uses the readers' own checks, so whatever
// validate() accepts reads without errors (within the same limits), Text's NUL
// aside.
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

using detail::AnyTarget;
using detail::WireAccess;

namespace {

// Depth-first walk; stops at the first error, which `message` records.
class Walker {
public:
    explicit Walker(const MessageReader& message) : m_message(message) {}

    bool failed() const { return m_message.error() != WireError::None; }

    void walk_struct(const StructReader& value) {
        for (uint16_t i = 0; i < value.pointer_count() && !failed(); ++i)
            walk_pointer(value.pointer_field(i));
    }

    void walk_pointer(const PointerReader& pointer) {
        if (pointer.is_null())
            return;
        auto read = WireAccess::read_any(pointer);
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
            // Reading an element takes a nesting level even when it has no
            // pointers: check that once, then walk the pointers, if any.
            StructReader first = list.get_struct(0);
            if (first.pointer_count() == 0)
                return;
            for (uint32_t i = 0; i < list.size() && !failed(); ++i)
                walk_struct(list.get_struct(i));
        } else if (list.element_size() == ElementSize::Pointer) {
            for (uint32_t i = 0; i < list.size() && !failed(); ++i)
                walk_pointer(list.get_pointer(i));
        }
    }

private:
    const MessageReader& m_message;
};

} // namespace

WireError validate(const MessageReader& message) {
    // A private copy: the caller's error and traversal budget stay untouched.
    MessageReader scratch = message;
    scratch.m_trusted = false;
    scratch.m_error = WireError::None;
    scratch.m_traversal_left = scratch.m_limits.traversal_words;

    Walker walker(scratch);
    PointerReader root = scratch.root_pointer();
    if (walker.failed() || root.is_null())
        return scratch.error();
    auto read = WireAccess::read_struct(root);
    if (read.is_error())
        return read.error();
    walker.walk_struct(read.value());
    return scratch.error();
}

} // namespace capos::capnp
