// FrameAllocator: new MemoryObjects, returned as capabilities in the results
// (a capability pointer carrying the new CapId; see docs/abi.md).
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/object/memory_object.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::FrameAllocator;

class FrameAllocatorService final : public KernelServiceOf<FrameAllocator, FrameAllocatorService> {
public:
    Result<void, gen::Exception> allocate(FrameAllocator::AllocateParams::Reader params,
                                          FrameAllocator::AllocateResults::Builder results) {
        auto object = MemoryObject::create(params.pages(), params.contiguous());
        if (object.is_error()) {
            if (object.error() == MemoryObject::Error::InvalidSize)
                return Err{invalid_argument("pages must be 1..65536")};
            return Err{gen::Exception{schema::ExceptionType::Overloaded, "out of memory"}};
        }
        auto id = invocation().caller.capabilities().insert(
            object.release_value(), schema::MemoryObject::interface_id, CapFlags::Transferable);
        if (id.is_error())
            return Err{gen::Exception{schema::ExceptionType::Overloaded, "capability table full"}};
        results.set_memory(id.value().raw);
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_frame_allocator_service() {
    auto created = heap_create<FrameAllocatorService>();
    if (created.is_error())
        return {};
    return RefPtr<KernelService>::adopt(created.value());
}

} // namespace capos::kernel
