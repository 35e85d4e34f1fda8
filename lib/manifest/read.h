// Reading a compiled boot manifest: the framed message `capnp eval --binary`
// wrote (a segment table, then the segments) into a SystemManifest that may
// be acted on. The one way the kernel (manifest.bin from the boot archive)
// and init (the same bytes through BootPackage) turn the bytes into a
// manifest, so both accept and refuse exactly the same ones:
//   1. the size: whole words, not empty, at most max_manifest_bytes;
//   2. the framing: a segment table whose segments lie inside the bytes and
//      cover them exactly, at most max_manifest_segments of them;
//   3. the encoding: every pointer in bounds (capnp::validate), walked with a
//      traversal budget proportional to the size (ReaderLimits::for_message),
//      so that however the message shares its parts the walk is linear;
//   4. the meaning: manifest::validate.
#pragma once

#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include "lib/manifest/limits.h"
#include "lib/manifest/validate.h"
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace capos::manifest {

// The largest compiled manifest, in bytes: what init holds to read it through
// BootPackage, and so what the kernel accepts.
inline constexpr size_t max_manifest_bytes = 64 * 1024;
inline constexpr size_t max_manifest_segments = 16;

enum class ReadErrorKind : uint8_t {
    Size,     // empty, too large or not whole words
    Framing,  // the segment table is wrong (wire holds why)
    Encoding, // a pointer out of bounds, a budget exceeded, ... (wire holds why)
    Invalid,  // manifest::validate refused it (invalid holds why)
};

struct ReadError {
    ReadErrorKind kind;
    capnp::WireError wire = capnp::WireError::None;
    ManifestError invalid = {ManifestErrorCode::SchemaVersion, {}};
};

// What is wrong with the manifest, as words after "the manifest"
// ("is malformed").
std::string_view to_string(ReadErrorKind kind);
// Why (the wire error or the manifest error); empty for Size.
std::string_view reason(const ReadError& error);

// Step 1 alone, for a reader that learns the size before it has the bytes.
Result<void, ReadError> check_size(uint64_t bytes);

// A manifest read from framed bytes. Holds the segment table and the message
// reader that the manifest's readers point into: it must neither move nor end
// while they are in use, and neither may the bytes. constexpr-constructible,
// so that it can be a constant-initialized global (the kernel has no global
// constructors).
class FramedManifest {
public:
    constexpr FramedManifest() = default;
    FramedManifest(const FramedManifest&) = delete;
    FramedManifest& operator=(const FramedManifest&) = delete;

    // Steps 1 to 4 over `words` (word-aligned). On success the manifest, valid
    // while this object and `words` are; on failure nothing is kept.
    Result<schema::SystemManifest::Reader, ReadError> read(std::span<const capnp::Word> words);

private:
    std::span<const capnp::Word> m_segments[max_manifest_segments];
    std::optional<capnp::MessageReader> m_message;
};

} // namespace capos::manifest
