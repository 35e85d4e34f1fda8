// tools/mkman's pages (section 2 from doc comments, hand-written pages, the
// packed archive) and lib/man's lookup and search over what it packs.
#include "lib/man/manual.h"
#include "tools/mkman/pages.h"

#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <string>
#include <vector>

using capos::CpioArchive;
using capos::mkman::interface_pages;
using capos::mkman::ManPage;
using capos::mkman::pack;
using capos::mkman::text_page;

namespace {

std::vector<capos::capnp::Word> read_request(const std::string& name) {
    std::ifstream file(std::string(MKMAN_REQUESTS) + "/" + name, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(bytes.empty()) << name;
    std::vector<capos::capnp::Word> words(bytes.size() / 8);
    memcpy(words.data(), bytes.data(), words.size() * 8);
    return words;
}

const ManPage* page_titled(const std::vector<ManPage>& pages, const std::string& title) {
    for (const ManPage& page : pages) {
        if (page.title == title)
            return &page;
    }
    return nullptr;
}

} // namespace

TEST(Mkman, InterfacePage) {
    auto pages = interface_pages(read_request("test.request"));
    ASSERT_TRUE(pages.is_ok()) << pages.error();
    // Widget, Gadget and Gizmo; the struct Thing has no page.
    ASSERT_EQ(pages.value().size(), 3u);
    ASSERT_NE(page_titled(pages.value(), "Widget"), nullptr);
    const ManPage& page = *page_titled(pages.value(), "Widget");
    EXPECT_EQ(page.section, 2);
    EXPECT_EQ(page.title, "Widget");
    EXPECT_EQ(page.text,
              "Widget - Makes widgets.\n"
              "\n"
              "interface Widget\n"
              "  Makes widgets. A second sentence\n"
              "  on another line.\n"
              "\n"
              "make @0 (names :List(Text), count :UInt16) -> (widget :Widget, ok :Bool)\n"
              "  Makes `count` widgets.\n"
              "\n"
              "  After a blank line.\n"
              "\n"
              "measure @1 Thing -> ()\n"
              "  Takes a named struct.\n");
}

TEST(Mkman, InheritedMethodsAreListedUnderTheirInterface) {
    auto pages = interface_pages(read_request("test.request"));
    ASSERT_TRUE(pages.is_ok()) << pages.error();
    const ManPage* gizmo = page_titled(pages.value(), "Gizmo");
    ASSERT_NE(gizmo, nullptr);
    EXPECT_EQ(gizmo->text,
              "Gizmo - Two levels down.\n"
              "\n"
              "interface Gizmo extends(Gadget)\n"
              "  Two levels down.\n"
              "\n"
              "glow @0 () -> ()\n"
              "  Glows.\n"
              "\n"
              "Inherited from Gadget (man 2 Gadget):\n"
              "spin @0 (turns :UInt32) -> ()\n"
              "  Spins `turns` times.\n"
              "\n"
              "Inherited from Widget (man 2 Widget):\n"
              "make @0 (names :List(Text), count :UInt16) -> (widget :Widget, ok :Bool)\n"
              "  Makes `count` widgets.\n"
              "measure @1 Thing -> ()\n"
              "  Takes a named struct.\n");
}

TEST(Mkman, MissingMethodDocCommentFails) {
    auto pages = interface_pages(read_request("missing.request"));
    ASSERT_TRUE(pages.is_error());
    EXPECT_EQ(pages.error(), "method Missing.undocumented has no doc comment");
}

TEST(Mkman, MissingInterfaceDocCommentFails) {
    auto pages = interface_pages(read_request("missing_interface.request"));
    ASSERT_TRUE(pages.is_error());
    EXPECT_EQ(pages.error(), "interface Bare has no doc comment");
}

TEST(Mkman, EveryCaposInterfaceHasAPage) {
    auto pages = interface_pages(read_request("capos.request"));
    ASSERT_TRUE(pages.is_ok()) << pages.error();
    for (const char* name : {"Console", "Timer", "Manual", "ProcessSpawner", "Endpoint"})
        EXPECT_NE(page_titled(pages.value(), name), nullptr) << name;
    const ManPage* timer = page_titled(pages.value(), "Timer");
    ASSERT_NE(timer, nullptr);
    EXPECT_NE(timer->text.find("\nsleep @1 (ns :UInt64) -> ()\n"), std::string::npos);
}

TEST(Mkman, NotARequestFails) {
    std::vector<capos::capnp::Word> words(3);
    EXPECT_TRUE(interface_pages(words).is_error());
}

TEST(Mkman, TextPageNeedsTitleAndSummary) {
    EXPECT_TRUE(text_page(1, "help", "help - list the commands\n\nhelp\n").is_ok());
    EXPECT_TRUE(text_page(1, "help", "list the commands\n").is_error());
    EXPECT_TRUE(text_page(1, "help", "help - \nno summary\n").is_error());
    EXPECT_TRUE(text_page(1, "help", "helper - another title\n").is_error());
}

class ManualArchive : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<ManPage> pages = {
            {7, "ring", "ring - submission and completion queues\n\nbody\n"},
            {2, "Timer", "Timer - A monotonic clock and sleeping.\n\nbody\n"},
            {1, "caps", "caps - the capabilities this shell holds\n"},
            {1, "sleep", "sleep - wait a while\n"},
            {7, "capabilities", "capabilities - what a program may do\n"},
        };
        auto packed = pack(pages);
        ASSERT_TRUE(packed.is_ok()) << packed.error();
        m_bytes = packed.release_value();
        auto opened = CpioArchive::open(m_bytes);
        ASSERT_TRUE(opened.is_ok());
        m_archive.emplace(opened.release_value());
    }

    std::vector<std::string> search(std::string_view word, uint32_t from, uint32_t limit,
                                    bool* more) {
        std::vector<std::string> found;
        *more = capos::man::search(*m_archive, word, from, limit, [&](const capos::man::Page& p) {
            found.push_back(std::string(p.title) + "(" + std::to_string(p.section) + ")");
        });
        return found;
    }

    std::vector<uint8_t> m_bytes;
    std::optional<CpioArchive> m_archive;
};

