// The line editor's parser and editing operations (see line_editor.h).
//
// Following one byte: feed() starts a new line if the last one was finished
// and pairs an LF with the CR before it; the byte then goes to the function of
// the parser's state (ground, escape, csi, ss3, utf8). ground() sorts it into
// a control key, the start of an escape sequence, a printable ASCII character
// or the lead byte of a UTF-8 character. A finished key or character reaches
// one editing operation (insert, erase, move_to, replace_line), which changes
// the line and writes the screen's change in the same step.
#include "lib/term/line_editor.h"

namespace capos::term {

namespace {

constexpr uint8_t escape_byte = 0x1b;
constexpr uint8_t backspace_byte = 0x08;
constexpr uint8_t tab_byte = 0x09;
constexpr uint8_t delete_byte = 0x7f;

constexpr uint8_t ctrl(char letter) {
    return uint8_t(letter) & 0x1f;
}

constexpr bool is_continuation(uint8_t byte) {
    return (byte & 0xc0) == 0x80;
}

// Whether `byte` may follow the `index` bytes (index >= 1) of a character that
// starts with `lead`. The second byte's range excludes overlong forms (E0, F0),
// surrogates (ED) and code points above U+10FFFF (F4).
constexpr bool continues(uint8_t lead, size_t index, uint8_t byte) {
    uint8_t low = 0x80;
    uint8_t high = 0xbf;
    if (index == 1) {
        if (lead == 0xe0)
            low = 0xa0;
        else if (lead == 0xed)
            high = 0x9f;
        else if (lead == 0xf0)
            low = 0x90;
        else if (lead == 0xf4)
            high = 0x8f;
    }
    return byte >= low && byte <= high;
}

uint8_t byte_at(const char* text, size_t index) {
    return uint8_t(text[index]);
}

} // namespace

LineEvent LineEditor::feed(uint8_t byte) {
    if (m_finished)
        start_line();
    bool after_cr = m_after_cr;
    m_after_cr = false;
    if (after_cr && byte == '\n')
        return LineEvent::None; // the LF of a CR LF that already finished the line

    switch (m_state) {
    case InputState::Ground:
        return ground(byte);
    case InputState::Escape:
        return escape(byte);
    case InputState::Csi:
        return csi(byte);
    case InputState::Ss3:
        return ss3(byte);
    case InputState::Utf8:
        return utf8(byte);
    }
    return LineEvent::None;
}

void LineEditor::set_echo(Echo echo) {
    if (echo == m_echo)
        return;
    if (m_finished || m_length == 0) {
        m_echo = echo; // nothing of a line is on the screen
        return;
    }
    if (echo == Echo::Off) {
        cursor_left(columns(0, m_cursor));
        clear_to_end();
        m_echo = echo;
    } else {
        m_echo = echo;
        show(0);
        cursor_left(columns(m_cursor, m_length));
    }
}

void LineEditor::start(std::string_view text, size_t cursor, Shown shown, std::string_view insert) {
    if (!valid_start(text, cursor, insert))
        __builtin_trap(); // the caller checks first (a kernel service, before it answers)
    m_state = InputState::Ground;
    start_line();
    __builtin_memmove(m_line, text.data(), text.size()); // `text` may be line() itself
    m_length = text.size();
    m_cursor = cursor;
    if (shown == Shown::No) {
        m_cursor = m_length;
        show(0);
        move_to(cursor);
    }
    if (!insert.empty())
        this->insert(insert.data(), insert.size());
}

bool LineEditor::valid_start(std::string_view text, size_t cursor, std::string_view insert) {
    return text.size() <= max_line_bytes && insert.size() <= max_line_bytes - text.size() &&
           cursor <= text.size() &&
           (cursor == text.size() || !is_continuation(byte_at(text.data(), cursor))) &&
           editable(text) && editable(insert);
}

bool LineEditor::editable(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        uint8_t lead = byte_at(text.data(), i);
        if (lead < 0x80) {
            if (lead < 0x20 || lead == delete_byte)
                return false;
            ++i;
            continue;
        }
        if (lead < 0xc2 || lead > 0xf4) // as utf8_lead() refuses
            return false;
        size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (length > text.size() - i)
            return false;
        for (size_t k = 1; k < length; ++k) {
            if (!continues(lead, k, byte_at(text.data(), i + k)))
                return false;
        }
        i += length;
    }
    return true;
}

