// A minimal HTTP/1.1 client's pure parts (RFC 9110, 9112): reading an
// http:// URL, writing a GET request, and reading the response as it
// arrives, in pieces of any size. Used by `fetch` (user/programs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace capos::net::http {

struct Url {
    std::string_view host;  // a name or an address; an IPv6 one without its brackets
    bool bracketed = false; // the host was an IPv6 literal in brackets
    uint16_t port = 80;
    std::string_view path; // "/" when the URL has none; never the fragment
};

// "http://host[:port][/path][?query][#fragment]": nothing for another
// scheme, an empty host, a port outside 1 to 65535, userinfo, or bytes
// that may not appear in a URL (controls, spaces).
std::optional<Url> parse_url(std::string_view text);

// "GET <path> HTTP/1.1" with Host, User-Agent and "Connection: close" into
// `out`; its length, or 0 when it does not fit.
size_t write_request(const Url& url, std::span<char> out);

// Reads a response. feed() takes the bytes as they arrive and hands the
// body's bytes (de-chunked) to `body`; finish() says the connection has
// ended. The head (status line and fields) may be at most max_head bytes.
class ResponseReader {
public:
    static constexpr size_t max_head = 8192;

    enum class State {
        Head,  // reading the status line and fields
        Body,  // reading the body
        Done,  // the whole response has come (bytes after it are refused)
        Error, // the response is malformed, or the connection ended early
    };

    // Feeds `bytes`; `body(std::span<const uint8_t>)` is called for each
    // piece of the body. Returns the state after them.
    template <typename Body>
    State feed(std::span<const uint8_t> bytes, Body&& body) {
        while (!bytes.empty() && (m_state == State::Head || m_state == State::Body)) {
            std::span<const uint8_t> piece;
            size_t used = step(bytes, piece);
            if (!piece.empty())
                body(piece);
            bytes = bytes.subspan(used);
        }
        if (!bytes.empty() && m_state == State::Done)
            m_state = fail("bytes after the response");
        return m_state;
    }

    // The connection has ended: Done when the response was whole (a body
    // without a length ends with the connection), else Error.
    State finish();

    State state() const { return m_state; }
    unsigned status() const { return m_status; }
    // Why the state is Error.
    std::string_view error() const { return m_error; }
    // The body's length when the response said it (Content-Length).
    std::optional<uint64_t> content_length() const { return m_length; }

private:
    enum class Framing { Length, Chunked, UntilClose };
    enum class Chunk { Size, Data, DataEnd, Trailer };

    // Consumes a prefix of `bytes`, setting `piece` to body bytes in it.
    size_t step(std::span<const uint8_t> bytes, std::span<const uint8_t>& piece);
    size_t take_head(std::span<const uint8_t> bytes);
    bool parse_head();
    bool parse_field(std::string_view line);
    size_t take_chunked(std::span<const uint8_t> bytes, std::span<const uint8_t>& piece);
    // A chunked line (size or trailer) gathered into m_line; true when whole.
    bool take_line(std::span<const uint8_t> bytes, size_t& used);
    State fail(std::string_view why) {
        m_error = why;
        return State::Error;
    }

    State m_state = State::Head;
    char m_head[max_head];
    size_t m_head_length = 0;
    unsigned m_status = 0;
    Framing m_framing = Framing::UntilClose;
    std::optional<uint64_t> m_length;
    uint64_t m_left = 0; // of the body (Length) or of the chunk (Chunked)
    Chunk m_chunk = Chunk::Size;
    char m_line[256];
    size_t m_line_length = 0;
    std::string_view m_error;
};

} // namespace capos::net::http
