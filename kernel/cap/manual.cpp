// Manual: the pages the build packed into the boot archive (etc/man.bin, see
// lib/man/manual.h for the format), looked up by topic and searched by word.
// A boot archive without them serves an empty manual.
#include "lib/man/manual.h"
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"

namespace capos::kernel {

namespace {

using schema::Manual;

constexpr std::string_view pages_path = "etc/man.bin";

class ManualService final : public KernelServiceOf<Manual, ManualService> {
public:
    Result<void, gen::Exception> page(Manual::PageParams::Reader params,
                                      Manual::PageResults::Builder results) {
        std::optional<CpioArchive> pages = open_pages();
        std::optional<man::Page> found;
        if (pages)
            found = man::find_page(*pages, params.topic(), params.section());
        if (!found)
            return Err{failed("no such page")};
        std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(found->text.data()),
                                       found->text.size());
        std::span<const uint8_t> chunk = chunk_of(bytes, params.offset(), Manual::max_read);
        results.set_section(found->section);
        results.set_title(found->title);
        results.set_text(
            std::string_view(reinterpret_cast<const char*>(chunk.data()), chunk.size()));
        results.set_size(static_cast<uint32_t>(bytes.size()));
        return {};
    }

    Result<void, gen::Exception> search(Manual::SearchParams::Reader params,
                                        Manual::SearchResults::Builder results) {
        if (params.word().empty())
            return Err{invalid_argument("an empty word matches every page")};
        std::optional<CpioArchive> pages = open_pages();
        if (!pages)
            return {};
        // Counted first, then built: a list is sized once.
        uint32_t count = 0;
        bool more = man::search(*pages, params.word(), params.from(), Manual::max_entries,
                                [&](const man::Page&) { ++count; });
        auto entries = results.init_entries(count);
        uint32_t index = 0;
        man::search(*pages, params.word(), params.from(), count, [&](const man::Page& page) {
            auto entry = entries[index++];
            entry.set_section(page.section);
            entry.set_title(page.title);
            entry.set_summary(page.summary);
        });
        results.set_more(more);
        return {};
    }

private:
    static std::optional<CpioArchive> open_pages() {
        std::optional<std::span<const uint8_t>> bytes = find_boot_file(pages_path);
        if (!bytes)
            return std::nullopt;
        auto opened = CpioArchive::open(*bytes);
        if (opened.is_error())
            return std::nullopt;
        return opened.release_value();
    }
};

} // namespace

RefPtr<KernelService> create_manual_service() {
    return make_service<ManualService>();
}

} // namespace capos::kernel
