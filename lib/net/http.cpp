#include "lib/net/http.h"

#include "lib/base/decimal.h"

namespace capos::net::http {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool same_text(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

// Appends `text` at `at` in `out` when it fits.
bool put(std::span<char> out, size_t& at, std::string_view text) {
    if (text.size() > out.size() - at)
        return false;
    for (char c : text)
        out[at++] = c;
    return true;
}

} // namespace

std::optional<Url> parse_url(std::string_view text) {
    for (char c : text)
        if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f)
            return std::nullopt;
    constexpr std::string_view scheme = "http://";
    if (text.size() < scheme.size() || !same_text(text.substr(0, scheme.size()), scheme))
        return std::nullopt;
    text.remove_prefix(scheme.size());
    size_t authority_end = text.find_first_of("/?#");
    std::string_view authority = text.substr(0, authority_end);
    std::string_view rest =
        authority_end == std::string_view::npos ? "" : text.substr(authority_end);
    rest = rest.substr(0, rest.find('#'));
    if (authority.find('@') != std::string_view::npos)
        return std::nullopt;
    Url url;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        url.host = authority.substr(1, close - 1);
        url.bracketed = true;
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return std::nullopt;
            port_text = after.substr(1);
            if (port_text.empty())
                return std::nullopt;
        }
    } else {
        size_t colon = authority.find(':');
        url.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty())
                return std::nullopt;
        }
    }
    if (url.host.empty())
        return std::nullopt;
    if (!port_text.empty()) {
        uint64_t port = 0;
        if (!parse_decimal(port_text, 1, 65535, port))
            return std::nullopt;
        url.port = uint16_t(port);
    }
    url.path = rest;
    return url;
}

size_t write_request(const Url& url, std::span<char> out) {
    size_t at = 0;
    bool ok = put(out, at, "GET ") && (url.path.starts_with("/") || put(out, at, "/")) &&
              put(out, at, url.path) && put(out, at, " HTTP/1.1\r\nHost: ") &&
              (!url.bracketed || put(out, at, "[")) && put(out, at, url.host) &&
              (!url.bracketed || put(out, at, "]"));
    if (ok && url.port != 80) {
        char digits[6];
        size_t count = 0;
        for (unsigned port = url.port; port != 0; port /= 10)
            digits[count++] = char('0' + port % 10);
        ok = put(out, at, ":");
        while (ok && count > 0)
            ok = put(out, at, std::string_view(&digits[--count], 1));
    }
    ok = ok &&
         put(out, at, "\r\nUser-Agent: capOS-fetch\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    return ok ? at : 0;
}

ResponseReader::State ResponseReader::finish() {
    if (m_state == State::Body && m_framing == Framing::UntilClose)
        m_state = State::Done;
    else if (m_state == State::Head || m_state == State::Body)
        m_state = fail("the connection ended before the response did");
    return m_state;
}

size_t ResponseReader::step(std::span<const uint8_t> bytes, std::span<const uint8_t>& piece) {
    if (m_state == State::Head)
        return take_head(bytes);
    switch (m_framing) {
    case Framing::UntilClose:
        piece = bytes;
        return bytes.size();
    case Framing::Length: {
        size_t count = bytes.size() < m_left ? bytes.size() : size_t(m_left);
        piece = bytes.first(count);
        m_left -= count;
        if (m_left == 0)
            m_state = State::Done;
        return count;
    }
    case Framing::Chunked:
        return take_chunked(bytes, piece);
    }
    return bytes.size();
}

size_t ResponseReader::take_head(std::span<const uint8_t> bytes) {
    size_t used = 0;
    while (used < bytes.size()) {
        if (m_head_length == max_head) {
            m_state = fail("the response's head is too long");
            return used;
        }
        m_head[m_head_length++] = char(bytes[used++]);
        if (m_head_length >= 4 && m_head[m_head_length - 1] == '\n' &&
            std::string_view(m_head + m_head_length - 4, 4) == "\r\n\r\n") {
            if (!parse_head())
                return used;
            // An interim (1xx) response: the final one follows.
            if (m_status >= 100 && m_status < 200) {
                m_head_length = 0;
                m_length.reset();
                m_framing = Framing::UntilClose;
                continue;
            }
            return used;
        }
    }
    return used;
}

bool ResponseReader::parse_head() {
    std::string_view head(m_head, m_head_length - 2); // each line keeps its CRLF
    size_t end = head.find("\r\n");
    std::string_view status_line = head.substr(0, end);
    // "HTTP/1.x 200 reason"
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
        m_state = fail("the status line is malformed");
        return false;
    }
    uint64_t status = 0;
    if (!parse_decimal(status_line.substr(9, 3), 100, 999, status)) {
        m_state = fail("the status code is malformed");
        return false;
    }
    m_status = unsigned(status);
    bool chunked = false;
    head.remove_prefix(end + 2);
    while (!head.empty()) {
        end = head.find("\r\n");
        std::string_view line = head.substr(0, end);
        head.remove_prefix(end + 2);
        size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos || line.find_first_of(" \t") < colon) {
            m_state = fail("a header field is malformed");
            return false;
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (same_text(name, "content-length")) {
            uint64_t length = 0;
            if (!parse_decimal(value, 0, UINT64_MAX / 2, length) ||
                (m_length && *m_length != length)) {
                m_state = fail("Content-Length is malformed");
                return false;
            }
            m_length = length;
        } else if (same_text(name, "transfer-encoding")) {
            // Only chunked is understood, and it must be the last coding.
            if (!same_text(value, "chunked")) {
                m_state = fail("a transfer coding other than chunked");
                return false;
            }
            chunked = true;
        }
    }
    if (m_status < 200)
        return true;
    m_state = State::Body;
    if (m_status == 204 || m_status == 304) {
        m_state = State::Done; // no body, whatever the fields say
    } else if (chunked) {
        m_framing = Framing::Chunked; // (it wins over a Content-Length)
        m_chunk = Chunk::Size;
    } else if (m_length) {
        m_framing = Framing::Length;
        m_left = *m_length;
        if (m_left == 0)
            m_state = State::Done;
    } else {
        m_framing = Framing::UntilClose;
    }
    return true;
}

