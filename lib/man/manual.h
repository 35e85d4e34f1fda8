// The manual's pages as the boot archive carries them (etc/man.bin, written by
// tools/mkman): lookup by topic and search by word, the logic behind the
// kernel's Manual capability, here so that the host tests read the same file
// the kernel serves.
//
// Format. etc/man.bin is a cpio "newc" archive (lib/archive) of one entry per
// page, named "<section>/<title>" (section a decimal digit: 1 commands, 2
// interfaces, 7 concepts), in section order and, within a section, in title
// order. An entry's data is the page's text: its first line is
// "<title> - <summary>", the rest is the page. Names with any other form are
// skipped.
//
// Trust. The archive comes from the boot archive; CpioArchive::open has
// checked every header. Nothing here allocates; every walk is bounded by the
// archive's entries (at most cpio::max_entries).
#pragma once

#include "lib/archive/cpio.h"
#include <cstdint>
#include <optional>
#include <string_view>

namespace capos::man {

struct Page {
    uint8_t section;
    std::string_view title;
    std::string_view summary; // the first line after "<title> - "
    std::string_view text;    // the whole page, its first line included
};

// The page an entry holds, or nothing when its name is not "<digit>/<title>".
std::optional<Page> page_of(const ArchiveEntry& entry);

// Whether `haystack` holds `needle`, ASCII letters compared without case.
bool contains_folded(std::string_view haystack, std::string_view needle);
bool equal_folded(std::string_view a, std::string_view b);

// The page `topic` (case ignored) in `section`, or with section 0 in the
// first section that has one (the archive's order).
std::optional<Page> find_page(const CpioArchive& pages, std::string_view topic, uint8_t section);

// Calls visit(page) for each page whose title or summary holds `word` (case
// ignored), in archive order, skipping the first `from` matches; stops after
// `limit` visits. Returns whether more matches follow those visited.
template <typename Visit>
bool search(const CpioArchive& pages, std::string_view word, uint32_t from, uint32_t limit,
            Visit&& visit) {
    uint32_t seen = 0;
    uint32_t visited = 0;
    for (ArchiveEntry entry : pages) {
        std::optional<Page> page = page_of(entry);
        if (!page || (!contains_folded(page->title, word) && !contains_folded(page->summary, word)))
            continue;
        if (seen++ < from)
            continue;
        if (visited == limit)
            return true;
        ++visited;
        visit(*page);
    }
    return false;
}

} // namespace capos::man
