#include "lib/pci/select.h"
#include "lib/pci/msi.h"

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

std::array<PageRange, 2> kernel_pages(const Function& function, uint8_t bar,
                                      uint64_t window_bytes) {
    std::array<PageRange, 2> pages{};
    if (!function.has_msix)
        return pages;
    const MsixCapability& msix = function.msix;
    uint64_t window_pages = (window_bytes + window_page_size - 1) / window_page_size;
    auto range = [&](uint64_t offset, uint64_t bytes) {
        uint64_t first = offset / window_page_size;
        uint64_t end = (offset + bytes + window_page_size - 1) / window_page_size;
        if (end > window_pages)
            end = window_pages;
        if (first >= end)
            return PageRange{};
        return PageRange{uint32_t(first), uint32_t(end)};
    };
    if (msix.table_bar == bar)
        pages[0] = range(msix.table_offset, uint64_t(msix.table_size) * 16);
    if (msix.pba_bar == bar)
        pages[1] = range(msix.pba_offset, (uint64_t(msix.table_size) + 63) / 64 * 8);
    return pages;
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

uint32_t stop_bus_masters(ConfigAccess& access, std::span<Function> functions) {
    uint32_t stopped = 0;
    for (Function& function : functions) {
        if ((function.header.command & command_bus_master) == 0 ||
            claimable(function) != Unclaimable::None)
            continue;
        change_command(access, function.address, 0, command_bus_master);
        function.header.command = uint16_t(function.header.command & ~command_bus_master);
        ++stopped;
    }
    return stopped;
}

} // namespace capos::pci
