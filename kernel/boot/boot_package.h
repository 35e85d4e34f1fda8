// The boot package as the rest of the kernel sees it once start_init has read
// it: the manifest (its bytes, for the BootPackage capability) and the
// binaries it names (for ProcessSpawner).
#pragma once

#include "lib/archive/cpio.h"
#include "schema/capos.capnp.capos.h"
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace capos::kernel {

// Recorded by start_init once the manifest passed its checks: the archive, the
// manifest read from it and its bytes (all live as long as the kernel).
void set_boot_package(const CpioArchive& archive, schema::SystemManifest::Reader manifest,
                      std::span<const uint8_t> manifest_bytes);

// The ELF file of the manifest binary called `name`, if there is one.
std::optional<std::span<const uint8_t>> find_boot_binary(std::string_view name);

// How many binaries the manifest names (none before set_boot_package), and
// the name of the `index`-th (index < boot_binary_count()).
size_t boot_binary_count();
std::string_view boot_binary_name(size_t index);

// The compiled manifest exactly as it is in the archive (framed message).
std::span<const uint8_t> boot_manifest_bytes();

// The boot archive's file `path`, or nothing when it has none.
std::span<const uint8_t> boot_file(std::string_view path);

// The boot archive's file `path` (maybe empty), or nothing when it has none.
std::optional<std::span<const uint8_t>> find_boot_file(std::string_view path);

// The boot archive set_boot_package recorded (its files in archive order),
// or null before it.
const CpioArchive* boot_package_archive();

// The compiled schema (etc/schema.bin: a CodeGeneratorRequest, framed), or
// nothing when the archive holds none.
std::span<const uint8_t> boot_schema_bytes();

// The piece of `bytes` a read of `length` bytes from `offset` returns: fewer
// at the end, none past it.
inline std::span<const uint8_t> chunk_of(std::span<const uint8_t> bytes, uint64_t offset,
                                         uint64_t length) {
    if (offset > bytes.size())
        offset = bytes.size();
    uint64_t left = bytes.size() - offset;
    return bytes.subspan(offset, length < left ? length : left);
}

} // namespace capos::kernel
