// lib/term/line_editor.h: every key and its encodings, insertion in the middle,
// the history (walk and restore, duplicates, eviction), echo off, the length
// limit, malformed UTF-8, unknown and unterminated escape sequences, every byte
// value, Ctrl-C and Ctrl-D, Tab completion and lines carried on with start(),
// and a randomized run. Every byte of every test goes
// through Session, which feeds it to the editor with the terminal model of
// tests/host/terminal_model.h as the output and checks after it that the
// model's row is the prompt followed by line() and that the model's cursor is
// at the editor's cursor; anything the model does not understand fails the test.
#include "lib/term/line_editor.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/host/terminal_model.h"

namespace capos::term {
namespace {

using term_model::characters;
using term_model::Terminal;
using term_model::valid_utf8;

// The terminal model's violations fail the test, which goes on.
void fail_test(std::string_view violation) {
    ADD_FAILURE() << violation;
}

// The editor and a terminal, driven like a shell drives them: the prompt is
// written first and again after every line event (after EndOfInput with a
// newline of its own, since the editor writes none).
class Session {
public:
    explicit Session(std::string prompt = "> ") : m_prompt(std::move(prompt)) { write_prompt(); }

    // Feeds the bytes one at a time, checking the screen after each; returns
    // the last byte's event.
    LineEvent feed(std::string_view bytes) {
        LineEvent event = LineEvent::None;
        for (char c : bytes) {
            event = editor.feed(uint8_t(c));
            after(event);
        }
        return event;
    }
    LineEvent feed_byte(uint8_t byte) {
        LineEvent event = editor.feed(byte);
        after(event);
        return event;
    }
    void set_echo(Echo echo) {
        editor.set_echo(echo);
        check();
    }
    // editor.start(), checking the screen after it.
    void start(std::string_view text, size_t cursor, Shown shown, std::string_view insert) {
        editor.start(text, cursor, shown, insert);
        m_between_lines = false;
        check();
    }
    // Carries the line on after a Completion, as a shell does: at once
    // (Shown::Yes) with `insert` added at the cursor, or after a newline, the
    // list of candidates and the prompt again (list()).
    void resume(std::string_view insert) {
        std::string text(editor.line());
        start(text, editor.cursor(), Shown::Yes, insert);
    }
    void list(std::string_view candidates) {
        std::string text(editor.line());
        terminal.write_from_caller("\r\n");
        terminal.write_from_caller(candidates);
        terminal.write_from_caller("\r\n");
        write_prompt();
        start(text, editor.cursor(), Shown::No, "");
    }

    // The screen: the row shows the prompt and the line (only the prompt with
    // echo off, or between a line event and the next byte), the cursor where
    // the editor's is. Stops at the first failure, to keep a broken run readable.
    void check() {
        if (::testing::Test::HasFailure())
            return;
        std::string_view line = editor.line();
        longest_line = std::max(longest_line, line.size());
        bool showing = !m_between_lines && editor.echo() == Echo::On;
        std::string expected_row = m_prompt + (showing ? std::string(line) : std::string());
        size_t expected_column = characters(m_prompt) + (showing ? editor.cursor_column() : 0);
        EXPECT_EQ(terminal.row(), expected_row);
        EXPECT_EQ(terminal.column(), expected_column);
        EXPECT_LE(line.size(), LineEditor::max_line_bytes);
        EXPECT_TRUE(valid_utf8(line)) << "line: " << ::testing::PrintToString(std::string(line));
        EXPECT_LE(editor.cursor(), line.size());
        EXPECT_TRUE(editor.cursor() == line.size() ||
                    (uint8_t(line[editor.cursor()]) & 0xc0) != 0x80)
            << "the cursor splits a character";
        EXPECT_EQ(editor.cursor_column(), characters(line.substr(0, editor.cursor())));
    }

    // Finished lines, interrupts and ends of input, in order.
    std::vector<std::string> lines;
    size_t interrupts = 0;
    size_t ends = 0;
    size_t completions = 0;
    size_t longest_line = 0; // the longest line() seen

    Terminal terminal{fail_test};
    LineEditor editor{terminal};

private:
    void after(LineEvent event) {
        // A Completion leaves the line on the screen for start() to carry on.
        m_between_lines = event != LineEvent::None && event != LineEvent::Completion;
        if (event == LineEvent::None || event == LineEvent::Completion) {
            completions += event == LineEvent::Completion;
            check();
            return;
        }
        if (event == LineEvent::Line) {
            lines.emplace_back(editor.line());
        } else {
            EXPECT_EQ(editor.line(), "");
            event == LineEvent::Interrupt ? ++interrupts : ++ends;
        }
        if (event == LineEvent::EndOfInput) {
            EXPECT_EQ(terminal.row(), m_prompt); // the editor wrote nothing
            terminal.write_from_caller("\r\n");
        }
        EXPECT_EQ(terminal.row(), "");
        EXPECT_EQ(terminal.column(), 0u);
        write_prompt();
        check();
    }

    void write_prompt() {
        terminal.write_from_caller(m_prompt);
        terminal.set_margin();
    }

