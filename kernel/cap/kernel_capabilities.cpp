#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "lib/manifest/validate.h"

namespace capos::kernel {

namespace {

constexpr size_t kind_count = 10;
static_assert(schema::is_known(static_cast<schema::KernelCapability>(kind_count - 1)) &&
                  !schema::is_known(static_cast<schema::KernelCapability>(kind_count)),
              "kind_count must be the number of KernelCapability values");
// One shared object per stateless kernel service, made on first use.
RefPtr<KernelService> g_shared[kind_count];

} // namespace

// Which sources exist is lib/manifest's kernel_serves, the list the manifest
// checks use: anything it leaves out is refused here, and
// create_kernel_services proves at boot that everything it lists is here.
Result<RefPtr<KernelService>, GrantError> kernel_capability(schema::KernelCapability which) {
    using Kind = schema::KernelCapability;
    if (!manifest::kernel_serves(which))
        return Err{GrantError::Unsupported};
    RefPtr<KernelService> (*create)() = nullptr;
    switch (which) {
    case Kind::Console:
        create = create_console_service;
        break;
    case Kind::Timer:
        create = create_timer_service;
        break;
    case Kind::Null:
        create = create_null_service;
        break;
    case Kind::LogSink:
        create = create_log_sink_service;
        break;
    case Kind::Entropy:
        create = create_entropy_service;
        break;
    case Kind::VirtualMemory:
        create = create_virtual_memory_service;
        break;
    case Kind::FrameAllocator:
        create = create_frame_allocator_service;
        break;
    case Kind::ProcessSpawner:
        create = create_process_spawner_service;
        break;
    case Kind::BootPackage:
        create = create_boot_package_service;
        break;
    case Kind::LogReader:
        return Err{GrantError::Unsupported};
    }
    if (!create)
        return Err{GrantError::Unsupported};
    size_t index = static_cast<size_t>(which);
    if (!g_shared[index])
        g_shared[index] = create();
    if (!g_shared[index])
        return Err{GrantError::OutOfMemory};
    return g_shared[index];
}

void create_kernel_services() {
    for (size_t kind = 0; kind < kind_count; ++kind) {
        auto which = static_cast<schema::KernelCapability>(kind);
        auto service = kernel_capability(which);
        if (service.is_error() && service.error() == GrantError::OutOfMemory)
            panic("kernel services: out of memory");
        // A manifest that passed lib/manifest may grant it: it must exist.
        if (service.is_error() && manifest::kernel_serves(which))
            panic("kernel services: kernel capability {} is listed as served but has no service",
                  kind);
    }
}

gen::Exception space_exception(SpaceError error) {
    switch (error) {
    case SpaceError::QuotaExceeded:
    case SpaceError::OutOfMemory:
        return {schema::ExceptionType::Overloaded, to_string(error)};
    case SpaceError::AccessConflict:
        return {schema::ExceptionType::PermissionDenied, to_string(error)};
    case SpaceError::InvalidRange:
    case SpaceError::Occupied:
    case SpaceError::NotMapped:
    case SpaceError::NotReserved:
        break;
    }
    return {schema::ExceptionType::InvalidArgument, to_string(error)};
}

Access access_of(schema::Access access) {
    switch (access) {
    case schema::Access::Read:
        return Access::Read;
    case schema::Access::ReadWrite:
        return Access::ReadWrite;
    case schema::Access::ReadExecute:
        return Access::ReadExecute;
    }
    return Access::Read;
}

} // namespace capos::kernel
