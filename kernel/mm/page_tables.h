// One address space's translation tables, behind names that do not depend on
// the architecture (the x86_64 implementation is kernel/arch/x86_64/page_tables.cpp).
//
// Access has no read-write-execute value: W^X holds by construction for every
// mapping made through this interface. Table pages come from the frame
// allocator; a failed map leaves earlier mappings as they were.
#pragma once

#include "lib/base/result.h"
#include <cstdint>
#include <optional>

namespace capos::kernel {

enum class Access : uint8_t { Read, ReadWrite, ReadExecute };
enum class Privilege : uint8_t { Kernel, User };
enum class PageSize : uint8_t { Small, Large }; // 4 KiB, 2 MiB

enum class MapError : uint8_t { OutOfMemory, AlreadyMapped, Misaligned, NotMapped };
const char* to_string(MapError error);

// What the hardware will do with one address, read back from the tables.
struct Translation {
    uint64_t phys;
    bool writable;
    bool executable;
    bool user;
    bool global;
    PageSize size;
};

class PageTables {
public:
    // Empty tables (nothing mapped).
    static Result<PageTables, MapError> create();
    // A view of the tables the CPU is using now.
    static PageTables active();

    Result<void, MapError> map(uint64_t virt, uint64_t phys, PageSize size, Access access,
                               Privilege privilege);
    Result<void, MapError> unmap(uint64_t virt);
    std::optional<Translation> translate(uint64_t virt) const;

    // Calls visit(virt, translation) for every mapped page, in address order.
    template <typename Visit>
    void for_each_mapping(Visit&& visit) const {
        walk(
            m_root, 4, 0,
            [](void* context, uint64_t virt, const Translation& t) {
                (*static_cast<Visit*>(context))(virt, t);
            },
            &visit);
    }

    void activate() const;
    uint64_t root() const { return m_root; }

private:
    explicit PageTables(uint64_t root) : m_root(root) {}
    using WalkCallback = void (*)(void*, uint64_t, const Translation&);
    static void walk(uint64_t table, int level, uint64_t virt_base, WalkCallback callback,
                     void* context);

    uint64_t m_root; // physical address of the top-level table
};

} // namespace capos::kernel
