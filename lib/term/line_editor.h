// A terminal line editor: turns the bytes a terminal sends (keys, escape
// sequences, UTF-8) into finished lines, and tells the terminal what to show
// while the line is edited. Pure logic with fixed storage, so that the kernel
// can serve a TerminalSession over the serial port with it and the shell can
// use it the same way.
//
// Screen contract. The editor never learns the prompt or the terminal's width:
// every change moves the cursor relative to where the editor last left it,
// using only CR, LF, BS, BEL, ESC [ n D, ESC [ n C and ESC [ K. Whatever is on
// the row before the line's first column (the prompt) is never touched. After
// every feed() that returns LineEvent::None the terminal shows, from the
// column where the line began, exactly line() with the cursor cursor_column()
// characters in; with echo off it shows nothing of the line and the cursor
// stays at the line's first column.
//
// One line's life:
//   1. The caller writes its prompt, then feeds bytes one at a time.
//   2. Enter (CR or LF; CR LF counts once) writes CR LF and returns Line;
//      line() holds the finished text until the next feed(). Ctrl-C writes
//      "^C" CR LF after the line and returns Interrupt, the line discarded.
//      Ctrl-D on an empty line writes nothing and returns EndOfInput. With
//      completion on, Tab writes nothing and returns Completion (below).
//   3. The caller acts on the event and writes the next prompt. The next
//      feed() starts a fresh, empty line by itself; start() starts one from
//      a given text instead (how a line goes on after a Completion).
//
// Keys. Printable ASCII and well-formed UTF-8 insert at the cursor. Backspace
// (0x7f or 0x08) deletes the character before the cursor, Delete (ESC [ 3 ~)
// and Ctrl-D on a non-empty line the one under it (nothing at the end of the
// line). Ctrl-U deletes from the start to the cursor, Ctrl-W the word before
// the cursor (spaces, then non-spaces, as bash does). Left and Right (ESC [ D,
// ESC [ C, ESC O D, ESC O C) move one character; Home (ESC [ H, ESC O H,
// ESC [ 1 ~, ESC [ 7 ~, Ctrl-A) and End (ESC [ F, ESC O F, ESC [ 4 ~,
// ESC [ 8 ~, Ctrl-E) go to the ends. Modifier parameters (ESC [ 1 ; 5 D) are
// ignored: Ctrl-Left is Left. A key that cannot act (Left at the start,
// Delete at the end) does nothing and writes nothing.
//
// History. Up (ESC [ A, ESC O A) and Down (ESC [ B, ESC O B) walk the earlier
// non-empty lines, newest first. Leaving the line being edited for the
// history keeps a copy of it, which Down past the newest entry brings back. A
// recalled entry is edited as a copy: moving to another entry drops the
// edits, and the entry itself never changes. Enter records the line unless
// it is empty, equals the newest entry, or was typed with echo off. Entries
// live in a ring of history_bytes bytes and at most max_history_entries
// entries; the oldest are evicted to make room.
//
// Refused and unknown input. Input is refused with a BEL (0x07) and changes
// nothing: a character that would make the line longer than max_line_bytes,
// and malformed UTF-8 (a byte that cannot start a character, a missing or
// out-of-range continuation byte; overlong forms, surrogates and code points
// above U+10FFFF are malformed). A character cut short by an unexpected byte
// is dropped and that byte is then taken as it is (a stray continuation byte
// is dropped with it). Other control bytes (NUL, Ctrl-B, Tab unless it
// completes, ...) are ignored silently. Escape sequences are consumed whole and ignored when
// unknown: CSI is ESC [, parameter bytes 0x30-0x3f, intermediate bytes
// 0x20-0x2f and a final byte 0x40-0x7e; SS3 is ESC O and one byte
// 0x40-0x7e. ESC followed by anything else drops the ESC and takes
// the byte as it is. A control, DEL, ESC or non-ASCII byte inside a sequence
// ends it unfinished (it is dropped and the byte taken as it is, so Enter
// still finishes the line), and so does a CSI longer than max_sequence_bytes
// parameter and intermediate bytes: the byte over the limit is taken as
// ordinary input. A sequence thus swallows at most max_sequence_bytes + 3
// bytes (ESC, '[', its parameters and its final byte).
//
// Echo off (set_echo(Echo::Off), for passwords): editing works as usual but
// nothing of the line is shown, not even stars; Enter and Ctrl-C show the same
// as with echo on, and refusals still ring the bell. The history is neither
// recorded nor walked (Up and Down are ignored), so a password never lands in
// it and no earlier line can be recalled unseen. Turning echo off mid-line
// erases the line from the screen; turning it on draws it.
//
// Completion (set_completion(Completion::On), for a caller that knows what
// the words of its lines may be: the shell). Tab then ends the line as
// Completion, writing nothing: line() and cursor() hold the line as it
// stands, and the terminal still shows it with the cursor there. The line is
// over as far as feed() is concerned; the caller carries it on with start():
//   1. It works out what the Tab means from line() and cursor().
//   2. To add characters at the cursor (the rest of a name), or none (the
//      bell, say), it calls start() with the same line and cursor, Shown::Yes
//      and the characters: only they are written, as if typed, and the
//      screen goes on seamlessly.
//   3. To list the candidates instead, it writes a newline, the list and its
//      prompt, then calls start() with Shown::No: the editor writes the line
//      after the prompt and puts the cursor back where it was.
// With echo off Tab is ignored, completion on or not: a completion would
// show what was typed.
//
// Limits. Every character is taken as one column: wide (double-column) and
// combining characters are not measured, so a line holding them shows with
// the cursor off by their difference. A line wider than the terminal wraps
// when drawn, and the relative moves do not follow it onto the next row; the
// editor assumes the line fits on the row after the prompt.
//
// Storage is fixed and inside the object (under 7 KiB: the line, the copy
// kept while walking the history, the history ring); nothing allocates. Not
// thread-safe: the owner serialises every call. The Output is called only
// from within feed(), set_echo() and start().
#pragma once

