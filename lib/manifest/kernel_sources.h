// The capabilities the kernel serves itself (schema KernelCapability): for
// each, the interface it speaks and whether this kernel serves it. This table
// is the one source of those facts: the manifest checks (validate.cpp, at
// build time in tools/mkmanifest and again at boot) refuse a grant of a kind
// it does not serve or of another interface, init finds its own capability
// of a kind by the interface listed here, and the kernel zips the table with
// its factories (kernel/cap/kernel_capabilities.cpp), checking at compile
// time that exactly the served kinds have one and at boot that each speaks
// the interface listed.
#pragma once

#include "schema/capos.capnp.capos.h"
#include <cstddef>
#include <cstdint>

namespace capos::manifest {

struct KernelSource {
    schema::KernelCapability kind;
    uint64_t interface_id;
    bool served;
};

// How many kinds the schema names.
inline constexpr size_t kernel_source_count = schema::enumerant_count(schema::KernelCapability{});

// One row per kind, in the schema's order (the row of kind k is at index k).
inline constexpr KernelSource kernel_sources[] = {
    {schema::KernelCapability::Console, schema::Console::interface_id, true},
    {schema::KernelCapability::Timer, schema::Timer::interface_id, true},
    {schema::KernelCapability::Entropy, schema::EntropySource::interface_id, true},
    {schema::KernelCapability::FrameAllocator, schema::FrameAllocator::interface_id, true},
    {schema::KernelCapability::VirtualMemory, schema::VirtualMemory::interface_id, true},
    {schema::KernelCapability::ProcessSpawner, schema::ProcessSpawner::interface_id, true},
    {schema::KernelCapability::BootPackage, schema::BootPackage::interface_id, true},
    {schema::KernelCapability::LogSink, schema::LogSink::interface_id, true},
    {schema::KernelCapability::LogReader, schema::LogReader::interface_id, true},
    {schema::KernelCapability::Null, schema::Null::interface_id, true},
    {schema::KernelCapability::Terminal, schema::TerminalSession::interface_id, true},
    {schema::KernelCapability::SystemControl, schema::SystemControl::interface_id, true},
    {schema::KernelCapability::SchemaRegistry, schema::SchemaRegistry::interface_id, true},
    {schema::KernelCapability::SystemInfo, schema::SystemInfo::interface_id, true},
    {schema::KernelCapability::ProcessInspector, schema::ProcessInspector::interface_id, true},
    {schema::KernelCapability::Manual, schema::Manual::interface_id, true},
    {schema::KernelCapability::BootFiles, schema::BootFiles::interface_id, true},
    {schema::KernelCapability::DeviceInventory, schema::DeviceInventory::interface_id, true},
    {schema::KernelCapability::ThreadSpawner, schema::ThreadSpawner::interface_id, true},
    {schema::KernelCapability::ThreadControl, schema::ThreadControl::interface_id, true},
    {schema::KernelCapability::ParkSpace, schema::ParkSpace::interface_id, true},
    {schema::KernelCapability::DeviceManager, schema::DeviceManager::interface_id, true},
};

static_assert(sizeof kernel_sources / sizeof kernel_sources[0] == kernel_source_count,
              "one row for every KernelCapability the schema names");

constexpr bool kernel_sources_in_order() {
    for (size_t i = 0; i < kernel_source_count; ++i) {
        if (kernel_sources[i].kind != static_cast<schema::KernelCapability>(i) ||
            kernel_sources[i].interface_id == 0)
            return false;
    }
    return true;
}
static_assert(kernel_sources_in_order(), "rows in the schema's order, each with an interface");

// The row of `kind`, or null for a value the schema does not name.
constexpr const KernelSource* kernel_source(schema::KernelCapability kind) {
    if (!schema::is_known(kind))
        return nullptr;
    return &kernel_sources[static_cast<uint16_t>(kind)];
}

// The interface a kernel capability speaks, or 0 for an unknown kind.
constexpr uint64_t kernel_interface(schema::KernelCapability kind) {
    const KernelSource* source = kernel_source(kind);
    return source ? source->interface_id : 0;
}

// Whether this kernel serves `kind`. A manifest granting any other is refused.
constexpr bool kernel_serves(schema::KernelCapability kind) {
    const KernelSource* source = kernel_source(kind);
    return source && source->served;
}

} // namespace capos::manifest
