// lib/shell/completion.h: the name the cursor is in (command, program,
// capability, nothing), matching and the common part of the matches (whole
// UTF-8 characters only), what each Tab does, and sorting for a listing.
#include "lib/shell/completion.h"

#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace capos::shell {
namespace {

struct Target {
    CompletionKind kind;
    size_t start;
    std::string prefix;
};

Target target_of(std::string_view line, size_t cursor = std::string_view::npos) {
    CompletionTarget target = completion_target(line, cursor);
    return {target.kind, target.start, std::string(target.prefix)};
}

void expect_target(std::string_view line, CompletionKind kind, size_t start,
                   std::string_view prefix, size_t cursor = std::string_view::npos) {
    Target target = target_of(line, cursor);
    EXPECT_EQ(target.kind, kind) << line;
    EXPECT_EQ(target.start, start) << line;
    EXPECT_EQ(target.prefix, prefix) << line;
}

TEST(Completion, TheFirstWordIsACommand) {
    expect_target("", CompletionKind::Command, 0, "");
    expect_target("he", CompletionKind::Command, 0, "he");
    expect_target("   he", CompletionKind::Command, 3, "he");
    // Only the text before the cursor counts.
    expect_target("help me", CompletionKind::Command, 0, "he", 2);
}

TEST(Completion, TheSecondWordAfterRunOrSpawnIsAProgram) {
    expect_target("run ", CompletionKind::Program, 4, "");
    expect_target("run hel", CompletionKind::Program, 4, "hel");
    expect_target("  spawn  sl", CompletionKind::Program, 9, "sl");
    expect_target("run hello wor", CompletionKind::None, 0, "");
    expect_target("echo hel", CompletionKind::None, 0, "");
    expect_target("runner hel", CompletionKind::None, 0, "");
    // The cursor in the middle of the program's name.
    expect_target("run hello", CompletionKind::Program, 4, "he", 6);
    // The cursor right after `run`: still the command word.
    expect_target("run", CompletionKind::Command, 0, "run");
}

TEST(Completion, TheSecondWordAfterWaitOrKillIsAJob) {
    expect_target("wait ", CompletionKind::Job, 5, "");
    expect_target("kill 1", CompletionKind::Job, 5, "1");
    expect_target("  wait   12", CompletionKind::Job, 9, "12");
    expect_target("kill 1 2", CompletionKind::None, 0, "");
    expect_target("waiter 1", CompletionKind::None, 0, "");
    expect_target("wait", CompletionKind::Command, 0, "wait");
}

TEST(Completion, TheThirdWordAfterBlkReadIsADisk) {
    expect_target("blk read ", CompletionKind::Disk, 9, "");
    expect_target("blk read di", CompletionKind::Disk, 9, "di");
    expect_target("  blk   read  disk0", CompletionKind::Disk, 14, "disk0");
    expect_target("blk read disk0 12", CompletionKind::None, 0, "");
    expect_target("blk write di", CompletionKind::None, 0, "");
    expect_target("blk readx di", CompletionKind::None, 0, "");
    expect_target("blkx read di", CompletionKind::None, 0, "");
    expect_target("blk di", CompletionKind::None, 0, "");
    // The cursor in the middle of the disk's name.
    expect_target("blk read disk0 1", CompletionKind::Disk, 9, "di", 11);
}

TEST(Completion, ANameAfterAtIsACapability) {
    expect_target("caps @con", CompletionKind::Capability, 6, "con");
    expect_target("caps @", CompletionKind::Capability, 6, "");
    expect_target("call @ti", CompletionKind::Capability, 6, "ti");
    expect_target("run hello with { out: @co", CompletionKind::Capability, 23, "co");
    expect_target("run hello with {out:@co", CompletionKind::Capability, 21, "co");
    expect_target("run hello with { @a, @b", CompletionKind::Capability, 22, "b");
    expect_target("@ti", CompletionKind::Capability, 1, "ti");
    // Capability names may hold '-' and '_' (and '.', but a '.' after '@'
    // starts a method's name, as `call` reads it).
    expect_target("call @my-cap_2", CompletionKind::Capability, 6, "my-cap_2");
    // A character no name holds: nothing to complete.
    expect_target("call @timer(", CompletionKind::None, 0, "");
    expect_target("run hello with {out:@co}", CompletionKind::None, 0, "");
    // Before the '@' the word is no capability.
    expect_target("caps @con", CompletionKind::None, 0, "", 5);
}

TEST(Completion, MatchesAndTheirCommonPart) {
    const std::vector<std::string_view> commands = {"help",    "caps", "run",  "spawn",
                                                    "history", "halt", "echo", "reboot"};
    Matches h("h");
    h.add(commands);
    EXPECT_EQ(h.count(), 3u);
    EXPECT_FALSE(h.unique());
    EXPECT_EQ(h.common(), "h");

    Matches he("he");
    he.add(commands);
    EXPECT_EQ(he.count(), 1u);
    EXPECT_TRUE(he.unique());
    EXPECT_EQ(he.common(), "help");

    Matches none("x");
    none.add(commands);
    EXPECT_EQ(none.count(), 0u);
    EXPECT_FALSE(none.unique());
    EXPECT_EQ(none.common(), "x");

    Matches all("");
    all.add(commands);
    EXPECT_EQ(all.count(), commands.size());
    EXPECT_EQ(all.common(), "");

    Matches longer("s");
    longer.add(std::vector<std::string_view>{"sleep", "sleeper", "sleepy", "spin"});
    EXPECT_EQ(longer.common(), "s");
    Matches sl("sl");
    sl.add(std::vector<std::string_view>{"sleep", "sleeper", "sleepy", "spin"});
    EXPECT_EQ(sl.count(), 3u);
    EXPECT_EQ(sl.common(), "sleep");
    EXPECT_FALSE(sl.unique());
}

TEST(Completion, OneNameGivenTwiceIsUnique) {
    Matches twice("ti");
    twice.add(std::vector<std::string_view>{"timer", "terminal", "timer"});
    EXPECT_EQ(twice.count(), 2u);
    EXPECT_TRUE(twice.unique());
    EXPECT_EQ(twice.common(), "timer");
    // A name and a longer one: not unique, although one is the common part.
    Matches prefix("ti");
    prefix.add(std::vector<std::string_view>{"timer", "timers"});
    EXPECT_FALSE(prefix.unique());
    EXPECT_EQ(prefix.common(), "timer");
}

TEST(Completion, TheCommonPartIsWholeCharacters) {
    Matches accents("caf");
    accents.add(std::vector<std::string_view>{"caf\xc3\xa9", "caf\xc3\xa8"}); // é, è: C3 A9, C3 A8
    EXPECT_EQ(accents.common(), "caf");
    Matches three("");
    three.add(std::vector<std::string_view>{"\xe2\x82\xac"
                                            "1",
                                            "\xe2\x82\xac"
                                            "2",
                                            "\xe2\x82\xad"});
    EXPECT_EQ(three.common(), "");
    Matches same("");
    same.add(std::vector<std::string_view>{"\xe2\x82\xac"
                                           "1",
                                           "\xe2\x82\xac"
                                           "2"});
    EXPECT_EQ(same.common(), "\xe2\x82\xac");
}

TEST(Completion, ANameAfterAtAndADotIsAMethod) {
    auto method = [](std::string_view line, size_t start, std::string_view prefix,
                     std::string_view capability, size_t cursor = std::string_view::npos) {
        CompletionTarget target = completion_target(line, cursor);
        EXPECT_EQ(target.kind, CompletionKind::Method) << line;
        EXPECT_EQ(target.start, start) << line;
        EXPECT_EQ(target.prefix, prefix) << line;
        EXPECT_EQ(target.capability, capability) << line;
    };
    method("call @timer.sl", 12, "sl", "timer");
    method("call @timer.", 12, "", "timer");
    method("@t.n", 3, "n", "t");
    method("call @my-cap_2.waitFor2", 15, "waitFor2", "my-cap_2");
    // The first '.' ends the capability's name.
    method("call @a.b", 8, "b", "a");
    // The cursor in the middle of the method's name; what follows it does not count.
    method("call @timer.now()", 12, "n", "timer", 13);
    method("call @timer.now() -> @x", 12, "no", "timer", 14);
    // Past the method's name, or no capability before the dot: nothing.
    expect_target("call @timer.now(", CompletionKind::None, 0, "");
    expect_target("call @timer.now(ns", CompletionKind::None, 0, "");
    expect_target("call @timer.a.b", CompletionKind::None, 0, "");
    expect_target("call @timer.a-b", CompletionKind::None, 0, "");
    expect_target("call @.now", CompletionKind::None, 0, "");
    expect_target("call @ti(me.now", CompletionKind::None, 0, "");
    // A method's target has no capability outside a method.
    EXPECT_EQ(completion_target("call @timer", 11).capability, "");
    // A single match: no space after it, at the end of the line too.
    Matches matches("sl");
    matches.add(std::vector<std::string_view>{"now", "sleep"});
    TabStep step = tab_step(CompletionKind::Method, matches, true, false);
    EXPECT_EQ(step.action, TabAction::Insert);
    EXPECT_EQ(step.insert, "eep");
    EXPECT_FALSE(step.space);
}

TEST(Completion, ATabStep) {
    auto step = [](CompletionKind kind, std::string_view prefix,
                   std::vector<std::string_view> candidates, bool at_end, bool again) {
        Matches matches(prefix);
        matches.add(candidates);
        TabStep step = tab_step(kind, matches, at_end, again);
        return std::make_tuple(step.action, std::string(step.insert), step.space);
    };
    using std::make_tuple;
    const auto command = CompletionKind::Command;
    // One match: the rest, and a space at the end of the line.
    EXPECT_EQ(step(command, "he", {"help", "halt"}, true, false),
              make_tuple(TabAction::Insert, std::string("lp"), true));
    EXPECT_EQ(step(command, "he", {"help", "halt"}, false, false),
              make_tuple(TabAction::Insert, std::string("lp"), false));
    EXPECT_EQ(step(CompletionKind::Program, "hel", {"hello"}, true, false),
              make_tuple(TabAction::Insert, std::string("lo"), true));
    // Complete already: only the space; in the middle of the line, the bell.
    EXPECT_EQ(step(command, "help", {"help"}, true, false),
              make_tuple(TabAction::Insert, std::string(""), true));
    EXPECT_EQ(step(command, "help", {"help"}, false, false),
              make_tuple(TabAction::Bell, std::string(""), false));
    // A job's number: a space after it, as after a program.
    EXPECT_EQ(step(CompletionKind::Job, "1", {"12", "3"}, true, false),
              make_tuple(TabAction::Insert, std::string("2"), true));
    // A disk: a space after it (the block number follows).
    EXPECT_EQ(step(CompletionKind::Disk, "d", {"disk0"}, true, false),
              make_tuple(TabAction::Insert, std::string("isk0"), true));
    // A capability: no space after it.
    EXPECT_EQ(step(CompletionKind::Capability, "con", {"console", "timer"}, true, false),
              make_tuple(TabAction::Insert, std::string("sole"), false));
    EXPECT_EQ(step(CompletionKind::Capability, "console", {"console"}, true, true),
              make_tuple(TabAction::Bell, std::string(""), false));
    // Several: as far as they agree, then the bell, then the list.
    EXPECT_EQ(step(command, "hi", {"history", "histogram"}, true, false),
              make_tuple(TabAction::Insert, std::string("sto"), false));
    EXPECT_EQ(step(command, "h", {"help", "halt"}, true, false),
              make_tuple(TabAction::Bell, std::string(""), false));
    EXPECT_EQ(step(command, "h", {"help", "halt"}, true, true),
              make_tuple(TabAction::List, std::string(""), false));
    // Nothing matches, or nothing to complete: the bell, also the second time.
    EXPECT_EQ(step(command, "x", {"help"}, true, true),
              make_tuple(TabAction::Bell, std::string(""), false));
    EXPECT_EQ(step(CompletionKind::None, "", {"help"}, true, true),
              make_tuple(TabAction::Bell, std::string(""), false));
}

TEST(Completion, SortNames) {
    std::vector<std::string_view> names = {"timer", "console", "terminal", "a", "", "timer", "b"};
    sort_names(names);
    EXPECT_EQ(names, (std::vector<std::string_view>{"", "a", "b", "console", "terminal", "timer",
                                                    "timer"}));
    std::vector<std::string_view> empty;
    sort_names(empty);
}

} // namespace
} // namespace capos::shell
