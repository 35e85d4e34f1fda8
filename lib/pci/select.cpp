#include "lib/pci/select.h"

namespace capos::pci {

namespace {

bool same_address(const FunctionAddress& a, const FunctionAddress& b) {
    return a.segment == b.segment && a.bus == b.bus && a.device == b.device &&
           a.function == b.function;
}

} // namespace

std::optional<size_t> select(std::span<const Function> functions, const Selector& selector) {
    uint32_t matches = 0;
    for (size_t i = 0; i < functions.size(); ++i) {
        const Function& function = functions[i];
        if (selector.kind == Selector::Kind::Address) {
            if (same_address(function.address, selector.address))
                return i;
            continue;
        }
        if (function.header.vendor != selector.vendor || function.header.device != selector.device)
            continue;
        if (matches == selector.index)
            return i;
        ++matches;
    }
    return std::nullopt;
}

Unclaimable claimable(const Function& function) {
    if (function.header.header_type != 0)
        return Unclaimable::Bridge;
    if (function.header.class_code == 0x06 && function.header.subclass == 0x00)
        return Unclaimable::HostBridge;
    return Unclaimable::None;
}

const char* to_string(Unclaimable reason) {
    switch (reason) {
    case Unclaimable::None:
        return "claimable";
    case Unclaimable::Bridge:
        return "a bridge";
    case Unclaimable::HostBridge:
        return "a host bridge";
    }
    return "unknown";
}

} // namespace capos::pci