#include "lib/term/history_ring.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::term {

// Where the editor writes what the terminal must show. Each write() is a
// complete piece (never half an escape sequence or half a UTF-8 character).
class Output {
public:
    virtual void write(std::string_view bytes) = 0;

protected:
    ~Output() = default;
};

enum class LineEvent : uint8_t {
    None,       // the byte was taken (or ignored); the line goes on
    Line,       // Enter: line() is the finished line until the next feed()
    Interrupt,  // Ctrl-C: the line was discarded
    EndOfInput, // Ctrl-D on an empty line
    Completion, // Tab, with completion on: line() and cursor() are the line as the screen shows it
};

enum class Echo : uint8_t { On, Off };
// Whether Tab ends the line as LineEvent::Completion (else it is ignored).
enum class Completion : uint8_t { Off, On };
// Whether the text start() begins with is on the screen already.
enum class Shown : uint8_t { No, Yes };

class LineEditor {
public:
    // Longest line, in bytes of UTF-8.
    static constexpr size_t max_line_bytes = 1024;
    // Bytes of line text the history holds, and how many lines at most.
    static constexpr size_t history_bytes = 4096;
    static constexpr size_t max_history_entries = 128;
    // Parameter and intermediate bytes a CSI sequence may have.
    static constexpr size_t max_sequence_bytes = 16;

    // Starts with an empty line, echo on and an empty history. Writes nothing.
    // `output` must outlive the editor.
    explicit LineEditor(Output& output) : m_output(output) {}
    LineEditor(const LineEditor&) = delete;
    LineEditor& operator=(const LineEditor&) = delete;

    // Takes one byte from the terminal, writes what the screen must show and
    // says whether the line is finished (see the file header).
    LineEvent feed(uint8_t byte);

    // Takes effect at once, also in the middle of a line (see the file header).
    void set_echo(Echo echo);
    Echo echo() const { return m_echo; }
    // Takes effect from the next byte; writes nothing.
    void set_completion(Completion completion) { m_completion = completion; }
    Completion completion() const { return m_completion; }

    // Starts a new line holding `text` (instead of the empty line the next
    // feed() would start) with the cursor `cursor` bytes in, then inserts
    // `insert` at the cursor and shows it as typed characters are shown.
    // With Shown::Yes the terminal shows `text` already, its cursor at
    // `cursor` (as a Completion left them), and only the insertion is
    // written; with Shown::No the terminal's cursor is where the line begins
    // and the whole line is written. With echo off nothing is written. The
    // history walk starts over; a character or escape sequence still
    // arriving is dropped. `text` may be line() itself, `insert` may not
    // point into it. Traps unless valid_start(text, cursor, insert): the
    // caller checks first.
    void start(std::string_view text, size_t cursor, Shown shown, std::string_view insert);
    // Whether start() takes these: `text` and `insert` hold only characters
    // typing inserts (printable ASCII, well-formed UTF-8 beyond ASCII), at
    // most max_line_bytes together, and `cursor` is a character boundary of
    // `text` (0 to its size).
    static bool valid_start(std::string_view text, size_t cursor, std::string_view insert);

