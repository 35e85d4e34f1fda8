#include "lib/virtio/pci_caps.h"
#include "lib/base/bytes.h"
#include "lib/pci/pci.h"

namespace capos::virtio {

namespace {

using bytes::fits;
using bytes::load_u32;

constexpr size_t capability_length_field = 2; // cap_len
constexpr size_t notify_register_bytes = 2;   // a 16-bit queue index

bool known_type(uint8_t type) {
    switch (StructureType(type)) {
    case StructureType::Common:
    case StructureType::Notify:
    case StructureType::Isr:
    case StructureType::Device:
    case StructureType::PciConfig:
        return true;
    case StructureType::SharedMemory:
    case StructureType::Vendor:
        return false;
    }
    return false;
}

// The multiplier keeps every queue's 16-bit register 2-byte aligned: 0 (one
// register for all queues) or a power of two of at least 2 (4.1.4.4).
bool valid_multiplier(uint32_t multiplier) {
    if (multiplier == 0)
        return true;
    return multiplier >= 2 && (multiplier & (multiplier - 1)) == 0;
}

// Alignment of the structure's offset and the fewest bytes the driver uses.
struct StructureRules {
    uint32_t alignment;
    uint32_t minimum_length;
};
StructureRules rules_of(StructureType type) {
    switch (type) {
    case StructureType::Common:
        return {4, common::minimum_size};
    case StructureType::Notify:
        return {2, notify_register_bytes};
    case StructureType::Isr:
        return {1, 1};
    case StructureType::Device:
        return {4, 1};
    case StructureType::PciConfig:
    case StructureType::SharedMemory:
    case StructureType::Vendor:
        break;
    }
    return {1, 0};
}

// Where parse_layout keeps the state of one type: the first usable
// capability, or the error of the first that was not.
struct Candidate {
    std::optional<VirtioCapability> taken;
    std::optional<VirtioPciError> first_error;
};

} // namespace

const char* to_string(VirtioPciError error) {
    switch (error) {
    case VirtioPciError::NoCapabilities:
        return "PCI function has no capability list";
    case VirtioPciError::BadCapabilityList:
        return "malformed PCI capability list";
    case VirtioPciError::NotVirtio:
        return "not a vendor-specific capability";
    case VirtioPciError::Truncated:
        return "virtio capability truncated";
    case VirtioPciError::ReservedType:
        return "virtio capability of a reserved type";
    case VirtioPciError::BadBar:
        return "virtio capability names a reserved BAR";
    case VirtioPciError::OutsideBar:
        return "virtio structure outside its BAR";
    case VirtioPciError::Misaligned:
        return "virtio structure misaligned";
    case VirtioPciError::TooSmall:
        return "virtio structure too small";
    case VirtioPciError::BadMultiplier:
        return "bad virtio notify_off_multiplier";
    case VirtioPciError::NoCommon:
        return "no virtio common configuration capability";
    case VirtioPciError::NoNotify:
        return "no virtio notification capability";
    case VirtioPciError::NoIsr:
        return "no virtio ISR status capability";
    case VirtioPciError::NotifyOutside:
        return "virtio queue notify register outside its structure";
    }
    return "unknown virtio PCI error";
}

Result<VirtioCapability, VirtioPciError> parse_capability(std::span<const uint8_t> config,
                                                          uint8_t position) {
    // The id and the next pointer, which the walk checked, and cap_len.
    if (!fits(position, capability_length_field + 1, config.size()))
        return Err{VirtioPciError::Truncated};
    const uint8_t* at = config.data() + position;
    if (at[0] != pci::capability_vendor)
        return Err{VirtioPciError::NotVirtio};
    uint8_t length = at[capability_length_field];
    if (length < capability_size || !fits(position, length, config.size()))
        return Err{VirtioPciError::Truncated};
    uint8_t type = at[capability_type_offset];
    if (!known_type(type))
        return Err{VirtioPciError::ReservedType};
    VirtioCapability capability;
    capability.type = StructureType(type);
    capability.position = position;
    capability.bar = at[capability_bar_offset];
    capability.id = at[capability_id_offset];
    capability.offset = load_u32(at + capability_offset_offset);
    capability.length = load_u32(at + capability_length_offset);
    if (capability.type == StructureType::Notify) {
        if (length < notify_capability_size)
            return Err{VirtioPciError::Truncated};
        capability.notify_off_multiplier = load_u32(at + notify_multiplier_offset);
        if (!valid_multiplier(capability.notify_off_multiplier))
            return Err{VirtioPciError::BadMultiplier};
    }
    if (capability.type == StructureType::PciConfig) {
        // Its bar, offset and length are a window the driver writes, not a
        // structure's place.
        if (length < pci_config_capability_size)
            return Err{VirtioPciError::Truncated};
        return capability;
    }
    if (capability.bar > max_bar)
        return Err{VirtioPciError::BadBar};
    return capability;
}

Result<void, VirtioPciError> check_structure(const VirtioCapability& capability,
                                             std::span<const uint64_t> bar_sizes) {
    if (capability.type == StructureType::PciConfig)
        return {};
    if (capability.bar > max_bar)
        return Err{VirtioPciError::BadBar};
    uint64_t bar_size = capability.bar < bar_sizes.size() ? bar_sizes[capability.bar] : 0;
    // 32-bit fields: the sum cannot wrap 64 bits; a BAR's size bounds it.
    if (!fits(capability.offset, capability.length, bar_size))
        return Err{VirtioPciError::OutsideBar};
    StructureRules rules = rules_of(capability.type);
    if (capability.offset % rules.alignment != 0)
        return Err{VirtioPciError::Misaligned};
    if (capability.length < rules.minimum_length)
        return Err{VirtioPciError::TooSmall};
    return {};
}

Result<PciLayout, VirtioPciError> parse_layout(std::span<const uint8_t> config,
                                               std::span<const uint64_t> bar_sizes) {
    auto started = pci::CapabilityWalk::start(config);
    if (started.is_error()) {
        if (started.error() == pci::PciError::NoCapabilities)
            return Err{VirtioPciError::NoCapabilities};
        return Err{VirtioPciError::BadCapabilityList};
    }
    pci::CapabilityWalk walk = started.release_value();

    // Indexed by cfg_type; 0 is unused.
    Candidate candidates[size_t(StructureType::PciConfig) + 1];
    uint8_t skipped = 0;
    for (;;) {
        auto next = walk.next();
        if (next.is_error()) {
            if (next.error() == pci::PciError::NotFound)
                break;
            return Err{VirtioPciError::BadCapabilityList};
        }
        pci::Capability entry = next.value();
        if (entry.id != pci::capability_vendor)
            continue;
        auto parsed = parse_capability(config, entry.offset);
        if (parsed.is_error()) {
            // A reserved type is ignored (4.1.4.1); a malformed capability
            // whose type is readable counts against that type.
            VirtioPciError error = parsed.error();
            if (error == VirtioPciError::ReservedType)
                continue;
            ++skipped;
            if (error == VirtioPciError::Truncated &&
                !fits(entry.offset, capability_type_offset + 1, config.size()))
                continue;
            uint8_t type = config[entry.offset + capability_type_offset];
            if (known_type(type) && !candidates[type].first_error)
                candidates[type].first_error = error;
            continue;
        }
        VirtioCapability capability = parsed.value();
        Candidate& candidate = candidates[size_t(capability.type)];
        if (candidate.taken) {
            ++skipped;
            continue;
        }
        auto checked = check_structure(capability, bar_sizes);
        if (checked.is_error()) {
            ++skipped;
            if (!candidate.first_error)
                candidate.first_error = checked.error();
            continue;
        }
        candidate.taken = capability;
    }

    auto required = [&](StructureType type, VirtioPciError missing) -> VirtioPciError {
        const Candidate& candidate = candidates[size_t(type)];
        return candidate.first_error ? *candidate.first_error : missing;
    };
    const Candidate& common = candidates[size_t(StructureType::Common)];
    const Candidate& notify = candidates[size_t(StructureType::Notify)];
    const Candidate& isr = candidates[size_t(StructureType::Isr)];
    if (!common.taken)
        return Err{required(StructureType::Common, VirtioPciError::NoCommon)};
    if (!notify.taken)
        return Err{required(StructureType::Notify, VirtioPciError::NoNotify)};
    if (!isr.taken)
        return Err{required(StructureType::Isr, VirtioPciError::NoIsr)};
    PciLayout layout;
    layout.common = *common.taken;
    layout.notify = *notify.taken;
    layout.isr = *isr.taken;
    layout.device = candidates[size_t(StructureType::Device)].taken;
    layout.pci_config = candidates[size_t(StructureType::PciConfig)].taken;
    layout.skipped = skipped;
    return layout;
}

Result<uint64_t, VirtioPciError> notify_offset(const VirtioCapability& notify,
                                               uint16_t queue_notify_off) {
    // At most 0xffff * 2^31: no overflow in 64 bits.
    uint64_t relative = uint64_t(queue_notify_off) * notify.notify_off_multiplier;
    if (!fits(relative, notify_register_bytes, notify.length))
        return Err{VirtioPciError::NotifyOutside};
    return notify.offset + relative;
}

} // namespace capos::virtio