bool ResponseReader::take_line(std::span<const uint8_t> bytes, size_t& used) {
    while (used < bytes.size()) {
        char c = char(bytes[used++]);
        if (c == '\n') {
            if (m_line_length > 0 && m_line[m_line_length - 1] == '\r')
                --m_line_length;
            return true;
        }
        if (m_line_length == sizeof m_line) {
            m_state = fail("a chunk's line is too long");
            return false;
        }
        m_line[m_line_length++] = c;
    }
    return false;
}

size_t ResponseReader::take_chunked(std::span<const uint8_t> bytes,
                                    std::span<const uint8_t>& piece) {
    size_t used = 0;
    if (m_chunk == Chunk::Data) {
        size_t count = bytes.size() < m_left ? bytes.size() : size_t(m_left);
        piece = bytes.first(count);
        m_left -= count;
        if (m_left == 0)
            m_chunk = Chunk::DataEnd;
        return count;
    }
    if (!take_line(bytes, used))
        return used;
    std::string_view line(m_line, m_line_length);
    m_line_length = 0;
    switch (m_chunk) {
    case Chunk::Size: {
        std::string_view digits = trim(line.substr(0, line.find(';')));
        if (digits.empty() || digits.size() > 15) {
            m_state = fail("a chunk's size is malformed");
            return used;
        }
        uint64_t size = 0;
        for (char c : digits) {
            int digit = hex_digit(c);
            if (digit < 0) {
                m_state = fail("a chunk's size is malformed");
                return used;
            }
            size = size * 16 + uint64_t(digit);
        }
        m_left = size;
        m_chunk = size == 0 ? Chunk::Trailer : Chunk::Data;
        return used;
    }
    case Chunk::DataEnd:
        if (!line.empty())
            m_state = fail("a chunk is longer than its size");
        m_chunk = Chunk::Size;
        return used;
    case Chunk::Trailer:
        if (line.empty())
            m_state = State::Done; // (trailer fields are read and dropped)
        return used;
    case Chunk::Data:
        break;
    }
    return used;
}

} // namespace capos::net::http
