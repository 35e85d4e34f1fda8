// Helpers shared by the capnp compatibility tests: moving messages between
// libcapnp and lib/capnp, and reading files of framed messages.
#pragma once

#include "lib/capnp/wire.h"
#include <array>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace capnp_test {

namespace wire = capos::capnp;

inline std::span<const uint8_t> bytes(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

inline std::string as_string(std::span<const uint8_t> data) {
    return std::string(reinterpret_cast<const char*>(data.data()), data.size());
}

inline std::string as_string(capnp::Data::Reader data) {
    return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

inline std::vector<wire::Word> to_words(kj::ArrayPtr<const capnp::word> words) {
    std::vector<wire::Word> out(words.size());
    std::memcpy(out.data(), words.begin(), words.size() * sizeof(wire::Word));
    return out;
}

// A libcapnp message in the framed (stream) format.
inline std::vector<wire::Word> framed(capnp::MessageBuilder& message) {
    kj::Array<capnp::word> flat = capnp::messageToFlatArray(message);
    return to_words(flat.asPtr());
}

// A whole file as words (it must be a multiple of 8 bytes long).
inline std::vector<wire::Word> read_words(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(in.good() || in.eof()) << path;
    EXPECT_EQ(bytes.size() % 8, 0u) << path;
    std::vector<wire::Word> words(bytes.size() / 8);
    std::memcpy(words.data(), bytes.data(), words.size() * 8);
    return words;
}

// A framed message read with lib/capnp. Not movable: the reader points into it.
class FramedMessage {
public:
    explicit FramedMessage(std::vector<wire::Word> words) : m_words(std::move(words)) {
        auto segments = wire::parse_framed(m_words, m_storage);
        if (segments.is_ok())
            m_reader.emplace(segments.value());
        else
            m_framing_error = segments.error();
    }
    FramedMessage(const FramedMessage&) = delete;
    FramedMessage& operator=(const FramedMessage&) = delete;

    bool ok() const { return m_reader.has_value(); }
    wire::WireError framing_error() const { return m_framing_error; }
    const wire::MessageReader& reader() const { return *m_reader; }

private:
    std::vector<wire::Word> m_words;
    std::array<std::span<const wire::Word>, 512> m_storage;
    std::optional<wire::MessageReader> m_reader;
    wire::WireError m_framing_error = wire::WireError::None;
};

// Hands words built by lib/capnp to libcapnp as one segment.
class LibcapnpReader {
public:
    explicit LibcapnpReader(std::span<const wire::Word> words)
        : m_words(words.begin(), words.end()),
          m_segment(reinterpret_cast<const capnp::word*>(m_words.data()), m_words.size()),
          m_reader(kj::arrayPtr(&m_segment, 1)) {}
    template <typename T>
    typename T::Reader root() {
        return m_reader.getRoot<T>();
    }
    capnp::SegmentArrayMessageReader& reader() { return m_reader; }

private:
    std::vector<wire::Word> m_words;
    kj::ArrayPtr<const capnp::word> m_segment;
    capnp::SegmentArrayMessageReader m_reader;
};

// The canonical form of the message's root struct as lib/capnp writes it.
inline std::vector<wire::Word> our_canonical(wire::StructReader root) {
    std::vector<wire::Word> buffer(1 + root.total_words());
    wire::MessageBuilder builder(buffer);
    builder.set_root(root);
    EXPECT_EQ(builder.error(), wire::WireError::None);
    return std::vector<wire::Word>(builder.words().begin(), builder.words().end());
}

template <typename Reader>
std::vector<wire::Word> their_canonical(Reader root) {
    kj::Array<capnp::word> canonical = capnp::canonicalize(root);
    return to_words(canonical.asPtr());
}

} // namespace capnp_test
