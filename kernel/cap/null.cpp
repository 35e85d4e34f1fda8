// Null: does nothing; measures what a call costs.
#include "kernel/cap/kernel_capabilities.h"

namespace capos::kernel {

namespace {

using schema::Null;

class NullService final : public KernelServiceOf<Null, NullService> {
public:
    Result<void, gen::Exception> ping(Null::PingParams::Reader, Null::PingResults::Builder) {
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_null_service() {
    return make_service<NullService>();
}

} // namespace capos::kernel
