// Tab completion for the shell: which name the cursor is in, which of the
// candidates match it, and what the Tab does with them. The shell gathers the
// candidates (its commands, the programs its ProcessSpawner starts, the
// capabilities it holds, the disks among them); the terminal's line editor shows the outcome
// (TerminalSession.readLine, LineEnd.completion).
//
// Only the text before the cursor counts. The name being completed is
//   - the first word of the line: a command;
//   - the second word after `run` or `spawn`: a program;
//   - the second word after `wait` or `kill`: a job's number;
//   - the third word after `blk read`: a disk (a capability the shell holds
//     that answers as a BlockDevice, named without '@');
//   - in any word, the name after its last '@' (letters, digits, '-', '_'
//     and '.' so far, as lib/shell/run_command.h names capabilities): a
//     capability (`caps @con`, `with { out: @con`, `call @ti`);
//   - but when that name holds a '.', the letters and digits after its
//     first '.' (as `call @cap.method(...)` reads it): a method of the
//     capability before it (`call @timer.sl`).
// Anything else completes nothing.
//
// A Tab, as bash does it: a single match is completed, followed by a space
// when the cursor is at the end of the line (not after a capability, which a
// '.', ',' or '}' usually follows, nor after a method, which '(' follows);
// several matches are completed as far as they agree, and when that adds
// nothing the Tab rings the bell, and a second Tab with the line and cursor
// unchanged lists them.
//
// Pure logic: the views point into the line and the candidates, which must
// outlive them. No allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::shell {

enum class CompletionKind : uint8_t { None, Command, Program, Job, Capability, Method, Disk };

// The name the cursor is in.
struct CompletionTarget {
    CompletionKind kind = CompletionKind::None;
    size_t start = 0;            // where the name begins in the line
    std::string_view prefix;     // the line from `start` to the cursor
    std::string_view capability; // a Method's: the capability's name (no '@')
};

// The name of `line` that a Tab with the cursor `cursor` bytes in completes
// (a cursor past the end counts as at the end).
CompletionTarget completion_target(std::string_view line, size_t cursor);

// The candidates that start with a prefix, fed one at a time, and how far
// they all agree. Candidates given twice count twice, but one name given
// twice is still a single match (unique()).
class Matches {
public:
    explicit Matches(std::string_view prefix) : m_prefix(prefix) {}

    // Counts `candidate` if it starts with the prefix.
    void add(std::string_view candidate);
    void add(std::span<const std::string_view> candidates) {
        for (std::string_view candidate : candidates)
            add(candidate);
    }

    std::string_view prefix() const { return m_prefix; }
    size_t count() const { return m_count; }
    // Every match is the same name.
    bool unique() const { return m_count > 0 && m_longest == m_common; }
    // The longest text every match starts with, cut to whole UTF-8
    // characters (the prefix itself when there is no match).
    std::string_view common() const {
        return m_count == 0 ? m_prefix : m_first.substr(0, m_common);
    }

private:
    std::string_view m_prefix;
    std::string_view m_first; // the first match
    size_t m_count = 0;
    size_t m_common = 0;  // bytes of m_first that every match shares
    size_t m_longest = 0; // bytes of the longest match
};

enum class TabAction : uint8_t {
    Bell,   // nothing to add: ring the bell, the line goes on as it is
    Insert, // add `insert` (and a space, with `space`) at the cursor
    List,   // list the matches under the line, then show the line again
};

struct TabStep {
    TabAction action = TabAction::Bell;
    std::string_view insert; // points into a candidate
    bool space = false;
};

// What a Tab does (the rules in the header above). `at_end`: the cursor is
// at the end of the line. `again`: the Tab before this one left the same
// line and cursor.
TabStep tab_step(CompletionKind kind, const Matches& matches, bool at_end, bool again);

// Sorts names in byte order, in place (for a listing); no allocation.
void sort_names(std::span<std::string_view> names);

} // namespace capos::shell
