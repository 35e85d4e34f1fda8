// One address space's translation tables, behind names that do not depend on
// the architecture (the x86_64 implementation is kernel/arch/x86_64/page_tables.cpp).
//
// Access has no read-write-execute value: W^X holds by construction for every
// mapping made through this interface. Table pages come from the frame
// allocator; a failed map leaves earlier mappings as they were. The tables of
// a process's address space are charged to its frame ledger (a process pays
// for the tables its mappings need, not only for the pages), and tables that
// become empty when a range is unmapped are freed and uncharged. Walks over a
// range skip absent tables: they cost what is mapped there, never the size
// of the range.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "lib/base/result.h"
#include <cstdint>
#include <optional>

namespace capos::kernel {

class FrameLedger;

enum class Access : uint8_t { Read, ReadWrite, ReadExecute };
enum class Privilege : uint8_t { Kernel, User };
enum class PageSize : uint8_t { Small, Large };       // 4 KiB, 2 MiB
enum class Caching : uint8_t { WriteBack, Uncached }; // Uncached: device registers

// Whether the address space owns the frame behind a mapping (anonymous memory,
// freed when the mapping goes) or borrows it (a shared memory object, the
// kernel's own memory).
enum class FrameOwnership : uint8_t { Borrowed, Owned };

enum class MapError : uint8_t { OutOfMemory, AlreadyMapped, Misaligned, NotMapped, QuotaExceeded };
const char* to_string(MapError error);

// What the hardware will do with one address, read back from the tables.
struct Translation {
    uint64_t phys;
    bool writable;
    bool executable;
    bool user;
    bool global;
    bool owned;
    bool uncached; // a device's registers: the kernel touches none of it
    PageSize size;
};

struct MapOptions {
    Caching caching = Caching::WriteBack;
    FrameOwnership ownership = FrameOwnership::Borrowed;
};

class PageTables {
public:
    // Empty tables (nothing mapped).
    static Result<PageTables, MapError> create();
    // A new address space: an empty user half and the kernel half shared with
    // `kernel` (its top-level entries are copied, so every kernel table below
    // them is shared). Its top-level table and every table of its user half
    // are charged to `ledger` (QuotaExceeded when they do not fit); the
    // ledger must outlive the tables.
    static Result<PageTables, MapError> create_address_space(const PageTables& kernel,
                                                             FrameLedger& ledger);
    // A view of the tables the CPU is using now.
    static PageTables active();

    Result<void, MapError> map(uint64_t virt, uint64_t phys, PageSize size, Access access,
                               Privilege privilege, MapOptions options = {});
    // Changes the access of the mapped small page at `virt`.
    Result<void, MapError> protect(uint64_t virt, Access access);
    Result<void, MapError> unmap(uint64_t virt);
    std::optional<Translation> translate(uint64_t virt) const;
    // The lowest mapped address in [start, end) of the user (lower) half, or
    // nullopt. Skips whole absent tables, so it costs what is mapped, not the
    // size of the range.
    std::optional<uint64_t> first_mapped(uint64_t start, uint64_t end) const;

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

    // Calls visit(virt, translation) for every mapped page (or large page)
    // that starts in [start, end), in address order, until visit returns
    // false: then returns that mapping's address (nullopt when the walk got to
    // the end).
    template <typename Visit>
    std::optional<uint64_t> for_each_mapping_in(uint64_t start, uint64_t end, Visit&& visit) const {
        return walk_range(
            start, end,
            [](void* context, uint64_t virt, const Translation& t) {
                return (*static_cast<Visit*>(context))(virt, t);
            },
            &visit);
    }

    // Unmaps every mapping in [start, end) for which select(virt, translation)
    // is true (a large page only if it lies wholly inside the range), then
    // frees the tables that became empty: never the top-level table, nor a
    // kernel-half table directly below it (every address space shares those).
    // select is called before the entry is cleared, so it may free the frame.
    // Stops after `limit` mappings: `next` is where to go on from (the caller
    // may give up the CPU in between, with nothing half done).
    struct UnmapProgress {
        uint64_t unmapped = 0;
        bool done = true;
        uint64_t next = 0; // when !done
    };
    template <typename Select>
    UnmapProgress unmap_range(uint64_t start, uint64_t end, Select&& select,
                              uint64_t limit = UINT64_MAX) {
        return unmap_range(
            start, end,
            [](void* context, uint64_t virt, const Translation& t) {
                return (*static_cast<Select*>(context))(virt, t);
            },
            &select, limit);
    }

    // Makes sure the top-level entry covering `virt` exists, so that tables
    // shared from here (create_address_space) see later mappings below it.
    Result<void, MapError> populate_top_level(uint64_t virt);

    // Frees every table page of the user half and the top-level table
    // (uncharging them). Leaf frames marked Owned are freed too; Borrowed ones
    // are left to their owner. The tables must not be active. Returns the
    // number of owned frames freed.
    uint64_t destroy_address_space();

    void activate() const;
    // Before the tables are taken apart: every other CPU that has them
    // loaded loads `replacement` (the kernel's) instead.
    void unload_elsewhere(const PageTables& replacement) const;
    uint64_t root() const { return m_root; }

private:
    explicit PageTables(uint64_t root, FrameLedger* ledger = nullptr)
        : m_root(root), m_ledger(ledger) {}
    using WalkCallback = void (*)(void*, uint64_t, const Translation&);
    using SelectCallback = bool (*)(void*, uint64_t, const Translation&);
    static void walk(uint64_t table, int level, uint64_t virt_base, WalkCallback callback,
                     void* context);
    std::optional<uint64_t> walk_range(uint64_t start, uint64_t end, SelectCallback callback,
                                       void* context) const;
    UnmapProgress unmap_range(uint64_t start, uint64_t end, SelectCallback select, void* context,
                              uint64_t limit);
    struct UnmapWalk;
    bool unmap_in(uint64_t table, int level, uint64_t base, uint64_t start, uint64_t end,
                  UnmapWalk& walk);
    // The ledger, if there is one: then this CPU holds the kernel lock
    // (checked), which guards the ledger.
    FrameLedger* ledger() const CAPOS_ASSERT_CAPABILITY(g_kernel_lock);
    // A zeroed table page, charged to the ledger if there is one.
    Result<uint64_t, MapError> allocate_table();
    void free_table(uint64_t table);

    uint64_t m_root;                 // physical address of the top-level table
    FrameLedger* m_ledger = nullptr; // pays for the tables, if set (not owned)
};

} // namespace capos::kernel
