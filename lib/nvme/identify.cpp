#include "lib/nvme/identify.h"

#include "lib/base/bytes.h"
#include "lib/nvme/nvme.h"

namespace capos::nvme {

const char* to_string(IdentifyError error) {
    switch (error) {
    case IdentifyError::Size:
        return "identify data is not 4096 bytes";
    case IdentifyError::String:
        return "identify string not printable ASCII";
    case IdentifyError::EntrySizes:
        return "queue entry sizes not supported";
    case IdentifyError::InactiveNamespace:
        return "namespace not active";
    case IdentifyError::Capacity:
        return "namespace capacity inconsistent";
    case IdentifyError::FormatCount:
        return "too many LBA formats";
    case IdentifyError::FormatIndex:
        return "formatted LBA index past the format table";
    case IdentifyError::BlockSize:
        return "block size out of range";
    case IdentifyError::ListOrder:
        return "namespace list out of order";
    case IdentifyError::ListSpace:
        return "namespace list longer than the space given";
    }
    return "unknown identify error";
}

struct IdentifyStringAccess {
    // The field's bytes: printable ASCII, left justified and padded with
    // spaces (some controllers pad with NULs: accepted at the end only).
    // Leading and trailing spaces are dropped.
    template <size_t Capacity>
    static bool parse(const uint8_t* field, IdentifyString<Capacity>& out) {
        size_t end = Capacity;
        while (end > 0 && (field[end - 1] == ' ' || field[end - 1] == 0))
            --end;
        size_t begin = 0;
        while (begin < end && field[begin] == ' ')
            ++begin;
        for (size_t i = begin; i < end; ++i) {
            if (field[i] < 0x20 || field[i] > 0x7e)
                return false;
            out.m_bytes[i - begin] = char(field[i]);
        }
        out.m_length = end - begin;
        return true;
    }
};

namespace {

// Identify Controller offsets.
constexpr size_t controller_vid = 0;
constexpr size_t controller_ssvid = 2;
constexpr size_t controller_serial = 4;
constexpr size_t controller_model = 24;
constexpr size_t controller_firmware = 64;
constexpr size_t controller_mdts = 77;
constexpr size_t controller_cntlid = 78;
constexpr size_t controller_version = 80;
constexpr size_t controller_sqes = 512;
constexpr size_t controller_cqes = 513;
constexpr size_t controller_maxcmd = 514;
constexpr size_t controller_nn = 516;

// Identify Namespace offsets.
constexpr size_t namespace_nsze = 0;
constexpr size_t namespace_ncap = 8;
constexpr size_t namespace_nuse = 16;
constexpr size_t namespace_nlbaf = 25;
constexpr size_t namespace_flbas = 26;
constexpr size_t namespace_lbaf = 128;

// 512 bytes to 64 KiB.
constexpr uint8_t min_block_shift = 9;
constexpr uint8_t max_block_shift = 16;

// SQES / CQES: bits 3:0 the required (smallest) entry size, 7:4 the largest,
// as log2 bytes. This library's entries must be allowed.
bool admits(uint8_t sizes, uint8_t shift) {
    uint8_t required = sizes & 0xf;
    uint8_t largest = sizes >> 4;
    return required <= shift && shift <= largest;
}

} // namespace

Result<ControllerIdentity, IdentifyError> parse_identify_controller(std::span<const uint8_t> data) {
    if (data.size() != identify_data_size)
        return Err{IdentifyError::Size};
    const uint8_t* at = data.data();
    ControllerIdentity identity;
    identity.vendor_id = bytes::load_u16(at + controller_vid);
    identity.subsystem_vendor_id = bytes::load_u16(at + controller_ssvid);
    if (!IdentifyStringAccess::parse(at + controller_serial, identity.serial) ||
        !IdentifyStringAccess::parse(at + controller_model, identity.model) ||
        !IdentifyStringAccess::parse(at + controller_firmware, identity.firmware))
        return Err{IdentifyError::String};
    identity.max_transfer_shift = at[controller_mdts];
    identity.controller_id = bytes::load_u16(at + controller_cntlid);
    identity.version = bytes::load_u32(at + controller_version);
    if (!admits(at[controller_sqes], submission_entry_shift) ||
        !admits(at[controller_cqes], completion_entry_shift))
        return Err{IdentifyError::EntrySizes};
    identity.max_commands = bytes::load_u16(at + controller_maxcmd);
    identity.namespace_count = bytes::load_u32(at + controller_nn);
    return identity;
}

Result<NamespaceIdentity, IdentifyError> parse_identify_namespace(std::span<const uint8_t> data) {
    if (data.size() != identify_data_size)
        return Err{IdentifyError::Size};
    const uint8_t* at = data.data();
    NamespaceIdentity identity;
    identity.size = bytes::load_u64(at + namespace_nsze);
    identity.capacity = bytes::load_u64(at + namespace_ncap);
    identity.utilization = bytes::load_u64(at + namespace_nuse);
    if (identity.size == 0)
        return Err{IdentifyError::InactiveNamespace};
    if (identity.capacity > identity.size || identity.utilization > identity.capacity)
        return Err{IdentifyError::Capacity};

    uint32_t count = uint32_t(at[namespace_nlbaf]) + 1; // 0's based
    if (count > max_lba_formats)
        return Err{IdentifyError::FormatCount};
    identity.format_count = uint8_t(count);
    for (uint32_t i = 0; i < count; ++i) {
        uint32_t raw = bytes::load_u32(at + namespace_lbaf + 4 * i);
        LbaFormat& format = identity.formats[i];
        format.metadata_size = uint16_t(raw);
        format.data_size_shift = uint8_t(raw >> 16);
        format.relative_performance = uint8_t((raw >> 24) & 0x3);
    }

    // FLBAS: format index bits 3:0, with bits 6:5 above them when more than
    // 16 formats exist (reserved otherwise); bit 4 extended metadata.
    uint8_t flbas = at[namespace_flbas];
    uint32_t index = flbas & 0xfu;
    if (count > 16)
        index |= uint32_t((flbas >> 5) & 0x3) << 4;
    if (index >= count)
        return Err{IdentifyError::FormatIndex};
    identity.active_format = uint8_t(index);
    identity.metadata_extended = ((flbas >> 4) & 1) != 0;
    const LbaFormat& active = identity.formats[index];
    if (active.data_size_shift < min_block_shift || active.data_size_shift > max_block_shift)
        return Err{IdentifyError::BlockSize};
    identity.block_size = uint32_t(1) << active.data_size_shift;
    identity.metadata_size = active.metadata_size;
    // The namespace in bytes must be a 64-bit number.
    if (identity.size > (~uint64_t(0) >> active.data_size_shift))
        return Err{IdentifyError::Capacity};
    return identity;
}

Result<size_t, IdentifyError> parse_active_namespaces(std::span<const uint8_t> data, uint32_t after,
                                                      std::span<uint32_t> ids) {
    if (data.size() != identify_data_size)
        return Err{IdentifyError::Size};
    size_t count = 0;
    uint32_t previous = after;
    bool ended = false;
    for (size_t i = 0; i < max_listed_namespaces; ++i) {
        uint32_t id = bytes::load_u32(data.data() + 4 * i);
        if (ended) {
            if (id != 0) // a hole, then more ids
                return Err{IdentifyError::ListOrder};
            continue;
        }
        if (id == 0) {
            ended = true;
            continue;
        }
        if (!valid_namespace_id(id) || id <= previous)
            return Err{IdentifyError::ListOrder};
        previous = id;
        ++count;
    }
    if (count > ids.size())
        return Err{IdentifyError::ListSpace};
    for (size_t i = 0; i < count; ++i)
        ids[i] = bytes::load_u32(data.data() + 4 * i);
    return count;
}

} // namespace capos::nvme
