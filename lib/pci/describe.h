// PCI functions as text, the way lspci shows them: the one line the kernel
// logs at boot and the shell's `devices` prints, and the details of
// `devices -v`. One place for the form, so the log and the shell agree.
#pragma once

#include "lib/pci/scan.h"
#include <cstddef>
#include <span>
#include <string_view>

namespace capos::pci {

// A function's address as lspci writes it: "00:1f.2", with the segment in
// front ("0001:00:1f.2") when it is not 0. Cut at the end of `out`; returns
// the length.
size_t format_address(const FunctionAddress& address, std::span<char> out);

// lspci's line of a function: "00:1f.2 SATA controller [0106]: 8086:2922
// (rev 02)", with the segment in front ("0001:00:1f.2") when it is not 0 and
// no "(rev ..)" for revision 0. Written into `out`, cut at its end; returns
// the length (no newline).
size_t format_function(const FunctionAddress& address, const FunctionHeader& header,
                       std::span<char> out);

// A BAR as lspci -v shows it: "Memory at febd1000 (32-bit, non-prefetchable)
// [size=4K]", "Memory at fe000000 (64-bit, prefetchable) [size=16K]", "I/O
// ports at c000 [size=32]" (the size in the largest unit that divides it);
// "unused" for an Unused one. Cut at the end of `out`; returns the length.
size_t format_bar(const Bar& bar, std::span<char> out);

// The name of a capability id ("Power Management", "MSI", "PCI Express",
// "MSI-X", "Vendor Specific", ...), or "Unknown".
const char* capability_name(uint8_t id);

// Where the detail lines go, one call per line (no newline).
class DetailOutput {
public:
    virtual void line(std::string_view text) = 0;

protected:
    ~DetailOutput() = default;
};

// The details of a function, each line indented by two spaces:
//   prog-if 01, subsystem 1af4:1100, interrupt pin A (line 10)
//     (a bridge: "bus 01, subordinate 01" in place of the subsystem; "no
//     interrupt pin" without one)
//   BAR 4: Memory at fe000000 (64-bit, prefetchable) [size=16K]   (each in use)
//   capability [98]: MSI-X                                        (each kept)
//   capability list: 3 more not kept / loops after 48 entries / bad pointer after 1 entry
//   MSI: disabled, 4 vectors capable, 1 enabled, 64-bit, per-vector masking
//   MSI-X: disabled, 2 entries, table in BAR 1 at 0x0, PBA in BAR 1 at 0x800
//   (or "MSI: malformed, not decoded" for bad_msi and bad_msix)
void describe(const Function& function, DetailOutput& out);

} // namespace capos::pci
