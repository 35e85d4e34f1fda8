// Host tests for the HTTP/1.1 client's pure parts (lib/net/http.h): URLs
// taken and refused, the request's exact bytes, and responses of each
// framing (Content-Length, chunked, until the connection ends, none for
// 204 and 304, interim 1xx before the final one) read whole and fed at
// every split into two pieces and one byte at a time, each giving the same
// body; and every malformed head, chunk and early end refused.
#include "lib/net/http.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace {

using capos::net::http::parse_url;
using capos::net::http::ResponseReader;
using capos::net::http::write_request;
using State = ResponseReader::State;

std::span<const uint8_t> bytes_of(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

struct Outcome {
    State state;
    unsigned status;
    std::string body;
};

// Feeds `response` in pieces cut at `cuts` (offsets, increasing), then says
// the connection ended when `close`.
Outcome read_in_pieces(std::string_view response, std::vector<size_t> cuts, bool close = true) {
    auto reader = std::make_unique<ResponseReader>();
    std::string body;
    auto sink = [&](std::span<const uint8_t> piece) {
        body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    };
    size_t at = 0;
    cuts.push_back(response.size());
    State state = reader->state();
    for (size_t cut : cuts) {
        if (state == State::Error)
            break; // (bytes after Done are fed: they make it an Error)
        state = reader->feed(bytes_of(response.substr(at, cut - at)), sink);
        at = cut;
    }
    if (close && (state == State::Head || state == State::Body))
        state = reader->finish();
    return {state, reader->status(), body};
}

// The same response read whole, at every split in two and a byte at a
// time must give `body` and `state` each time.
void expect_read(std::string_view response, State state, std::string_view body, bool close = true) {
    Outcome whole = read_in_pieces(response, {}, close);
    EXPECT_EQ(whole.state, state) << response;
    if (state == State::Done)
        EXPECT_EQ(whole.body, body);
    for (size_t split = 1; split < response.size(); ++split) {
        Outcome two = read_in_pieces(response, {split}, close);
        ASSERT_EQ(two.state, state) << "split at " << split;
        if (state == State::Done)
            ASSERT_EQ(two.body, body) << "split at " << split;
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < response.size(); ++i)
        every.push_back(i);
    Outcome bytes = read_in_pieces(response, every, close);
    EXPECT_EQ(bytes.state, state);
    if (state == State::Done)
        EXPECT_EQ(bytes.body, body);
}

TEST(HttpUrl, TakesHostsPortsAndPaths) {
    auto url = parse_url("http://10.0.2.2:8080/index.html?x=1#top");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->host, "10.0.2.2");
    EXPECT_FALSE(url->bracketed);
    EXPECT_EQ(url->port, 8080);
    EXPECT_EQ(url->path, "/index.html?x=1");

    url = parse_url("HTTP://[fec0::2]/");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->host, "fec0::2");
    EXPECT_TRUE(url->bracketed);
    EXPECT_EQ(url->port, 80);
    EXPECT_EQ(url->path, "/");

    url = parse_url("http://example.org");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->host, "example.org");
    EXPECT_EQ(url->path, "");

    url = parse_url("http://[::1]:65535?q");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->port, 65535);
    EXPECT_EQ(url->path, "?q");
}

TEST(HttpUrl, RefusesWhatIsNotAnHttpUrl) {
    for (std::string_view bad :
         {"", "http://", "https://a/", "ftp://a", "http:/a", "http://:80/", "http://a:/",
          "http://a:0/", "http://a:65536/", "http://a:8x/", "http://user@a/", "http://[::1/",
          "http://[::1]x/", "http://[::1]:/", "http://a b/", "http://a/\x01", "http://a/\x7f",
          "http://[]/", "http://a:99999999999999999999/"}) {
        EXPECT_FALSE(parse_url(bad)) << bad;
    }
}

TEST(HttpRequest, IsAGetWithHostAndClose) {
    char out[512];
    auto url = parse_url("http://10.0.2.2:8080/a?b");
    size_t length = write_request(*url, out);
    EXPECT_EQ(std::string_view(out, length),
              "GET /a?b HTTP/1.1\r\nHost: 10.0.2.2:8080\r\nUser-Agent: capOS-fetch\r\n"
              "Accept: */*\r\nConnection: close\r\n\r\n");

    url = parse_url("http://[fec0::2]");
    length = write_request(*url, out);
    EXPECT_EQ(std::string_view(out, length),
              "GET / HTTP/1.1\r\nHost: [fec0::2]\r\nUser-Agent: capOS-fetch\r\n"
              "Accept: */*\r\nConnection: close\r\n\r\n");

    url = parse_url("http://a?q");
    length = write_request(*url, out);
    EXPECT_TRUE(std::string_view(out, length).starts_with("GET /?q HTTP/1.1\r\n"));

    // Too small a buffer: nothing, at every size short of the request.
    url = parse_url("http://10.0.2.2:8080/a?b");
    size_t full = write_request(*url, out);
    for (size_t size = 0; size < full; ++size)
        EXPECT_EQ(write_request(*url, std::span<char>(out, size)), 0u) << size;
}

