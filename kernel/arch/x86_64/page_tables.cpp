// x86_64 4-level page tables behind kernel/mm/page_tables.h.
#include "kernel/mm/page_tables.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/tlb.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/mm/frame_ledger.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/layout.h"

namespace capos::kernel {

namespace {

constexpr uint64_t pte_present = 1ull << 0;
constexpr uint64_t pte_writable = 1ull << 1;
constexpr uint64_t pte_user = 1ull << 2;
constexpr uint64_t pte_write_through = 1ull << 3;
constexpr uint64_t pte_cache_disable = 1ull << 4;
constexpr uint64_t pte_owned = 1ull << 9; // software bit: the mapping owns its frame
constexpr uint64_t pte_large = 1ull << 7;
constexpr uint64_t pte_global = 1ull << 8;
constexpr uint64_t pte_no_execute = 1ull << 63;
constexpr uint64_t pte_address_mask = 0x000FFFFFFFFFF000ull;

uint64_t* table_at(uint64_t phys) {
    return phys_to_ptr<uint64_t>(phys & pte_address_mask);
}

int index_at(uint64_t virt, int level) {
    return (virt >> (12 + 9 * (level - 1))) & 0x1FF;
}

uint64_t level_span(int level) {
    return 1ull << (12 + 9 * (level - 1));
}

// Whether the TLB may hold a translation of `virt` made through the tables at
// `root`: those of the loaded address space, and any in the kernel half, which
// every address space shares and whose pages are global (a CR3 switch keeps
// them), whatever CR3 holds now.
bool is_kernel_half(uint64_t virt) {
    return (virt & (1ull << 47)) != 0;
}

// On this CPU; other CPUs are asked by x86::shootdown.
bool may_be_cached(uint64_t root, uint64_t virt) {
    return (x86::read_cr3() & pte_address_mask) == root || is_kernel_half(virt);
}

uint64_t sign_extend(uint64_t virt) {
    return (virt & (1ull << 47)) ? (virt | 0xFFFF000000000000ull) : virt;
}

Translation decode(uint64_t entry, uint64_t virt, int level) {
    uint64_t span = level_span(level);
    return Translation{
        .phys = (entry & pte_address_mask & ~(span - 1)) + (virt & (span - 1)),
        .writable = (entry & pte_writable) != 0,
        .executable = (entry & pte_no_execute) == 0,
        .user = (entry & pte_user) != 0,
        .global = (entry & pte_global) != 0,
        .owned = (entry & pte_owned) != 0,
        .uncached = (entry & pte_cache_disable) != 0,
        .size = level == 1 ? PageSize::Small : PageSize::Large,
    };
}

} // namespace

const char* to_string(MapError error) {
    switch (error) {
    case MapError::OutOfMemory:
        return "out of memory for page tables";
    case MapError::AlreadyMapped:
        return "address already mapped";
    case MapError::Misaligned:
        return "misaligned address";
    case MapError::NotMapped:
        return "address not mapped";
    case MapError::QuotaExceeded:
        return "page tables beyond the memory quota";
    }
    return "unknown map error";
}

Result<PageTables, MapError> PageTables::create() {
    auto frame = allocate_zeroed_frame();
    if (frame.is_error())
        return Err{MapError::OutOfMemory};
    return PageTables(frame.value());
}

PageTables PageTables::active() {
    return PageTables(x86::read_cr3() & pte_address_mask);
}

FrameLedger* PageTables::ledger() const {
    // Tables with a ledger are a process's, which change only under the
    // kernel lock (UserAddressSpace's operations require it; the self-tests
    // and the kernel's own tables have the lock from boot).
    VERIFY(!m_ledger || g_kernel_lock.held_here());
    return m_ledger;
}

Result<uint64_t, MapError> PageTables::allocate_table() {
    FrameLedger* ledger = this->ledger();
    if (ledger && !ledger->try_charge(1))
        return Err{MapError::QuotaExceeded};
    auto frame = allocate_zeroed_frame();
    if (frame.is_error()) {
        if (ledger)
            ledger->uncharge(1);
        return Err{MapError::OutOfMemory};
    }
    return frame.value();
}

void PageTables::free_table(uint64_t table) {
    VERIFY(free_frame(table).is_ok());
    if (FrameLedger* ledger = this->ledger())
        ledger->uncharge(1);
}

Result<PageTables, MapError> PageTables::create_address_space(const PageTables& kernel,
                                                              FrameLedger& ledger) {
    PageTables tables(0, &ledger);
    tables.m_root = TRY(tables.allocate_table());
    uint64_t* root = table_at(tables.m_root);
    const uint64_t* kernel_root = table_at(kernel.m_root);
    for (int i = 256; i < 512; ++i)
        root[i] = kernel_root[i];
    return tables;
}

Result<void, MapError> PageTables::populate_top_level(uint64_t virt) {
    uint64_t& entry = table_at(m_root)[index_at(virt, 4)];
    if (entry & pte_present)
        return {};
    auto frame = allocate_zeroed_frame();
    if (frame.is_error())
        return Err{MapError::OutOfMemory};
    entry = frame.value() | pte_present | pte_writable;
    return {};
}

namespace {

// Frees the tables below `table_phys` (a table at `level`) and owned leaf
// frames; counts the owned frames and the tables it freed.
void free_subtree(uint64_t table_phys, int level, uint64_t& owned, uint64_t& tables) {
    uint64_t* table = table_at(table_phys);
    for (int i = 0; i < 512; ++i) {
        uint64_t entry = table[i];
        if (!(entry & pte_present))
            continue;
        bool leaf = level == 1 || (level <= 3 && (entry & pte_large));
        if (!leaf) {
            free_subtree(entry & pte_address_mask, level - 1, owned, tables);
        } else if (entry & pte_owned) {
            uint64_t frames = level_span(level) / page_size;
            for (uint64_t f = 0; f < frames; ++f)
                (void)free_frame((entry & pte_address_mask) + f * page_size);
            owned += frames;
        }
    }
    (void)free_frame(table_phys);
    ++tables;
}

bool table_empty(const uint64_t* table, int from, int to) {
    for (int i = from; i < to; ++i) {
        if (table[i] & pte_present)
            return false;
    }
    return true;
}

} // namespace

uint64_t PageTables::destroy_address_space() {
    uint64_t* root = table_at(m_root);
    uint64_t owned = 0;
    uint64_t tables = 0;
    for (int i = 0; i < 256; ++i) {
        if (root[i] & pte_present)
            free_subtree(root[i] & pte_address_mask, 3, owned, tables);
    }
    (void)free_frame(m_root);
    ++tables;
    if (FrameLedger* ledger = this->ledger())
        ledger->uncharge(tables);
    m_root = 0;
    return owned;
}

Result<void, MapError> PageTables::protect(uint64_t virt, Access access) {
    uint64_t* table = table_at(m_root);
    for (int level = 4; level > 1; --level) {
        uint64_t entry = table[index_at(virt, level)];
        if (!(entry & pte_present) || (entry & pte_large))
            return Err{MapError::NotMapped};
        table = table_at(entry);
    }
    uint64_t& leaf = table[index_at(virt, 1)];
    if (!(leaf & pte_present))
        return Err{MapError::NotMapped};
    uint64_t value = leaf & ~(pte_writable | pte_no_execute);
    if (access == Access::ReadWrite)
        value |= pte_writable;
    if (access != Access::ReadExecute)
        value |= pte_no_execute;
    leaf = value;
    if (may_be_cached(m_root, virt))
        x86::invlpg(virt);
    x86::shootdown(m_root, is_kernel_half(virt), virt, 1);
    return {};
}

Result<void, MapError> PageTables::map(uint64_t virt, uint64_t phys, PageSize size, Access access,
                                       Privilege privilege, MapOptions options) {
    int leaf_level = size == PageSize::Small ? 1 : 2;
    uint64_t alignment = level_span(leaf_level);
    if ((virt & (alignment - 1)) || (phys & (alignment - 1)))
        return Err{MapError::Misaligned};

    uint64_t intermediate = pte_present | pte_writable;
    if (privilege == Privilege::User)
        intermediate |= pte_user;

    uint64_t* table = table_at(m_root);
    for (int level = 4; level > leaf_level; --level) {
        uint64_t& entry = table[index_at(virt, level)];
        if (!(entry & pte_present)) {
            entry = TRY(allocate_table()) | intermediate;
        } else if (entry & pte_large) {
            return Err{MapError::AlreadyMapped};
        } else {
            entry |= intermediate & pte_user;
        }
        table = table_at(entry);
    }

    uint64_t& leaf = table[index_at(virt, leaf_level)];
    if (leaf & pte_present)
        return Err{MapError::AlreadyMapped};

    uint64_t value = phys | pte_present;
    if (access == Access::ReadWrite)
        value |= pte_writable;
    if (access != Access::ReadExecute)
        value |= pte_no_execute;
    if (privilege == Privilege::User)
        value |= pte_user;
    else
        value |= pte_global;
    if (leaf_level == 2)
        value |= pte_large;
    if (options.caching == Caching::Uncached)
        value |= pte_cache_disable | pte_write_through;
    if (options.ownership == FrameOwnership::Owned)
        value |= pte_owned;
    leaf = value;
    return {};
}

Result<void, MapError> PageTables::unmap(uint64_t virt) {
    uint64_t* table = table_at(m_root);
    for (int level = 4; level >= 1; --level) {
        uint64_t& entry = table[index_at(virt, level)];
        if (!(entry & pte_present))
            return Err{MapError::NotMapped};
        if (level == 1 || (entry & pte_large)) {
            if (virt & (level_span(level) - 1))
                return Err{MapError::Misaligned};
            entry = 0;
            if (may_be_cached(m_root, virt))
                x86::invlpg(virt);
            x86::shootdown(m_root, is_kernel_half(virt), virt, 1);
            return {};
        }
        table = table_at(entry);
    }
    return Err{MapError::NotMapped};
}

std::optional<Translation> PageTables::translate(uint64_t virt) const {
    uint64_t* table = table_at(m_root);
    for (int level = 4; level >= 1; --level) {
        uint64_t entry = table[index_at(virt, level)];
        if (!(entry & pte_present))
            return std::nullopt;
        if (level == 1 || (level <= 3 && (entry & pte_large)))
            return decode(entry, virt, level);
        table = table_at(entry);
    }
    return std::nullopt;
}

namespace {

// [start, end) relative to a table at `level` covering [base, base + span*512).
std::optional<uint64_t> find_mapped(uint64_t table_phys, int level, uint64_t base, uint64_t start,
                                    uint64_t end) {
    uint64_t* table = table_at(table_phys);
    uint64_t span = level_span(level);
    uint64_t first = (start - base) / span;
    uint64_t last = (end - 1 - base) / span;
    for (uint64_t i = first; i <= last && i < 512; ++i) {
        uint64_t entry = table[i];
        if (!(entry & pte_present))
            continue;
        uint64_t entry_base = base + i * span;
        uint64_t from = start > entry_base ? start : entry_base;
        if (level == 1 || (level <= 3 && (entry & pte_large)))
            return from;
        uint64_t entry_end = entry_base + span;
        uint64_t to = end < entry_end ? end : entry_end;
        if (auto found = find_mapped(entry & pte_address_mask, level - 1, entry_base, from, to))
            return found;
    }
    return std::nullopt;
}

} // namespace

std::optional<uint64_t> PageTables::first_mapped(uint64_t start, uint64_t end) const {
    constexpr uint64_t lower_half_end = 1ull << 47;
    if (start >= end || end > lower_half_end)
        return std::nullopt;
    return find_mapped(m_root, 4, 0, start, end);
}

namespace {

constexpr uint64_t linear_mask = (1ull << 48) - 1;

bool is_leaf(uint64_t entry, int level) {
    return level == 1 || (level <= 3 && (entry & pte_large));
}

// The entries of a table at `level` covering [base, base + 512 * span) that
// meet [start, end) (48-bit linear addresses, start >= base).
struct EntryRange {
    uint64_t first;
    uint64_t last;
};
EntryRange entries_meeting(int level, uint64_t base, uint64_t start, uint64_t end) {
    uint64_t span = level_span(level);
    uint64_t last = (end - 1 - base) / span;
    return {(start - base) / span, last > 511 ? 511 : last};
}

// False when the callback stopped the walk (at *stopped_at).
bool walk_in(uint64_t table_phys, int level, uint64_t base, uint64_t start, uint64_t end,
             bool (*callback)(void*, uint64_t, const Translation&), void* context,
             uint64_t* stopped_at) {
    const uint64_t* table = table_at(table_phys);
    uint64_t span = level_span(level);
    EntryRange range = entries_meeting(level, base, start, end);
    for (uint64_t i = range.first; i <= range.last; ++i) {
        uint64_t entry = table[i];
        if (!(entry & pte_present))
            continue;
        uint64_t entry_base = base + i * span;
        if (is_leaf(entry, level)) {
            if (entry_base >= start) {
                uint64_t virt = sign_extend(entry_base);
                if (!callback(context, virt, decode(entry, virt, level))) {
                    *stopped_at = virt;
                    return false;
                }
            }
            continue;
        }
        uint64_t from = start > entry_base ? start : entry_base;
        uint64_t to = end < entry_base + span ? end : entry_base + span;
        if (!walk_in(entry & pte_address_mask, level - 1, entry_base, from, to, callback, context,
                     stopped_at))
            return false;
    }
    return true;
}

} // namespace

std::optional<uint64_t> PageTables::walk_range(uint64_t start, uint64_t end,
                                               SelectCallback callback, void* context) const {
    if (start >= end || (start >> 47) != ((end - 1) >> 47))
        return std::nullopt;
    uint64_t stopped_at = 0;
    if (walk_in(m_root, 4, 0, start & linear_mask, ((end - 1) & linear_mask) + 1, callback, context,
                &stopped_at))
        return std::nullopt;
    return stopped_at;
}

struct PageTables::UnmapWalk {
    SelectCallback select;
    void* context;
    uint64_t limit;
    uint64_t unmapped = 0;
    bool stopped = false;
    uint64_t next = 0; // linear address to go on from, when stopped
    // What other CPUs must flush: the lowest and highest address removed.
    uint64_t flush_first = UINT64_MAX;
    uint64_t flush_last = 0;
    void removed(uint64_t virt) {
        flush_first = virt < flush_first ? virt : flush_first;
        flush_last = virt > flush_last ? virt : flush_last;
    }
};

// Unmaps what `walk` selects in [start, end) below the table at `level`;
// true when the table is empty afterwards (the caller may free it).
bool PageTables::unmap_in(uint64_t table_phys, int level, uint64_t base, uint64_t start,
                          uint64_t end, UnmapWalk& walk) {
    uint64_t* table = table_at(table_phys);
    uint64_t span = level_span(level);
    EntryRange range = entries_meeting(level, base, start, end);
    bool kept = false;
    for (uint64_t i = range.first; i <= range.last; ++i) {
        uint64_t entry = table[i];
        if (!(entry & pte_present))
            continue;
        uint64_t entry_base = base + i * span;
        uint64_t virt = sign_extend(entry_base);
        if (walk.stopped)
            return false;
        if (is_leaf(entry, level)) {
            if (walk.unmapped == walk.limit) {
                walk.stopped = true;
                walk.next = entry_base > start ? entry_base : start;
                return false;
            }
            bool whole = entry_base >= start && entry_base + span <= end;
            if (whole && walk.select(walk.context, virt, decode(entry, virt, level))) {
                table[i] = 0;
                if (may_be_cached(m_root, virt))
                    x86::invlpg(virt);
                walk.removed(virt);
                ++walk.unmapped;
            } else {
                kept = true;
            }
            continue;
        }
        uint64_t from = start > entry_base ? start : entry_base;
        uint64_t to = end < entry_base + span ? end : entry_base + span;
        bool child_empty =
            unmap_in(entry & pte_address_mask, level - 1, entry_base, from, to, walk);
        if (walk.stopped)
            return false;
        // Below the top level of the kernel half, tables are shared by every
        // address space (their top-level entries are copies): never freed.
        bool shared = level == 4 && i >= 256;
        if (child_empty && !shared) {
            table[i] = 0;
            // Also drops any cached walk through the table (INVLPG flushes the
            // paging-structure caches) before its frame can be reused.
            if (may_be_cached(m_root, virt))
                x86::invlpg(virt);
            walk.removed(virt);
            free_table(entry & pte_address_mask);
        } else {
            kept = true;
        }
    }
    // Entries outside the range were not looked at: check them only when
    // everything inside it went.
    return !kept && table_empty(table, 0, int(range.first)) &&
           table_empty(table, int(range.last) + 1, 512);
}

PageTables::UnmapProgress PageTables::unmap_range(uint64_t start, uint64_t end,
                                                  SelectCallback select, void* context,
                                                  uint64_t limit) {
    if (start >= end || (start >> 47) != ((end - 1) >> 47))
        return {};
    UnmapWalk walk{select, context, limit};
    (void)unmap_in(m_root, 4, 0, start & linear_mask, ((end - 1) & linear_mask) + 1, walk);
    if (walk.flush_first <= walk.flush_last) {
        // Every removed entry (a page, a large page, a table) starts on a
        // page of [first, last]: flushing each page there (INVLPG at any
        // address of a large page drops it, and drops the paging-structure
        // caches) covers them all.
        uint64_t pages = (walk.flush_last - walk.flush_first) / page_size + 1;
        x86::shootdown(m_root, is_kernel_half(walk.flush_first), walk.flush_first, pages);
    }
    return {walk.unmapped, !walk.stopped, sign_extend(walk.next)};
}

void PageTables::walk(uint64_t table_phys, int level, uint64_t virt_base, WalkCallback callback,
                      void* context) {
    uint64_t* table = table_at(table_phys);
    for (int i = 0; i < 512; ++i) {
        uint64_t entry = table[i];
        if (!(entry & pte_present))
            continue;
        uint64_t virt = sign_extend(virt_base + uint64_t(i) * level_span(level));
        if (level == 1 || (level <= 3 && (entry & pte_large)))
            callback(context, virt, decode(entry, virt, level));
        else
            walk(entry & pte_address_mask, level - 1, virt, callback, context);
    }
}

void PageTables::activate() const {
    x86::load_root(m_root);
}

void PageTables::unload_elsewhere(const PageTables& replacement) const {
    x86::shootdown_unload(m_root, replacement.m_root);
}

} // namespace capos::kernel
