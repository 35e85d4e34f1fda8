// The capabilities the kernel serves itself, and how a grant in the boot
// manifest becomes one.
#pragma once

#include "kernel/cap/kernel_service.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/page_tables.h"
#include "kernel/mm/user_address_space.h"
#include "schema/capos.capnp.capos.h"

namespace capos::kernel {

class MemoryObject;
class Process;

// A new service object of type T, or null when the heap is exhausted.
template <typename T>
RefPtr<KernelService> make_service() {
    auto created = heap_create<T>();
    if (created.is_error())
        return {};
    return RefPtr<KernelService>::adopt(created.value());
}

// Each returns a new service object, or null when the heap is exhausted.
RefPtr<KernelService> create_console_service();
RefPtr<KernelService> create_timer_service();
RefPtr<KernelService> create_null_service();
RefPtr<KernelService> create_log_sink_service();
RefPtr<KernelService> create_entropy_service();
RefPtr<KernelService> create_virtual_memory_service();
RefPtr<KernelService> create_frame_allocator_service();
RefPtr<KernelService> create_process_spawner_service();
RefPtr<KernelService> create_boot_package_service();
// A capability to `object` (the MemoryObject interface); null when the heap is
// exhausted.
RefPtr<KernelService> create_memory_object_service(RefPtr<MemoryObject> object);

enum class GrantError : uint8_t { Unsupported, OutOfMemory };

// Creates the shared object of every kernel service, so that later grants
// allocate nothing (and what a process causes can be counted exactly).
// Panics when the heap cannot hold them: it is early boot.
void create_kernel_services();

// The kernel capability `which` for a process. Services without per-process
// state are shared: every grant adds a reference to one object.
Result<RefPtr<KernelService>, GrantError> kernel_capability(schema::KernelCapability which);

// How address-space failures reach a caller: bad ranges are invalidArgument,
// exhausted memory or quota is overloaded.
gen::Exception space_exception(SpaceError error);

// A schema Access as a mapping access; the schema has no writable-executable
// value, and callers check schema::is_known first.
Access access_of(schema::Access access);

} // namespace capos::kernel