    // The line being edited, always whole UTF-8 characters (a character still
    // arriving is not part of it); after a Line event, the finished line until
    // the next feed(). Empty after Interrupt and EndOfInput.
    std::string_view line() const { return {m_line, m_length}; }
    // The cursor as a byte offset into line(), always at a character boundary.
    size_t cursor() const { return m_cursor; }
    // Characters before the cursor: the cursor's column counted from the
    // line's first column (when echo is on).
    size_t cursor_column() const { return columns(0, m_cursor); }

    // Lines in the history, and the bytes of text they hold.
    size_t history_count() const { return m_history.count(); }
    size_t history_bytes_used() const { return m_history.bytes_used(); }

private:
    enum class Key : uint8_t { Left, Right, Home, End, Up, Down, Delete };
    // Where the input parser is between bytes.
    enum class InputState : uint8_t {
        Ground, // between characters and sequences
        Escape, // after ESC
        Csi,    // after ESC [, collecting parameter and intermediate bytes
        Ss3,    // after ESC O
        Utf8,   // inside a multi-byte UTF-8 character
    };
    using History = HistoryRing<history_bytes, max_history_entries>;
    // A text in up to two pieces (a history entry may wrap around the ring).
    using Pieces = History::Text;

    static_assert(max_line_bytes <= history_bytes, "a line must fit in the history");

    // The parser: one function per InputState. Each returns the event of the
    // byte; a byte that ends a sequence unfinished goes back to ground().
    LineEvent ground(uint8_t byte);
    LineEvent escape(uint8_t byte);
    LineEvent csi(uint8_t byte);
    LineEvent ss3(uint8_t byte);
    LineEvent utf8(uint8_t byte);
    LineEvent control(uint8_t byte);
    void utf8_lead(uint8_t byte);
    void csi_final(uint8_t final_byte);
    // Acts on an arrow, Home or End final letter (CSI and SS3); false for
    // any other byte.
    bool letter_key(uint8_t final_byte);
    void key(Key key);

    // Whether `text` is only characters typing inserts.
    static bool editable(std::string_view text);

    // Line events.
    LineEvent finish_line();
    LineEvent interrupt();
    void start_line();

    // Editing: each keeps the screen matching the line (see the file header).
    void insert(const char* bytes, size_t count);
    void erase(size_t from, size_t to); // removes [from, to); the cursor goes to `from`
    void move_to(size_t position);
    void replace_line(Pieces text); // the cursor goes to the end
    void history_older();
    void history_newer();

    // The line's text.
    size_t columns(size_t from, size_t to) const;
    size_t previous_boundary(size_t position) const;
    size_t next_boundary(size_t position) const;
    size_t word_start() const;

    // Records a finished line in the history (see the file header).
    void history_add(std::string_view text);

    // Screen output; the first four write nothing with echo off.
    void show(size_t from); // writes line()[from, end); the cursor must be at `from`
    void clear_to_end();
    void cursor_left(size_t count);
    void cursor_right(size_t count);
    void write(std::string_view bytes) { m_output.write(bytes); }
    void bell() { write("\a"); }

    Output& m_output;
    Echo m_echo = Echo::On;
    Completion m_completion = Completion::Off;

    char m_line[max_line_bytes];
    size_t m_length = 0;
    size_t m_cursor = 0;
    bool m_finished = false; // a line event was returned; the next feed() starts a new line
    bool m_after_cr = false; // the last byte was a CR that finished a line: an LF now is its pair

    InputState m_state = InputState::Ground;
    char m_sequence[max_sequence_bytes]; // a CSI's parameter and intermediate bytes
    size_t m_sequence_length = 0;
    char m_utf8[4]; // the character arriving
    size_t m_utf8_length = 0;
    size_t m_utf8_expected = 0;

    // Walking the history: 0 is the line being edited, n the n-th newest entry.
    size_t m_history_position = 0;
    char m_draft[max_line_bytes]; // the line being edited, kept while walking the history
    size_t m_draft_length = 0;

    History m_history;
};

} // namespace capos::term