    std::string m_prompt;
    bool m_between_lines = false;
};

constexpr std::string_view left = "\x1b[D";
constexpr std::string_view right = "\x1b[C";
constexpr std::string_view up = "\x1b[A";
constexpr std::string_view down = "\x1b[B";
constexpr std::string_view home = "\x1b[H";
constexpr std::string_view end = "\x1b[F";
constexpr std::string_view delete_key = "\x1b[3~";
constexpr std::string_view ctrl_a = "\x01";
constexpr std::string_view ctrl_c = "\x03";
constexpr std::string_view ctrl_d = "\x04";
constexpr std::string_view ctrl_u = "\x15";
constexpr std::string_view ctrl_w = "\x17";
constexpr std::string_view tab = "\t";

std::string repeat(std::string_view piece, size_t count) {
    std::string text;
    for (size_t i = 0; i < count; ++i)
        text += piece;
    return text;
}

TEST(LineEditor, TypesALine) {
    Session s;
    EXPECT_EQ(s.feed("h"), LineEvent::None);
    EXPECT_EQ(s.terminal.take_written(), "h"); // at the end of the line: the character only
    EXPECT_EQ(s.feed("ello"), LineEvent::None);
    EXPECT_EQ(s.editor.line(), "hello");
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.editor.line(), "hello");
    EXPECT_EQ(s.terminal.previous_row(), "> hello");
    EXPECT_EQ(s.lines, std::vector<std::string>{"hello"});
}

TEST(LineEditor, FinishedLineStaysUntilTheNextFeed) {
    Session s;
    s.feed("abc\n");
    EXPECT_EQ(s.editor.line(), "abc");
    EXPECT_EQ(s.editor.cursor(), 3u);
    s.feed("x");
    EXPECT_EQ(s.editor.line(), "x");
}

TEST(LineEditor, EnterIsCrOrLfAndCrLfCountsOnce) {
    Session s;
    s.feed("a\r\nb\nc\rd\n\re\r\r\n\n");
    EXPECT_EQ(s.lines, (std::vector<std::string>{"a", "b", "c", "d", "", "e", "", ""}));
    EXPECT_EQ(s.terminal.row_count(), 9u);
}

TEST(LineEditor, InsertsInTheMiddle) {
    Session s;
    s.feed(std::string("helo") + std::string(left) + std::string(left));
    EXPECT_EQ(s.editor.cursor(), 2u);
    s.terminal.take_written();
    s.feed("l");
    // The character and the rest of the line, then back over the rest.
    EXPECT_EQ(s.terminal.take_written(), "llo\x1b[2D");
    EXPECT_EQ(s.editor.line(), "hello");
    EXPECT_EQ(s.editor.cursor(), 3u);
    s.feed(std::string(home) + "\xc3\xa9" + "X");
    EXPECT_EQ(s.editor.line(), "\xc3\xa9Xhello");
    EXPECT_EQ(s.editor.cursor_column(), 2u);
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "\xc3\xa9Xhello");
}

TEST(LineEditor, CursorMovesUseTheSmallestSequences) {
    Session s;
    s.feed("abcdef");
    s.terminal.take_written();
    s.feed(left);
    EXPECT_EQ(s.terminal.take_written(), "\b");
    s.feed(home);
    EXPECT_EQ(s.terminal.take_written(), "\x1b[5D");
    s.feed(right);
    EXPECT_EQ(s.terminal.take_written(), "\x1b[C");
    s.feed(end);
    EXPECT_EQ(s.terminal.take_written(), "\x1b[5C");
    s.feed("\x7f");
    EXPECT_EQ(s.terminal.take_written(), "\b\x1b[K");
}

TEST(LineEditor, BackspaceBothCodes) {
    Session s;
    s.feed("abcd\x7f");
    EXPECT_EQ(s.editor.line(), "abc");
    s.feed("\x08");
    EXPECT_EQ(s.editor.line(), "ab");
    s.feed(std::string(left) + "\x7f");
    EXPECT_EQ(s.editor.line(), "b");
    EXPECT_EQ(s.editor.cursor(), 0u);
    s.terminal.take_written();
    s.feed("\x7f\x08"); // at the start: nothing to delete, nothing written
    EXPECT_EQ(s.editor.line(), "b");
    EXPECT_EQ(s.terminal.take_written(), "");
}

TEST(LineEditor, BackspaceInTheMiddleRedrawsTheRest) {
    Session s;
    s.feed("one two" + repeat(left, 3) + "\x7f\x7f");
    EXPECT_EQ(s.editor.line(), "ontwo");
    EXPECT_EQ(s.editor.cursor(), 2u);
}

TEST(LineEditor, DeleteKeyAndCtrlDDeleteUnderTheCursor) {
    Session s;
    s.feed("abcd" + std::string(home) + std::string(delete_key));
    EXPECT_EQ(s.editor.line(), "bcd");
    EXPECT_EQ(s.editor.cursor(), 0u);
    EXPECT_EQ(s.feed(ctrl_d), LineEvent::None);
    EXPECT_EQ(s.editor.line(), "cd");
    s.feed(std::string(right) + std::string(delete_key));
    EXPECT_EQ(s.editor.line(), "c");
    s.terminal.take_written();
    // At the end of a non-empty line: nothing to delete, nothing written.
    EXPECT_EQ(s.feed(std::string(delete_key) + std::string(ctrl_d)), LineEvent::None);
    EXPECT_EQ(s.editor.line(), "c");
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.ends, 0u);
}

TEST(LineEditor, CtrlUDeletesToTheStart) {
    Session s;
    s.feed("hello world" + repeat(left, 5) + std::string(ctrl_u));
    EXPECT_EQ(s.editor.line(), "world");
    EXPECT_EQ(s.editor.cursor(), 0u);
    s.feed(std::string(end) + std::string(ctrl_u));
    EXPECT_EQ(s.editor.line(), "");
    s.terminal.take_written();
    s.feed(ctrl_u);
    EXPECT_EQ(s.terminal.take_written(), "");
}

