// A model of the terminal lib/term's line editor draws on, and the UTF-8
// helpers that check its line. Shared by the host test
// (tests/host/line_editor_test.cpp) and the line_editor_fuzz target, so that
// both hold the editor to one definition of what it may write.
//
// The model understands only what the editor may write and reports everything
// else through a hook its owner gives: the test fails and goes on, the fuzz
// target traps. After a report the model carries on as best it can.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/term/line_editor.h"

namespace capos::term_model {

// Told what the editor did wrong; may return.
using ReportViolation = void (*)(std::string_view violation);

// A terminal with unbounded rows: printable characters (UTF-8, one column
// each) overwrite at the cursor and advance it, BS and ESC [ n D move left,
// ESC [ n C right, ESC [ K clears to the end of the row, CR goes to column 0,
// LF starts a new row (keeping the column, as a raw terminal does), BEL is
// counted. Anything else is a violation, and so is a move left of the margin
// (into the prompt), a count of 0 (which means 1) or one of more than
// max_count_digits digits.
class Terminal final : public term::Output {
public:
    static constexpr size_t max_count_digits = 8;

    explicit Terminal(ReportViolation report) : m_report(report) {}

    // What the editor writes: shown, and kept for take_written().
    void write(std::string_view bytes) override {
        m_written += bytes;
        write_from_caller(bytes);
    }
    // What the editor's caller writes (prompts): shown, but not in take_written().
    void write_from_caller(std::string_view bytes) {
        for (char c : bytes)
            put(uint8_t(c));
    }

    std::string row() const { return joined(m_rows.back()); }
    std::string previous_row() const {
        return m_rows.size() >= 2 ? joined(m_rows[m_rows.size() - 2]) : std::string();
    }
    size_t column() const { return m_column; }
    size_t row_count() const { return m_rows.size(); }
    size_t bells() const { return m_bells; }
    // Everything the editor wrote since the last call.
    std::string take_written() {
        std::string written = std::move(m_written);
        m_written.clear();
        return written;
    }
    // The editor's line starts here: no move may go left of it.
    void set_margin() { m_margin = m_column; }

private:
    using Row = std::vector<std::string>; // a cell a column, each one whole character

    static std::string joined(const Row& row) {
        std::string text;
        for (const std::string& cell : row)
            text += cell;
        return text;
    }

    void put(uint8_t byte) {
        if (m_state == State::Escape) {
            if (byte != '[')
                m_report("the editor wrote ESC " + std::to_string(byte));
            m_state = State::Csi;
            m_parameter.clear();
            return;
        }
        if (m_state == State::Csi) {
            if (byte >= '0' && byte <= '9') {
                if (m_parameter.size() < max_count_digits)
                    m_parameter += char(byte);
                else
                    m_report("the editor wrote a count of more than " +
                             std::to_string(max_count_digits) + " digits");
                return;
            }
            m_state = State::Text;
            size_t count = m_parameter.empty() ? 1 : std::stoul(m_parameter);
            if (count == 0)
                m_report("the editor wrote a count of 0 (which means 1)");
            if (byte == 'D')
                move_left(count);
            else if (byte == 'C')
                m_column += count;
            else if (byte == 'K' && m_parameter.empty())
                m_rows.back().resize(std::min(m_rows.back().size(), m_column));
            else
                m_report("the editor wrote ESC [ " + m_parameter + " " + char(byte));
            return;
        }
        if (byte == 0x1b) {
            m_state = State::Escape;
        } else if (byte == '\b') {
            move_left(1);
        } else if (byte == '\r') {
            m_column = 0;
        } else if (byte == '\n') {
            m_rows.emplace_back();
            m_margin = 0;
        } else if (byte == '\a') {
            ++m_bells;
        } else if (byte < 0x20 || byte == 0x7f) {
            m_report("the editor wrote control byte " + std::to_string(byte));
        } else if ((byte & 0xc0) == 0x80) { // a continuation: part of the last character
            if (m_column == 0 || m_column > m_rows.back().size())
                m_report("a continuation byte with no character before it");
            else
                m_rows.back()[m_column - 1] += char(byte);
        } else {
            Row& cells = m_rows.back();
            if (cells.size() <= m_column)
                cells.resize(m_column + 1, " ");
            cells[m_column++] = std::string(1, char(byte));
        }
    }

    void move_left(size_t count) {
        if (m_column < m_margin + count)
            m_report("the editor moved " + std::to_string(count) + " left from column " +
                     std::to_string(m_column) + ", past its line's start at " +
                     std::to_string(m_margin));
        m_column -= std::min(count, m_column);
    }

    enum class State { Text, Escape, Csi };
    ReportViolation m_report;
    State m_state = State::Text;
    std::string m_parameter;
    std::vector<Row> m_rows{1};
    size_t m_column = 0;
    size_t m_margin = 0;
    size_t m_bells = 0;
    std::string m_written;
};

// Whether text is well-formed UTF-8, decoded independently of the editor.
inline bool valid_utf8(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        uint8_t lead = uint8_t(text[i]);
        size_t length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (lead >= 0x80 && lead < 0xc0)
            return false;
        if (i + length > text.size())
            return false;
        uint32_t code = length == 1 ? lead : lead & (0x7f >> length);
        for (size_t k = 1; k < length; ++k) {
            uint8_t next = uint8_t(text[i + k]);
            if ((next & 0xc0) != 0x80)
                return false;
            code = code << 6 | (next & 0x3f);
        }
        const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < smallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
            return false;
        i += length;
    }
    return true;
}

// The characters in text: its bytes that are not UTF-8 continuations.
inline size_t characters(std::string_view text) {
    size_t count = 0;
    for (char c : text)
        count += (uint8_t(c) & 0xc0) != 0x80;
    return count;
}

} // namespace capos::term_model
