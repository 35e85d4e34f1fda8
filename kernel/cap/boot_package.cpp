// BootPackage: the compiled boot manifest, read in chunks (init's source of
// what to start).
#include "kernel/boot/boot_package.h"
#include "kernel/cap/kernel_capabilities.h"

namespace capos::kernel {

namespace {

using schema::BootPackage;

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
        std::span<const uint8_t> manifest = boot_manifest_bytes();
        uint64_t offset = params.offset() < manifest.size() ? params.offset() : manifest.size();
        uint64_t length = manifest.size() - offset;
        if (length > params.length())
            length = params.length();
        results.set_data(manifest.subspan(offset, length));
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_boot_package_service() {
    return make_service<BootPackageService>();
}

} // namespace capos::kernel
