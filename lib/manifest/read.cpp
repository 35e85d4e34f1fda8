#include "lib/manifest/read.h"

namespace capos::manifest {

namespace {

constexpr LimitText size_rule{"is empty, over ", max_manifest_bytes, " bytes or not whole words"};

} // namespace

std::string_view to_string(ReadErrorKind kind) {
    switch (kind) {
    case ReadErrorKind::Size:
        return size_rule;
    case ReadErrorKind::Framing:
        return "is not a framed message";
    case ReadErrorKind::Encoding:
        return "is malformed";
    case ReadErrorKind::Invalid:
        return "is invalid";
    }
    return "cannot be read";
}

std::string_view reason(const ReadError& error) {
    switch (error.kind) {
    case ReadErrorKind::Size:
        return {};
    case ReadErrorKind::Framing:
    case ReadErrorKind::Encoding:
        return capnp::to_string(error.wire);
    case ReadErrorKind::Invalid:
        return to_string(error.invalid.code);
    }
    return {};
}

Result<void, ReadError> check_size(uint64_t bytes) {
    if (bytes == 0 || bytes > max_manifest_bytes || bytes % sizeof(capnp::Word) != 0)
        return Err{ReadError{ReadErrorKind::Size}};
    return {};
}

Result<schema::SystemManifest::Reader, ReadError>
FramedManifest::read(std::span<const capnp::Word> words) {
    m_message.reset();
    if (words.size() > max_manifest_bytes / sizeof(capnp::Word))
        return Err{ReadError{ReadErrorKind::Size}};
    TRY(check_size(words.size() * sizeof(capnp::Word)));
    auto segments = capnp::parse_framed(words, m_segments);
    if (segments.is_error())
        return Err{ReadError{ReadErrorKind::Framing, segments.error()}};
    // The walk over the whole message is charged to a budget proportional to
    // its size. The reader kept for the fields has the default budget:
    // manifest::validate compares names pairwise, which reads more words than
    // the message holds (bounded by the limits on counts and names).
    capnp::MessageReader untrusted(segments.value(),
                                   capnp::ReaderLimits::for_message(words.size()));
    if (capnp::WireError error = capnp::validate(untrusted); error != capnp::WireError::None)
        return Err{ReadError{ReadErrorKind::Encoding, error}};
    m_message.emplace(segments.value());
    schema::SystemManifest::Reader manifest(m_message->root());
    if (auto valid = validate(manifest); valid.is_error()) {
        m_message.reset();
        return Err{ReadError{ReadErrorKind::Invalid, capnp::WireError::None, valid.error()}};
    }
    return manifest;
}

} // namespace capos::manifest