TEST(LineEditor, CtrlWDeletesTheWordBefore) {
    Session s;
    s.feed("ls  foo bar  ");
    s.feed(ctrl_w);
    EXPECT_EQ(s.editor.line(), "ls  foo ");
    s.feed(ctrl_w);
    EXPECT_EQ(s.editor.line(), "ls  ");
    s.feed(ctrl_w);
    EXPECT_EQ(s.editor.line(), "");
    s.feed(ctrl_w);
    EXPECT_EQ(s.editor.line(), "");

    s.feed("one two three" + repeat(left, 5) + std::string(ctrl_w));
    EXPECT_EQ(s.editor.line(), "one three");
    EXPECT_EQ(s.editor.cursor(), 4u);
    s.feed(std::string(end) + " \xc3\xa9t\xc3\xa9 \xe2\x82\xac" + std::string(ctrl_w));
    EXPECT_EQ(s.editor.line(), "one three \xc3\xa9t\xc3\xa9 ");
    s.feed(ctrl_w);
    EXPECT_EQ(s.editor.line(), "one three ");
}

TEST(LineEditor, EveryHomeAndEndEncoding) {
    for (std::string_view home_key : {"\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~", "\x01"}) {
        Session s;
        s.feed("abc" + std::string(home_key) + "X");
        EXPECT_EQ(s.editor.line(), "Xabc") << ::testing::PrintToString(std::string(home_key));
        EXPECT_EQ(s.editor.cursor(), 1u);
    }
    for (std::string_view end_key : {"\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~", "\x05"}) {
        Session s;
        s.feed("abc" + std::string(ctrl_a) + std::string(end_key) + "Y");
        EXPECT_EQ(s.editor.line(), "abcY") << ::testing::PrintToString(std::string(end_key));
    }
}

TEST(LineEditor, EveryLeftAndRightEncoding) {
    for (std::string_view left_key : {"\x1b[D", "\x1bOD", "\x1b[1;5D", "\x1b[1D"}) {
        Session s;
        s.feed("abc" + std::string(left_key) + "X");
        EXPECT_EQ(s.editor.line(), "abXc") << ::testing::PrintToString(std::string(left_key));
    }
    for (std::string_view right_key : {"\x1b[C", "\x1bOC", "\x1b[1;5C"}) {
        Session s;
        s.feed("abc" + std::string(home) + std::string(right_key) + "Y");
        EXPECT_EQ(s.editor.line(), "aYbc") << ::testing::PrintToString(std::string(right_key));
    }
    Session s;
    s.feed("ab");
    s.terminal.take_written();
    s.feed(right); // at the end: nothing
    EXPECT_EQ(s.terminal.take_written(), "");
    s.feed(std::string(home) + std::string(left)); // at the start: nothing
    EXPECT_EQ(s.editor.cursor(), 0u);
}

TEST(LineEditor, Utf8CharactersAreOneColumnAndMoveWhole) {
    Session s;
    std::string text = "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80!"; // h é € 😀 !
    s.feed(text);
    EXPECT_EQ(s.editor.line(), text);
    EXPECT_EQ(s.editor.cursor_column(), 5u);
    s.feed(left);
    EXPECT_EQ(s.editor.cursor(), 10u);
    s.feed(left);
    EXPECT_EQ(s.editor.cursor(), 6u);
    s.feed(left);
    EXPECT_EQ(s.editor.cursor(), 3u);
    s.feed(right);
    EXPECT_EQ(s.editor.cursor(), 6u);
    s.feed("\x7f"); // the whole euro sign
    EXPECT_EQ(s.editor.line(), "h\xc3\xa9\xf0\x9f\x98\x80!");
    s.feed(delete_key); // the whole emoji
    EXPECT_EQ(s.editor.line(), "h\xc3\xa9!");
    s.feed("\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80"); // U+10FFFF, U+D7FF, U+E000
    EXPECT_EQ(s.editor.line(), "h\xc3\xa9\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80!");
    EXPECT_EQ(s.terminal.bells(), 0u);
}

TEST(LineEditor, MalformedUtf8IsDroppedWithABell) {
    struct Case {
        std::string_view input;
        std::string_view line;
    };
    const Case cases[] = {
        {"\xc0\xaf", ""},                     // overlong '/'
        {"\xc1\xbf", ""},                     // overlong
        {"\xe0\x80\xaf", ""},                 // overlong, three bytes
        {"\xe0\x9f\xbf", ""},                 // overlong U+07FF
        {"\xf0\x8f\xbf\xbf", ""},             // overlong U+FFFF
        {"\xed\xa0\x80", ""},                 // surrogate U+D800
        {"\xed\xbf\xbf", ""},                 // surrogate U+DFFF
        {"\xf4\x90\x80\x80", ""},             // U+110000
        {"\xf5\x80\x80\x80", ""},             // lead beyond U+10FFFF
        {"\xff", ""},                         // never in UTF-8
        {"\x80", ""},                         // a lone continuation
        {"\xc3\x61", "a"},                    // cut short by ASCII ('a'): the ASCII stays
        {"\xe2\x82\x62", "b"},                // cut short after two bytes
        {"\xf0\x9f\x98\xc3\xa9", "\xc3\xa9"}, // cut short by another character
        {"a\xc3\x1b[Db", "ba"},               // cut short by an escape sequence, which still acts
        {"\xe2\x82\xac\xac", "\xe2\x82\xac"}, // one continuation too many
    };
    for (const Case& c : cases) {
        Session s;
        s.feed(c.input);
        EXPECT_EQ(s.editor.line(), c.line) << ::testing::PrintToString(std::string(c.input));
        EXPECT_GE(s.terminal.bells(), 1u) << ::testing::PrintToString(std::string(c.input));
    }
    // A character cut short by Enter: the line finishes without it.
    Session s;
    s.feed("ok\xe2\x82");
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "ok");
}

