// Multiboot2 and PVH hand-off parsing.
//
// Multiboot2: a size-prefixed list of 8-byte-aligned tags (cmdline 1, loader
// name 2, module 3, memory map 6, ACPI RSDP copies 14 and 15, end 0). PVH:
// struct hvm_start_info (Xen's public arch-x86/hvm/start_info.h, version 1)
// with module list, RSDP address and an E820-style memory map. The loader is
// trusted to tell the truth, but every length is still checked so that a
// malformed structure gives an error, not a wild read.
#include "kernel/boot/boot_info.h"
#include "kernel/lib/log.h"
#include "kernel/mm/layout.h"

namespace capos::kernel {

namespace {

constexpr uint32_t pvh_magic = 0x336ec578;

struct [[gnu::packed]] PvhStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t module_count;
    uint64_t module_list;
    uint64_t command_line;
    uint64_t rsdp;
    uint64_t memory_map;
    uint32_t memory_map_entries;
    uint32_t reserved;
};
struct [[gnu::packed]] PvhModule {
    uint64_t address;
    uint64_t size;
    uint64_t command_line;
    uint64_t reserved;
};
struct [[gnu::packed]] E820Entry {
    uint64_t address;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

struct [[gnu::packed]] Mb2Tag {
    uint32_t type;
    uint32_t size;
};
struct [[gnu::packed]] Mb2Module {
    Mb2Tag tag;
    uint32_t start;
    uint32_t end;
    // NUL-terminated string follows
};
struct [[gnu::packed]] Mb2MemoryMap {
    Mb2Tag tag;
    uint32_t entry_size;
    uint32_t entry_version;
};

MemoryType from_e820(uint32_t type) {
    switch (type) {
    case 1:
        return MemoryType::Usable;
    case 3:
        return MemoryType::AcpiReclaimable;
    case 4:
        return MemoryType::AcpiNvs;
    case 5:
        return MemoryType::Bad;
    default:
        return MemoryType::Reserved;
    }
}

// A NUL-terminated string in physical memory, at most `limit` bytes long.
std::string_view c_string_at(uint64_t phys, size_t limit) {
    if (phys == 0)
        return {};
    const char* text = phys_to_ptr<const char>(phys);
    size_t length = 0;
    while (length < limit && text[length] != '\0')
        ++length;
    return {text, length};
}

void add_memory(BootInfo& out, uint64_t base, uint64_t length, MemoryType type) {
    if (length == 0)
        return;
    if (out.memory_count == BootInfo::max_memory_ranges) {
        out.truncated = true;
        return;
    }
    out.memory[out.memory_count++] = {{base, length}, type};
}

void add_module(BootInfo& out, uint64_t base, uint64_t length, std::string_view name) {
    if (out.module_count == BootInfo::max_modules) {
        out.truncated = true;
        return;
    }
    out.modules[out.module_count++] = {{base, length}, name};
}

void add_boot_data(BootInfo& out, uint64_t base, uint64_t length) {
    if (length == 0)
        return;
    if (out.boot_data_count == BootInfo::max_reserved) {
        out.truncated = true;
        return;
    }
    out.boot_data[out.boot_data_count++] = {base, length};
}

void add_string_data(BootInfo& out, uint64_t phys, std::string_view text) {
    if (phys != 0)
        add_boot_data(out, phys, text.size() + 1);
}

constexpr size_t max_string = 4096;

bool parse_pvh(uint64_t info, BootInfo& out) {
    const auto* start = phys_to_ptr<const PvhStartInfo>(info);
    if (start->magic != pvh_magic) {
        log_error("boot: PVH start info has bad magic {}", Hex{start->magic});
        return false;
    }
    add_boot_data(out, info, sizeof(PvhStartInfo));
    out.command_line = c_string_at(start->command_line, max_string);
    add_string_data(out, start->command_line, out.command_line);

    if (start->version < 1 || start->memory_map == 0) {
        log_error("boot: PVH start info version {} has no memory map", start->version);
        return false;
    }
    const auto* entries = phys_to_ptr<const E820Entry>(start->memory_map);
    add_boot_data(out, start->memory_map, uint64_t(start->memory_map_entries) * sizeof(E820Entry));
    for (uint32_t i = 0; i < start->memory_map_entries && i < 1024; ++i)
        add_memory(out, entries[i].address, entries[i].size, from_e820(entries[i].type));

    log_debug("boot: PVH start info at {}: version {}, {} modules at {}, {} memory ranges",
              Hex{info}, start->version, start->module_count, Hex{start->module_list},
              start->memory_map_entries);
    if (start->rsdp != 0) {
        // The RSDP itself: its length is checked when it is read (lib/acpi).
        out.rsdp = start->rsdp;
        out.rsdp_length = 36;
        out.rsdp_source = "PVH";
    }
    const auto* modules = phys_to_ptr<const PvhModule>(start->module_list);
    if (start->module_count > 0)
        add_boot_data(out, start->module_list, uint64_t(start->module_count) * sizeof(PvhModule));
    for (uint32_t i = 0; i < start->module_count && start->module_list != 0; ++i) {
        std::string_view name = c_string_at(modules[i].command_line, max_string);
        add_string_data(out, modules[i].command_line, name);
        add_module(out, modules[i].address, modules[i].size, name);
    }
    return true;
}

bool parse_multiboot2(uint64_t info, BootInfo& out) {
    const auto* header = phys_to_ptr<const uint32_t>(info);
    uint32_t total = header[0];
    if (total < 16 || total > 1024 * 1024) {
        log_error("boot: Multiboot2 information has implausible size {}", total);
        return false;
    }
    add_boot_data(out, info, total);
    bool saw_memory_map = false;
    uint64_t offset = 8;
    while (offset + sizeof(Mb2Tag) <= total) {
        const auto* tag = phys_to_ptr<const Mb2Tag>(info + offset);
        if (tag->size < sizeof(Mb2Tag) || offset + tag->size > total) {
            log_error("boot: Multiboot2 tag {} at offset {} overruns the information", tag->type,
                      offset);
            return false;
        }
        uint64_t tag_phys = info + offset;
        size_t string_limit = tag->size - sizeof(Mb2Tag);
        switch (tag->type) {
        case 0: // end
            offset = total;
            continue;
        case 1: // command line
            out.command_line = c_string_at(tag_phys + sizeof(Mb2Tag), string_limit);
            break;
        case 2: // boot loader name
            out.loader = c_string_at(tag_phys + sizeof(Mb2Tag), string_limit);
            break;
        case 3: { // module
            if (tag->size < sizeof(Mb2Module))
                break;
            const auto* module = reinterpret_cast<const Mb2Module*>(tag);
            std::string_view name =
                c_string_at(tag_phys + sizeof(Mb2Module), tag->size - sizeof(Mb2Module));
            if (module->end >= module->start)
                add_module(out, module->start, module->end - module->start, name);
            break;
        }
        case 6: { // memory map
            const auto* map = reinterpret_cast<const Mb2MemoryMap*>(tag);
            if (tag->size < sizeof(Mb2MemoryMap) || map->entry_size < sizeof(E820Entry))
                break;
            saw_memory_map = true;
            for (uint64_t at = sizeof(Mb2MemoryMap); at + sizeof(E820Entry) <= tag->size;
                 at += map->entry_size) {
                const auto* entry = phys_to_ptr<const E820Entry>(tag_phys + at);
                add_memory(out, entry->address, entry->size, from_e820(entry->type));
            }
            break;
        }
        case 14:   // ACPI old RSDP: a copy of the RSDP follows the tag header
        case 15: { // ACPI new RSDP
            if (tag->size <= sizeof(Mb2Tag) || (out.rsdp != 0 && tag->type == 14))
                break;
            out.rsdp = tag_phys + sizeof(Mb2Tag);
            out.rsdp_length = tag->size - sizeof(Mb2Tag);
            out.rsdp_source = tag->type == 15 ? "Multiboot2 (new)" : "Multiboot2 (old)";
            break;
        }
        default:
            break;
        }
        offset += align_up(tag->size, 8);
    }
    if (!saw_memory_map) {
        log_error("boot: Multiboot2 information has no memory map");
        return false;
    }
    return true;
}

} // namespace

const char* to_string(MemoryType type) {
    switch (type) {
    case MemoryType::Usable:
        return "usable";
    case MemoryType::Reserved:
        return "reserved";
    case MemoryType::AcpiReclaimable:
        return "ACPI tables";
    case MemoryType::AcpiNvs:
        return "ACPI NVS";
    case MemoryType::Bad:
        return "bad";
    }
    return "unknown";
}

const char* to_string(BootProtocol protocol) {
    return protocol == BootProtocol::Multiboot2 ? "Multiboot2" : "PVH";
}

bool parse_boot_info(BootProtocol protocol, uint64_t info, BootInfo& out) {
    out.protocol = protocol;
    if (info == 0 || info >= 0x100000000ull) {
        log_error("boot: boot information at {} is outside the boot map", Hex{info});
        return false;
    }
    bool ok = protocol == BootProtocol::Pvh ? parse_pvh(info, out) : parse_multiboot2(info, out);
    if (out.truncated)
        log_warn("boot: more memory ranges or modules than the kernel keeps; extra ones ignored");
    return ok;
}

} // namespace capos::kernel
