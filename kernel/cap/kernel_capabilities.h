// The capabilities the kernel serves itself, and how a grant in the boot
// manifest becomes one.
#pragma once

#include "kernel/cap/kernel_service.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/page_tables.h"
#include "kernel/mm/user_address_space.h"
#include "lib/pci/scan.h"
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
RefPtr<KernelService> create_log_reader_service();
RefPtr<KernelService> create_entropy_service();
RefPtr<KernelService> create_virtual_memory_service();
RefPtr<KernelService> create_frame_allocator_service();
RefPtr<KernelService> create_process_spawner_service();
RefPtr<KernelService> create_boot_package_service();
RefPtr<KernelService> create_terminal_service();
RefPtr<KernelService> create_system_control_service();
RefPtr<KernelService> create_schema_registry_service();
RefPtr<KernelService> create_boot_files_service();
RefPtr<KernelService> create_system_info_service();
RefPtr<KernelService> create_process_inspector_service();
RefPtr<KernelService> create_manual_service();
RefPtr<KernelService> create_device_inventory_service();
RefPtr<KernelService> create_thread_spawner_service();
RefPtr<KernelService> create_thread_control_service();
RefPtr<KernelService> create_park_space_service();
RefPtr<KernelService> create_device_manager_service();
// Fills `out` with what the kernel recorded of `function` at boot (the
// DeviceInventory's list entry; Device.info).
void build_pci_function(const pci::Function& function, schema::PciFunction::Builder out);
// Writes `text` on the console as Console.write does (`newline`: as
// writeLine): in pieces of at most a line or 256 bytes, each never
// interleaved with kernel log lines, with a preemption point between them, so
// that a long text holds neither the CPU nor interrupts off. TerminalSession
// writes the same way.
void console_write_in_pieces(std::string_view text, bool newline);

// A capability to `object` (the MemoryObject interface); null when the heap is
// exhausted.
RefPtr<KernelService> create_memory_object_service(RefPtr<MemoryObject> object);

enum class GrantError : uint8_t { Unsupported, OutOfMemory };

// Creates the shared object of every kernel service lib/manifest's
// kernel_sources lists as served, so that later grants allocate nothing (and
// what a process causes can be counted exactly), and checks that each speaks
// the interface listed there. Panics when the heap cannot hold them (it is
// early boot) or a service speaks another interface (a kernel bug).
void create_kernel_services();

// The kernel capability `which` for a process: Unsupported for a kind the
// table does not list as served (or the schema does not name). The services
// have no per-process state: every grant adds a reference to one object.
Result<RefPtr<KernelService>, GrantError> kernel_capability(schema::KernelCapability which);

// How address-space failures reach a caller: bad ranges are invalidArgument,
// exhausted memory or quota is overloaded.
gen::Exception space_exception(SpaceError error);

// The mapping access of a schema Access, the one conversion between the two;
// invalidArgument for a value the schema does not name. Neither has a
// writable-executable value (W^X by construction).
Result<Access, gen::Exception> access_of(schema::Access access);

} // namespace capos::kernel