// --- The parser ------------------------------------------------------------

LineEvent LineEditor::ground(uint8_t byte) {
    if (byte == escape_byte) {
        m_state = InputState::Escape;
        return LineEvent::None;
    }
    if (byte < 0x20 || byte == delete_byte)
        return control(byte);
    if (byte < 0x80) {
        char character = char(byte);
        insert(&character, 1);
        return LineEvent::None;
    }
    utf8_lead(byte);
    return LineEvent::None;
}

LineEvent LineEditor::escape(uint8_t byte) {
    if (byte == '[') {
        m_state = InputState::Csi;
        m_sequence_length = 0;
        return LineEvent::None;
    }
    if (byte == 'O') {
        m_state = InputState::Ss3;
        return LineEvent::None;
    }
    // Not a sequence we know the shape of: drop the ESC, take the byte as it is.
    m_state = InputState::Ground;
    return ground(byte);
}

LineEvent LineEditor::csi(uint8_t byte) {
    if (byte >= 0x20 && byte <= 0x3f) { // a parameter or intermediate byte
        if (m_sequence_length == max_sequence_bytes) {
            m_state = InputState::Ground; // too long: dropped
            return ground(byte);
        }
        m_sequence[m_sequence_length++] = char(byte);
        return LineEvent::None;
    }
    m_state = InputState::Ground;
    if (byte >= 0x40 && byte <= 0x7e) {
        csi_final(byte);
        return LineEvent::None;
    }
    return ground(byte); // control, DEL, ESC or non-ASCII: the sequence ends unfinished
}

bool LineEditor::letter_key(uint8_t final_byte) {
    // The final letters CSI and SS3 share: arrows, Home, End.
    switch (final_byte) {
    case 'A':
        key(Key::Up);
        return true;
    case 'B':
        key(Key::Down);
        return true;
    case 'C':
        key(Key::Right);
        return true;
    case 'D':
        key(Key::Left);
        return true;
    case 'H':
        key(Key::Home);
        return true;
    case 'F':
        key(Key::End);
        return true;
    default:
        return false;
    }
}

LineEvent LineEditor::ss3(uint8_t byte) {
    m_state = InputState::Ground;
    if (byte < 0x40 || byte > 0x7e)
        return ground(byte);
    (void)letter_key(byte); // F1-F4 and keypad keys: ignored
    return LineEvent::None;
}

void LineEditor::utf8_lead(uint8_t byte) {
    if (byte < 0xc2 || byte > 0xf4) { // a continuation byte, overlong C0/C1, or beyond U+10FFFF
        bell();
        return;
    }
    m_utf8[0] = char(byte);
    m_utf8_length = 1;
    m_utf8_expected = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    m_state = InputState::Utf8;
}

LineEvent LineEditor::utf8(uint8_t byte) {
    if (!continues(byte_at(m_utf8, 0), m_utf8_length, byte)) {
        bell(); // the character is cut short: dropped
        m_state = InputState::Ground;
        if (is_continuation(byte))
            return LineEvent::None; // an out-of-range continuation: one bell is enough
        return ground(byte);
    }
    m_utf8[m_utf8_length++] = char(byte);
    if (m_utf8_length == m_utf8_expected) {
        m_state = InputState::Ground;
        insert(m_utf8, m_utf8_length);
    }
    return LineEvent::None;
}

