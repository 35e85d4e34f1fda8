// Which recorded PCI function a driver's grant names (schema DeviceSelector):
// by identity (vendor and device ids, and which of several such functions)
// or by address, and whether it may be handed to a driver at all. Pure
// logic over the boot scan's table (lib/pci/scan.h).
#pragma once

#include "lib/pci/scan.h"
#include <array>
#include <cstddef>
#include <optional>
#include <span>

namespace capos::pci {

struct Selector {
    enum class Kind : uint8_t { Identity, Address };
    Kind kind = Kind::Identity;
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint16_t index = 0; // Identity: the index-th match in address order
    FunctionAddress address;
};

// The position in `functions` (in address order) of the function `selector`
// names, or nullopt when none does.
std::optional<size_t> select(std::span<const Function> functions, const Selector& selector);

enum class Unclaimable : uint8_t {
    None,       // a driver may hold it
    Bridge,     // a PCI-to-PCI or CardBus bridge: the kernel's bus topology
    HostBridge, // class 06/00: the machine's own path to memory
};
// Whether `function` may be claimed by a driver.
Unclaimable claimable(const Function& function);
const char* to_string(Unclaimable reason);

// Turns bus mastering off in every function a driver may hold that has it
// on (firmware leaves the disks it booted from running: their queues in
// firmware memory, a request or a late notification away from DMA), and
// notes it in the records. A function masters the bus again only when a
// claim allows it. How many were turned off.
uint32_t stop_bus_masters(ConfigAccess& access, std::span<Function> functions);

// Pages [first, end) of a BAR's window.
struct PageRange {
    uint32_t first = 0;
    uint32_t end = 0;
    bool empty() const { return first >= end; }
};
inline constexpr uint64_t window_page_size = 4096;
// The pages of BAR `bar`'s window a driver's mapping leaves out: those of
// the MSI-X table and of the pending-bit array, when they lie in that BAR
// (the kernel programs them: a driver that wrote an entry could make its
// device send any message to any CPU). Empty ranges otherwise; a range is
// clipped to a window of `window_bytes`.
std::array<PageRange, 2> kernel_pages(const Function& function, uint8_t bar, uint64_t window_bytes);

} // namespace capos::pci
