// A program's standard output, error and input: the StdIO endpoint its
// starter serves, granted as "stdio" (the shell grants it to every program it
// runs or spawns), or else the Console granted as "console" for output (what
// init's services and older grants have). Output longer than StdIO.maxWrite
// goes in pieces.
#pragma once

#include "schema/capos.capnp.capos.h"
#include <string_view>

namespace capos::rt {

// Whether the process holds something to write its output on: a StdIO
// named "stdio" or a Console named "console".
bool has_output();

// Writes `text` as it is on standard output (`Output`) or error (`Error`).
// False when the process holds neither stdio nor console, or a write failed.
bool write_stream(schema::StdStream stream, std::string_view text);
inline bool write_output(std::string_view text) {
    return write_stream(schema::StdStream::Output, text);
}
// `text` and a newline, on standard output.
bool write_output_line(std::string_view text);
// `text` and a newline, on standard error.
bool write_error_line(std::string_view text);

// A line of standard input, copied into `buffer` (at most StdIO.maxLine
// bytes: a longer line is cut); `end` tells how it ended. Without a stdio,
// end of input.
struct InputLine {
    std::string_view text;
    schema::StdInputEnd end;
};
InputLine read_input_line(std::span<char> buffer);

} // namespace capos::rt
