// The shell's command list (lib/shell/commands.h, which the shell's own table
// is checked against when it compiles) against the rest of the tree: section 1
// of the manual has a page for each command and none for a command that does
// not exist (a page may also be a program of the default boot archive's), and
// the bad-input sweep (tests/scenarios/shell_garbage.scenario) feeds each
// command garbage.
#include "lib/shell/commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path source_dir = CAPOS_SOURCE_DIR;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot read " << path;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::set<std::string> commands() {
    std::set<std::string> names;
    for (std::string_view name : capos::shell::command_names)
        EXPECT_TRUE(names.emplace(name).second) << "command '" << name << "' is listed twice";
    return names;
}

// The programs of the default boot archive: the PROGRAMS of
// `capos_boot_archive(boot ...)` in system/CMakeLists.txt.
std::set<std::string> boot_programs() {
    std::string text = read_file(source_dir / "system/CMakeLists.txt");
    size_t at = text.find("capos_boot_archive(boot ");
    EXPECT_NE(at, std::string::npos);
    if (at == std::string::npos)
        return {};
    size_t end = text.find(')', at);
    size_t programs = text.find(" PROGRAMS ", at);
    EXPECT_LT(programs, end);
    std::istringstream words(text.substr(programs + 10, end - programs - 10));
    std::set<std::string> names;
    for (std::string word; words >> word;)
        names.insert(word);
    return names;
}

// The names of man/1's pages (their files without `.txt`).
std::set<std::string> section_one_pages() {
    std::set<std::string> pages;
    for (const fs::directory_entry& entry : fs::directory_iterator(source_dir / "man/1")) {
        EXPECT_EQ(entry.path().extension(), ".txt") << entry.path();
        pages.insert(entry.path().stem().string());
    }
    return pages;
}

TEST(ShellCommands, EachHasAManualPageNamingIt) {
    for (const std::string& name : commands()) {
        SCOPED_TRACE(name);
        fs::path page = source_dir / "man/1" / (name + ".txt");
        ASSERT_TRUE(fs::exists(page)) << "no manual page man/1/" << name << ".txt";
        std::string text = read_file(page);
        // mkman takes the first line as "title - summary".
        EXPECT_EQ(text.substr(0, name.size() + 3), name + " - ");
        // The synopsis on the third line starts with the command.
        std::istringstream lines(text);
        std::string line;
        for (int i = 0; i < 3; ++i)
            std::getline(lines, line);
        EXPECT_EQ(line.substr(0, name.size()), name) << "synopsis: " << line;
    }
}

TEST(ShellCommands, EachSectionOnePageIsACommandOrAProgram) {
    std::set<std::string> names = commands();
    std::set<std::string> programs = boot_programs();
    EXPECT_TRUE(programs.count("shell"));
    for (const std::string& page : section_one_pages()) {
        SCOPED_TRACE(page);
        bool command = names.count(page) != 0;
        bool program = programs.count(page) != 0;
        EXPECT_TRUE(command || program)
            << "man/1/" << page << ".txt names no command of the shell and no program";
        // A program's page says so, and a name is not both.
        std::string text = read_file(source_dir / "man/1" / (page + ".txt"));
        bool says_program = text.find("A program, not a shell command") != std::string::npos;
        EXPECT_EQ(says_program, program && !command);
    }
}

// The sweep's sections: each starts with a comment `# sweep: <command>`, and
// holds the sends typed until the next one.
std::map<std::string, std::vector<std::string>> sweep_sections() {
    std::istringstream lines(read_file(source_dir / "tests/scenarios/shell_garbage.scenario"));
    std::map<std::string, std::vector<std::string>> sections;
    std::vector<std::string>* current = nullptr;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("# sweep: ", 0) == 0) {
            std::string name = line.substr(9);
            EXPECT_FALSE(sections.count(name)) << "two sweep sections for '" << name << "'";
            current = &sections[name];
        } else if (line.rfind("send: \"", 0) == 0 && current) {
            current->push_back(line.substr(7));
        }
    }
    return sections;
}

TEST(ShellCommands, TheGarbageSweepFeedsEachCommandEachKindOfGarbage) {
    std::set<std::string> names = commands();
    std::map<std::string, std::vector<std::string>> sections = sweep_sections();
    for (const auto& [name, sends] : sections)
        EXPECT_TRUE(names.count(name))
            << "the sweep has a section for '" << name << "', which is no command";
    for (const std::string& name : names) {
        SCOPED_TRACE(name);
        auto found = sections.find(name);
        ASSERT_NE(found, sections.end()) << "the sweep has no section '# sweep: " << name << "'";
        // Each kind typed after the command word: a 10,000-character
        // argument, binary bytes, an unfinished escape sequence.
        auto typed = [&](std::string_view garbage) {
            return std::any_of(found->second.begin(), found->second.end(),
                               [&](const std::string& send) {
                                   return send.rfind(name + " ", 0) == 0 &&
                                          send.find(garbage) != std::string::npos;
                               });
        };
        EXPECT_TRUE(typed("\\{10000}")) << "no 10,000-character argument";
        EXPECT_TRUE(typed("\\xff")) << "no binary bytes";
        EXPECT_TRUE(typed("\\e[")) << "no unfinished escape sequence";
    }
}

} // namespace
