// FrameAllocator: new MemoryObjects, returned as capabilities in the results
// (a capability pointer carrying the new CapId; see docs/abi.md).
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/object/memory_object.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::FrameAllocator;

constexpr manifest::LimitText pages_rule{"pages must be 1..", MemoryObject::max_pages, ""};

class FrameAllocatorService final : public KernelServiceOf<FrameAllocator, FrameAllocatorService> {
public:
    Result<void, gen::Exception> allocate(FrameAllocator::AllocateParams::Reader params,
                                          FrameAllocator::AllocateResults::Builder results) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        Process& caller = invocation().caller;
        // The slot first: a full table refuses before any frame is zeroed.
        auto slot = caller.capabilities().reserve();
        if (slot.is_error())
            return Err{overloaded("capability table full")};
        auto object = MemoryObject::create(params.pages(), params.contiguous(),
                                           caller.address_space().ledger_reference());
        if (object.is_error()) {
            switch (object.error()) {
            case MemoryObject::Error::InvalidSize:
                return Err{invalid_argument(pages_rule)};
            case MemoryObject::Error::QuotaExceeded:
                return Err{overloaded("memory quota exceeded")};
            case MemoryObject::Error::OutOfMemory:
                break;
            }
            return Err{overloaded("out of memory")};
        }
        RefPtr<KernelService> capability = create_memory_object_service(object.release_value());
        if (!capability)
            return Err{overloaded("out of memory")};
        abi::CapId id = caller.capabilities().commit(slot.release_value(), std::move(capability),
                                                     schema::MemoryObject::interface_id,
                                                     CapFlags::Transferable);
        results.set_memory(id.raw);
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_frame_allocator_service() {
    return make_service<FrameAllocatorService>();
}

} // namespace capos::kernel
