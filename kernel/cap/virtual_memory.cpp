// VirtualMemory: the caller's own address space.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::VirtualMemory;

class VirtualMemoryService final : public KernelServiceOf<VirtualMemory, VirtualMemoryService> {
public:
    Result<void, gen::Exception> map(VirtualMemory::MapParams::Reader params,
                                     VirtualMemory::MapResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        Access access = TRY(access_of(params.access()));
        auto mapped = space().map(params.address(), params.length(), access);
        if (mapped.is_error())
            return Err{space_exception(mapped.error())};
        results.set_address(mapped.value());
        return {};
    }
    Result<void, gen::Exception> unmap(VirtualMemory::UnmapParams::Reader params,
                                       VirtualMemory::UnmapResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        return check(space().unmap(params.address(), params.length()));
    }
    Result<void, gen::Exception> protect(VirtualMemory::ProtectParams::Reader params,
                                         VirtualMemory::ProtectResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        Access access = TRY(access_of(params.access()));
        return check(space().protect(params.address(), params.length(), access));
    }
    Result<void, gen::Exception> reserve(VirtualMemory::ReserveParams::Reader params,
                                         VirtualMemory::ReserveResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        auto reserved = space().reserve(params.address(), params.length());
        if (reserved.is_error())
            return Err{space_exception(reserved.error())};
        results.set_address(reserved.value());
        return {};
    }
    Result<void, gen::Exception> commit(VirtualMemory::CommitParams::Reader params,
                                        VirtualMemory::CommitResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        Access access = TRY(access_of(params.access()));
        return check(space().commit(params.address(), params.length(), access));
    }
    Result<void, gen::Exception> decommit(VirtualMemory::DecommitParams::Reader params,
                                          VirtualMemory::DecommitResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        return check(space().decommit(params.address(), params.length()));
    }

private:
    UserAddressSpace& space() { return invocation().caller.address_space(); }
    static Result<void, gen::Exception> check(Result<void, SpaceError> result) {
        if (result.is_error())
            return Err{space_exception(result.error())};
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_virtual_memory_service() {
    return make_service<VirtualMemoryService>();
}

} // namespace capos::kernel