TEST(LineEditor, MaximumLengthRingsTheBellAndChangesNothing) {
    Session s;
    std::string full(LineEditor::max_line_bytes, 'a');
    s.feed(full);
    EXPECT_EQ(s.terminal.bells(), 0u);
    s.terminal.take_written();
    s.feed("b");
    EXPECT_EQ(s.terminal.take_written(), "\a");
    EXPECT_EQ(s.editor.line(), full);
    s.feed(std::string(home) + std::string(right));
    s.terminal.take_written();
    s.feed("\xc3\xa9");
    EXPECT_EQ(s.terminal.take_written(), "\a");
    EXPECT_EQ(s.editor.line(), full);
    EXPECT_EQ(s.editor.cursor(), 1u);

    // One byte short: a two-byte character does not fit, a one-byte one does.
    Session t;
    t.feed(full.substr(1));
    t.terminal.take_written();
    t.feed("\xc3\xa9");
    EXPECT_EQ(t.terminal.take_written(), "\a");
    EXPECT_EQ(t.editor.line().size(), LineEditor::max_line_bytes - 1);
    t.feed("z");
    EXPECT_EQ(t.editor.line().size(), LineEditor::max_line_bytes);
    EXPECT_EQ(t.feed("\r"), LineEvent::Line);
    EXPECT_EQ(t.lines.back(), full.substr(1) + "z");
}

TEST(LineEditor, TenThousandByteLine) {
    Session s;
    std::string input;
    for (size_t i = 0; i < 10000; ++i)
        input += char('a' + i % 26);
    s.feed(input);
    EXPECT_EQ(s.terminal.bells(), 10000 - LineEditor::max_line_bytes);
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), input.substr(0, LineEditor::max_line_bytes));
    // A line that long still walks back from history intact.
    s.feed(up);
    EXPECT_EQ(s.editor.line(), input.substr(0, LineEditor::max_line_bytes));
}

TEST(LineEditor, HistoryWalkRestoresTheLineBeingEdited) {
    Session s;
    s.feed("one\rtwo\rthree\r");
    EXPECT_EQ(s.editor.history_count(), 3u);
    s.feed("dr");
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "three");
    EXPECT_EQ(s.editor.cursor(), 5u);
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "two");
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "one");
    s.terminal.take_written();
    s.feed(up); // no older entry: nothing
    EXPECT_EQ(s.editor.line(), "one");
    EXPECT_EQ(s.terminal.take_written(), "");
    s.feed(down);
    EXPECT_EQ(s.editor.line(), "two");
    s.feed("\x1bOB"); // Down, SS3 form
    EXPECT_EQ(s.editor.line(), "three");
    s.feed(down);
    EXPECT_EQ(s.editor.line(), "dr");
    s.feed(down); // past the line being edited: nothing
    EXPECT_EQ(s.editor.line(), "dr");
    s.feed("\x1bOA");
    EXPECT_EQ(s.editor.line(), "three");
}

TEST(LineEditor, EditingARecalledLineLeavesTheEntry) {
    Session s;
    s.feed("make\rls\r");
    s.feed(std::string(up) + std::string(up) + " test");
    EXPECT_EQ(s.editor.line(), "make test");
    s.feed(down); // the edit is dropped
    EXPECT_EQ(s.editor.line(), "ls");
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "make");
    s.feed(" all" + repeat(left, 8) + "\r");
    EXPECT_EQ(s.lines.back(), "make all");
    EXPECT_EQ(s.editor.history_count(), 3u);
    s.feed(std::string(up) + std::string(up) + std::string(up));
    EXPECT_EQ(s.editor.line(), "make");
}

TEST(LineEditor, HistoryKeepsConsecutiveDuplicatesOnceAndNoEmptyLines) {
    Session s;
    s.feed("a\ra\r\r\rb\ra\ra\r");
    EXPECT_EQ(s.editor.history_count(), 3u);
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "a");
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "b");
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "a");
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "a");
    // A recalled entry entered again is recorded unless it is the newest.
    s.feed(down);
    EXPECT_EQ(s.editor.line(), "b");
    s.feed("\r");
    EXPECT_EQ(s.editor.history_count(), 4u);
    s.feed(std::string(up) + "\r");
    EXPECT_EQ(s.editor.history_count(), 4u);
}

TEST(LineEditor, HistoryEvictsTheOldestByBytes) {
    Session s;
    std::vector<std::string> entered;
    for (size_t i = 0; i < 100; ++i) {
        std::string line = std::to_string(i) + ":" + std::string(96, char('a' + i % 26));
        line.resize(100, '.');
        entered.push_back(line);
        s.feed(line + "\r");
        ASSERT_LE(s.editor.history_bytes_used(), LineEditor::history_bytes);
    }
    size_t kept = LineEditor::history_bytes / 100;
    EXPECT_EQ(s.editor.history_count(), kept);
    EXPECT_EQ(s.editor.history_bytes_used(), kept * 100);
    // Every kept entry comes back whole, including the ones wrapping around the ring.
    for (size_t i = 0; i < kept; ++i) {
        s.feed(up);
        ASSERT_EQ(s.editor.line(), entered[99 - i]) << i;
    }
    s.feed(up);
    EXPECT_EQ(s.editor.line(), entered[100 - kept]);
}

