#include "user/rt/stdio.h"
#include "user/rt/rt.h"

namespace capos::rt {

namespace {

using schema::StdIO;

// The StdIO granted as "stdio" (an endpoint's client side, recorded with
// interface 0, or one recorded as StdIO), or 0.
uint32_t stdio_id() {
    auto match = find_capability("stdio");
    if (match.is_error() ||
        (match.value().interface_id != 0 && match.value().interface_id != StdIO::interface_id))
        return 0;
    return match.value().id.raw;
}

bool write_console(std::string_view text) {
    auto match = find_capability("console");
    if (match.is_error() || match.value().interface_id != schema::Console::interface_id)
        return false;
    schema::Console::Client<RingTransport> console(transport(), match.value().id.raw);
    return console.write(text).is_ok();
}

bool write_line(schema::StdStream stream, std::string_view text) {
    char line[StdIO::max_write];
    if (text.size() < sizeof line) {
        __builtin_memcpy(line, text.data(), text.size());
        line[text.size()] = '\n';
        return write_stream(stream, {line, text.size() + 1});
    }
    return write_stream(stream, text) && write_stream(stream, "\n");
}

} // namespace

bool has_output() {
    if (stdio_id() != 0)
        return true;
    auto match = find_capability("console");
    return match.is_ok() && match.value().interface_id == schema::Console::interface_id;
}

bool write_stream(schema::StdStream stream, std::string_view text) {
    uint32_t id = stdio_id();
    if (id == 0)
        return write_console(text);
    StdIO::Client<RingTransport> stdio(transport(), id);
    while (!text.empty()) {
        size_t length = text.size() < StdIO::max_write ? text.size() : StdIO::max_write;
        auto data = std::span(reinterpret_cast<const uint8_t*>(text.data()), length);
        if (stdio.write(stream, data).is_error())
            return false;
        text.remove_prefix(length);
    }
    return true;
}

bool write_output_line(std::string_view text) {
    return write_line(schema::StdStream::Output, text);
}

bool write_error_line(std::string_view text) {
    return write_line(schema::StdStream::Error, text);
}

InputLine read_input_line(std::span<char> buffer) {
    uint32_t id = stdio_id();
    if (id == 0)
        return {{}, schema::StdInputEnd::EndOfInput};
    StdIO::Client<RingTransport> stdio(transport(), id);
    auto read = stdio.read_line();
    if (read.is_error())
        return {{}, schema::StdInputEnd::EndOfInput};
    std::string_view text = read.value().text();
    size_t length = text.size() < buffer.size() ? text.size() : buffer.size();
    __builtin_memcpy(buffer.data(), text.data(), length);
    return {{buffer.data(), length}, read.value().end()};
}

} // namespace capos::rt
