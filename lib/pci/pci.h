// Reading PCI configuration space (PCI Local Bus 3.0, PCI Express Base 4.0
// chapter 7): a function's header, its base address registers, its
// capability list and its MSI and MSI-X capabilities.
//
// A device's configuration space is input the kernel does not trust: a
// capability pointer may point anywhere or loop, a header may claim any
// type. These functions take the bytes the caller read (256 bytes of
// conventional space, or 4096 with the extended space) as a span and check
// every offset against it; nothing here touches hardware, allocates or has
// side effects. Sizing a BAR (writing all ones and reading back) is the
// caller's; decode_bar turns what it read into an address and a size.
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::pci {

enum class PciError : uint8_t {
    TooShort,       // fewer bytes than the field read needs
    NoFunction,     // vendor id 0xFFFF: nothing answers at this address
    NoCapabilities, // the status register says there is no capability list
    BadPointer,     // a capability pointer below 0x40, past the space or misaligned
    Loop,           // the list is longer than the space could hold: it loops
    BadCapability,  // a capability whose fields run past the space or contradict
    NotFound,       // no capability of the id asked for
};

const char* to_string(PciError error);

inline constexpr size_t config_space_size = 256;
inline constexpr size_t extended_config_space_size = 4096;

struct FunctionHeader {
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint16_t command = 0;
    uint16_t status = 0;
    uint8_t revision = 0;
    uint8_t prog_if = 0;
    uint8_t subclass = 0;
    uint8_t class_code = 0;
    uint8_t header_type = 0; // without the multi-function bit: 0 device, 1 bridge, 2 CardBus
    bool multi_function = false;
    uint8_t interrupt_line = 0;
    uint8_t interrupt_pin = 0; // 0 none, 1-4 INTA#-INTD#
    // Type 0 (device) headers only (a bridge names its subsystem in a
    // capability, if at all):
    uint16_t subsystem_vendor = 0;
    uint16_t subsystem_device = 0;
    // Type 1 (bridge) headers only:
    uint8_t primary_bus = 0;
    uint8_t secondary_bus = 0;
    uint8_t subordinate_bus = 0;
};
inline constexpr uint16_t status_capabilities = 1u << 4;
inline constexpr uint16_t command_io = 1u << 0;
inline constexpr uint16_t command_memory = 1u << 1;
inline constexpr uint16_t command_bus_master = 1u << 2;
inline constexpr uint16_t command_interrupt_disable = 1u << 10;

// The header at the start of `config` (at least 64 bytes).
Result<FunctionHeader, PciError> parse_header(std::span<const uint8_t> config);

// The number of BARs a header type has: 6 for a device, 2 for a bridge, 0
// otherwise; BAR i is the 32-bit register at 0x10 + 4 * i.
size_t bar_count(uint8_t header_type);

struct Bar {
    enum class Kind : uint8_t { Unused, Memory32, Memory64, Io };
    Kind kind = Kind::Unused;
    bool prefetchable = false;
    uint64_t address = 0;
    uint64_t size = 0; // 0 for Unused
};
// Decodes BAR `low` (and, for a 64-bit memory BAR, `high`, the next
// register) from their values and what they read back after all ones were
// written to them (`low_mask`, `high_mask`). A BAR that reads back 0 is
// Unused; a 64-bit one in the last register, or a mask that is not a run of
// ones from the top, is Unused too (firmware's garbage is not a window).
Bar decode_bar(uint32_t low, uint32_t high, uint32_t low_mask, uint32_t high_mask);
// Whether the BAR value `low` is the first half of a 64-bit memory BAR.
bool is_64bit_bar(uint32_t low);

// The capability list (conventional space): next() gives each capability's
// id and offset, in list order. Pointers must be dword-aligned (the low two
// bits are ignored, as the specification says), at least 0x40 and leave room
// for the id and the next pointer; more than 48 entries (what 192 bytes could
// hold) is a Loop. After an error every next() gives it again.
struct Capability {
    uint8_t id = 0;
    uint8_t offset = 0;
};
inline constexpr uint8_t capability_msi = 0x05;
inline constexpr uint8_t capability_vendor = 0x09; // vendor-specific (virtio's)
inline constexpr uint8_t capability_pci_express = 0x10;
inline constexpr uint8_t capability_msix = 0x11;
class CapabilityWalk {
public:
    // NoCapabilities when the header says there is none.
    static Result<CapabilityWalk, PciError> start(std::span<const uint8_t> config);
    // The next capability; NotFound after the last.
    Result<Capability, PciError> next();

private:
    std::span<const uint8_t> m_config;
    uint8_t m_next = 0;
    size_t m_seen = 0;
    PciError m_error = PciError::NotFound;
    bool m_failed = false;
};
// The offset of the first capability with `id`, walking the list as above.
Result<uint8_t, PciError> find_capability(std::span<const uint8_t> config, uint8_t id);

struct MsiCapability {
    uint8_t offset = 0;
    bool enabled = false;
    bool address_64 = false;
    bool per_vector_masking = false;
    // 1, 2, 4, 8, 16 or 32 once parsed (zeros before: a table of
    // unparsed capabilities is all zeros).
    uint8_t vectors_capable = 0;
    uint8_t vectors_enabled = 0;
};
Result<MsiCapability, PciError> parse_msi(std::span<const uint8_t> config, uint8_t offset);

struct MsixCapability {
    uint8_t offset = 0;
    bool enabled = false;
    bool function_masked = false;
    uint16_t table_size = 0; // entries, 1 to 2048
    uint8_t table_bar = 0;   // BAR index, 0 to 5
    uint32_t table_offset = 0;
    uint8_t pba_bar = 0;
    uint32_t pba_offset = 0;
};
// BadCapability when the table or PBA names BAR 6 or 7.
Result<MsixCapability, PciError> parse_msix(std::span<const uint8_t> config, uint8_t offset);

// A short English name of a class and subclass, as lspci prints them
// ("Host bridge", "SATA controller", "Ethernet controller", ...), or of the
// class alone when the subclass is not known, or "Unclassified device".
const char* class_name(uint8_t class_code, uint8_t subclass);

} // namespace capos::pci
