// The CapSet page: a read-only page mapped into every process listing the
// capabilities it was started with, by name and interface id. The runtime
// looks capabilities up here; the kernel writes it once, before the process
// runs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::abi {

inline constexpr uint32_t capset_magic = 0x43415053; // "CAPS"
inline constexpr uint32_t capset_version = 1;
inline constexpr size_t capset_name_max = 47; // bytes, plus a NUL

struct CapSetEntry {
    uint32_t cap_id;                // abi::CapId::raw
    uint32_t reserved;              // 0
    uint64_t interface_id;          // the interface the capability speaks
    char name[capset_name_max + 1]; // NUL-terminated
};
static_assert(sizeof(CapSetEntry) == 64);

struct CapSetHeader {
    uint32_t magic;   // capset_magic
    uint32_t version; // capset_version
    uint32_t count;   // entries that follow
    uint32_t reserved;
};
static_assert(sizeof(CapSetHeader) == 16);

inline constexpr size_t capset_page_size = 4096;
inline constexpr size_t capset_max_entries =
    (capset_page_size - sizeof(CapSetHeader)) / sizeof(CapSetEntry);
static_assert(capset_max_entries == 63);

struct CapSetPage {
    CapSetHeader header;
    CapSetEntry entries[capset_max_entries];
};
static_assert(sizeof(CapSetPage) <= capset_page_size);

} // namespace capos::abi