TEST(LineEditor, HistoryEvictsTheOldestByCount) {
    Session s;
    for (size_t i = 0; i < 200; ++i)
        s.feed("x" + std::to_string(i) + "\r");
    EXPECT_EQ(s.editor.history_count(), LineEditor::max_history_entries);
    s.feed(repeat(up, LineEditor::max_history_entries + 5));
    EXPECT_EQ(s.editor.line(), "x" + std::to_string(200 - LineEditor::max_history_entries));
}

TEST(LineEditor, EchoOffShowsOnlyTheNewline) {
    Session s;
    s.feed("ls\r");
    s.set_echo(Echo::Off);
    s.terminal.take_written();
    s.feed("secret" + std::string(left) + "\x7fX" + std::string(home) + std::string(delete_key) +
           std::string(up) + std::string(down));
    EXPECT_EQ(s.editor.line(), "ecrXt");
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.terminal.take_written(), "\r\n");
    EXPECT_EQ(s.lines.back(), "ecrXt");
    EXPECT_EQ(s.terminal.previous_row(), "> ");
    EXPECT_EQ(s.editor.history_count(), 1u); // not recorded

    s.feed("pw");
    EXPECT_EQ(s.feed(ctrl_c), LineEvent::Interrupt);
    EXPECT_EQ(s.terminal.previous_row(), "> ^C");

    s.set_echo(Echo::On);
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "ls");
}

TEST(LineEditor, EchoSwitchedInTheMiddleOfALine) {
    Session s;
    s.feed("abc" + std::string(left));
    s.set_echo(Echo::Off); // the line disappears
    s.feed("d");
    s.set_echo(Echo::On); // and comes back, edits included
    EXPECT_EQ(s.editor.line(), "abdc");
    EXPECT_EQ(s.editor.cursor(), 3u);
    s.terminal.take_written();
    s.feed("\r");
    s.set_echo(Echo::Off); // between lines: nothing to hide
    s.set_echo(Echo::On);
    s.feed("\x7f");
    s.set_echo(Echo::Off); // an empty line: nothing to hide either
    s.set_echo(Echo::On);
    EXPECT_EQ(s.terminal.take_written(), "\r\n");
    s.feed("e");
}

TEST(LineEditor, CtrlCDiscardsTheLine) {
    Session s;
    s.feed("make" + repeat(left, 2));
    EXPECT_EQ(s.feed(ctrl_c), LineEvent::Interrupt);
    EXPECT_EQ(s.editor.line(), "");
    EXPECT_EQ(s.terminal.previous_row(), "> make^C");
    EXPECT_EQ(s.editor.history_count(), 0u);
    EXPECT_EQ(s.feed(ctrl_c), LineEvent::Interrupt); // on an empty line too
    EXPECT_EQ(s.terminal.previous_row(), "> ^C");
    s.feed("x\r");
    EXPECT_EQ(s.lines, std::vector<std::string>{"x"});
    EXPECT_EQ(s.interrupts, 2u);
}

TEST(LineEditor, CtrlDOnAnEmptyLineEndsInput) {
    Session s;
    EXPECT_EQ(s.feed(ctrl_d), LineEvent::EndOfInput);
    s.feed("a\r");
    EXPECT_EQ(s.feed(ctrl_d), LineEvent::EndOfInput); // the finished line does not count
    s.feed("b" + std::string("\x7f"));
    EXPECT_EQ(s.feed(ctrl_d), LineEvent::EndOfInput); // emptied by editing
    EXPECT_EQ(s.ends, 3u);
}

TEST(LineEditor, UnknownControlBytesAreIgnored) {
    Session s;
    s.feed("ab");
    s.terminal.take_written();
    for (uint8_t byte = 0; byte < 0x20; ++byte) {
        if (byte == 0x01 || byte == 0x03 || byte == 0x04 || byte == 0x05 || byte == 0x08 ||
            byte == '\n' || byte == '\r' || byte == 0x15 || byte == 0x17 || byte == 0x1b)
            continue;
        EXPECT_EQ(s.feed_byte(byte), LineEvent::None);
    }
    EXPECT_EQ(s.editor.line(), "ab");
    EXPECT_EQ(s.terminal.take_written(), "");
}

TEST(LineEditor, UnknownEscapeSequencesAreConsumedWhole) {
    Session s;
    s.feed("ab");
    s.terminal.take_written();
    for (std::string_view sequence : {
             "\x1b[2~",     // Insert
             "\x1b[5~",     // Page Up
             "\x1b[15~",    // F5
             "\x1b[200~",   // paste start
             "\x1b[?1;2c",  // device attributes reply
             "\x1b[12;40R", // cursor position report
             "\x1b[>0;95;0c", "\x1b[1;5P", "\x1b[ q", "\x1b[3$~", "\x1bOP", "\x1bOx",
             "\x1b[9999999999999~", // a huge parameter
         })
        s.feed(sequence);
    EXPECT_EQ(s.editor.line(), "ab");
    EXPECT_EQ(s.terminal.take_written(), "");
}

TEST(LineEditor, EscapeBeforeAnythingElseIsDropped) {
    Session s;
    s.feed("\x1bx\x1b\x1b[D\x1b\xc3\xa9");
    EXPECT_EQ(s.editor.line(), "\xc3\xa9x"); // ESC x gives x, ESC ESC [ D is Left
    EXPECT_EQ(s.feed("\x1b\r"), LineEvent::Line);
}