LineEvent LineEditor::control(uint8_t byte) {
    switch (byte) {
    case '\r':
        m_after_cr = true;
        return finish_line();
    case '\n':
        return finish_line();
    case ctrl('C'):
        return interrupt();
    case ctrl('D'):
        if (m_length == 0) {
            m_finished = true;
            return LineEvent::EndOfInput;
        }
        key(Key::Delete);
        break;
    case ctrl('A'):
        key(Key::Home);
        break;
    case ctrl('E'):
        key(Key::End);
        break;
    case backspace_byte:
    case delete_byte:
        if (m_cursor > 0)
            erase(previous_boundary(m_cursor), m_cursor);
        break;
    case ctrl('U'):
        erase(0, m_cursor);
        break;
    case ctrl('W'):
        erase(word_start(), m_cursor);
        break;
    case tab_byte:
        if (m_completion == Completion::On && m_echo == Echo::On) {
            m_finished = true; // the line stays in line() for the caller's start()
            return LineEvent::Completion;
        }
        break;
    default:
        break; // a control byte with no meaning here: ignored
    }
    return LineEvent::None;
}

// A finished CSI: m_sequence holds its parameter and intermediate bytes. Keys
// have decimal parameters separated by ';' and no intermediates; the first
// parameter picks the key of a '~' sequence, the others (modifiers) are ignored.
void LineEditor::csi_final(uint8_t final_byte) {
    unsigned first = 0;
    bool in_first = true;
    for (size_t i = 0; i < m_sequence_length; ++i) {
        char c = m_sequence[i];
        if (c == ';') {
            in_first = false;
        } else if (c >= '0' && c <= '9') {
            if (in_first && first < 1000)
                first = first * 10 + unsigned(c - '0');
        } else {
            return; // a private marker ('<' to '?', ':') or an intermediate: not a key
        }
    }
    if (letter_key(final_byte) || final_byte != '~')
        return;
    if (first == 1 || first == 7)
        key(Key::Home);
    else if (first == 4 || first == 8)
        key(Key::End);
    else if (first == 3)
        key(Key::Delete);
    // Insert, Page Up/Down, function keys, paste brackets: ignored
}

void LineEditor::key(Key key) {
    switch (key) {
    case Key::Left:
        move_to(previous_boundary(m_cursor));
        break;
    case Key::Right:
        move_to(next_boundary(m_cursor));
        break;
    case Key::Home:
        move_to(0);
        break;
    case Key::End:
        move_to(m_length);
        break;
    case Key::Up:
        history_older();
        break;
    case Key::Down:
        history_newer();
        break;
    case Key::Delete:
        if (m_cursor < m_length)
            erase(m_cursor, next_boundary(m_cursor));
        break;
    }
}

// --- Line events -----------------------------------------------------------

LineEvent LineEditor::finish_line() {
    write("\r\n");
    if (m_echo == Echo::On && m_length > 0)
        history_add(line());
    m_finished = true;
    return LineEvent::Line;
}

LineEvent LineEditor::interrupt() {
    cursor_right(columns(m_cursor, m_length)); // "^C" goes after the line, not over it
    write("^C\r\n");
    m_length = 0;
    m_cursor = 0;
    m_finished = true;
    return LineEvent::Interrupt;
}

void LineEditor::start_line() {
    m_length = 0;
    m_cursor = 0;
    m_history_position = 0;
    m_finished = false;
}

// --- Editing ---------------------------------------------------------------

void LineEditor::insert(const char* bytes, size_t count) {
    if (m_length + count > max_line_bytes) {
        bell();
        return;
    }
    size_t at = m_cursor;
    __builtin_memmove(m_line + at + count, m_line + at, m_length - at);
    __builtin_memcpy(m_line + at, bytes, count);
    m_length += count;
    m_cursor += count;
    show(at); // the new character and everything after it, shifted right
    cursor_left(columns(m_cursor, m_length));
}

void LineEditor::erase(size_t from, size_t to) {
    if (from == to)
        return;
    cursor_left(columns(from, m_cursor));
    __builtin_memmove(m_line + from, m_line + to, m_length - to);
    m_length -= to - from;
    m_cursor = from;
    show(from); // the rest of the line, shifted left over the erased part
    clear_to_end();
    cursor_left(columns(from, m_length));
}