TEST_F(ManualArchive, PackedInSectionOrder) {
    std::vector<std::string> names;
    for (capos::ArchiveEntry entry : *m_archive)
        names.emplace_back(entry.name);
    EXPECT_EQ(names, (std::vector<std::string>{"1/caps", "1/sleep", "2/Timer", "7/capabilities",
                                               "7/ring"}));
}

TEST_F(ManualArchive, FindPage) {
    auto timer = capos::man::find_page(*m_archive, "timer", 0);
    ASSERT_TRUE(timer.has_value());
    EXPECT_EQ(timer->section, 2);
    EXPECT_EQ(timer->title, "Timer");
    EXPECT_EQ(timer->summary, "A monotonic clock and sleeping.");
    EXPECT_EQ(timer->text.substr(0, 8), "Timer - ");
    EXPECT_TRUE(capos::man::find_page(*m_archive, "Timer", 2).has_value());
    EXPECT_FALSE(capos::man::find_page(*m_archive, "Timer", 1).has_value());
    EXPECT_FALSE(capos::man::find_page(*m_archive, "nosuchpage", 0).has_value());
    EXPECT_FALSE(capos::man::find_page(*m_archive, "Time", 0).has_value());
    auto caps = capos::man::find_page(*m_archive, "caps", 0);
    ASSERT_TRUE(caps.has_value());
    EXPECT_EQ(caps->section, 1);
}

TEST_F(ManualArchive, Search) {
    bool more = false;
    EXPECT_EQ(search("SLEEP", 0, 16, &more), (std::vector<std::string>{"sleep(1)", "Timer(2)"}));
    EXPECT_FALSE(more);
    EXPECT_EQ(search("cap", 0, 1, &more), (std::vector<std::string>{"caps(1)"}));
    EXPECT_TRUE(more);
    EXPECT_EQ(search("cap", 1, 1, &more), (std::vector<std::string>{"capabilities(7)"}));
    EXPECT_FALSE(more);
    EXPECT_TRUE(search("body", 0, 16, &more).empty()); // only titles and summaries
    EXPECT_FALSE(more);
}

TEST(Mkman, PackRefusesDuplicates) {
    std::vector<ManPage> pages = {{1, "a", "a - one\n"}, {1, "a", "a - two\n"}};
    EXPECT_TRUE(pack(pages).is_error());
    std::vector<ManPage> other = {{1, "a", "a - one\n"}, {2, "a", "a - two\n"}};
    EXPECT_TRUE(pack(other).is_ok());
}