TEST(LineEditor, UnterminatedEscapesSwallowBoundedInput) {
    Session s;
    // Enter ends an unfinished sequence and still finishes the line.
    EXPECT_EQ(s.feed("ab\x1b[12\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "ab");
    EXPECT_EQ(s.feed("cd\x1bO\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "cd");
    // Backspace, Ctrl-C and non-ASCII end it the same way.
    s.feed("ef\x1b[1\x7f");
    EXPECT_EQ(s.editor.line(), "e");
    EXPECT_EQ(s.feed("\x1b[" + std::string(ctrl_c)), LineEvent::Interrupt);
    s.feed("\x1b[\xc3\xa9");
    EXPECT_EQ(s.editor.line(), "\xc3\xa9");
    s.feed("\r");
    // A parameter that never ends: only max_sequence_bytes of it are swallowed.
    std::string digits(40, '7');
    s.feed("\x1b[" + digits);
    EXPECT_EQ(s.editor.line(), digits.substr(LineEditor::max_sequence_bytes));
    s.feed("\r\x1b[" + std::string(1000, ';') + "X");
    EXPECT_EQ(s.editor.line(), std::string(1000 - LineEditor::max_sequence_bytes, ';') + "X");
}

TEST(LineEditor, EveryByteValue) {
    for (unsigned byte = 0; byte < 256; ++byte) {
        Session s;
        s.feed("ab" + std::string(left));
        s.feed_byte(uint8_t(byte));
        s.feed("z");
        ASSERT_FALSE(::testing::Test::HasFailure()) << "byte " << byte;
    }
    Session s;
    for (unsigned byte = 0; byte < 256; ++byte)
        s.feed_byte(uint8_t(byte));
    for (unsigned byte = 256; byte-- > 0;)
        s.feed_byte(uint8_t(byte));
}

TEST(LineEditor, TabIsIgnoredWithoutCompletion) {
    Session s;
    s.feed("he");
    s.terminal.take_written();
    EXPECT_EQ(s.feed(tab), LineEvent::None);
    EXPECT_EQ(s.editor.line(), "he");
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.completions, 0u);
}

TEST(LineEditor, TabEndsTheLineAsCompletionWritingNothing) {
    Session s;
    s.editor.set_completion(Completion::On);
    s.feed("he");
    s.terminal.take_written();
    EXPECT_EQ(s.feed(tab), LineEvent::Completion);
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.editor.line(), "he");
    EXPECT_EQ(s.editor.cursor(), 2u);
    EXPECT_EQ(s.terminal.row(), "> he");
    EXPECT_EQ(s.terminal.column(), 4u);
    EXPECT_EQ(s.editor.history_count(), 0u); // not a finished line
}

TEST(LineEditor, UniqueCompletionInsertsOnlyTheRest) {
    Session s;
    s.editor.set_completion(Completion::On);
    s.feed("he\t");
    s.terminal.take_written();
    s.resume("lp ");
    // Only the added characters: no prompt, no redraw of what is shown.
    EXPECT_EQ(s.terminal.take_written(), "lp ");
    EXPECT_EQ(s.terminal.row(), "> help ");
    EXPECT_EQ(s.terminal.column(), 7u);
    EXPECT_EQ(s.terminal.row_count(), 1u);
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.lines, std::vector<std::string>{"help "});
    EXPECT_EQ(s.editor.history_count(), 1u);
}

TEST(LineEditor, CompletionInTheMiddleOfTheLine) {
    Session s;
    s.editor.set_completion(Completion::On);
    s.feed("ru hello" + repeat(left, 6));
    EXPECT_EQ(s.feed(tab), LineEvent::Completion);
    EXPECT_EQ(s.editor.cursor(), 2u);
    s.terminal.take_written();
    s.resume("n");
    // The character, the rest of the line shifted right, back over the rest.
    EXPECT_EQ(s.terminal.take_written(), "n hello\x1b[6D");
    EXPECT_EQ(s.terminal.row(), "> run hello");
    EXPECT_EQ(s.editor.cursor(), 3u);
    s.feed("x\r");
    EXPECT_EQ(s.lines.back(), "runx hello");
}

TEST(LineEditor, NothingToAddLeavesTheScreenAlone) {
    Session s;
    s.editor.set_completion(Completion::On);
    s.feed("caps @zz\t");
    s.terminal.take_written();
    s.resume("");
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.editor.line(), "caps @zz");
    // Typing goes on in the same line, and Tab again completes again.
    s.feed("\x7f\x7f"
           "co");
    EXPECT_EQ(s.feed(tab), LineEvent::Completion);
    EXPECT_EQ(s.editor.line(), "caps @co");
    s.resume("nsole");
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "caps @console");
    EXPECT_EQ(s.completions, 2u);
}

TEST(LineEditor, ListingRedrawsTheLineUnderThePrompt) {
    Session s;
    s.editor.set_completion(Completion::On);
    s.feed("h\t");
    s.terminal.take_written();
    s.list("help  history");
    EXPECT_EQ(s.terminal.take_written(), "h");
    EXPECT_EQ(s.terminal.previous_row(), "help  history");
    EXPECT_EQ(s.terminal.row(), "> h");
    EXPECT_EQ(s.terminal.column(), 3u);

    // With the cursor inside the line, it goes back where it was.
    s.feed("\x7f"
           "abc" +
           repeat(left, 2) + std::string(tab));
    EXPECT_EQ(s.editor.cursor(), 1u);
    s.terminal.take_written();
    s.list("abacus  abbey");
    EXPECT_EQ(s.terminal.take_written(), "abc\x1b[2D");
    EXPECT_EQ(s.terminal.row(), "> abc");
    EXPECT_EQ(s.editor.cursor(), 1u);
    s.feed("b\r");
    EXPECT_EQ(s.lines.back(), "abbc");
}

