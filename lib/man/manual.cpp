#include "lib/man/manual.h"

namespace capos::man {

namespace {

char fold(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

bool equal_folded(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (fold(a[i]) != fold(b[i]))
            return false;
    }
    return true;
}

bool contains_folded(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size())
        return false;
    for (size_t at = 0; at + needle.size() <= haystack.size(); ++at) {
        if (equal_folded(haystack.substr(at, needle.size()), needle))
            return true;
    }
    return false;
}

std::optional<Page> page_of(const ArchiveEntry& entry) {
    std::string_view name = entry.name;
    if (name.size() < 3 || name[0] < '1' || name[0] > '9' || name[1] != '/')
        return std::nullopt;
    Page page{};
    page.section = static_cast<uint8_t>(name[0] - '0');
    page.title = name.substr(2);
    page.text =
        std::string_view(reinterpret_cast<const char*>(entry.data.data()), entry.data.size());
    std::string_view first = page.text.substr(0, page.text.find('\n'));
    constexpr std::string_view separator = " - ";
    if (first.size() >= page.title.size() + separator.size() &&
        first.substr(page.title.size(), separator.size()) == separator)
        page.summary = first.substr(page.title.size() + separator.size());
    return page;
}

std::optional<Page> find_page(const CpioArchive& pages, std::string_view topic, uint8_t section) {
    for (ArchiveEntry entry : pages) {
        std::optional<Page> page = page_of(entry);
        if (page && (section == 0 || page->section == section) && equal_folded(page->title, topic))
            return page;
    }
    return std::nullopt;
}

} // namespace capos::man
