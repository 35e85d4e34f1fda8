#include "lib/capnp/capabilities.h"
#include "lib/capnp/wire_internal.h"

namespace capos::capnp {

using detail::AnyTarget;
using detail::WireAccess;

namespace {

class CapabilityWalker {
public:
    CapabilityWalker(CapabilityWalk mode, CapabilityVisitor visit, void* context)
        : m_mode(mode), m_visit(visit), m_context(context) {}

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
            uint32_t index = any.capability;
            if (!m_visit(m_context, index)) {
                m_stopped = true;
                return false;
            }
            if (m_mode == CapabilityWalk::Rewrite && index != any.capability) {
                auto* word = const_cast<Word*>(WireAccess::address_of(p));
                detail::store<Word>(word, detail::make_capability_pointer(index));
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

    bool stopped() const { return m_stopped; }
    WireError error() const { return m_error; }

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

    CapabilityWalk m_mode;
    CapabilityVisitor m_visit;
    void* m_context;
    bool m_stopped = false;
    WireError m_error = WireError::None;
};

} // namespace

WireError for_each_capability(const MessageReader& message, CapabilityWalk mode,
                              CapabilityVisitor visit, void* context) {
    CapabilityWalker walker(mode, visit, context);
    walker.pointer(message.root_pointer());
    if (walker.stopped())
        return WireError::CapabilityPointer;
    if (walker.error() != WireError::None)
        return walker.error();
    return message.error();
}

} // namespace capos::capnp
