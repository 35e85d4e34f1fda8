#include "lib/pci/pci.h"
#include "lib/base/bytes.h"

namespace capos::pci {

namespace {

using bytes::fits;
using bytes::load_u16;
using bytes::load_u32;

// Header layout (PCI 3.0, 6.1; bridges: PCI-to-PCI Bridge 1.2, 3.2).
constexpr size_t header_size = 64;
constexpr size_t header_vendor = 0x00;
constexpr size_t header_device = 0x02;
constexpr size_t header_command = 0x04;
constexpr size_t header_status = 0x06;
constexpr size_t header_revision = 0x08;
constexpr size_t header_prog_if = 0x09;
constexpr size_t header_subclass = 0x0a;
constexpr size_t header_class = 0x0b;
constexpr size_t header_type = 0x0e;
constexpr size_t header_primary_bus = 0x18;
constexpr size_t header_secondary_bus = 0x19;
constexpr size_t header_subordinate_bus = 0x1a;
constexpr size_t header_subsystem_vendor = 0x2c;
constexpr size_t header_subsystem_device = 0x2e;
constexpr size_t header_capabilities = 0x34;
constexpr size_t header_interrupt_line = 0x3c;
constexpr size_t header_interrupt_pin = 0x3d;
constexpr uint8_t header_type_mask = 0x7f;
constexpr uint8_t header_multi_function = 0x80;
constexpr uint8_t header_type_device = 0;
constexpr uint8_t header_type_bridge = 1;
constexpr uint16_t vendor_none = 0xffff;

// BAR flag bits (6.2.5.1).
constexpr uint32_t bar_io = 1u << 0;
constexpr uint32_t bar_io_flags = 0x3;
constexpr uint32_t bar_memory_type_shift = 1;
constexpr uint32_t bar_memory_type_mask = 0x3;
constexpr uint32_t bar_memory_type_32 = 0;
constexpr uint32_t bar_memory_type_64 = 2;
constexpr uint32_t bar_prefetchable = 1u << 3;
constexpr uint32_t bar_memory_flags = 0xf;

// Capability list: pointers below this point into the header.
constexpr uint8_t capability_minimum = 0x40;
constexpr uint8_t capability_pointer_mask = 0xfc;
constexpr size_t capability_entry_size = 2; // id and next pointer
constexpr size_t capability_limit = 48;     // (256 - 64) / 4

// MSI capability (6.8.1).
constexpr size_t msi_control = 2;
constexpr size_t msi_size = 10;
constexpr size_t msi_size_64 = 14;
constexpr size_t msi_masking_extra = 10; // reserved u16, mask bits, pending bits
constexpr uint16_t msi_enable = 1u << 0;
constexpr unsigned msi_capable_shift = 1;
constexpr unsigned msi_enabled_shift = 4;
constexpr uint16_t msi_vectors_mask = 0x7;
constexpr uint16_t msi_vectors_maximum_log2 = 5; // 32 vectors; 6 and 7 are reserved
constexpr uint16_t msi_address_64 = 1u << 7;
constexpr uint16_t msi_per_vector_masking = 1u << 8;

// MSI-X capability (6.8.2).
constexpr size_t msix_control = 2;
constexpr size_t msix_table = 4;
constexpr size_t msix_pba = 8;
constexpr size_t msix_size = 12;
constexpr uint16_t msix_table_size_mask = 0x7ff;
constexpr uint16_t msix_function_mask = 1u << 14;
constexpr uint16_t msix_enable = 1u << 15;
constexpr uint32_t msix_bir_mask = 0x7;
constexpr uint8_t msix_bir_maximum = 5;

// Whether `mask` is a run of ones from bit 63 down (and not empty): its
// complement is then 2^k - 1.
constexpr bool contiguous_from_top(uint64_t mask) {
    uint64_t inverse = ~mask;
    return mask != 0 && (inverse & (inverse + 1)) == 0;
}

Bar decode_io(uint32_t low, uint32_t low_mask) {
    uint32_t mask = low_mask & ~bar_io_flags;
    if (mask == 0)
        return Bar{};
    // A BAR that decodes only 16 bits of I/O space reads back 0 above them.
    if ((mask >> 16) == 0)
        mask |= 0xffff0000u;
    if (!contiguous_from_top(static_cast<uint64_t>(mask) | 0xffffffff00000000ull))
        return Bar{};
    Bar bar;
    bar.kind = Bar::Kind::Io;
    bar.address = low & ~bar_io_flags;
    bar.size = static_cast<uint32_t>(~mask + 1u);
    return bar;
}

// A class or subclass name.
struct Name {
    uint8_t code;
    const char* name;
};

constexpr Name class_names[] = {
    {0x00, "Unclassified device"},
    {0x01, "Mass storage controller"},
    {0x02, "Network controller"},
    {0x03, "Display controller"},
    {0x04, "Multimedia controller"},
    {0x05, "Memory controller"},
    {0x06, "Bridge"},
    {0x07, "Communication controller"},
    {0x08, "Generic system peripheral"},
    {0x09, "Input device controller"},
    {0x0a, "Docking station"},
    {0x0b, "Processor"},
    {0x0c, "Serial bus controller"},
    {0x0d, "Wireless controller"},
    {0x0e, "Intelligent controller"},
    {0x0f, "Satellite communications controller"},
    {0x10, "Encryption controller"},
    {0x11, "Signal processing controller"},
    {0x12, "Processing accelerators"},
    {0x13, "Non-Essential Instrumentation"},
    {0x40, "Coprocessor"},
    {0xff, "Unassigned class"},
};

constexpr Name unclassified_names[] = {
    {0x00, "Non-VGA unclassified device"},
    {0x01, "VGA compatible unclassified device"},
};
constexpr Name storage_names[] = {
    {0x00, "SCSI storage controller"},
    {0x01, "IDE interface"},
    {0x02, "Floppy disk controller"},
    {0x03, "IPI bus controller"},
    {0x04, "RAID bus controller"},
    {0x05, "ATA controller"},
    {0x06, "SATA controller"},
    {0x07, "Serial Attached SCSI controller"},
    {0x08, "Non-Volatile memory controller"},
};
constexpr Name network_names[] = {
    {0x00, "Ethernet controller"},     {0x01, "Token ring network controller"},
    {0x02, "FDDI network controller"}, {0x03, "ATM network controller"},
    {0x04, "ISDN controller"},
};
constexpr Name display_names[] = {
    {0x00, "VGA compatible controller"},
    {0x01, "XGA compatible controller"},
    {0x02, "3D controller"},
};
constexpr Name multimedia_names[] = {
    {0x00, "Multimedia video controller"},
    {0x01, "Multimedia audio controller"},
    {0x02, "Computer telephony device"},
    {0x03, "Audio device"},
};
constexpr Name memory_names[] = {
    {0x00, "RAM memory"},
    {0x01, "FLASH memory"},
};
constexpr Name bridge_names[] = {
    {0x00, "Host bridge"},
    {0x01, "ISA bridge"},
    {0x02, "EISA bridge"},
    {0x03, "MicroChannel bridge"},
    {0x04, "PCI bridge"},
    {0x05, "PCMCIA bridge"},
    {0x06, "NuBus bridge"},
    {0x07, "CardBus bridge"},
    {0x08, "RACEway bridge"},
    {0x09, "Semi-transparent PCI-to-PCI bridge"},
    {0x0a, "InfiniBand to PCI host bridge"},
};
constexpr Name communication_names[] = {
    {0x00, "Serial controller"},
    {0x01, "Parallel controller"},
    {0x02, "Multiport serial controller"},
    {0x03, "Modem"},
};
constexpr Name system_names[] = {
    {0x00, "PIC"},   {0x01, "DMA controller"},          {0x02, "Timer"},
    {0x03, "RTC"},   {0x04, "PCI Hot-plug controller"}, {0x05, "SD Host controller"},
    {0x06, "IOMMU"}, {0x80, "System peripheral"},
};
constexpr Name input_names[] = {
    {0x00, "Keyboard controller"},
    {0x02, "Mouse controller"},
};
constexpr Name serial_bus_names[] = {
    {0x00, "FireWire (IEEE 1394)"}, {0x03, "USB controller"},
    {0x04, "Fibre Channel"},        {0x05, "SMBus"},
    {0x06, "InfiniBand"},           {0x07, "IPMI Interface"},
};
constexpr Name wireless_names[] = {
    {0x00, "IRDA controller"},
    {0x11, "Bluetooth"},
    {0x20, "802.1a controller"},
    {0x21, "802.1b controller"},
};

template <size_t N>
const char* find_name(const Name (&names)[N], uint8_t code) {
    for (const Name& entry : names) {
        if (entry.code == code)
            return entry.name;
    }
    return nullptr;
}

const char* subclass_name(uint8_t class_code, uint8_t subclass) {
    switch (class_code) {
    case 0x00:
        return find_name(unclassified_names, subclass);
    case 0x01:
        return find_name(storage_names, subclass);
    case 0x02:
        return find_name(network_names, subclass);
    case 0x03:
        return find_name(display_names, subclass);
    case 0x04:
        return find_name(multimedia_names, subclass);
    case 0x05:
        return find_name(memory_names, subclass);
    case 0x06:
        return find_name(bridge_names, subclass);
    case 0x07:
        return find_name(communication_names, subclass);
    case 0x08:
        return find_name(system_names, subclass);
    case 0x09:
        return find_name(input_names, subclass);
    case 0x0c:
        return find_name(serial_bus_names, subclass);
    case 0x0d:
        return find_name(wireless_names, subclass);
    default:
        return nullptr;
    }
}

} // namespace

const char* to_string(PciError error) {
    switch (error) {
    case PciError::TooShort:
        return "PCI configuration space truncated";
    case PciError::NoFunction:
        return "no PCI function";
    case PciError::NoCapabilities:
        return "PCI function has no capability list";
    case PciError::BadPointer:
        return "bad PCI capability pointer";
    case PciError::Loop:
        return "PCI capability list loops";
    case PciError::BadCapability:
        return "malformed PCI capability";
    case PciError::NotFound:
        return "PCI capability not found";
    }
    return "unknown PCI error";
}

Result<FunctionHeader, PciError> parse_header(std::span<const uint8_t> config) {
    if (config.size() < header_size)
        return Err{PciError::TooShort};
    const uint8_t* base = config.data();
    FunctionHeader header;
    header.vendor = load_u16(base + header_vendor);
    if (header.vendor == vendor_none)
        return Err{PciError::NoFunction};
    header.device = load_u16(base + header_device);
    header.command = load_u16(base + header_command);
    header.status = load_u16(base + header_status);
    header.revision = base[header_revision];
    header.prog_if = base[header_prog_if];
    header.subclass = base[header_subclass];
    header.class_code = base[header_class];
    header.header_type = base[header_type] & header_type_mask;
    header.multi_function = (base[header_type] & header_multi_function) != 0;
    header.interrupt_line = base[header_interrupt_line];
    header.interrupt_pin = base[header_interrupt_pin];
    if (header.header_type == header_type_device) {
        header.subsystem_vendor = load_u16(base + header_subsystem_vendor);
        header.subsystem_device = load_u16(base + header_subsystem_device);
    }
    if (header.header_type == header_type_bridge) {
        header.primary_bus = base[header_primary_bus];
        header.secondary_bus = base[header_secondary_bus];
        header.subordinate_bus = base[header_subordinate_bus];
    }
    return header;
}

size_t bar_count(uint8_t header_type) {
    switch (header_type) {
    case header_type_device:
        return 6;
    case header_type_bridge:
        return 2;
    default:
        return 0;
    }
}

Bar decode_bar(uint32_t low, uint32_t high, uint32_t low_mask, uint32_t high_mask) {
    if (low_mask == 0)
        return Bar{};
    if ((low & bar_io) != 0)
        return decode_io(low, low_mask);
    uint32_t type = (low >> bar_memory_type_shift) & bar_memory_type_mask;
    uint64_t mask;
    uint64_t address = low & ~bar_memory_flags;
    Bar bar;
    if (type == bar_memory_type_32) {
        // The upper half of the address space is not decoded: all ones there.
        mask = 0xffffffff00000000ull | (low_mask & ~bar_memory_flags);
        bar.kind = Bar::Kind::Memory32;
    } else if (type == bar_memory_type_64) {
        mask = (static_cast<uint64_t>(high_mask) << 32) | (low_mask & ~bar_memory_flags);
        address |= static_cast<uint64_t>(high) << 32;
        bar.kind = Bar::Kind::Memory64;
    } else {
        return Bar{};
    }
    if (type == bar_memory_type_32 && (low_mask & ~bar_memory_flags) == 0)
        return Bar{};
    if (!contiguous_from_top(mask))
        return Bar{};
    bar.prefetchable = (low & bar_prefetchable) != 0;
    bar.address = address;
    bar.size = ~mask + 1;
    return bar;
}

bool is_64bit_bar(uint32_t low) {
    return (low & bar_io) == 0 &&
           ((low >> bar_memory_type_shift) & bar_memory_type_mask) == bar_memory_type_64;
}

Result<CapabilityWalk, PciError> CapabilityWalk::start(std::span<const uint8_t> config) {
    if (config.size() < header_size)
        return Err{PciError::TooShort};
    if ((load_u16(config.data() + header_status) & status_capabilities) == 0)
        return Err{PciError::NoCapabilities};
    CapabilityWalk walk;
    walk.m_config = config;
    walk.m_next = config[header_capabilities] & capability_pointer_mask;
    return walk;
}

Result<Capability, PciError> CapabilityWalk::next() {
    if (m_failed)
        return Err{m_error};
    // A pointer of 0 ends the list.
    if (m_next == 0)
        return Err{PciError::NotFound};
    PciError error;
    if (m_seen >= capability_limit) {
        error = PciError::Loop;
    } else if (m_next < capability_minimum ||
               !fits(m_next, capability_entry_size, m_config.size())) {
        error = PciError::BadPointer;
    } else {
        Capability capability;
        capability.offset = m_next;
        capability.id = m_config[m_next];
        m_next = m_config[m_next + 1] & capability_pointer_mask;
        ++m_seen;
        return capability;
    }
    m_failed = true;
    m_error = error;
    return Err{error};
}

Result<uint8_t, PciError> find_capability(std::span<const uint8_t> config, uint8_t id) {
    CapabilityWalk walk = TRY(CapabilityWalk::start(config));
    for (;;) {
        Capability capability = TRY(walk.next());
        if (capability.id == id)
            return capability.offset;
    }
}

Result<MsiCapability, PciError> parse_msi(std::span<const uint8_t> config, uint8_t offset) {
    if (!fits(offset, msi_control + 2, config.size()))
        return Err{PciError::BadCapability};
    const uint8_t* at = config.data() + offset;
    if (at[0] != capability_msi)
        return Err{PciError::BadCapability};
    uint16_t control = load_u16(at + msi_control);
    MsiCapability msi;
    msi.offset = offset;
    msi.enabled = (control & msi_enable) != 0;
    msi.address_64 = (control & msi_address_64) != 0;
    msi.per_vector_masking = (control & msi_per_vector_masking) != 0;
    size_t size = msi.address_64 ? msi_size_64 : msi_size;
    if (msi.per_vector_masking)
        size += msi_masking_extra;
    if (!fits(offset, size, config.size()))
        return Err{PciError::BadCapability};
    uint16_t capable = (control >> msi_capable_shift) & msi_vectors_mask;
    uint16_t enabled = (control >> msi_enabled_shift) & msi_vectors_mask;
    if (capable > msi_vectors_maximum_log2 || enabled > msi_vectors_maximum_log2)
        return Err{PciError::BadCapability};
    msi.vectors_capable = static_cast<uint8_t>(1u << capable);
    msi.vectors_enabled = static_cast<uint8_t>(1u << enabled);
    return msi;
}

Result<MsixCapability, PciError> parse_msix(std::span<const uint8_t> config, uint8_t offset) {
    if (!fits(offset, msix_size, config.size()))
        return Err{PciError::BadCapability};
    const uint8_t* at = config.data() + offset;
    if (at[0] != capability_msix)
        return Err{PciError::BadCapability};
    uint16_t control = load_u16(at + msix_control);
    uint32_t table = load_u32(at + msix_table);
    uint32_t pba = load_u32(at + msix_pba);
    MsixCapability msix;
    msix.offset = offset;
    msix.enabled = (control & msix_enable) != 0;
    msix.function_masked = (control & msix_function_mask) != 0;
    msix.table_size = static_cast<uint16_t>((control & msix_table_size_mask) + 1);
    msix.table_bar = static_cast<uint8_t>(table & msix_bir_mask);
    msix.table_offset = table & ~msix_bir_mask;
    msix.pba_bar = static_cast<uint8_t>(pba & msix_bir_mask);
    msix.pba_offset = pba & ~msix_bir_mask;
    if (msix.table_bar > msix_bir_maximum || msix.pba_bar > msix_bir_maximum)
        return Err{PciError::BadCapability};
    return msix;
}

const char* class_name(uint8_t class_code, uint8_t subclass) {
    if (const char* name = subclass_name(class_code, subclass))
        return name;
    if (const char* name = find_name(class_names, class_code))
        return name;
    return "Unclassified device";
}

} // namespace capos::pci
