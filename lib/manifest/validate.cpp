#include "lib/manifest/validate.h"
#include "abi/capset.h"

namespace capos::manifest {

namespace {

using schema::CapGrant;

constexpr size_t max_process_name = 31;

Err<ManifestError> error(ManifestErrorCode code, std::string_view subject) {
    return Err{ManifestError{code, subject}};
}

bool has_binary(schema::SystemManifest::Reader manifest, std::string_view name) {
    for (auto binary : manifest.binaries()) {
        if (binary.name() == name)
            return true;
    }
    return false;
}

// Names in one grant list: present, short enough for the CapSet, unique.
Result<void, ManifestError> check_grant_names(gen::StructList<CapGrant>::Reader grants) {
    if (grants.size() > abi::capset_max_entries)
        return error(ManifestErrorCode::TooManyGrants, {});
    for (uint32_t i = 0; i < grants.size(); ++i) {
        std::string_view name = grants[i].name();
        if (name.empty())
            return error(ManifestErrorCode::EmptyName, {});
        if (name.size() > abi::capset_name_max)
            return error(ManifestErrorCode::NameTooLong, name);
        for (uint32_t j = 0; j < i; ++j) {
            if (grants[j].name() == name)
                return error(ManifestErrorCode::DuplicateGrant, name);
        }
    }
    return {};
}

Result<void, ManifestError> check_interface(CapGrant::Reader grant, uint64_t speaks) {
    if (grant.interface_id() != 0 && speaks != 0 && grant.interface_id() != speaks)
        return error(ManifestErrorCode::InterfaceMismatch, grant.name());
    return {};
}

} // namespace

const char* to_string(ManifestErrorCode code) {
    switch (code) {
    case ManifestErrorCode::SchemaVersion:
        return "unsupported schema version";
    case ManifestErrorCode::EmptyName:
        return "empty name";
    case ManifestErrorCode::NameTooLong:
        return "name too long";
    case ManifestErrorCode::DuplicateBinary:
        return "duplicate binary name";
    case ManifestErrorCode::MissingBinary:
        return "no such binary";
    case ManifestErrorCode::InitGrantNotKernel:
        return "init can only be granted kernel capabilities";
    case ManifestErrorCode::DuplicateGrant:
        return "duplicate grant name";
    case ManifestErrorCode::TooManyGrants:
        return "too many grants (at most 63)";
    case ManifestErrorCode::DuplicateService:
        return "duplicate service name";
    case ManifestErrorCode::KernelSourceNotHeld:
        return "kernel capability granted to a service but not to init";
    case ManifestErrorCode::UnknownService:
        return "imports from a service that is not started before it";
    case ManifestErrorCode::UnknownExport:
        return "imports an export the service does not have";
    case ManifestErrorCode::ExportNotEndpoint:
        return "export is not one of the service's endpoint grants";
    case ManifestErrorCode::InterfaceMismatch:
        return "grant's interfaceId differs from what its source speaks";
    case ManifestErrorCode::UnknownKernelCapability:
        return "unknown kernel capability";
    case ManifestErrorCode::TooManyServices:
        return "too many services";
    }
    return "unknown manifest error";
}

uint64_t kernel_interface(schema::KernelCapability kind) {
    using schema::KernelCapability;
    switch (kind) {
    case KernelCapability::Console:
        return schema::Console::interface_id;
    case KernelCapability::Timer:
        return schema::Timer::interface_id;
    case KernelCapability::Entropy:
        return schema::EntropySource::interface_id;
    case KernelCapability::FrameAllocator:
        return schema::FrameAllocator::interface_id;
    case KernelCapability::VirtualMemory:
        return schema::VirtualMemory::interface_id;
    case KernelCapability::ProcessSpawner:
        return schema::ProcessSpawner::interface_id;
    case KernelCapability::BootPackage:
        return schema::BootPackage::interface_id;
    case KernelCapability::LogSink:
        return schema::LogSink::interface_id;
    case KernelCapability::LogReader:
        return schema::LogReader::interface_id;
    case KernelCapability::Null:
        return schema::Null::interface_id;
    }
    return 0;
}

Result<void, ManifestError> validate(schema::SystemManifest::Reader manifest) {
    if (manifest.schema_version() != schema::current_schema_version)
        return error(ManifestErrorCode::SchemaVersion, {});

    auto binaries = manifest.binaries();
    for (uint32_t i = 0; i < binaries.size(); ++i) {
        std::string_view name = binaries[i].name();
        if (name.empty() || binaries[i].path().empty())
            return error(ManifestErrorCode::EmptyName, name);
        for (uint32_t j = 0; j < i; ++j) {
            if (binaries[j].name() == name)
                return error(ManifestErrorCode::DuplicateBinary, name);
        }
    }

    auto init = manifest.init();
    if (!has_binary(manifest, init.program()))
        return error(ManifestErrorCode::MissingBinary, init.program());
    TRY(check_grant_names(init.grants()));
    bool init_holds[16] = {};
    for (auto grant : init.grants()) {
        auto source = grant.source();
        if (source.which() != CapGrant::Source::Which::Kernel)
            return error(ManifestErrorCode::InitGrantNotKernel, grant.name());
        uint64_t speaks = kernel_interface(source.kernel());
        if (speaks == 0)
            return error(ManifestErrorCode::UnknownKernelCapability, grant.name());
        TRY(check_interface(grant, speaks));
        init_holds[static_cast<uint16_t>(source.kernel())] = true;
    }

    auto services = init.services();
    if (services.size() > max_services)
        return error(ManifestErrorCode::TooManyServices, {});
    for (uint32_t s = 0; s < services.size(); ++s) {
        auto service = services[s];
        std::string_view name = service.name();
        if (name.empty())
            return error(ManifestErrorCode::EmptyName, {});
        if (name.size() > max_process_name)
            return error(ManifestErrorCode::NameTooLong, name);
        for (uint32_t t = 0; t < s; ++t) {
            if (services[t].name() == name)
                return error(ManifestErrorCode::DuplicateService, name);
        }
        if (!has_binary(manifest, service.binary()))
            return error(ManifestErrorCode::MissingBinary, service.binary());
        TRY(check_grant_names(service.grants()));

        for (auto grant : service.grants()) {
            auto source = grant.source();
            switch (source.which()) {
            case CapGrant::Source::Which::Kernel: {
                uint64_t speaks = kernel_interface(source.kernel());
                if (speaks == 0)
                    return error(ManifestErrorCode::UnknownKernelCapability, grant.name());
                if (!init_holds[static_cast<uint16_t>(source.kernel())])
                    return error(ManifestErrorCode::KernelSourceNotHeld, grant.name());
                TRY(check_interface(grant, speaks));
                break;
            }
            case CapGrant::Source::Which::Service: {
                std::string_view from = source.service().service();
                std::string_view exported = source.service().export_();
                bool found_service = false;
                bool found_export = false;
                for (uint32_t t = 0; t < s; ++t) {
                    if (services[t].name() != from)
                        continue;
                    found_service = true;
                    for (auto e : services[t].exports())
                        found_export = found_export || e == exported;
                }
                if (!found_service)
                    return error(ManifestErrorCode::UnknownService, from);
                if (!found_export)
                    return error(ManifestErrorCode::UnknownExport, exported);
                break;
            }
            case CapGrant::Source::Which::Endpoint:
                break;
            default:
                return error(ManifestErrorCode::UnknownKernelCapability, grant.name());
            }
        }
        for (auto exported : service.exports()) {
            bool is_endpoint = false;
            for (auto grant : service.grants()) {
                is_endpoint =
                    is_endpoint || (grant.name() == exported &&
                                    grant.source().which() == CapGrant::Source::Which::Endpoint);
            }
            if (!is_endpoint)
                return error(ManifestErrorCode::ExportNotEndpoint, exported);
        }
    }
    return {};
}

} // namespace capos::manifest