void LineEditor::move_to(size_t position) {
    if (position < m_cursor)
        cursor_left(columns(position, m_cursor));
    else
        cursor_right(columns(m_cursor, position));
    m_cursor = position;
}

void LineEditor::replace_line(Pieces text) {
    cursor_left(columns(0, m_cursor));
    __builtin_memcpy(m_line, text.first.data(), text.first.size());
    __builtin_memcpy(m_line + text.first.size(), text.second.data(), text.second.size());
    m_length = text.first.size() + text.second.size();
    m_cursor = m_length;
    show(0);
    clear_to_end();
}

void LineEditor::history_older() {
    if (m_echo == Echo::Off || m_history_position == m_history.count())
        return;
    if (m_history_position == 0) {
        __builtin_memcpy(m_draft, m_line, m_length);
        m_draft_length = m_length;
    }
    ++m_history_position;
    replace_line(m_history.newest(m_history_position - 1));
}

void LineEditor::history_newer() {
    if (m_echo == Echo::Off || m_history_position == 0)
        return;
    --m_history_position;
    if (m_history_position == 0)
        replace_line({{m_draft, m_draft_length}, {}});
    else
        replace_line(m_history.newest(m_history_position - 1));
}

// --- The line's text -------------------------------------------------------

size_t LineEditor::columns(size_t from, size_t to) const {
    size_t count = 0;
    for (size_t i = from; i < to; ++i)
        count += !is_continuation(byte_at(m_line, i));
    return count;
}

size_t LineEditor::previous_boundary(size_t position) const {
    if (position == 0)
        return 0;
    do
        --position;
    while (position > 0 && is_continuation(byte_at(m_line, position)));
    return position;
}

size_t LineEditor::next_boundary(size_t position) const {
    if (position == m_length)
        return position;
    do
        ++position;
    while (position < m_length && is_continuation(byte_at(m_line, position)));
    return position;
}

// Where Ctrl-W's word starts: back over spaces, then over non-spaces. A space
// is ASCII, so this stops only at character boundaries.
size_t LineEditor::word_start() const {
    size_t position = m_cursor;
    while (position > 0 && m_line[position - 1] == ' ')
        --position;
    while (position > 0 && m_line[position - 1] != ' ')
        --position;
    return position;
}

// --- The history -----------------------------------------------------------

void LineEditor::history_add(std::string_view text) {
    if (m_history.count() > 0 && m_history.newest(0) == text)
        return; // the same as the line before: kept once
    // (A finished line is at most max_line_bytes, which the ring takes.)
    (void)m_history.push(text);
}

// --- Screen output ---------------------------------------------------------

void LineEditor::show(size_t from) {
    if (m_echo == Echo::On && from < m_length)
        write({m_line + from, m_length - from});
}

void LineEditor::clear_to_end() {
    if (m_echo == Echo::On)
        write("\x1b[K");
}

namespace {

// ESC [ count final, with the count left out when it is 1.
void write_move(Output& output, size_t count, char final_byte) {
    char text[24] = {'\x1b', '['};
    size_t length = 2;
    if (count != 1) {
        char digits[20];
        size_t digit_count = 0;
        for (; count != 0; count /= 10)
            digits[digit_count++] = char('0' + count % 10);
        while (digit_count != 0)
            text[length++] = digits[--digit_count];
    }
    text[length++] = final_byte;
    output.write({text, length});
}

} // namespace

void LineEditor::cursor_left(size_t count) {
    if (m_echo == Echo::Off || count == 0)
        return;
    if (count == 1)
        write("\b");
    else
        write_move(m_output, count, 'D');
}

void LineEditor::cursor_right(size_t count) {
    if (m_echo == Echo::Off || count == 0)
        return;
    write_move(m_output, count, 'C');
}

} // namespace capos::term
