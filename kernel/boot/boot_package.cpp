#include "kernel/boot/boot_package.h"

namespace capos::kernel {

namespace {

const CpioArchive* g_archive = nullptr;
std::span<const uint8_t> g_manifest_bytes;
schema::SystemManifest::Reader g_manifest;

} // namespace

void set_boot_package(const CpioArchive& archive, schema::SystemManifest::Reader manifest,
                      std::span<const uint8_t> manifest_bytes) {
    g_archive = &archive;
    g_manifest = manifest;
    g_manifest_bytes = manifest_bytes;
}

std::optional<std::span<const uint8_t>> find_boot_binary(std::string_view name) {
    if (!g_archive)
        return std::nullopt;
    for (auto binary : g_manifest.binaries()) {
        if (binary.name() == name) {
            if (auto entry = g_archive->find(binary.path()))
                return entry->data;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

size_t boot_binary_count() {
    return g_archive ? g_manifest.binaries().size() : 0;
}

std::string_view boot_binary_name(size_t index) {
    return g_manifest.binaries()[uint32_t(index)].name();
}

std::span<const uint8_t> boot_manifest_bytes() {
    return g_manifest_bytes;
}

std::span<const uint8_t> boot_file(std::string_view path) {
    if (!g_archive)
        return {};
    if (auto entry = g_archive->find(path))
        return entry->data;
    return {};
}

std::optional<std::span<const uint8_t>> find_boot_file(std::string_view path) {
    if (!g_archive)
        return std::nullopt;
    if (auto entry = g_archive->find(path))
        return entry->data;
    return std::nullopt;
}

const CpioArchive* boot_package_archive() {
    return g_archive;
}

std::span<const uint8_t> boot_schema_bytes() {
    return boot_file("etc/schema.bin");
}

} // namespace capos::kernel
