#include "lib/iommu/vtd.h"

namespace capos::vtd {

const char* to_string(VtdError error) {
    switch (error) {
    case VtdError::NoTableDepth:
        return "no supported table depth";
    case VtdError::NarrowAddresses:
        return "device addresses narrower than 21 bits";
    case VtdError::FaultRecordsOutsidePage:
        return "fault-recording registers outside the register page";
    case VtdError::IotlbOutsidePage:
        return "IOTLB registers outside the register page";
    case VtdError::PageTooSmall:
        return "register page too small";
    }
    return "unknown error";
}

namespace {

constexpr uint64_t bits(uint64_t value, unsigned low, unsigned count) {
    return (value >> low) & ((uint64_t{1} << count) - 1);
}

// Whether `length` bytes at `offset` lie inside a page of `page_bytes`.
constexpr bool inside(uint64_t offset, uint64_t length, uint64_t page_bytes) {
    return offset <= page_bytes && length <= page_bytes - offset;
}

} // namespace

Result<Capabilities, VtdError> decode_capabilities(uint64_t capability, uint64_t page_bytes) {
    if (page_bytes < fixed_registers_end)
        return Err{VtdError::PageTooSmall};
    Capabilities c;
    uint64_t nd = bits(capability, 0, 3);
    // ND 7 is reserved; 6 (2^16 domains) is the most there is.
    c.domains = uint32_t(1) << (4 + 2 * (nd > 6 ? 6 : nd));
    c.write_buffer_flush = bits(capability, 4, 1) != 0;
    c.caching_mode = bits(capability, 7, 1) != 0;
    uint64_t sagaw = bits(capability, 8, 5);
    // Bit 1: 3 levels, bit 2: 4 levels, bit 3: 5 levels (bits 0 and 4 reserved).
    c.table_levels = uint8_t(((sagaw >> 1) & 0x7) << 3);
    if (c.table_levels == 0)
        return Err{VtdError::NoTableDepth};
    c.guest_address_width = uint8_t(bits(capability, 16, 6) + 1);
    if (c.guest_address_width < 21)
        return Err{VtdError::NarrowAddresses};
    c.fault_recording_offset = uint32_t(bits(capability, 24, 10) * 16);
    c.fault_records = uint16_t(bits(capability, 40, 8) + 1);
    if (!inside(c.fault_recording_offset, uint64_t(c.fault_records) * 16, page_bytes))
        return Err{VtdError::FaultRecordsOutsidePage};
    c.page_selective_invalidation = bits(capability, 39, 1) != 0;
    return c;
}

Result<ExtendedCapabilities, VtdError> decode_extended_capabilities(uint64_t extended,
                                                                    uint64_t page_bytes) {
    if (page_bytes < fixed_registers_end)
        return Err{VtdError::PageTooSmall};
    ExtendedCapabilities e;
    e.coherent = bits(extended, 0, 1) != 0;
    e.queued_invalidation = bits(extended, 1, 1) != 0;
    e.interrupt_remapping = bits(extended, 3, 1) != 0;
    e.pass_through = bits(extended, 6, 1) != 0;
    e.iotlb_offset = uint32_t(bits(extended, 8, 10) * 16);
    if (!inside(e.iotlb_offset, 16, page_bytes))
        return Err{VtdError::IotlbOutsidePage};
    return e;
}

uint8_t levels_for(const Capabilities& capabilities, uint8_t address_bits) {
    for (uint8_t levels = 3; levels <= 5; ++levels) {
        bool supported = (capabilities.table_levels & (1u << levels)) != 0;
        if (supported && 12 + 9 * levels >= address_bits)
            return levels;
    }
    return 0;
}

const char* to_string(TableError error) {
    switch (error) {
    case TableError::OutOfRange:
        return "device address past what the tables reach";
    case TableError::Misaligned:
        return "address not page aligned";
    case TableError::AlreadyMapped:
        return "device address mapped already";
    case TableError::OutOfMemory:
        return "out of memory for tables";
    }
    return "unknown error";
}

namespace {

constexpr uint64_t page_bytes = 4096;

constexpr unsigned index_at(uint64_t address, uint8_t level) {
    return unsigned((address >> (12 + 9 * (level - 1))) & 511);
}

} // namespace

std::optional<SecondLevelTables> SecondLevelTables::create(TableMemory& memory, uint8_t levels) {
    if (levels < 3 || levels > 5)
        return std::nullopt;
    auto root = memory.allocate_table();
    if (!root)
        return std::nullopt;
    return SecondLevelTables(memory, *root, levels);
}

Result<void, TableError> SecondLevelTables::map(uint64_t address, uint64_t physical,
                                                bool writable) {
    if (address % page_bytes != 0 || physical % page_bytes != 0 ||
        (physical & ~second_level_address_mask) != 0)
        return Err{TableError::Misaligned};
    if (address >= limit())
        return Err{TableError::OutOfRange};
    uint64_t table = m_root;
    for (uint8_t level = m_levels; level > 1; --level) {
        uint64_t* entry = m_memory->table(table) + index_at(address, level);
        if ((*entry & (second_level_read | second_level_write)) == 0) {
            auto next = m_memory->allocate_table();
            if (!next)
                return Err{TableError::OutOfMemory};
            // A table is reached for reads and writes; the leaf decides.
            *entry = *next | second_level_read | second_level_write;
            m_memory->written(entry);
        }
        table = *entry & second_level_address_mask;
    }
    uint64_t* leaf = m_memory->table(table) + index_at(address, 1);
    if ((*leaf & (second_level_read | second_level_write)) != 0)
        return Err{TableError::AlreadyMapped};
    *leaf = physical | second_level_read | (writable ? second_level_write : 0);
    m_memory->written(leaf);
    return {};
}

bool SecondLevelTables::unmap(uint64_t address) {
    if (address % page_bytes != 0 || address >= limit())
        return false;
    uint64_t table = m_root;
    for (uint8_t level = m_levels; level > 1; --level) {
        uint64_t entry = m_memory->table(table)[index_at(address, level)];
        if ((entry & (second_level_read | second_level_write)) == 0)
            return false;
        table = entry & second_level_address_mask;
    }
    uint64_t* leaf = m_memory->table(table) + index_at(address, 1);
    if ((*leaf & (second_level_read | second_level_write)) == 0)
        return false;
    *leaf = 0;
    m_memory->written(leaf);
    return true;
}

std::optional<uint64_t> SecondLevelTables::translate(uint64_t address, bool write) const {
    if (address >= limit())
        return std::nullopt;
    uint64_t table = m_root;
    for (uint8_t level = m_levels; level > 1; --level) {
        uint64_t entry = m_memory->table(table)[index_at(address, level)];
        if ((entry & (second_level_read | second_level_write)) == 0)
            return std::nullopt;
        table = entry & second_level_address_mask;
    }
    uint64_t leaf = m_memory->table(table)[index_at(address, 1)];
    uint64_t needed = write ? second_level_write : second_level_read;
    if ((leaf & needed) == 0)
        return std::nullopt;
    return (leaf & second_level_address_mask) + address % page_bytes;
}

void SecondLevelTables::free_below(uint64_t table, uint8_t level) {
    if (level > 1) {
        uint64_t* entries = m_memory->table(table);
        for (unsigned i = 0; i < 512; ++i) {
            if ((entries[i] & (second_level_read | second_level_write)) != 0)
                free_below(entries[i] & second_level_address_mask, uint8_t(level - 1));
        }
    }
    m_memory->free_table(table);
}

void SecondLevelTables::destroy() {
    free_below(m_root, m_levels);
    m_root = 0;
}

} // namespace capos::vtd