TEST(LineEditor, StartFromATextOnAFreshPrompt) {
    Session s;
    s.feed("first\r");
    s.terminal.take_written();
    // The line written after the prompt, the cursor put, then the insertion.
    s.start("\xc3\xa9t\xc3\xa9", 2, Shown::No, "\xe2\x82\xac!");
    EXPECT_EQ(s.terminal.take_written(), "\xc3\xa9t\xc3\xa9\x1b[2D\xe2\x82\xac!t\xc3\xa9\x1b[2D");
    EXPECT_EQ(s.editor.line(), "\xc3\xa9\xe2\x82\xac!t\xc3\xa9");
    EXPECT_EQ(s.editor.cursor_column(), 3u);
    // The history walk starts over: Up recalls the newest entry, Down comes back.
    s.feed(up);
    EXPECT_EQ(s.editor.line(), "first");
    s.feed(down);
    EXPECT_EQ(s.editor.line(), "\xc3\xa9\xe2\x82\xac!t\xc3\xa9");
    s.feed("\r");
    EXPECT_EQ(s.lines.back(), "\xc3\xa9\xe2\x82\xac!t\xc3\xa9");
    // An empty start is an empty line.
    s.terminal.take_written();
    s.start("", 0, Shown::No, "");
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.feed(ctrl_d), LineEvent::EndOfInput);
}

TEST(LineEditor, StartFillsTheLineToItsLimit) {
    Session s;
    std::string half(LineEditor::max_line_bytes / 2, 'a');
    s.start(half, half.size(), Shown::No, half);
    EXPECT_EQ(s.editor.line().size(), LineEditor::max_line_bytes);
    s.terminal.take_written();
    s.feed("b");
    EXPECT_EQ(s.terminal.take_written(), "\a");
}

TEST(LineEditor, StartDropsAnUnfinishedSequence) {
    Session s;
    s.editor.set_completion(Completion::On);
    // Tab ends an escape sequence unfinished and still completes.
    EXPECT_EQ(s.feed("ab\x1b[1\t"), LineEvent::Completion);
    EXPECT_EQ(s.editor.line(), "ab");
    s.resume("c");
    s.feed("D"); // not the end of an ESC [ 1 D
    EXPECT_EQ(s.editor.line(), "abcD");
    // A character cut short by Tab is dropped with the bell.
    s.feed("\xe2\x82");
    EXPECT_EQ(s.feed(tab), LineEvent::Completion);
    EXPECT_EQ(s.editor.line(), "abcD");
    EXPECT_EQ(s.terminal.bells(), 1u);
    s.resume("");
    // start() in the middle of a sequence drops it: F is a letter, not End.
    s.feed(std::string(left) + "\x1b[");
    s.resume("");
    s.feed("F");
    EXPECT_EQ(s.editor.line(), "abcFD");
    // ... and in the middle of a character: the rest is a stray continuation.
    s.feed("\xe2\x82");
    s.resume("");
    s.feed("\xac");
    EXPECT_EQ(s.editor.line(), "abcFD");
    EXPECT_EQ(s.terminal.bells(), 2u);
}

