// BootPackage: the compiled boot manifest, read in chunks (init's source of
// what to start); SchemaRegistry: the compiled schema, read the same way.
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"

namespace capos::kernel {

namespace {

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

} // namespace

RefPtr<KernelService> create_boot_package_service() {
    return make_service<BootPackageService>();
}

RefPtr<KernelService> create_schema_registry_service() {
    return make_service<SchemaRegistryService>();
}

} // namespace capos::kernel