TEST(HttpResponse, ContentLengthBody) {
    expect_read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello", State::Done, "hello");
    // Done once the length has come, without waiting for the end.
    expect_read("HTTP/1.1 200 OK\r\ncontent-length:  5 \r\n\r\nhello", State::Done, "hello", false);
    expect_read("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", State::Done, "", false);
    // Cut short.
    expect_read("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello", State::Error, "");
    // More than it said.
    expect_read("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhello", State::Error, "");
}

TEST(HttpResponse, ChunkedBody) {
    expect_read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "6\r\nchunks\r\n1;note=x\r\n \r\n0c\r\nof the body\n\r\n0\r\nX-T: yes\r\n\r\n",
                State::Done, "chunks of the body\n", false);
    // Chunked wins over a Content-Length.
    expect_read("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n"
                "A\r\n0123456789\r\n0\r\n\r\n",
                State::Done, "0123456789", false);
    // Bad sizes, a chunk longer than its size, an end before the last chunk.
    for (std::string_view bad :
         {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890123456\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"})
        expect_read(bad, State::Error, "");
    // A chunk line past its limit.
    std::string long_line = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                            std::string(300, 'x') + "\r\na\r\n0\r\n\r\n";
    EXPECT_EQ(read_in_pieces(long_line, {}).state, State::Error);
}

TEST(HttpResponse, BodyUntilTheConnectionEnds) {
    expect_read("HTTP/1.1 200 OK\r\n\r\nuntil the end\n", State::Done, "until the end\n");
    expect_read("HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n", State::Done, "");
    // Without the end it is not done.
    EXPECT_EQ(read_in_pieces("HTTP/1.1 200 OK\r\n\r\nabc", {}, false).state, State::Body);
}

TEST(HttpResponse, NoBodyFor204And304AndInterimResponsesSkipped) {
    expect_read("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", State::Done, "", false);
    expect_read("HTTP/1.1 304 Not Modified\r\n\r\n", State::Done, "", false);
    expect_read("HTTP/1.1 204 No Content\r\n\r\nx", State::Error, "");
    Outcome interim = read_in_pieces(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", {},
        false);
    EXPECT_EQ(interim.state, State::Done);
    EXPECT_EQ(interim.status, 201u);
    EXPECT_EQ(interim.body, "ok");
}

TEST(HttpResponse, StatusIsRead) {
    Outcome outcome = read_in_pieces("HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx", {});
    EXPECT_EQ(outcome.status, 404u);
    outcome = read_in_pieces("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", {});
    EXPECT_EQ(outcome.state, State::Done); // (no reason phrase)
    EXPECT_EQ(outcome.status, 200u);
}

TEST(HttpResponse, RefusesMalformedHeads) {
    for (std::string_view bad : {
             "HTTP/2 200 OK\r\n\r\n",
             "HTTP/1.1 20 OK\r\n\r\n",
             "HTTP/1.1 2000 OK\r\n\r\n",
             "HTTP/1.1 abc OK\r\n\r\n",
             "HTTP/1.1 099 Low\r\n\r\n",
             "HTTP/1.1  200 OK\r\n\r\n",
             "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
             "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
             "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
             "junk\r\n\r\n",
         })
        expect_read(bad, State::Error, "");
    // The connection ends inside the head.
    expect_read("HTTP/1.1 200 OK\r\nContent-Le", State::Error, "");
    // A head past max_head.
    std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(ResponseReader::max_head, 'a');
    EXPECT_EQ(read_in_pieces(huge, {}).state, State::Error);
    // Equal duplicates are one length.
    expect_read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", State::Done,
                "x", false);
}

TEST(HttpResponse, LargeBodyInManyPieces) {
    std::string body;
    for (int i = 0; i < 100000; ++i)
        body += char('a' + i % 26);
    std::string response =
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::vector<size_t> cuts;
    for (size_t at = 7; at < response.size(); at += 1460)
        cuts.push_back(at);
    Outcome outcome = read_in_pieces(response, cuts, false);
    EXPECT_EQ(outcome.state, State::Done);
    EXPECT_EQ(outcome.body, body);
}

} // namespace
