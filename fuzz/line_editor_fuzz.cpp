// libFuzzer target for lib/term/line_editor: the bytes are terminal input, fed
// one at a time; the first byte also says how often echo is switched between
// bytes (every n-th byte, never for 0) and, when it is odd, that Tab
// completes: each Completion is carried on with start() as a shell would (in
// turn: nothing added, a name's rest, a listing and the line drawn again, a
// UTF-8 character). After each byte and each start() the editor's output,
// played on the terminal model shared with the host test
// (tests/host/terminal_model.h), must show exactly the prompt and line() with
// the cursor at cursor_column() (only the prompt with echo off or after a line
// event), and line() must be well-formed UTF-8 within max_line_bytes with the
// cursor on a character boundary. Any byte the editor writes outside the
// model's VT100 subset, or a move left of the line's start, is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "lib/term/line_editor.h"
#include "tests/host/terminal_model.h"

namespace {

using capos::term::Completion;
using capos::term::Echo;
using capos::term::LineEditor;
using capos::term::LineEvent;
using capos::term::Shown;
using capos::term_model::characters;
using capos::term_model::Terminal;
using capos::term_model::valid_utf8;

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

// The terminal model's violations end the run.
void trap(std::string_view violation) {
    std::fprintf(stderr, "terminal model: %.*s\n", int(violation.size()), violation.data());
    __builtin_trap();
}

constexpr std::string_view prompt = "$ ";

void check(const Terminal& terminal, const LineEditor& editor, bool between_lines) {
    std::string_view line = editor.line();
    require(line.size() <= LineEditor::max_line_bytes);
    require(valid_utf8(line));
    require(editor.cursor() <= line.size());
    require(editor.cursor() == line.size() || (uint8_t(line[editor.cursor()]) & 0xc0) != 0x80);
    require(editor.cursor_column() == characters(line.substr(0, editor.cursor())));
    bool showing = !between_lines && editor.echo() == Echo::On;
    require(terminal.row() == std::string(prompt) + (showing ? std::string(line) : ""));
    require(terminal.column() == prompt.size() + (showing ? editor.cursor_column() : 0));
}

// Carries the line on after the `count`-th Completion.
void complete(Terminal& terminal, LineEditor& editor, size_t count) {
    std::string text(editor.line());
    size_t cursor = editor.cursor();
    static constexpr std::string_view inserts[] = {"", "lp ", "", "\xc3\xa9"};
    std::string_view insert = inserts[count % 4];
    if (!LineEditor::valid_start(text, cursor, insert))
        insert = {};
    Shown shown = Shown::Yes;
    if (count % 4 == 2) {
        terminal.write_from_caller("\r\nhelp  history\r\n");
        terminal.write_from_caller(prompt);
        terminal.set_margin();
        shown = Shown::No;
    }
    editor.start(text, cursor, shown, insert);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Terminal terminal(trap);
    LineEditor editor(terminal);
    terminal.write_from_caller(prompt);
    terminal.set_margin();
    size_t toggle_every = size > 0 ? data[0] : 0;
    if (toggle_every % 2 == 1)
        editor.set_completion(Completion::On);
    size_t completions = 0;
    bool between_lines = false;
    for (size_t i = 0; i < size; ++i) {
        if (toggle_every != 0 && i % toggle_every == toggle_every - 1) {
            editor.set_echo(editor.echo() == Echo::On ? Echo::Off : Echo::On);
            check(terminal, editor, between_lines);
        }
        LineEvent event = editor.feed(data[i]);
        if (event == LineEvent::Completion) {
            // The line is still on the screen, and goes on.
            check(terminal, editor, false);
            complete(terminal, editor, completions++);
            event = LineEvent::None;
        }
        between_lines = event != LineEvent::None;
        if (event == LineEvent::EndOfInput) {
            require(terminal.row() == prompt);
            terminal.write_from_caller("\r\n");
        }
        if (between_lines) {
            require(terminal.row().empty() && terminal.column() == 0);
            if (event != LineEvent::Line)
                require(editor.line().empty());
            terminal.write_from_caller(prompt);
            terminal.set_margin();
        }
        check(terminal, editor, between_lines);
    }
    return 0;
}
