// What the boot loader told us, in one form for both boot protocols:
// Multiboot2 (GRUB, from the ISO under BIOS or UEFI) and PVH (qemu -kernel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::kernel {

enum class BootProtocol : uint32_t { Multiboot2 = 1, Pvh = 2 };

enum class MemoryType : uint8_t { Usable, Reserved, AcpiReclaimable, AcpiNvs, Bad };
const char* to_string(MemoryType type);

struct PhysicalRange {
    uint64_t base = 0;
    uint64_t length = 0;
    uint64_t end() const { return base + length; }
    bool overlaps(const PhysicalRange& other) const {
        return base < other.end() && other.base < end();
    }
};

struct MemoryRange {
    PhysicalRange range;
    MemoryType type = MemoryType::Reserved;
};

struct BootModule {
    PhysicalRange range;
    std::string_view name;
};

struct BootInfo {
    static constexpr size_t max_memory_ranges = 128;
    static constexpr size_t max_modules = 8;
    static constexpr size_t max_reserved = 16;

    BootProtocol protocol = BootProtocol::Pvh;
    std::string_view loader;
    std::string_view command_line;
    MemoryRange memory[max_memory_ranges];
    size_t memory_count = 0;
    BootModule modules[max_modules];
    size_t module_count = 0;
    // Physical memory holding the boot information itself (tables, strings),
    // which must stay untouched while the kernel still reads it.
    PhysicalRange boot_data[max_reserved];
    size_t boot_data_count = 0;
    bool truncated = false; // more ranges or modules than the arrays hold
    // Where the loader says ACPI's RSDP is (0: it did not say): PVH's
    // rsdp_paddr, or the copy a Multiboot2 loader puts in its ACPI tag (new
    // RSDP, type 15, preferred over old, type 14), `rsdp_length` bytes of it.
    uint64_t rsdp = 0;
    uint64_t rsdp_length = 0;
    const char* rsdp_source = "";
};

// Reads the loader's information at physical address `info` (reached through
// the boot direct map). Returns false, with a reason logged, when the
// structure is not what the protocol promises.
bool parse_boot_info(BootProtocol protocol, uint64_t info, BootInfo& out);

const char* to_string(BootProtocol protocol);

} // namespace capos::kernel
