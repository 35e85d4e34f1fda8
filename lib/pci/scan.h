// Finding every PCI function behind a set of root buses, and recording what
// the kernel needs to know of each (PCI Local Bus 3.0 chapter 6; PCI-to-PCI
// Bridge 1.2 chapter 3): its header, its base address registers sized, its
// capability list, MSI and MSI-X.
//
// The scan reaches configuration space only through a ConfigAccess the caller
// gives (the kernel's ECAM windows or the legacy I/O ports; a fake bus in the
// host tests), so all of it is pure logic. What a device answers is not
// trusted: a function is parsed by lib/pci/pci.h's checked parsers, a bridge
// is followed only to a bus above its own, inside its root's range and not
// scanned before (so a loop of bridges or a bridge naming its own bus ends),
// and nothing is kept beyond the caller's table.
//
// The scan writes to configuration space only to size BARs: for each
// function, memory and I/O decoding are turned off in its command register
// (except on host bridges, whose decoding the machine itself relies on), each
// BAR is written all ones and read back, its value put back, and the command
// register restored. The caller runs it once, at boot, with nothing else
// using the devices.
#pragma once

#include "lib/pci/pci.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::pci {

struct FunctionAddress {
    uint16_t segment = 0;
    uint8_t bus = 0;
    uint8_t device = 0;   // 0 to 31
    uint8_t function = 0; // 0 to 7
};
inline constexpr uint8_t devices_per_bus = 32;
inline constexpr uint8_t functions_per_device = 8;

// How the scan reads and writes configuration space. `offset` is a multiple
// of four below config_space_size; the scan asks only for functions on buses
// of the roots it was given. A read where nothing answers gives all ones.
class ConfigAccess {
public:
    virtual uint32_t read32(FunctionAddress function, uint16_t offset) = 0;
    virtual void write32(FunctionAddress function, uint16_t offset, uint32_t value) = 0;

protected:
    ~ConfigAccess() = default;
};

// A range of buses that hang below one root (an ECAM window of the MCFG, or
// segment 0's 256 buses through the legacy ports): the scan starts at
// `first_bus` and reaches the others only through bridges.
struct RootBuses {
    uint16_t segment = 0;
    uint8_t first_bus = 0;
    uint8_t last_bus = 255;
};

// How a function's capability list ended.
enum class CapabilityListEnd : uint8_t {
    Complete,   // a next pointer of 0 (or no list at all)
    BadPointer, // a pointer into the header, past the space or without room for its entry
    Loop,       // more entries than the space holds
};
const char* to_string(CapabilityListEnd end);

inline constexpr size_t max_bars = 6;
inline constexpr size_t max_recorded_capabilities = 16;

// One function as the scan found it.
struct Function {
    FunctionAddress address;
    FunctionHeader header;
    // By register: bars[i] is BAR i (a 64-bit BAR at i uses register i + 1
    // too, which is then Unused). Unused past bar_count(header.header_type).
    Bar bars[max_bars];
    // The list in order: the first max_recorded_capabilities entries kept;
    // capability_total counts every entry walked.
    Capability capabilities[max_recorded_capabilities];
    uint8_t capability_count = 0;
    uint8_t capability_total = 0;
    CapabilityListEnd capability_end = CapabilityListEnd::Complete;
    // The first MSI and MSI-X capabilities of the list, when well formed
    // (one that is not is in the list above but not here; `bad_msi` /
    // `bad_msix` say so).
    bool has_msi = false;
    bool bad_msi = false;
    MsiCapability msi;
    bool has_msix = false;
    bool bad_msix = false;
    MsixCapability msix;
};

struct ScanSummary {
    size_t found = 0;    // functions that answered
    size_t recorded = 0; // of them, kept in the table (the rest did not fit)
    size_t buses = 0;    // buses scanned
    size_t bridges_not_followed =
        0;                    // secondary bus not above the bridge's, outside the root or seen
    size_t roots_refused = 0; // first_bus past last_bus, or overlapping an earlier root
};

// Scans every root in order, each bus in ascending order (so the table is in
// address order when the roots are), filling `table` with the functions found
// until it is full and counting the rest.
ScanSummary scan(ConfigAccess& access, std::span<const RootBuses> roots, std::span<Function> table);

} // namespace capos::pci
