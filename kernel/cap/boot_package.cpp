// BootPackage: the compiled boot manifest, read in chunks (init's source of
// what to start); SchemaRegistry: the compiled schema, read the same way;
// BootFiles: any file of the boot archive by its path, read-only.
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"

namespace capos::kernel {

namespace {

using schema::BootFiles;
using schema::BootPackage;
using schema::SchemaRegistry;

constexpr manifest::LimitText read_rule{"at most ", BootPackage::max_read, " bytes per read"};

class BootPackageService final : public KernelServiceOf<BootPackage, BootPackageService> {
public:
    Result<void, gen::Exception> manifest_size(BootPackage::ManifestSizeParams::Reader,
                                               BootPackage::ManifestSizeResults::Builder results) {
        results.set_bytes(boot_manifest_bytes().size());
        return {};
    }
    Result<void, gen::Exception> read_manifest(BootPackage::ReadManifestParams::Reader params,
                                               BootPackage::ReadManifestResults::Builder results) {
        if (params.length() > BootPackage::max_read)
            return Err{invalid_argument(read_rule)};
        results.set_data(chunk_of(boot_manifest_bytes(), params.offset(), params.length()));
        return {};
    }
};

// SchemaRegistry: the compiled schema, read like the manifest.
class SchemaRegistryService final : public KernelServiceOf<SchemaRegistry, SchemaRegistryService> {
public:
    Result<void, gen::Exception> size(SchemaRegistry::SizeParams::Reader,
                                      SchemaRegistry::SizeResults::Builder results) {
        results.set_bytes(boot_schema_bytes().size());
        return {};
    }
    Result<void, gen::Exception> read(SchemaRegistry::ReadParams::Reader params,
                                      SchemaRegistry::ReadResults::Builder results) {
        if (params.length() > BootPackage::max_read)
            return Err{invalid_argument(read_rule)};
        results.set_data(chunk_of(boot_schema_bytes(), params.offset(), params.length()));
        return {};
    }
};

constexpr manifest::LimitText files_read_rule{"at most ", BootFiles::max_read, " bytes per read"};

// BootFiles: every file of the archive by its path, read like the manifest.
// Nothing here writes: the archive's bytes are only ever copied out.
class BootFilesService final : public KernelServiceOf<BootFiles, BootFilesService> {
public:
    Result<void, gen::Exception> list(BootFiles::ListParams::Reader params,
                                      BootFiles::ListResults::Builder results) {
        const CpioArchive* archive = boot_package_archive();
        size_t total = archive ? archive->entry_count() : 0;
        size_t from = params.from() < total ? params.from() : total;
        size_t left = total - from;
        uint32_t count = uint32_t(left < BootFiles::max_list ? left : BootFiles::max_list);
        auto names = results.init_names(count);
        if (names.size() != count)
            return Err{overloaded("results buffer too small")};
        if (count == 0)
            return {};
        // One walk from the start: at most CpioArchive::max_entries entries.
        auto entry = archive->begin();
        for (size_t i = 0; i < from; ++i)
            ++entry;
        for (uint32_t i = 0; i < count; ++i, ++entry)
            names.set(i, (*entry).name);
        return {};
    }
    Result<void, gen::Exception> read(BootFiles::ReadParams::Reader params,
                                      BootFiles::ReadResults::Builder results) {
        if (params.length() > BootFiles::max_read)
            return Err{invalid_argument(files_read_rule)};
        auto file = find_boot_file(params.name());
        if (!file)
            return Err{failed("no such file")};
        results.set_size(file->size());
        results.set_data(chunk_of(*file, params.offset(), params.length()));
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_boot_files_service() {
    return make_service<BootFilesService>();
}

RefPtr<KernelService> create_boot_package_service() {
    return make_service<BootPackageService>();
}

RefPtr<KernelService> create_schema_registry_service() {
    return make_service<SchemaRegistryService>();
}

} // namespace capos::kernel
