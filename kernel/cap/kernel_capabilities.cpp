#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "lib/manifest/kernel_sources.h"

namespace capos::kernel {

namespace {

using Kind = schema::KernelCapability;
using manifest::kernel_source_count;
using manifest::kernel_sources;

struct Factory {
    Kind kind;
    RefPtr<KernelService> (*create)(); // null: not served
};

// lib/manifest's kernel_sources zipped with the factories: one row per kind,
// in the schema's order, a factory exactly where the table says "served".
constexpr Factory g_factories[] = {
    {Kind::Console, create_console_service},
    {Kind::Timer, create_timer_service},
    {Kind::Entropy, create_entropy_service},
    {Kind::FrameAllocator, create_frame_allocator_service},
    {Kind::VirtualMemory, create_virtual_memory_service},
    {Kind::ProcessSpawner, create_process_spawner_service},
    {Kind::BootPackage, create_boot_package_service},
    {Kind::LogSink, create_log_sink_service},
    {Kind::LogReader, create_log_reader_service},
    {Kind::Null, create_null_service},
    {Kind::Terminal, create_terminal_service},
    {Kind::SystemControl, create_system_control_service},
    {Kind::SchemaRegistry, create_schema_registry_service},
    {Kind::SystemInfo, create_system_info_service},
    {Kind::ProcessInspector, create_process_inspector_service},
    {Kind::Manual, create_manual_service},
    {Kind::BootFiles, create_boot_files_service},
    {Kind::DeviceInventory, create_device_inventory_service},
    {Kind::ThreadSpawner, create_thread_spawner_service},
    {Kind::ThreadControl, create_thread_control_service},
    {Kind::ParkSpace, create_park_space_service},
    {Kind::DeviceManager, create_device_manager_service},
};
static_assert(sizeof g_factories / sizeof g_factories[0] == kernel_source_count,
              "a row for every KernelCapability the schema names");

constexpr bool factories_match_sources() {
    for (size_t i = 0; i < kernel_source_count; ++i) {
        if (g_factories[i].kind != kernel_sources[i].kind ||
            (g_factories[i].create != nullptr) != kernel_sources[i].served)
            return false;
    }
    return true;
}
static_assert(factories_match_sources(),
              "a factory for exactly the kinds lib/manifest's kernel_sources lists as served");

// One shared object per served kind, made by create_kernel_services at boot.
RefPtr<KernelService> g_shared[kernel_source_count];

} // namespace

Result<RefPtr<KernelService>, GrantError> kernel_capability(schema::KernelCapability which) {
    if (!manifest::kernel_serves(which))
        return Err{GrantError::Unsupported};
    size_t index = static_cast<size_t>(which);
    if (!g_shared[index])
        g_shared[index] = g_factories[index].create();
    if (!g_shared[index])
        return Err{GrantError::OutOfMemory};
    return g_shared[index];
}

void create_kernel_services() {
    for (size_t kind = 0; kind < kernel_source_count; ++kind) {
        auto service = kernel_capability(kernel_sources[kind].kind);
        if (!kernel_sources[kind].served) {
            // Refused: a manifest granting it never passed lib/manifest.
            VERIFY(service.is_error() && service.error() == GrantError::Unsupported);
            continue;
        }
        if (service.is_error())
            panic("kernel services: out of memory");
        // A manifest grant names the interface from the table: the service
        // behind it must speak exactly that.
        if (service.value()->interface_id() != kernel_sources[kind].interface_id)
            panic("kernel services: kernel capability {} speaks {}, not the listed {}", kind,
                  Hex{service.value()->interface_id()}, Hex{kernel_sources[kind].interface_id});
    }
}

gen::Exception space_exception(SpaceError error) {
    switch (error) {
    case SpaceError::QuotaExceeded:
    case SpaceError::OutOfMemory:
        return overloaded(to_string(error));
    case SpaceError::AccessConflict:
        return permission_denied(to_string(error));
    case SpaceError::InvalidRange:
    case SpaceError::Occupied:
    case SpaceError::NotMapped:
    case SpaceError::NotReserved:
        break;
    }
    return invalid_argument(to_string(error));
}

Result<Access, gen::Exception> access_of(schema::Access access) {
    switch (access) {
    case schema::Access::Read:
        return Access::Read;
    case schema::Access::ReadWrite:
        return Access::ReadWrite;
    case schema::Access::ReadExecute:
        return Access::ReadExecute;
    }
    return Err{invalid_argument("unknown access (W^X: no writable and executable mapping)")};
}

} // namespace capos::kernel
