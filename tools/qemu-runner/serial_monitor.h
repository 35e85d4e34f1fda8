// Follows a guest's serial console as it arrives: splits it into lines, keeps the
// whole log for the failure report, matches the expected lines in order and watches
// for forbidden patterns. Pure logic, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capos::qemu {

// `text` as a report shows it: tabs and printable bytes as they are, other control
// characters in caret notation (^C, ^?).
std::string printable(std::string_view text);

struct ForbiddenHit {
    std::string pattern;
    size_t line_index; // see SerialMonitor::line()
};

class SerialMonitor {
public:
    // Each expect must be a substring of a line later than the line that matched the
    // previous expect. Each forbidden pattern fails the run on any line, including
    // lines after the last expect.
    SerialMonitor(std::vector<std::string> expects, std::vector<std::string> forbidden);

    // Takes the next bytes of console output. A line ends at '\n'; every '\r' is
    // dropped (firmware consoles put them anywhere). The unterminated last line is
    // matched too while it is short (a prompt waiting for input), so an expect or a
    // forbidden pattern counts as soon as its bytes arrive. Once a forbidden pattern
    // has been seen, further lines are only logged.
    void feed(std::string_view bytes);

    // The console has ended: an unterminated last line becomes a complete line.
    void finish();

    // The verdict is in: later output is only logged, so what the accessors below
    // report about expects and forbidden patterns no longer changes.
    void stop_matching() { m_matching = false; }

    bool all_expects_seen() const { return m_next_expect == m_expects.size(); }
    // Index of the first expect not yet seen; equals expects().size() when all were.
    size_t next_expect() const { return m_next_expect; }
    // Line index that matched expect i, for i < next_expect(); it may be the index of
    // the unterminated line, lines().size().
    size_t matched_line(size_t i) const { return m_matched_lines[i]; }
    const std::vector<std::string>& expects() const { return m_expects; }
    const std::optional<ForbiddenHit>& forbidden_hit() const { return m_forbidden_hit; }

    // Every complete line, without '\r'.
    const std::vector<std::string>& lines() const { return m_lines; }
    // The unterminated last line so far (may hold '\r').
    const std::string& partial_line() const { return m_partial; }
    // Line `index`, where index lines().size() is the unterminated line; without '\r'.
    std::string line(size_t index) const;
    size_t byte_count() const { return m_byte_count; }

private:
    // Longest unterminated line that is matched before its newline arrives; beyond it
    // a line is matched only once complete, which keeps a console that never sends a
    // newline from costing quadratic time.
    static constexpr size_t max_partial_match = 4096;

    void complete_line();
    void examine(std::string_view line, size_t index);

    std::vector<std::string> m_expects;
    std::vector<std::string> m_forbidden;
    std::vector<std::string> m_lines;
    std::vector<size_t> m_matched_lines;
    std::string m_partial;
    size_t m_next_expect = 0;
    size_t m_byte_count = 0;
    bool m_matching = true;
    std::optional<ForbiddenHit> m_forbidden_hit;
};

} // namespace capos::qemu
