// The MemoryObject interface: a capability to one MemoryObject
// (kernel/object/memory_object.h), made by FrameAllocator.allocate.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/object/memory_object.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using Interface = schema::MemoryObject;

class MemoryObjectService final : public KernelServiceOf<Interface, MemoryObjectService> {
public:
    explicit MemoryObjectService(RefPtr<MemoryObject> object) : m_object(std::move(object)) {}

    Result<void, gen::Exception> info(Interface::InfoParams::Reader,
                                      Interface::InfoResults::Builder results) {
        results.set_pages(m_object->page_count());
        results.set_contiguous(m_object->contiguous());
        return {};
    }
    Result<void, gen::Exception> map(Interface::MapParams::Reader params,
                                     Interface::MapResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        Access access = TRY(access_of(params.access()));
        auto mapped = invocation().caller.address_space().map_object(
            m_object, params.address(), params.offset_pages(), params.pages(), access);
        if (mapped.is_error())
            return Err{space_exception(mapped.error())};
        results.set_address(mapped.value());
        return {};
    }
    Result<void, gen::Exception> unmap(Interface::UnmapParams::Reader params,
                                       Interface::UnmapResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        auto unmapped =
            invocation().caller.address_space().unmap_object(*m_object, params.address());
        if (unmapped.is_error())
            return Err{space_exception(unmapped.error())};
        return {};
    }

private:
    RefPtr<MemoryObject> m_object;
};

} // namespace

RefPtr<KernelService> create_memory_object_service(RefPtr<MemoryObject> object) {
    auto created = heap_create<MemoryObjectService>(std::move(object));
    if (created.is_error())
        return {};
    return RefPtr<KernelService>::adopt(created.value());
}

} // namespace capos::kernel
