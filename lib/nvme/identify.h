// The Identify data structures a driver needs to bring a namespace up
// (section 5.15): Identify Controller (CNS 1), Identify Namespace (CNS 0) and
// the active namespace id list (CNS 2), 4096 bytes each, written by the
// controller into the driver's memory. They are parsed from a copy the
// caller took of that memory, and every field used is checked: a wrong size,
// a string with control bytes, a namespace whose capacity exceeds its size, a
// format index past the format table, a block size outside 512 B..64 KiB,
// an id list out of order are typed errors, not values passed on.
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::nvme {

enum class IdentifyError : uint8_t {
    Size,              // the data is not 4096 bytes
    String,            // serial, model or firmware with a byte outside printable ASCII
    EntrySizes,        // SQES / CQES do not admit 64- and 16-byte entries
    InactiveNamespace, // NSZE 0: the id names no active namespace
    Capacity,          // NCAP above NSZE, NUSE above NCAP, or the size in bytes past 2^64
    FormatCount,       // NLBAF names more than 64 formats
    FormatIndex,       // FLBAS picks a format past NLBAF
    BlockSize,         // the active format's LBADS below 9 or above 16
    ListOrder,         // active ids not strictly increasing above the start, or invalid
    ListSpace,         // more active ids than the caller's array holds
};
const char* to_string(IdentifyError error);

// An ASCII field of the controller data with its padding removed.
template <size_t Capacity>
class IdentifyString {
public:
    std::string_view view() const { return std::string_view(m_bytes, m_length); }
    bool operator==(std::string_view other) const { return view() == other; }

private:
    friend struct IdentifyStringAccess;
    char m_bytes[Capacity] = {};
    size_t m_length = 0;
};

struct ControllerIdentity {
    uint16_t vendor_id = 0;           // VID
    uint16_t subsystem_vendor_id = 0; // SSVID
    IdentifyString<20> serial;        // SN
    IdentifyString<40> model;         // MN
    IdentifyString<8> firmware;       // FR
    uint8_t max_transfer_shift = 0;   // MDTS: 2^n minimum pages (0: no limit); see prp.h
    uint16_t controller_id = 0;       // CNTLID
    uint32_t version = 0;             // VER (0 before 1.2)
    uint16_t max_commands = 0;        // MAXCMD (0: not reported)
    uint32_t namespace_count = 0;     // NN: highest namespace id
};
Result<ControllerIdentity, IdentifyError> parse_identify_controller(std::span<const uint8_t> data);

inline constexpr size_t max_lba_formats = 64; // 16 before 2.0

struct LbaFormat {
    uint16_t metadata_size = 0;       // MS, bytes per block
    uint8_t data_size_shift = 0;      // LBADS: 2^n bytes per block (0: unused format)
    uint8_t relative_performance = 0; // RP: 0 best .. 3 degraded
};

struct NamespaceIdentity {
    uint64_t size = 0;        // NSZE, blocks
    uint64_t capacity = 0;    // NCAP, blocks
    uint64_t utilization = 0; // NUSE, blocks
    uint8_t format_count = 0; // NLBAF + 1
    LbaFormat formats[max_lba_formats];
    uint8_t active_format = 0;      // FLBAS's index
    bool metadata_extended = false; // FLBAS bit 4: metadata at the end of each block
    uint32_t block_size = 0;        // 2^LBADS of the active format
    uint16_t metadata_size = 0;     // MS of the active format
};
Result<NamespaceIdentity, IdentifyError> parse_identify_namespace(std::span<const uint8_t> data);

// The active namespace ids above `after` (the NSID of the Identify command)
// into `ids`, in increasing order; how many there were. Unused entries are 0.
inline constexpr size_t max_listed_namespaces = 1024;
Result<size_t, IdentifyError> parse_active_namespaces(std::span<const uint8_t> data, uint32_t after,
                                                      std::span<uint32_t> ids);

} // namespace capos::nvme
