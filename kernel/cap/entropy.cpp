// EntropySource: bytes from the kernel's ChaCha20 CSPRNG (lib/crypto), seeded
// from RDSEED/RDRAND and reseeded with fresh hardware entropy on every call.
#include "kernel/arch/arch.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "lib/crypto/csprng.h"

namespace capos::kernel {

namespace {

using schema::EntropySource;

constexpr manifest::LimitText fill_rule{"at most ", EntropySource::max_fill, " bytes per call"};

constinit Csprng g_csprng;

// Seeds on first use. Without RDSEED/RDRAND the kernel refuses to hand out
// entropy rather than pretend: cycle-counter jitter under an emulator is not
// a secret.
bool ensure_seeded() {
    if (g_csprng.seeded())
        return true;
    uint64_t seed[8];
    if (!arch::hardware_entropy(seed, 8)) {
        log_error("entropy: this CPU has no RDSEED/RDRAND; no entropy source");
        return false;
    }
    bool ok =
        g_csprng.reseed(std::span(reinterpret_cast<const uint8_t*>(seed), sizeof seed)).is_ok();
    __builtin_memset(seed, 0, sizeof seed);
    return ok;
}

class EntropyService final : public KernelServiceOf<EntropySource, EntropyService> {
public:
    Result<void, gen::Exception> fill(EntropySource::FillParams::Reader params,
                                      EntropySource::FillResults::Builder results) {
        if (params.length() > EntropySource::max_fill)
            return Err{invalid_argument(fill_rule)};
        if (!ensure_seeded())
            return Err{failed("no entropy source")};
        uint64_t fresh;
        if (arch::hardware_entropy(&fresh, 1))
            (void)g_csprng.reseed(std::span(reinterpret_cast<const uint8_t*>(&fresh), 8));
        std::span<uint8_t> out = results.init_bytes(params.length());
        if (out.size() != params.length())
            return {}; // the results buffer is full: dispatch reports it
        if (g_csprng.fill(out).is_error())
            return Err{failed("entropy source failed")};
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_entropy_service() {
    return make_service<EntropyService>();
}

} // namespace capos::kernel
