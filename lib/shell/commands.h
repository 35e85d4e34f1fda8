// The names of the shell's commands, in the order `help` lists them: one list
// for the shell (user/shell/shell.cpp checks at compile time that its command
// table binds exactly these, in this order) and for the host checks that hold
// the rest of the tree to it (tests/host/shell_commands_test.cpp: a manual
// page in man/1 for each, no page for a command that does not exist, and an
// entry for each in the bad-input sweep, tests/scenarios/shell_garbage.scenario).
#pragma once

#include <string_view>

namespace capos::shell {

inline constexpr std::string_view command_names[] = {
    "help",  "caps",    "drop",  "run", "spawn",   "jobs",  "wait",   "kill", "call",
    "ps",    "devices", "disks", "blk", "mem",     "cpus",  "log",    "echo", "ls",
    "cat",   "write",   "cp",    "mv",  "rm",      "mkdir", "stat",   "df",   "sync",
    "mount", "history", "clear", "man", "apropos", "halt",  "reboot",
};

} // namespace capos::shell