TEST(LineEditor, EchoOffIgnoresTabEvenWithCompletion) {
    Session s;
    s.editor.set_completion(Completion::On);
    s.set_echo(Echo::Off);
    s.feed("sec");
    s.terminal.take_written();
    EXPECT_EQ(s.feed(tab), LineEvent::None);
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.terminal.bells(), 0u);
    EXPECT_EQ(s.feed("ret\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "secret");
    EXPECT_EQ(s.terminal.previous_row(), "> ");
    // A hidden line started from a text shows nothing of it either.
    s.terminal.take_written();
    s.start("pass", 4, Shown::No, "word");
    EXPECT_EQ(s.terminal.take_written(), "");
    EXPECT_EQ(s.feed("\r"), LineEvent::Line);
    EXPECT_EQ(s.lines.back(), "password");
}

TEST(LineEditor, ValidStartRefusesWhatTypingCannotInsert) {
    EXPECT_TRUE(LineEditor::valid_start("", 0, ""));
    EXPECT_TRUE(LineEditor::valid_start("run he", 6, "llo "));
    EXPECT_TRUE(LineEditor::valid_start("\xc3\xa9", 2, "\xf4\x8f\xbf\xbf"));
    EXPECT_TRUE(LineEditor::valid_start(std::string(LineEditor::max_line_bytes - 1, 'a'), 3, "b"));
    EXPECT_FALSE(LineEditor::valid_start(std::string(LineEditor::max_line_bytes, 'a'), 3, "b"));
    EXPECT_FALSE(LineEditor::valid_start(std::string(LineEditor::max_line_bytes + 1, 'a'), 0, ""));
    EXPECT_FALSE(LineEditor::valid_start("", 0, std::string(LineEditor::max_line_bytes + 1, 'a')));
    EXPECT_FALSE(LineEditor::valid_start("abc", 4, ""));          // past the end
    EXPECT_FALSE(LineEditor::valid_start("\xc3\xa9", 1, ""));     // inside a character
    EXPECT_FALSE(LineEditor::valid_start("a\tb", 0, ""));         // a control byte
    EXPECT_FALSE(LineEditor::valid_start("a", 0, "\r"));          // in the insertion too
    EXPECT_FALSE(LineEditor::valid_start("a\x7f", 0, ""));        // DEL
    EXPECT_FALSE(LineEditor::valid_start("\x1b[D", 0, ""));       // an escape sequence
    EXPECT_FALSE(LineEditor::valid_start("\xc3", 0, ""));         // cut short
    EXPECT_FALSE(LineEditor::valid_start("", 0, "\xc0\xaf"));     // overlong
    EXPECT_FALSE(LineEditor::valid_start("\xed\xa0\x80", 0, "")); // a surrogate
    EXPECT_FALSE(LineEditor::valid_start("\xf4\x90\x80\x80", 0, ""));
    EXPECT_FALSE(LineEditor::valid_start("\x80", 0, ""));
    EXPECT_FALSE(LineEditor::valid_start("\xe2\x82\xac\xac", 0, ""));
}

TEST(LineEditorDeathTest, StartTrapsOnWhatValidStartRefuses) {
    Terminal terminal{fail_test};
    LineEditor editor{terminal};
    EXPECT_DEATH(editor.start("a\x01", 0, Shown::Yes, ""), "");
}

// Random input, biased towards what makes the editor work: known and broken
// escape sequences, editing keys, UTF-8 lead and continuation bytes, bursts
// that reach the length limit, and echo switched on and off between bytes.
std::string random_piece(std::mt19937& random) {
    static const std::string_view keys[] = {
        "\x1b[A", "\x1b[B",  "\x1b[C",  "\x1b[D",  "\x1b[H",  "\x1b[F",   "\x1bOH",
        "\x1bOF", "\x1b[1~", "\x1b[4~", "\x1b[7~", "\x1b[8~", "\x1b[3~",  "\x1b[1;5C",
        "\x1bOA", "\x1bOB",  "\x1bOC",  "\x1bOD",  "\x1b[2~", "\x1b[?25h"};
    static const uint8_t single[] = {0x1b, '[',  'O',  '1',  '3',  ';',  '~', 0x7f, 0x08, 0x7f,
                                     0x08, 0x15, 0x17, 0x01, 0x05, 0x04, ' ', ' ',  '\t', 0x00};
    static const uint8_t leads[] = {0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xef,
                                    0xf0, 0xf4, 0xf5, 0xc0, 0xc1, 0xff};
    static const uint8_t continuations[] = {0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf};
    static const std::string_view characters[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                                  "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"};
    auto pick = [&](size_t count) { return size_t(random() % count); };
    size_t roll = pick(1000);
    if (roll < 300)
        return std::string(1, char(0x20 + pick(0x5f)));
    if (roll < 420)
        return std::string(keys[pick(std::size(keys))]);
    if (roll < 600)
        return std::string(1, char(single[pick(std::size(single))]));
    if (roll < 680)
        return std::string(1, char(leads[pick(std::size(leads))]));
    if (roll < 760)
        return std::string(1, char(continuations[pick(std::size(continuations))]));
    if (roll < 830)
        return std::string(characters[pick(std::size(characters))]);
    if (roll < 850)
        return pick(2) ? "\r" : "\n";
    if (roll < 853)
        return "\x03";
    if (roll < 855)
        return std::string(300 + pick(900), char('a' + pick(26))); // towards the limit
    return std::string(1, char(pick(256)));
}

// What a shell does after a Tab, picked at random: add nothing, a name's
// rest (sometimes more than the line has room for: then nothing), or list.
void random_completion(std::mt19937& random, Session& s) {
    static const std::string_view inserts[] = {"", "lp ", "\xc3\xa9t\xc3\xa9", "x", "sole"};
    size_t roll = random() % 10;
    if (roll < 3) {
        s.list("one  two");
        return;
    }
    std::string insert(inserts[roll % std::size(inserts)]);
    if (roll == 9)
        insert.assign(100 + random() % 400, 'q');
    if (!LineEditor::valid_start(s.editor.line(), s.editor.cursor(), insert))
        insert.clear();
    s.resume(insert);
}

TEST(LineEditor, RandomInputKeepsTheScreenRight) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        std::mt19937 random(seed);
        Session s;
        // Tab completes in two of the runs, and is ignored in the other.
        if (seed != 1)
            s.editor.set_completion(Completion::On);
        size_t fed = 0;
        while (fed < 30000) {
            if (random() % 400 == 0)
                s.set_echo(s.editor.echo() == Echo::On ? Echo::Off : Echo::On);
            for (char c : random_piece(random)) {
                if (s.feed_byte(uint8_t(c)) == LineEvent::Completion)
                    random_completion(random, s);
                ++fed;
            }
            ASSERT_FALSE(::testing::Test::HasFailure()) << "seed " << seed << ", byte " << fed;
        }
        // The run went through every part of the editor.
        EXPECT_GT(s.lines.size(), 10u) << seed;
        EXPECT_GT(s.interrupts, 2u) << seed;
        EXPECT_GT(s.editor.history_count(), 5u) << seed;
        EXPECT_GT(s.terminal.bells(), 100u) << seed;
        EXPECT_EQ(s.longest_line, LineEditor::max_line_bytes) << seed;
        if (seed == 1)
            EXPECT_EQ(s.completions, 0u);
        else
            EXPECT_GT(s.completions, 20u) << seed;
    }
}

} // namespace
} // namespace capos::term
